"""Parcel carriers (UPS, FedEx, DHL Express) through the karrio SDK: tracking (karrio's statuses mapped to ours) and return labels.

One adapter per karrio carrier, named like it ("ups", "fedex", "dhl_express"), so a shipment's
`carrier` picks it. Its id at the carrier (a UPS "1Z…") is its `carrier_refs` row. Tracking is a
poll: what karrio returns is fed through the same ingestion as webhooks (idempotent on an id made
from the carrier's event, never backwards, unknown statuses kept). These carriers don't let us move
or redirect a delivery, so the capability flags offer tracking and returns only, and the bot says so.

A return is a karrio return shipment (`Shipment.create` with `is_return`: UPS ReturnService, FedEx
returnShipmentDetail, DHL Express's return option), from the customer's address to the shop's returns
desk: the carrier's label, emailed, dropped at any of its shops. Only that method ("label"): karrio
lists no pickup windows and these carriers have no lockers of ours. Creating a shipment is not
idempotent, so it is never retried; our Return row is written only once the carrier answered with one.

karrio speaks HTTP through urllib without a timeout, and reports failures as messages (or loses them
in its worker threads). So every adapter installs one urllib opener that gives requests without a
timeout ours, and that notes, per carrier host, answers that mean "unavailable" (429, 5xx, timeouts,
refused connections): a call with no tracking details back and such a note is `CarrierUnavailable`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.client
import logging
import secrets
import threading
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.aftercare.compliance import drop_from_words
from bot.carriers import local
from bot.carriers.errors import CarrierError, CarrierUnavailable, ChangeRefused, Refusal, UnknownShipment, UnsupportedOperation
from bot.carriers.inbound import UNKNOWN, ingest_or_keep
from bot.carriers.models import Capability, CarrierEvent, DropProof, LockerOption, ReturnLabel, TimeWindow, TrackingInfo
from bot.carriers.resilience import DEFAULT_ROBUSTNESS, Robustness
from bot.db import transaction
from bot.models import Return, ShipmentStatus

logger = logging.getLogger("doorstep.carriers.karrio")

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


def _sdk() -> Any:
    """karrio imports PyPDF2, which warns about itself on import: silence that one warning, once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import karrio.sdk as karrio

    return karrio


# -- urllib: timeouts and what the transport saw ---------------------------------------------------
class _Seen:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failures: list[str] = []


_watched: dict[str, _Seen] = {}
_opener_lock = threading.Lock()
_opener_timeout: list[float] = []


def _note(url: str, what: str) -> None:
    seen = _watched.get(urlsplit(url).netloc)
    if seen is not None:
        with seen.lock:
            seen.failures.append(what)


class _Watch(urllib.request.BaseHandler):
    handler_order = 500  # before HTTPErrorProcessor turns a 5xx into HTTPError

    def http_request(self, req: urllib.request.Request) -> urllib.request.Request:
        if getattr(req, "timeout", None) is None:
            req.timeout = _opener_timeout[0]
        return req

    https_request = http_request

    def http_response(self, req: urllib.request.Request, response: http.client.HTTPResponse) -> Any:
        if response.status == 429 or response.status >= 500:
            _note(req.full_url, f"HTTP {response.status}")
        return response

    https_response = http_response


