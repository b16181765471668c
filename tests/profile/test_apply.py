"""A new parcel gets the customer's profile through the change service, as far as its carrier can."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core.clock import sim_now
from bot.core.models import AuditLog, Customer, Locker, ProfileApplication, Shipment
from bot.core.runtime import Runtime
from bot.parcels import register
from bot.parcels.sandbox_arrival import sandbox_parcel
from bot.profile import By, Item, delete_wishes, set_item
from tests.profile.conftest import first_customer, new_parcel

BERLIN = ZoneInfo("Europe/Berlin")


def wish(rt: Runtime, customer_id: int, **items: object) -> None:
    with rt.sessions() as session, session.begin():
        for name, value in items.items():
            set_item(session, customer_id=customer_id, item=Item(name), value=value, by=By.CUSTOMER, channel="sms")


def applied(rt: Runtime, shipment_id: int) -> dict[str, tuple[str, str]]:
    with rt.sessions() as session:
        rows = session.scalars(select(ProfileApplication).where(ProfileApplication.shipment_id == shipment_id))
        return {row.item: (row.outcome, row.detail) for row in rows}


def test_neighbour_and_access_needs_reach_the_driver_as_one_note(world: Runtime) -> None:
    customer_id = first_customer(world)
    wish(world, customer_id, neighbour="no. 14", accessibility="ring twice, I'm hard of hearing", door_minutes=5)
    registered = new_parcel(world, customer_id)
    assert registered.created
    with world.sessions() as session:
        shipment = session.get(Shipment, registered.shipment_id)
        assert shipment is not None and shipment.instructions is not None
        assert "neighbour: no. 14" in shipment.instructions and "ring twice" in shipment.instructions
        assert "5 extra minutes" in shipment.instructions
        assert session.scalar(select(AuditLog.id).where(AuditLog.action == "instructions",
                                                        AuditLog.entity_id == str(shipment.id))) is not None
    assert applied(world, registered.shipment_id)["note"][0] == "applied"


def test_never_before_ten_moves_an_eight_oclock_window(world: Runtime) -> None:
    customer_id = first_customer(world)
    wish(world, customer_id, not_before=600, never_days=["sat"])
    registered = new_parcel(world, customer_id)
    with world.sessions() as session:
        shipment = session.get(Shipment, registered.shipment_id)
        assert shipment is not None and shipment.promised_start is not None
        start = shipment.promised_start.astimezone(BERLIN)
        assert start.hour >= 10 and start.weekday() != 5
    assert applied(world, registered.shipment_id)["window"][0] == "applied"


def test_a_window_that_fits_is_kept(world: Runtime) -> None:
    customer_id = first_customer(world)
    wish(world, customer_id, not_before=7 * 60)
    registered = new_parcel(world, customer_id)
    assert applied(world, registered.shipment_id)["window"] == ("applied", "kept")


def test_preferred_locker_sends_the_parcel_there(world: Runtime) -> None:
    customer_id = first_customer(world)
    wish(world, customer_id, locker="BER-ALX", safe_place="behind the green gate")
    registered = new_parcel(world, customer_id)
    with world.sessions() as session:
        shipment = session.get(Shipment, registered.shipment_id)
        locker = session.scalar(select(Locker).where(Locker.code == "BER-ALX"))
        assert shipment is not None and locker is not None and shipment.locker_id == locker.id
    assert applied(world, registered.shipment_id) == {"locker": ("applied", "BER-ALX")}


def test_a_carrier_that_cannot_is_recorded_not_applied(world: Runtime) -> None:
    customer_id = first_customer(world)
    wish(world, customer_id, safe_place="in the porch", not_before=600)
    with world.sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        parcel = replace(sandbox_parcel(session, customer, sim_now(session)), carrier="otherco")
        now = sim_now(session)
    registered = register(world, parcel, now=now)
    assert applied(world, registered.shipment_id) == {"note": ("not_offered", "not_offered"),
                                                     "window": ("not_offered", "not_offered")}
    with world.sessions() as session:
        shipment = session.get(Shipment, registered.shipment_id)
        assert shipment is not None and shipment.instructions is None


def test_the_same_parcel_twice_is_registered_and_applied_once(world: Runtime) -> None:
    customer_id = first_customer(world)
    wish(world, customer_id, safe_place="in the porch")
    with world.sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        parcel, now = sandbox_parcel(session, customer, sim_now(session)), sim_now(session)
    first, second = register(world, parcel, now=now), register(world, parcel, now=now)
    assert first.created and not second.created and first.shipment_id == second.shipment_id
    assert second.applied == []
    with world.sessions() as session:
        count = session.scalars(select(ProfileApplication).where(ProfileApplication.shipment_id == first.shipment_id)).all()
        assert len(count) == 1


def test_deletion_is_effective_for_the_next_parcel(world: Runtime) -> None:
    customer_id = first_customer(world)
    wish(world, customer_id, safe_place="in the porch")
    with world.sessions() as session, session.begin():
        delete_wishes(session, customer_id=customer_id, by=By.CUSTOMER, channel="page")
    registered = new_parcel(world, customer_id)
    assert applied(world, registered.shipment_id) == {}
    with world.sessions() as session:
        shipment = session.get(Shipment, registered.shipment_id)
        assert shipment is not None and shipment.instructions is None


def test_what_could_not_be_applied_is_told_once_in_the_customers_language(world: Runtime) -> None:
    from datetime import timedelta

    from bot.core.models import Notification
    from bot.notify.render import context_for, render
    from bot.notify.service import plan_step

    customer_id = first_customer(world, "de")
    wish(world, customer_id, safe_place="im Schuppen")
    with world.sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        parcel = replace(sandbox_parcel(session, customer, sim_now(session)), carrier="otherco")
        now = sim_now(session)
    registered = register(world, parcel, now=now)
    for _ in range(2):  # planning again sends nothing twice
        plan_step(world, now + timedelta(seconds=1))
    with world.sessions() as session:
        told = session.scalars(select(Notification).where(Notification.shipment_id == registered.shipment_id,
                                                          Notification.trigger == "profile_not_applied")).all()
        assert len(told) == 1 and told[0].locale == "de" and told[0].context["profile_items"] == "note"
        shipment = session.get(Shipment, registered.shipment_id)
        assert shipment is not None
        text = render("profile_not_applied", "de", context_for(told[0], shipment, now=now, settings=world.settings))
        assert "(nicht: Hinweis für den Fahrer)" in text.sms and "AGENT" in text.sms
