"""A hold's messages in the customer's language: the one confirmation that lists each parcel and its new plan,
and the outcome, parcel by parcel. Over SMS each is one message within two segments: GSM-7 only (no "…"),
one short line per parcel; with more than `FULL_LINES` parcels the lines say only the day, grouped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date

from bot.text import N_, language_of, t
from bot.text.timefmt import day_label, window

FULL_LINES = 3  # up to three parcels: each with its whole new window; more: the day only, parcels grouped


@dataclass(frozen=True)
class PlanLine:
    """One parcel in a hold, as words need it: its short reference and what happens to it (a window, a locker's
    name, or a short reason it can't be held)."""

    ref: str
    start: datetime | None = None
    end: datetime | None = None
    locker: str | None = None
    problem: str | None = None  # a msgid from PROBLEMS


# Why one parcel can't be held: short, as they stand in a list.
PROBLEMS = {
    "out_for_delivery": N_("out with the driver today, can't be held"),
    "no_window_after": N_("no day after that offered yet"),
    "no_locker": N_("no locker with room"),
    "not_offered": N_("its carrier can't hold it"),
    "carrier_down": N_("carrier not answering, not changed"),
    "other": N_("can't be changed now"),
}


def problem_key(code: str | None) -> str:
    return code if code in PROBLEMS else "other"


def date_text(day: date, language: str) -> str:
    """'Sat 12 Dec' / 'Sa 12 Dez' / 'za 12 dec'."""
    return format_date(day, "EEE d MMM", locale=language_of(language)).replace(".", "")


def _plan_text(line: PlanLine, language: str, now: datetime, tz: str, *, full: bool) -> str:
    if line.problem is not None:
        return t(language, PROBLEMS[problem_key(line.problem)])
    if line.locker is not None:
        return t(language, "{locker} locker", locker=line.locker)
    assert line.start is not None and line.end is not None
    return window(line.start, line.end, now, tz, language) if full else day_label(line.start, now, tz, language)


def plan_lines(lines: Sequence[PlanLine], language: str, now: datetime, tz: str) -> list[str]:
    """'6558: Mon 14 Dec 10:00-11:00' per parcel; with many parcels, 'Mon 14 Dec: 6558, 1297' per plan."""
    if len(lines) <= FULL_LINES:
        return [f"{line.ref}: {_plan_text(line, language, now, tz, full=True)}" for line in lines]
    groups: dict[str, list[str]] = {}
    for line in lines:
        groups.setdefault(_plan_text(line, language, now, tz, full=False), []).append(line.ref)
    return [f"{plan}: {', '.join(refs)}" for plan, refs in groups.items()]


def confirmation(language: str, *, first: date, last: date, lines: Sequence[PlanLine], now: datetime,
                 tz: str) -> str:
    """The one question before anything changes: the period, each parcel's new plan, YES or NO."""
    today = now.astimezone(ZoneInfo(tz)).date()
    if first <= today:
        head = t(language, "Hold your parcels until {last}:", last=date_text(last, language))
    else:
        head = t(language, "Hold your parcels {first} to {last}:", first=date_text(first, language),
                 last=date_text(last, language))
    return "\n".join([head, *plan_lines(lines, language, now, tz),
                      t(language, "Reply YES or NO, or AGENT for a person.")])


def nothing_due(language: str, *, first: date, last: date) -> str:
    """No parcel is due in the period yet: the hold is still worth having, for the parcels that come."""
    return t(language, "None of your parcels is due {first} to {last} yet. Shall I hold any that come then? "
                       "Reply YES or NO.", first=date_text(first, language), last=date_text(last, language))


def outcome(language: str, *, last: date, done: Sequence[PlanLine], failed: Sequence[PlanLine], now: datetime,
            tz: str) -> str:
    """After the changes: what was done, parcel by parcel, and plainly what was not."""
    parts = []
    if done:
        parts.append(t(language, "Done, held until {last}:", last=date_text(last, language)))
        parts += plan_lines(done, language, now, tz)
    if failed:
        parts.append(t(language, "Not changed:"))
        parts += plan_lines(failed, language, now, tz)
        parts.append(t(language, "Reply AGENT for a person."))
    if not done and not failed:
        parts.append(t(language, "Done: I'll hold any parcel due until {last}.", last=date_text(last, language)))
    return "\n".join(parts)


def no_hold(language: str) -> str:
    return t(language, "You have no hold on your parcels right now.")


def cancel_question(language: str, *, last: date) -> str:
    return t(language, "End your hold until {last}? Parcels already moved keep their new plan. Reply YES or NO.",
             last=date_text(last, language))


def cancelled(language: str) -> str:
    return t(language, "Done, your hold has ended. New parcels come as usual; parcels already moved keep their "
                       "new plan.")

