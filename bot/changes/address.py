"""Where the parcel goes instead: a neighbour if the customer is out, or a new address in the depot's area."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from bot.carriers import Carrier
from bot.changes.common import ChangeRequest, Done, Kind, Parcel
from bot.changes.mirror import Instructed, Readdressed, neighbour_note
from bot.text import t

MAX_TEXT = 300
POSTCODE = re.compile(r"\d{5}")


@dataclass(frozen=True, kw_only=True)
class NeighbourRequest(ChangeRequest):
    kind: ClassVar[Kind] = Kind.ADDRESS
    neighbour: str  # the customer's words: a name, a house number, a floor


@dataclass(frozen=True, kw_only=True)
class AddressRequest(ChangeRequest):
    kind: ClassVar[Kind] = Kind.ADDRESS
    address_line: str
    postcode: str


def well_formed(request: NeighbourRequest | AddressRequest) -> bool:
    if isinstance(request, NeighbourRequest):
        return 2 <= len(request.neighbour.strip()) <= MAX_TEXT
    return 3 <= len(request.address_line.strip()) <= MAX_TEXT and bool(POSTCODE.fullmatch(request.postcode))


def apply(carrier: Carrier, parcel: Parcel, request: NeighbourRequest | AddressRequest) -> Done:
    language, ref = request.language, parcel.short
    if isinstance(request, NeighbourRequest):
        note = request.neighbour.strip()
        carrier.deliver_to_neighbour(parcel.tracking_number, note)
        return Done(Kind.ADDRESS, t(language, "Done: if you're out, the driver leaves parcel …{ref} with a neighbour "
                                              "(note: \"{note}\").", ref=ref, note=note), {"neighbour": True},
                    Instructed(neighbour_note(note), "neighbour"))
    line = request.address_line.strip()
    carrier.change_address(parcel.tracking_number, address_line=line, postcode=request.postcode)
    return Done(Kind.ADDRESS, t(language, "Done: parcel …{ref} will go to {line}, {postcode}.", ref=ref, line=line,
                                postcode=request.postcode), {"postcode": request.postcode},
                Readdressed(line, request.postcode))
