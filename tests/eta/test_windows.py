"""Window placement and the keeper, on distributions made in the test."""

from statistics import NormalDist

import numpy as np
import pytest

from bot.eta.engine import LEVELS
from bot.eta.windows import Window, WindowKeeper, best_window, best_windows, cdf, window_probability

Z = np.array([NormalDist().inv_cdf(level) for level in LEVELS])


def normal(mean: float, sd: float) -> np.ndarray:
    return mean + sd * Z


def test_cdf_follows_the_quantiles() -> None:
    values = normal(600, 20)
    p = cdf(LEVELS, values, np.array([[560.0, 600.0, 640.0, 0.0, 2000.0]]))[0]
    assert p[1] == pytest.approx(0.5, abs=0.01)
    assert p[0] == pytest.approx(NormalDist(600, 20).cdf(560), abs=0.01)
    assert p[2] == pytest.approx(NormalDist(600, 20).cdf(640), abs=0.01)
    assert p[3] == 0.0 and p[4] == 1.0


def test_best_window_centres_a_narrow_distribution_on_the_quarter_hour_grid() -> None:
    window, mass = best_window(LEVELS, normal(607, 10), 60, 15)
    assert window == Window(570, 630) or window == Window(585, 645)
    assert window.start % 15 == 0 and window.end - window.start == 60
    assert mass == pytest.approx(window_probability(LEVELS, normal(607, 10), window.start, window.end))
    assert mass > 0.95


def test_best_window_follows_a_skewed_distribution_to_its_mass() -> None:
    # 70% of the mass near 10:00, a long tail up to 13:00: the window sits on the bulk, not the mean.
    levels = LEVELS
    values = np.where(levels <= 0.7, 600 + 20 * levels / 0.7, 620 + 160 * (levels - 0.7) / 0.3)
    window, mass = best_window(levels, values, 60, 5)
    assert window.start <= 600 and window.end >= 620 and mass >= 0.7


def test_windows_in_the_past_are_not_offered() -> None:
    start, _ = best_windows(LEVELS, normal(600, 5)[None, :], 60, 15, not_before=700)
    assert start[0] + 60 > 700


def test_the_keeper_keeps_a_good_promise_and_moves_a_broken_one() -> None:
    keeper = WindowKeeper(width=60, granularity=15, keep_ratio=0.8)
    first = keeper.decide(None, LEVELS, normal(600, 10), now=480)
    assert not first.moved and first.window.start <= 600 <= first.window.end
    slightly_later = keeper.decide(first.window, LEVELS, normal(610, 10), now=500)
    assert slightly_later.window == first.window and not slightly_later.moved
    two_hours_late = keeper.decide(first.window, LEVELS, normal(720, 10), now=520)
    assert two_hours_late.moved and two_hours_late.window.start <= 720 <= two_hours_late.window.end


def test_the_keeper_moves_a_window_that_is_over() -> None:
    keeper = WindowKeeper(width=60, granularity=15, keep_ratio=0.5)
    decision = keeper.decide(Window(540, 600), LEVELS, normal(640, 30), now=601)
    assert decision.moved and decision.window.end > 601


def test_decide_many_counts_moves_per_row() -> None:
    keeper = WindowKeeper()
    values = np.vstack([normal(600, 10), normal(700, 10), normal(800, 10)])
    start, moved, prob = keeper.decide_many(np.array([570.0, 540.0, np.nan]), LEVELS, values, now=480)
    assert list(moved) == [False, True, False]
    assert start[0] == 570 and start[1] <= 700 <= start[1] + 60 and start[2] <= 800 <= start[2] + 60
    assert np.all((prob > 0.5) & (prob <= 1))
