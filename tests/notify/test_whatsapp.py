"""WhatsApp through the real twilio library against the app's own outbox, which keeps Twilio's rules:
free text only inside the 24-hour window (else error 63016), approved templates (ContentSid) always."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from bot.conversation.consent import opted_in, set_opt_out
from bot.core.models import Consent, Notification, NotificationEvent, OutboxMessage, Shipment, ShipmentStatus, utcnow
from bot.core.runtime import Runtime
from bot.demo.outbox import record
from bot.notify.providers import PermanentFailure, Sent
from bot.notify.service import run_pass
from bot.notify.whatsapp import TwilioWhatsApp, WhatsAppMessage
from bot.notify.whatsapp_templates import TEXTS, load_templates, placeholders
from bot.text import t
from tests.notify.conftest import LiveApp, wait_for
from tests.test_sandbox import berlin, run_until

CONTEXT = {"tracking_number": "DS123456", "window": "today 14:00-15:00", "link": "https://example.test/t/x"}


def api(app: LiveApp) -> Client:
    settings = app.runtime.settings
    client = Client(settings.outbox_account_sid, settings.outbox_auth_token)
    client.api.base_url = f"{app.url}/outbox/twilio"
    return client


def sender(app: LiveApp, kind: type[TwilioWhatsApp] = TwilioWhatsApp) -> TwilioWhatsApp:
    settings = app.runtime.settings
    return kind(account_sid=settings.outbox_account_sid, auth_token=settings.outbox_auth_token,
                          api_base=f"{app.url}/outbox/twilio", from_address=settings.outbox_whatsapp_from,
                          templates=load_templates(), timeout=5.0)


def customer_wrote(app: LiveApp, address: str, hours_ago: float = 0.0) -> None:
    """An inbound WhatsApp message in Twilio's log (the outbox's), `hours_ago` in real time."""
    with app.runtime.sessions() as session, session.begin():
        message = record(session, channel="whatsapp", to=app.runtime.settings.outbox_whatsapp_from, sender=address,
                         body="hi", direction="inbound")
        message.created_at = utcnow() - timedelta(hours=hours_ago)


def send(app: LiveApp, message: WhatsAppMessage, kind: type[TwilioWhatsApp] = TwilioWhatsApp) -> Sent:
    async def go() -> Sent:
        provider = sender(app, kind)  # the SDK's aiohttp session belongs to this loop
        try:
            return await provider.send(message, None)
        finally:
            await provider.close()
    return asyncio.run(go())


def test_free_text_outside_the_window_is_refused_with_63016_and_a_template_is_accepted(live_app: LiveApp) -> None:
    client, to = api(live_app), "whatsapp:+4915199990001"
    whatsapp_from = live_app.runtime.settings.outbox_whatsapp_from
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(to=to, from_=whatsapp_from, body="Your parcel is coming")
    assert refused.value.code == 63016 and refused.value.status == 400
    customer_wrote(live_app, to, hours_ago=25)  # a day and an hour ago: still outside
    with pytest.raises(TwilioRestException):
        client.messages.create(to=to, from_=whatsapp_from, body="Your parcel is coming")
    template = load_templates().for_trigger("out_for_delivery", "de")
    assert template is not None
    message = client.messages.create(to=to, from_=whatsapp_from, content_sid=template.content_sid,
                                     content_variables=json.dumps({"1": "DS123456", "2": "heute 14:00-15:00",
                                                                   "3": "https://example.test/t/x"}))
    assert message.status == "queued" and message.to == to
    with live_app.runtime.sessions() as session:
        stored = session.scalar(select(OutboxMessage).where(OutboxMessage.sid == message.sid))
        assert stored is not None and stored.channel == "whatsapp" and stored.from_address == whatsapp_from
        assert stored.body == t("de", TEXTS["out_for_delivery"], tracking_number="DS123456",
                                window="heute 14:00-15:00", link="https://example.test/t/x")
        assert stored.body != TEXTS["out_for_delivery"] and "DS123456" in stored.body  # German, filled in
        assert stored.meta["content_sid"] == template.content_sid
    customer_wrote(live_app, to, hours_ago=23)  # inside the window now: free text goes
    assert client.messages.create(to=to, from_=whatsapp_from, body="Sure, tomorrow works").status == "queued"


def test_the_outbox_refuses_bad_templates_and_mixed_channels_as_twilio_does(live_app: LiveApp) -> None:
    client, to = api(live_app), "whatsapp:+4915199990002"
    settings = live_app.runtime.settings
    template = load_templates().for_trigger("delivered", "en")
    assert template is not None
    cases = [
        ({"content_sid": "HX" + "0" * 32, "content_variables": "{}"}, 21655),
        ({"content_sid": template.content_sid, "content_variables": json.dumps({"1": "DS1"})}, 21656),
        ({"content_sid": template.content_sid, "content_variables": json.dumps({"1": "DS1", "2": ""})}, 21656),
        ({"content_sid": template.content_sid, "content_variables": "not json"}, 21656),
    ]
    for params, code in cases:
        with pytest.raises(TwilioRestException) as refused:
            client.messages.create(to=to, from_=settings.outbox_whatsapp_from, **params)
        assert refused.value.code == code, params
    with pytest.raises(TwilioRestException) as mixed:
        client.messages.create(to=to, from_=settings.outbox_from_number, body="hello")
    assert mixed.value.code == 21910
    with live_app.runtime.sessions() as session:
        assert session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == to)) is None


def test_the_provider_sends_free_text_inside_the_window_and_the_template_outside(live_app: LiveApp) -> None:
    to = "whatsapp:+4915199990003"
    photo = "https://example.test/m/token/proof.png"
    outside = send(live_app, WhatsAppMessage(to, "free text", "out_for_delivery", "nl", CONTEXT, media_url=photo))
    template = load_templates().for_trigger("out_for_delivery", "nl")
    assert template is not None and outside.detail == f"template {template.content_sid}"
    customer_wrote(live_app, to)
    inside = send(live_app, WhatsAppMessage(to, "free text", "out_for_delivery", "nl", CONTEXT, media_url=photo))
    assert inside.detail == ""
    with live_app.runtime.sessions() as session:
        first = session.scalar(select(OutboxMessage).where(OutboxMessage.sid == outside.provider_id))
        second = session.scalar(select(OutboxMessage).where(OutboxMessage.sid == inside.provider_id))
        assert first is not None and second is not None
        assert "DS123456" in first.body and first.body != "free text" and "media" not in first.meta
        assert second.body == "free text" and second.meta["media"] == [photo]


def test_outside_the_window_a_trigger_without_a_template_is_refused_for_good(live_app: LiveApp) -> None:
    with pytest.raises(PermanentFailure) as refused:
        send(live_app, WhatsAppMessage("whatsapp:+4915199990004", "3 stops away", "stops_away", "en", CONTEXT))
    assert refused.value.code == 63016 and "no approved template" in str(refused.value)
    with pytest.raises(PermanentFailure):  # a template whose variable would be empty is not sent either
        send(live_app, WhatsAppMessage("whatsapp:+4915199990004", "x", "out_for_delivery", "en",
                                       {**CONTEXT, "window": ""}))


class StaleWindow(TwilioWhatsApp):
    """Believes the window open (it closed between the check and the send)."""

    async def last_inbound(self, to, now=None):  # type: ignore[no-untyped-def]
        return utcnow()


def test_63016_from_twilio_is_answered_with_the_template(live_app: LiveApp) -> None:
    sent = send(live_app, WhatsAppMessage("whatsapp:+4915199990005", "free", "delivered", "en", CONTEXT), StaleWindow)
    assert sent.detail.startswith("template HX")
    with live_app.runtime.sessions() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == "whatsapp:+4915199990005")).all()
        assert [r.meta.get("content_sid") is not None for r in rows] == [True]  # only the template went


def test_every_template_has_its_variables_in_every_language() -> None:
    templates = load_templates()
    for tpl in templates:
        numbered = tpl.approval_text()
        for number in range(1, len(tpl.variables) + 1):
            assert f"{{{{{number}}}}}" in numbered, (tpl.trigger, tpl.locale)
        assert set(placeholders(t(tpl.locale, tpl.text))) == set(tpl.variables)
    assert {tpl.trigger for tpl in templates} == set(TEXTS)


def test_the_templates_file_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "templates.yml"
    bad.write_text("templates:\n  stops_away:\n    content_sid: {en: HX" + "a" * 32 + "}\n")
    with pytest.raises(ValueError, match="no WhatsApp template text"):
        load_templates(bad)
    bad.write_text("templates:\n  delivered:\n    content_sid: {en: SM123}\n")
    with pytest.raises(ValueError, match="not a ContentSid"):
        load_templates(bad)


# -- through the planner and the dispatcher ------------------------------------------------------


def out_for_delivery(session: Session) -> Shipment:
    shipments = session.scalars(select(Shipment).where(Shipment.status == ShipmentStatus.OUT_FOR_DELIVERY)
                                .order_by(Shipment.id)).all()
    return next(s for s in shipments if "sms" in s.customer.preferred_channels)


def whatsapp_customer(rt: Runtime, *, opt_in: bool) -> tuple[int, str]:
    run_until(rt, berlin(10, 0))
    with rt.sessions() as session:
        shipment = out_for_delivery(session)
        if opt_in:
            assert set_opt_out(session, customer_id=shipment.customer_id, channel="whatsapp", opted_out=False,
                               source="whatsapp: START")
        session.commit()
        return shipment.id, shipment.customer.phone


def rows_for(rt: Runtime, shipment_id: int) -> list[Notification]:
    with rt.sessions() as session:
        return list(session.scalars(select(Notification).where(Notification.shipment_id == shipment_id)
                                    .order_by(Notification.id)))


def test_without_an_explicit_opt_in_nothing_goes_over_whatsapp(live_app: LiveApp) -> None:
    rt = live_app.runtime
    shipment_id, _ = whatsapp_customer(rt, opt_in=False)
    with rt.sessions() as session, session.begin():
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        shipment.customer.preferred_channels = ["whatsapp", "sms", "email"]  # chosen, but never opted in
    asyncio.run(run_pass(rt, berlin(10, 0)))
    rows = rows_for(rt, shipment_id)
    assert rows and all(row.channel != "whatsapp" for row in rows)
    with rt.sessions() as session:
        assert session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "whatsapp")) is None


def test_an_opted_in_customer_gets_the_template_outside_the_window(live_app: LiveApp) -> None:
    rt = live_app.runtime
    shipment_id, phone = whatsapp_customer(rt, opt_in=True)
    asyncio.run(run_pass(rt, berlin(10, 0)))
    sent = [row for row in rows_for(rt, shipment_id) if row.trigger == "out_for_delivery"]
    assert [(row.channel, row.status, row.to_address) for row in sent] == [("whatsapp", "sent", f"whatsapp:{phone}")]
    with rt.sessions() as session:
        detail = session.scalar(select(NotificationEvent.detail).where(
            NotificationEvent.notification_id == sent[0].id, NotificationEvent.status == "sent"))
        assert detail is not None and "template HX" in detail
        outbox = session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == f"whatsapp:{phone}")).all()
        assert len(outbox) == 1 and outbox[0].meta.get("content_sid") and sent[0].provider_id == outbox[0].sid
        assert sent[0].body == outbox[0].body, "the notification keeps the template's words the customer read"
        assert not session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == phone,
                                                               OutboxMessage.channel == "sms")).all()


def test_inside_the_window_the_same_message_goes_as_free_text(live_app: LiveApp) -> None:
    rt = live_app.runtime
    shipment_id, phone = whatsapp_customer(rt, opt_in=True)
    customer_wrote(live_app, f"whatsapp:{phone}", hours_ago=2)
    asyncio.run(run_pass(rt, berlin(10, 0)))
    sent = [row for row in rows_for(rt, shipment_id) if row.trigger == "out_for_delivery"]
    assert [(row.channel, row.status) for row in sent] == [("whatsapp", "sent")]
    with rt.sessions() as session:
        outbox = session.scalar(select(OutboxMessage).where(OutboxMessage.sid == sent[0].provider_id))
        assert outbox is not None and outbox.body == sent[0].body and "content_sid" not in outbox.meta


def test_a_trigger_without_a_template_falls_back_to_sms_and_says_so(live_app: LiveApp, tmp_path: Path) -> None:
    rt = live_app.runtime
    only_delivered = tmp_path / "whatsapp_templates.yml"
    only_delivered.write_text("templates:\n  delivered:\n    content_sid: {en: HX" + "b" * 32 + "}\n")
    rt.settings.whatsapp_templates = str(only_delivered)
    shipment_id, phone = whatsapp_customer(rt, opt_in=True)
    asyncio.run(run_pass(rt, berlin(10, 0)))
    asyncio.run(run_pass(rt, berlin(10, 0)))  # the fallback planned by the first pass goes in the next
    rows = [row for row in rows_for(rt, shipment_id) if row.trigger == "out_for_delivery"]
    assert [(row.channel, row.status) for row in rows] == [("whatsapp", "failed"), ("sms", "sent")]
    assert "no approved template" in (rows[0].error or "")
    with rt.sessions() as session:
        planned = session.scalar(select(NotificationEvent.detail).where(
            NotificationEvent.notification_id == rows[1].id, NotificationEvent.status == "planned"))
        assert planned is not None and planned.startswith("fallback after whatsapp")
        assert session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == phone)) is not None


def test_stop_on_whatsapp_leaves_sms_on_and_start_is_needed_again(live_app: LiveApp) -> None:
    rt = live_app.runtime
    shipment_id, phone = whatsapp_customer(rt, opt_in=True)
    with rt.sessions() as session:
        customer_id = session.get(Shipment, shipment_id).customer_id  # type: ignore[union-attr]
        assert opted_in(session, customer_id, "whatsapp") and opted_in(session, customer_id, "sms")
        assert set_opt_out(session, customer_id=customer_id, channel="whatsapp", opted_out=True, source="whatsapp: STOP")
        session.commit()
        assert not opted_in(session, customer_id, "whatsapp") and opted_in(session, customer_id, "sms")
        consents = {c.channel: c.opted_out for c in session.scalars(select(Consent).where(Consent.customer_id == customer_id))}
        assert consents == {"whatsapp": True}
    asyncio.run(run_pass(rt, berlin(10, 0)))
    rows = [row for row in rows_for(rt, shipment_id) if row.trigger == "out_for_delivery" and row.status == "sent"]
    assert [row.channel for row in rows] == ["sms"]
    with rt.sessions() as session:
        assert session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == f"whatsapp:{phone}")) is None


# -- the proof-of-delivery photo -------------------------------------------------------------------

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode()


def test_the_photo_link_is_signed_short_lived_and_only_where_media_is_allowed(live_app: LiveApp) -> None:
    import httpx

    from bot.aftercare.proof import record_proof
    from bot.aftercare.proof_media import make_media_token, media_allowed, proof_photo_url, read_media_token
    from bot.carriers.models import DropProof

    rt = live_app.runtime
    with rt.sessions() as session, session.begin():
        shipment = session.scalars(select(Shipment).order_by(Shipment.id)).first()
        assert shipment is not None
        record_proof(session, shipment, DropProof(place="back_door", lat=shipment.lat, lng=shipment.lng, photo=PNG,
                                                  photo_format="png"),
                     carrier="sandbox", delivered_at=berlin(11, 0), max_distance_m=50)
        url = proof_photo_url(rt.settings, shipment, "delivered", berlin(11, 0))
        assert proof_photo_url(rt.settings, shipment, "out_for_delivery", berlin(11, 0)) is None
        shipment_id = shipment.id
    assert url is not None and url.startswith(f"{rt.settings.public_base_url}/m/") and url.endswith("/proof.png")
    got = httpx.get(url)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png" and got.content.startswith(b"\x89PNG")
    token = url.split("/m/", 1)[1].split("/", 1)[0]
    assert read_media_token(rt.settings.link_secret, token) == shipment_id
    assert read_media_token(rt.settings.link_secret, token, max_age_seconds=-1) is None  # an hour later: gone
    assert read_media_token("another-secret", token) is None
    assert httpx.get(url.replace(token, make_media_token("forged", shipment_id))).status_code == 404
    assert httpx.get(url.replace(".png", ".jpeg")).status_code == 404
    assert media_allowed("whatsapp", "whatsapp:+4915112345678")
    assert media_allowed("sms", "+14155550100") and not media_allowed("sms", "+4915112345678")
    assert not media_allowed("email", "a@example.test")


# -- the demo's WhatsApp phone ---------------------------------------------------------------------


def test_the_demo_whatsapp_phone_shows_templates_and_its_own_conversation(live_app: LiveApp) -> None:
    import httpx

    rt = live_app.runtime
    _, phone = whatsapp_customer(rt, opt_in=True)
    asyncio.run(run_pass(rt, berlin(10, 0)))
    page = httpx.get(f"{live_app.url}/demo/whatsapp/{phone}")
    assert page.status_code == 200 and "closed (templates only)" in page.text
    assert '<small class="tag">template</small>' in page.text
    sms_page = httpx.get(f"{live_app.url}/demo/phone/{phone}")
    assert sms_page.status_code == 200 and '<small class="tag">template</small>' not in sms_page.text
    feed = httpx.get(f"{live_app.url}/api/outbox", params={"to": f"whatsapp:{phone}"}).json()
    assert [m["channel"] for m in feed] == ["whatsapp"] and feed[0]["template"].startswith("HX")
    # Writing from it goes to the bot as a signed WhatsApp webhook (no Rasa in this test: 503) and is
    # in Twilio's log first, which opens the 24-hour window.
    answer = httpx.post(f"{live_app.url}/demo/whatsapp/{phone}", data={"text": "where is my parcel"})
    assert answer.status_code == 503
    with rt.sessions() as session:
        inbound = session.scalars(select(OutboxMessage).where(OutboxMessage.direction == "inbound")).all()
        assert [(m.channel, m.from_address, m.to_address) for m in inbound] == [
            ("whatsapp", f"whatsapp:{phone}", rt.settings.outbox_whatsapp_from)]
    assert "open (free text)" in httpx.get(f"{live_app.url}/demo/whatsapp/{phone}").text
    assert httpx.get(f"{live_app.url}/demo/whatsapp/not-a-phone").status_code == 404


def test_agents_see_whatsapp_conversations_named_as_such() -> None:
    from bot.desk.handoff_desk import channel_label

    assert channel_label("twilio", "whatsapp:+4915112345678") == "WhatsApp"
    assert channel_label("twilio", "+4915112345678") == "SMS"
    assert channel_label("socketio", "web:abc") == "web chat"


def delivered_with_photo(rt: Runtime, shipment_id: int, channel: str, phone: str) -> int:
    """A delivered parcel with the driver's photo, and its "delivered" message planned on `channel` now."""
    from bot.aftercare.proof import record_proof
    from bot.carriers.models import DropProof
    from bot.core.clock import sim_now

    with rt.sessions() as session, session.begin():
        now = sim_now(session)
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        shipment.customer.phone = phone
        shipment.customer.quiet_hours_start = shipment.customer.quiet_hours_end = 0
        shipment.status, shipment.status_at, shipment.delivered_at = ShipmentStatus.DELIVERED, now, now
        record_proof(session, shipment, DropProof(place="back_door", lat=shipment.lat, lng=shipment.lng, photo=PNG,
                                                  photo_format="png"), carrier="sandbox", delivered_at=now,
                     max_distance_m=50)
        row = Notification(customer_id=shipment.customer_id, shipment_id=shipment_id, trigger="delivered",
                           channel=channel, template="delivered", locale="en",
                           to_address=f"whatsapp:{phone}" if channel == "whatsapp" else phone,
                           dedupe_key=f"{shipment_id}:delivered::{channel}", due_at=now, status="planned",
                           context={}, created_at=now)
        session.add(row)
        session.flush()
        return row.id


