""""It says delivered but I never got it": the proof of delivery, where to look, then a claim.

Never a tracking list: the customer is told what the carrier recorded (when, where it was left, the
note in force, the locker and its code), where the parcel most likely is (the safe place or neighbour
of the instructions, the locker, around the property) and asked one question: found it? NO opens the
parcel's claim (bot/aftercare/claims.py) and the customer gets its reference and by when we answer;
YES closes kindly. A second report for the parcel adds to its claim. AGENT is a person at every step.
A parcel that isn't delivered yet gets its status in one line instead.
"""

from __future__ import annotations

from datetime import timedelta

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import texts
from actions.claim_reply import answer_of, ask, asked_in_last_turn, open_claim, ticket_reply, words_of
from actions.claim_reply import done as question_done
from actions.context import Context, Parcel, context_for, offer
from actions.language import reply_language
from actions.parcel_choice import last_bot_turn, listed_in_last_turn, named_parcel, parcel_of_last_turn
from actions.runtime import off_loop, runtime
from bot.aftercare.proof import proof_lines, proof_of, proof_view
from bot.core.models import Claim, ClaimKind, DeliveryProof, DropPlace, Shipment, ShipmentStatus
from bot.text import N_, t
from bot.text.timefmt import clock, day_label
from bot.text.timefmt import window as window_text

RECENT = timedelta(days=14)  # "delivered recently": what a customer could still be waiting for
ARRIVED = (ShipmentStatus.DELIVERED, ShipmentStatus.AT_LOCKER)
MAX_LISTED = 5
NAME = "action_report_missing"
CHECK = "missing_check"


def proof_of_delivery(shipment_id: int, language: str) -> str:
    """The carrier's record of the delivery, as the tracking page's proof rows show it (the proof view where
    the carrier gave a proof of delivery, else what its delivered event said)."""
    rt = runtime()
    now = rt.clock.now()
    with rt.sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        tz = shipment.customer.time_zone
        ref = shipment.tracking_number[-4:]
        at = shipment.delivered_at or shipment.status_at
        when = t(language, "{day} at {time}", day=day_label(at, now, tz, language), time=clock(at, tz)) if at else ""
        if shipment.status == ShipmentStatus.AT_LOCKER and shipment.locker is not None:
            locker = shipment.locker
            reply = t(language, "Parcel …{ref} is waiting at the {locker} locker ({address}) since {when}.",
                      ref=ref, locker=locker.name, address=locker.address, when=when or day_label(now, now, tz, language))
            if shipment.locker_pickup_code:
                reply += t(language, " Pickup code: {code}.", code=shipment.locker_pickup_code)
        elif (delivery := proof_of(session, shipment.id)) is not None:  # the carrier's proof: the same view as the page
            view = proof_view(delivery, language, tz, now)
            reply = " ".join([t(language, "Parcel …{ref} shows as delivered {when}.", ref=ref, when=view.at),
                              *proof_lines(view, language)])
            if view.has_photo:
                reply += " " + t(language, "The driver's photo: {link}", link=rt.link_for(shipment.id))
        else:
            arrived = [e for e in shipment.events if e.applied and e.status == shipment.status]
            where = arrived[-1].description if arrived else ""
            place = where.removeprefix("Delivered").strip(" ()") if where.startswith("Delivered") else where
            reply = t(language, "Parcel …{ref} shows as delivered {when}.", ref=ref, when=when) if when else t(
                language, "Parcel …{ref} shows as delivered.", ref=ref)
            if place:
                reply += t(language, " The driver noted: \"{place}\".", place=place)
        if shipment.instructions:
            reply += t(language, " Your note for the driver: \"{note}\".", note=shipment.instructions)
        return reply


