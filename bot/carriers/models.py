"""Carrier-neutral types shared by every adapter and by the bot."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime

from bot.core.models import ShipmentStatus

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _plausible(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before the first representable instant
        raise ValueError("time out of range") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"time must be between {EARLIEST.year} and {LATEST.year - 1}")
    return value


EventTime = Annotated[AwareDatetime, AfterValidator(_plausible)]
"""A time with its offset, between 1970 and 2199 (a carrier's event, an ETA)."""


RETURN_METHODS = frozenset({"locker", "pickup", "label"})  # drop at a locker (QR), carrier pickup, label by email


UNKNOWN = "unknown"  # a carrier status with no meaning for us: ingestion keeps such an event, never applies it


def known(status: str | None) -> str:
    """Our status if `status` is one of ours, else "unknown"."""
    try:
        return ShipmentStatus(status or "").value
    except ValueError:
        return UNKNOWN


class Capability(enum.StrEnum):
    TRACK = "track"
    WINDOWS = "windows"
    RESCHEDULE = "reschedule"
    REDIRECT = "redirect"
    LOCKERS = "lockers"
    INSTRUCTIONS = "instructions"
    CHANGE_ADDRESS = "change_address"
    RETURNS = "returns"


@dataclass(frozen=True)
class TimeWindow:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("time windows are timezone-aware")
        if self.end <= self.start:
            raise ValueError("a window ends after it starts")


@dataclass(frozen=True)
class TrackingInfo:
    tracking_number: str
    status: str
    status_at: datetime | None
    eta: TimeWindow | None
    stops_away: int | None
    driver_position: tuple[float, float] | None
    locker_name: str | None = None


@dataclass(frozen=True)
class LockerOption:
    code: str
    name: str
    address: str
    distance_m: int
    opening_hours: dict[str, Any]
    free: int


@dataclass(frozen=True)
class ReturnLabel:
    rma: str
    method: str
    label_code: str
    pickup: TimeWindow | None = None
    locker_name: str | None = None
    document: str | None = None  # the label itself, base64, where the carrier returns one
    document_format: str | None = None  # PDF, ZPL, PNG…


@dataclass(frozen=True)
class DropProof:
    """What a carrier recorded at the drop, as it travels with a delivered event (all optional)."""

    place: str | None = None  # a `bot.core.models.DropPlace` value
    note: str | None = None  # the driver's own words
    neighbour: str | None = None  # name / house number, when left with one
    lat: float | None = None
    lng: float | None = None
    photo: str | None = None  # the picture itself, base64, where the carrier sends it
    photo_format: str | None = None  # png | jpeg
    photo_ref: str | None = None  # where the carrier keeps the picture (a URL or its id), when not sent
    driver_id: int | None = None  # ours, where known (the sandbox)
    depot_id: int | None = None


@dataclass(frozen=True)
class CarrierEvent:
    """A normalised event as it enters ingestion, whatever carrier or webhook it came from."""

    carrier: str
    event_id: str
    tracking_number: str
    status: str
    occurred_at: datetime
    description: str = ""
    lat: float | None = None
    lng: float | None = None
    eta: TimeWindow | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    proof: DropProof | None = None  # on a delivered event, where the carrier gives one
