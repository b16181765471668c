"""WhatsApp's approved templates: what a proactive message may say outside the 24-hour window.

Outside the customer-service window WhatsApp takes only templates approved by Meta, sent through
Twilio's Content API as a `ContentSid` with `ContentVariables` (`{"1": "...", "2": "..."}`). Each
template's words are an English msgid here (so German and Dutch come from the catalogues, like every
other customer text); `config/whatsapp_templates.yml` maps our trigger x locale to the ContentSid of
the template approved with that text. The variables are the text's placeholders in the order they
first appear in the English text: `{tracking_number}` is "1", the next one "2", and so on; a
translation may put them in another order, the numbers stay the same.

`python -m bot whatsapp-templates` prints each text in Twilio's `{{1}}` form, to submit for approval.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from bot.core.settings import ROOT
from bot.text import LANGUAGES, N_, t

DEFAULT_TEMPLATES = ROOT / "config" / "whatsapp_templates.yml"
CONTENT_SID = re.compile(r"HX[0-9a-f]{32}")

# The words of each template we ask Meta to approve. No optional parts: WhatsApp refuses an empty variable.
TEXTS: dict[str, str] = {
    "day_before": N_("Doorstep: parcel {tracking_number} comes {window}. Not home? Reply here with a better "
                     "time, or see {link}"),
    "out_for_delivery": N_("Doorstep: parcel {tracking_number} is out for delivery, arriving {window}. Not home? "
                           "Reply here, or see {link}"),
    "delayed": N_("Doorstep: sorry, parcel {tracking_number} is late. New time: {window}. Reply here to change "
                  "it, or see {link}"),
    "failed_attempt": N_("Doorstep: we missed you with parcel {tracking_number}. Reply here to pick a new time "
                         "or a locker, or see {link}"),
    "delivered": N_("Doorstep: parcel {tracking_number} was delivered. Something wrong? Reply here, or see {link}"),
    "at_locker": N_("Doorstep: parcel {tracking_number} is ready at {locker_name}. Code {pickup_code}, until "
                    "{deadline}. {link}"),
    # An agent's reply after the window closed (bot/notify/agent_reply.py); the customer answers in the same chat.
    "agent_reply": N_("Doorstep: {agent_name} from our support team replied to you: {agent_text} You can answer "
                      "here."),
}


def placeholders(text: str) -> tuple[str, ...]:
    """The text's placeholder names in order of first appearance: WhatsApp's variables 1, 2, 3..."""
    names: list[str] = []
    for _literal, name, _spec, _conversion in string.Formatter().parse(text):
        if name and name not in names:
            names.append(name)
    return tuple(names)


@dataclass(frozen=True)
class ContentTemplate:
    trigger: str
    locale: str
    content_sid: str

    @property
    def text(self) -> str:
        return TEXTS[self.trigger]

    @property
    def variables(self) -> tuple[str, ...]:
        return placeholders(self.text)

    def content_variables(self, context: dict[str, Any]) -> dict[str, str] | None:
        """`ContentVariables` from a notification's context; None when one would be empty (refused)."""
        values = {str(number): str(context.get(name) or "").strip()
                  for number, name in enumerate(self.variables, start=1)}
        return values if all(values.values()) else None

    def render(self, content_variables: dict[str, str]) -> str:
        """The message as WhatsApp shows it (the outbox renders it the way Twilio does)."""
        values = {name: content_variables[str(number)] for number, name in enumerate(self.variables, start=1)}
        return t(self.locale, self.text, **values)

    def approval_text(self) -> str:
        """The template in Twilio's numbered form, in its language, to submit for approval."""
        return t(self.locale, self.text, **{name: f"{{{{{number}}}}}"
                                             for number, name in enumerate(self.variables, start=1)})


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_sid: dict[str, str] = Field(min_length=1)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    templates: dict[str, _Entry]


class WhatsAppTemplates:
    """The approved templates by trigger and locale, and by ContentSid."""

    def __init__(self, templates: list[ContentTemplate]) -> None:
        self._by_key = {(tpl.trigger, tpl.locale): tpl for tpl in templates}
        self._by_sid = {tpl.content_sid: tpl for tpl in templates}

    def for_trigger(self, trigger: str, locale: str) -> ContentTemplate | None:
        return self._by_key.get((trigger, locale))

    def by_sid(self, content_sid: str) -> ContentTemplate | None:
        return self._by_sid.get(content_sid)

    def __iter__(self) -> Iterator[ContentTemplate]:
        return iter(sorted(self._by_key.values(), key=lambda tpl: (tpl.trigger, tpl.locale)))


def load_templates(path: Path | str | None = None) -> WhatsAppTemplates:
    """Read and check the data file: known triggers, supported locales, well-formed ContentSids."""
    data = _File.model_validate(yaml.safe_load(Path(path or DEFAULT_TEMPLATES).read_text()))
    templates: list[ContentTemplate] = []
    for trigger, entry in data.templates.items():
        if trigger not in TEXTS:
            raise ValueError(f"no WhatsApp template text for trigger {trigger!r}; known: {', '.join(TEXTS)}")
        for locale, sid in entry.content_sid.items():
            if locale not in LANGUAGES:
                raise ValueError(f"{trigger}: unsupported locale {locale!r}")
            if not CONTENT_SID.fullmatch(sid):
                raise ValueError(f"{trigger}/{locale}: {sid!r} is not a ContentSid (HX and 32 hex digits)")
            templates.append(ContentTemplate(trigger, locale, sid))
    return WhatsAppTemplates(templates)


@lru_cache(maxsize=4)
def cached_templates(path: str = "") -> WhatsAppTemplates:
    return load_templates(path or None)
