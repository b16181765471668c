"""One contract for every carrier adapter, the sandbox included: the same cases, the same outcomes.

Each adapter (sandbox; UPS, FedEx and DHL Express through karrio; Onfleet; the generic REST contract)
is run through track, windows, lockers, reschedule, instructions, neighbour, address, redirect and
return. Where its capability is on, the call answers with our value types and a remote adapter writes
nothing of ours (the sandbox's world is our database); made through the change service, the change is
mirrored on our side once (one carrier audit entry). Where the capability is off, the call fails with a
`CarrierError` and changes nothing. With the carrier's server answering 500, 502 (an error page), 429 or too slowly, every call
is `CarrierUnavailable`, reaches the server (not a breaker), and nothing on our side changes. The
sandbox has no server: its injected fault (`SANDBOX_FAULTS`) is a timeout, on changes only (reads
come from our own database). A refusal is a `ChangeRefused` with the right `Refusal` code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.carriers import (
    Capability,
    Carrier,
    CarrierError,
    CarrierUnavailable,
    ChangeRefused,
    LockerOption,
    Refusal,
    ReturnLabel,
    TimeWindow,
    TrackingInfo,
    build_remote_carriers,
)
from bot.carriers.sandbox import SandboxCarrier
from bot.changes import (
    AddressRequest,
    Done,
    InstructionsRequest,
    LockerRequest,
    NeighbourRequest,
    Requester,
    RescheduleRequest,
    ReturnRequest,
    make,
)
from bot.changes.service import Request
from bot.core.models import AuditLog, Locker, Return, Shipment, ShipmentEvent
from bot.core.runtime import Runtime
from tests.carriers.conftest import switch
from tests.carriers.fakes import Fake
from tests.carriers.test_karrio import DHL_NUMBER, FEDEX_NUMBER, UPS_NUMBER, dhl_info, fedex_result, in_transit, ups_package
from tests.carriers.test_karrio_returns import returnable, skus
from tests.carriers.test_onfleet import TASK_ID, on_onfleet
from tests.carriers.test_rest import on_rest, windows

ADAPTERS = ["sandbox", "ups", "fedex", "dhl_express", "onfleet", "rest"]
SERVER = {"ups": "/ups", "fedex": "/fedex", "dhl_express": "/dhl", "onfleet": "/onfleet", "rest": "/rest"}
FAULTS = [500, 502, 429, "slow"]
NEW_ADDRESS = ("Invalidenstraße 5", "10115")  # inside the sandbox's area


@dataclass
class Subject:
    """One adapter over a parcel it can change (`parcel`) and a delivered one it can take back (`returned`)."""

    carrier: Carrier
    parcel: Shipment
    returned: Shipment
    window: TimeWindow | None  # a window the carrier offers, for reschedule
    locker_code: str  # a locker the carrier knows, for redirect


@pytest.fixture(autouse=True)
def built() -> Iterator[list[Carrier]]:
    """The adapters a test built, closed after it."""
    adapters: list[Carrier] = []
    yield adapters
    for adapter in adapters:
        close = getattr(adapter, "close", None)
        if close is not None:
            close()


def carrier(world: Runtime, name: str, built: list[Carrier], faults: frozenset[str] = frozenset()) -> Carrier:
    """A fresh adapter over the world's settings, with a breaker that never opens: every call reaches the server."""
    if name == "sandbox":
        return SandboxCarrier(world.sessions, faults=faults)
    settings = world.settings.model_copy(update={"carrier_breaker_failures": 10_000})
    remote = build_remote_carriers(world.sessions, settings)
    built.extend(remote.values())
    return remote[name]


def first_locker(world: Runtime) -> str:
    with world.sessions() as session:
        return str(session.scalars(select(Locker.code).order_by(Locker.id)).first())


