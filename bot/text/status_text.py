"""What the bot says about a parcel's status: short enough for one SMS segment where possible."""

from __future__ import annotations

from datetime import datetime

from bot.carriers.models import TrackingInfo
from bot.core.models import Shipment, ShipmentStatus
from bot.text import t
from bot.text.timefmt import clock, day_label, window


def status_line(shipment: Shipment, info: TrackingInfo, *, now: datetime, tz: str, language: str = "en") -> str:
    """Status, ETA window in the customer's zone and stops away, in the customer's language."""
    lang = language
    ref = shipment.tracking_number[-4:]
    status = ShipmentStatus(info.status)
    eta = window(info.eta.start, info.eta.end, now, tz, lang) if info.eta else None
    if status == ShipmentStatus.OUT_FOR_DELIVERY:
        when = eta or t(lang, "today")
        if info.stops_away:
            return t(lang, "Parcel {ref} is out for delivery: {when}, {n} stops away.", ref=ref, when=when,
                     n=info.stops_away)
        if info.stops_away == 0:
            return t(lang, "Parcel {ref} is out for delivery: {when}, you're next.", ref=ref, when=when)
        return t(lang, "Parcel {ref} is out for delivery: {when}.", ref=ref, when=when)
    if status == ShipmentStatus.FAILED_ATTEMPT:
        if eta:
            return t(lang, "Parcel {ref}: we missed you. Next try {when}.", ref=ref, when=eta)
        return t(lang, "Parcel {ref}: we missed you; we'll try again.", ref=ref)
    if status == ShipmentStatus.AT_LOCKER:
        text = t(lang, "Parcel {ref} is ready at the {locker} locker.", ref=ref, locker=info.locker_name)
        if shipment.locker_pickup_code:
            text += " " + t(lang, "Pickup code {code}.", code=shipment.locker_pickup_code)
        return text
    if status == ShipmentStatus.DELIVERED:
        at = shipment.delivered_at or info.status_at
        if at:
            return t(lang, "Parcel {ref} was delivered {day} at {time}.", ref=ref, day=day_label(at, now, tz, lang),
                     time=clock(at, tz))
        return t(lang, "Parcel {ref} was delivered.", ref=ref)
    if status == ShipmentStatus.RETURNED:
        return t(lang, "Parcel {ref} went back to the sender.", ref=ref)
    if status == ShipmentStatus.LABEL_CREATED:
        return t(lang, "Parcel {ref}: the sender has made the label; we don't have it yet.", ref=ref)
    if info.locker_name and eta:
        return t(lang, "Parcel {ref} is on its way to the {locker} locker: {when}.", ref=ref,
                 locker=info.locker_name, when=eta)
    if eta:
        return t(lang, "Parcel {ref} is on its way: {when}.", ref=ref, when=eta)
    return t(lang, "Parcel {ref} is on its way.", ref=ref)


def describe(shipment: Shipment, info: TrackingInfo, *, now: datetime, tz: str, link: str,
             language: str = "en") -> str:
    """One message: the status line and the tracking link."""
    text = status_line(shipment, info, now=now, tz=tz, language=language)
    return text + " " + t(language, "Track: {link}", link=link)
