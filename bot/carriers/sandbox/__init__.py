"""The embedded sandbox carrier: a database-backed depot, drivers, routes and lockers in Berlin."""

from bot.carriers.sandbox.carrier import SandboxCarrier

__all__ = ["SandboxCarrier"]
