"""The engine on synthetic couriers with known legs, paces and noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bot.eta.engine import LEVELS, MEDIAN, DoneStop, EtaEngine, PlannedStop, RouteState
from tests.eta.synth import MIN_PER_KM, SERVICE, stop_frame


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return stop_frame(couriers=3, days=12, stops=15, pace={0: 1.0, 1: 1.5, 2: 0.8}, seed=3)


@pytest.fixture(scope="module")
def engine(history: pd.DataFrame) -> EtaEngine:
    return EtaEngine().fit(history[history["day"] < 10])


def _next_stop_error(engine: EtaEngine, days: pd.DataFrame) -> float:
    errors = []
    for _, day in days.groupby(["courier", "day"]):
        cuts, _now, q = engine.predict_day(day)
        t = day["arrived"].to_numpy()
        errors.append(q[np.arange(len(cuts)), cuts, MEDIAN] - t[cuts])
    return float(np.abs(np.concatenate(errors)).mean())


def test_fit_learns_legs_and_courier_paces(engine: EtaEngine, history: pd.DataFrame) -> None:
    paces = engine._tables.courier_pace
    assert paces[1] / paces[0] == pytest.approx(1.5, rel=0.15)
    assert paces[2] / paces[0] == pytest.approx(0.8, rel=0.15)
    # A typical leg of courier 0 (0.5 road km, new area at 10:00) is near SERVICE + MIN_PER_KM * km.
    tables = engine._tables
    leg = tables.legs(np.array([0.5]), np.array([False]), tables.type_index(np.array([1])), np.array([0.0]))[0, 3]
    assert leg * paces[0] == pytest.approx(SERVICE + MIN_PER_KM * 0.5, rel=0.3)
    # Out of sample, the next stop is predicted within a couple of minutes (legs are ~5 min, noise 15%).
    assert _next_stop_error(engine, history[history["day"] >= 10]) < 2.0


def test_an_unfitted_engine_still_answers_from_its_prior() -> None:
    state = RouteState(courier="new", now=480, done=[], remaining=[PlannedStop("a", 52.52, 13.40), PlannedStop("b", 52.53, 13.41)],
                       origin=(52.51, 13.39), departs_at=480)
    etas = EtaEngine().predict(state)
    assert [e.stop_id for e in etas] == ["a", "b"]
    assert 480 < etas[0].point < etas[1].point < 480 + 60
    assert all(e.q_low <= e.point <= e.q_high and e.window_end - e.window_start == 60 for e in etas)


def test_a_courier_running_slow_today_is_predicted_slow() -> None:
    normal = stop_frame(couriers=1, days=12, stops=15, seed=3)
    slow = stop_frame(couriers=1, days=12, stops=15, seed=3, day_pace={(0, 11): 2.0})  # same stops, twice as slow
    engine = EtaEngine().fit(normal[normal["day"] < 10])
    cut = 8
    _, now_slow, q_slow = engine.predict_day(slow[slow["day"] == 11], [cut])
    _, now_norm, q_norm = engine.predict_day(normal[normal["day"] == 11], [cut])
    ahead_slow = q_slow[0, cut:, MEDIAN] - now_slow[0]
    ahead_norm = q_norm[0, cut:, MEDIAN] - now_norm[0]
    # Eight stops at half speed move today's pace most of the way (shrunk towards the courier's usual pace).
    assert np.all(ahead_slow > 1.25 * ahead_norm)
    truth = slow[slow["day"] == 11]["arrived"].to_numpy()[cut:] - now_slow[0]
    assert np.abs(ahead_slow - truth).mean() < 0.8 * np.abs(ahead_norm - truth).mean()


def test_quantiles_are_monotone_and_calibrated_on_later_days() -> None:
    data = stop_frame(couriers=4, days=30, stops=15, seed=5, noise=0.4)
    engine = EtaEngine().fit(data[data["day"] < 24])
    below_q10 = below_q90 = total = 0
    i10, i90 = int(np.argmin(np.abs(LEVELS - 0.1))), int(np.argmin(np.abs(LEVELS - 0.9)))
    for _, day in data[data["day"] >= 24].groupby(["courier", "day"]):
        cuts, _, q = engine.predict_day(day)
        t = day["arrived"].to_numpy()
        for row, cut in enumerate(cuts):
            assert np.all(np.diff(q[row, cut:], axis=1) >= 0)
            below_q10 += int((t[cut:] <= q[row, cut:, i10]).sum())
            below_q90 += int((t[cut:] <= q[row, cut:, i90]).sum())
            total += len(t) - cut
    assert below_q10 / total == pytest.approx(0.1, abs=0.07)
    assert below_q90 / total == pytest.approx(0.9, abs=0.07)


def test_no_future_leak_shuffling_future_times_changes_nothing(engine: EtaEngine, history: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    day = history[(history["courier"] == 1) & (history["day"] == 11)].reset_index(drop=True)
    for cut in (1, 5, 9, 14):
        _, _, before = engine.predict_day(day, [cut])
        shuffled = day.copy()
        future = shuffled.index[cut:]
        times = shuffled.loc[future, "arrived"].to_numpy()
        shuffled.loc[future, "arrived"] = rng.permutation(times) + rng.normal(0, 50, len(future))
        _, _, after = engine.predict_day(shuffled, [cut])
        np.testing.assert_array_equal(np.nan_to_num(before), np.nan_to_num(after))


def test_fit_ignores_nothing_it_should_not_see() -> None:
    data = stop_frame(couriers=2, days=10, stops=10, seed=9)
    one = EtaEngine().fit(data[data["day"] < 6])
    changed = data.copy()
    changed.loc[changed["day"] >= 6, "arrived"] += 500  # later days rewritten
    two = EtaEngine().fit(changed[changed["day"] < 6])
    day = data[(data["courier"] == 0) & (data["day"] == 7)]
    np.testing.assert_array_equal(np.nan_to_num(one.predict_day(day)[2]), np.nan_to_num(two.predict_day(day)[2]))


def test_predict_waits_for_a_booked_slot_and_never_predicts_the_past(engine: EtaEngine) -> None:
    done = [DoneStop(43.85, 126.55, 600.0)]
    remaining = [PlannedStop(1, 43.851, 126.551), PlannedStop(2, 43.852, 126.552, not_before=720.0),
                 PlannedStop(3, 43.853, 126.553)]
    etas = engine.predict(RouteState(courier=0, now=610, done=done, remaining=remaining))
    assert etas[1].point >= 715 and etas[2].point > etas[1].point
    late = engine.predict(RouteState(courier=0, now=700, done=done, remaining=remaining))
    assert all(e.q_low > 700 for e in late)  # nothing arrived by 11:40, so nothing is predicted before it
    assert late[0].window_end > 700
