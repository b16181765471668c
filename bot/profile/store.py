"""The profile store: read a customer's standing wishes, change one item, delete them; every change recorded.

Each item is checked here (sizes, formats, known lockers and languages) whoever asks: the chat, the
profile page, the console. A change writes the new value and a `ProfileChange` row (when, by whom,
which channel, old and new value) in the caller's session; nothing is applied to parcels already on
their way (that is the change service's, parcel by parcel). Deletion takes effect at once: the next
parcel reads an empty profile.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.models import Customer, Locker, ProfileChange, RecipientProfile, utcnow

WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LANGUAGES = ("en", "de", "nl")
CHANNELS = ("sms", "email")
MAX_TEXT = 200
MAX_DOOR_MINUTES = 15
PRINTABLE = re.compile(r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*")


class Item(enum.StrEnum):
    SAFE_PLACE = "safe_place"
    NEIGHBOUR = "neighbour"
    SUIT_DAYS = "suit_days"
    NEVER_DAYS = "never_days"
    NOT_BEFORE = "not_before"  # local minutes after midnight
    NOT_AFTER = "not_after"
    LOCKER = "locker"
    ACCESSIBILITY = "accessibility"  # the driver's note: "ring twice, I'm hard of hearing"
    DOOR_MINUTES = "door_minutes"  # extra time at the door
    LANGUAGE = "language"
    CHANNELS = "channels"
    QUIET_HOURS = "quiet_hours"  # [start hour, end hour], local


# What "delete my preferences" removes: the wishes; how to reach the customer stays (it is not a wish
# about parcels, and a customer with no channel could not be told about anything).
WISHES = (Item.SAFE_PLACE, Item.NEIGHBOUR, Item.SUIT_DAYS, Item.NEVER_DAYS, Item.NOT_BEFORE, Item.NOT_AFTER,
          Item.LOCKER, Item.ACCESSIBILITY, Item.DOOR_MINUTES)


class By(enum.StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"


class InvalidValue(ValueError):
    """The value can't be stored for that item (too long, unknown day, unknown locker…)."""


@dataclass(frozen=True)
class Profile:
    """A customer's profile as every reader sees it."""

    customer_id: int
    safe_place: str | None = None
    neighbour: str | None = None
    suit_days: tuple[str, ...] = ()
    never_days: tuple[str, ...] = ()
    not_before: int | None = None
    not_after: int | None = None
    locker: str | None = None
    accessibility: str | None = None
    door_minutes: int = 0
    language: str = "en"
    channels: tuple[str, ...] = ("sms", "email")
    quiet_hours: tuple[int, int] = (21, 8)

    def value(self, item: Item) -> Any:
        return getattr(self, item.value)

    @property
    def has_wishes(self) -> bool:
        return any(self.value(item) for item in WISHES)

    @property
    def window_rules(self) -> bool:
        return bool(self.suit_days or self.never_days or self.not_before is not None or self.not_after is not None)


