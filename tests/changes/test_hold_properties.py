"""A property of holds (issue 16): whatever the period, whichever parcels the customer confirmed, and whatever plan
reaches `make` (a stale one, a forged one with windows inside the hold or someone else's parcel), a hold never
moves a parcel to a day inside the hold, and never moves a parcel the customer did not confirm."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.carriers import TimeWindow
from bot.changes import Requester
from bot.changes.hold import HoldDone, HoldMode, HoldPlan, HoldRequest, ParcelPlan, make, plan
from bot.core.models import Shipment
from bot.core.runtime import Runtime
from tests.changes.conftest import build
from tests.conftest import make_settings

TZ = ZoneInfo("Europe/Berlin")
TODAY = date(2026, 11, 24)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The sandbox world built once; each example works on a copy of its database."""
    folder = tmp_path_factory.mktemp("holds")
    rt = build(folder)
    rt.engine.dispose()
    yield folder / "changes.db"


def fresh(template: Path, folder: Path) -> Runtime:
    copy = folder / "copy.db"
    shutil.copyfile(template, copy)
    return Runtime.build(make_settings(f"sqlite:///{copy}"))


def state(rt: Runtime) -> dict[int, tuple[object, object]]:
    with rt.sessions() as session:
        return {s.id: (s.promised_start, s.locker_id) for s in session.scalars(select(Shipment))}


def customers(rt: Runtime) -> list[int]:
    with rt.sessions() as session:
        return sorted(set(session.scalars(select(Shipment.customer_id))))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), starts_in=st.integers(0, 2), length=st.integers(0, 3),
       mode=st.sampled_from(list(HoldMode)))
def test_a_hold_never_moves_a_parcel_into_itself_nor_one_not_confirmed(
        template: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, starts_in: int, length: int,
        mode: HoldMode) -> None:
    rt = fresh(template, tmp_path_factory.mktemp("example"))
    try:
        customer_id = data.draw(st.sampled_from(customers(rt)), label="customer")
        starts_on = TODAY + timedelta(days=starts_in)
        request = HoldRequest(customer_id=customer_id, by=Requester.CUSTOMER, starts_on=starts_on,
                              ends_on=starts_on + timedelta(days=length), mode=mode)
        found = plan(rt, request)
        assert isinstance(found, HoldPlan)
        confirmed = data.draw(st.lists(st.sampled_from(found.parcels), unique_by=lambda p: p.shipment_id)
                              if found.parcels else st.just([]), label="confirmed")
        # Plans that should not be made: a window inside the hold, someone else's parcel.
        everyone = sorted(state(rt))
        forged_id = data.draw(st.sampled_from(everyone), label="forged parcel")
        inside_day = data.draw(st.integers(0, length), label="forged day")
        start = datetime.combine(starts_on + timedelta(days=inside_day), time(10), TZ)
        forged = [ParcelPlan(forged_id, "0000", "reschedule", TimeWindow(start, start + timedelta(hours=2)))]
        before = state(rt)
        done = make(rt, request, [*confirmed, *forged])
        assert isinstance(done, HoldDone)
        after = state(rt)
        allowed = {p.shipment_id for p in confirmed}
        for shipment_id, (promised, locker) in after.items():
            if (promised, locker) == before[shipment_id]:
                continue
            assert shipment_id in allowed, f"parcel {shipment_id} was not confirmed but changed"
            if locker == before[shipment_id][1]:  # moved, not sent to a locker: to a day after the hold
                assert promised is not None
                assert promised.astimezone(TZ).date() > request.ends_on  # type: ignore[attr-defined]
    finally:
        rt.engine.dispose()

