"""karrio's requests and answers, and ours: pure functions around karrio's own mappers. No I/O.

karrio's mapper builds each carrier's request and parses its answer into karrio's models; here we
build what we hand the mapper (a tracking request, a return shipment) and read its models into our
value types: karrio's normalised statuses to ours, tracking events to `CarrierEvent`s (with the
proof of delivery a delivered event carries), a day-level estimate to a window, a refused label to
a `Refusal` code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from bot.aftercare.compliance import drop_from_words
from bot.carriers.errors import CarrierError, ChangeRefused, Refusal, UnknownShipment
from bot.carriers.karrio.sdk import lib, models
from bot.carriers.models import UNKNOWN, CarrierEvent, DropProof, ReturnLabel, TimeWindow

# karrio's normalised tracking statuses (karrio.core.units.TrackingStatus) → ours; the rest are kept as unknown.
STATUS_MAP = {
    "pending": "label_created",
    "picked_up": "in_transit",
    "in_transit": "in_transit",
    "delivery_delayed": "in_transit",
    "on_hold": "at_depot",
    "out_for_delivery": "out_for_delivery",
    "delivery_failed": "failed_attempt",
    "ready_for_pickup": "at_locker",
    "delivered": "delivered",
    "return_to_sender": "returned",
}
DAY_START, DAY_END = time(8), time(20)  # a day-level estimate shown as that day's delivery hours
RETURN_SERVICES = {"ups": "ups_standard", "fedex": "fedex_regional_economy", "dhl_express": "dhl_express_domestic"}
RETURN_OPTIONS = {"ups": {"ups_return_service": "ups_print_return_label"}}  # UPS PRL: a label, not 3 pickup tries
RETURN_PARCEL = {"weight": 1.0, "weight_unit": "KG", "length": 30, "width": 20, "height": 15, "dimension_unit": "CM"}
NOT_FOUND_WORDS = ("not found", "no tracking", "invalid tracking", "cannot be found", "no shipment", "unknown")


@dataclass(frozen=True)
class ReturnAddress:
    """The shop's returns desk: where return labels send parcels."""

    name: str = "Doorstep Returns"
    street: str = "Lagerstraße 1"
    postcode: str = "10245"
    city: str = "Berlin"
    country: str = "DE"
    phone: str = "+4930901820"
    email: str = "returns@doorstep.example"


# -- tracking --------------------------------------------------------------------------------------
def tracking_request(mapper: Any, external_id: str) -> Any:
    return mapper.create_tracking_request(lib.to_object(models.TrackingRequest, {"tracking_numbers": [external_id]}))


def tracking_details(carrier: str, mapper: Any, response: Any, external_id: str) -> Any:
    """karrio's TrackingDetails for our parcel; the carrier's messages as our errors when there are none."""
    details, messages = mapper.parse_tracking_response(response)
    found = [d for d in details or [] if d.tracking_number == external_id] or list(details or [])
    if found:
        return found[0]
    text = " ".join(str(m.message or "") for m in messages or []).lower()
    if any(word in text for word in NOT_FOUND_WORDS):
        raise UnknownShipment(f"{carrier}: {external_id}")
    raise CarrierError(f"{carrier}: no tracking details ({text[:120] or 'no message'})")


def events(carrier: str, tracking_number: str, details: Any, tz: ZoneInfo) -> list[tuple[CarrierEvent, str]]:
    """Each tracking event as ours, with the carrier's own status; ids made from the parcel's number at the carrier
    and the event, so a poll is idempotent and two parcels scanned together keep an event each."""
    found = []
    for item in details.events or []:
        occurred = moment(item.timestamp, item.date, item.time, tz)
        if occurred is None:
            continue
        carrier_status = str(item.status or item.code or "")
        key = "|".join(str(part or "") for part in (details.tracking_number, item.code,
                                                     item.timestamp or f"{item.date} {item.time}",
                                                     item.description, item.location))
        status = STATUS_MAP.get(str(item.status or ""), UNKNOWN)
        found.append((CarrierEvent(
            carrier=carrier, event_id=f"{carrier}:{hashlib.sha256(key.encode()).hexdigest()[:40]}",
            tracking_number=tracking_number, status=status, occurred_at=occurred,
            description=str(item.description or "")[:200],
            extra={"code": item.code, "location": item.location},
            proof=event_proof(item, details) if status == "delivered" else None,
        ), carrier_status))
    return found


