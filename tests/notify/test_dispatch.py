"""Dispatch through the real twilio and sendgrid libraries: against the app's own outbox (which calls
back with signed statuses) and against a fake Twilio API that fails on cue."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections import Counter
from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from bot.conversation.consent import set_opt_out
from bot.core.models import Customer, Notification, NotificationEvent, OutboxMessage, Return, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from bot.desk.agents import create_agent
from bot.notify.planner import load_shipments, sync_plans
from bot.notify.rules import load_rules
from bot.notify.service import run_pass
from tests.notify.conftest import LiveApp, wait_for
from tests.notify.helpers import MailRecorder, dispatch, fake_twilio, plan
from tests.test_sandbox import berlin, run_until, set_sim_time


def out_for_delivery_by_sms(session: Session) -> Shipment:
    """A parcel with the driver whose customer takes both SMS and email."""
    shipments = session.scalars(select(Shipment).where(Shipment.status == ShipmentStatus.OUT_FOR_DELIVERY)
                                .order_by(Shipment.id)).all()
    return next(s for s in shipments if set(s.customer.preferred_channels) == {"sms", "email"})


def statuses(runtime: Runtime) -> Counter[str]:
    with runtime.sessions() as session:
        return Counter(dict(session.execute(select(Notification.status, func.count()).group_by(Notification.status)).all()))


def morning_sent_and_delivered(rt: Runtime) -> None:
    """The sandbox morning until 10:00, its messages sent, and the first delivery reports back."""
    run_until(rt, berlin(10, 0))
    asyncio.run(run_pass(rt, berlin(10, 0)))
    wait_for(lambda: statuses(rt)["delivered"] > 0)


def test_a_morning_of_messages_goes_out_once_and_comes_back_delivered(live_app: LiveApp) -> None:
    rt = live_app.runtime
    run_until(rt, berlin(10, 0))
    first = asyncio.run(run_pass(rt, berlin(10, 0)))
    assert first.dispatch["sent"] > 10
    again = asyncio.run(run_pass(rt, berlin(10, 0)))
    assert again.planned == 0 and again.dispatch["sent"] == 0, "a second pass sends nothing twice"
    with rt.sessions() as session:
        outbox = Counter((m.to_address, m.body) for m in session.scalars(select(OutboxMessage)))
        sent = session.scalars(select(Notification).where(Notification.sent_at.is_not(None))).all()
        assert sum(outbox.values()) == len(sent) == first.dispatch["sent"]
        assert max(outbox.values()) == 1
        sms = [n for n in sent if n.channel == "sms"]
        assert all(n.body in {body for (_, body) in outbox} and "/t/" in n.body for n in sms)
    # The outbox reports "sent" then "delivered" through the signed status callback / event webhook.
    wait_for(lambda: statuses(rt)["delivered"] == first.dispatch["sent"])


def test_forged_status_reports_get_403_and_change_nothing(live_app: LiveApp) -> None:
    rt = live_app.runtime
    morning_sent_and_delivered(rt)
    with rt.sessions() as session:
        row = session.scalars(select(Notification).where(Notification.channel == "sms")).first()
        assert row is not None
        row_id, sid = row.id, row.provider_id
    url = f"{rt.settings.twilio_status_callback_url}?n={row_id}"
    form = {"MessageSid": sid or "", "MessageStatus": "failed", "ErrorCode": "30006"}
    forged = RequestValidator("not-the-token").compute_signature(url, form)
    assert httpx.post(url, data=form, headers={"X-Twilio-Signature": forged}).status_code == 403
    assert httpx.post(url, data=form).status_code == 403
    good = RequestValidator(rt.settings.sms_auth_token).compute_signature(url, {**form, "MessageStatus": "sent"})
    assert httpx.post(url, data=form, headers={"X-Twilio-Signature": good}).status_code == 403  # tampered body
    events = f"{live_app.url}/webhooks/sendgrid/events"
    fake_event = [{"event": "bounce", "notification_id": str(row_id)}]
    assert httpx.post(events, json=fake_event, headers={"X-Twilio-Email-Event-Webhook-Signature": "MEUCIQ==",
                                                        "X-Twilio-Email-Event-Webhook-Timestamp": "1"}).status_code == 403
    with rt.sessions() as session:
        assert session.get(Notification, row_id).status == "delivered"  # type: ignore[union-attr]


def test_a_status_report_before_the_dispatcher_recorded_the_send_marks_it_sent(live_app: LiveApp) -> None:
    """Twilio's callback can beat the dispatcher's own record (or the dispatcher stops in between):
    the message is then sent, with a time, not left without one."""
    rt = live_app.runtime
    run_until(rt, berlin(10, 0))
    assert plan(rt, berlin(10, 0)) > 0
    with rt.sessions() as session:
        row = session.scalars(select(Notification).where(Notification.channel == "sms")).first()
        assert row is not None
        row.status = "sending"  # claimed and handed to Twilio; the dispatcher has not recorded it yet
        session.commit()
        row_id = row.id
    url = f"{rt.settings.twilio_status_callback_url}?n={row_id}"
    form = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "sent"}
    signature = RequestValidator(rt.settings.sms_auth_token).compute_signature(url, form)
    assert httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}).status_code == 204
    with rt.sessions() as session:
        row = session.get(Notification, row_id)
        assert row is not None and row.status == "sent" and row.sent_at is not None
        assert row.provider_id == form["MessageSid"]


def test_an_sms_that_cannot_be_delivered_falls_back_to_email(live_app: LiveApp) -> None:
    rt = live_app.runtime
    run_until(rt, berlin(9, 0))
    with rt.sessions() as session:
        shipment = out_for_delivery_by_sms(session)
        phone, email = shipment.customer.phone, shipment.customer.email
    rt.settings.outbox_undeliverable = phone
    asyncio.run(run_pass(rt, berlin(9, 0)))

    def all_reported() -> bool:
        with rt.sessions() as session:
            states = set(session.scalars(select(Notification.status).where(Notification.to_address == phone)))
        return "undelivered" in states and not states & {"sending", "sent"}

    wait_for(all_reported)
    asyncio.run(run_pass(rt, berlin(9, 1)))
    with rt.sessions() as session:
        failed = session.scalars(select(Notification).where(Notification.to_address == phone,
                                                           Notification.status == "undelivered")).all()
        assert failed and all(n.error and "30003" in n.error for n in failed)
        subjects = {m.subject for m in session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == email))}
        for sms in failed:
            fact = sms.dedupe_key.rsplit(":", 1)[0]
            fallback = session.scalar(select(Notification).where(Notification.dedupe_key == f"{fact}:email"))
            assert fallback is not None and fallback.sent_at is not None, f"no email after {sms.trigger}"
            assert fallback.subject in subjects


def test_racing_dispatchers_send_each_message_once(runtime: Runtime) -> None:
    from bot.carriers.sandbox.world import build_world
    from tests.conftest import T0

    with runtime.sessions() as session, session.begin():
        build_world(session, seed=7, speed=30, now=T0)
    set_sim_time(runtime, berlin(7, 30))
    run_until(runtime, berlin(10, 0), step=timedelta(minutes=30))
    assert plan(runtime, berlin(10, 0)) > 5
    mail = MailRecorder()
    with fake_twilio(delay_seconds=0.01) as (fake, base):
        async def both() -> None:
            await asyncio.gather(asyncio.to_thread(dispatch, runtime, berlin(10, 0), base, mail, None, "a"),
                                 asyncio.to_thread(dispatch, runtime, berlin(10, 0), base, mail, None, "b"))
        asyncio.run(both())
        assert fake.duplicates == 0 and max(mail.sent.values(), default=1) == 1
        with runtime.sessions() as session:
            sent = session.scalar(select(func.count()).where(Notification.status == "sent"))
        assert sum(fake.received.values()) + sum(mail.sent.values()) == sent > 5


def test_a_provider_outage_loses_nothing_and_sends_nothing_twice(live_app: LiveApp) -> None:
    rt = live_app.runtime
    run_until(rt, berlin(10, 0))
    created = plan(rt, berlin(10, 0))
    mail = MailRecorder()
    rt.settings.notify_claim_lease_seconds = 0.5  # a send that timed out is reconciled on a later pass
    with fake_twilio(hang_seconds=3) as (fake, base):
        fake.fail_next("500", "429", "hang", "500", "500", "hang", "429")
        now = berlin(10, 0)
        for _ in range(12):
            dispatch(rt, now, base, mail, timeout=1.0)
            now += timedelta(minutes=30)
            time.sleep(0.2)
        assert fake.duplicates == 0
        with rt.sessions() as session:
            rows = session.scalars(select(Notification).where(Notification.channel == "sms")).all()
            retried = session.scalar(select(func.count()).where(NotificationEvent.status == "retry"))
        assert retried >= 5, "the scripted failures were retried"
        sent = [n for n in rows if n.status == "sent"]
        assert len(sent) == len(fake.received) and created > 0
        due = [n for n in rows if n.due_at <= berlin(12, 0)]
        # superseded: a parcel delivered before the first plan at 10:00 gets its "delivered", not a late "out for delivery"
        assert all(n.status in ("sent", "cancelled", "skipped", "superseded") for n in due), Counter(n.status for n in due)


def test_a_timeout_after_twilio_took_the_message_does_not_send_it_again(live_app: LiveApp) -> None:
    """The request reached Twilio, the answer did not come back in time: the message may be out. It
    is not resent blindly; once its claim lapses it is looked up in Twilio's list and found."""
    rt = live_app.runtime
    run_until(rt, berlin(10, 0))
    assert plan(rt, berlin(10, 0)) > 0
    mail = MailRecorder()
    rt.settings.notify_claim_lease_seconds = 0.5
    with fake_twilio(hang_seconds=3) as (fake, base):
        fake.fail_next("slow")
        first = dispatch(rt, berlin(10, 0), base, mail, timeout=1.0)
        assert first.counts["unknown"] == 1 and fake.duplicates == 0, first.counts
        with rt.sessions() as session:
            (open_row,) = session.scalars(select(Notification).where(Notification.status == "sending")).all()
        time.sleep(1.0)  # the claim's lease ends
        second = dispatch(rt, berlin(10, 5), base, mail, timeout=1.0)
        assert second.counts["reconciled_sent"] == 1 and second.counts["reconciled_resend"] == 0
        assert fake.duplicates == 0 and fake.received[(open_row.to_address, open_row.body)] == 1
        with rt.sessions() as session:
            row = session.get(Notification, open_row.id)
            assert row is not None and row.status == "sent" and row.provider_id


