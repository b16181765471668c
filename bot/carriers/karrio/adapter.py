"""Parcel carriers (UPS, FedEx, DHL Express) through karrio: tracking and return labels.

One adapter per karrio carrier, named like it ("ups", "fedex", "dhl_express"), so a shipment's
`carrier` picks it. Its id at the carrier (a UPS "1Z…") is its `carrier_refs` row. karrio's mapper
builds and parses the carrier's messages; our proxy (`client`) does the HTTP; `mapping` reads karrio's
models into ours. Tracking is a poll: what the carrier returns is fed through the same ingestion as
webhooks (idempotent on an id made from the carrier's event, never backwards, unknown statuses kept).
These carriers don't let us move or redirect a delivery, so the capability flags offer tracking and
returns only, and the bot says so.

A return is a karrio return shipment (UPS ReturnService, FedEx returnShipmentDetail, DHL Express's
return option), from the customer's address to the shop's returns desk: the carrier's label, emailed,
dropped at any of its shops. Only that method ("label"): karrio lists no pickup windows and these
carriers have no lockers of ours. Creating a shipment is not idempotent, so it is never retried; our
Return row is written only once the carrier answered with one.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.orm import Session, sessionmaker

from bot.carriers.errors import ChangeRefused, Refusal, UnsupportedOperation
from bot.carriers.karrio import mapping
from bot.carriers.karrio.client import http_for
from bot.carriers.karrio.mapping import ReturnAddress
from bot.carriers.karrio.sdk import karrio
from bot.carriers.local import Mirror
from bot.carriers.models import Capability, LockerOption, ReturnLabel, TimeWindow, TrackingInfo
from bot.carriers.resilience import DEFAULT_ROBUSTNESS, Robustness

logger = logging.getLogger("doorstep.carriers.karrio")


def carrier_settings(carrier: str, credentials: dict[str, Any], *, server_url: str = "", test_mode: bool = False) -> Any:
    """karrio's settings for one carrier; `server_url` points it at a proxy or a test server instead of its own."""
    settings_class = karrio.gateway.providers[carrier].Settings
    if server_url:
        base = server_url.rstrip("/")
        settings_class = type(f"Local{settings_class.__name__}", (settings_class,),
                              {"server_url": property(lambda self: base)})
    fields = {key: value for key, value in credentials.items() if value}
    if carrier == "fedex":  # FedEx's Track API has its own key pair; by default the same project's
        fields.setdefault("track_api_key", fields.get("api_key"))
        fields.setdefault("track_secret_key", fields.get("secret_key"))
    return settings_class(**fields, test_mode=test_mode)


class KarrioCarrier:
    capabilities = frozenset({Capability.TRACK, Capability.RETURNS})
    return_methods = frozenset({"label"})
    uses_our_lockers = False

    def __init__(self, session_factory: sessionmaker[Session], *, carrier: str, credentials: dict[str, Any],
                 server_url: str = "", test_mode: bool = False, time_zone: str = "Europe/Berlin",
                 robustness: Robustness = DEFAULT_ROBUSTNESS, return_to: ReturnAddress | None = None,
                 transport: httpx.BaseTransport | None = None, mirror: Mirror | None = None) -> None:
        self.name = carrier
        self._return_to = return_to or ReturnAddress()
        self._mirror = mirror or Mirror(session_factory, carrier)
        self._tz = ZoneInfo(time_zone)
        self._guard = robustness.guard(carrier)
        settings = carrier_settings(carrier, credentials, server_url=server_url, test_mode=test_mode)
        self._mapper = karrio.gateway[carrier].create(settings).mapper
        self._http = http_for(carrier, settings, robustness.timeout, transport)
        self._netloc = urlsplit(settings.server_url).netloc

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"KarrioCarrier({self.name!r}, server={self._netloc!r})"

    # -- tracking --------------------------------------------------------------------------
    def track(self, tracking_number: str) -> TrackingInfo:
        external = self._mirror.external_id(tracking_number)
        details = self._guard.call(lambda: self._fetch(external), idempotent=True)
        status, status_at = self._mirror.ingest(tracking_number, mapping.events(self.name, tracking_number, details,
                                                                                self._tz))
        eta = mapping.eta(details.estimated_delivery, self._tz)
        return TrackingInfo(tracking_number=tracking_number, status=status, status_at=status_at,
                            eta=None if status in ("delivered", "returned") else eta,
                            stops_away=None, driver_position=None, locker_name=None)

    def _fetch(self, external: str) -> Any:
        response = self._http.get_tracking(mapping.tracking_request(self._mapper, external))
        return mapping.tracking_details(self.name, self._mapper, response, external)

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
        customer = self._mirror.returnable(tracking_number, items)
        request = mapping.return_request(self._mapper, mapping.return_shipment(self.name, customer, self._return_to, rma))
        label = self._guard.call(lambda: self._ship(request, rma), idempotent=False)
        return label

    def _ship(self, request: Any, rma: str) -> ReturnLabel:
        try:
            return mapping.return_label(self.name, self._mapper, self._http.create_shipment(request), rma)
        except ChangeRefused as refused:
            logger.warning("%s refused a return label: %s", self.name, refused.detail[:300])
            raise
