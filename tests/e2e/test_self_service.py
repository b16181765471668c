"""Self-service flows end to end against the running processes, each checked in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.carriers import CarrierEvent
from bot.carriers.ingest import ingest_event
from bot.core.db import transaction
from bot.core.models import Consent, Handoff, Return, Shipment
from bot.core.runtime import Runtime
from bot.demo.sms_sim import send_as_customer
from tests.e2e.conftest import CustomerPool
from tests.e2e.helpers import new_sender, recently_delivered, rest

BERLIN = ZoneInfo("Europe/Berlin")
CHANGEABLE = ("at_depot", "in_transit")


def one_changeable(pool: CustomerPool) -> tuple[str, Shipment]:
    """A customer with exactly one parcel that can still be changed (so no 'which parcel?')."""
    customer, parcels = pool.take(lambda ps: sum(p.status in CHANGEABLE for p in ps) == 1
                                  and not any(p.status == "out_for_delivery" for p in ps))
    return customer.phone, next(p for p in parcels if p.status in CHANGEABLE)


def sms(runtime: Runtime, phone: str, text: str) -> str:
    exchange = send_as_customer(runtime, phone, text)
    assert exchange.status_code == 204
    return "\n".join(exchange.replies)


def shipment(runtime: Runtime, shipment_id: int) -> Shipment:
    with runtime.sessions() as session:
        row = session.get(Shipment, shipment_id, options=[selectinload(Shipment.locker)])
        assert row is not None
        return row


def test_reschedule_in_free_text_with_a_correction_over_sms(stack_runtime: Runtime, customers: CustomerPool) -> None:
    phone, parcel = one_changeable(customers)
    options = sms(stack_runtime, phone, "can u deliver it another day")
    assert "1. " in options and "When should parcel" in options
    confirm = sms(stack_runtime, phone, "saturday morning")
    assert "Sat" in confirm and "YES" in confirm
    assert shipment(stack_runtime, parcel.id).promised_start == parcel.promised_start  # nothing yet
    corrected = sms(stack_runtime, phone, "no, friday after 5")
    assert "Fri" in corrected and "18:00-20:00" in corrected
    done = sms(stack_runtime, phone, "yes")
    assert done.startswith("Done")
    moved = shipment(stack_runtime, parcel.id).promised_start
    assert moved is not None
    local = moved.astimezone(BERLIN)
    assert (local.weekday(), local.hour) == (4, 18)


def test_an_option_number_picks_the_offered_window_over_rest(stack_runtime: Runtime, customers: CustomerPool) -> None:
    _, parcel = one_changeable(customers)
    sender = new_sender()
    rest(stack_runtime, sender, "i need to change the delivery day")
    rest(stack_runtime, sender, parcel.tracking_number)
    options = rest(stack_runtime, sender, parcel.postcode)
    assert any("When should parcel" in o for o in options)
    confirm = " ".join(rest(stack_runtime, sender, "2"))
    assert "Move parcel" in confirm
    assert " ".join(rest(stack_runtime, sender, "yes")).startswith("Done")
    assert shipment(stack_runtime, parcel.id).promised_start != parcel.promised_start


def test_cancel_leaves_everything_as_it_was(stack_runtime: Runtime, customers: CustomerPool) -> None:
    phone, parcel = one_changeable(customers)
    sms(stack_runtime, phone, "send it to a locker pls")
    assert "nothing was changed" in sms(stack_runtime, phone, "never mind")
    after = shipment(stack_runtime, parcel.id)
    assert after.locker_id is None and after.promised_start == parcel.promised_start


def test_a_question_mid_form_is_answered_and_the_form_resumes(stack_runtime: Runtime, customers: CustomerPool) -> None:
    phone, parcel = one_changeable(customers)
    sms(stack_runtime, phone, "i want to move my delivery")
    digression = sms(stack_runtime, phone, "where is my parcel now?")
    assert f"Parcel {parcel.tracking_number[-4:]}" in digression
    assert "When should parcel" in digression  # back to the question
    assert "Move parcel" in sms(stack_runtime, phone, "1")
    assert sms(stack_runtime, phone, "yes").startswith("Done")


def test_locker_by_name_then_confirmed(stack_runtime: Runtime, customers: CustomerPool) -> None:
    phone, parcel = one_changeable(customers)
    lockers = sms(stack_runtime, phone, "can it go to a parcel locker instead")
    assert "Which locker?" in lockers and "km" in lockers
    first_name = lockers.split("1. ", 1)[1].split(",", 1)[0]
    assert first_name in sms(stack_runtime, phone, f"the {first_name.lower()} one")
    assert "locker" in sms(stack_runtime, phone, "yes")
    after = shipment(stack_runtime, parcel.id)
    assert after.locker is not None and after.locker.name == first_name


def test_instructions_in_the_request_itself_are_confirmed_and_stored(stack_runtime: Runtime,
                                                                      customers: CustomerPool) -> None:
    phone, parcel = one_changeable(customers)
    confirm = sms(stack_runtime, phone, "pls leave it behind the green gate at the back")
    assert "behind the green gate" in confirm and "YES" in confirm
    sms(stack_runtime, phone, "yes")
    assert shipment(stack_runtime, parcel.id).instructions == "pls leave it behind the green gate at the back"


def test_instructions_are_refused_plainly_once_out_for_delivery(stack_runtime: Runtime, customers: CustomerPool) -> None:
    phone, parcel = one_changeable(customers)
    with transaction(stack_runtime.sessions) as session:
        ingest_event(session, CarrierEvent(carrier="sandbox", event_id="test-ofd", tracking_number=parcel.tracking_number,
                                           status="out_for_delivery", occurred_at=datetime.now(BERLIN)))
    answer = sms(stack_runtime, phone, "can the driver leave it at the back door")
    assert "already out with the driver" in answer and "AGENT" in answer
    assert shipment(stack_runtime, parcel.id).instructions is None


def test_a_neighbour_is_recorded_after_confirmation(stack_runtime: Runtime, customers: CustomerPool) -> None:
    phone, parcel = one_changeable(customers)
    confirm = sms(stack_runtime, phone, "if im out leave it with my neighbour Meyer at no 12")
    assert "neighbour" in confirm and "YES" in confirm
    sms(stack_runtime, phone, "yes")
    assert "Meyer at no 12" in (shipment(stack_runtime, parcel.id).instructions or "")


def test_a_return_with_items_reason_and_locker(stack_runtime: Runtime, customers: CustomerPool) -> None:
    def returnable(p: Shipment) -> bool:
        return p.status == "delivered" and p.return_until is not None and p.return_until > now and len(p.items) == 2

    now = datetime.now(UTC) + timedelta(days=1)  # the sandbox clock runs ahead of the wall clock
    customer, parcels = customers.take(lambda ps: any(returnable(p) for p in ps))
    delivered = next(p for p in parcels if returnable(p))
    phone = customer.phone
    text = sms(stack_runtime, phone, "i want to send something back")
    if "Which parcel?" in text:
        number = next(line.split(".")[0] for line in text.splitlines() if delivered.tracking_number[-4:] in line)
        text = sms(stack_runtime, phone, number)
    assert "Which item" in text
    assert "Why" in sms(stack_runtime, phone, "all")
    assert "How do you want" in sms(stack_runtime, phone, "didnt fit")
    assert "Which locker" in sms(stack_runtime, phone, "1")
    assert "Return" in sms(stack_runtime, phone, "1")
    booked = sms(stack_runtime, phone, "yes")
    assert "QR-" in booked
    with stack_runtime.sessions() as session:
        ret = session.scalars(select(Return).where(Return.shipment_id == delivered.id)).one()
        assert (ret.method, ret.reason, len(ret.items)) == ("locker", "didnt fit", 2)
        assert ret.label_code and ret.label_code in booked
    assert ret.rma in sms(stack_runtime, phone, "whats the status of my return")


def test_opt_out_in_plain_words_then_start(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, _ = customers.take(lambda ps: True)
    assert "won't get more texts" in sms(stack_runtime, customer.phone, "pls stop texting me")
    with stack_runtime.sessions() as session:
        consent = session.scalars(select(Consent).where(Consent.customer_id == customer.id)).one()
        assert (consent.channel, consent.opted_out) == ("sms", True)
    assert sms(stack_runtime, customer.phone, "where is my parcel") == ""  # the outbox refuses, like Twilio
    assert "START" not in sms(stack_runtime, customer.phone, "START")  # its confirmation now reaches them
    with stack_runtime.sessions() as session:
        assert session.scalars(select(Consent).where(Consent.customer_id == customer.id)).one().opted_out is False


def test_asking_for_a_person_opens_a_handoff_and_the_bot_goes_quiet(stack_runtime: Runtime,
                                                                    customers: CustomerPool) -> None:
    customer, _ = customers.take(lambda ps: True)
    sms(stack_runtime, customer.phone, "where is my parcel")
    told = sms(stack_runtime, customer.phone, "can i talk to a real person")
    assert "person" in told
    with stack_runtime.sessions() as session:
        handoff = session.scalars(select(Handoff).where(Handoff.sender_id == customer.phone)).one()
        assert (handoff.status, handoff.reason, handoff.customer_id) == ("open", "request", customer.id)
        assert "where is my parcel" in handoff.summary
    assert sms(stack_runtime, customer.phone, "hello?") == ""  # paused: the agent answers now


def test_two_misunderstandings_in_a_row_hand_over(stack_runtime: Runtime, customers: CustomerPool) -> None:
    customer, _ = customers.take(lambda ps: True)
    first = sms(stack_runtime, customer.phone, "hjkl vbnm")  # keyboard mash the model falls back on
    assert "didn't get that" in first
    second = sms(stack_runtime, customer.phone, "xkcd blrg")
    assert "person" in second
    with stack_runtime.sessions() as session:
        assert session.scalars(select(Handoff.reason).where(Handoff.sender_id == customer.phone)).one() == "misunderstood"


def test_a_carrier_failure_changes_nothing_and_hands_over(stack_runtime: Runtime, customers: CustomerPool) -> None:
    faulty = next(iter(customers.reserved))
    with stack_runtime.sessions() as session:
        parcel = session.scalars(select(Shipment).where(Shipment.tracking_number == faulty)).one()
        phone = parcel.customer.phone
    sender = new_sender()
    rest(stack_runtime, sender, "pls leave it with reception")
    rest(stack_runtime, sender, parcel.tracking_number)
    confirm = " ".join(rest(stack_runtime, sender, parcel.postcode))
    assert "reception" in confirm
    failed = " ".join(rest(stack_runtime, sender, "yes"))
    assert "nothing was changed" in failed and "person" in failed
    assert shipment(stack_runtime, parcel.id).instructions is None
    with stack_runtime.sessions() as session:
        handoff = session.scalars(select(Handoff).where(Handoff.sender_id == f"rest:{sender}")).one()
        assert handoff.reason == "carrier_error" and handoff.shipment_id == parcel.id
    assert phone  # the parcel's owner was never contacted by this stranger's session


def test_a_verified_customer_cannot_read_someone_elses_parcel(stack_runtime: Runtime, customers: CustomerPool) -> None:
    owner, _ = customers.take(lambda ps: True)
    stranger, theirs = customers.take(lambda ps: any(p.status in CHANGEABLE for p in ps))
    other = next(p for p in theirs if p.status in CHANGEABLE)
    answer = sms(stack_runtime, owner.phone, f"where is {other.tracking_number}")
    assert "only show parcels addressed to you" in answer
    assert other.address_line not in answer and stranger.name not in answer
    changed = sms(stack_runtime, owner.phone, f"move {other.tracking_number} to saturday")
    assert other.tracking_number[-4:] not in changed
    assert shipment(stack_runtime, other.id).promised_start == other.promised_start


def test_never_mind_in_the_middle_of_the_locker_list_ends_the_change(stack_runtime: Runtime,
                                                                    customers: CustomerPool) -> None:
    customer, parcels = customers.take(lambda ps: any(p.status in CHANGEABLE for p in ps)
                                       and not any(p.status in ("out_for_delivery", "delivered") for p in ps))
    phone, parcel = customer.phone, next(p for p in parcels if p.status in CHANGEABLE)
    assert "Which locker?" in sms(stack_runtime, phone, f"send {parcel.tracking_number} to a locker pls")
    answer = sms(stack_runtime, phone, "never mind, ill be home after all")
    assert "nothing was changed" in answer and "Reply with the number" not in answer
    assert shipment(stack_runtime, parcel.id).locker_id is None


def test_a_missing_parcel_gets_its_proof_and_a_question_not_a_tracking_list(stack_runtime: Runtime,
                                                                             customers: CustomerPool) -> None:
    customer, _, delivered = recently_delivered(customers, stack_runtime)
    reply = sms(stack_runtime, customer.phone, "it says my parcel was delivered but i never got it")
    assert f"…{delivered.tracking_number[-4:]} shows as delivered" in reply
    assert "Found it?" in reply and "on the way" not in reply and "Track:" not in reply
    # A person on request, with the proof the bot showed in the summary.
    assert "person" in sms(stack_runtime, customer.phone, "AGENT")
    with stack_runtime.sessions() as session:
        handoff = session.scalars(select(Handoff).where(Handoff.sender_id == customer.phone)).one()
    assert "shows as delivered" in handoff.summary and "i never got it" in handoff.summary
