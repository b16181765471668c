"""A period away from home in free text, in English, German and Dutch (bot/conversation/periods.py): the first and
the last day away, both included, from today unless the words say otherwise."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.conversation.periods import Period, parse_period

TZ = "Europe/Berlin"
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # Wednesday 2 December 2026
TODAY = date(2026, 12, 2)
FRIDAY = date(2026, 12, 4)
TWELFTH = date(2026, 12, 12)
NEXT_WEEK = Period(date(2026, 12, 7), date(2026, 12, 13))


@pytest.mark.parametrize(("text", "expected"), [
    # English
    ("till the 12th", Period(TODAY, TWELFTH)),
    ("until the 12th", Period(TODAY, TWELFTH)),
    ("until 12th", Period(TODAY, TWELFTH)),
    ("until Friday", Period(TODAY, FRIDAY)),
    ("next week", NEXT_WEEK),
    ("I'm away next week", NEXT_WEEK),
    ("12/12", Period(TODAY, TWELFTH)),
    ("12 Dec", Period(TODAY, TWELFTH)),
    ("Dec 12", Period(TODAY, TWELFTH)),
    ("hold everything until Dec 12", Period(TODAY, TWELFTH)),
    ("I'm going on holiday next week, can you hold my parcels till the 12th?", Period(date(2026, 12, 7), TWELFTH)),
    ("I'm not home till the 12th", Period(TODAY, TWELFTH)),
    ("away till the 12th, send them to the locker", Period(TODAY, TWELFTH)),
    ("from the 5th to the 12th", Period(date(2026, 12, 5), TWELFTH)),
    ("for two weeks", Period(TODAY, date(2026, 12, 15))),
    ("till tomorrow", Period(TODAY, date(2026, 12, 3))),
    ("until Monday", Period(TODAY, date(2026, 12, 7))),
    ("until the 1st", Period(TODAY, date(2027, 1, 1))),  # the 1st has passed this month: the next one
    ("until next week", Period(TODAY, date(2026, 12, 6))),  # back on Monday
    # German
    ("bis zum 12.", Period(TODAY, TWELFTH)),
    ("bis zum 12. bin ich im Urlaub", Period(TODAY, TWELFTH)),
    ("bin bis zum 12. nicht da", Period(TODAY, TWELFTH)),
    ("bis Freitag", Period(TODAY, FRIDAY)),
    ("nächste Woche", NEXT_WEEK),
    ("naechste Woche bin ich weg", NEXT_WEEK),
    ("12. Dezember", Period(TODAY, TWELFTH)),
    ("bis 12.12.", Period(TODAY, TWELFTH)),
    ("vom 5. bis 12. Dezember", Period(date(2026, 12, 5), TWELFTH)),
    ("zwei Wochen weg", Period(TODAY, date(2026, 12, 15))),
    ("bis übermorgen", Period(TODAY, FRIDAY)),
    # Dutch
    ("tot en met de 12e", Period(TODAY, TWELFTH)),
    ("tot en met de 12e ben ik weg", Period(TODAY, TWELFTH)),
    ("tot vrijdag", Period(TODAY, FRIDAY)),
    ("volgende week", NEXT_WEEK),
    ("12 december", Period(TODAY, TWELFTH)),
    ("t/m 12 dec", Period(TODAY, TWELFTH)),
    ("van 5 tot 12 december", Period(date(2026, 12, 5), TWELFTH)),
    ("ik ben een week weg", Period(TODAY, date(2026, 12, 8))),
    ("tot de 12e niet thuis", Period(TODAY, TWELFTH)),
])
def test_a_period_in_every_language(text: str, expected: Period) -> None:
    assert parse_period(text, NOW, TZ) == expected


@pytest.mark.parametrize("text", [
    "hold my parcels", "I'm back", "12", "yes", "ja", "cancel", "send them to the locker", "hold all parcels pls",
    "until the day before yesterday",
])
def test_no_end_day_is_no_period(text: str) -> None:
    assert parse_period(text, NOW, TZ) is None


def test_a_period_longer_than_two_months_is_no_period() -> None:
    assert parse_period("until 30 April", NOW, TZ) is None


def test_a_day_of_the_period_is_in_it() -> None:
    period = parse_period("till the 12th", NOW, TZ)
    assert period is not None and TWELFTH in period and TODAY in period and date(2026, 12, 13) not in period


def test_today_is_the_customers_day_in_their_time_zone() -> None:
    late_evening = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)  # already Thursday in Berlin
    assert parse_period("until Friday", late_evening, TZ) == Period(date(2026, 12, 3), FRIDAY)
