""""It says delivered but I never got it": what we know as proof of delivery, then a person.

Never a tracking list: the customer is told what the carrier recorded (when, where it was left, the
note in force, the locker and its code) and that a person will follow up; the person gets the same
proof and the customer's words in the handoff summary. A parcel that isn't delivered yet gets its
status in one line instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import texts
from actions.context import Context, Parcel, context_for, offer
from actions.handoff import open_handoff
from actions.language import reply_language
from actions.parcel_choice import last_bot_turn, listed_in_last_turn, named_parcel, parcel_of_last_turn
from actions.runtime import off_loop, runtime
from bot.aftercare.proof import proof_lines, proof_of, proof_view
from bot.clock import sim_now
from bot.models import Shipment, ShipmentStatus
from bot.text import N_, t
from bot.timefmt import clock, day_label
from bot.timefmt import window as window_text

RECENT = timedelta(days=14)  # "delivered recently": what a customer could still be waiting for
ARRIVED = (ShipmentStatus.DELIVERED, ShipmentStatus.AT_LOCKER)
MAX_LISTED = 5
NAME = "action_report_missing"


@dataclass(frozen=True)
class Proof:
    """What we know about a parcel's delivery: for the customer (`reply`) and for the agent (`record`)."""

    reply: str
    record: str


def proof_of_delivery(shipment_id: int, language: str) -> Proof:
    """The carrier's record of the delivery, as the tracking page's proof rows show it (the proof view where
    the carrier gave a proof of delivery, else what its delivered event said)."""
    rt = runtime()
    with rt.sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        now, tz = sim_now(session), shipment.customer.time_zone
        ref = shipment.tracking_number[-4:]
        arrived = [e for e in shipment.events if e.applied and e.status == shipment.status]
        at = shipment.delivered_at or shipment.status_at
        where = arrived[-1].description if arrived else ""
        place = where.removeprefix("Delivered").strip(" ()") if where.startswith("Delivered") else where
        note = shipment.instructions or ""
        when = t(language, "{day} at {time}", day=day_label(at, now, tz, language), time=clock(at, tz)) if at else ""
        record = [f"Proof of delivery for {shipment.tracking_number} ({shipment.carrier}): status {shipment.status}",
                  f"at {at.astimezone(ZoneInfo(tz)).isoformat(timespec='minutes')} ({tz})" if at else "time not recorded"]
        if shipment.status == ShipmentStatus.AT_LOCKER and shipment.locker is not None:
            locker = shipment.locker
            reply = t(language, "Parcel …{ref} is waiting at the {locker} locker ({address}) since {when}.",
                      ref=ref, locker=locker.name, address=locker.address, when=when or day_label(now, now, tz, language))
            if shipment.locker_pickup_code:
                reply += t(language, " Pickup code: {code}.", code=shipment.locker_pickup_code)
            record.append(f"locker {locker.name}, {locker.address}, pickup code {shipment.locker_pickup_code or '-'}")
        elif (delivery := proof_of(session, shipment.id)) is not None:  # the carrier's proof: the same view as the page
            view = proof_view(delivery, language, tz, now)
            reply = " ".join([t(language, "Parcel …{ref} shows as delivered {when}.", ref=ref, when=view.at),
                              *proof_lines(view, language)])
            if view.has_photo:
                reply += " " + t(language, "The driver's photo: {link}", link=rt.link_for(shipment.id))
            record.append(f"address {shipment.address_line}, {shipment.postcode} {shipment.city}")
            record.append(f"drop: place {delivery.place or '-'}, neighbour {delivery.neighbour or '-'}, "
                          f"{delivery.distance_m if delivery.distance_m is not None else '?'} m from the address, "
                          f"driver's note \"{delivery.note or '-'}\", photo {'yes' if view.has_photo else 'no'}, "
                          f"compared with the instructions: {delivery.compliance}")
        else:
            reply = t(language, "Parcel …{ref} shows as delivered {when}.", ref=ref, when=when) if when else t(
                language, "Parcel …{ref} shows as delivered.", ref=ref)
            if place:
                reply += t(language, " The driver noted: \"{place}\".", place=place)
            record.append(f"address {shipment.address_line}, {shipment.postcode} {shipment.city}")
        if note:
            reply += t(language, " Your note for the driver: \"{note}\".", note=note)
        record.append(f"carrier event: \"{where or '-'}\"; instructions in force: \"{note or '-'}\"")
        return Proof(reply, "; ".join(record))


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
    with runtime().sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        now, tz = sim_now(session), shipment.customer.time_zone
        eta = t(language, ", expected {window}", window=window_text(shipment.eta_start, shipment.eta_end, now, tz, language)) \
            if shipment.eta_start and shipment.eta_end else ""
        template = STATUS.get(ShipmentStatus(shipment.status), N_("Parcel …{ref} isn't delivered yet{eta}."))
        return t(language, template, ref=shipment.tracking_number[-4:], eta=eta)


def customer_words(tracker: Tracker) -> str:
    """What the customer said about the missing parcel: their report_missing message, else the latest."""
    for event in reversed(tracker.events):
        if event.get("event") == "user" and (event.get("parse_data") or {}).get("intent", {}).get("name") == \
                "report_missing":
            return str(event.get("text") or "")
    return str(tracker.latest_message.get("text") or "")


def recently_arrived(ctx: Context) -> list[Parcel]:
    return [p for p in ctx.parcels if p.status in ARRIVED and (p.arrived_at is None or p.arrived_at > ctx.now - RECENT)]


def answering_our_question(tracker: Tracker) -> bool:
    """Our last turn asked which parcel is missing."""
    return tracker.get_slot("pending_request") == "missing" and any(
        e.get("event") == "action" and e.get("name") == NAME for e in last_bot_turn(tracker))


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
            dispatcher.utter_message(text=texts.ASK_TRACKING_NUMBER)
            return done
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
        proof = await off_loop(proof_of_delivery, parcel.id, language)
        dispatcher.utter_message(text=proof.reply)
        dispatcher.utter_message(text=t(language, "I've passed this to our team. A person will look into it and reply "
                                                  "here, usually within 15 minutes (8:00-20:00)."))
        details = f"{proof.record}\nCustomer said: \"{customer_words(tracker)}\""
        events = await open_handoff(tracker, reason="missing", shipment_id=parcel.id, details=details)
        return [*done, SlotSet("shipment_id", str(parcel.id)), *events]
