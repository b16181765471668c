"""A hold's SMS (bot/text/hold_text.py): the one confirmation and the outcome list every parcel and stay within two
GSM-7 segments in every language with the longest values, from one parcel to ten."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.carriers.sandbox.world import LOCKERS
from bot.notify.segments import encoding, segments
from bot.text import LANGUAGES
from bot.text.hold_text import PROBLEMS, PlanLine, confirmation, outcome
from bot.text.timefmt import window

TZ = "Europe/Berlin"
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=ZoneInfo(TZ))
LONGEST_REF = "9999"  # a hold quotes the last four digits of each tracking number
LONGEST_LOCKER = max((locker[1] if isinstance(locker, tuple) else str(locker) for locker in LOCKERS), key=len)


def longest_windows(language: str, count: int) -> list[tuple[datetime, datetime]]:
    starts = [NOW + timedelta(days=d, hours=h) for d in range(2, 16) for h in (2, 12)]
    pairs = [(s, s + timedelta(hours=2)) for s in starts]
    return sorted(pairs, key=lambda p: len(window(*p, NOW, TZ, language)), reverse=True)[:count]


def mixed(language: str, count: int) -> list[PlanLine]:
    """Windows on different days, a locker, and every reason a parcel can't be held: the longest list there is."""
    lines: list[PlanLine] = []
    problems = sorted(PROBLEMS, key=lambda k: len(PROBLEMS[k]), reverse=True)
    for n, (start, end) in enumerate(longest_windows(language, count)):
        if n % 3 == 1:
            lines.append(PlanLine(LONGEST_REF, locker=LONGEST_LOCKER))
        elif n % 3 == 2:
            lines.append(PlanLine(LONGEST_REF, problem=problems[n % len(problems)]))
        else:
            lines.append(PlanLine(LONGEST_REF, start, end))
    return lines


def within_two_gsm_segments(text: str) -> None:
    assert encoding(text) == "GSM-7", text
    assert segments(text) <= 2, f"{segments(text)} segments, {len(text)} characters:\n{text}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("count", [1, 2, 3, 4, 6, 10])
def test_the_confirmation_fits_two_segments(language: str, count: int) -> None:
    lines = mixed(language, count)
    text = confirmation(language, first=date(2026, 11, 30), last=date(2026, 12, 31), lines=lines, now=NOW, tz=TZ)
    within_two_gsm_segments(text)
    assert text.count(LONGEST_REF) == count  # every parcel is listed


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("count", [1, 3, 4, 10])
def test_the_outcome_fits_two_segments(language: str, count: int) -> None:
    lines = mixed(language, count)
    done = [line for line in lines if line.problem is None]
    failed = [line for line in lines if line.problem is not None]
    text = outcome(language, last=date(2026, 12, 31), done=done, failed=failed, now=NOW, tz=TZ)
    within_two_gsm_segments(text)
    assert text.count(LONGEST_REF) == count


def test_up_to_three_parcels_each_get_their_whole_window_then_days_are_grouped() -> None:
    (s1, e1), (s2, e2) = longest_windows("en", 2)
    three = confirmation("en", first=NOW.date(), last=date(2026, 11, 25),
                         lines=[PlanLine("1111", s1, e1), PlanLine("2222", s1, e1), PlanLine("3333", s2, e2)],
                         now=NOW, tz=TZ)
    assert three.splitlines()[1] == f"1111: {window(s1, e1, NOW, TZ)}"
    four = confirmation("en", first=NOW.date(), last=date(2026, 11, 25),
                        lines=[PlanLine("1111", s1, e1), PlanLine("2222", s1, e1), PlanLine("3333", s2, e2),
                               PlanLine("4444", locker="Kollwitzplatz")], now=NOW, tz=TZ)
    assert four.splitlines()[0] == "Hold your parcels until Wed 25 Nov:"
    assert four.splitlines()[-2] == "Kollwitzplatz locker: 4444"
    assert "1111, 2222:" in four.splitlines()[1] or ": 1111, 2222" in four.splitlines()[1]
