"""bot/conversation/choices.py: the customer's own words, in English, German and Dutch, against a fixed now."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from actions.rating import score_of
from bot.carriers.models import TimeWindow
from bot.conversation.answers import NO_PREFIX, is_cancel, is_no, is_yes, starts_with_no
from bot.conversation.choices import (
    INSTRUCTION_WORDS,
    WhenRequest,
    option_number,
    parse_address_answer,
    parse_when,
    pick_by_name,
    pick_window,
    picks_the_only_option,
)
from bot.conversation.sentiment import is_angry
from tests.conftest import T0  # Tuesday 24 Nov 2026, 07:00 in Berlin

TZ = "Europe/Berlin"
TODAY, TOMORROW, DAY_AFTER = date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26)
MORNING = {"not_before": time(0), "not_after": time(12)}
MIDDAY = {"not_before": time(11), "not_after": time(14)}
AFTERNOON = {"not_before": time(12), "not_after": time(17)}
EVENING = {"not_before": time(17), "not_after": time(23, 59)}
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
NEXT_WEEK = {date(2026, 11, 30 + n) for n in range(1)} | {date(2026, 12, n) for n in range(1, 7)}


def when(days: set[date] | None = None, **fields: object) -> WhenRequest:
    return WhenRequest(days=days or set(), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "expected"), [
    # English, as before
    ("tmrw after 5 pls", when({TOMORROW}, not_before=time(17))),
    ("saturday morning", when(weekday=SAT, **MORNING)),
    ("day after tomorrow", when({DAY_AFTER})),
    ("between 2 and 4", when(not_before=time(14), not_after=time(16))),
    ("at 10", when(around=time(10))),
    ("10am", when(around=time(10))),
    ("the 28th", when({date(2026, 11, 28)})),
    ("12 dec", when({date(2026, 12, 12)})),
    ("dec 12th", when({date(2026, 12, 12)})),
    ("not before 10", when(not_before=time(10))),
    ("not after 6", when(not_after=time(18))),
    ("thrusday afternoon", when(weekday=THU, **AFTERNOON)),
    ("good morning, can it come tomorrow?", when({TOMORROW})),
    ("any time after five", when(not_before=time(17))),
    # German
    ("morgen nach 17 Uhr", when({TOMORROW}, not_before=time(17))),
    ("übermorgen", when({DAY_AFTER})),
    ("uebermorgen", when({DAY_AFTER})),
    ("nächsten Dienstag", when(weekday=TUE)),
    ("naechsten dinstag", when(weekday=TUE)),
    ("am Samstag vormittags", when(weekday=SAT, **MORNING)),
    ("Samstagvormittag", when(weekday=SAT, **MORNING)),
    ("samstags nachmittags", when(weekday=SAT, **AFTERNOON)),
    ("Samstag Morgen", when(weekday=SAT, **MORNING)),
    ("Sonntagmorgen", when(weekday=SUN, **MORNING)),
    ("Mittwoch mittags", when(weekday=WED, **MIDDAY)),
    ("Do. vormittag", when(weekday=THU, **MORNING)),
    ("zwischen 14 und 16 Uhr", when(not_before=time(14), not_after=time(16))),
    ("von 14 bis 16 Uhr", when(not_before=time(14), not_after=time(16))),
    ("14-16 Uhr", when(not_before=time(14), not_after=time(16))),
    ("zwischen zwei und vier", when(not_before=time(14), not_after=time(16))),
    ("ab 18 Uhr", when(not_before=time(18))),
    ("ab 5 am Samstag", when(weekday=SAT, not_before=time(17))),
    ("bis 12", when(not_after=time(12))),
    ("nicht vor 10", when(not_before=time(10))),
    ("nicht nach 18 Uhr", when(not_after=time(18))),
    ("nach fünf", when(not_before=time(17))),
    ("um 17.30 Uhr", when(around=time(17, 30))),
    ("gegen halb 6", when(around=time(17, 30))),
    ("17 Uhr", when(around=time(17))),
    ("am 12.", when({date(2026, 12, 12)})),
    ("am 30.", when({date(2026, 11, 30)})),
    ("12. Dezember", when({date(2026, 12, 12)})),
    ("am 3. März", when({date(2027, 3, 3)})),
    ("12.12.", when({date(2026, 12, 12)})),
    ("heute Abend", when({TODAY}, **EVENING)),
    ("heute morgen", when({TODAY}, **MORNING)),
    ("Guten Morgen, geht es morgen früh?", when({TOMORROW}, **MORNING)),
    ("Freitag zwischen 9 und 12", when(weekday=FRI, not_before=time(9), not_after=time(12))),
    ("am Wochenende", when(weekday=SAT)),
    ("ab dem 12.", when({date(2026, 12, 12)})),
    ("Freitag vor dem Mittag", when(weekday=FRI, **MORNING)),
    # Dutch
    ("morgen na 17u", when({TOMORROW}, not_before=time(17))),
    ("overmorgen", when({DAY_AFTER})),
    ("volgende dinsdag", when(weekday=TUE)),
    ("zaterdagochtend", when(weekday=SAT, **MORNING)),
    ("zaterdag in de middag", when(weekday=SAT, **AFTERNOON)),
    ("zaterdag tussen de middag", when(weekday=SAT, **MIDDAY)),
    ("zaterdagmorgen", when(weekday=SAT, **MORNING)),
    ("vrijdag 's avonds", when(weekday=FRI, **EVENING)),
    ("na vijven", when(not_before=time(17))),
    ("na zessen", when(not_before=time(18))),
    ("tussen 2 en 4", when(not_before=time(14), not_after=time(16))),
    ("van 2 tot 4", when(not_before=time(14), not_after=time(16))),
    ("vanaf 18:00", when(not_before=time(18))),
    ("voor 12 uur", when(not_after=time(12))),
    ("niet voor 10", when(not_before=time(10))),
    ("om 10 uur", when(around=time(10))),
    ("12 december", when({date(2026, 12, 12)})),
    ("op de 12e", when({date(2026, 12, 12)})),
    ("vanavond", when({TODAY}, **EVENING)),
    ("morgenavond", when({TOMORROW}, **EVENING)),
    ("donderdg na 5", when(weekday=THU, not_before=time(17))),
    ("vrijdag voor de middag", when(weekday=FRI, **MORNING)),
    ("vrijdag na de middag", when(weekday=FRI, **AFTERNOON)),
    # next week, after work, early, abbreviated (QA in German and Dutch)
    ("nächste Woche Freitag", when(NEXT_WEEK, weekday=FRI)),
    ("volgende week dinsdag", when(NEXT_WEEK, weekday=TUE)),
    ("donnerstag kommende woche", when(NEXT_WEEK, weekday=THU)),
    ("volgende week", when(NEXT_WEEK)),
    ("morgen nächste woche", when({TOMORROW})),  # the named day wins
    ("nach Feierabend", when(not_before=time(17))),
    ("morgen nach der arbeit", when({TOMORROW}, not_before=time(17))),
    ("na het werk", when(not_before=time(17))),
    ("morgen vroeg", when({TOMORROW}, **MORNING)),
    ("morgenvroeg", when({TOMORROW}, **MORNING)),
    ("Fr nachm.", when(weekday=FRI, **AFTERNOON)),
    # a day turned down is not the day wanted
    ("bin morgen nicht da", when()),
    ("bin morgen nicht da, geht übermorgen?", when({DAY_AFTER})),
    ("morgen passt nicht, lieber Freitag", when(weekday=FRI)),
    ("ik ben er morgen niet", when()),
    ("ik ben er zaterdag niet, kan het vrijdag na vijven", when(weekday=FRI, not_before=time(17))),
    ("not home tomorrow, can it come friday", when(weekday=FRI)),
    ("cant do tomorrow", when()),
    ("morgen früh geht nicht aber nachmittags", when(**AFTERNOON)),
    ("morgen nicht vor 10", when({TOMORROW}, not_before=time(10))),  # a limit, not a refusal
    ("niet later dan 5 morgen", when({TOMORROW}, not_after=time(17))),
    # mixed, and nothing at all
    ("Samstag after 5", when(weekday=SAT, not_before=time(17))),
    ("wo ist mein Paket", when()),
    ("waar is mijn pakket", when()),
    ("zo snel mogelijk", when()),
    ("12 mal angerufen", when()),
    ("at one point he just left", when()),
    ("na een uur", when()),
])
def test_parse_when_reads_days_and_times_in_three_languages(text: str, expected: WhenRequest) -> None:
    assert parse_when(text, T0, TZ) == expected


def test_empty_means_nothing_named() -> None:
    assert parse_when("hallo, wo bleibt es?", T0, TZ).empty
    assert not parse_when("overmorgen", T0, TZ).empty


def _window(day: int, start: int, end: int) -> TimeWindow:
    zone = ZoneInfo(TZ)
    return TimeWindow(datetime(2026, 11, day, start, tzinfo=zone), datetime(2026, 11, day, end, tzinfo=zone))


AVAILABLE = [_window(25, 8, 12), _window(25, 17, 21), _window(26, 12, 16), _window(28, 8, 12), _window(28, 12, 16)]


@pytest.mark.parametrize(("text", "expected"), [
    ("morgen nach 17 Uhr", _window(25, 17, 21)),
    ("morgenavond", _window(25, 17, 21)),
    ("overmorgen", _window(26, 12, 16)),
    ("zaterdagochtend", _window(28, 8, 12)),
    ("Samstag zwischen 12 und 16 Uhr", _window(28, 12, 16)),
    ("die zweite", AVAILABLE[1]),
    ("de laatste", AVAILABLE[2]),
    ("Sonntag", None),
])
def test_pick_window_takes_a_number_or_the_earliest_window_that_fits(text: str, expected: TimeWindow | None) -> None:
    chosen, _ = pick_window(text, AVAILABLE[:3], AVAILABLE, now=T0, tz=TZ)
    assert chosen == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("2", 2), ("option 2", 2), ("#3", 3), ("the second one", 2), ("last one", 4), ("1st", 1),
    ("die zweite", 2), ("das erste", 1), ("den dritten bitte", 3), ("Nummer 2", 2), ("nr 2", 2), ("Nr. 2", 2),
    ("der letzte", 4), ("die 2.", 2), ("ich nehme die zweite bitte", 2), ("die fünfte", None),
    ("de tweede", 2), ("nummer 2", 2), ("de laatste", 4), ("optie 3", 3), ("2e", 2), ("de 2de graag", 2),
    ("5", None), ("the first one is too early for me", None), ("Samstag", None), ("ik ben er niet", None),
])
def test_option_number_understands_picks(text: str, expected: int | None) -> None:
    assert option_number(text, 4) == expected


def test_pick_by_name_ignores_case_and_umlauts() -> None:
    assert pick_by_name("die am Hermannplatz", ["Alexanderplatz", "Hermannplatz"]) == 1
    assert pick_by_name("Schönhauser", ["Alexanderplatz", "Schonhauser Allee"]) == 1
    assert pick_by_name("egal", ["Alexanderplatz", "Hermannplatz"]) is None


@pytest.mark.parametrize("text", [
    "cancel", "never mind", "nvm", "forget it", "no thanks", "stop", "leave it", "don't bother",
    "never mind, ill be home after all", "forget it i'll be in", "cancel that please", "Nope, forget it",
    "egal", "ach egal", "ist mir egal", "vergiss es", "Nö, vergiss es", "lass mal", "lass gut sein", "doch nicht",
    "doch nicht, ich bin da", "abbrechen", "nein danke", "Nein, danke!", "schon gut, ich bin doch zu Hause",
    "laat maar", "laat maar zitten", "Nee, laat maar. Ik ben thuis", "toch niet", "annuleren", "nee dank je",
    "nee, bedankt", "hoeft niet meer", "hoeft al niet meer, ik ben thuis",
])
def test_a_cancel_starts_the_message_or_is_all_of_it(text: str) -> None:
    assert is_cancel(text)


@pytest.mark.parametrize("text", [
    "don't leave it at the door", "leave it at the door", "leave it by the bins please", "stop by after 5",
    "egal wann, Hauptsache Samstag", "lass mal sehen", "lass es beim Nachbarn", "doch nicht am Samstag, lieber Sonntag",
    "laat maar bij de buren", "nein", "nee", "no", "Samstag", "the cancellation policy?",
])
def test_instructions_and_answers_are_not_cancels(text: str) -> None:
    assert not is_cancel(text)


@pytest.mark.parametrize(("text", "yes", "no"), [
    ("yes", True, False), ("yes please", True, False), ("ok", True, False), ("ja", True, False), ("jo", True, False),
    ("jep", True, False), ("genau", True, False), ("passt", True, False), ("klar", True, False),
    ("Ja, passt!", True, False), ("ja bitte", True, False), ("klopt", True, False), ("prima", True, False),
    ("doe maar", True, False), ("ja graag", True, False),
    ("no", False, True), ("nein", False, True), ("Nein danke", False, True), ("nee", False, True),
    ("neen", False, True), ("liever niet", False, True), ("lieber nicht", False, True),
    ("ja, aber Sonntag", False, False), ("nee, zaterdag", False, False), ("Jansen", False, False),
])
def test_plain_yes_and_no(text: str, yes: bool, no: bool) -> None:
    assert (is_yes(text), is_no(text)) == (yes, no)


@pytest.mark.parametrize(("text", "expected"), [
    ("no, Sunday", "Sunday"), ("Nein, Samstag", "Samstag"), ("nee, bij de buren", "bij de buren"),
    ("Nö. Meyer", "Meyer"), ("actually the back door", "the back door"), ("eigentlich Hintertür", "Hintertür"),
    ("Nebenan bei Meyer", "Nebenan bei Meyer"),
])
def test_no_prefix_leaves_the_correction(text: str, expected: str) -> None:
    assert NO_PREFIX.sub("", text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("neighbour meyer no 12", "N:neighbour meyer no 12"),
    ("beim Nachbarn Meyer Nr. 12", "N:beim Nachbarn Meyer Nr. 12"),
    ("bei Familie Özdemir nebenan", "N:bei Familie Özdemir nebenan"),
    ("Nachbar gegenüber, Schmidt", "N:Nachbar gegenüber, Schmidt"),
    ("bij de buren op nummer 14", "N:bij de buren op nummer 14"),
    ("buurvrouw Jansen, huisnummer 8", "N:buurvrouw Jansen, huisnummer 8"),
    ("Oranienstraße 5, 10999", "A:Oranienstraße 5|10999"),
    ("neue Adresse: Oranienstraße 5, 10999 Berlin", "A:Oranienstraße 5|10999"),
    ("nieuw adres Oranienstraße 5 10999", "A:Oranienstraße 5|10999"),
    ("Oranienstr 5, 10999", "A:Oranienstr 5|10999"),
    ("bitte beim Nachbarn abgeben", None),
    ("bij de buren", None),
    ("Kann es zum Nachbarn?", None),
    ("leave it with next door", None),
])
def test_address_answers_name_a_neighbour_or_a_new_address(text: str, expected: str | None) -> None:
    assert parse_address_answer(text) == expected


@pytest.mark.parametrize("text", [
    "back door", "leave it in the shed", "Haustür", "an der Hintertür", "in die Garage", "im Garten", "auf die Terrasse",
    "in den Briefkasten", "hinter die Mülltonne", "bitte klingeln", "Code 1234", "3. Etage", "im Hof", "hinterm Haus",
    "voordeur", "achterdeur", "in de schuur", "in het schuurtje", "in de tuin", "door de brievenbus", "graag bellen",
    "even aanbellen", "code 4321", "2e verdieping", "achterom",
])
def test_instruction_words(text: str) -> None:
    assert INSTRUCTION_WORDS.search(text)


@pytest.mark.parametrize("text", ["can I leave instructions?", "Natur", "Kultur", "wann kommt es", "wanneer komt het",
                                  "Motor"])
def test_not_instruction_words(text: str) -> None:
    assert not INSTRUCTION_WORDS.search(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("4", 4), ("4/5", 4), ("5 stars", 5), ("5 Sterne!", 5), ("vier Sterne", 4), ("4 von 5", 4), ("Fünf!", 5),
    ("vijf sterren", 5), ("4 van de 5", 4), ("één ster", 1), ("twee", 2), ("6", None), ("4 pakketten", None),
    ("super", None), ("slecht", None),
])
def test_ratings_in_digits_and_words(text: str, expected: int | None) -> None:
    assert score_of(text) == expected


@pytest.mark.parametrize(("text", "angry"), [
    ("Das ist eine Frechheit!", True), ("ich habe die Nase voll", True), ("Unverschämt", True),
    ("wat een schandalig bedrijf", True), ("waardeloos", True), ("this is ridiculous", True),
    ("wo ist mein Paket?", False), ("waar blijft mijn pakket", False), ("danke, super", False),
])
def test_angry_words_in_three_languages(text: str, angry: bool) -> None:
    assert is_angry(text) is angry



@pytest.mark.parametrize(("text", "expected"), [
    ("nee toch niet, andere vraag: kan het bij de buren?", True), ("no, actually can it go to my neighbour", True),
    ("Nö, lieber zum Nachbarn", True), ("doch nicht, ich hole es selbst", True), ("liever niet, ik ben er niet", True),
    ("no problem, go ahead", False), ("actually yes", False), ("doch, passt", False), ("eigentlich ja", False),
    ("Nebenan bei Meyer", False), ("neue Adresse", False),
])
def test_starts_with_no_reads_a_no_in_front_of_something_else(text: str, expected: bool) -> None:
    assert starts_with_no(text) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("ja", True), ("ok dann die andere", True), ("dann eben das andere", True), ("de andere maar", True),
    ("the other one", True), ("jep", True), ("freitag", False), ("nee", False), ("welches?", False),
])
def test_picks_the_only_option(text: str, expected: bool) -> None:
    assert picks_the_only_option(text) is expected
