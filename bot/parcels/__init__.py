"""Parcels that arrive after the world was built: one intake for the shipper's pre-advice and the demo."""

from bot.parcels.intake import Conflict, NewParcel, Recipient, Registered, register

__all__ = ["Conflict", "NewParcel", "Recipient", "Registered", "register"]