class _HTTP(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> Any:
        try:
            return super().http_open(req)
        except OSError as exc:
            _note(req.full_url, type(exc).__name__)
            raise


class _HTTPS(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> Any:
        try:
            return super().https_open(req)
        except OSError as exc:
            _note(req.full_url, type(exc).__name__)
            raise


def _install_opener(timeout: float) -> None:
    with _opener_lock:
        if _opener_timeout:
            _opener_timeout[0] = min(_opener_timeout[0], timeout)
            return
        _opener_timeout.append(timeout)
        urllib.request.install_opener(urllib.request.build_opener(_Watch(), _HTTP(), _HTTPS()))


@contextmanager
def _watching(netloc: str) -> Iterator[_Seen]:
    seen = _watched.setdefault(netloc, _Seen())
    with seen.lock:
        seen.failures.clear()
    yield seen


# -- proof of delivery, from what a tracking event gives --------------------------------------------
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


# -- the adapter -----------------------------------------------------------------------------------
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


class KarrioCarrier:
    capabilities = frozenset({Capability.TRACK, Capability.RETURNS})
    return_methods = frozenset({"label"})

    def __init__(self, session_factory: sessionmaker[Session], *, carrier: str, credentials: dict[str, Any],
                 server_url: str = "", test_mode: bool = False, time_zone: str = "Europe/Berlin",
                 robustness: Robustness = DEFAULT_ROBUSTNESS, return_to: ReturnAddress | None = None) -> None:
        self.name = carrier
        self._return_to = return_to or ReturnAddress()
        self._sessions = session_factory
        self._tz = ZoneInfo(time_zone)
        self._guard = robustness.guard(carrier)
        karrio = _sdk()
        provider = karrio.gateway.providers[carrier]
        settings_class = provider.Settings
        if server_url:
            base = server_url.rstrip("/")
            settings_class = type(f"Local{settings_class.__name__}", (settings_class,),
                                  {"server_url": property(lambda self: base)})
        fields = {key: value for key, value in credentials.items() if value}
        if carrier == "fedex":  # FedEx's Track API has its own key pair; by default the same project's
            fields.setdefault("track_api_key", fields.get("api_key"))
            fields.setdefault("track_secret_key", fields.get("secret_key"))
        self._settings = settings_class(**fields, test_mode=test_mode)
        self._gateway = karrio.gateway[carrier].create(self._settings)
        self._netloc = urlsplit(self._settings.server_url).netloc
        _install_opener(robustness.timeout)

    def __repr__(self) -> str:
        return f"KarrioCarrier({self.name!r}, server={self._netloc!r})"

    # -- tracking --------------------------------------------------------------------------
    def track(self, tracking_number: str) -> TrackingInfo:
        external = local.external_id(self._sessions, self.name, tracking_number)
        details = self._guard.call(lambda: self._fetch(external), idempotent=True)
        eta = self._eta(details.estimated_delivery)
        with transaction(self._sessions) as session:
            for event in sorted(self._events(tracking_number, details), key=lambda e: e[0].occurred_at):
                ingest_or_keep(session, event[0], carrier_status=event[1])
            shipment = local.shipment_of(session, self.name, tracking_number)
            return TrackingInfo(tracking_number=tracking_number, status=shipment.status, status_at=shipment.status_at,
                                eta=None if shipment.status in ("delivered", "returned") else eta,
                                stops_away=None, driver_position=None, locker_name=None)

    def _fetch(self, external: str) -> Any:
        karrio = _sdk()
        with _watching(self._netloc) as seen:
            details, messages = karrio.Tracking.fetch({"tracking_numbers": [external]}).from_(self._gateway).parse()
            with seen.lock:
                failures = list(seen.failures)
        found = [d for d in details or [] if d.tracking_number == external] or list(details or [])
        if found:
            return found[0]
        text = " ".join(str(m.message or "") for m in messages or []).lower()
        if failures:
            raise CarrierUnavailable(f"{self.name}: {', '.join(failures[:3])}")
        if any(word in text for word in NOT_FOUND_WORDS):
            raise UnknownShipment(f"{self.name}: {external}")
        raise CarrierError(f"{self.name}: no tracking details ({text[:120] or 'no message'})")

    def _events(self, tracking_number: str, details: Any) -> list[tuple[CarrierEvent, str]]:
        events = []
        for item in details.events or []:
            occurred = self._moment(item.timestamp, item.date, item.time)
            if occurred is None:
                continue
            carrier_status = str(item.status or item.code or "")
            key = "|".join(str(part or "") for part in (item.code, item.timestamp or f"{item.date} {item.time}",
                                                         item.description, item.location))
            event_id = f"{self.name}:{hashlib.sha256(key.encode()).hexdigest()[:40]}"
            status = STATUS_MAP.get(str(item.status or ""), UNKNOWN)
            events.append((CarrierEvent(
                carrier=self.name, event_id=event_id, tracking_number=tracking_number,
                status=status, occurred_at=occurred,
                description=str(item.description or "")[:200],
                extra={"code": item.code, "location": item.location},
                proof=event_proof(item, details) if status == "delivered" else None,
            ), carrier_status))
        return events

    def _moment(self, timestamp: str | None, date: str | None, clock: str | None) -> datetime | None:
        for text in (timestamp, f"{date}T{clock}" if date and clock else date):
            if not text:
                continue
            try:
                parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=self._tz)
        return None

    def _eta(self, estimated: str | None) -> TimeWindow | None:
        try:
            day = datetime.fromisoformat(str(estimated)).date() if estimated else None
        except ValueError:
            return None
        if day is None:
            return None
        return TimeWindow(datetime.combine(day, DAY_START, self._tz), datetime.combine(day, DAY_END, self._tz))

    # -- not offered: the capability flags say so; the bot never gets here -----------------
    def _unsupported(self, what: str) -> UnsupportedOperation:
        return UnsupportedOperation(f"{self.name} through karrio: {what} is not offered")

    def available_windows(self, tracking_number: str) -> list[TimeWindow]:
        raise self._unsupported("choosing a window")

    def reschedule(self, tracking_number: str, window: TimeWindow) -> TimeWindow:
        raise self._unsupported("rescheduling")

    def nearby_lockers(self, tracking_number: str, limit: int = 5) -> list[LockerOption]:
        raise self._unsupported("lockers")

    def redirect_to_locker(self, tracking_number: str, locker_code: str) -> LockerOption:
        raise self._unsupported("redirecting")

    def set_instructions(self, tracking_number: str, instructions: str) -> None:
        raise self._unsupported("instructions")

    def deliver_to_neighbour(self, tracking_number: str, neighbour: str) -> None:
        raise self._unsupported("a neighbour")

    def change_address(self, tracking_number: str, *, address_line: str, postcode: str) -> None:
        raise self._unsupported("another address")

    def pickup_windows(self, tracking_number: str) -> list[TimeWindow]:
        raise self._unsupported("return pickups")

    # -- returns: a karrio return shipment, its label emailed ----------------------------------
    def create_return(
        self, tracking_number: str, *, items: list[str], reason: str, method: str,
        locker_code: str | None = None, pickup: TimeWindow | None = None,
    ) -> ReturnLabel:
        if method not in self.return_methods:
            raise ChangeRefused(Refusal.RETURN_METHOD_NOT_OFFERED, "label only")
        rma = f"R{secrets.randbelow(10**8):08d}"
        request = self._return_request(tracking_number, items, rma)
        details = self._guard.call(lambda: self._ship(request), idempotent=False)
        document = str(details.docs.label or "").replace("\n", "") if details.docs else ""
        label = ReturnLabel(rma=rma, method="label", label_code=str(details.tracking_number),
                            document=document or None, document_format=str(details.label_type or "PDF"))

        def apply(session: Session, shipment: Any) -> None:
            session.add(Return(shipment_id=shipment.id, rma=rma, items=sorted(items), reason=reason[:200],
                               method="label", label_code=label.label_code[:64], label_document=label.document,
                               label_format=(label.document_format or "PDF")[:16] if label.document else None))

        local.record_change(self._sessions, self.name, tracking_number, "create_return", apply,
                            {"rma": rma, "method": "label", "carrier_tracking_number": label.label_code})
        return label

    def _return_request(self, tracking_number: str, items: list[str], rma: str) -> dict[str, Any]:
        """karrio's ShipmentRequest in outbound orientation (shop → customer); `is_return` swaps the ends."""
        with self._sessions() as session:
            shipment = local.shipment_of(session, self.name, tracking_number)
            if shipment.status_enum != ShipmentStatus.DELIVERED:
                raise ChangeRefused(Refusal.NOT_YET_DELIVERED)
            returnable = {item["sku"]: item for item in shipment.items if item.get("returnable")}
            if not items or not set(items) <= set(returnable):
                raise ChangeRefused(Refusal.NOT_RETURNABLE)
            customer = {"person_name": shipment.customer.name, "address_line1": shipment.address_line,
                        "postal_code": shipment.postcode, "city": shipment.city, "country_code": "DE",
                        "phone_number": shipment.customer.phone, "email": shipment.customer.email,
                        "residential": True}
            description = ", ".join(str(returnable[sku]["name"]) for sku in items)[:35]
        shop = self._return_to
        return {
            "shipper": {"company_name": shop.name, "person_name": shop.name, "address_line1": shop.street,
                        "postal_code": shop.postcode, "city": shop.city, "country_code": shop.country,
                        "phone_number": shop.phone, "email": shop.email},
            "recipient": customer,
            "parcels": [{**RETURN_PARCEL, "description": description, "reference_number": rma}],
            "service": RETURN_SERVICES.get(self.name, ""),
            "is_return": True,
            "reference": rma,
            "label_type": "PDF",
            "options": RETURN_OPTIONS.get(self.name, {}),
            "payment": {"paid_by": "sender"},  # our account pays the return (the carriers bill the account holder)
        }

    def _ship(self, request: dict[str, Any]) -> Any:
        karrio = _sdk()
        with _watching(self._netloc) as seen:
            details, messages = karrio.Shipment.create(request).from_(self._gateway).parse()
            with seen.lock:
                failures = list(seen.failures)
        if details is not None and details.tracking_number:
            return details
        text = "; ".join(f"{m.code}: {m.message}" for m in messages or [])
        if failures:
            raise CarrierUnavailable(f"{self.name}: {', '.join(failures[:3])}")
        logger.warning("%s refused a return label: %s", self.name, text[:300] or "no message")
        raise ChangeRefused(Refusal.LABEL_FAILED)
