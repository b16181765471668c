"""Faults found by trying every flow in German and Dutch as a customer (branch qa-de-nl), at the action level."""

from __future__ import annotations

import re

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.change_form import CommitChange, ValidateChangeForm
from actions.consent import ConfirmOptOut, RecordOptOut
from actions.context import Parcel
from actions.locker import AskLockerChoice
from actions.parcel_choice import named_parcel
from bot.conversation.consent import sms_opted_out
from bot.core.models import Return, Shipment
from bot.core.runtime import Runtime
from tests.actions.conftest import tracker
from tests.actions.test_flows import customer_with_delivered, customer_with_two_in_flight, message, run, said, update


@pytest.mark.parametrize(("text", "language"), [("ok dann die andere", "de"), ("ja", "de"), ("de andere graag", "nl"),
                                                ("jep", "nl")])
def test_with_one_parcel_left_to_pick_yes_or_the_other_one_takes_it(world: Runtime, text: str, language: str) -> None:
    customer, moving = customer_with_two_in_flight(world)
    update(world, moving[0].id, status="out_for_delivery")  # "…is already out with the driver. Which parcel then? 1."
    state = tracker("tracker_sms", sender_id=customer.phone,
                    slots={"pending_request": "reschedule", "requested_slot": "parcel", "language": language},
                    latest_message=message(text, "affirm"))
    dispatcher = CollectingDispatcher()
    result = run(ValidateChangeForm().validate_parcel(text, dispatcher, state, {}))
    assert result == {"parcel": moving[1].tracking_number, "shipment_id": str(moving[1].id)}
    assert dispatcher.messages == []


def test_with_one_parcel_left_a_time_is_still_not_a_pick(world: Runtime) -> None:
    customer, moving = customer_with_two_in_flight(world)
    update(world, moving[0].id, status="out_for_delivery")
    state = tracker("tracker_sms", sender_id=customer.phone,
                    slots={"pending_request": "reschedule", "requested_slot": "parcel", "language": "de"},
                    latest_message=message("freitag", "inform"))
    dispatcher = CollectingDispatcher()
    assert run(ValidateChangeForm().validate_parcel("freitag", dispatcher, state, {})) == {"parcel": None}
    assert "Nummer des Pakets" in said(dispatcher)


LEFT_AS_IT_WAS = {"en": "OK, I've left it as it was.", "de": "OK, ich habe alles gelassen, wie es war.",
                  "nl": "Oké, ik heb alles gelaten zoals het was."}


@pytest.mark.parametrize(("text", "intent", "language"), [
    ("nee toch niet, andere vraag: can you leave it with my neighbour?", "change_address", "nl"),
    ("Nein, lieber zum Nachbarn", "change_address", "de"),
    ("no, actually can it go to a locker", "redirect_to_locker", "en"),
])
def test_a_no_in_front_of_another_request_at_the_confirmation_is_a_no(world: Runtime, text: str, intent: str,
                                                                      language: str) -> None:
    """Before: the same question again, and the next "yes" moved the parcel the customer had turned down."""
    customer, moving = customer_with_two_in_flight(world)
    window = "2026-11-26T17:00:00+00:00|2026-11-26T19:00:00+00:00"
    base = {"pending_request": "reschedule", "requested_slot": "confirm_change", "shipment_id": str(moving[0].id),
            "window_choice": window, "language": language}
    state = tracker("tracker_sms", sender_id=customer.phone, slots=base, latest_message=message(text, intent))
    result = run(ValidateChangeForm().validate_confirm_change(text, CollectingDispatcher(), state, {}))
    assert result == {"confirm_change": False}
    dispatcher = CollectingDispatcher()
    run(CommitChange().run(dispatcher, tracker("tracker_sms", sender_id=customer.phone,
                                               slots={**base, **result}), {}))
    assert said(dispatcher) == LEFT_AS_IT_WAS[language]
    with world.sessions() as session:
        unchanged = session.get(Shipment, moving[0].id)
        assert unchanged is not None and unchanged.promised_start == moving[0].promised_start


def test_a_correction_after_a_no_is_still_a_correction(world: Runtime) -> None:
    customer, moving = customer_with_two_in_flight(world)
    text = "nein, lieber Samstag"
    state = tracker("tracker_sms", sender_id=customer.phone,
                    slots={"pending_request": "reschedule", "requested_slot": "confirm_change",
                           "shipment_id": str(moving[0].id), "language": "de",
                           "window_choice": "2026-11-26T17:00:00+00:00|2026-11-26T19:00:00+00:00"},
                    latest_message=message(text, "inform"))
    result = run(ValidateChangeForm().validate_confirm_change(text, CollectingDispatcher(), state, {}))
    assert result["confirm_change"] is None and result["window_choice"]


@pytest.mark.parametrize(("language", "mark"), [("de", ","), ("nl", ","), ("en", ".")])
def test_the_locker_list_writes_distances_with_the_customers_decimal_mark(world: Runtime, language: str,
                                                                          mark: str) -> None:
    customer, moving = customer_with_two_in_flight(world)
    state = tracker("tracker_sms", sender_id=customer.phone,
                    slots={"pending_request": "locker", "requested_slot": "locker_choice",
                           "shipment_id": str(moving[0].id), "language": language},
                    latest_message=message("packstation", "redirect_to_locker"))
    dispatcher = CollectingDispatcher()
    run(AskLockerChoice().run(dispatcher, state, {}))
    distances = re.findall(r", (\d+\D\d) km,", said(dispatcher))
    assert distances and all(d[-2] == mark for d in distances), said(dispatcher)


