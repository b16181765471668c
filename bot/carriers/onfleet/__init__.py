"""Onfleet, a last-mile dispatch API: a shipment is an Onfleet task."""

from bot.carriers.onfleet.adapter import OnfleetCarrier

__all__ = ["OnfleetCarrier"]
