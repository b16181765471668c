"""Carriers: one protocol, one registry from carrier name to adapter."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bot.carriers.base import Carrier
from bot.carriers.errors import CarrierError, CarrierUnavailable, ChangeRefused, Refusal, UnknownShipment, UnsupportedOperation
from bot.carriers.models import RETURN_METHODS, Capability, CarrierEvent, LockerOption, ReturnLabel, TimeWindow, TrackingInfo
from bot.core.clock import Clock
from bot.core.settings import Settings


def build_carriers(session_factory: sessionmaker[Session], *, clock: Clock | None = None, sandbox_faults: str = "",
                   settings: Settings | None = None) -> dict[str, Carrier]:
    """Every adapter this deployment can talk to, by the name stored on each shipment."""
    from bot.carriers.sandbox import SandboxCarrier

    faults = frozenset(t.strip() for t in sandbox_faults.split(",") if t.strip())
    carriers: dict[str, Carrier] = {"sandbox": SandboxCarrier(session_factory, clock=clock, faults=faults)}
    if settings is not None:
        carriers.update(build_remote_carriers(session_factory, settings, clock=clock))
    return carriers


def build_remote_carriers(session_factory: sessionmaker[Session], settings: Settings, *,
                          clock: Clock | None = None) -> dict[str, Carrier]:
    """The real adapters switched on in settings (CARRIERS=karrio,onfleet,rest); each with its own breaker."""
    from bot.carriers.local import Mirror
    from bot.carriers.resilience import Robustness

    robustness = Robustness(timeout=settings.carrier_timeout_seconds, attempts=settings.carrier_retry_attempts,
                            failures=settings.carrier_breaker_failures,
                            cool_off=settings.carrier_breaker_cool_off_seconds)
    enabled = settings.enabled_carrier_adapters
    carriers: dict[str, Carrier] = {}
    if "karrio" in enabled:
        from bot.carriers.karrio import KarrioCarrier, ReturnAddress

        return_to = ReturnAddress(name=settings.karrio_return_name, street=settings.karrio_return_street,
                                  postcode=settings.karrio_return_postcode, city=settings.karrio_return_city,
                                  country=settings.karrio_return_country, phone=settings.karrio_return_phone,
                                  email=settings.karrio_return_email)

        for name in settings.karrio_names:
            prefix = f"karrio_{name}_"
            credentials = {field.removeprefix(prefix): getattr(settings, field) for field in type(settings).model_fields
                           if field.startswith(prefix) and field != f"{prefix}server_url"}
            carriers[name] = KarrioCarrier(
                session_factory, carrier=name, credentials=credentials, server_url=getattr(settings, f"{prefix}server_url"),
                test_mode=settings.karrio_test_mode, time_zone=settings.carrier_time_zone, robustness=robustness,
                return_to=return_to, mirror=Mirror(session_factory, name, clock=clock))
    if "onfleet" in enabled:
        from bot.carriers.onfleet import OnfleetCarrier

        carriers["onfleet"] = OnfleetCarrier(session_factory, api_key=settings.onfleet_api_key,
                                             api_url=settings.onfleet_api_url, time_zone=settings.carrier_time_zone,
                                             robustness=robustness,
                                             mirror=Mirror(session_factory, "onfleet", clock=clock))
    if "rest" in enabled:
        from bot.carriers.rest import RestCarrier

        capabilities = frozenset(Capability(c.strip()) for c in settings.rest_carrier_capabilities.split(",") if c.strip())
        carriers[settings.rest_carrier_name] = RestCarrier(
            session_factory, name=settings.rest_carrier_name, base_url=settings.rest_carrier_base_url,
            api_key=settings.rest_carrier_api_key, capabilities=capabilities, robustness=robustness,
            mirror=Mirror(session_factory, settings.rest_carrier_name, clock=clock))
    return carriers


__all__ = [
    "RETURN_METHODS",
    "Capability",
    "Carrier",
    "CarrierError",
    "CarrierEvent",
    "CarrierUnavailable",
    "ChangeRefused",
    "LockerOption",
    "Refusal",
    "ReturnLabel",
    "TimeWindow",
    "TrackingInfo",
    "UnknownShipment",
    "UnsupportedOperation",
    "build_carriers",
]
