"""Where is my parcel: live status and ETA window, for the verified customer's parcels only."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import complaint, profile, texts
from actions.dialogue import ReturnStatus
from actions.handoff import open_handoff
from actions.identity import MAX_ATTEMPTS
from actions.language import reply_language
from actions.missing import ReportMissing, answering_check, missing_pick
from actions.rating import handle_rating
from actions.runtime import channel_of, off_loop, runtime
from bot.aftercare.proof import proof_message, proof_of, proof_view
from bot.carriers import CarrierError
from bot.conversation.answers import fold
from bot.conversation.identity import active_shipments, normalise_tracking_number, verified_link
from bot.conversation.sentiment import is_angry
from bot.core.models import Customer, Shipment, ShipmentStatus
from bot.text import t
from bot.text.status_text import describe, status_line


@dataclass
class TrackAnswer:
    texts: list[str]
    verified: bool
    shipment_id: int | None = None
    response: str | None = None
    listed: list[str] | None = None  # parcel ids behind the numbers of a "which parcel" list


@dataclass(frozen=True)
class TrackRequest:
    channel: str
    sender_id: str
    tracking_number: str | None = None  # "where is DS…"
    picked: int | None = None  # "2" after a list
    listed: tuple[str, ...] = ()
    focus: str | None = None  # the parcel under discussion, when they say "it"
    language: str = "en"
    where_left: bool = False  # "where did you leave it?": a delivered parcel is meant


def track_answer(request: TrackRequest) -> TrackAnswer:
    rt, lang = runtime(), request.language
    now = rt.clock.now()
    with rt.sessions() as session, session.begin():
        link = verified_link(session, channel=request.channel, sender_id=request.sender_id)
        if link is None or link.customer_id is None:
            return TrackAnswer([], verified=False, response=t(lang, texts.ASK_TRACKING_NUMBER))
        customer = session.get(Customer, link.customer_id)
        assert customer is not None
        shipments = _visible(session, link.customer_id, link.shipment_id)
        wanted = normalise_tracking_number(request.tracking_number or "")
        if wanted:
            shipments = [s for s in shipments if s.tracking_number == wanted] or _own(session, customer, wanted)
            if not shipments:
                return TrackAnswer([t(lang, "I can only show parcels addressed to you. Reply AGENT for a person.")], True)
        elif request.picked and 0 < request.picked <= len(request.listed):
            shipments = [s for s in shipments if str(s.id) == request.listed[request.picked - 1]] or shipments
        elif request.focus and any(str(s.id) == request.focus for s in shipments):
            shipments = [s for s in shipments if str(s.id) == request.focus]
        elif request.where_left and link.shipment_id is None:
            shipments = _delivered_meant(customer, request.focus) or shipments
        if not shipments:
            return TrackAnswer([], True, response=t(lang, texts.NO_ACTIVE_SHIPMENT))
        summaries = []
        for shipment in shipments[:MAX_LISTED]:
            try:
                info = rt.carrier(shipment.carrier).track(shipment.tracking_number)
            except CarrierError:
                summaries.append(t(lang, "I can't reach the carrier for parcel {ref} right now. "
                                         "Try again in a few minutes, or reply AGENT for a person.",
                                   ref=shipment.tracking_number[-4:]))
                continue
            proof = proof_of(session, shipment.id) if info.status == ShipmentStatus.DELIVERED else None
            if len(shipments) == 1 and proof is not None:  # where it was left, when, the note and the photo's link
                view = proof_view(proof, lang, customer.time_zone, now)
                summaries.append(proof_message(view, ref=shipment.tracking_number[-4:], link=rt.link_for(shipment.id),
                                               language=lang))
            elif len(shipments) == 1:
                summaries.append(describe(shipment, info, now=now, tz=customer.time_zone,
                                          link=rt.link_for(shipment.id), language=lang))
            else:
                summaries.append(status_line(shipment, info, now=now, tz=customer.time_zone, language=lang))
        if len(shipments) == 1:
            return TrackAnswer(summaries, True, shipments[0].id)
        # Several on their way: one short list (status and window each), then a number for details.
        lines = [t(lang, "You have {count} parcels on the way:", count=len(shipments))]
        for number, (shipment, summary) in enumerate(zip(shipments, summaries, strict=False), start=1):
            item = shipment.items[0]["name"] if shipment.items else t(lang, "parcel")
            lines.append(f"{number}. ({item}) {summary}")
        lines.append(t(lang, "Reply a number for its tracking link."))
        return TrackAnswer(["\n".join(lines)], True, listed=[str(s.id) for s in shipments[:MAX_LISTED]])


def _visible(session: Session, customer_id: int, shipment_id: int | None) -> list[Shipment]:
    """A web chat verified with one parcel's details sees that parcel; a phone sees all of theirs."""
    if shipment_id is not None:
        shipment = session.get(Shipment, shipment_id)
        return [shipment] if shipment is not None else []
    return active_shipments(session, customer_id)