def test_the_delivered_photo_goes_by_whatsapp_and_mms_but_not_by_sms_abroad(live_app: LiveApp) -> None:
    import httpx

    from bot.notify.service import dispatch_step

    rt = live_app.runtime
    with rt.sessions() as session:
        ids = [s.id for s in session.scalars(select(Shipment).where(Shipment.status.in_(("at_depot", "in_transit")))
                                             .order_by(Shipment.id).limit(3))]
    customer_wrote(live_app, "whatsapp:+4915199990010")
    planned = {
        "whatsapp": delivered_with_photo(rt, ids[0], "whatsapp", "+4915199990010"),
        "sms abroad": delivered_with_photo(rt, ids[1], "sms", "+4915199990011"),
        "mms": delivered_with_photo(rt, ids[2], "sms", "+14155550123"),
    }
    with rt.sessions() as session:
        session.add(Consent(customer_id=session.get(Shipment, ids[0]).customer_id,  # type: ignore[union-attr]
                            channel="whatsapp", opted_out=False, source="test"))
        session.commit()
    from bot.core.clock import sim_now

    with rt.sessions() as session:
        now = sim_now(session)
    asyncio.run(dispatch_step(rt, now))
    media: dict[str, list[str]] = {}
    with rt.sessions() as session:
        for kind, notification_id in planned.items():
            row = session.get(Notification, notification_id)
            assert row is not None and row.status in ("sent", "delivered"), (kind, row and row.error)
            message = session.scalar(select(OutboxMessage).where(OutboxMessage.sid == row.provider_id))
            assert message is not None
            media[kind] = list(message.meta.get("media", []))
    assert media["sms abroad"] == []
    assert len(media["whatsapp"]) == 1 and len(media["mms"]) == 1
    for url in media["whatsapp"] + media["mms"]:
        photo = httpx.get(url)
        assert photo.status_code == 200 and photo.content.startswith(b"\x89PNG")


