"""Parcel carriers through karrio (UPS, FedEx, DHL Express): tracking and return labels."""

from bot.carriers.karrio.adapter import KarrioCarrier
from bot.carriers.karrio.mapping import ReturnAddress

__all__ = ["KarrioCarrier", "ReturnAddress"]
