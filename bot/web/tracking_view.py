"""What the tracking page shows, as plain data (the page renders it; `/t/<token>/live` sends it as JSON).

Only this parcel's facts: the map shows the driver, the depot and this parcel's destination, never
other customers' stops (the route is drawn depot → driver → destination).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.aftercare.proof import ProofView
from bot.carriers.models import TrackingInfo
from bot.core.models import Depot, Shipment, ShipmentStatus
from bot.text import N_, language_of, pt, t
from bot.text.timefmt import clock, day_label, moment_text, window
from bot.web.proofmap import pin_map

STEPS = ("label_created", "in_transit", "at_depot", "out_for_delivery", "delivered")
STEP_OF = {"label_created": 0, "in_transit": 1, "at_depot": 2, "out_for_delivery": 3, "failed_attempt": 3,
           "at_locker": 4, "delivered": 4, "returned": 4}
PAGE_DASH = "–"  # a web page is not an SMS: the typographic dash between a window's times


STATUS_LABELS = {
    "label_created": N_("Label created"), "in_transit": N_("On its way to us"), "at_depot": N_("At the depot"),
    "out_for_delivery": N_("Out for delivery"), "failed_attempt": N_("We missed you"),
    "at_locker": N_("Ready at the locker"), "delivered": N_("Delivered"), "returned": N_("Returned to sender"),
}
STEP_LABELS = {"label_created": N_("Label created"), "in_transit": N_("In transit"), "at_depot": N_("At the depot"),
               "out_for_delivery": N_("Out for delivery"), "delivered": N_("Delivered")}
ACTION_LABELS = {"reschedule": N_("Another day or time"), "locker": N_("Send it to a locker"),
                 "instructions": N_("Leave instructions"), "return": N_("Return an item"),
                 "person": N_("Talk to a person")}


def status_label(status: str, lang: str) -> str:
    return t(lang, STATUS_LABELS.get(status, status))


def action_labels(lang: str) -> dict[str, str]:
    """The tracking page's change buttons, by action."""
    return {action: t(lang, label) for action, label in ACTION_LABELS.items()}


def headline(shipment: Shipment, info: TrackingInfo, now: datetime, tz: str, lang: str) -> str:
    status = ShipmentStatus(info.status)
    eta = window(info.eta.start, info.eta.end, now, tz, lang, dash=PAGE_DASH) if info.eta else None
    if status == ShipmentStatus.OUT_FOR_DELIVERY:
        return t(lang, "Out for delivery: {window}", window=eta or t(lang, "today"))
    if status == ShipmentStatus.FAILED_ATTEMPT:
        return t(lang, "We missed you. Next try {window}", window=eta) if eta else \
            t(lang, "We missed you; we'll try again.")
    if status == ShipmentStatus.AT_LOCKER:
        return t(lang, "Ready at the {locker} locker", locker=info.locker_name or "")
    if status == ShipmentStatus.DELIVERED:
        at = shipment.delivered_at or info.status_at
        return t(lang, "Delivered {day} at {time}", day=day_label(at, now, tz, lang), time=clock(at, tz)) if at \
            else t(lang, "Delivered")
    if status == ShipmentStatus.RETURNED:
        return t(lang, "Went back to the sender")
    if status == ShipmentStatus.LABEL_CREATED:
        return t(lang, "The sender has made the label; we don't have it yet.")
    if info.locker_name and eta:
        return t(lang, "On its way to the {locker} locker: {window}", locker=info.locker_name, window=eta)
    return t(lang, "On its way: {window}", window=eta) if eta else t(lang, "On its way")