def likely_places(shipment_id: int, language: str) -> list[str]:
    """Where a parcel shown as delivered most likely is: the neighbour or place the proof names, the
    safe place of the instructions in force, the locker, then around the property."""
    with runtime().sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        proof = session.query(DeliveryProof).filter(DeliveryProof.shipment_id == shipment_id).one_or_none()
        places: list[str] = []
        if proof is not None and proof.neighbour:
            places.append(t(language, "with your neighbour ({neighbour})", neighbour=proof.neighbour[:60]))
        instructions = proof.instructions_in_force if proof is not None else shipment.instructions
        if instructions:
            places.append(t(language, "where you asked: \"{note}\"", note=instructions[:80]))
        if shipment.status == ShipmentStatus.AT_LOCKER or (proof is not None and proof.place == DropPlace.LOCKER):
            places.append(t(language, "in the locker"))
        if proof is not None and proof.place == DropPlace.HANDED_OVER:
            places.append(t(language, "with someone at home who took it at the door"))
        else:
            places.append(t(language, "around the property or with a neighbour"))
        return places


def claim_of(shipment_id: int) -> str | None:
    """The reference of the parcel's claim, if it has one."""
    with runtime().sessions() as session:
        return session.query(Claim.reference).filter(Claim.shipment_id == shipment_id).scalar()


STATUS = {
    ShipmentStatus.LABEL_CREATED: N_("Parcel …{ref} isn't delivered yet: the sender has made the label, we don't have it yet."),
    ShipmentStatus.IN_TRANSIT: N_("Parcel …{ref} isn't delivered yet: it's on its way to us{eta}."),
    ShipmentStatus.AT_DEPOT: N_("Parcel …{ref} isn't delivered yet: it's at our depot{eta}."),
    ShipmentStatus.OUT_FOR_DELIVERY: N_("Parcel …{ref} isn't delivered yet: it's out with the driver{eta}."),
    ShipmentStatus.FAILED_ATTEMPT: N_("Parcel …{ref} isn't delivered yet: we missed you and will try again{eta}."),
    ShipmentStatus.RETURNED: N_("Parcel …{ref} wasn't delivered: it went back to the sender."),
}


def not_delivered_line(shipment_id: int, language: str) -> str:
    """One line: the parcel is not delivered yet, and where it is."""
    rt = runtime()
    now = rt.clock.now()
    with rt.sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        tz = shipment.customer.time_zone
        eta = t(language, ", expected {window}", window=window_text(shipment.eta_start, shipment.eta_end, now, tz, language)) \
            if shipment.eta_start and shipment.eta_end else ""
        template = STATUS.get(ShipmentStatus(shipment.status), N_("Parcel …{ref} isn't delivered yet{eta}."))
        return t(language, template, ref=shipment.tracking_number[-4:], eta=eta)


def customer_words(tracker: Tracker) -> str:
    """What the customer said about the missing parcel: their report_missing message, else the latest."""
    return words_of(tracker, ("report_missing",))


def recently_arrived(ctx: Context) -> list[Parcel]:
    return [p for p in ctx.parcels if p.status in ARRIVED and (p.arrived_at is None or p.arrived_at > ctx.now - RECENT)]


def answering_our_question(tracker: Tracker) -> bool:
    """Our last turn asked which parcel is missing."""
    return tracker.get_slot("pending_request") == "missing" and any(
        e.get("event") == "action" and e.get("name") == NAME for e in last_bot_turn(tracker))


def answering_check(tracker: Tracker) -> bool:
    """The latest message answers our "found it?" question."""
    return asked_in_last_turn(tracker, CHECK) is not None


async def missing_pick(tracker: Tracker) -> Parcel | None:
    """The parcel a reply to "which parcel is missing?" names ("2", "the shoes", "…1234"), if it is one."""
    if not answering_our_question(tracker):
        return None
    ctx = await context_for(tracker)
    return _named(tracker, ctx)


def _named(tracker: Tracker, ctx: Context) -> Parcel | None:
    text = str(tracker.latest_message.get("text") or "")
    entity = next(tracker.get_latest_entity_values("tracking_number"), None)
    return named_parcel(f"{entity or ''} {text}", ctx.parcels, listed=listed_in_last_turn(tracker, ctx.parcels))