def test_a_refused_number_is_not_retried_and_gets_email_instead(live_app: LiveApp) -> None:
    rt = live_app.runtime
    run_until(rt, berlin(9, 0))
    with rt.sessions() as session:
        shipment = out_for_delivery_by_sms(session)
        phone, email = shipment.customer.phone, shipment.customer.email
    plan(rt, berlin(9, 0))
    mail = MailRecorder()
    with fake_twilio() as (fake, base):
        fake.refuse[phone] = 21610
        dispatch(rt, berlin(9, 0), base, mail)
        dispatch(rt, berlin(9, 30), base, mail)
        attempts_at_fake = fake.attempts
    with rt.sessions() as session:
        refused = session.scalars(select(Notification).where(Notification.to_address == phone)).all()
    assert refused and all(n.status == "failed" and n.attempts == 1 and "21610" in (n.error or "") for n in refused)
    assert any(to == email for (to, _) in mail.sent), "the same news went by email"
    assert attempts_at_fake == len(fake.received) + len(refused)


def test_quiet_hours_defer_and_a_message_no_longer_true_is_not_sent(live_app: LiveApp) -> None:
    rt = live_app.runtime
    rules = load_rules()
    with rt.sessions() as session:
        shipment = session.scalars(select(Shipment).where(Shipment.status == ShipmentStatus.AT_DEPOT)).first()
        assert shipment is not None and shipment.promised_start is not None
        shipment_id = shipment.id
        customer = session.get(Customer, shipment.customer_id)
        assert customer is not None
        customer.quiet_hours_start, customer.quiet_hours_end = 6, 12  # asleep until noon, their time
        customer.preferred_channels = ["sms", "email"]
        shipment.status_at = berlin(7, 15)  # just arrived at the depot: "shipped" is news
        phone = customer.phone
        session.commit()
        sync_plans(session, load_shipments(session, [shipment_id]), berlin(7, 30), rules)
        session.commit()
    mail = MailRecorder()
    with fake_twilio() as (fake, base):
        report = dispatch(rt, berlin(7, 30), base, mail, rules)
        assert report["deferred"] >= 1 and all(to != phone for (to, _) in fake.received)
        with rt.sessions() as session:
            deferred = session.scalars(select(Notification).where(Notification.shipment_id == shipment_id,
                                                                  Notification.status == "planned")).all()
            assert deferred and all(n.due_at.astimezone(n.due_at.tzinfo).hour >= 11 for n in deferred)
            # By noon the parcel is out for delivery: the "shipped" news is no longer worth sending.
            shipment = session.get(Shipment, shipment_id)
            assert shipment is not None
            shipment.status, shipment.status_at = ShipmentStatus.OUT_FOR_DELIVERY, berlin(11, 0)
            session.commit()
        report = dispatch(rt, berlin(12, 5), base, mail, rules)
        assert report["skipped"] >= 1
        with rt.sessions() as session:
            shipped = session.scalars(select(Notification).where(Notification.shipment_id == shipment_id,
                                                                 Notification.trigger == "shipped")).all()
            assert shipped and all(n.status == "skipped" and n.sent_at is None for n in shipped)


