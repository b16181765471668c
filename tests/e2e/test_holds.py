"""Away from home end to end (issue 16, item 2): signed SMS and REST through Rasa, the action server and the change
service to the sandbox carrier, each checked in the database. One confirmation lists every parcel; nothing changes
before "yes"; "12 Dec" answering "until when?" is a date."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import select

from bot.core.clock import sim_now
from bot.core.models import Customer, Hold, HoldParcel, Shipment
from bot.core.runtime import Runtime
from tests.e2e.conftest import CustomerPool
from tests.e2e.helpers import new_sender, rest
from tests.e2e.test_self_service import sms

BERLIN = ZoneInfo("Europe/Berlin")
CHANGEABLE = ("at_depot", "in_transit")


def several_changeable(pool: CustomerPool) -> tuple[Customer, list[Shipment]]:
    """A customer with two or more parcels that can still be moved, none out with a driver. English ones (there
    are twins of them): the few German and Dutch customers with several parcels are for tests/e2e/test_languages.py,
    and the bot answers in the language a message is written in."""
    customer, parcels = pool.take(lambda ps: sum(p.status in CHANGEABLE for p in ps) >= 2
                                  and not any(p.status in ("out_for_delivery", "failed_attempt") for p in ps))
    return customer, [p for p in parcels if p.status in CHANGEABLE and p.locker_id is None]


def tomorrow(runtime: Runtime) -> date:
    with runtime.sessions() as session:
        return sim_now(session).astimezone(BERLIN).date() + timedelta(days=1)


def weekday(day: date, language: str) -> str:
    return format_date(day, "EEEE", locale=language)


def now_of(runtime: Runtime, ids: list[int]) -> dict[int, Shipment]:
    with runtime.sessions() as session:
        found = {s.id: s for s in session.scalars(select(Shipment).where(Shipment.id.in_(ids)))}
        session.expunge_all()
        return found


def holds_of(runtime: Runtime, customer_id: int) -> list[Hold]:
    with runtime.sessions() as session:
        found = list(session.scalars(select(Hold).where(Hold.customer_id == customer_id)))
        session.expunge_all()
        return found


def assert_held_after(runtime: Runtime, parcels: list[Shipment], last: date) -> None:
    for shipment in now_of(runtime, [p.id for p in parcels]).values():
        assert shipment.promised_start is not None
        assert shipment.promised_start.astimezone(BERLIN).date() > last, shipment.tracking_number


def test_hold_everything_over_sms_lists_each_parcel_once_then_moves_each_after_the_hold(
        stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, parcels = several_changeable(customers)
    last = tomorrow(stack_runtime)
    question = sms(stack_runtime, customer.phone, f"I'm away until {weekday(last, 'en')}, can you hold all my parcels?")
    assert question.startswith("Hold your parcels until"), question
    assert all(p.tracking_number[-4:] in question for p in parcels) and "YES" in question
    unchanged = now_of(stack_runtime, [p.id for p in parcels])
    assert all(unchanged[p.id].promised_start == p.promised_start for p in parcels)  # nothing before "yes"
    assert holds_of(stack_runtime, customer.id) == []
    done = sms(stack_runtime, customer.phone, "yes")
    assert done.startswith("Done, held until"), done
    assert_held_after(stack_runtime, parcels, last)
    [hold] = holds_of(stack_runtime, customer.id)
    assert (hold.ends_on, hold.mode, hold.channel) == (last, "reschedule", "twilio") and hold.confirmed_at
    with stack_runtime.sessions() as session:
        outcomes = {row.shipment_id: row.outcome for row in session.scalars(
            select(HoldParcel).where(HoldParcel.hold_id == hold.id))}
    assert {p.id for p in parcels} <= outcomes.keys() and {outcomes[p.id] for p in parcels} == {"done"}


def test_a_date_given_as_the_answer_is_a_date_in_german(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, parcels = several_changeable(customers)
    last = tomorrow(stack_runtime)
    asked = sms(stack_runtime, customer.phone, "Ich bin im Urlaub, bitte alle meine Pakete zurückhalten")
    assert asked.startswith("Bis zu welchem Tag"), asked
    question = sms(stack_runtime, customer.phone, f"{last.day}. {format_date(last, 'MMM', locale='de')}")
    assert question.startswith("Pakete bis"), question
    assert all(p.tracking_number[-4:] in question for p in parcels)
    assert sms(stack_runtime, customer.phone, "ja").startswith("Erledigt")
    assert_held_after(stack_runtime, parcels, last)


def test_a_hold_to_the_locker_in_dutch(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, parcels = several_changeable(customers)
    last = tomorrow(stack_runtime)
    question = sms(stack_runtime, customer.phone,
                   f"tot en met {weekday(last, 'nl')} ben ik weg, stuur alles naar de automaat")
    assert question.startswith("Pakketten tot en met") and "automaat" in question, question
    assert sms(stack_runtime, customer.phone, "ja").startswith("Klaar")
    for shipment in now_of(stack_runtime, [p.id for p in parcels]).values():
        assert shipment.locker_id is not None
    [hold] = holds_of(stack_runtime, customer.id)
    assert hold.mode == "locker" and hold.locker_id is not None


def test_no_leaves_everything_as_it_was(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, parcels = several_changeable(customers)
    last = tomorrow(stack_runtime)
    sms(stack_runtime, customer.phone, f"hold everything until {last.day} {format_date(last, 'MMM', locale='en')}")
    assert "left it as it was" in sms(stack_runtime, customer.phone, "no")
    assert holds_of(stack_runtime, customer.id) == []
    after = now_of(stack_runtime, [p.id for p in parcels])
    assert all(after[p.id].promised_start == p.promised_start for p in parcels)


def test_the_customer_ends_the_hold_after_confirming(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, _ = several_changeable(customers)
    last = tomorrow(stack_runtime)
    sms(stack_runtime, customer.phone, f"I'm away till {weekday(last, 'en')}, hold everything please")
    assert sms(stack_runtime, customer.phone, "yes").startswith("Done")
    question = sms(stack_runtime, customer.phone, "cancel my hold")
    assert question.startswith("End your hold until"), question
    assert holds_of(stack_runtime, customer.id)[0].cancelled_at is None  # nothing before "yes"
    assert sms(stack_runtime, customer.phone, "yes").startswith("Done, your hold has ended")
    assert holds_of(stack_runtime, customer.id)[0].cancelled_at is not None


def test_identity_first_over_rest_and_only_the_parcel_shown_is_held(stack_runtime: Runtime,
                                                                   customers: CustomerPool) -> None:
    _, parcels = several_changeable(customers)
    shown, other = parcels[0], parcels[1]
    sender = new_sender()
    last = tomorrow(stack_runtime)
    asked = " ".join(rest(stack_runtime, sender, f"hold all my parcels until {weekday(last, 'en')}"))
    assert "tracking number" in asked and shown.tracking_number[-4:] not in asked
    rest(stack_runtime, sender, shown.tracking_number)
    question = " ".join(rest(stack_runtime, sender, shown.postcode))
    assert "Hold your parcels until" in question and shown.tracking_number[-4:] in question
    assert other.tracking_number[-4:] not in question  # not shown to someone who proved one parcel only
    assert " ".join(rest(stack_runtime, sender, "yes")).startswith("Done")
    after = now_of(stack_runtime, [shown.id, other.id])
    assert after[shown.id].promised_start.astimezone(BERLIN).date() > last  # type: ignore[union-attr]
    assert after[other.id].promised_start == other.promised_start
