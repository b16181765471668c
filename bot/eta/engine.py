"""The ETA engine: travel + service time per leg, a courier's pace, and calibrated arrival quantiles.

A leg is the time from one completed stop to the next. Its expected length is

    service(area type, same area as the previous stop, extra parcels)
    + idle(hour of day)                      # breaks, depot returns, traffic peaks
    + road km x (min/km by hour of day + min/km by area type)

fitted by least squares (with a weak prior, so a small history still gives sane numbers) on the
legs of earlier days, each leg capped at `gap_cap_minutes` so a lunch break does not become a speed.
Every courier has a pace factor (actual/expected on earlier days, shrunk to 1), and every
courier-day an online factor that starts at the courier's pace and follows today's completed legs
(a courier running slow today stays slow).

The raw arrival of each remaining stop is the last completed stop's time plus the factored legs in
sequence (the hour of each leg follows the predicted clock; not-before times are respected). Between
stops, the next arrival is the median of the current leg given how long it has already lasted (a
leg running long is likely a long one). Calibration turns raw arrivals into a distribution:
residuals (actual - raw) of a held-out tail of the history, by raw horizon, by whether the
prediction is made at a stop or between stops and by stops ahead, give the quantiles; the point ETA
is raw + the median residual (the MAE-optimal choice).

The day's shape (breaks, a second load at the depot, the end-of-shift drift, couriers whose day ends
late) is what the chained legs miss: once the held-out tail is large enough, a second stage
(`bot.eta.stage`, gradient boosting) learns log(actual horizon / raw horizon) there from what is known
at the moment, and moves the raw arrivals by it; the residual quantiles are then those of its
out-of-fold errors (two folds by courier-day).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bot.eta.distance import leg_km
from bot.eta.stage import Profile, Stage, profiles
from bot.eta.stage import features as stage_features
from bot.eta.windows import Window, WindowKeeper, best_window

STOP_COLUMNS = ("courier", "day", "seq", "lat", "lng", "area", "area_type", "parcels", "arrived")
LEVELS = np.round(np.linspace(0.01, 0.99, 99), 2)
HORIZON_EDGES = np.array([0, 10, 20, 30, 45, 60, 90, 120, 150, 180, 240, 300, 360, 480, 720], dtype=float)
FIRST_BAND_HOUR, LAST_BAND_HOUR = 7, 21  # hours outside are folded into the edge bands
N_BANDS = LAST_BAND_HOUR - FIRST_BAND_HOUR + 1
NEAR_KM, FAR_KM = 2.0, 10.0  # legs are linear in km up to NEAR_KM, then flatter, and capped
LOG_CLIP = 1.5  # one leg moves a pace by at most e^1.5 in log terms
MEDIAN = int(np.argmin(np.abs(LEVELS - 0.5)))
AHEAD_EDGES = np.array([2, 4, 8])  # stops ahead: 1, 2-3, 4-7, 8+ (one long leg vs. a sum of legs)
N_AHEAD = len(AHEAD_EDGES) + 1  # + one column pooled over stops ahead


@dataclass(frozen=True)
class EtaConfig:
    circuity: float = 1.3  # road km per great-circle km
    window_minutes: float = 60.0
    granularity_minutes: float = 15.0  # windows start on quarter hours
    keep_ratio: float = 0.6  # keep a promise while it holds >= 60% of the best window's probability
    near_keep_ratio: float = 0.9  # stricter for a window starting within `near_minutes`: the one acted on
    near_minutes: float = 90.0
    gap_cap_minutes: float = 120.0
    courier_prior_legs: float = 30.0  # shrinkage of a courier's pace towards 1, in legs
    day_prior_legs: float = 10.0  # shrinkage of today's pace towards the courier's, in legs
    calibration_days: int = 42  # held-out tail of the history the residual quantiles come from
    ridge: float = 5.0  # weight of the prior coefficients
    min_type_legs: int = 200  # area types with fewer legs share one "other" type
    q_low: float = 0.1
    q_high: float = 0.9
    tick_minutes: float = 15.0  # position events between stops, as calibration assumes them
    stage: bool = True  # learn the day's shape on top of the chained legs (bot.eta.stage)
    stage_min_rows: int = 5000  # held-out (moment, stop) rows needed before the stage is used
    stage_max_rows: int = 80000  # rows the stage is trained on at most (a fixed random subset)
    stage_iter: int = 150
    use_accepted: bool = True  # read acceptance scans (`accepted` column / PlannedStop.on_board) if given


@dataclass(frozen=True)
class PlannedStop:
    """A stop still to do, in plan order."""

    stop_id: Hashable
    lat: float
    lng: float
    area: Hashable = None  # e.g. an area-of-interest id or a postcode: same area = short hop
    area_type: int = 0
    parcels: int = 1
    not_before: float | None = None  # booked slot start: the driver waits rather than come earlier
    on_board: bool | None = None  # accepted (picked up) already; False: still at the depot; None: unknown
    door_minutes: float = 0.0  # extra time at this door (the recipient's accessibility needs): later stops wait


@dataclass(frozen=True)
class DoneStop:
    lat: float
    lng: float
    arrived: float  # minutes since the local midnight of the service day
    area: Hashable = None
    area_type: int = 0
    parcels: int = 1


@dataclass(frozen=True)
class RouteState:
    """What is known about one driver's day at `now` (minutes since the local midnight)."""

    courier: Hashable
    now: float
    done: Sequence[DoneStop]
    remaining: Sequence[PlannedStop]
    origin: tuple[float, float] | None = None  # depot, used while nothing is done yet
    departs_at: float | None = None  # departure from the origin


