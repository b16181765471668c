"""The day-shape stage on synthetic couriers whose day has a shape the chained legs cannot see."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bot.eta.engine import LEVELS, MEDIAN, DoneStop, EtaConfig, EtaEngine, PlannedStop, RouteState
from bot.eta.stage import FEATURES, features, profiles
from tests.eta.synth import stop_frame

SMALL = EtaConfig(stage_min_rows=500, stage_iter=60)


def second_load(frame: pd.DataFrame, after: int = 8, seed: int = 0) -> pd.DataFrame:
    """On half of the days, after `after` stops the courier drives back to the depot (about 90 minutes)
    for the rest of the parcels, accepted 20 minutes before the next delivery; all else is accepted at 7:30.
    """
    rng = np.random.default_rng(seed)
    out = frame.sort_values(["courier", "day", "seq"]).copy()
    out["accepted"] = 450.0
    for _, part in out.groupby(["courier", "day"]):
        if rng.random() < 0.5:
            late = part.index[part["seq"] >= after]
            out.loc[late, "arrived"] += rng.uniform(80, 100)
            out.loc[late, "accepted"] = out.loc[late, "arrived"].min() - 20.0
    return out


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return second_load(stop_frame(couriers=4, days=40, stops=16, seed=7, noise=0.2))


def _mae_at(engine: EtaEngine, days: pd.DataFrame, cut: int) -> float:
    errors = []
    for _, day in days.groupby(["courier", "day"]):
        _, _, q = engine.predict_day(day, [cut])
        errors.append(q[0, cut:, MEDIAN] - day["arrived"].to_numpy()[cut:])
    return float(np.abs(np.concatenate(errors)).mean())


def test_the_stage_learns_the_second_load_the_legs_cannot_see(data: pd.DataFrame) -> None:
    train, test = data[data["day"] < 32], data[data["day"] >= 32]
    plain = EtaEngine(EtaConfig(stage=False)).fit(train)
    staged = EtaEngine(SMALL).fit(train)
    assert staged._stage is not None and plain._stage is None
    assert _mae_at(staged, test, 4) < 0.6 * _mae_at(plain, test, 4)


def test_a_parcel_still_at_the_depot_is_predicted_after_the_depot_run(data: pd.DataFrame) -> None:
    engine = EtaEngine(SMALL).fit(data[data["day"] < 32])
    day = data[(data["courier"] == 0) & (data["day"] == 35)].reset_index(drop=True)
    done = [DoneStop(r.lat, r.lng, r.arrived, area=r.area, area_type=r.area_type) for r in day.iloc[:6].itertuples()]
    later = day.iloc[6:]

    def etas(on_board: bool) -> np.ndarray:
        remaining = [PlannedStop(r.seq, r.lat, r.lng, area=r.area, area_type=r.area_type,
                                 on_board=on_board if r.seq >= 8 else True) for r in later.itertuples()]
        return np.array([e.point for e in engine.predict(RouteState(0, float(day["arrived"][5]), done, remaining))])

    waiting, aboard = etas(False), etas(True)
    assert np.all(waiting[2:] >= aboard[2:]) and np.mean(waiting[2:] - aboard[2:]) > 10


def test_no_future_leak_in_the_stage_shuffled_future_times_and_scans_change_nothing(data: pd.DataFrame) -> None:
    engine = EtaEngine(SMALL).fit(data[data["day"] < 32])
    rng = np.random.default_rng(1)
    day = data[(data["courier"] == 2) & (data["day"] == 37)].reset_index(drop=True)
    for cut in (1, 6, 9, 12, 15):
        now = float(day["arrived"][cut - 1])
        _, _, before = engine.predict_day(day, [cut])
        shuffled = day.copy()
        future = shuffled.index[cut:]
        times = shuffled.loc[future, "arrived"].to_numpy()
        shuffled.loc[future, "arrived"] = rng.permutation(times) + rng.normal(0, 50, len(future))
        scans = shuffled["accepted"].to_numpy().copy()
        later = scans > now  # a scan not made yet: only "not yet" is known, not when
        scans[later] = now + rng.uniform(1, 300, later.sum())
        shuffled["accepted"] = scans
        _, _, after = engine.predict_day(shuffled, [cut])
        np.testing.assert_array_equal(np.nan_to_num(before), np.nan_to_num(after))


def test_features_read_only_the_done_stops_and_the_scans_made_by_now() -> None:
    arrived = np.array([480.0, 500.0, 520.0, np.nan])
    accepted = np.array([450.0, 450.0, 530.0, 700.0])
    raw = np.array([[np.nan, np.nan, 530.0, 560.0]])
    frame = pd.DataFrame({"courier": [1, 1, 1], "day": [0, 0, 1], "arrived": [480.0, 540.0, 500.0]})
    usual = profiles(frame)[0][1]
    x, mask = features(raw, np.array([505.0]), np.array([2]), arrived, accepted, usual)
    assert mask.sum() == 2 and x.shape == (2, len(FEATURES))
    row = dict(zip(FEATURES, x[0], strict=True))
    assert row["since_last"] == 5.0 and row["elapsed"] == 25.0 and row["ahead"] == 1 and row["not_accepted"] == 1.0
    assert dict(zip(FEATURES, x[1], strict=True))["not_accepted_before"] == 1.0
    assert usual.stops == 1.5 and usual.end == 520.0  # medians over the courier's days


def test_the_staged_quantiles_are_calibrated_on_later_days(data: pd.DataFrame) -> None:
    engine = EtaEngine(SMALL).fit(data[data["day"] < 32])
    i10, i90 = (int(np.argmin(np.abs(LEVELS - level))) for level in (0.1, 0.9))
    below10 = below90 = total = 0
    for _, day in data[data["day"] >= 32].groupby(["courier", "day"]):
        cuts, _, q = engine.predict_day(day)
        t = day["arrived"].to_numpy()
        for row, cut in enumerate(cuts):
            assert np.all(np.diff(q[row, cut:], axis=1) >= 0)
            below10 += int((t[cut:] <= q[row, cut:, i10]).sum())
            below90 += int((t[cut:] <= q[row, cut:, i90]).sum())
            total += len(t) - cut
    assert below10 / total == pytest.approx(0.1, abs=0.07)
    assert below90 / total == pytest.approx(0.9, abs=0.07)


def test_without_acceptance_scans_the_stage_still_learns_the_day(data: pd.DataFrame) -> None:
    plain = data.drop(columns="accepted")  # e.g. the sandbox's history: no scans at all
    train, test = plain[plain["day"] < 32], plain[plain["day"] >= 32]
    engine = EtaEngine(SMALL).fit(train)
    assert engine._stage is not None
    assert _mae_at(engine, test, 4) <= 1.05 * _mae_at(EtaEngine(EtaConfig(stage=False)).fit(train), test, 4)
