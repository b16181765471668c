"""The bot's texts in German and Dutch: complete catalogues, `t`, and dates in the customer's language."""

from __future__ import annotations

import re
import string
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

from bot.core.settings import ROOT
from bot.notify.render import TEMPLATES
from bot.text import (
    LANGUAGES,
    NP_,
    best_language,
    catalogue,
    key,
    language_of,
    pt,
    t,
    template_texts,
    translate,
)
from bot.text.catalogue_sources import all_messages, domain_messages, python_messages, template_messages
from bot.text.timefmt import day_label, kilometres, moment_text, window

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
    assert "Parcel {ref} is on its way: {when}." in python  # bot/text/status_text.py
    assert "That window is no longer available." in python  # a carrier's refusal
    assert len(domain) >= 8 and len(python) >= 100
    templates = template_messages()
    assert "Hi {first_name}," in templates  # a notification template
    assert "Find my parcel" in templates and key("Where it was left", "map pin") in templates  # web pages
    assert key("Where it was left", "proof row") in python  # pt(language, "context", "…")
    assert "Returned to sender" in python and "tomorrow" in python  # N_ in the tracking view and timefmt
    assert len(templates) >= 100


def test_every_message_id_exists_in_every_locale_and_nothing_else_does() -> None:
    """Every text in the sources is in both catalogues, and the catalogues hold no text the code no
    longer says (run scripts/update_catalogues.py after changing texts)."""
    wanted = set(all_messages())
    for language in ("de", "nl"):
        path = ROOT / "locale" / language / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as po:
            held = {key(str(m.id), m.context) for m in read_po(po, locale=language) if m.id}
        assert held == wanted, (sorted(held - wanted)[:5], sorted(wanted - held)[:5])


def test_notification_templates_have_no_words_outside_the_catalogues() -> None:
    for path in sorted(TEMPLATES.glob("*.j2")):
        if path.name.endswith(".html.j2"):
            continue
        outside = re.sub(r"{%.*?%}|{{.*?}}", " ", path.read_text(encoding="utf-8"), flags=re.S)
        assert not re.search(r"[A-Za-z]{2,}", outside), (path.name, outside.split())


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


def test_a_context_gives_the_same_english_its_own_translation() -> None:
    assert pt("de", "map pin", "Where it was left") == "Ablageort"
    assert pt("de", "proof row", "Where it was left") == "Abgelegt"
    assert pt("en", "map pin", "Where it was left") == "Where it was left"
    assert pt("fr", "map pin", "Where it was left") == "Where it was left"
    assert translate("nl", NP_("map pin", "Where it was left")) == "Waar het ligt"
    assert pt("de", "no such context", "Where it was left") == "Where it was left"


def test_templates_get_t_and_pt_bound_to_one_language() -> None:
    german, english = template_texts("de-DE"), template_texts("fr")
    assert german["t"]("Updated {time}", time="09:00") == "Aktualisiert 09:00"
    assert german["pt"]("map pin", "Where it was left") == "Ablageort"
    assert english["t"]("Updated {time}", time="09:00") == "Updated 09:00"


def test_the_page_language_comes_from_accept_language() -> None:
    assert best_language("nl-NL,nl;q=0.9,en;q=0.8") == "nl"
    assert best_language("fr-FR,de;q=0.7") == "de"
    assert [best_language(h) for h in (None, "", "*", "fr", "en-GB")] == ["en", "en", "en", "en", "en"]


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
    assert window(thursday, end, NOW, "Europe/Berlin", "de", dash="–") == "Do 3 Dez 14:00–15:00"  # web pages
    yesterday = NOW.replace(day=1, hour=7) - timedelta(days=1)
    assert [moment_text(yesterday, NOW, "Europe/Berlin", lang) for lang in LANGUAGES] == \
        ["yesterday 07:00", "gestern 07:00", "gisteren 07:00"]


def test_every_language_has_the_same_window_everywhere_the_customer_reads_it() -> None:
    """One formatter: the chat, a notification and the tracking page say the same window."""
    from bot.notify.render import Clock

    start, end = NOW.replace(day=4, hour=18), NOW.replace(day=4, hour=20)
    for language in LANGUAGES:
        chat = window(start, end, NOW, "Europe/Berlin", language)
        assert Clock(language, "Europe/Berlin", NOW).window(start, end) == chat
        assert chat.split()[-1] == "18:00-20:00" and "–" not in chat


def test_distances_with_the_customers_decimal_mark() -> None:
    assert [kilometres(1949, lang) for lang in LANGUAGES] == ["1.9", "1,9", "1,9"]
    assert kilometres(12000, "de") == "12,0"