def _proof(shipment: Shipment, info: TrackingInfo, *, now: datetime, tz: str, lang: str,
           delivery: ProofView | None, photo_url: str | None) -> dict[str, Any]:
    """The delivery's rows (only those with a value), the photo's address and the pins, for the page."""
    status = ShipmentStatus(info.status)
    locker = shipment.locker
    rows: list[dict[str, str]] = []
    if delivery is not None and status == ShipmentStatus.DELIVERED:
        rows = [{"key": r.key, "label": r.label, "value": r.value} for r in delivery.rows if r.key != "photo"]
    else:
        delivered = [e for e in shipment.events if e.applied and e.status == info.status]
        where = delivered[-1].description if delivered and lang == "en" else \
            (shipment.instructions or status_label(info.status, lang))
        at = shipment.delivered_at or info.status_at
        rows = [{"key": "at", "label": t(lang, "When"), "value": moment_text(at, now, tz, lang) if at else ""},
                {"key": "where", "label": pt(lang, "proof row", "Where it was left"), "value": where or ""}]
    if locker is not None:
        rows.append({"key": "locker", "label": t(lang, "Locker"), "value": f"{locker.name}, {locker.address}"})
    if status == ShipmentStatus.AT_LOCKER and shipment.locker_pickup_code:
        rows.append({"key": "code", "label": t(lang, "Pickup code"), "value": shipment.locker_pickup_code})
    shown = delivery if delivery is not None and status == ShipmentStatus.DELIVERED else None
    return {"rows": [row for row in rows if row["value"]],
            "photo": photo_url if shown is not None and shown.has_photo else None,
            "map": pin_map(shown.address, shown.drop, recorded_m=shown.distance_m)
            if shown is not None and shown.drop else None}


def live_view(shipment: Shipment, info: TrackingInfo, *, now: datetime, locale: str,
              depot: Depot | None, delivery: ProofView | None = None, photo_url: str | None = None) -> dict[str, Any]:
    """Everything on the page that can change while it is open; `delivery` is the carrier's proof of delivery
    and `photo_url` where the page loads its photo. What can be changed is the change service's to say
    (`bot.web.tracking.possible_changes` adds it)."""
    lang = language_of(locale)
    tz = shipment.customer.time_zone
    status = ShipmentStatus(info.status)
    current = STEP_OF.get(info.status, 0)
    final = status in (ShipmentStatus.DELIVERED, ShipmentStatus.AT_LOCKER, ShipmentStatus.RETURNED)
    timeline = [{"key": key, "label": t(lang, STEP_LABELS[key]),
                 "state": "done" if i < current or (final and i == current) else "current" if i == current else "todo"}
                for i, key in enumerate(STEPS)]
    if status == ShipmentStatus.AT_LOCKER:
        timeline[-1]["label"] = status_label("at_locker", lang)
    stops = None
    if status == ShipmentStatus.OUT_FOR_DELIVERY and info.stops_away is not None:
        stops = t(lang, "You're next") if info.stops_away == 0 else (
            t(lang, "1 stop away") if info.stops_away == 1 else t(lang, "{n} stops away", n=info.stops_away))
    locker = shipment.locker
    destination = [locker.lat, locker.lng] if locker else [shipment.lat, shipment.lng]
    driver = list(info.driver_position) if info.driver_position else None
    route = [p for p in ([depot.lat, depot.lng] if depot else None, driver, destination) if p] if driver else []
    proof = _proof(shipment, info, now=now, tz=tz, lang=lang, delivery=delivery, photo_url=photo_url) \
        if status in (ShipmentStatus.DELIVERED, ShipmentStatus.AT_LOCKER) else None
    return {
        "status": info.status, "status_label": status_label(info.status, lang),
        "headline": headline(shipment, info, now, tz, lang),
        "eta": window(info.eta.start, info.eta.end, now, tz, lang, dash=PAGE_DASH) if info.eta and not final else None,
        "stops_away": stops, "timeline": timeline, "driver": driver, "destination": destination,
        "destination_label": t(lang, "Locker") if locker else t(lang, "Your address"),
        "depot": [depot.lat, depot.lng] if depot else None, "route": route, "proof": proof,
        "history": [{"at": moment_text(e.occurred_at, now, tz, lang),
                     "text": (e.description if lang == "en" else "") or status_label(e.status, lang)}
                    for e in reversed([e for e in shipment.events if e.applied])],
        "updated": t(lang, "Updated {time}", time=clock(now, tz)),
    }
