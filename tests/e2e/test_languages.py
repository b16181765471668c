"""German and Dutch customers end to end, over SMS and the REST/web chat channel, against the running
processes: understood in their own words, answered in their own language, and checked in the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core.clock import sim_now
from bot.core.models import Claim, Consent, Shipment
from bot.core.runtime import Runtime
from bot.demo.sms_sim import send_as_customer
from tests.e2e.conftest import CustomerPool
from tests.e2e.helpers import new_sender, rest

BERLIN = ZoneInfo("Europe/Berlin")
CHANGEABLE = ("at_depot", "in_transit")


def sms(runtime: Runtime, phone: str, text: str) -> str:
    exchange = send_as_customer(runtime, phone, text)
    assert exchange.status_code == 204
    return "\n".join(exchange.replies)


def parcels_that(*, changeable: int = 0, delivered: bool = False) -> Callable[[list[Shipment]], bool]:
    """A pool filter: at least `changeable` parcels can still be changed, and whether one was delivered."""
    def wanted(parcels: list[Shipment]) -> bool:
        if not parcels:
            return False
        if delivered and not any(p.status == "delivered" for p in parcels):
            return False
        if any(p.status == "out_for_delivery" for p in parcels):
            return False
        return sum(p.status in CHANGEABLE for p in parcels) >= changeable
    return wanted


def test_a_german_customer_moves_a_delivery_in_german_words(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, parcels = customers.take(parcels_that(changeable=1), locale="de")
    parcel = next(p for p in parcels if p.status in CHANGEABLE)
    # Several parcels: the message names one (the e2e stack's single-parcel customers read English)
    confirm = sms(stack_runtime, customer.phone, f"Können Sie {parcel.tracking_number} morgen nach 17 Uhr bringen?")
    assert "JA oder NEIN" in confirm and "morgen" in confirm, confirm
    done = sms(stack_runtime, customer.phone, "ja, passt")
    assert done.startswith("Erledigt"), done
    with stack_runtime.sessions() as session:
        moved = session.get(Shipment, parcel.id)
        assert moved is not None and moved.promised_start is not None
        tomorrow = sim_now(session).astimezone(BERLIN).date().toordinal() + 1
        local = moved.promised_start.astimezone(BERLIN)
    assert local.date().toordinal() == tomorrow and local.hour >= 17


def test_a_german_opt_out_in_plain_words_is_an_opt_out(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, _ = customers.take(parcels_that(), locale="de")
    reply = sms(stack_runtime, customer.phone, "Bitte schicken Sie mir keine SMS mehr")
    assert "keine SMS mehr" in reply and "START" in reply, reply
    with stack_runtime.sessions() as session:
        consent = session.scalars(select(Consent).where(Consent.customer_id == customer.id,
                                                        Consent.channel == "sms")).one()
    assert consent.opted_out


def test_a_dutch_web_chat_verifies_tracks_and_cancels_a_locker_choice(stack_runtime: Runtime,
                                                                      customers: CustomerPool) -> None:
    _, parcels = customers.take(parcels_that(changeable=1), locale="nl")
    parcel = next(p for p in parcels if p.status in CHANGEABLE)
    sender = new_sender()
    ask = " ".join(rest(stack_runtime, sender, "Waar blijft mijn pakket eigenlijk?"))
    assert "trackingnummer" in ask, ask
    assert "postcode" in " ".join(rest(stack_runtime, sender, parcel.tracking_number))
    status = " ".join(rest(stack_runtime, sender, parcel.postcode))
    assert f"Pakket {parcel.tracking_number[-4:]}" in status, status
    lockers = " ".join(rest(stack_runtime, sender, "kan het naar een pakketkluis gestuurd worden?"))
    assert "Welke pakketkluis?" in lockers, lockers
    cancelled = " ".join(rest(stack_runtime, sender, "laat maar, ik ben toch thuis"))
    assert "niets gewijzigd" in cancelled, cancelled
    with stack_runtime.sessions() as session:
        unchanged = session.get(Shipment, parcel.id)
        assert unchanged is not None and unchanged.locker_id == parcel.locker_id


def test_a_dutch_missing_parcel_gets_the_proof_and_a_claim(stack_runtime: Runtime,
                                                           customers: CustomerPool) -> None:
    customer, parcels = customers.take(parcels_that(delivered=True), locale="nl")
    delivered = [p for p in parcels if p.status == "delivered"]
    text = f"volgens track & trace is {delivered[0].tracking_number} bezorgd maar ik heb niks ontvangen"
    reply = sms(stack_runtime, customer.phone, text)
    assert "bezorgd" in reply and "Gevonden?" in reply, reply
    assert "onderweg" not in reply  # never a tracking list
    again = sms(stack_runtime, customer.phone, f"gekeken, niks. {text}")  # still missing: a claim
    with stack_runtime.sessions() as session:
        claim = session.scalars(select(Claim).where(Claim.shipment_id == delivered[0].id)).first()
    assert claim is not None and claim.reference in again and "melding" in again, again


GERMAN_DAYS = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"]


def test_a_german_customer_turns_tomorrow_down_and_gets_the_day_they_asked_for(stack_runtime: Runtime,
                                                                              customers: CustomerPool) -> None:
    """"bin morgen nicht da" names tomorrow to refuse it: the bot once offered exactly tomorrow."""
    customer, parcels = customers.take(parcels_that(changeable=1), locale="de")
    parcel = next(p for p in parcels if p.status in CHANGEABLE)
    with stack_runtime.sessions() as session:
        today = sim_now(session).astimezone(BERLIN).date()
    target = today + timedelta(days=2)
    target += timedelta(days=1) if target.weekday() == 6 else timedelta()  # no deliveries on Sundays
    text = f"{parcel.tracking_number[-4:]}: bin morgen nicht da, geht es am {GERMAN_DAYS[target.weekday()]}?"
    confirm = sms(stack_runtime, customer.phone, text)
    assert "JA oder NEIN" in confirm and "morgen" not in confirm, confirm
    done = sms(stack_runtime, customer.phone, "jo passt")
    assert done.startswith("Erledigt"), done
    with stack_runtime.sessions() as session:
        moved = session.get(Shipment, parcel.id)
        assert moved is not None and moved.promised_start is not None
        assert moved.promised_start.astimezone(BERLIN).date() == target


def test_a_dutch_no_in_front_of_another_question_leaves_the_delivery_as_it_was(stack_runtime: Runtime,
                                                                               customers: CustomerPool) -> None:
    """At the confirmation, "nee toch niet, ..." was asked again, and the next "ja" moved the parcel."""
    _, parcels = customers.take(parcels_that(changeable=1))  # any reader: the web chat goes by the words
    parcel = next(p for p in parcels if p.status in CHANGEABLE)
    sender = new_sender()
    rest(stack_runtime, sender, "hoi, waar blijft mijn pakket nou?")
    rest(stack_runtime, sender, parcel.tracking_number)
    rest(stack_runtime, sender, parcel.postcode)
    confirm = " ".join(rest(stack_runtime, sender, "kan het morgen na vijven komen"))
    assert "JA of NEE" in confirm, confirm
    answer = " ".join(rest(stack_runtime, sender, "nee toch niet, kan het ook bij de buren?"))
    assert "zoals het was" in answer, answer
    after = " ".join(rest(stack_runtime, sender, "ja"))
    assert "Klaar" not in after, after
    with stack_runtime.sessions() as session:
        unchanged = session.get(Shipment, parcel.id)
        assert unchanged is not None and unchanged.promised_start == parcel.promised_start


def test_asking_for_the_phone_number_in_dutch_is_no_opt_out(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, _ = customers.take(parcels_that())
    reply = sms(stack_runtime, customer.phone, "telefoonnummer van jullie?")
    assert "START" not in reply, reply  # no "you won't get more texts"
    with stack_runtime.sessions() as session:
        consent = session.scalars(select(Consent).where(Consent.customer_id == customer.id,
                                                        Consent.channel == "sms")).first()
    assert consent is None or not consent.opted_out
