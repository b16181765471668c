"""Bring locale/{de,nl}/LC_MESSAGES/messages.po up to date with the bot's texts.

    .venv/bin/python scripts/update_catalogues.py

Every text said to customers (bot/text/catalogue_sources.py: `t(lang, "...")`, `pt(lang, "context", "...")`,
`N_("...")` in Python, `t("...")` in the notification and web templates, domain.yml responses) gets an
entry; translations already there are kept, new texts come
with an empty translation for a translator to fill in (tests/test_text.py fails until they are),
texts no longer used are dropped. Then fill in the empty `msgstr ""` entries.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.text import CONTEXT_SEPARATOR, LANGUAGES, LOCALE_DIR, key
from bot.text.catalogue_sources import all_messages


def update(language: str, messages: dict[str, str], translations: dict[str, str] | None = None) -> int:
    """Write the catalogue for `language`; the number of texts still without a translation."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    known: dict[str, str] = {}
    created = None
    if path.exists():
        with path.open("rb") as po:
            old = read_po(po, locale=language)
        known, created = {key(str(m.id), m.context): str(m.string) for m in old if m.id and m.string}, old.creation_date
    known.update(translations or {})
    catalog = Catalog(locale=language, project="Doorstep", domain="messages", fuzzy=False, creation_date=created,
                      revision_date=created, last_translator="Doorstep", language_team=None)
    for message, where in messages.items():
        context, _, msgid = message.rpartition(CONTEXT_SEPARATOR)
        catalog.add(msgid, known.get(message, ""), locations=[(where.rsplit(":", 1)[0], None)],
                    flags=("python-brace-format",) if "{" in msgid else (), context=context or None)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po:
        write_po(po, catalog, width=100, omit_header=False, sort_output=False, include_lineno=False)
    return sum(1 for message in messages if not known.get(message))


def main() -> None:
    messages = all_messages()
    for language in LANGUAGES:
        if language != "en":
            missing = update(language, messages)
            print(f"{language}: {len(messages)} texts, {missing} without a translation")


if __name__ == "__main__":
    main()