@dataclass(frozen=True)
class StopEta:
    stop_id: Hashable
    point: float  # minutes since the local midnight
    q_low: float
    q_high: float
    window_start: float
    window_end: float
    window_probability: float
    quantiles: NDArray[np.float64] = field(repr=False)  # arrival at each of `LEVELS`

    @property
    def window(self) -> Window:
        return Window(self.window_start, self.window_end)


@dataclass
class _Tables:
    types: dict[int, int]  # area type -> index; unknown types map to len(types)
    svc_same: NDArray[np.float64]
    svc_new: NDArray[np.float64]
    band_idle: NDArray[np.float64]
    band_per_km: NDArray[np.float64]
    type_per_km: NDArray[np.float64]
    per_parcel: float
    long_per_km: float  # beyond NEAR_KM a leg is a drive, not a walk: its own (lower) minutes per km
    courier_pace: dict[Hashable, float]
    leg_ratio: NDArray[np.float64]  # quantiles (LEVELS) of actual / expected leg: how long a leg can run

    def type_index(self, area_type: NDArray[np.int64]) -> NDArray[np.int64]:
        other = len(self.types)
        return np.array([self.types.get(int(t), other) for t in area_type], dtype=np.int64)

    def legs(self, km: NDArray[np.float64], same: NDArray[np.bool_], tidx: NDArray[np.int64],
             extra: NDArray[np.float64]) -> NDArray[np.float64]:
        """Expected minutes of each leg at every hour band: shape (legs, bands)."""
        near, far = np.minimum(km, NEAR_KM), np.clip(km - NEAR_KM, 0.0, FAR_KM)
        base = (np.where(same, self.svc_same[tidx], self.svc_new[tidx]) + near * self.type_per_km[tidx]
                + far * self.long_per_km + extra * self.per_parcel)
        return np.maximum(base[:, None] + self.band_idle[None, :] + near[:, None] * self.band_per_km[None, :], 1.0)


def keeper_for(config: EtaConfig, width: float | None = None) -> WindowKeeper:
    """The window keeper `config` describes, optionally for another window width."""
    return WindowKeeper(width or config.window_minutes, config.granularity_minutes, config.keep_ratio,
                        config.near_keep_ratio, config.near_minutes)


