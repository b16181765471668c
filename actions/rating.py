"""The answer to a "delivered, how did we do? Reply 1 to 5" message: a number straight after that
message is a rating of that delivery. It is kept (audit log), thanked for, and a low one opens a
handoff so that a person follows up. Anything else is an ordinary message."""

from __future__ import annotations

import re

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.handoff import open_handoff
from actions.language import reply_language
from actions.notified import notification_of
from actions.runtime import channel_of, off_loop, runtime
from bot.conversation.identity import link_may_see, verified_link
from bot.core.db import transaction
from bot.core.models import AuditLog
from bot.notify.rules import cached_rules
from bot.text import t

# "4", "4/5", "4 stars", "vier Sterne", "4 von 5", "vijf sterren", "4 van de 5"
SCORE_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "eins": 1, "ein": 1, "einen": 1, "zwei": 2,
               "drei": 3, "vier": 4, "funf": 5, "fünf": 5, "fuenf": 5, "een": 1, "één": 1, "twee": 2, "drie": 3,
               "vijf": 5}
SCORE = re.compile(rf"^\s*([1-5]|{'|'.join(SCORE_WORDS)})\s*(?:(?:/|of|out of|von|van|van de)\s*(?:5|five|fünf|funf|vijf)|"
                   r"stars?|sterne?|sterren|ster)?\s*[.!]*\s*$", re.IGNORECASE)


def score_of(text: str) -> int | None:
    """The 1-5 rating a whole message is, in digits or words; None for anything else."""
    match = SCORE.match(text)
    if match is None:
        return None
    value = match.group(1).lower()
    return int(value) if value.isdigit() else SCORE_WORDS[value]


def rated_delivery(tracker: Tracker) -> tuple[int, int] | None:
    """(score, shipment id) when the latest message answers a delivered notification with 1-5."""
    score = score_of(str(tracker.latest_message.get("text") or ""))
    if score is None:
        return None
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return None  # the customer said something else in between
            seen_user = True
            continue
        if kind == "bot":
            notified = notification_of(event)
            if notified is not None and notified.trigger == "delivered":
                return score, notified.shipment_id
            return None
    return None


def _record(channel: str, sender_id: str, shipment_id: int, score: int) -> bool:
    """Keep the rating; False (nothing kept) when the rated parcel is not this conversation's."""
    with transaction(runtime().sessions) as session:
        if not link_may_see(session, verified_link(session, channel=channel, sender_id=sender_id), shipment_id):
            return False
        session.add(AuditLog(actor=f"customer:sms:{sender_id}", action="delivery_rating", entity="shipment",
                             entity_id=str(shipment_id), detail={"score": score}))
        return True


async def handle_rating(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType] | None:
    rated = rated_delivery(tracker)
    if rated is None:
        return None
    score, shipment_id = rated
    if not await off_loop(_record, channel_of(tracker), tracker.sender_id, shipment_id, score):
        return None  # not a rating of one of theirs: an ordinary message
    if score < cached_rules(runtime().settings.notification_rules).rating_handoff_below:
        dispatcher.utter_message(text=t(reply_language(tracker), texts.RATING_LOW))
        return await open_handoff(tracker, reason="low_rating", shipment_id=shipment_id)
    dispatcher.utter_message(text=t(reply_language(tracker), texts.RATING_THANKS))
    return []