def prepare(world: Runtime, fake: Fake, name: str) -> tuple[Shipment, Shipment, str]:
    """Serve a parcel on its way and a delivered one through `name`, and let its fake server know them."""
    parcel, returned = in_transit(world)[0], returnable(world)
    locker = first_locker(world)
    if name == "ups":
        switch(world, parcel.id, name, UPS_NUMBER)
        fake.ups[UPS_NUMBER] = ups_package(("I", "AR", "Arrived at Facility", "20261123", "220000"))
    elif name == "fedex":
        switch(world, parcel.id, name, FEDEX_NUMBER)
        fake.fedex[FEDEX_NUMBER] = fedex_result(("AR", "Arrived at FedEx location", "2026-11-23T22:00:00+01:00"))
    elif name == "dhl_express":
        switch(world, parcel.id, name, DHL_NUMBER)
        fake.dhl[DHL_NUMBER] = dhl_info(("2026-11-23", "22:00:00", "AF", "Arrived at Delivery Facility in BERLIN"))
    elif name == "onfleet":
        parcel = on_onfleet(world, fake)
    elif name == "rest":
        parcel = on_rest(world, fake)
        on_rest_delivered(world, fake, returned)
        locker = "LK1"
    if name in ("ups", "fedex", "dhl_express"):
        switch(world, returned.id, name)
    return parcel, returned, locker


def on_rest_delivered(world: Runtime, fake: Fake, returned: Shipment) -> None:
    switch(world, returned.id, "rest")
    fake.rest[returned.tracking_number] = {
        "tracking": {"tracking_number": returned.tracking_number, "status": "delivered", "eta": None},
        "windows": [], "lockers": []}


def subject(world: Runtime, fake: Fake, name: str, built: list[Carrier], *, faulty: bool = False) -> Subject:
    """`faulty`: the sandbox fails on changes to both parcels (its `SANDBOX_FAULTS`)."""
    parcel, returned, locker = prepare(world, fake, name)
    faults = frozenset({parcel.tracking_number, returned.tracking_number}) if faulty else frozenset()
    adapter = carrier(world, name, built, faults)
    window = None
    if Capability.WINDOWS in adapter.capabilities:
        window = SandboxCarrier(world.sessions).available_windows(parcel.tracking_number)[0] \
            if name == "sandbox" else adapter.available_windows(parcel.tracking_number)[0]
    return Subject(adapter, parcel, returned, window, locker)


def any_window() -> TimeWindow:
    first = windows(1)[0]
    return TimeWindow(datetime.fromisoformat(first["start"]), datetime.fromisoformat(first["end"]))


# (name, the capabilities it needs, is it a change, the call and what it must answer)
Case = tuple[str, frozenset[Capability], bool, Callable[[Subject], Any], Callable[[Any], bool]]
CASES: list[Case] = [
    ("track", frozenset({Capability.TRACK}), False, lambda s: s.carrier.track(s.parcel.tracking_number),
     lambda r: isinstance(r, TrackingInfo) and r.status in ("in_transit", "at_depot")),
    ("windows", frozenset({Capability.WINDOWS}), False, lambda s: s.carrier.available_windows(s.parcel.tracking_number),
     lambda r: bool(r) and all(isinstance(w, TimeWindow) for w in r)),
    ("lockers", frozenset({Capability.LOCKERS}), False, lambda s: s.carrier.nearby_lockers(s.parcel.tracking_number, 3),
     lambda r: 0 < len(r) <= 3 and all(isinstance(lk, LockerOption) for lk in r)),
    ("reschedule", frozenset({Capability.RESCHEDULE}), True,
     lambda s: s.carrier.reschedule(s.parcel.tracking_number, s.window or any_window()),
     lambda r: isinstance(r, TimeWindow)),
    ("instructions", frozenset({Capability.INSTRUCTIONS}), True,
     lambda s: s.carrier.set_instructions(s.parcel.tracking_number, "Behind the green gate"), lambda r: r is None),
    ("neighbour", frozenset({Capability.CHANGE_ADDRESS}), True,
     lambda s: s.carrier.deliver_to_neighbour(s.parcel.tracking_number, "Meyer, no 14"), lambda r: r is None),
    ("address", frozenset({Capability.CHANGE_ADDRESS}), True,
     lambda s: s.carrier.change_address(s.parcel.tracking_number, address_line=NEW_ADDRESS[0],
                                        postcode=NEW_ADDRESS[1]), lambda r: r is None),
    ("redirect", frozenset({Capability.REDIRECT}), True,
     lambda s: s.carrier.redirect_to_locker(s.parcel.tracking_number, s.locker_code),
     lambda r: isinstance(r, LockerOption)),
    ("return", frozenset({Capability.RETURNS}), True,
     lambda s: s.carrier.create_return(s.returned.tracking_number, items=skus(s.returned), reason="too small",
                                       method="label"),
     lambda r: isinstance(r, ReturnLabel) and r.method == "label" and bool(r.label_code)),
]