def test_an_opted_out_channel_gets_nothing(live_app: LiveApp) -> None:
    rt = live_app.runtime
    run_until(rt, berlin(9, 0))
    with rt.sessions() as session:
        shipment = out_for_delivery_by_sms(session)
        phone = shipment.customer.phone
        set_opt_out(session, customer_id=shipment.customer_id, channel="sms", opted_out=True, source="sms keyword STOP")
        session.commit()
    plan(rt, berlin(9, 0))
    mail = MailRecorder()
    with fake_twilio() as (fake, base):
        dispatch(rt, berlin(9, 0), base, mail)
        assert all(to != phone for (to, _) in fake.received)
        assert fake.received, "others still get theirs"


def test_operations_pages_and_metrics_show_what_happened(live_app: LiveApp) -> None:
    rt = live_app.runtime
    morning_sent_and_delivered(rt)
    with rt.sessions() as session:
        row = session.scalars(select(Notification).where(Notification.status == "delivered")).first()
        assert row is not None
        cancelled = session.scalar(select(func.count()).where(Notification.status == "cancelled"))
    assert httpx.get(f"{live_app.url}/ops/notifications", follow_redirects=False).status_code == 303  # login first
    with rt.sessions() as session:
        create_agent(session, email="ops@example.com", name="Ops", password="a long passphrase", role="agent")
        session.commit()
    staff = httpx.Client(base_url=live_app.url)
    form = staff.get("/agent/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    assert staff.post("/agent/login", data={"email": "ops@example.com", "password": "a long passphrase",
                                            "csrf_token": token.group(1), "next": "/agent"}).status_code == 303
    page = staff.get("/ops/notifications", params={"status": "delivered", "channel": row.channel})
    assert page.status_code == 200 and row.to_address in page.text and f"/ops/notifications/{row.id}" in page.text
    # the workers' part (planning backlog, dead letters) is in the page's body once, not in its title
    assert "<title>Notifications · Doorstep</title>" in page.text and page.text.count("<h2>Workers</h2>") == 1
    detail = staff.get(f"/ops/notifications/{row.id}").text
    for step in ("planned", "sent", "delivered"):
        assert f"<td>{step}</td>" in detail
    metrics = httpx.get(f"{live_app.url}/metrics").text
    delivered = statuses(rt)["delivered"]
    total = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                if line.startswith("doorstep_notifications{") and 'status="delivered"' in line)
    assert total == delivered
    if cancelled:
        assert 'status="cancelled"' in metrics
    assert staff.get("/ops/notifications/999999").status_code == 404
    staff.close()


