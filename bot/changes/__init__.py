"""The change service: reschedule, locker, instructions, neighbour or address, return; one module per kind.

Callers (the bot's actions, the agent console, the HTTP API) build a typed request, ask `check` before
they ask the customer to confirm, and `make` the change; they get `Done`, `Refused` or `CarrierDown`.
"""

from bot.changes.address import AddressRequest, NeighbourRequest
from bot.changes.common import (
    CarrierDown,
    ChangeRequest,
    Code,
    Done,
    Kind,
    Outcome,
    Reason,
    Refused,
    Requester,
    carrier_does,
    reason_text,
    refusal_for_state,
)
from bot.changes.hold import HoldMode, HoldRequest
from bot.changes.instructions import InstructionsRequest
from bot.changes.locker import LockerRequest
from bot.changes.reschedule import RescheduleRequest
from bot.changes.returns import METHODS as RETURN_METHODS
from bot.changes.returns import ReturnRequest
from bot.changes.service import Asker, Options, Request, check, make, options

__all__ = [
    "RETURN_METHODS", "AddressRequest", "Asker", "CarrierDown", "ChangeRequest", "Code", "Done", "HoldMode",
    "HoldRequest", "InstructionsRequest", "Kind", "LockerRequest", "NeighbourRequest", "Options", "Outcome", "Reason",
    "Refused", "Request", "Requester", "RescheduleRequest", "ReturnRequest", "carrier_does", "check", "make", "options",
    "reason_text", "refusal_for_state",
]