def test_63016_reported_later_by_the_status_callback_plans_the_next_channel(live_app: LiveApp) -> None:
    """Twilio may take a free-form request and fail it afterwards: `failed` with ErrorCode 63016 in the
    signed status callback. A forged report changes nothing; the real one plans the fallback."""
    import httpx
    from twilio.request_validator import RequestValidator

    rt = live_app.runtime
    shipment_id, phone = whatsapp_customer(rt, opt_in=True)
    asyncio.run(run_pass(rt, berlin(10, 0)))
    row = next(r for r in rows_for(rt, shipment_id) if r.trigger == "out_for_delivery")
    assert row.channel == "whatsapp" and row.provider_id
    url = f"{rt.settings.twilio_status_callback_url}?n={row.id}"
    form = {"MessageSid": row.provider_id, "MessageStatus": "failed", "ErrorCode": "63016",
            "To": f"whatsapp:{phone}"}
    forged = RequestValidator("not-the-token").compute_signature(url, form)
    assert httpx.post(url, data=form, headers={"X-Twilio-Signature": forged}).status_code == 403
    assert [r.channel for r in rows_for(rt, shipment_id) if r.trigger == "out_for_delivery"] == ["whatsapp"]
    signature = RequestValidator(rt.settings.sms_auth_token).compute_signature(url, form)
    status = lambda: next(r.status for r in rows_for(rt, shipment_id) if r.id == row.id)  # noqa: E731
    wait_for(lambda: status() == "delivered")  # the outbox's own reports are in
    with rt.sessions() as session, session.begin():  # as if the failure came instead of "delivered"
        stored = session.get(Notification, row.id)
        assert stored is not None
        stored.status = "sent"
    assert httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}).status_code == 204
    rows = [r for r in rows_for(rt, shipment_id) if r.trigger == "out_for_delivery"]
    assert [(r.channel, r.status) for r in rows] == [("whatsapp", "failed"), ("sms", "planned")]
    assert "63016" in (rows[0].error or "")
    read = {"MessageSid": row.provider_id, "MessageStatus": "read"}  # WhatsApp's "read": taken, changes nothing
    signed = RequestValidator(rt.settings.sms_auth_token).compute_signature(url, read)
    assert httpx.post(url, data=read, headers={"X-Twilio-Signature": signed}).status_code == 204
    assert status() == "failed"