def _own(session: Session, customer: Customer, tracking_number: str) -> list[Shipment]:
    return [s for s in customer.shipments if s.tracking_number == tracking_number]


def _delivered_meant(customer: Customer, focus: str | None) -> list[Shipment]:
    """"Where did you leave it?" over SMS: the parcel under discussion if it is delivered, else the latest one."""
    delivered = sorted((s for s in customer.shipments if s.status_enum == ShipmentStatus.DELIVERED and s.delivered_at),
                       key=lambda s: s.delivered_at or s.created_at, reverse=True)
    return [s for s in delivered if str(s.id) == focus][:1] or delivered[:1]


# "Where did you leave it?", "wo haben Sie es abgelegt?", "waar hebben jullie het neergezet?" (folded text)
WHERE_LEFT = re.compile(r"\b(?:where|wo|wohin|waar)\b.*\b(?:leave|left|put|drop(?:ped)?|deliver(?:ed)?|"
                        r"abgelegt|abgestellt|hingelegt|hingestellt|gelassen|gelegt|zugestellt|abgegeben|"
                        r"neergezet|neergelegd|gelaten|gelegd|gezet|achtergelaten|afgeleverd|bezorgd|afgegeven)\b")


def asks_where_left(text: str) -> bool:
    return WHERE_LEFT.search(fold(text)) is not None


MAX_LISTED = 3
# The parcel the conversation is about: "where is it", "wo ist es", "waar is het", "das Paket", "dat pakket"
IT = re.compile(r"\b(it|its|it's|that one|this one|es|das|dieses|diese|ihn|das paket|die sendung|het|dat|deze|die|"
                r"dat pakket|het pakket)\b", re.IGNORECASE)


async def _run_track(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    text = str(tracker.latest_message.get("text") or "")
    number = next(tracker.get_latest_entity_values("option_number"), None)
    request = TrackRequest(
        channel=channel_of(tracker), sender_id=tracker.sender_id,
        tracking_number=tracker.get_slot("tracking_number"),
        picked=int(str(number).strip(" .)")) if number and str(number).strip(" .)").isdigit() else None,
        listed=tuple(tracker.get_slot("listed_parcels") or ()),
        focus=tracker.get_slot("shipment_id") if IT.search(text) else None,
        language=reply_language(tracker),
        where_left=asks_where_left(text),
    )
    answer = await off_loop(track_answer, request)
    if answer.response:
        dispatcher.utter_message(text=answer.response)
    for text in answer.texts:
        dispatcher.utter_message(text=text)
    events: list[EventType] = [SlotSet("verified", answer.verified), SlotSet("tracking_number", None)]
    if answer.shipment_id is not None:
        events.append(SlotSet("shipment_id", str(answer.shipment_id)))
    events.append(SlotSet("listed_parcels", answer.listed))
    if answer.verified and is_angry(str(tracker.latest_message.get("text") or "")):
        dispatcher.utter_message(text=t(reply_language(tracker), "I'm sorry this has been frustrating. "
                                        "I've asked a person to look at it too; they'll reply here."))
        events += await open_handoff(tracker, reason="angry")
    return events


class ActionTrack(Action):
    def name(self) -> str:
        return "action_track"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        rating = await handle_rating(dispatcher, tracker)  # "4" after "delivered, how did we do?"
        if rating is not None:
            return rating
        if await missing_pick(tracker) is not None or answering_check(tracker):  # "2", "still not here"
            return await ReportMissing().run(dispatcher, tracker, domain)
        if complaint.answering(tracker):  # "2" after "which parcel is it about?"
            return await complaint.DeliveryComplaint().run(dispatcher, tracker, domain)
        return await _run_track(dispatcher, tracker)


class ActionAfterVerification(Action):
    """The verification form ended: carry on with what the customer asked, or offer a person."""

    def name(self) -> str:
        return "action_after_verification"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if not tracker.get_slot("verified"):
            if (tracker.get_slot("verify_attempts") or 0) >= MAX_ATTEMPTS:
                dispatcher.utter_message(text=t(reply_language(tracker), texts.VERIFY_LOCKED))
            return [SlotSet("tracking_number", None), SlotSet("postcode", None), SlotSet("pending_request", None)]
        if tracker.get_slot("pending_request") == "return_status":
            return await ReturnStatus().run(dispatcher, tracker, domain)
        if tracker.get_slot("pending_request") == "missing":
            return await ReportMissing().run(dispatcher, tracker, domain)
        if tracker.get_slot("pending_request") == "complaint":
            return await complaint.DeliveryComplaint().run(dispatcher, tracker, domain)
        if tracker.get_slot("pending_request") == "profile":  # issue 16: the recipient profile
            return await profile.ProposeProfileChange().run(dispatcher, tracker, domain)
        return [*await _run_track(dispatcher, tracker), SlotSet("pending_request", None)]