class ReportMissing(Action):
    def name(self) -> str:
        return NAME

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ctx = await context_for(tracker)
        language = reply_language(tracker)
        done: list[EventType] = [SlotSet("pending_request", None), SlotSet("listed_parcels", None)]
        if not ctx.verified:
            dispatcher.utter_message(text=t(language, texts.ASK_TRACKING_NUMBER))
            return done
        asked = asked_in_last_turn(tracker, CHECK)
        if asked is not None:
            return [*done, *await self.checked(dispatcher, tracker, ctx, asked.shipment_id)]
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent in ("deny", "affirm"):  # a yes or no with no question of ours open
            dispatcher.utter_message(text=t(language, "OK, I've stopped. Nothing was changed.") if intent == "deny"
                                     else t(language, texts.HELP))
            return [*done, *question_done()]
        parcel = _named(tracker, ctx)
        if parcel is None:
            focus = parcel_of_last_turn(tracker)
            parcel = next((p for p in ctx.parcels if str(p.id) == str(focus)), None) if focus else None
        if parcel is None:
            arrived = recently_arrived(ctx)
            if len(arrived) > 1:
                shown = arrived[:MAX_LISTED]
                offer(dispatcher, tracker, t(language, "Sorry about that. Which parcel is missing?"),
                      [t(language, "{label}, delivered {day}", label=p.label,
                         day=day_label(p.arrived_at, ctx.now, ctx.tz, language)) if p.arrived_at else p.label for p in shown])
                return [SlotSet("pending_request", "missing"), SlotSet("listed_parcels", [str(p.id) for p in shown])]
            parcel = arrived[0] if arrived else None
        if parcel is None:
            on_the_way = [p for p in ctx.parcels if p.status not in ARRIVED][:3]
            if not on_the_way:
                dispatcher.utter_message(text=t(language, "I can't see a delivered parcel for you. If you have the "
                                                          "tracking number, send it. Reply AGENT for a person."))
                return done
            lines = [await off_loop(not_delivered_line, p.id, language) for p in on_the_way]
            dispatcher.utter_message(text="\n".join(lines))
            return done
        if parcel.status not in ARRIVED:
            dispatcher.utter_message(text=await off_loop(not_delivered_line, parcel.id, language))
            return [*done, SlotSet("shipment_id", str(parcel.id))]
        if await off_loop(claim_of, parcel.id) is not None:  # reported before: add to its claim
            ticket = await open_claim(tracker, ctx, parcel.id, ClaimKind.MISSING, customer_words(tracker))
            if ticket is not None:
                dispatcher.utter_message(text=ticket_reply(ticket, ctx, language))
                return [*done, SlotSet("shipment_id", str(parcel.id)), *question_done()]
        proof = await off_loop(proof_of_delivery, parcel.id, language)
        dispatcher.utter_message(text=proof)
        places = await off_loop(likely_places, parcel.id, language)
        dispatcher.utter_message(text=t(language, "It may be {places}. Have a look there. Found it? Reply YES if you "
                                                  "have it, NO if not.", places="; ".join(places)))
        return [*done, SlotSet("pending_request", "missing"), *ask(CHECK, parcel.id)]

    async def checked(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context,
                      shipment_id: int) -> list[EventType]:
        """The answer to "found it?": NO (or another report) opens the claim, YES closes kindly."""
        language = reply_language(tracker)
        answer = answer_of(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if answer == "cancel":
            dispatcher.utter_message(text=t(language, "OK, I've stopped. Nothing was changed."))
            return question_done()
        if answer == "yes":
            dispatcher.utter_message(text=t(language, "Glad you found it! Reply any time if you need anything."))
            return question_done()
        if answer == "no" or intent == "report_missing":
            ticket = await open_claim(tracker, ctx, shipment_id, ClaimKind.MISSING, customer_words(tracker))
            if ticket is None:  # not a parcel of this conversation's customer: nothing opened
                dispatcher.utter_message(text=t(language, texts.NOT_UNDERSTOOD))
                return question_done()
            dispatcher.utter_message(text=ticket_reply(ticket, ctx, language))
            return [SlotSet("shipment_id", str(shipment_id)), *question_done()]
        dispatcher.utter_message(text=t(language, "Sorry, did you find it? Reply YES if you have it, NO if not, "
                                                  "or AGENT for a person."))
        return [SlotSet("pending_request", "missing"), *ask(CHECK, shipment_id)]
