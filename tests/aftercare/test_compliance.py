"""The comparison of a drop with the instructions in force: two guarantees as properties, and examples
in English, German and Dutch."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.aftercare.compliance import compare, expected
from bot.core.models import DropPlace

PLACES = st.sampled_from([None, *[p.value for p in DropPlace], "somewhere odd"])
NEIGHBOURS = st.one_of(st.none(), st.text(max_size=40),
                       st.builds(lambda n, name: f"{name} no. {n}", st.integers(1, 999),
                                 st.sampled_from(["Meyer", "Jansen", "Yilmaz", ""])))
NEIGHBOUR_ASKS = ["leave it with the neighbour at no. {n}", "if I'm out, neighbour {name} at number {n}",
                  "Bitte beim Nachbarn Nr. {n} abgeben", "beim Nachbarn {name}, Hausnummer {n}",
                  "bij de buren op {n}", "buurvrouw {name}, huisnummer {n}", "Leave with neighbour: {name}, no {n}"]


@settings(max_examples=300, deadline=None)
@given(instructions=st.one_of(st.none(), st.text(max_size=120), st.sampled_from([*NEIGHBOUR_ASKS, "back door"])),
       place=PLACES, neighbour=NEIGHBOURS, max_distance=st.integers(1, 500), beyond=st.floats(0.01, 5000))
def test_a_drop_farther_than_allowed_is_never_as_asked(instructions: str | None, place: str | None,
                                                      neighbour: str | None, max_distance: int, beyond: float) -> None:
    result = compare(instructions, place, neighbour, max_distance + beyond, max_distance)
    assert result.verdict == "differs" and "distance" in result.reasons


@settings(max_examples=300, deadline=None)
@given(ask=st.sampled_from(NEIGHBOUR_ASKS), asked=st.integers(1, 999), name=st.sampled_from(["Meyer", "Jansen"]),
       dropped=st.one_of(st.none(), st.integers(1, 999)), place=PLACES, distance=st.one_of(st.none(), st.floats(0, 50)))
def test_another_neighbour_or_none_is_never_as_asked(ask: str, asked: int, name: str, dropped: int | None,
                                                     place: str | None, distance: float | None) -> None:
    instructions = ask.format(n=asked, name=name)
    neighbour = None if dropped is None else f"Schulz, no. {dropped}"
    result = compare(instructions, place, neighbour, distance, 50)
    if dropped == asked:
        assert result.verdict == "as_asked"
    else:
        assert result.verdict == "differs" and "neighbour" in result.reasons


@pytest.mark.parametrize(("instructions", "place", "neighbour", "verdict", "reasons"), [
    # English
    ("leave it with the neighbour at no. 14", "neighbour", "Meyer, 14", "as_asked", ()),
    ("leave it with the neighbour at no. 14", "neighbour", "no. 16", "differs", ("neighbour",)),
    ("leave it with the neighbour at no. 14", "front_door", None, "differs", ("neighbour",)),
    ("please use the back door", "back_door", None, "as_asked", ()),
    ("please use the back door", "front_door", None, "differs", ("place",)),
    ("in the garage please", "garage", None, "as_asked", ()),
    ("on the doorstep is fine", "porch", None, "as_asked", ()),
    ("ring twice, I'm slow", "front_door", None, "unknown", ()),
    (None, "front_door", None, "unknown", ()),
    # German
    ("Bitte beim Nachbarn Nr. 14 abgeben", "neighbour", "Nr. 14", "as_asked", ()),
    ("Bitte beim Nachbarn Meyer abgeben", "neighbour", "Fam. Schulz", "differs", ("neighbour",)),
    ("Auf die Terrasse legen", "back_door", None, "as_asked", ()),
    ("Auf die Terrasse legen", "mailbox", None, "differs", ("place",)),
    ("In den Briefkasten", "mailbox", None, "as_asked", ()),
    # Dutch
    ("bij de buren op 14", "neighbour", "nummer 14", "as_asked", ()),
    ("bij de buren op 14", "neighbour", "nummer 41", "differs", ("neighbour",)),
    ("graag bij de achterdeur", "back_door", None, "as_asked", ()),
    ("graag bij de achterdeur", "front_door", None, "differs", ("place",)),
    ("in het schuurtje", "shed", None, "as_asked", ()),
])
def test_examples_in_three_languages(instructions: str | None, place: str, neighbour: str | None, verdict: str,
                                     reasons: tuple[str, ...]) -> None:
    result = compare(instructions, place, neighbour, 5, 50)
    assert (result.verdict, result.reasons) == (verdict, reasons)


def test_a_handed_over_parcel_satisfies_a_safe_place_but_not_a_neighbour() -> None:
    assert compare("back door", "handed_over", None, 3, 50).verdict == "as_asked"
    assert compare("beim Nachbarn Nr. 3", "handed_over", None, 3, 50).verdict == "differs"


def test_a_neighbour_named_only_by_name_against_a_number_is_unknown_not_as_asked() -> None:
    assert compare("neighbour at no. 14", "neighbour", "Mr Meyer", 3, 50).verdict == "unknown"


def test_reading_instructions_finds_the_neighbour_and_the_place() -> None:
    assert expected("Leave with neighbour: Meyer, no 14, 2nd floor").numbers == {"14"}
    assert expected("Leave with neighbour: Meyer, no 14, 2nd floor").names == {"meyer"}
    assert expected("Hintertür bitte").place == DropPlace.BACK_DOOR
    assert expected("x" * 10_000).place is None
