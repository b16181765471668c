"""A note for the driver ("leave it behind the green gate")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot.carriers import Carrier
from bot.changes.common import ChangeRequest, Done, Kind, Parcel
from bot.changes.mirror import Instructed
from bot.text import t

MAX_NOTE = 300


@dataclass(frozen=True, kw_only=True)
class InstructionsRequest(ChangeRequest):
    kind: ClassVar[Kind] = Kind.INSTRUCTIONS
    note: str


def well_formed(request: InstructionsRequest) -> bool:
    return 3 <= len(request.note.strip()) <= MAX_NOTE


def apply(carrier: Carrier, parcel: Parcel, request: InstructionsRequest) -> Done:
    note = request.note.strip()
    carrier.set_instructions(parcel.tracking_number, note)
    return Done(Kind.INSTRUCTIONS, t(request.language, "Done: the driver will see \"{note}\".", note=note),
                {"length": len(note)}, Instructed(note))
