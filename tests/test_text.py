"""The bot's texts in German and Dutch: complete catalogues, `t`, and dates in the customer's language."""

from __future__ import annotations

import re
import string
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.catalogue_sources import all_messages, domain_messages, python_messages
from bot.settings import ROOT
from bot.text import LANGUAGES, catalogue, language_of, t, translate
from bot.timefmt import day_label, kilometres, window

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=BERLIN)  # a Tuesday


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_the_extraction_finds_the_domain_responses_and_the_actions_texts() -> None:
    """Guards the next test: an extraction that found nothing would make it pass."""
    from actions import texts

    domain, python = domain_messages(), python_messages()
    assert "You're welcome!" in domain and "Sorry, I can only write in English, German or Dutch. " \
        "Reply AGENT for a person." in domain
    assert texts.HANDOFF in python and texts.VERIFY_FAILED in python  # N_("…") constants
    assert "{change}? Reply YES or NO." in python  # t(lang, "…", change=…)
    assert "Parcel {ref} is on its way: {when}." in python  # bot/status_text.py
    assert "That window is no longer available." in python  # a carrier's refusal
    assert len(domain) >= 8 and len(python) >= 100


@pytest.mark.parametrize("language", ["de", "nl"])
def test_every_text_the_bot_says_has_a_translation_with_the_same_placeholders(language: str) -> None:
    translations = catalogue(language)
    missing = [msgid for msgid in all_messages() if not translations.get(msgid)]
    assert missing == [], f"run scripts/update_catalogues.py and translate: {missing}"
    for msgid in all_messages():
        assert fields(translations[msgid]) == fields(msgid), (msgid, translations[msgid])
        # The keywords customers reply with stay recognisable in every language.
        for keyword in ("AGENT", "STOP", "START", "HELP"):
            if re.search(rf"\b{keyword}\b", msgid):
                assert keyword in translations[msgid], (keyword, translations[msgid])


def test_actions_say_nothing_in_english_only() -> None:
    """Customer texts in actions go through t(): no literal text or f-string handed to the dispatcher,
    no f-string as a msgid (it could not be extracted)."""
    for path in sorted((ROOT / "actions").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"utter_message\(text=f?[\"'][A-Za-z]", source), path.name
        assert not re.search(r"\bt\([^,()]+,\s*f[\"']", source), path.name


def test_t_translates_then_fills_in_and_falls_back_to_english() -> None:
    assert t("de", "{change}? Reply YES or NO.", change="Paket …1234 auf morgen verschieben") == \
        "Paket …1234 auf morgen verschieben? Antworten Sie JA oder NEIN."
    assert t("nl", "{change}? Reply YES or NO.", change="X") == "X? Antwoord JA of NEE."
    assert t("en", "Reply {numbers} or {last}.", numbers="1, 2", last="3") == "Reply 1, 2 or 3."
    assert t("de", "Reply AGENT for a person.") == "AGENT für eine Person."
    for unknown in (None, "fr", "", "DE"):
        assert t(unknown, "Reply AGENT for a person.") == "Reply AGENT for a person."
    assert t("de", "A text nobody translated {x}", x=1) == "A text nobody translated 1"
    assert translate("nl", "Track: {link}") == "Volgen: {link}"


def test_language_of_accepts_only_the_three_languages() -> None:
    assert [language_of(x) for x in ("de", "de-DE", "nl_NL", "NL", "fr", None, "", 3)] == \
        ["de", "de", "nl", "nl", "en", "en", "en", "en"]
    assert LANGUAGES == ("en", "de", "nl")


def test_days_and_windows_in_the_customers_language() -> None:
    today, tomorrow = NOW.replace(hour=14), NOW.replace(day=2, hour=14)
    thursday, end = NOW.replace(day=3, hour=14), NOW.replace(day=3, hour=15)
    assert [day_label(today, NOW, "Europe/Berlin", lang) for lang in LANGUAGES] == ["today", "heute", "vandaag"]
    assert [day_label(tomorrow, NOW, "Europe/Berlin", lang) for lang in LANGUAGES] == ["tomorrow", "morgen", "morgen"]
    assert window(thursday, end, NOW, "Europe/Berlin") == "Thu 3 Dec 14:00-15:00"
    assert window(thursday, end, NOW, "Europe/Berlin", "de") == "Do 3 Dez 14:00-15:00"
    assert window(thursday, end, NOW, "Europe/Berlin", "nl") == "do 3 dec 14:00-15:00"
    assert window(thursday, end, NOW, "Europe/Berlin", "fr") == "Thu 3 Dec 14:00-15:00"


def test_distances_with_the_customers_decimal_mark() -> None:
    assert [kilometres(1949, lang) for lang in LANGUAGES] == ["1.9", "1,9", "1,9"]
    assert kilometres(12000, "de") == "12,0"
