"""The profile as the agent console shows it beside the conversation: what is saved, what each parcel got
and what could not be applied to it, and the latest changes (the console is in English)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.models import Locker, ProfileApplication, Shipment
from bot.profile.store import Item, history, read
from bot.profile.words import say_item, stored


@dataclass(frozen=True)
class AgentProfile:
    saved: list[str] = field(default_factory=list)  # "leave parcels with the neighbour "no. 14" if you're out"
    parcels: list[tuple[str, str, str, str]] = field(default_factory=list)  # tracking number, item, outcome, detail
    changes: list[tuple[str, str, str, str, str]] = field(default_factory=list)  # at, item, action, by, channel

    @property
    def not_applied(self) -> list[tuple[str, str, str, str]]:
        return [row for row in self.parcels if row[2] != "applied"]


def agent_view(session: Session, customer_id: int) -> AgentProfile:
    profile = read(session, customer_id)
    if profile is None:
        return AgentProfile()
    lockers = {code: name for code, name in session.execute(select(Locker.code, Locker.name))}
    saved = [say_item("en", Item(item), value, lockers) for item, value in stored(profile).items()]
    parcels = [(number, row.item, row.outcome, row.detail) for row, number in session.execute(
        select(ProfileApplication, Shipment.tracking_number).join(Shipment, Shipment.id == ProfileApplication.shipment_id)
        .where(ProfileApplication.customer_id == customer_id).order_by(ProfileApplication.id.desc()).limit(20))]
    changes = [(c.at.strftime("%Y-%m-%d %H:%M"), c.item, c.action, c.by, c.channel)
               for c in history(session, customer_id, limit=10)]
    return AgentProfile(saved, parcels, changes)
