"""Who the customer is and which of their parcels the conversation is about, read from the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.runtime import channel_of, off_loop, runtime
from bot.conversation.identity import active_shipments, verified_link
from bot.core.models import Customer, Shipment, ShipmentStatus
from bot.text.offer_text import numbered

# What each change needs the parcel to be: on its way, or delivered and returnable.
CHANGE_KINDS = ("reschedule", "locker", "instructions", "address", "return")


@dataclass(frozen=True)
class Parcel:
    id: int
    tracking_number: str
    carrier: str
    status: str
    items: list[dict[str, Any]]
    return_until: datetime | None
    arrived_at: datetime | None = None  # delivered, or put in the locker
    going_to_locker: bool = False  # redirected to a locker, not there yet

    @property
    def short(self) -> str:
        return self.tracking_number[-4:]

    @property
    def label(self) -> str:
        names = ", ".join(item["name"] for item in self.items[:2])
        return f"…{self.short} ({names})" if names else f"…{self.short}"


@dataclass(frozen=True)
class Context:
    verified: bool
    customer_id: int | None
    customer_name: str
    tz: str
    now: datetime
    parcels: list[Parcel]  # what this conversation may see, most urgent first

    def eligible(self, kind: str) -> list[Parcel]:
        if kind == "return":
            return [p for p in self.parcels if p.status == ShipmentStatus.DELIVERED and p.return_until
                    and p.return_until > self.now]
        return [p for p in self.parcels if p.status not in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)]

    def current(self, kind: str, shipment_id: str | None) -> Parcel | None:
        """The parcel under discussion ("it"), or the only one that fits; None when ambiguous."""
        candidates = self.eligible(kind)
        chosen = [p for p in candidates if shipment_id and str(p.id) == str(shipment_id)]
        if chosen:
            return chosen[0]
        return candidates[0] if len(candidates) == 1 else None


def _parcel(shipment: Shipment) -> Parcel:
    arrived = shipment.delivered_at if shipment.status == ShipmentStatus.DELIVERED else (
        shipment.status_at if shipment.status == ShipmentStatus.AT_LOCKER else None)
    return Parcel(shipment.id, shipment.tracking_number, shipment.carrier, shipment.status, list(shipment.items),
                  shipment.return_until, arrived, shipment.locker_id is not None)


def load_context(channel: str, sender_id: str) -> Context:
    rt = runtime()
    now = rt.clock.now()
    with rt.sessions() as session, session.begin():
        link = verified_link(session, channel=channel, sender_id=sender_id)
        if link is None or link.customer_id is None:
            return Context(False, None, "", "Europe/Berlin", now, [])
        customer = session.get(Customer, link.customer_id)
        assert customer is not None
        if link.shipment_id is not None:  # verified with one parcel's details: that parcel only
            shipment = session.get(Shipment, link.shipment_id)
            shipments = [shipment] if shipment is not None else []
        else:
            delivered = [s for s in customer.shipments if s.status == ShipmentStatus.DELIVERED]
            shipments = active_shipments(session, customer.id) + sorted(
                delivered, key=lambda s: s.delivered_at or now, reverse=True)
        return Context(True, customer.id, customer.name, customer.time_zone, now, [_parcel(s) for s in shipments])


_MEMO = "_doorstep_context"


async def context_for(tracker: Tracker) -> Context:
    """The conversation's context, read from the database once per action call.

    A form's validation needs it in several places (its required slots, each slot's check, the
    carrier's capabilities), and each read is several queries. rasa-sdk builds a new `Tracker` for
    every call, so the memo on it lives exactly one call; `forget_context` after a write that
    changes what it holds (verification, a committed change).
    """
    key = (channel_of(tracker), tracker.sender_id)
    memo = tracker.__dict__.get(_MEMO)
    if memo is not None and memo[0] == key:
        return memo[1]
    ctx = await off_loop(load_context, *key)
    tracker.__dict__[_MEMO] = (key, ctx)
    return ctx


def forget_context(tracker: Tracker) -> None:
    tracker.__dict__.pop(_MEMO, None)


def is_sms(tracker: Tracker) -> bool:
    return channel_of(tracker) == "twilio"


def offer(dispatcher: CollectingDispatcher, tracker: Tracker, question: str, options: list[str],
          footer: str = "") -> None:
    """Numbered options in one SMS; buttons in web chat (their payload is the option number)."""
    if is_sms(tracker):
        dispatcher.utter_message(text=numbered(question, options, footer))
    else:
        buttons = [{"title": text, "payload": str(n)} for n, text in enumerate(options, start=1)]
        dispatcher.utter_message(text=question + (f" {footer}" if footer else ""), buttons=buttons)
