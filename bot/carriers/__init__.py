"""Carriers: one protocol, one registry from carrier name to adapter."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bot.carriers.base import Carrier
from bot.carriers.errors import CarrierError, ChangeRefused, UnknownShipment, UnsupportedOperation
from bot.carriers.models import Capability, CarrierEvent, LockerOption, ReturnLabel, TimeWindow, TrackingInfo


def build_carriers(session_factory: sessionmaker[Session], *, sandbox_faults: str = "") -> dict[str, Carrier]:
    """Every adapter this deployment can talk to, by the name stored on each shipment."""
    from bot.carriers.sandbox import SandboxCarrier

    faults = frozenset(t.strip() for t in sandbox_faults.split(",") if t.strip())
    return {"sandbox": SandboxCarrier(session_factory, faults=faults)}


__all__ = [
    "Capability", "Carrier", "CarrierError", "CarrierEvent", "ChangeRefused", "LockerOption", "ReturnLabel",
    "TimeWindow", "TrackingInfo", "UnknownShipment", "UnsupportedOperation", "build_carriers",
]