def test_the_ops_pages_show_the_whatsapp_channel_and_the_template(live_app: LiveApp) -> None:
    import re

    import httpx

    from bot.desk.agents import create_agent

    rt = live_app.runtime
    shipment_id, phone = whatsapp_customer(rt, opt_in=True)
    asyncio.run(run_pass(rt, berlin(10, 0)))
    row = next(r for r in rows_for(rt, shipment_id) if r.trigger == "out_for_delivery")
    with rt.sessions() as session:
        create_agent(session, email="ops@example.com", name="Ops", password="a long passphrase", role="agent")
        session.commit()
    staff = httpx.Client(base_url=live_app.url)
    token = re.search(r'name="csrf_token" value="([^"]+)"', staff.get("/agent/login").text)
    assert token is not None
    assert staff.post("/agent/login", data={"email": "ops@example.com", "password": "a long passphrase",
                                            "csrf_token": token.group(1), "next": "/agent"}).status_code == 303
    page = staff.get("/ops/notifications", params={"channel": "whatsapp"})
    assert page.status_code == 200 and f"whatsapp:{phone}" in page.text and "<option selected>whatsapp</option>" in page.text
    assert f"/ops/notifications/{row.id}" in page.text
    detail = staff.get(f"/ops/notifications/{row.id}").text
    assert "template HX" in detail
    metrics = httpx.get(f"{live_app.url}/metrics").text
    assert 'channel="whatsapp"' in metrics
    staff.close()