def test_a_return_label_email_carries_the_label(live_app: LiveApp) -> None:
    rt = live_app.runtime
    label = base64.b64encode(b"%PDF-1.4 a return label").decode()
    with rt.sessions() as session:
        shipment = session.scalars(select(Shipment).where(Shipment.status == ShipmentStatus.DELIVERED)
                                   .order_by(Shipment.id)).first()
        assert shipment is not None
        email = shipment.customer.email
        session.add(Return(shipment_id=shipment.id, rma="R12345678", items=["SKU-1"], reason="too small",
                           method="label", status="created", label_code="1Z999AA10123456784",
                           label_document=label, label_format="PDF", created_at=berlin(9, 0)))
        session.commit()
    asyncio.run(run_pass(rt, berlin(9, 0)))
    with rt.sessions() as session:
        mail = session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == email,
                                                          OutboxMessage.body.contains("1Z999AA10123456784")))
        assert mail is not None and "attached" in mail.body
        assert mail.meta["attachments"] == [{"filename": "return-label-R12345678.pdf", "type": "application/pdf",
                                             "bytes": len(b"%PDF-1.4 a return label")}]
    page = httpx.get(f"{live_app.url}/demo/mailbox", params={"to": email}).text
    assert "return-label-R12345678.pdf" in page
