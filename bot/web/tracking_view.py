"""What the tracking page shows, as plain data (the page renders it; `/t/<token>/live` sends it as JSON).

Only this parcel's facts: the map shows the driver, the depot and this parcel's destination, never
other customers' stops (the route is drawn depot → driver → destination).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.aftercare.proof import ProofView
from bot.carriers.models import TrackingInfo
from bot.i18n import locale_of, translator
from bot.models import Depot, Shipment, ShipmentStatus
from bot.web.proofmap import pin_map

STEPS = ("label_created", "in_transit", "at_depot", "out_for_delivery", "delivered")
STEP_OF = {"label_created": 0, "in_transit": 1, "at_depot": 2, "out_for_delivery": 3, "failed_attempt": 3,
           "at_locker": 4, "delivered": 4, "returned": 4}
CHANGEABLE = {ShipmentStatus.LABEL_CREATED, ShipmentStatus.IN_TRANSIT, ShipmentStatus.AT_DEPOT,
              ShipmentStatus.FAILED_ATTEMPT}


def _day(moment: datetime, now: datetime, tz: str, t: Any) -> str:
    zone = ZoneInfo(tz)
    delta = (moment.astimezone(zone).date() - now.astimezone(zone).date()).days
    if delta in (-1, 0, 1):
        return t({-1: "yesterday", 0: "today", 1: "tomorrow"}[delta])
    return moment.astimezone(zone).strftime("%d.%m." if t("today") == "heute" else "%a %-d %b")


def _clock(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%H:%M")


def window_text(start: datetime, end: datetime, now: datetime, tz: str, t: Any, *, dash: str = "–") -> str:
    """'today 10:00–11:00' in the page's language; messages pass dash="-" (an en dash makes an SMS UCS-2)."""
    return f"{_day(start, now, tz, t)} {_clock(start, tz)}{dash}{_clock(end, tz)}"


def headline(shipment: Shipment, info: TrackingInfo, now: datetime, tz: str, t: Any) -> str:
    status = ShipmentStatus(info.status)
    eta = window_text(info.eta.start, info.eta.end, now, tz, t) if info.eta else None
    if status == ShipmentStatus.OUT_FOR_DELIVERY:
        return t("headline.out_for_delivery", window=eta or t("today"))
    if status == ShipmentStatus.FAILED_ATTEMPT:
        return t("headline.failed", window=eta) if eta else t("headline.failed_no_window")
    if status == ShipmentStatus.AT_LOCKER:
        return t("headline.at_locker", locker=info.locker_name or "")
    if status == ShipmentStatus.DELIVERED:
        at = shipment.delivered_at or info.status_at
        return t("headline.delivered", day=_day(at, now, tz, t), time=_clock(at, tz)) if at else t("headline.delivered_plain")
    if status == ShipmentStatus.RETURNED:
        return t("headline.returned")
    if status == ShipmentStatus.LABEL_CREATED:
        return t("headline.label_created")
    if info.locker_name and eta:
        return t("headline.on_way_locker", locker=info.locker_name, window=eta)
    return t("headline.on_way", window=eta) if eta else t("headline.on_way_plain")


