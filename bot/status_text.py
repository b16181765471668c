"""What the bot says about a parcel's status: short enough for one SMS segment where possible."""

from __future__ import annotations

from datetime import datetime

from bot.carriers.models import TrackingInfo
from bot.models import Shipment, ShipmentStatus
from bot.timefmt import clock, day_label, window


def describe(shipment: Shipment, info: TrackingInfo, *, now: datetime, tz: str, link: str) -> str:
    """One message: status, ETA window in the customer's zone, stops away, and the tracking link."""
    ref = f"Parcel {shipment.tracking_number[-4:]}"
    status = ShipmentStatus(info.status)
    eta = window(info.eta.start, info.eta.end, now, tz) if info.eta else None
    if status == ShipmentStatus.OUT_FOR_DELIVERY:
        away = f", {info.stops_away} stops away" if info.stops_away else (", you're next" if info.stops_away == 0 else "")
        text = f"{ref} is out for delivery: {eta or 'today'}{away}."
    elif status == ShipmentStatus.FAILED_ATTEMPT:
        text = f"{ref}: we missed you. Next try {eta}." if eta else f"{ref}: we missed you; we'll try again."
    elif status == ShipmentStatus.AT_LOCKER:
        code = f" Pickup code {shipment.locker_pickup_code}." if shipment.locker_pickup_code else ""
        text = f"{ref} is ready at the {info.locker_name} locker.{code}"
    elif status == ShipmentStatus.DELIVERED:
        at = shipment.delivered_at or info.status_at
        text = f"{ref} was delivered {day_label(at, now, tz)} at {clock(at, tz)}." if at else f"{ref} was delivered."
    elif status == ShipmentStatus.RETURNED:
        text = f"{ref} went back to the sender."
    elif status == ShipmentStatus.LABEL_CREATED:
        text = f"{ref}: the sender has made the label; we don't have it yet."
    elif info.locker_name:
        text = f"{ref} is on its way to the {info.locker_name} locker: {eta}."
    else:
        text = f"{ref} is on its way: {eta}." if eta else f"{ref} is on its way."
    return f"{text} Track: {link}"
