"""What Doorstep says to customers, in their language: gettext catalogues with the English text as msgid.

`t(language, "English text {x}", x=...)` returns the German or Dutch translation from
`locale/<language>/LC_MESSAGES/messages.po` (English when the language is unknown or the catalogue
lacks the text), then fills in the values. `pt(language, "context", "English")` does the same for an
English text that needs two translations (gettext's msgctxt). Templates get the same two functions,
bound to one language, from `template_texts(language)`.

The catalogues are read with Babel on first use: there is no build step. Runs in both runtimes (the
action server and Rasa's NLG add-on): standard library and Babel only.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TypedDict

from babel.messages.pofile import read_po

LANGUAGES = ("en", "de", "nl")
LOCALE_DIR = Path(__file__).resolve().parent.parent.parent / "locale"
CONTEXT_SEPARATOR = "\x04"  # gettext's own key for a message with a context: "context\x04msgid"


def N_(message: str) -> str:
    """Marks a text kept in a constant for extraction into the catalogues; translated where it is said."""
    return message


def NP_(context: str, message: str) -> str:
    """N_ for a text with a context: the catalogue key, to be said with `translate`."""
    return f"{context}{CONTEXT_SEPARATOR}{message}"


def language_of(raw: object) -> str:
    """'de', 'de-DE', 'nl_NL' → the supported language; anything else → 'en'."""
    code = str(raw or "").split("-", 1)[0].split("_", 1)[0].strip().lower()
    return code if code in LANGUAGES else "en"


def best_language(accept_language: str | None) -> str:
    """The first supported language in an Accept-Language header ('en' when there is none)."""
    for part in (accept_language or "").split(","):
        tag = part.split(";", 1)[0].strip()
        code = language_of(tag)
        if tag and tag.lower().startswith(code):
            return code
    return "en"


def key(message: str, context: str | None = None) -> str:
    """The catalogue key of a message: its msgid, or 'context\\x04msgid'."""
    return f"{context}{CONTEXT_SEPARATOR}{message}" if context else message


@cache
def catalogue(language: str) -> dict[str, str]:
    """key → translation for one language (fuzzy and empty entries left out)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == "en" or not path.exists():
        return {}
    with path.open("rb") as po:
        messages = read_po(po, locale=language)
    return {key(str(m.id), m.context): str(m.string) for m in messages
            if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string and not m.fuzzy}


def translate(language: str | None, message: str) -> str:
    """The translation of `message` (a msgid, or a key from NP_), without filling in values; English when
    there is none."""
    english = message.rsplit(CONTEXT_SEPARATOR, 1)[-1]
    if language not in LANGUAGES:
        return english
    return catalogue(str(language)).get(message, english)


def t(language: str | None, message: str, **values: object) -> str:
    """`message` (English, the msgid) in `language`, with `values` filled in."""
    text = translate(language, message)
    return text.format(**values) if values else text


def pt(language: str | None, context: str, message: str, **values: object) -> str:
    """`t` for an English text that is translated differently in `context`."""
    text = translate(language, key(message, context))
    return text.format(**values) if values else text


class TemplateTexts(TypedDict):
    t: Callable[..., str]
    pt: Callable[..., str]


def template_texts(language: str | None) -> TemplateTexts:
    """`t("English {x}", x=...)` and `pt("context", "English")` for a Jinja template, in one language
    (passed per render, so concurrent renders in different languages never mix)."""
    lang = language_of(language)

    def template_t(message: str, **values: object) -> str:
        return t(lang, message, **values)

    def template_pt(context: str, message: str, **values: object) -> str:
        return pt(lang, context, message, **values)

    return TemplateTexts(t=template_t, pt=template_pt)
