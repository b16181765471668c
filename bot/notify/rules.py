"""Notification rules: data (config/notifications.yml), validated once at start."""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from bot.core.settings import ROOT

Channel = Literal["whatsapp", "sms", "email"]
TRIGGERS = (
    "shipped", "day_before", "out_for_delivery", "stops_away", "delayed", "failed_attempt", "delivered",
    "at_locker", "locker_reminder", "return_label", "return_dropoff_reminder", "return_received",
    "verify_warning", "delivery_check", "claim_resolved", "change_confirmed",
    "profile_not_applied", "profile_changed",  # issue 16: the recipient profile
    "agent_reply",  # an agent's WhatsApp reply after the 24-hour window closed (bot/notify/agent_reply.py)
)
DEFAULT_RULES = ROOT / "config" / "notifications.yml"


class TriggerRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    channels: list[Channel] = Field(min_length=1)
    essential: bool = False


class GoodwillRule(BaseModel):
    """What we give when we break a promise badly (issue 16): a voucher code from a pool file, once per shipment."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    min_slip_minutes: int = Field(ge=1, description="the promised window's end slipped by at least this much")
    voucher_pool: str = Field(min_length=1, description="a text file, one code a line (relative to the repository)")


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    frequency_cap_per_day: int = Field(ge=1)
    stops_away: int = Field(ge=1)
    delay_threshold_minutes: int = Field(ge=1)
    # A window that slipped by more than this broke our promise: the delay message apologises and offers the options.
    promise_margin_minutes: int = Field(60, ge=1)
    goodwill: GoodwillRule | None = None
    day_before_at: time
    locker_hold_days: int = Field(ge=1)
    locker_reminder_hours_before: int = Field(ge=1)
    return_dropoff_reminder_days: int = Field(ge=1)
    rating_handoff_below: int = Field(ge=1, le=5)
    max_attempts: int = Field(ge=1)
    retry_base_seconds: float = Field(gt=0)
    triggers: dict[str, TriggerRule]

    def rule(self, trigger: str) -> TriggerRule | None:
        rule = self.triggers.get(trigger)
        return rule if rule is not None and rule.enabled else None

    @property
    def essential_triggers(self) -> list[str]:
        """Triggers that go first and outside the daily cap (the customer needs them to get the parcel)."""
        return [name for name, rule in self.triggers.items() if rule.essential]

    def model_post_init(self, _context: object) -> None:
        unknown = set(self.triggers) - set(TRIGGERS)
        if unknown:
            raise ValueError(f"unknown trigger(s) {sorted(unknown)}; known: {', '.join(TRIGGERS)}")


def load_rules(path: Path | str | None = None) -> Rules:
    return Rules.model_validate(yaml.safe_load(Path(path or DEFAULT_RULES).read_text()))


@lru_cache(maxsize=4)
def cached_rules(path: str = "") -> Rules:
    return load_rules(path or None)
