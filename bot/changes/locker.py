"""Sending a parcel on its way to a locker instead of the door."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot.carriers import Carrier, LockerOption
from bot.changes.common import ChangeRequest, Done, Kind, Parcel
from bot.changes.mirror import SentToLocker
from bot.text import t


@dataclass(frozen=True, kw_only=True)
class LockerRequest(ChangeRequest):
    kind: ClassVar[Kind] = Kind.LOCKER
    locker_code: str


def options(carrier: Carrier, parcel: Parcel) -> list[LockerOption]:
    """The lockers near the delivery address that have room, nearest first."""
    return [locker for locker in carrier.nearby_lockers(parcel.tracking_number) if locker.free > 0]


def apply(carrier: Carrier, parcel: Parcel, request: LockerRequest) -> Done:
    locker = carrier.redirect_to_locker(parcel.tracking_number, request.locker_code)
    message = t(request.language, "Done: parcel …{ref} goes to the {locker} locker ({address}). "
                                  "You'll get the pickup code when it's there.",
                ref=parcel.short, locker=locker.name, address=locker.address)
    return Done(Kind.LOCKER, message, {"locker": locker.code}, SentToLocker(locker, carrier.uses_our_lockers))
