"""Delays owned (issue 16): a window that slips past the promise margin gets an apology with the new window and
the options; the operator's goodwill voucher is given once per shipment, and a dry pool is recorded and shown."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.carriers.sandbox.world import build_world
from bot.conversation.handoffs import create_handoff
from bot.core.models import AuditLog, GoodwillGrant, Notification, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from bot.desk.agents import create_agent
from bot.notify import goodwill
from bot.notify.planner import load_shipments, sync_plans
from bot.notify.render import context_for, render
from bot.notify.rules import GoodwillRule, Rules, load_rules
from tests.changes.conftest import build
from tests.conftest import T0
from tests.test_console import PASSWORD, login
from tests.test_web import LiveServer


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Runtime]:
    rt = build(tmp_path)
    yield rt
    rt.engine.dispose()


def rules_with_pool(tmp_path: Path, codes: list[str]) -> Rules:
    pool = tmp_path / "vouchers.txt"
    pool.write_text("# test pool\n" + "\n".join(codes) + "\n")
    rules = load_rules()
    return rules.model_copy(update={"promise_margin_minutes": 60,
                                    "goodwill": GoodwillRule(min_slip_minutes=90, voucher_pool=str(pool))})


def at_depot(world: Runtime, n: int = 1) -> list[int]:
    with world.sessions() as session:
        return list(session.scalars(select(Shipment.id).where(Shipment.status == ShipmentStatus.AT_DEPOT,
                                                              Shipment.promised_end.is_not(None),
                                                              Shipment.locker_id.is_(None))
                                    .order_by(Shipment.id).limit(n)))


def slip(world: Runtime, shipment_id: int, minutes: int, rules: Rules) -> list[Notification]:
    """Move the shipment's ETA `minutes` past its promised end, plan, and return its delay messages (rendered)."""
    with world.sessions() as session, session.begin():
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None and shipment.promised_start and shipment.promised_end
        shipment.eta_start = shipment.promised_start + timedelta(minutes=minutes)
        shipment.eta_end = shipment.promised_end + timedelta(minutes=minutes)
        now = shipment.promised_start - timedelta(hours=2)
        sync_plans(session, load_shipments(session, [shipment_id]), now, rules)
    with world.sessions() as session:
        rows = list(session.scalars(select(Notification).where(Notification.shipment_id == shipment_id,
                                                               Notification.trigger == "delayed")
                                    .order_by(Notification.id)))
        for row in rows:
            shipment = session.get(Shipment, shipment_id)
            assert shipment is not None
            out = render("delayed", row.locale, context_for(row, shipment, now=now, settings=world.settings))
            row.body, row.subject = out.sms, out.text
        session.expunge_all()
        return rows


def english(world: Runtime, shipment_id: int) -> None:
    with world.sessions() as session, session.begin():
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        shipment.customer.locale = "en"


def grants(world: Runtime) -> list[tuple[int, str, str | None]]:
    with world.sessions() as session:
        return [(g.shipment_id, g.status, g.code) for g in session.scalars(select(GoodwillGrant).order_by(GoodwillGrant.id))]


def test_late_but_within_the_margin_is_the_plain_delay_message(world: Runtime, tmp_path: Path) -> None:
    rules = rules_with_pool(tmp_path, ["SORRY-A1"])
    [shipment_id] = at_depot(world)
    english(world, shipment_id)
    [message] = slip(world, shipment_id, 40, rules)
    assert message.context["broken"] is False
    assert "broke our promise" not in message.body and "is running late. New window: " in message.body
    assert grants(world) == []


def test_a_broken_promise_apologises_gives_the_window_and_the_options_and_a_voucher_once(
        world: Runtime, tmp_path: Path) -> None:
    rules = rules_with_pool(tmp_path, ["SORRY-A1", "SORRY-B2"])
    [shipment_id] = at_depot(world)
    english(world, shipment_id)
    [first] = slip(world, shipment_id, 100, rules)
    assert first.context["broken"] is True
    assert first.body.startswith("Doorstep: sorry, we broke our promise for parcel ")
    assert "New window: " in first.body and "As an apology: voucher SORRY-A1." in first.body
    assert "Reply with another day or LOCKER." in first.body and "/t/" in first.body
    assert "we have not kept that promise" in first.subject
    both = slip(world, shipment_id, 200, rules)  # later still: a second delay message, no second voucher
    assert len(both) == 2 and "SORRY-A1" in both[1].body
    assert grants(world) == [(shipment_id, "granted", "SORRY-A1")]
    with world.sessions() as session:
        assert list(session.scalars(select(AuditLog.action).where(AuditLog.entity_id == str(shipment_id),
                                                                  AuditLog.action.like("goodwill.%")))) == \
            ["goodwill.granted"]