def read(session: Session, customer_id: int) -> Profile | None:
    """The customer's profile (their contact settings and their wishes); None for an unknown customer."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    row = session.get(RecipientProfile, customer_id)
    contact: dict[str, Any] = {"language": customer.locale or "en", "channels": tuple(customer.preferred_channels or ()),
               "quiet_hours": (customer.quiet_hours_start, customer.quiet_hours_end),
               "accessibility": customer.accessibility_needs}
    if row is None:
        return Profile(customer_id, **contact)
    return Profile(customer_id, safe_place=row.safe_place, neighbour=row.neighbour, suit_days=tuple(row.suit_days or ()),
                   never_days=tuple(row.never_days or ()), not_before=row.not_before, not_after=row.not_after,
                   locker=row.locker_code, door_minutes=row.extra_door_minutes or 0, **contact)


def clean(session: Session, item: Item, value: Any) -> Any:
    """The value as it will be stored, or `InvalidValue`. None clears the item."""
    if value is None:
        return None
    if item in (Item.SAFE_PLACE, Item.NEIGHBOUR, Item.ACCESSIBILITY):
        text = " ".join(str(value).split())
        if not 2 <= len(text) <= MAX_TEXT or not PRINTABLE.fullmatch(text):
            raise InvalidValue(f"{item}: 2 to {MAX_TEXT} characters")
        return text
    if item in (Item.SUIT_DAYS, Item.NEVER_DAYS):
        days = [str(day).lower()[:3] for day in value] if isinstance(value, list | tuple) else []
        if not days or any(day not in WEEK for day in days):
            raise InvalidValue(f"{item}: days of the week")
        return [day for day in WEEK if day in days]
    if item in (Item.NOT_BEFORE, Item.NOT_AFTER):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 24 * 60:
            raise InvalidValue(f"{item}: minutes after midnight")
        return value
    if item == Item.DOOR_MINUTES:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_DOOR_MINUTES:
            raise InvalidValue(f"{item}: 0 to {MAX_DOOR_MINUTES} minutes")
        return value
    if item == Item.LOCKER:
        code = str(value).strip().upper()
        if len(code) > 32 or session.scalar(select(Locker.id).where(Locker.code == code)) is None:
            raise InvalidValue("unknown locker")
        return code
    if item == Item.LANGUAGE:
        if value not in LANGUAGES:
            raise InvalidValue("language: en, de or nl")
        return value
    if item == Item.CHANNELS:
        chosen = [c for c in CHANNELS if isinstance(value, list | tuple) and c in value]
        if not chosen or len(chosen) != len(set(value)):
            raise InvalidValue("channels: sms and/or email")
        return chosen
    hours = list(value) if isinstance(value, list | tuple) else []
    if len(hours) != 2 or not all(isinstance(h, int) and not isinstance(h, bool) and 0 <= h < 24 for h in hours):
        raise InvalidValue("quiet hours: two local hours")
    return hours


def _current(profile: Profile, item: Item) -> Any:
    value = profile.value(item)
    return list(value) if isinstance(value, tuple) else value


def set_item(session: Session, *, customer_id: int, item: Item, value: Any, by: By, channel: str,
             actor: str = "", shipment_id: int | None = None) -> bool:
    """Store one item (None clears it) and record the change; False when it was already so (nothing recorded)."""
    profile = read(session, customer_id)
    if profile is None:
        raise InvalidValue("unknown customer")
    new = clean(session, item, value)
    old = _current(profile, item)
    if old == new or (not old and new is None):
        return False
    _write(session, customer_id, item, new)
    session.add(ProfileChange(customer_id=customer_id, item=item.value, action="set" if new is not None else "delete",
                              old={"value": old}, new={"value": new}, by=by.value, channel=channel[:16],
                              actor=actor[:80], shipment_id=shipment_id))
    return True


def delete_wishes(session: Session, *, customer_id: int, by: By, channel: str, actor: str = "",
                  shipment_id: int | None = None) -> int:
    """Delete every wish (not the contact settings); each deletion recorded. Returns how many were set."""
    profile = read(session, customer_id)
    if profile is None:
        return 0
    count = 0
    for item in WISHES:
        if profile.value(item):
            set_item(session, customer_id=customer_id, item=item, value=None, by=by, channel=channel, actor=actor,
                     shipment_id=shipment_id)
            count += 1
    return count


def history(session: Session, customer_id: int, limit: int = 50) -> list[ProfileChange]:
    return list(session.scalars(select(ProfileChange).where(ProfileChange.customer_id == customer_id)
                                .order_by(ProfileChange.id.desc()).limit(limit)))


def door_minutes(session: Session, shipment_customer: dict[int, int]) -> dict[int, int]:
    """Extra minutes at the door per shipment id, from its customer's profile ({shipment id: customer id})."""
    if not shipment_customer:
        return {}
    rows = dict(session.execute(select(RecipientProfile.customer_id, RecipientProfile.extra_door_minutes)
                                .where(RecipientProfile.customer_id.in_(set(shipment_customer.values())),
                                       RecipientProfile.extra_door_minutes > 0)).all())
    return {shipment: rows[customer] for shipment, customer in shipment_customer.items() if customer in rows}


def _write(session: Session, customer_id: int, item: Item, value: Any) -> None:
    customer = session.get(Customer, customer_id)
    assert customer is not None
    if item == Item.LANGUAGE:
        customer.locale = value or "en"
        return
    if item == Item.CHANNELS:
        customer.preferred_channels = value or ["sms", "email"]
        return
    if item == Item.QUIET_HOURS:
        customer.quiet_hours_start, customer.quiet_hours_end = value or (21, 8)
        return
    if item == Item.ACCESSIBILITY:
        customer.accessibility_needs = value
        return
    row = session.get(RecipientProfile, customer_id)
    if row is None:
        row = RecipientProfile(customer_id=customer_id, suit_days=[], never_days=[], extra_door_minutes=0)
        session.add(row)
    column = {Item.LOCKER: "locker_code", Item.DOOR_MINUTES: "extra_door_minutes"}.get(item, item.value)
    if item in (Item.SUIT_DAYS, Item.NEVER_DAYS):
        value = value or []
    if item == Item.DOOR_MINUTES:
        value = value or 0
    setattr(row, column, value)
    row.updated_at = utcnow()