def _proof(shipment: Shipment, info: TrackingInfo, *, now: datetime, tz: str, t: Any, english: bool,
           delivery: ProofView | None, photo_url: str | None) -> dict[str, Any]:
    """The delivery's rows (only those with a value), the photo's address and the pins, for the page."""
    status = ShipmentStatus(info.status)
    locker = shipment.locker
    rows: list[dict[str, str]] = []
    if delivery is not None and status == ShipmentStatus.DELIVERED:
        rows = [{"key": r.key, "label": r.label, "value": r.value} for r in delivery.rows if r.key != "photo"]
    else:
        delivered = [e for e in shipment.events if e.applied and e.status == info.status]
        where = delivered[-1].description if delivered and english else (shipment.instructions or t(f"status.{info.status}"))
        at = shipment.delivered_at or info.status_at
        rows = [{"key": "at", "label": t("proof.at"), "value": f"{_day(at, now, tz, t)} {_clock(at, tz)}" if at else ""},
                {"key": "where", "label": t("proof.where"), "value": where or ""}]
    if locker is not None:
        rows.append({"key": "locker", "label": t("proof.locker"), "value": f"{locker.name}, {locker.address}"})
    if status == ShipmentStatus.AT_LOCKER and shipment.locker_pickup_code:
        rows.append({"key": "code", "label": t("proof.code"), "value": shipment.locker_pickup_code})
    shown = delivery if delivery is not None and status == ShipmentStatus.DELIVERED else None
    return {"rows": [row for row in rows if row["value"]],
            "photo": photo_url if shown is not None and shown.has_photo else None,
            "map": pin_map(shown.address, shown.drop, recorded_m=shown.distance_m)
            if shown is not None and shown.drop else None}


def live_view(shipment: Shipment, info: TrackingInfo, *, now: datetime, locale: str,
              depot: Depot | None, delivery: ProofView | None = None, photo_url: str | None = None) -> dict[str, Any]:
    """Everything on the page that can change while it is open; `delivery` is the carrier's proof of delivery
    and `photo_url` where the page loads its photo."""
    t = translator(locale)
    english = locale_of(locale) == "en"
    tz = shipment.customer.time_zone
    status = ShipmentStatus(info.status)
    current = STEP_OF.get(info.status, 0)
    final = status in (ShipmentStatus.DELIVERED, ShipmentStatus.AT_LOCKER, ShipmentStatus.RETURNED)
    timeline = [{"key": key, "label": t(f"step.{key}"),
                 "state": "done" if i < current or (final and i == current) else "current" if i == current else "todo"}
                for i, key in enumerate(STEPS)]
    if status == ShipmentStatus.AT_LOCKER:
        timeline[-1]["label"] = t("status.at_locker")
    stops = None
    if status == ShipmentStatus.OUT_FOR_DELIVERY and info.stops_away is not None:
        stops = t("stops_away.next") if info.stops_away == 0 else (
            t("stops_away.one") if info.stops_away == 1 else t("stops_away", n=info.stops_away))
    locker = shipment.locker
    destination = [locker.lat, locker.lng] if locker else [shipment.lat, shipment.lng]
    driver = list(info.driver_position) if info.driver_position else None
    route = [p for p in ([depot.lat, depot.lng] if depot else None, driver, destination) if p] if driver else []
    proof = _proof(shipment, info, now=now, tz=tz, t=t, english=english, delivery=delivery, photo_url=photo_url) \
        if status in (ShipmentStatus.DELIVERED, ShipmentStatus.AT_LOCKER) else None
    returnable = any(i.get("returnable") for i in shipment.items or [])
    actions = {
        "reschedule": status in CHANGEABLE and locker is None,
        "locker": status in CHANGEABLE and locker is None,
        "instructions": status in CHANGEABLE and locker is None,
        "return": status == ShipmentStatus.DELIVERED and returnable and bool(
            shipment.return_until and shipment.return_until > now),
    }
    return {
        "status": info.status, "status_label": t(f"status.{info.status}"),
        "headline": headline(shipment, info, now, tz, t),
        "eta": window_text(info.eta.start, info.eta.end, now, tz, t) if info.eta and not final else None,
        "stops_away": stops, "timeline": timeline, "driver": driver, "destination": destination,
        "destination_label": t("map.locker") if locker else t("map.destination"),
        "depot": [depot.lat, depot.lng] if depot else None, "route": route, "proof": proof,
        "actions": actions,
        "history": [{"at": f"{_day(e.occurred_at, now, tz, t)} {_clock(e.occurred_at, tz)}",
                     "text": (e.description if english else "") or t(f"status.{e.status}")}
                    for e in reversed([e for e in shipment.events if e.applied])],
        "updated": t("updated", time=_clock(now, tz)),
    }