def hour_band(minutes: NDArray[np.float64] | float) -> NDArray[np.int64]:
    hour = np.floor(np.nan_to_num(np.asarray(minutes, float)) / 60.0) % 24
    return (np.clip(hour, FIRST_BAND_HOUR, LAST_BAND_HOUR) - FIRST_BAND_HOUR).astype(np.int64)


def _prior_tables() -> _Tables:
    return _Tables(types={}, svc_same=np.full(1, 4.0), svc_new=np.full(1, 4.0), band_idle=np.zeros(N_BANDS),
                   band_per_km=np.full(N_BANDS, 4.0), type_per_km=np.zeros(1), per_parcel=1.0, long_per_km=2.0,
                   courier_pace={}, leg_ratio=_prior_leg_ratio())


def _prior_leg_ratio() -> NDArray[np.float64]:
    from statistics import NormalDist

    return np.exp(0.5 * np.array([NormalDist().inv_cdf(level) for level in LEVELS]))


def recompute_moments(arrived: NDArray[np.float64], tick_minutes: float) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """When a day's ETAs are recomputed: every completed stop and a position event every `tick_minutes`.

    `arrived` holds the day's completion times in order. Returns (stops done, now) per moment, from
    the first completion up to the last stop (excluded).
    """
    now = np.unique(np.concatenate([arrived[:-1], np.arange(arrived[0], arrived[-1], tick_minutes)]))
    cuts = np.searchsorted(arrived, now, side="right")
    keep = cuts < len(arrived)
    return cuts[keep].astype(np.int64), now[keep]


def _prior_residuals() -> NDArray[np.float64]:
    """Before any history: a spread growing with the horizon (normal, sd 5 min + 25% of the horizon)."""
    from statistics import NormalDist

    z = np.array([NormalDist().inv_cdf(level) for level in LEVELS])
    centres = np.append((HORIZON_EDGES[:-1] + HORIZON_EDGES[1:]) / 2, HORIZON_EDGES[-1])
    spread = (5.0 + 0.25 * centres)[:, None] * z[None, :]
    # (horizon bucket, at a stop / between stops, stops-ahead bucket or pooled, level)
    return np.repeat(np.repeat(spread[:, None, None, :], 2, axis=1), N_AHEAD + 1, axis=2)


def ahead_bucket(ahead: NDArray[np.int64] | None) -> NDArray[np.int64] | int:
    return N_AHEAD if ahead is None else np.digitize(ahead, AHEAD_EDGES)


@dataclass
class _Day:
    """One courier-day as arrays in stop order; `arrived` is NaN for stops not done."""

    courier: Hashable
    lat: NDArray[np.float64]
    lng: NDArray[np.float64]
    area: NDArray[np.int64]  # codes; -1 = unknown (never "same")
    area_type: NDArray[np.int64]
    parcels: NDArray[np.float64]
    arrived: NDArray[np.float64]
    not_before: NDArray[np.float64] | None = None
    accepted: NDArray[np.float64] | None = None  # acceptance scan time; NaN unknown


def _days(frame: pd.DataFrame) -> list[_Day]:
    frame = frame.sort_values(["courier", "day", "seq"], kind="stable")
    codes = pd.factorize(frame["area"], use_na_sentinel=True)[0]
    out = []
    columns = [frame[c].to_numpy() for c in ("lat", "lng", "area_type", "parcels", "arrived")]
    starts = np.flatnonzero(np.r_[True, (frame["courier"].to_numpy()[1:] != frame["courier"].to_numpy()[:-1])
                                  | (frame["day"].to_numpy()[1:] != frame["day"].to_numpy()[:-1])])
    bounds = np.r_[starts, len(frame)]
    couriers = frame["courier"].to_numpy()
    accepted = frame["accepted"].to_numpy(dtype=float) if "accepted" in frame.columns else None
    for a, b in itertools.pairwise(bounds):
        out.append(_Day(couriers[a], columns[0][a:b].astype(float), columns[1][a:b].astype(float), codes[a:b],
                        columns[2][a:b].astype(np.int64), columns[3][a:b].astype(float), columns[4][a:b].astype(float),
                        accepted=None if accepted is None else accepted[a:b]))
    return out


