"""Onfleet through pyonfleet against a local Onfleet API, and Onfleet's signed webhooks into ingestion."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from bot.carriers import CarrierUnavailable, ChangeRefused, TimeWindow
from bot.changes import Done, Requester, RescheduleRequest, make
from bot.core.models import Locker, Shipment, ShipmentEvent
from bot.core.runtime import Runtime
from bot.web.carrier_webhooks import sign_onfleet
from tests.carriers.conftest import ONFLEET_SECRET, switch
from tests.carriers.fakes import Fake
from tests.carriers.test_karrio import in_transit
from tests.test_web import LiveServer

BERLIN = ZoneInfo("Europe/Berlin")
TASK_ID = "kc8SS1tzuZ~jqjlebKGrUmpe"


def onfleet_task(tracking_number: str, state: int = 1) -> dict:
    """An Onfleet task as GET /tasks/:id returns it (the fields we read, and a few more)."""
    return {
        "id": TASK_ID, "shortId": "8f983639", "organization": "yAM*fDkztrT3gUcz9mNDgNOL", "state": state,
        "completeAfter": 1795939200000, "completeBefore": 1795946400000, "pickupTask": False, "notes": "",
        "metadata": [{"name": "doorstep_tracking_number", "type": "string", "value": tracking_number, "visibility": ["api"]}],
        "destination": {"id": "zrVXZi5dvKyMzMosZvCkYEPv", "address": {"number": "12", "street": "Boxhagener Str.",
                        "city": "Berlin", "postalCode": "10245", "country": "Germany"}, "location": [13.46, 52.51],
                        "notes": ""},
        "completionDetails": {"success": False, "time": None, "failureReason": "NONE", "notes": ""},
        "estimatedArrivalTime": None, "estimatedCompletionTime": None, "delayTime": None,
        "trackingURL": "https://onf.lt/8f983639", "worker": None,
    }


def on_onfleet(world: Runtime, fake: Fake, state: int = 1) -> Shipment:
    shipment = switch(world, in_transit(world)[0].id, "onfleet")
    fake.tasks[TASK_ID] = onfleet_task(shipment.tracking_number, state)
    return shipment


def window() -> TimeWindow:
    start = datetime(2026, 11, 27, 10, tzinfo=BERLIN)
    return TimeWindow(start, start + timedelta(hours=2))


def test_track_finds_the_task_by_metadata(world: Runtime, fake: Fake) -> None:
    shipment = on_onfleet(world, fake)
    info = world.carrier("onfleet").track(shipment.tracking_number)
    assert info.status == "at_depot" and info.eta is not None
    assert int(info.eta.start.timestamp() * 1000) == 1795939200000


def test_reschedule_sets_the_task_window_then_our_shipment(world: Runtime, fake: Fake) -> None:
    shipment = on_onfleet(world, fake)
    booked = world.carrier("onfleet").reschedule(shipment.tracking_number, window())
    assert fake.bodies[-1][2] == {"completeAfter": int(window().start.timestamp() * 1000),
                                  "completeBefore": int(window().end.timestamp() * 1000)}
    assert booked == window()
    with world.sessions() as session:  # the adapter alone writes nothing of ours
        assert session.get(Shipment, shipment.id).promised_start == shipment.promised_start
    outcome = make(world, RescheduleRequest(shipment_id=shipment.id, by=Requester.AGENT, window=window()))
    assert isinstance(outcome, Done)
    with world.sessions() as session:  # through the change service, our shipment follows
        assert session.get(Shipment, shipment.id).promised_start == window().start


def test_a_task_under_way_is_not_changed(world: Runtime, fake: Fake) -> None:
    shipment = on_onfleet(world, fake, state=2)
    with pytest.raises(ChangeRefused, match="out_for_delivery"):
        world.carrier("onfleet").set_instructions(shipment.tracking_number, "back door")
    assert fake.bodies == []
    with world.sessions() as session:
        assert session.get(Shipment, shipment.id).instructions == shipment.instructions


def test_a_refused_or_rate_limited_update_changes_nothing_here(world: Runtime, fake: Fake) -> None:
    shipment = on_onfleet(world, fake)
    fake.faults["/onfleet/api/v2/tasks/" + TASK_ID] = 400  # Onfleet refuses the new destination
    with world.sessions() as session:
        code = session.scalars(select(Locker.code).order_by(Locker.id)).first()
    with pytest.raises(ChangeRefused, match="rejected"):
        world.carrier("onfleet").redirect_to_locker(shipment.tracking_number, str(code))
    assert fake.count("/onfleet/api/v2/tasks/" + TASK_ID) == 1  # asked once (a change is never retried)
    fake.faults["/onfleet/api/v2/tasks/" + TASK_ID] = 429
    with pytest.raises(CarrierUnavailable):
        world.carrier("onfleet").reschedule(shipment.tracking_number, window())
    with world.sessions() as session:
        row = session.get(Shipment, shipment.id)
        assert (row.promised_start, row.locker_id) == (shipment.promised_start, shipment.locker_id)


def test_a_slow_onfleet_times_out(world: Runtime, fake: Fake) -> None:
    shipment = on_onfleet(world, fake)
    fake.faults["/onfleet"] = "slow"
    with pytest.raises(CarrierUnavailable):
        world.carrier("onfleet").track(shipment.tracking_number)


# -- webhooks --------------------------------------------------------------------------------------
def hook(client: httpx.Client, payload: dict, *, secret: str = ONFLEET_SECRET):  # type: ignore[no-untyped-def]
    raw = json.dumps(payload).encode()
    return client.post("/webhooks/onfleet", content=raw, headers={"X-Onfleet-Signature": sign_onfleet(secret, raw),
                                                                  "Content-Type": "application/json"})


def payload(trigger: str, task: dict, at: datetime, **extra: object) -> dict:
    trigger_ids = {"taskStarted": 0, "taskEta": 1, "taskArrival": 2, "taskCompleted": 3, "taskFailed": 4,
                   "taskUpdated": 7, "taskDelayed": 12}
    return {"time": int(at.timestamp() * 1000), "triggerId": trigger_ids[trigger], "triggerName": trigger,
            "taskId": task["id"], "workerId": "1Ds6ulPYWxNPgaIaoLPqlIQE", "adminId": None,
            "data": {"task": task}, **extra}


def test_onfleet_webhooks_are_checked_and_move_the_shipment_forward_only(world: Runtime, fake: Fake) -> None:
    shipment = on_onfleet(world, fake)
    task = fake.tasks[TASK_ID]
    t = datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN)
    with LiveServer(world.settings) as live, httpx.Client(base_url=live.url) as client:
        assert client.get("/webhooks/onfleet", params={"check": "x9Ab"}).text == "x9Ab"
        started = payload("taskStarted", {**task, "state": 2}, t)
        assert hook(client, started, secret="00" * 32).status_code == 403
        assert hook(client, started).json()["status"] == "out_for_delivery"
        assert hook(client, started).json()["outcome"] == "duplicate"
        eta = hook(client, payload("taskEta", {**task, "state": 2}, t + timedelta(minutes=5), etaSeconds=600))
        assert eta.json()["outcome"] == "applied"
        done = {**task, "state": 3, "completionDetails": {"success": True, "time": 1, "failureReason": "NONE"}}
        assert hook(client, payload("taskCompleted", done, t + timedelta(minutes=20))).json()["status"] == "delivered"
        late = hook(client, payload("taskArrival", {**task, "state": 2}, t + timedelta(minutes=10), distance=150))
        assert late.json() == {"outcome": "stale", "status": "delivered"}
        kept = hook(client, payload("taskUpdated", task, t + timedelta(minutes=30)))
        assert kept.status_code == 200 and kept.json()["outcome"] == "stale"
    with world.sessions() as session:
        assert session.get(Shipment, shipment.id).status == "delivered"
        statuses = session.scalars(select(ShipmentEvent.status).where(ShipmentEvent.shipment_id == shipment.id)).all()
        assert sorted(statuses) == sorted(["out_for_delivery", "out_for_delivery", "delivered", "out_for_delivery",
                                           "unknown"])
