""""The driver left it outside in the rain", "the driver never knocked, I was home": a complaint.

The parcel is the one the message names or our last message was about (actions/parcel_choice.py),
else the only recently delivered (or failed) one, else the customer picks from a list. One question
confirms it; YES raises a claim: `not_as_asked`, or `disputed_attempt` when the parcel's last event is
a failed attempt (with the offer of a new window: RESCHEDULE). The claim goes to the carrier where it
takes claims and to the console's claims list. NO to our proactive "left at the back door, not as you
asked. All OK?" message raises the `not_as_asked` claim at once. AGENT is a person at every step.
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
from actions.notified import notification_of
from actions.parcel_choice import last_bot_turn, listed_in_last_turn, named_parcel, parcel_of_last_turn
from actions.runtime import off_loop, runtime
from bot.core.models import ClaimKind, Shipment, ShipmentStatus
from bot.text import t
from bot.text.timefmt import day_label

NAME = "action_delivery_complaint"
INTENT = "delivery_complaint"
CONFIRM = "complaint_confirm"
ASKED_BY_US = "delivery_check"  # the notification's question (bot/notify: "All OK? Reply NO to raise it.")
RECENT = timedelta(days=14)
CONCERNED = (ShipmentStatus.DELIVERED, ShipmentStatus.AT_LOCKER, ShipmentStatus.FAILED_ATTEMPT)
MAX_LISTED = 5


def kind_of(shipment_id: int) -> ClaimKind:
    """A complaint about a failed attempt ("not in" while home) disputes it; otherwise it is about the drop."""
    with runtime().sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        applied = [e for e in shipment.events if e.applied]
        last = applied[-1].status if applied else shipment.status
        return ClaimKind.DISPUTED_ATTEMPT if last == ShipmentStatus.FAILED_ATTEMPT else ClaimKind.NOT_AS_ASKED


def concerned(ctx: Context) -> list[Parcel]:
    return [p for p in ctx.parcels if p.status in CONCERNED
            and (p.status == ShipmentStatus.FAILED_ATTEMPT or p.arrived_at is None or p.arrived_at > ctx.now - RECENT)]


def asked_by_notification(tracker: Tracker) -> int | None:
    """The parcel our "All OK?" message was about, when the latest message answers it."""
    notified = [n for n in map(notification_of, last_bot_turn(tracker)) if n is not None]
    if notified and notified[-1].trigger == ASKED_BY_US:
        return notified[-1].shipment_id
    return None


def _listed_by_us(tracker: Tracker) -> bool:
    turn = last_bot_turn(tracker)
    return any(e.get("event") == "action" and e.get("name") == NAME for e in turn) and any(
        e.get("event") == "slot" and e.get("name") == "listed_parcels" and e.get("value") for e in turn)


def answering(tracker: Tracker) -> bool:
    """The latest message answers one of this flow's questions: our YES/NO, our "All OK?" message, or
    our list of parcels (so the fallback and the tracking action hand it here)."""
    return asked_in_last_turn(tracker, CONFIRM) is not None or asked_by_notification(tracker) is not None \
        or _listed_by_us(tracker)


def _pick(tracker: Tracker, ctx: Context) -> Parcel | None:
    text = str(tracker.latest_message.get("text") or "")
    entity = next(tracker.get_latest_entity_values("tracking_number"), None)
    listed = listed_in_last_turn(tracker, ctx.parcels) if _listed_by_us(tracker) else []
    named = named_parcel(f"{entity or ''} {text}", ctx.parcels, listed=listed)
    if named is not None:
        return named
    focus = parcel_of_last_turn(tracker)
    return next((p for p in ctx.parcels if str(p.id) == str(focus)), None) if focus else None


class DeliveryComplaint(Action):
    def name(self) -> str:
        return NAME

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ctx = await context_for(tracker)
        language = reply_language(tracker)
        cleared: list[EventType] = [SlotSet("pending_request", None), SlotSet("listed_parcels", None)]
        if not ctx.verified:
            dispatcher.utter_message(text=t(language, texts.ASK_TRACKING_NUMBER))
            return cleared
        answer = answer_of(tracker)
        notified = asked_by_notification(tracker)
        if notified is not None and any(p.id == notified for p in ctx.parcels):
            return [*cleared, *await self.after_our_check(dispatcher, tracker, ctx, notified, answer)]
        confirm = asked_in_last_turn(tracker, CONFIRM)
        if confirm is not None:
            return [*cleared, *await self.confirmed(dispatcher, tracker, ctx, confirm.shipment_id, answer)]
        if answer == "cancel":
            dispatcher.utter_message(text=t(language, "OK, I've stopped. Nothing was changed."))
            return [*cleared, *question_done()]
        parcel = _pick(tracker, ctx)
        if parcel is None:
            candidates = concerned(ctx)
            if len(candidates) > 1:
                shown = candidates[:MAX_LISTED]
                offer(dispatcher, tracker, t(language, "Sorry about that. Which parcel is it about?"),
                      [t(language, "{label}, delivered {day}", label=p.label,
                         day=day_label(p.arrived_at, ctx.now, ctx.tz, language)) if p.arrived_at else p.label
                       for p in shown], footer=t(language, "Reply AGENT for a person."))
                return [SlotSet("pending_request", "complaint"), SlotSet("listed_parcels", [str(p.id) for p in shown])]
            parcel = candidates[0] if candidates else None
        if parcel is None or parcel.status not in CONCERNED:
            dispatcher.utter_message(text=t(language, "I can't see a delivered parcel for you. If you have the "
                                                      "tracking number, send it. Reply AGENT for a person."))
            return [*cleared, *question_done()]
        kind = await off_loop(kind_of, parcel.id)
        if kind == ClaimKind.DISPUTED_ATTEMPT:
            question = t(language, "Sorry about that. Our driver recorded that nobody was in for parcel …{ref}. "
                                   "Shall I raise a complaint? Reply YES or NO.", ref=parcel.short)
        else:
            question = t(language, "Sorry about that. Shall I raise a complaint about how parcel …{ref} was "
                                   "delivered? Reply YES or NO.", ref=parcel.short)
        dispatcher.utter_message(text=question)
        return [*cleared, SlotSet("pending_request", "complaint"), *ask(CONFIRM, parcel.id)]

    async def confirmed(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context, shipment_id: int,
                        answer: str) -> list[EventType]:
        language = reply_language(tracker)
        if answer in ("no", "cancel"):
            dispatcher.utter_message(text=t(language, "OK, I haven't raised anything. Reply AGENT for a person."))
            return question_done()
        if answer != "yes":
            dispatcher.utter_message(text=t(language, "Shall I raise the complaint? Reply YES or NO, "
                                                      "or AGENT for a person."))
            return [SlotSet("pending_request", "complaint"), *ask(CONFIRM, shipment_id)]
        kind = await off_loop(kind_of, shipment_id)
        return await self.raise_claim(dispatcher, tracker, ctx, shipment_id, kind, words_of(tracker, (INTENT,)))

    async def after_our_check(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context,
                              shipment_id: int, answer: str) -> list[EventType]:
        """The answer to our "not as you asked. All OK? Reply NO to raise it." message."""
        language = reply_language(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if answer == "yes" or answer == "cancel":
            dispatcher.utter_message(text=t(language, "Good to hear. Thanks for letting us know!"))
            return question_done()
        if answer == "no" or intent == INTENT:
            words = str(tracker.latest_message.get("text") or "")
            return await self.raise_claim(dispatcher, tracker, ctx, shipment_id, ClaimKind.NOT_AS_ASKED, words)
        dispatcher.utter_message(text=t(language, texts.NOT_UNDERSTOOD))
        return question_done()

    async def raise_claim(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context, shipment_id: int,
                          kind: ClaimKind, words: str) -> list[EventType]:
        language = reply_language(tracker)
        ticket = await open_claim(tracker, ctx, shipment_id, kind, words)
        if ticket is None:  # not a parcel of this conversation's verified customer: nothing raised
            dispatcher.utter_message(text=t(language, texts.NOT_UNDERSTOOD))
            return question_done()
        reply = ticket_reply(ticket, ctx, language)
        if ticket.kind == ClaimKind.DISPUTED_ATTEMPT and ticket.new:
            reply += " " + t(language, "Reply RESCHEDULE to pick a new time.")
        dispatcher.utter_message(text=reply)
        return [SlotSet("shipment_id", str(shipment_id)), *question_done()]