def snapshot(world: Runtime, *shipments: Shipment) -> tuple[Any, ...]:
    """Everything a carrier call could change on our side."""
    with world.sessions() as session:
        rows = [session.get(Shipment, s.id) for s in shipments]
        return (
            [(r.status, r.promised_start, r.promised_end, r.eta_start, r.eta_end, r.locker_id, r.instructions,
              r.address_line, r.postcode) for r in rows if r is not None],
            session.scalar(select(func.count()).select_from(Return)),
            session.scalar(select(func.count()).select_from(AuditLog)),
            session.scalar(select(func.count()).select_from(ShipmentEvent)),
            session.scalar(select(func.sum(Locker.occupied))),
        )


def audits(world: Runtime) -> int:
    with world.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditLog)) or 0)


@pytest.mark.parametrize("name", ADAPTERS)
def test_every_case_answers_with_our_types_or_says_it_is_not_offered(world: Runtime, fake: Fake, name: str,
                                                                     built: list[Carrier]) -> None:
    s = subject(world, fake, name, built)
    for case, needs, is_change, call, answered in CASES:
        before = audits(world)
        if needs <= s.carrier.capabilities:
            state = snapshot(world, s.parcel, s.returned)
            result = call(s)
            assert answered(result), (name, case, result)
            if is_change and name != "sandbox":  # our copy is the change service's to write (bot/changes/mirror.py)
                assert snapshot(world, s.parcel, s.returned) == state and audits(world) == before, (name, case)
        else:
            state = snapshot(world, s.parcel, s.returned)
            with pytest.raises(CarrierError):
                call(s)
            assert snapshot(world, s.parcel, s.returned) == state, (name, case)


@pytest.mark.parametrize("fault", FAULTS, ids=str)
@pytest.mark.parametrize("name", ADAPTERS)
def test_a_failing_carrier_is_unavailable_and_nothing_changes(world: Runtime, fake: Fake, name: str,
                                                             fault: int | str, built: list[Carrier]) -> None:
    """Every call that needs the carrier fails as unavailable; a read served from our own data (the sandbox's
    world, Onfleet's lockers, which are ours) needs no carrier and still answers."""
    s = subject(world, fake, name, built, faulty=True)
    fake.slow_seconds = 1.0
    if name in SERVER:
        fake.faults[SERVER[name]] = fault
    state = snapshot(world, s.parcel, s.returned)
    unavailable = []
    for case, needs, is_change, call, _answered in CASES:
        if not needs <= s.carrier.capabilities:
            continue
        calls = len(fake.calls)
        try:
            call(s)
        except CarrierUnavailable:
            unavailable.append(case)
            if name in SERVER:
                assert len(fake.calls) > calls, (name, case)  # the server said so, not a breaker
        else:
            assert not is_change and len(fake.calls) == calls, (name, case)
        assert snapshot(world, s.parcel, s.returned) == state, (name, case)
    changes = {case for case, needs, is_change, _call, _answered in CASES
               if is_change and needs <= s.carrier.capabilities}
    assert changes <= set(unavailable) and unavailable, (name, unavailable)


# A change through the change service, as an agent asks it: the request, and what our copy says after it.
SERVICE_CASES: list[tuple[str, Callable[[Subject], Request], Callable[[Shipment, Subject], bool]]] = [
    ("reschedule", lambda s: RescheduleRequest(shipment_id=s.parcel.id, by=Requester.AGENT, window=s.window or any_window()),
     lambda row, s: row.promised_start == (s.window or any_window()).start),
    ("instructions", lambda s: InstructionsRequest(shipment_id=s.parcel.id, by=Requester.AGENT, note="Behind the green gate"),
     lambda row, s: row.instructions == "Behind the green gate"),
    ("neighbour", lambda s: NeighbourRequest(shipment_id=s.parcel.id, by=Requester.AGENT, neighbour="Meyer, no 14"),
     lambda row, s: "Meyer, no 14" in (row.instructions or "")),
    ("address", lambda s: AddressRequest(shipment_id=s.parcel.id, by=Requester.AGENT, address_line=NEW_ADDRESS[0],
                                         postcode=NEW_ADDRESS[1]), lambda row, s: row.postcode == NEW_ADDRESS[1]),
    ("redirect", lambda s: LockerRequest(shipment_id=s.parcel.id, by=Requester.AGENT, locker_code=s.locker_code),
     lambda row, s: row.locker_id is not None if s.carrier.uses_our_lockers else row.eta_start is None),
    ("return", lambda s: ReturnRequest(shipment_id=s.returned.id, by=Requester.AGENT, items=skus(s.returned),
                                       reason="too small", method="label"), lambda row, s: bool(row.returns)),
]


