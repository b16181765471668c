"""The bot's longest SMS replies, its lists of choices, fit in two segments in every language with the
longest values the world holds (the notifications' SMS are checked in tests/notify/test_templates.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.context import offer
from bot.carriers.sandbox.world import LOCKERS
from bot.changes.returns import METHODS as RETURN_METHODS
from bot.notify.segments import encoding, segments
from bot.text import LANGUAGES, t
from bot.text.offer_text import locker_option, numbered, reschedule_offer
from bot.text.timefmt import window

TZ = "Europe/Berlin"
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=ZoneInfo(TZ))  # a Monday: the next days cover every weekday
LONGEST_ID = "999999"  # 6 digits, longer than any tracking number's end the bot quotes
SMS_SENDER = "+4915120000001"


def sms(question: str, options: list[str], footer: str = "") -> str:
    """What actions.context.offer sends over SMS."""
    dispatcher = CollectingDispatcher()
    offer(dispatcher, Tracker(SMS_SENDER, {}, {}, [], False, None, {}, ""), question, options, footer)
    [message] = dispatcher.messages
    assert "buttons" not in message or not message["buttons"]
    return str(message["text"])


def longest_windows(language: str, count: int) -> list[tuple[datetime, datetime]]:
    """`count` windows whose words are the longest in this language over the next two weeks."""
    starts = [NOW + timedelta(days=d, hours=h) for d in range(2, 16) for h in (2, 12)]
    pairs = [(s, s + timedelta(hours=2)) for s in starts]
    return sorted(pairs, key=lambda p: len(window(*p, NOW, TZ, language)), reverse=True)[:count]


def within_two_segments(text: str) -> None:
    assert segments(text) <= 2, f"{segments(text)} segments ({encoding(text)}, {len(text)} characters):\n{text}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_list_of_five_windows_fits_two_segments(language: str) -> None:
    offered = reschedule_offer(language, LONGEST_ID, longest_windows(language, 5), now=NOW, tz=TZ)
    text = sms(*offered)
    assert text == numbered(*offered) and len(offered.options) == 5 and LONGEST_ID in text
    assert encoding(text) == "GSM-7"
    within_two_segments(text)


def test_the_list_of_windows_the_action_sends_today_is_three_segments() -> None:
    """Why reschedule_offer exists: the question with '…' makes the whole list UCS-2."""
    options = reschedule_offer("en", LONGEST_ID, longest_windows("en", 5), now=NOW, tz=TZ).options
    today = numbered(t("en", "When should parcel …{ref} come?", ref=LONGEST_ID), options,
                     t("en", "Or say a day/time, e.g. \"sat morning\"."))
    assert encoding(today) == "UCS-2" and segments(today) == 3


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_list_of_four_lockers_fits_two_segments(language: str) -> None:
    longest = sorted(LOCKERS, key=lambda locker: len(locker[1]), reverse=True)[:4]
    options = [locker_option(language, name=name, metres=99_949, hours=("06:00", "23:00"), free=999)
               for _code, name, *_rest in longest]
    for question in ("Which locker?", "Which locker will you drop it at?"):
        within_two_segments(sms(t(language, question), options))
    assert locker_option(language, name="Boxhagener Platz", metres=1000, hours=("00:00", "24:00"), free=34) == \
        t(language, "{name}, {km} km, {opening}, {free} free", name="Boxhagener Platz",
          km={"en": "1.0"}.get(language, "1,0"), opening=t(language, "24h"), free=34)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_list_of_return_methods_fits_two_segments(language: str) -> None:
    text = sms(t(language, "How do you want to send it back? All free."), [t(language, m) for m in RETURN_METHODS.values()])
    within_two_segments(text)