def moment(timestamp: str | None, day: str | None, clock: str | None, tz: ZoneInfo) -> datetime | None:
    for text in (timestamp, f"{day}T{clock}" if day and clock else day):
        if not text:
            continue
        try:
            parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
    return None


def eta(estimated: str | None, tz: ZoneInfo) -> TimeWindow | None:
    """karrio's estimated delivery date as that day's delivery hours."""
    try:
        day: date | None = datetime.fromisoformat(str(estimated)).date() if estimated else None
    except ValueError:
        return None
    if day is None:
        return None
    return TimeWindow(datetime.combine(day, DAY_START, tz), datetime.combine(day, DAY_END, tz))


def event_proof(item: Any, details: Any) -> DropProof:
    """What karrio passes on about a delivery: the event's words (read for a place or a neighbour), its
    position where the carrier gives one, and the delivery photo where the carrier sends it."""
    description = " ".join(str(item.description or "").split())[:500] or None
    place, neighbour = drop_from_words(description)
    image = getattr(getattr(details, "images", None), "delivery_image", None)
    photo = image if isinstance(image, str) and image else None
    photo_format = _photo_format(photo) if photo else None
    lat, lng = _coordinate(item.latitude, 90), _coordinate(item.longitude, 180)
    return DropProof(place=place, note=description, neighbour=neighbour,
                     lat=lat if lng is not None else None, lng=lng if lat is not None else None,
                     photo=photo if photo_format else None, photo_format=photo_format)


def _photo_format(image: str) -> str | None:
    """png | jpeg from the first bytes of a base64 picture; None for anything else (a PDF, a GIF…)."""
    try:
        head = base64.b64decode(image[:16] + "=" * (-len(image[:16]) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return "png" if head.startswith(b"\x89PNG") else "jpeg" if head.startswith(b"\xff\xd8\xff") else None


def _coordinate(value: Any, bound: float) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if -bound <= number <= bound else None


# -- returns ---------------------------------------------------------------------------------------
def return_shipment(carrier: str, customer: dict[str, Any], shop: ReturnAddress, rma: str) -> dict[str, Any]:
    """karrio's ShipmentRequest in outbound orientation (shop → customer), as `is_return` expects it."""
    recipient = {"person_name": customer["name"], "address_line1": customer["address_line"],
                 "postal_code": customer["postcode"], "city": customer["city"], "country_code": "DE",
                 "phone_number": customer["phone"], "email": customer["email"], "residential": True}
    return {
        "shipper": {"company_name": shop.name, "person_name": shop.name, "address_line1": shop.street,
                    "postal_code": shop.postcode, "city": shop.city, "country_code": shop.country,
                    "phone_number": shop.phone, "email": shop.email},
        "recipient": recipient,
        "parcels": [{**RETURN_PARCEL, "description": ", ".join(customer["items"])[:35], "reference_number": rma}],
        "service": RETURN_SERVICES.get(carrier, ""),
        "is_return": True,
        "reference": rma,
        "label_type": "PDF",
        "options": RETURN_OPTIONS.get(carrier, {}),
        "payment": {"paid_by": "sender"},  # our account pays the return (the carriers bill the account holder)
    }


def return_request(mapper: Any, shipment: dict[str, Any]) -> Any:
    """The carrier's return request: the ends swapped (customer → shop), as karrio's `Shipment.create` does."""
    outbound = lib.to_object(models.ShipmentRequest, shipment)
    swapped = {**lib.to_dict(outbound), "shipper": lib.to_dict(outbound.recipient),
               "recipient": lib.to_dict(outbound.shipper),
               "return_address": lib.to_dict(outbound.return_address or outbound.shipper)}
    return mapper.create_return_shipment_request(lib.to_object(models.ShipmentRequest, swapped))


def return_label(carrier: str, mapper: Any, response: Any, rma: str) -> ReturnLabel:
    """Our label from the carrier's answer; no label is a refusal, the carrier's messages its detail."""
    details, messages = mapper.parse_return_shipment_response(response)
    text = "; ".join(f"{m.code}: {m.message}" for m in messages or [])
    if details is None or not details.tracking_number:
        raise ChangeRefused(Refusal.LABEL_FAILED, f"{carrier}: {text[:200] or 'no message'}")
    document = str(details.docs.label or "").replace("\n", "") if details.docs else ""
    return ReturnLabel(rma=rma, method="label", label_code=str(details.tracking_number),
                       document=document or None, document_format=str(details.label_type or "PDF"))