def _opt_out_turn(world: Runtime, text: str, confidence: float, language: str) -> tuple[str, bool]:
    customer, _ = customer_with_two_in_flight(world)
    state = tracker("tracker_sms", sender_id=customer.phone, slots={"language": language},
                    latest_message=message(text, "opt_out", confidence))
    dispatcher = CollectingDispatcher()
    run(ConfirmOptOut().run(dispatcher, state, {}))
    run(RecordOptOut().run(CollectingDispatcher(), state, {}))
    with world.sessions() as session:
        return said(dispatcher), sms_opted_out(session, customer.phone)


@pytest.mark.parametrize(("text", "language"), [("telefoonnummer van jullie?", "nl"), ("Ihre Telefonnummer?", "de")])
def test_an_unsure_opt_out_without_a_word_of_stopping_records_nothing(world: Runtime, text: str,
                                                                      language: str) -> None:
    reply, opted_out = _opt_out_turn(world, text, 0.69, language)
    assert not opted_out
    assert "STOP" in reply and "AGENT" in reply and "START" not in reply


@pytest.mark.parametrize(("text", "confidence", "language", "confirmed"), [
    ("bitte keine SMS mehr", 0.6, "de", "keine SMS mehr"),
    ("stuur me geen berichten meer", 0.7, "nl", "geen sms'jes meer"),
    ("afmelden", 0.55, "nl", "geen sms'jes meer"),
    ("lasst mich in ruhe", 0.5, "de", "keine SMS mehr"),
    ("please go away", 0.95, "en", "won't get more texts"),  # the classifier sure: recorded whatever the words
])
def test_an_opt_out_in_plain_words_is_still_recorded(world: Runtime, text: str, confidence: float, language: str,
                                                     confirmed: str) -> None:
    reply, opted_out = _opt_out_turn(world, text, confidence, language)
    assert opted_out and confirmed in reply and "START" in reply


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("können Sie es Sonntag bringen", "de", "kein Zeitfenster frei (sonntags keine Lieferung)"),
    ("kan het zondag komen", "nl", "geen tijdvak vrij (geen bezorging op zondag)"),
    ("geht es übermorgen um 23 Uhr", "de", "Leider ist dann kein Zeitfenster frei. Versuchen"),  # no word of Sundays
    ("kan het overmorgen om 23 uur", "nl", "Sorry, dan is er geen tijdvak vrij. Probeer"),
])
def test_a_request_naming_a_time_with_no_window_says_so_before_the_list(world: Runtime, text: str, language: str,
                                                                        expected: str) -> None:
    """Before: the request's day was dropped without a word and the list came as if nothing had been asked."""
    customer, moving = customer_with_two_in_flight(world)
    state = tracker("tracker_sms", sender_id=customer.phone,
                    slots={"pending_request": "reschedule", "shipment_id": str(moving[0].id), "language": language},
                    latest_message=message(text, "reschedule_delivery"))
    dispatcher = CollectingDispatcher()
    assert run(ValidateChangeForm().validate_window_choice(text, dispatcher, state, {})) == {"window_choice": None}
    assert expected in said(dispatcher)


def test_a_request_naming_no_time_just_gets_the_question(world: Runtime) -> None:
    customer, moving = customer_with_two_in_flight(world)
    text = "bin morgen nicht da"
    state = tracker("tracker_sms", sender_id=customer.phone,
                    slots={"pending_request": "reschedule", "shipment_id": str(moving[0].id), "language": "de"},
                    latest_message=message(text, "reschedule_delivery"))
    dispatcher = CollectingDispatcher()
    assert run(ValidateChangeForm().validate_window_choice(text, dispatcher, state, {})) == {"window_choice": None}
    assert dispatcher.messages == []


@pytest.mark.parametrize("text", ["{short}: bin morgen nicht da", "paket {short}. morgen geht nicht", "{short}, na vijven"])
def test_the_last_four_digits_name_the_parcel_before_a_colon_or_a_full_stop(text: str) -> None:
    parcels = [Parcel(1, "DS1000003848", "sandbox", "at_depot", [], None),
               Parcel(2, "DS2000004042", "sandbox", "at_depot", [], None)]
    assert named_parcel(text.format(short="4042"), parcels) == parcels[1]
    assert named_parcel("morgen um 40:42, am 12.12.4042", parcels) is None


@pytest.mark.parametrize(("slot", "text", "language", "expected"), [
    ("return_method", "und wie ist der stand der rücksendung?", "de", "Rücksendung RMA-QA-1"),
    ("return_option", "hoe staat het met mijn retour?", "nl", "Retour RMA-QA-1"),
    ("window_choice", "is mijn retour al binnen?", "nl", "Retour RMA-QA-1"),
])
def test_a_question_about_a_return_in_the_middle_of_a_change_is_answered_then_asked_again(
        world: Runtime, slot: str, text: str, language: str, expected: str) -> None:
    """Before: taken as the answer ("Reply 1, 2 or 3.", or the locker list again) and never answered."""
    customer, delivered = customer_with_delivered(world)
    with world.sessions() as session, session.begin():
        session.add(Return(shipment_id=delivered.id, rma="RMA-QA-1", items=[], reason="zu groß", method="label"))
    kind = "reschedule" if slot == "window_choice" else "return"
    state = tracker("tracker_sms", sender_id=customer.phone,
                    slots={"pending_request": kind, "requested_slot": slot, "language": language,
                           "return_method": "locker" if slot == "return_option" else None,
                           "offered": [{"code": "L1", "name": "Alexanderplatz"}] if slot == "return_option" else []},
                    latest_message=message(text, "return_status", 0.95))
    dispatcher = CollectingDispatcher()
    result = run(getattr(ValidateChangeForm(), f"validate_{slot}")(text, dispatcher, state, {}))
    assert result == {slot: None}
    assert said(dispatcher).startswith(expected), said(dispatcher)