class EtaEngine:
    """Fit on completed stops of earlier days, then predict a route's remaining stops.

    >>> engine = EtaEngine().fit(history)          # a frame with STOP_COLUMNS
    >>> etas = engine.predict(route_state)         # list[StopEta], one per remaining stop
    """

    def __init__(self, config: EtaConfig | None = None) -> None:
        self.config = config or EtaConfig()
        self._tables = _prior_tables()
        self._residuals = _prior_residuals()
        self._stage: Stage | None = None
        self._profiles: dict[Hashable, Profile] = {}
        self._usual = Profile(480.0, 1020.0, 20.0, 15.0)
        self.keeper = keeper_for(self.config)

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, history: pd.DataFrame) -> EtaEngine:
        """Learn legs, paces and residual quantiles from completed stops (columns `STOP_COLUMNS`)."""
        missing = set(STOP_COLUMNS) - set(history.columns)
        if missing:
            raise ValueError(f"history lacks columns {sorted(missing)}")
        history = history.dropna(subset=["arrived", "lat", "lng"])
        if history.empty:
            return self
        day_keys = np.sort(history["day"].unique())
        hold = min(self.config.calibration_days, len(day_keys) // 3)
        if hold >= 1:
            cut_day = day_keys[-hold]
            early, late = history[history["day"] < cut_day], history[history["day"] >= cut_day]
            tables = self._fit_tables(_days(early))
            self._profiles, self._usual = profiles(early)
            residuals, horizons, between, aheads, xs, days = [], [], [], [], [], []
            for number, day in enumerate(_days(late)):
                if len(day.arrived) < 2:
                    continue
                cuts, moments = recompute_moments(day.arrived, self.config.tick_minutes)
                raw, now = self._raw(tables, day, cuts, moments)
                mask = np.isfinite(raw)
                residuals.append((day.arrived[None, :] - raw)[mask])
                horizons.append((raw - now[:, None])[mask])
                between.append(np.broadcast_to((now > day.arrived[cuts - 1])[:, None], raw.shape)[mask])
                aheads.append((np.arange(raw.shape[1])[None, :] - cuts[:, None] + 1)[mask])
                if self.config.stage:
                    xs.append(self._stage_features(day, raw, now, cuts)[0])
                    days.append(np.full(int(mask.sum()), number))
            if residuals:
                residual, horizon, state, ahead = (np.concatenate(a) for a in (residuals, horizons, between, aheads))
                self._residuals = self._fit_residuals(residual, horizon, state, ahead)
                if self.config.stage and len(residual) >= self.config.stage_min_rows:
                    self._fit_stage(np.concatenate(xs), residual, horizon, state, ahead, np.concatenate(days))
        self._tables = self._fit_tables(_days(history))
        self._profiles, self._usual = profiles(history)
        return self

    def _fit_stage(self, x: NDArray[np.float64], residual: NDArray[np.float64], horizon: NDArray[np.float64],
                   between: NDArray[np.bool_], ahead: NDArray[np.int64], day: NDArray[np.int64]) -> None:
        """Fit the day-shape stage on held-out rows; the residual quantiles come from its out-of-fold errors.

        Two folds by courier-day: each half is corrected by a stage fitted on the other half, so the
        quantiles describe the error of a stage that has not seen the day, as in use.
        """
        cfg = self.config
        rng = np.random.default_rng(0)
        keep = np.sort(rng.choice(len(x), size=min(len(x), cfg.stage_max_rows), replace=False))
        x, residual, horizon = x[keep], residual[keep], horizon[keep]
        between, ahead, day = between[keep], ahead[keep], day[keep]
        fold = day % 2 == 1
        # The stage learns log(actual horizon / raw horizon): a correction in proportion to how far ahead.
        base = np.maximum(horizon, 1.0)
        target = np.log(np.maximum(horizon + residual, 1.0) / base)
        corrected = np.empty_like(residual)
        for part in (fold, ~fold):
            if part.all() or not part.any():
                return
            model = Stage(cfg.stage_iter).fit(x[~part], target[~part])
            corrected[part] = base[part] * np.exp(model.predict(x[part])) - horizon[part]
        self._residuals = self._fit_residuals(residual - corrected, horizon + corrected, between, ahead)
        self._stage = Stage(cfg.stage_iter).fit(x, target)

    def _stage_features(self, day: _Day, raw: NDArray[np.float64], now: NDArray[np.float64], cuts: NDArray[np.int64]
                        ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        accepted = day.accepted if self.config.use_accepted else None
        return stage_features(raw, now, cuts, day.arrived, accepted, self._profiles.get(day.courier, self._usual))

    def _corrected(self, day: _Day, raw: NDArray[np.float64], now: NDArray[np.float64], cuts: NDArray[np.int64]
                   ) -> NDArray[np.float64]:
        """Raw arrivals moved by the day-shape stage (unchanged without one), never before now or a not-before time."""
        if self._stage is None:
            return raw
        x, mask = self._stage_features(day, raw, now, cuts)
        out = raw.copy()
        base = np.maximum(raw[mask] - np.broadcast_to(now[:, None], raw.shape)[mask], 1.0)
        out[mask] = np.broadcast_to(now[:, None], raw.shape)[mask] + base * np.exp(self._stage.predict(x))
        out = np.maximum(out, now[:, None] + 1.0)
        if day.not_before is not None:
            out = np.fmax(out, day.not_before[None, :])
        return np.where(mask, out, np.nan)

    def _fit_tables(self, days: list[_Day]) -> _Tables:
        cfg = self.config
        km, same, types, extra, band, gap, courier = [], [], [], [], [], [], []
        for day in days:
            if len(day.arrived) < 2:
                continue
            km.append(leg_km(day.lat, day.lng, cfg.circuity)[1:])
            same.append((day.area[1:] == day.area[:-1]) & (day.area[1:] >= 0))
            types.append(day.area_type[1:])
            extra.append(np.maximum(day.parcels[1:] - 1, 0))
            band.append(hour_band(day.arrived[:-1]))
            gap.append(np.diff(day.arrived))
            courier.append(np.full(len(day.arrived) - 1, day.courier, dtype=object))
        if not km:
            return _prior_tables()
        km_, same_, type_, extra_, band_, gap_ = (np.concatenate(a) for a in (km, same, types, extra, band, gap))
        courier_ = np.concatenate(courier)
        y = np.clip(gap_, 0, cfg.gap_cap_minutes)
        values, counts = np.unique(type_, return_counts=True)
        kept = values[counts >= cfg.min_type_legs]
        type_map = {int(t): i for i, t in enumerate(kept)}
        n_types = len(type_map) + 1
        tidx = np.array([type_map.get(int(t), n_types - 1) for t in type_], dtype=np.int64)
        rows = np.arange(len(y))
        near, far = np.minimum(km_, NEAR_KM), np.clip(km_ - NEAR_KM, 0.0, FAR_KM)
        x = np.zeros((len(y), 3 * n_types + 2 * N_BANDS + 2))
        x[rows, np.where(same_, tidx, n_types + tidx)] = 1.0
        x[rows, 2 * n_types + band_] = 1.0
        x[rows, 2 * n_types + N_BANDS + band_] = near
        x[rows, 2 * n_types + 2 * N_BANDS + tidx] = near
        x[:, -2], x[:, -1] = extra_, far
        prior = np.concatenate([np.full(2 * n_types, 4.0), np.zeros(N_BANDS), np.full(N_BANDS, 4.0), np.zeros(n_types), [1.0, 2.0]])
        lam = cfg.ridge * np.eye(x.shape[1])
        beta = np.linalg.solve(x.T @ x + lam, x.T @ y + lam @ prior)
        for _ in range(6):  # least absolute deviations by reweighting: the typical leg, not the mean one
            w = 1.0 / np.maximum(np.abs(y - x @ beta), 1.0)
            beta = np.linalg.solve((x * w[:, None]).T @ x + lam, (x * w[:, None]).T @ y + lam @ prior)
        tables = _Tables(
            types=type_map, svc_same=beta[:n_types], svc_new=beta[n_types:2 * n_types],
            band_idle=beta[2 * n_types:2 * n_types + N_BANDS], band_per_km=beta[2 * n_types + N_BANDS:2 * n_types + 2 * N_BANDS],
            type_per_km=beta[2 * n_types + 2 * N_BANDS:3 * n_types + 2 * N_BANDS], per_parcel=float(beta[-2]),
            long_per_km=float(beta[-1]), courier_pace={}, leg_ratio=_prior_leg_ratio(),
        )
        expected = tables.legs(km_, same_, tidx, extra_)[rows, band_]
        log_ratio = np.clip(np.log(np.maximum(y, 0.5) / expected), -LOG_CLIP, LOG_CLIP)
        frame = pd.DataFrame({"c": courier_, "r": log_ratio}).groupby("c")["r"].agg(["sum", "size"])
        pace = np.exp(frame["sum"] / (frame["size"] + cfg.courier_prior_legs))
        tables.courier_pace = dict(zip(frame.index, pace, strict=True))
        courier_factor = pd.Series(courier_).map(tables.courier_pace).to_numpy(dtype=float)
        tables.leg_ratio = np.maximum(np.quantile(np.maximum(y, 0.5) / (expected * courier_factor), LEVELS), 0.05)
        return tables

    @staticmethod
    def _fit_residuals(residuals: NDArray[np.float64], horizons: NDArray[np.float64], between: NDArray[np.bool_],
                       ahead: NDArray[np.int64]) -> NDArray[np.float64]:
        """Residual quantiles by horizon bucket, apart for predictions made at a stop and between stops,
        and by stops ahead (one leg, which may be a break, spreads unlike a sum of legs); a cell with
        fewer than 50 residuals takes the coarser one."""
        table = _prior_residuals()
        bucket = np.clip(np.digitize(horizons, HORIZON_EDGES) - 1, 0, len(HORIZON_EDGES) - 1)
        group = np.digitize(ahead, AHEAD_EDGES)
        for b in range(len(HORIZON_EDGES)):
            sample = residuals[bucket == b]
            if sample.size >= 50:
                table[b] = np.quantile(sample, LEVELS)
            for state in (0, 1):
                cell = residuals[(bucket == b) & (between == bool(state))]
                if cell.size >= 50:
                    table[b, state] = np.quantile(cell, LEVELS)
                for g in range(N_AHEAD):
                    finer = residuals[(bucket == b) & (between == bool(state)) & (group == g)]
                    if finer.size >= 50:
                        table[b, state, g] = np.quantile(finer, LEVELS)
        return table

    # -- predicting ----------------------------------------------------------------------------
    def _raw(self, tables: _Tables, day: _Day, cuts: NDArray[np.int64], now: NDArray[np.float64]
             ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Raw arrivals (cuts x stops; NaN for done stops) when the first `cut` stops are done.

        Only `arrived[:cut]` is read for a cut: what is known then. Returns (raw, now).
        """
        cfg = self.config
        n = len(day.arrived)
        km = leg_km(day.lat, day.lng, cfg.circuity)
        same = np.r_[False, (day.area[1:] == day.area[:-1]) & (day.area[1:] >= 0)]
        extra = np.maximum(day.parcels - 1, 0)
        legs = tables.legs(km, same, tables.type_index(day.area_type), extra)  # (n, bands); leg 0 unused
        pace = tables.courier_pace.get(day.courier, 1.0)
        index = np.arange(n)
        remaining = index[None, :] >= cuts[:, None]  # (cuts, n)
        last = np.array([day.arrived[c - 1] for c in cuts])
        # Online pace: today's completed legs against their expectation, shrunk to the courier's pace.
        done_leg = (index[None, :] >= 1) & (index[None, :] < cuts[:, None])
        known = np.where(index[None, :] < cuts[:, None], np.nan_to_num(day.arrived), 0.0)
        actual_leg = np.where(done_leg, np.clip(known - np.roll(known, 1, axis=1), 0, cfg.gap_cap_minutes), 0.0)
        expected_leg = np.where(done_leg, legs[index[None, :], hour_band(np.roll(known, 1, axis=1))], 0.0)
        log_ratio = np.clip(np.log(np.maximum(actual_leg, 0.5) / np.maximum(expected_leg, 1.0)), -LOG_CLIP, LOG_CLIP)
        today = np.exp((np.where(done_leg, log_ratio, 0.0).sum(1) + cfg.day_prior_legs * np.log(pace))
                       / (done_leg.sum(1) + cfg.day_prior_legs))
        # Leg lengths at the hour they would start, two passes so the hour follows the predicted clock.
        step = np.where(remaining, legs[index[None, :], hour_band(last)[:, None]], 0.0) * today[:, None]
        for _ in range(2):
            departs = last[:, None] + np.cumsum(step, axis=1) - step
            step = np.where(remaining, legs[index[None, :], hour_band(departs)], 0.0) * today[:, None]
        raw = last[:, None] + np.cumsum(step, axis=1)
        if day.not_before is not None and np.isfinite(day.not_before).any():
            previous = last.copy()
            for i in range(n):  # the driver waits for a booked slot; the later legs follow from there
                arrival = np.fmax(previous + step[:, i], day.not_before[i])
                raw[:, i] = arrival
                previous = np.where(remaining[:, i], arrival, previous)
        first = raw[np.arange(len(cuts)), cuts]
        shift = np.maximum(self._first_arrival(tables, step[np.arange(len(cuts)), cuts], now - last, now) - first, 0.0)
        raw = np.where(remaining, raw + shift[:, None], np.nan)
        return raw, now

    @staticmethod
    def _first_arrival(tables: _Tables, expected: NDArray[np.float64], elapsed: NDArray[np.float64],
                       now: NDArray[np.float64]) -> NDArray[np.float64]:
        """Median arrival at the next stop given it is not done `elapsed` minutes into its leg.

        A leg already running long is likely a long one (a break, a depot run): the conditional
        median of the leg, from the leg-ratio quantiles, not just "any minute now".
        """
        ratio = np.maximum(elapsed, 0.0) / np.maximum(expected, 1e-6)
        passed = np.interp(ratio, tables.leg_ratio, LEVELS, left=0.0, right=LEVELS[-1])
        target = np.interp((passed + 1.0) / 2.0, LEVELS, tables.leg_ratio)
        remaining = np.where(elapsed > 0, expected * np.maximum(target, ratio) - elapsed, 0.0)
        return now + np.maximum(remaining, 1.0)

    def distribution(self, raw: NDArray[np.float64], now: NDArray[np.float64] | float,
                     between: NDArray[np.bool_] | bool = False, ahead: NDArray[np.int64] | None = None
                     ) -> NDArray[np.float64]:
        """Arrival quantiles at `LEVELS` for raw arrivals (any shape; `now`, `between` (whether the
        driver is between stops rather than just done with one) and `ahead` (stops ahead, the stop itself
        included; None: pooled), broadcastable): shape + (levels,)."""
        horizon = np.nan_to_num(raw - now)
        bucket = np.clip(np.digitize(horizon, HORIZON_EDGES) - 1, 0, len(HORIZON_EDGES) - 1)
        state = np.broadcast_to(np.asarray(between, dtype=np.int64), bucket.shape)
        group = np.broadcast_to(ahead_bucket(ahead), bucket.shape)
        values = raw[..., None] + self._residuals[bucket, state, group]
        floor = np.asarray(now, float)[..., None] + 1.0 + LEVELS * 1e-3  # arrivals lie after now
        return np.maximum(values, floor)

    def predict_day(self, day_frame: pd.DataFrame, cuts: Sequence[int] | None = None,
                    now: Sequence[float] | None = None) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """Batch form for evaluation: one courier-day (STOP_COLUMNS), cut after each of `cuts` done stops.

        `now` (default: the time of the last done stop) may be later, e.g. a position event while the
        driver is between stops. Returns (cuts, now, quantiles[cuts, stops, levels]); the prediction at
        a cut reads the arrival times of the stops done by then only. Done stops hold NaN.
        """
        (day,) = _days(day_frame)
        cut_arr = np.arange(1, len(day.arrived)) if cuts is None else np.asarray(cuts, dtype=np.int64)
        now_arr = day.arrived[cut_arr - 1] if now is None else np.asarray(now, dtype=float)
        raw, now_arr = self._raw(self._tables, day, cut_arr, now_arr)
        raw = self._corrected(day, raw, now_arr, cut_arr)
        between = (now_arr > day.arrived[cut_arr - 1])[:, None]
        ahead = np.arange(raw.shape[1])[None, :] - cut_arr[:, None] + 1
        return cut_arr, now_arr, self.distribution(raw, now_arr[:, None], between, np.maximum(ahead, 1))

    def predict(self, state: RouteState) -> list[StopEta]:
        """Point ETA, quantiles and the best window for every remaining stop of `state`."""
        if not state.remaining:
            return []
        done = list(state.done)
        if not done:
            origin = state.origin or (state.remaining[0].lat, state.remaining[0].lng)
            done = [DoneStop(origin[0], origin[1], state.departs_at if state.departs_at is not None else state.now)]
        stops: list[DoneStop | PlannedStop] = [*done, *state.remaining]
        areas = pd.factorize(pd.Series([s.area for s in stops], dtype=object), use_na_sentinel=True)[0]
        day = _Day(state.courier, np.array([s.lat for s in stops]), np.array([s.lng for s in stops]), areas,
                   np.array([s.area_type for s in stops], dtype=np.int64), np.array([s.parcels for s in stops], dtype=np.float64),
                   np.array([s.arrived for s in done] + [np.nan] * len(state.remaining)),
                   np.array([np.nan] * len(done) + [np.nan if s.not_before is None else s.not_before for s in state.remaining]),
                   accepted=np.array([-np.inf] * len(done) + [_accepted(s.on_board) for s in state.remaining]))
        cut = np.array([len(done)])
        raw, now = self._raw(self._tables, day, cut, np.array([float(state.now)]))
        raw = self._corrected(day, raw, now, cut)
        door = np.array([s.door_minutes for s in state.remaining], dtype=float)
        if door.any():  # each stop after one with extra time at the door comes that much later
            raw[0, len(done):] += np.cumsum(door) - door
        quantiles = self.distribution(raw[0, len(done):], float(state.now), bool(state.now > day.arrived[len(done) - 1]),
                                      np.arange(1, len(state.remaining) + 1))
        lo, hi = (int(np.argmin(np.abs(LEVELS - q))) for q in (self.config.q_low, self.config.q_high))
        out = []
        for stop, values in zip(state.remaining, quantiles, strict=True):
            window, mass = best_window(LEVELS, values, self.config.window_minutes, self.config.granularity_minutes,
                                       not_before=float(state.now))
            out.append(StopEta(stop.stop_id, float(values[MEDIAN]), float(values[lo]), float(values[hi]),
                               window.start, window.end, mass, values))
        return out


def _accepted(on_board: bool | None) -> float:
    """A remaining stop's acceptance as the stage reads it: long ago (on board), never yet, or unknown."""
    return np.nan if on_board is None else (-np.inf if on_board else np.inf)
