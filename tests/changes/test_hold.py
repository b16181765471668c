"""Away from home: a hold over every parcel of a customer, through the change service, against the sandbox world
(its clock at 08:30 on Tue 24 Nov 2026): the plan is the check, the one confirmation lists each parcel, the
outcome is per parcel, a refusal does not undo the others, new parcels get the same treatment."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.changes import Requester
from bot.changes.hold import HoldDone, HoldMode, HoldPlan, HoldRequest, ParcelPlan, cancel, current_hold, make, plan
from bot.core.clock import sim_now
from bot.core.models import AuditLog, Hold, HoldParcel, Locker, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from bot.holds import on_new_parcel
from bot.notify.segments import segments
from tests import factories
from tests.conftest import T0

TZ = ZoneInfo("Europe/Berlin")
TODAY = date(2026, 11, 24)
THURSDAY = date(2026, 11, 26)
SHOWN = "DS2599435267"  # a customer of the seeded world with two parcels due today, one with no day yet, one delivered


def customer_of(rt: Runtime, tracking_number: str = SHOWN) -> int:
    with rt.sessions() as session:
        return int(session.scalars(select(Shipment.customer_id).where(Shipment.tracking_number == tracking_number)).one())


def request(customer_id: int, **fields: object) -> HoldRequest:
    values: dict[str, object] = {"customer_id": customer_id, "by": Requester.CUSTOMER, "starts_on": TODAY,
                                 "ends_on": THURSDAY, "language": "en", **fields}
    return HoldRequest(**values)  # type: ignore[arg-type]


def shipments(rt: Runtime, customer_id: int) -> dict[int, Shipment]:
    with rt.sessions() as session:
        found = {s.id: s for s in session.scalars(select(Shipment).where(Shipment.customer_id == customer_id))}
        session.expunge_all()
        return found


def planned(rt: Runtime, hold: HoldRequest) -> HoldPlan:
    found = plan(rt, hold)
    assert isinstance(found, HoldPlan)
    return found


def test_the_plan_covers_every_parcel_due_in_the_period_and_changes_nothing(world: Runtime) -> None:
    customer_id = customer_of(world)
    before = shipments(world, customer_id)
    found = planned(world, request(customer_id))
    due = {s.id for s in before.values() if s.status not in (ShipmentStatus.DELIVERED,)}
    assert {p.shipment_id for p in found.parcels} == due and len(due) == 3
    for parcel in found.parcels:
        assert parcel.action == "reschedule" and parcel.window is not None
        assert parcel.window.start.astimezone(TZ).date() > THURSDAY  # the first window after the hold
    after = shipments(world, customer_id)
    assert all(after[i].promised_start == s.promised_start and after[i].locker_id == s.locker_id
               for i, s in before.items())
    with world.sessions() as session:
        assert session.scalars(select(Hold)).all() == []


def test_the_one_confirmation_lists_each_parcel_and_its_new_plan_in_every_language(world: Runtime) -> None:
    customer_id = customer_of(world)
    english = planned(world, request(customer_id)).question()
    assert english.startswith("Hold your parcels until Thu 26 Nov:\n5267: Fri 27 Nov 08:00-")
    assert english.count("\n") == 4 and english.endswith("Reply YES or NO, or AGENT for a person.")
    german = planned(world, request(customer_id, language="de")).question()
    assert german.startswith("Pakete bis Do 26 Nov zurückhalten:\n5267: Fr 27 Nov 08:00-")
    dutch = planned(world, request(customer_id, language="nl")).question()
    assert dutch.startswith("Pakketten tot en met do 26 nov vasthouden:\n5267: vr 27 nov 08:00-")
    for text in (english, german, dutch):
        assert segments(text) <= 2


def test_making_the_hold_moves_each_confirmed_parcel_after_it_and_records_each_outcome(world: Runtime) -> None:
    customer_id = customer_of(world)
    hold = request(customer_id)
    found = planned(world, hold)
    done = make(world, hold, found.parcels)
    assert isinstance(done, HoldDone)
    assert done.message.startswith("Done, held until Thu 26 Nov:\n5267: Fri 27 Nov 08:00-")
    after = shipments(world, customer_id)
    for parcel in found.parcels:
        moved = after[parcel.shipment_id]
        assert moved.promised_start is not None and moved.promised_start.astimezone(TZ).date() > THURSDAY
    with world.sessions() as session:
        row = session.scalars(select(Hold)).one()
        assert (row.customer_id, row.starts_on, row.ends_on, row.mode, row.channel) == (
            customer_id, TODAY, THURSDAY, "reschedule", "sms")
        assert row.confirmed_at is not None and row.cancelled_at is None
        outcomes = session.scalars(select(HoldParcel).order_by(HoldParcel.id)).all()
        assert [(o.shipment_id, o.outcome, o.new_parcel) for o in outcomes] == [
            (p.shipment_id, "done", False) for p in found.parcels]
        assert session.scalars(select(AuditLog.action).where(AuditLog.action == "hold")).one() == "hold"


def test_a_parcel_the_carrier_refuses_does_not_undo_the_others(world: Runtime) -> None:
    customer_id = customer_of(world)
    hold = request(customer_id)
    found = planned(world, hold)
    first = found.parcels[0]
    with world.sessions() as session, session.begin():  # the driver has left with it since the question
        shipment = session.get(Shipment, first.shipment_id)
        assert shipment is not None
        shipment.status = ShipmentStatus.OUT_FOR_DELIVERY
    done = make(world, hold, found.parcels)
    assert isinstance(done, HoldDone)
    assert f"Not changed:\n{first.ref}: out with the driver today, can't be held" in done.message
    assert done.message.endswith("Reply AGENT for a person.")
    after = shipments(world, customer_id)
    for other in found.parcels[1:]:
        assert after[other.shipment_id].promised_start.astimezone(TZ).date() > THURSDAY  # type: ignore[union-attr]
    with world.sessions() as session:
        states = {row.shipment_id: row.outcome for row in session.scalars(select(HoldParcel))}
    assert states == {first.shipment_id: "refused", **{p.shipment_id: "done" for p in found.parcels[1:]}}


def test_a_parcel_out_with_the_driver_is_listed_plainly_before_the_question(world: Runtime) -> None:
    customer_id = customer_of(world)
    with world.sessions() as session, session.begin():
        shipment = session.scalars(select(Shipment).where(Shipment.tracking_number == SHOWN)).one()
        shipment.status = ShipmentStatus.OUT_FOR_DELIVERY
    found = planned(world, request(customer_id))
    assert "5267: out with the driver today, can't be held" in found.question()
    assert [p.action for p in found.parcels if p.ref == "5267"] == ["none"]


def test_only_the_confirmed_parcels_are_touched(world: Runtime) -> None:
    customer_id = customer_of(world)
    hold = request(customer_id)
    found = planned(world, hold)
    before = shipments(world, customer_id)
    done = make(world, hold, found.parcels[:1])
    assert isinstance(done, HoldDone) and len(done.outcomes) == 1
    after = shipments(world, customer_id)
    for other in found.parcels[1:]:
        assert after[other.shipment_id].promised_start == before[other.shipment_id].promised_start


def test_a_window_inside_the_hold_is_never_made_even_if_the_plan_says_so(world: Runtime) -> None:
    customer_id = customer_of(world)
    hold = request(customer_id)
    good = planned(world, hold).parcels[0]
    inside = planned(world, request(customer_id, ends_on=TODAY)).parcels[0]  # its first window is on Wednesday
    assert inside.window is not None and inside.window.start.astimezone(TZ).date() <= THURSDAY
    before = shipments(world, customer_id)[good.shipment_id].promised_start
    done = make(world, hold, [inside])
    assert isinstance(done, HoldDone) and "Not changed:" in done.message
    assert shipments(world, customer_id)[good.shipment_id].promised_start == before


def test_someone_elses_parcel_in_a_plan_is_not_touched(world: Runtime) -> None:
    customer_id = customer_of(world)
    with world.sessions() as session:
        other = session.scalars(select(Shipment).where(Shipment.customer_id != customer_id,
                                                       Shipment.status == ShipmentStatus.AT_DEPOT)).first()
        assert other is not None
        other_id, other_start = other.id, other.promised_start
    hold = request(customer_id)
    forged = ParcelPlan(other_id, "0000", "reschedule", planned(world, hold).parcels[0].window)
    done = make(world, hold, [forged])
    assert isinstance(done, HoldDone) and "Not changed:" in done.message
    with world.sessions() as session:
        assert session.get(Shipment, other_id).promised_start == other_start  # type: ignore[union-attr]


def test_a_hold_to_the_locker_sends_each_parcel_to_the_nearest_one_with_room(world: Runtime) -> None:
    customer_id = customer_of(world)
    hold = request(customer_id, mode=HoldMode.LOCKER)
    found = planned(world, hold)
    assert {p.action for p in found.parcels} == {"locker"}
    assert "5267: Hackescher Markt locker" in found.question()
    done = make(world, hold, found.parcels)
    assert isinstance(done, HoldDone)
    with world.sessions() as session:
        for parcel in found.parcels:
            shipment = session.get(Shipment, parcel.shipment_id)
            assert shipment is not None and shipment.locker is not None and shipment.locker.code == parcel.locker_code
        assert session.scalars(select(Hold)).one().locker_id is not None


def test_a_named_locker_is_used_for_every_parcel(world: Runtime) -> None:
    customer_id = customer_of(world)
    found = planned(world, request(customer_id, mode=HoldMode.LOCKER, locker_name="Kollwitzplatz"))
    assert {p.locker_name for p in found.parcels} == {"Kollwitzplatz"}


def test_no_window_after_a_long_hold_is_said_plainly(world: Runtime) -> None:
    customer_id = customer_of(world)
    found = planned(world, request(customer_id, ends_on=TODAY + timedelta(days=40)))
    assert {p.action for p in found.parcels} == {"none"}
    assert "no day after that offered yet" in found.question()


def test_nothing_due_in_the_period_says_so(world: Runtime) -> None:
    customer_id = customer_of(world)
    with world.sessions() as session, session.begin():
        for shipment in session.scalars(select(Shipment).where(Shipment.customer_id == customer_id)):
            shipment.status = ShipmentStatus.DELIVERED
    found = planned(world, request(customer_id))
    assert found.parcels == [] and found.question() == (
        "None of your parcels is due Tue 24 Nov to Thu 26 Nov yet. Shall I hold any that come then? Reply YES or NO.")
    done = make(world, request(customer_id), [])  # yes: the hold is kept for the parcels that come
    assert isinstance(done, HoldDone) and done.message == "Done: I'll hold any parcel due until Thu 26 Nov."
    assert current_hold(world, customer_id) == (TODAY, THURSDAY)


def test_a_period_in_the_past_is_refused(world: Runtime) -> None:
    customer_id = customer_of(world)
    assert not isinstance(plan(world, request(customer_id, starts_on=date(2026, 11, 1), ends_on=date(2026, 11, 20))),
                          HoldPlan)


def test_cancelling_ends_the_hold_and_keeps_the_moves(world: Runtime) -> None:
    customer_id = customer_of(world)
    hold = request(customer_id)
    made = make(world, hold, planned(world, hold).parcels)
    assert isinstance(made, HoldDone)
    assert current_hold(world, customer_id) == (TODAY, THURSDAY)
    moved = shipments(world, customer_id)
    ended = cancel(world, customer_id=customer_id, by=Requester.CUSTOMER, language="de")
    assert ended.message.startswith("Erledigt")
    assert current_hold(world, customer_id) is None
    assert shipments(world, customer_id).keys() == moved.keys()
    again = cancel(world, customer_id=customer_id, by=Requester.CUSTOMER)
    assert again.message == "You have no hold on your parcels right now."


def _new_parcel(rt: Runtime, customer_id: int, due_in_days: int) -> int:
    with rt.sessions() as session, session.begin():
        owner = session.get(factories.Customer, customer_id)
        now = sim_now(session)
        start = now.replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=due_in_days)
        shipment = factories.shipment(session, owner, at=T0, status=ShipmentStatus.IN_TRANSIT, carrier="sandbox",
                                      promised_start=start, promised_end=start + timedelta(hours=2),
                                      eta_start=start, eta_end=start + timedelta(hours=2))
        return shipment.id


def test_a_new_parcel_due_during_the_hold_gets_the_same_treatment_once(world: Runtime) -> None:
    customer_id = customer_of(world)
    hold = request(customer_id)
    assert isinstance(make(world, hold, planned(world, hold).parcels), HoldDone)
    new_id = _new_parcel(world, customer_id, due_in_days=1)
    on_new_parcel(world, new_id)
    on_new_parcel(world, new_id)  # told twice: changed once
    with world.sessions() as session:
        moved = session.get(Shipment, new_id)
        assert moved is not None and moved.promised_start is not None
        assert moved.promised_start.astimezone(TZ).date() > THURSDAY
        rows = session.scalars(select(HoldParcel).where(HoldParcel.shipment_id == new_id)).all()
        assert [(r.outcome, r.new_parcel) for r in rows] == [("done", True)]


def test_a_new_parcel_after_the_hold_or_without_one_is_left_alone(world: Runtime) -> None:
    customer_id = customer_of(world)
    untouched = _new_parcel(world, customer_id, due_in_days=1)
    on_new_parcel(world, untouched)  # no hold yet
    hold = request(customer_id)
    assert isinstance(make(world, hold, planned(world, hold).parcels), HoldDone)
    later = _new_parcel(world, customer_id, due_in_days=4)  # Saturday: after the hold
    on_new_parcel(world, later)
    with world.sessions() as session:
        assert session.scalars(select(HoldParcel).where(HoldParcel.shipment_id == later)).all() == []
        shipment = session.get(Shipment, later)
        assert shipment is not None and shipment.promised_start is not None
        assert shipment.promised_start.astimezone(TZ).date() == TODAY + timedelta(days=4)


def test_a_new_parcel_during_a_locker_hold_goes_to_the_holds_locker(world: Runtime) -> None:
    customer_id = customer_of(world)
    hold = request(customer_id, mode=HoldMode.LOCKER, locker_name="Kollwitzplatz")
    assert isinstance(make(world, hold, planned(world, hold).parcels), HoldDone)
    new_id = _new_parcel(world, customer_id, due_in_days=1)
    on_new_parcel(world, new_id)
    with world.sessions() as session:
        shipment = session.get(Shipment, new_id)
        locker = session.scalars(select(Locker).where(Locker.name == "Kollwitzplatz")).one()
        assert shipment is not None and shipment.locker_id == locker.id


def test_a_hold_of_ten_days_finds_the_first_window_after_it(world: Runtime) -> None:
    customer_id = customer_of(world)
    last = TODAY + timedelta(days=10)  # Fri 4 Dec: the sandbox books two weeks ahead
    found = planned(world, request(customer_id, ends_on=last))
    starts = [p.window.start.astimezone(TZ) for p in found.parcels if p.window is not None]
    assert len(starts) == 3 and {s.date() for s in starts} == {last + timedelta(days=1)} and min(starts).hour == 8
