"""Our own messages (notifications) as the conversation records them: a bot event whose metadata
names the trigger and the parcel (written by bot/notify/conversation.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Notified:
    trigger: str
    shipment_id: int


def notification_of(event: dict[str, Any]) -> Notified | None:
    """The notification a tracker event records, or None for any other event."""
    if event.get("event") != "bot":
        return None
    metadata = event.get("metadata") or {}
    shipment_id = str(metadata.get("notification_shipment_id", ""))
    return Notified(str(metadata.get("notification", "")), int(shipment_id)) if shipment_id.isdigit() else None
