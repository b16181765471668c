"""What the bot says, in the customer's language: gettext catalogues with the English text as msgid.

`t(language, "English text {x}", x=...)` returns the German or Dutch translation from
`locale/<language>/LC_MESSAGES/messages.po` (English when the language is unknown or the catalogue
lacks the text), then fills in the values. The catalogues are read with Babel on first use: there is
no build step. Runs in both runtimes (the action server and Rasa's NLG add-on): standard library and
Babel only.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("en", "de", "nl")
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def N_(message: str) -> str:
    """Marks a text kept in a constant for extraction into the catalogues; translated where it is said."""
    return message


def language_of(raw: object) -> str:
    """'de', 'de-DE', 'nl_NL' → the supported language; anything else → 'en'."""
    code = str(raw or "").split("-", 1)[0].split("_", 1)[0].strip().lower()
    return code if code in LANGUAGES else "en"


@cache
def catalogue(language: str) -> dict[str, str]:
    """msgid → translation for one language (fuzzy and empty entries left out)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == "en" or not path.exists():
        return {}
    with path.open("rb") as po:
        messages = read_po(po, locale=language)
    return {str(m.id): str(m.string) for m in messages
            if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string and not m.fuzzy}


def translate(language: str | None, message: str) -> str:
    """The translation of `message`, without filling in values (English when there is none)."""
    if language not in LANGUAGES:
        return message
    return catalogue(str(language)).get(message, message)


def t(language: str | None, message: str, **values: object) -> str:
    """`message` (English, the msgid) in `language`, with `values` filled in."""
    text = translate(language, message)
    return text.format(**values) if values else text
