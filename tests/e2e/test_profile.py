"""The recipient profile end to end over signed SMS: set once with one confirmation, shown, applied to a new
parcel through the intake, deleted; each step checked in the database."""

from __future__ import annotations

from sqlalchemy import select

from bot.core.clock import sim_now
from bot.core.models import Customer, ProfileApplication, ProfileChange, RecipientProfile, Shipment
from bot.core.runtime import Runtime
from bot.demo.sms_sim import send_as_customer
from bot.parcels import register
from bot.parcels.sandbox_arrival import sandbox_parcel
from tests.e2e.conftest import CustomerPool
from tests.e2e.helpers import new_sender, rest


def sms(runtime: Runtime, phone: str, text: str) -> str:
    """The bot's one reply to a signed SMS (one message per turn: short, one question at a time)."""
    exchange = send_as_customer(runtime, phone, text)
    assert exchange.status_code == 204
    assert len(exchange.replies) == 1, exchange.replies
    return exchange.replies[0]


def stored(runtime: Runtime, customer_id: int) -> RecipientProfile | None:
    with runtime.sessions() as session:
        return session.get(RecipientProfile, customer_id)


def history(runtime: Runtime, customer_id: int) -> list[tuple[str, str, str, str]]:
    with runtime.sessions() as session:
        return [(c.item, c.action, c.by, c.channel) for c in session.scalars(
            select(ProfileChange).where(ProfileChange.customer_id == customer_id).order_by(ProfileChange.id))]


def test_a_neighbour_for_all_parcels_is_confirmed_once_applied_to_a_new_parcel_then_deleted(
        stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, _ = customers.take(lambda parcels: any(p.status in ("at_depot", "in_transit") for p in parcels))
    question = sms(stack_runtime, customer.phone, "always leave my parcels with the neighbour at no. 14")
    assert "Save for all your parcels" in question and "no. 14" in question and "YES" in question
    assert stored(stack_runtime, customer.id) is None  # nothing before the yes
    saved = sms(stack_runtime, customer.phone, "yes")
    assert saved.startswith("Saved for all your new parcels")
    row = stored(stack_runtime, customer.id)
    assert row is not None and row.neighbour == "no. 14"
    assert history(stack_runtime, customer.id) == [("neighbour", "set", "customer", "sms")]

    shown = sms(stack_runtime, customer.phone, "what do you have stored about me?")
    assert "no. 14" in shown and "DELETE" in shown

    with stack_runtime.sessions() as session:
        owner = session.get(Customer, customer.id)
        assert owner is not None
        parcel, now = sandbox_parcel(session, owner, sim_now(session)), sim_now(session)
    registered = register(stack_runtime, parcel, now=now)
    with stack_runtime.sessions() as session:
        shipment = session.get(Shipment, registered.shipment_id)
        assert shipment is not None and "no. 14" in (shipment.instructions or "")
        outcomes = session.scalars(select(ProfileApplication.outcome)
                                   .where(ProfileApplication.shipment_id == shipment.id)).all()
        assert outcomes == ["applied"]

    asked = sms(stack_runtime, customer.phone, "delete my preferences")
    assert "Delete all your saved delivery preferences?" in asked
    gone = sms(stack_runtime, customer.phone, "yes")
    assert gone.startswith("Done: your delivery preferences are deleted")
    row = stored(stack_runtime, customer.id)
    assert row is not None and row.neighbour is None
    assert history(stack_runtime, customer.id)[-1] == ("neighbour", "delete", "customer", "sms")


def test_no_saves_nothing_and_times_are_understood(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, _ = customers.take(lambda parcels: any(p.status in ("at_depot", "in_transit") for p in parcels))
    question = sms(stack_runtime, customer.phone, "never deliver before 10am")
    assert "never before 10:00" in question
    assert sms(stack_runtime, customer.phone, "no").startswith("OK, nothing was saved")
    assert history(stack_runtime, customer.id) == []
    sms(stack_runtime, customer.phone, "I need extra time to get to the door")
    assert sms(stack_runtime, customer.phone, "yes").startswith("Saved")
    row = stored(stack_runtime, customer.id)
    assert row is not None and row.extra_door_minutes == 5
    with stack_runtime.sessions() as session:
        owner = session.get(Customer, customer.id)
        assert owner is not None and "extra time" in (owner.accessibility_needs or "")


def test_a_german_customer_saves_a_standing_wish_in_german(stack_runtime: Runtime, customers: CustomerPool) -> None:
    # An English-reading customer writing German (the few German readers are the language tests'): the bot
    # answers in the language written.
    customer, _ = customers.take(lambda parcels: any(p.status in ("at_depot", "in_transit") for p in parcels))
    question = sms(stack_runtime, customer.phone, "Meine Pakete bitte immer beim Nachbarn Nr. 14 abgeben")
    assert question.startswith("Für alle Ihre Pakete speichern:") and "JA oder NEIN" in question
    assert sms(stack_runtime, customer.phone, "ja").startswith("Für alle Ihre neuen Pakete gespeichert")
    row = stored(stack_runtime, customer.id)
    assert row is not None and row.neighbour == "Nr. 14"


def test_a_dutch_customer_saves_a_standing_wish_in_dutch(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, _ = customers.take(lambda parcels: True)  # English-reading, writing Dutch (as above)
    question = sms(stack_runtime, customer.phone, "voortaan al mijn pakketten bij de buren op nummer 14")
    assert question.startswith("Opslaan voor al je pakketten:") and "JA of NEE" in question
    assert sms(stack_runtime, customer.phone, "ja").startswith("Opgeslagen voor al je nieuwe pakketten")
    row = stored(stack_runtime, customer.id)
    assert row is not None and row.neighbour == "nummer 14"


def test_an_unverified_chat_verifies_first_then_is_asked_once(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, parcels = customers.take(lambda ps: any(p.status in ("at_depot", "in_transit") for p in ps))
    parcel = next(p for p in parcels if p.status in ("at_depot", "in_transit"))
    sender = new_sender()
    first = " ".join(rest(stack_runtime, sender, "never deliver before 10am"))
    assert "tracking number" in first and stored(stack_runtime, customer.id) is None  # identity first
    rest(stack_runtime, sender, parcel.tracking_number)
    question = " ".join(rest(stack_runtime, sender, parcel.postcode))
    assert "Save for all your parcels: never before 10:00? Reply YES or NO" in question
    assert " ".join(rest(stack_runtime, sender, "yes")).startswith("Saved for all your new parcels")
    row = stored(stack_runtime, customer.id)
    assert row is not None and row.not_before == 600
    assert history(stack_runtime, customer.id) == [("not_before", "set", "customer", "web")]
