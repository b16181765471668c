"""Every SMS template in every locale stays within 2 segments for the worst data it can be given."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from bot.conversation.identity import make_link_token
from bot.notify.render import AGENT_WORDED, LIMITS, LOCALES, TEMPLATES, Clock, render
from bot.notify.rules import TRIGGERS
from bot.notify.segments import encoding, segments

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def worst_contexts(locale: str) -> list[dict[str, object]]:
    """Each value at its longest; window and day labels at their longest in this locale."""
    clock = Clock(locale, "Europe/Berlin", NOW)
    days = [NOW + timedelta(days=d, hours=h) for d in range(0, 9) for h in (4, 13)]
    window = max((clock.window(d, d + timedelta(hours=1)) for d in days), key=len)
    deadline = max((f"{clock.day(d)} {clock.time(d)}" for d in days), key=len)
    # A long public URL and the largest shipment id a year of traffic gives.
    link = f"https://track.doorstep-example.com/t/{make_link_token('x' * 32, 99_999_999)}"
    base = {kind: "W" * cap for kind, cap in LIMITS.items()}
    contexts = []
    for method, stops in itertools.product(("locker", "pickup", "label"), (0, 1, 99)):
        contexts.append({
            **base, "link": link, "window": window, "promised": window, "day": window.split(" ")[0],
            "deadline": deadline, "stops_before": stops, "left_at": "W" * LIMITS["address"],
            "return_method": method, "label_code": "W" * 24, "pickup": window, "rating_handoff_below": 3,
        })
    return contexts


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("trigger", [trigger for trigger in TRIGGERS if trigger not in AGENT_WORDED])
def test_sms_fits_two_segments_for_worst_case_data(trigger: str, locale: str) -> None:
    for context in worst_contexts(locale):
        sms = render(trigger, locale, context).sms
        assert sms, f"{locale}/{trigger} has no SMS text"
        assert segments(sms) <= 2, f"{locale}/{trigger}: {segments(sms)} segments ({encoding(sms)}, {len(sms)} chars): {sms}"
        assert context["link"] in sms, "every message carries the tracking link"


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("trigger", AGENT_WORDED)
def test_an_agents_words_go_whole_within_twilios_1600_characters(trigger: str, locale: str) -> None:
    """An agent's reply is as long as the agent made it (up to its limit): whole, with the link, in one
    message Twilio takes (a body of at most 1,600 characters)."""
    for context in worst_contexts(locale):
        words = "W" * LIMITS["agent_text"]
        sms = render(trigger, locale, {**context, "agent_text": words}).sms
        assert words in sms and context["link"] in sms
        assert len(sms) <= 1600, f"{locale}/{trigger}: {len(sms)} chars"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_trigger_has_a_template_with_subject_and_email(locale: str) -> None:
    files = {p.stem for p in TEMPLATES.glob("*.j2") if not p.name.endswith(".html.j2")}
    assert files == set(TRIGGERS)
    context = worst_contexts(locale)[0]  # once: the link's signed token carries the time
    for trigger in TRIGGERS:
        out = render(trigger, locale, context)
        assert out.subject and out.text and "<html" in out.html and context["link"] in out.html


def test_segment_counting_follows_the_carriers() -> None:
    assert segments("a" * 160) == 1 and segments("a" * 161) == 2 and segments("a" * 306) == 2
    assert segments("a" * 307) == 3
    assert segments("€" * 80) == 1 and segments("€" * 81) == 2  # extension characters cost two septets
    assert encoding("Grüße aus Köln") == "GSM-7"
    assert encoding("Zustellung – heute") == "UCS-2"  # an en dash is not GSM-7
    assert segments("ç" * 70) == 1 and segments("ç" * 71) == 2 and segments("ç" * 134) == 2
    assert segments("📦" * 35) == 1 and segments("📦" * 36) == 2  # outside the BMP: two UTF-16 units


def test_dates_are_formatted_for_the_locale_and_time_zone() -> None:
    moment = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)  # Thursday
    assert Clock("de", "Europe/Berlin", NOW).window(moment, moment + timedelta(hours=1)) == "Do 26 Nov 14:00-15:00"
    assert Clock("en", "Europe/London", NOW).window(moment, moment + timedelta(hours=1)) == "Thu 26 Nov 13:00-14:00"
    assert Clock("nl", "Europe/Berlin", NOW).day(NOW + timedelta(hours=20)) == "morgen"