def carrier_audits(world: Runtime, shipment_id: int) -> int:
    with world.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.actor.like("carrier:%"), AuditLog.entity_id == str(shipment_id))) or 0)


@pytest.mark.parametrize("name", ADAPTERS)
def test_a_change_made_through_the_service_is_mirrored_once(world: Runtime, fake: Fake, name: str,
                                                            built: list[Carrier]) -> None:
    s = subject(world, fake, name, built)
    world.carriers[name] = s.carrier
    needs = {case: needs for case, needs, _change, _call, _answered in CASES}
    made = []
    for case, request_for, mirrored in SERVICE_CASES:
        if not needs[case] <= s.carrier.capabilities:
            continue
        request = request_for(s)
        before = carrier_audits(world, request.shipment_id)
        outcome = make(world, request)
        assert isinstance(outcome, Done), (name, case, outcome)
        assert carrier_audits(world, request.shipment_id) == before + 1, (name, case)  # mirrored, once
        with world.sessions() as session:
            row = session.get(Shipment, request.shipment_id)
            assert row is not None and mirrored(row, s), (name, case)
        made.append(case)
    assert made, name


def refuse_out_for_delivery(world: Runtime, fake: Fake, s: Subject) -> None:
    """The parcel left with the driver after we last looked: only the carrier knows."""
    if isinstance(s.carrier, SandboxCarrier):
        with world.sessions() as session, session.begin():
            row = session.get(Shipment, s.parcel.id)
            assert row is not None
            row.status = "out_for_delivery"
    elif s.carrier.name == "onfleet":
        fake.tasks[TASK_ID]["state"] = 2
    else:
        fake.rest[s.parcel.tracking_number]["tracking"]["status"] = "out_for_delivery"


# adapter → (how the carrier comes to refuse, the change, the code it must give)
REFUSALS: dict[str, list[tuple[Callable[[Runtime, Fake, Subject], None], str, Refusal]]] = {
    "sandbox": [(lambda w, f, s: setattr(s, "returned", s.parcel), "return", Refusal.NOT_YET_DELIVERED),
                (refuse_out_for_delivery, "reschedule", Refusal.OUT_FOR_DELIVERY)],
    "onfleet": [(refuse_out_for_delivery, "instructions", Refusal.OUT_FOR_DELIVERY),
                (lambda w, f, s: None, "return", Refusal.NOT_OFFERED)],
    "rest": [(lambda w, f, s: setattr(s, "locker_code", "LK9"), "redirect", Refusal.UNKNOWN_LOCKER),
             (refuse_out_for_delivery, "reschedule", Refusal.OUT_FOR_DELIVERY)],
    **{name: [(lambda w, f, s: setattr(f, "refuse_shipments", True), "return", Refusal.LABEL_FAILED),
              (lambda w, f, s: setattr(s, "returned", s.parcel), "return", Refusal.NOT_YET_DELIVERED)]
       for name in ("ups", "fedex", "dhl_express")},
}


@pytest.mark.parametrize("name", ADAPTERS)
def test_a_refusal_has_its_code_and_changes_nothing(world: Runtime, fake: Fake, name: str,
                                                   built: list[Carrier]) -> None:
    s = subject(world, fake, name, built)
    calls = {case: call for case, _needs, _change, call, _answered in CASES}
    for refuse, case, code in REFUSALS[name]:
        refuse(world, fake, s)
        state = snapshot(world, s.parcel, s.returned)
        with pytest.raises(ChangeRefused) as refused:
            calls[case](s)
        assert refused.value.code == code, (name, case, refused.value)
        assert snapshot(world, s.parcel, s.returned) == state, (name, case)