def test_one_grant_per_parcel_and_each_code_once_on_both_engines(runtime: Runtime, tmp_path: Path) -> None:
    rules = rules_with_pool(tmp_path, ["SORRY-A1", "SORRY-B2"])
    with runtime.sessions() as session, session.begin():
        build_world(session, seed=7, speed=1, now=T0)
    with runtime.sessions() as session, session.begin():
        a, b, c = session.scalars(select(Shipment).order_by(Shipment.id).limit(3)).all()
        first = goodwill.grant(session, a, slip_minutes=120, rule=rules.goodwill, now=T0)
        again = goodwill.grant(session, a, slip_minutes=150, rule=rules.goodwill, now=T0)
        assert first is not None and again is not None and first.id == again.id and first.code == "SORRY-A1"
        assert goodwill.grant(session, b, slip_minutes=30, rule=rules.goodwill, now=T0) is None  # not due
        assert goodwill.grant(session, b, slip_minutes=95, rule=rules.goodwill, now=T0).code == "SORRY-B2"  # type: ignore[union-attr]
        dry = goodwill.grant(session, c, slip_minutes=95, rule=rules.goodwill, now=T0)
        assert dry is not None and (dry.status, dry.code) == ("pool_empty", None)
        ids = (a.id, b.id, c.id)
    assert grants(runtime) == [(ids[0], "granted", "SORRY-A1"), (ids[1], "granted", "SORRY-B2"),
                               (ids[2], "pool_empty", None)]


def test_a_dry_pool_is_recorded_and_the_agent_sees_it(world: Runtime, tmp_path: Path) -> None:
    rules = rules_with_pool(tmp_path, ["SORRY-A1"])
    first, second = at_depot(world, 2)
    slip(world, first, 120, rules)
    [message] = slip(world, second, 120, rules)
    assert "voucher" not in message.body.lower() and "gutschein" not in message.body.lower() \
        and "tegoedbon" not in message.body.lower()
    assert grants(world) == [(first, "granted", "SORRY-A1"), (second, "pool_empty", None)]
    with world.sessions() as session:
        summary = goodwill.summary(session, rules)
    assert (summary["given"], summary["owed"], summary["pool_left"]) == (1, 1, 0)
    # The dashboard and the console show it (the app's own rules point at the demo pool: "owed" is per row).
    with world.sessions() as session, session.begin():
        create_agent(session, email="sam@example.com", name="Sam", password=PASSWORD, role="agent")
        owed = session.get(Shipment, second)
        assert owed is not None
        tracking_number = owed.tracking_number
    with LiveServer(world.settings) as server:
        client, _ = login(server)
        page = client.get("/agent/dashboard")
        assert page.status_code == 200 and 'id="goodwill-owed"><strong>1</strong>' in page.text
        assert tracking_number in page.text and "owed (pool empty)" in page.text
        assert client.get("/agent/dashboard.json").json()["goodwill"]["owed"] == 1
        handoff_id = open_handoff_for(world, second)
        console = client.get(f"/agent/handoffs/{handoff_id}")
        assert console.status_code == 200 and "owed: the voucher pool was empty" in console.text


def open_handoff_for(world: Runtime, shipment_id: int) -> int:
    with world.sessions() as session, session.begin():
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        return create_handoff(session, channel="twilio", sender_id="+4915199990001", reason="request",
                              summary="Reason: asked for a person", customer_id=shipment.customer_id,
                              shipment_id=shipment.id).id



def test_codes_go_out_in_pool_order_once_each_however_many_were_given_before(
        runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A grant looks only past the codes this process saw given (a chunk at a time), never at every code
    given so far; codes another planner took meanwhile are passed over, and a new process starts over."""
    monkeypatch.setattr(goodwill, "CHUNK", 2)  # so that the lookups cross chunk boundaries
    codes = [f"SORRY-{i:03d}" for i in range(9)]
    rules = rules_with_pool(tmp_path, codes)
    with runtime.sessions() as session, session.begin():
        build_world(session, seed=7, speed=1, now=T0)
    with runtime.sessions() as session, session.begin():
        a, b, c, d, e = session.scalars(select(Shipment).order_by(Shipment.id).limit(5)).all()
        given = [goodwill.grant(session, s, slip_minutes=120, rule=rules.goodwill, now=T0) for s in (a, b)]
        assert [g.code for g in given if g] == ["SORRY-000", "SORRY-001"]
        # Another planner (another process) gives the next two codes meanwhile.
        session.add_all([GoodwillGrant(shipment_id=s.id, customer_id=s.customer_id, slip_minutes=120, granted_at=T0,
                                       status="granted", code=code) for s, code in ((c, "SORRY-002"), (d, "SORRY-003"))])
        session.flush()
        assert goodwill.grant(session, e, slip_minutes=120, rule=rules.goodwill, now=T0).code == "SORRY-004"  # type: ignore[union-attr]
    goodwill._given_before.clear()  # a new process: it starts from the top of the pool
    with runtime.sessions() as session, session.begin():
        f = session.scalars(select(Shipment).order_by(Shipment.id).offset(5).limit(1)).one()
        assert goodwill.grant(session, f, slip_minutes=120, rule=rules.goodwill, now=T0).code == "SORRY-005"  # type: ignore[union-attr]
        assert goodwill.remaining(session, rules.goodwill) == 3
    assert sorted(code for _, _, code in grants(runtime)) == codes[:6]
