"""Which parcel a message is about: one it names, or the one our last message was about. Never a guess.

With several parcels, "move it" must not act on whichever parcel we happened to text about last week:
a parcel is taken only when the message names it (tracking number, its last 4 digits, an item in it,
an ordinal from the list we just showed) or when our last message before it was about that parcel
alone (a notification, a status answer for one parcel).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rasa_sdk import Tracker

from actions.context import Parcel
from actions.notified import notification_of
from bot.conversation.choices import ORDINALS, option_number
from bot.conversation.identity import normalise_tracking_number

TRACKING = re.compile(r"\bDS\s?\d{10}\b", re.IGNORECASE)
# The last 4 digits, also at the end of a sentence or before a colon ("3848: bin morgen nicht da"); not in
# "10:30", "12.12.2026" or "1234/5678"
FOUR_DIGITS = re.compile(r"(?<![\d:.,/])(\d{4})(?!\d|[:.,/]\d)")
LIST_ACTIONS = {"action_track", "validate_change_form", "action_report_missing", "change_form",
                "action_delivery_complaint"}


def last_bot_turn(tracker: Tracker) -> list[dict[str, Any]]:
    """The events between the customer's previous message and this one (our last turn)."""
    users = [i for i, e in enumerate(tracker.events) if e.get("event") == "user"]
    if not users:
        return []
    start = users[-2] + 1 if len(users) > 1 else 0
    return list(tracker.events[start:users[-1]])


def named_parcel(text: str, parcels: Sequence[Parcel], *, listed: Sequence[Parcel] = ()) -> Parcel | None:
    """The parcel the text names among `parcels`; `listed` are the options of a numbered list just shown."""
    found = TRACKING.search(text)
    if found:
        wanted = normalise_tracking_number(found.group(0).replace(" ", ""))
        return next((p for p in parcels if p.tracking_number == wanted), None)
    shorts = {m for m in FOUR_DIGITS.findall(text)}
    by_short = [p for p in parcels if p.short in shorts]
    if len(by_short) == 1:
        return by_short[0]
    if listed:
        number = option_number(text, len(listed))
        if number is None:
            words = re.findall(r"[a-z0-9]+", text.lower())
            number = next((ORDINALS[w] for w in words if w in ORDINALS and ORDINALS[w] <= len(listed)), None)
        if number is not None:
            return listed[number - 1]
    lowered = text.lower()
    by_item = [p for p in parcels if any(str(i.get("name", "")).lower() in lowered for i in p.items if i.get("name"))]
    return by_item[0] if len(by_item) == 1 else None


def listed_in_last_turn(tracker: Tracker, parcels: Sequence[Parcel]) -> list[Parcel]:
    """The parcels of the numbered list our last turn showed (`listed_parcels`), if it showed one."""
    ids = [str(i) for i in tracker.get_slot("listed_parcels") or []]
    turn = last_bot_turn(tracker)
    if not ids or not any(e.get("event") == "action" and e.get("name") in LIST_ACTIONS for e in turn):
        return []
    by_id = {str(p.id): p for p in parcels}
    return [by_id[i] for i in ids if i in by_id]


def parcel_of_last_turn(tracker: Tracker) -> str | None:
    """The parcel our last turn was about, if it was about exactly one: a notification we sent, or a
    status answer for one parcel (a `shipment_id` set with no list)."""
    turn = last_bot_turn(tracker)
    notified = {n.shipment_id for n in map(notification_of, turn) if n is not None}
    if len(notified) == 1:
        return str(notified.pop())
    if notified:
        return None
    focus = [e.get("value") for e in turn if e.get("event") == "slot" and e.get("name") == "shipment_id"]
    listed = [e.get("value") for e in turn if e.get("event") == "slot" and e.get("name") == "listed_parcels"]
    if focus and focus[-1] and not (listed and listed[-1]):
        return str(focus[-1])
    return None


def focus_for_request(tracker: Tracker, parcels: Sequence[Parcel]) -> str | None:
    """The shipment id a new request is about, or None when the customer has to say which."""
    text = str(tracker.latest_message.get("text") or "")
    entity = next(tracker.get_latest_entity_values("tracking_number"), None)
    named = named_parcel(f"{entity or ''} {text}", parcels, listed=listed_in_last_turn(tracker, parcels))
    if named is not None:
        return str(named.id)
    previous = parcel_of_last_turn(tracker)
    if previous is not None and any(str(p.id) == previous for p in parcels):
        return previous
    return None
