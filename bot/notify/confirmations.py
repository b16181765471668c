"""A change made outside a conversation (the tracking page, the HTTP API) told on the customer's channel.

In the chat the bot confirms a change itself, and an agent's change is said in the customer's conversation;
a change made on the tracking page has nobody to say it, so one `change_confirmed` message is planned
(issue 16). Its dedupe key names the change (kind, what it changed, the minute), so a form sent twice,
or a retried request, plans it once; the dispatcher sends it once.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.core.models import Shipment
from bot.notify.planner import Wanted, insert_plans, plan_row, situations, wanted_channel
from bot.notify.rules import Rules

TRIGGER = "change_confirmed"


def change_key(kind: str, what: dict[str, Any], now: datetime) -> str:
    """The change as a variant of the message's key: its kind, a digest of what it changed, the minute."""
    digest = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{kind}:{digest}:{now.strftime('%Y%m%dT%H%M')}"


def plan_confirmation(session: Session, *, shipment_id: int, kind: str, what: dict[str, Any], now: datetime,
                      rules: Rules) -> bool:
    """Plan the message that tells the customer about the change, due now; False if there is no channel to
    tell them on (opted out everywhere) or it was planned already."""
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        return False
    situation = situations(session, [shipment], now)[shipment.id]
    channel = wanted_channel(rules, TRIGGER, shipment.customer, situation)
    if channel is None:
        return False
    want = Wanted(TRIGGER, change_key(kind, what, now), now, channel, {"change": kind})
    return insert_plans(session, [plan_row(shipment, want, want.dedupe_key(shipment.id), now, "planned")], now) == 1
