"""The second stage: a learned correction of the chained-legs ETA for the shape of a courier's day.

The chained legs describe the typical leg; what they miss is the day's shape: the long gaps that come
at certain hours or after so many stops (lunch, a second load at the depot, the end-of-shift drift),
and couriers whose day usually ends late. Gradient boosting (absolute error, so a median) learns
log(actual horizon / chained-legs horizon), a correction in proportion to how far ahead, from what is
known at the moment of the prediction:

- the chained-legs horizon and the predicted clock time, the clock now, the minutes since the day's
  first stop and since the last one, stops done, stops ahead and left, the stop's place in the plan;
- the courier's own day on earlier days (usual first and last stop times, stops per day, minutes per
  stop) and today's minutes per stop so far;
- whether the parcel has been accepted (picked up at the depot) by now, when the data tells it:
  a parcel not yet on board comes after a return to the depot.

Everything is a function of the day's plan, the times of the stops done by `now`, the acceptance
scans made by `now` and earlier days: never of a later arrival.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

FEATURES = ("raw_h", "raw_clock", "now", "elapsed", "since_last", "done", "ahead", "left", "plan_share",
            "today_per_stop", "usual_end_left", "usual_stops", "usual_per_stop", "usual_start", "not_accepted",
            "not_accepted_before")


@dataclass(frozen=True)
class Profile:
    """A courier's usual day on earlier days (medians)."""

    start: float
    end: float
    stops: float
    per_stop: float


def profiles(history: pd.DataFrame) -> tuple[dict[Hashable, Profile], Profile]:
    """Per courier and over everyone: usual first/last stop time, stops per day, minutes per stop."""
    days = history.groupby(["courier", "day"])["arrived"].agg(["min", "max", "size"])
    days["per_stop"] = (days["max"] - days["min"]) / np.maximum(days["size"] - 1, 1)
    fallback = Profile(*(float(days[c].median()) for c in ("min", "max", "size", "per_stop")))
    per = days.groupby(level="courier").median()
    out = {c: Profile(float(r["min"]), float(r["max"]), float(r["size"]), float(r["per_stop"])) for c, r in per.iterrows()}
    return out, fallback


def features(raw: NDArray[np.float64], now: NDArray[np.float64], cuts: NDArray[np.int64], arrived: NDArray[np.float64],
             accepted: NDArray[np.float64] | None, profile: Profile) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Feature rows for every (moment, remaining stop): returns (rows x FEATURES, mask of raw's cells used).

    `arrived[:cut]` is read only for a moment's own cut; `accepted` only as "accepted by now or not".
    """
    n_cuts, n = raw.shape
    mask = np.isfinite(raw)
    index = np.arange(n)[None, :]
    done = cuts.astype(float)[:, None]
    first = arrived[0]
    last = arrived[cuts - 1]
    today = np.where(cuts >= 2, (last - first) / np.maximum(cuts - 1, 1), np.nan)[:, None]
    if accepted is not None and not np.isnan(accepted).all():  # +-inf: on board long ago / not yet, time unknown
        pending = np.where(np.isnan(accepted)[None, :], np.nan, (accepted[None, :] > now[:, None]).astype(float))
        pending = np.where(mask, pending, 0.0)
        before = np.cumsum(np.nan_to_num(pending), axis=1) - np.nan_to_num(pending)
        pending_before = np.where(np.isfinite(pending), before, np.nan)
    else:
        pending = pending_before = np.full(raw.shape, np.nan)
    columns = {
        "raw_h": raw - now[:, None], "raw_clock": raw, "now": now[:, None], "elapsed": (now - first)[:, None],
        "since_last": (now - last)[:, None], "done": done, "ahead": index - done + 1, "left": n - done,
        "plan_share": (index + 1) / n, "today_per_stop": today, "usual_end_left": profile.end - now[:, None],
        "usual_stops": np.full((n_cuts, 1), profile.stops), "usual_per_stop": np.full((n_cuts, 1), profile.per_stop),
        "usual_start": np.full((n_cuts, 1), profile.start), "not_accepted": pending, "not_accepted_before": pending_before,
    }
    x = np.stack([np.broadcast_to(columns[f], raw.shape)[mask] for f in FEATURES], axis=1).astype(float)
    return x, mask


class Stage:
    """The stage's model: a conditional median given `FEATURES` (the engine fits it to the log horizon ratio)."""

    def __init__(self, max_iter: int = 150, seed: int = 0) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor

        self.model = HistGradientBoostingRegressor(loss="absolute_error", max_iter=max_iter, learning_rate=0.08,
                                                   min_samples_leaf=40, random_state=seed)

    def fit(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> Stage:
        self.columns = ~np.isnan(x).all(axis=0)  # e.g. no acceptance scans in this history: leave them out
        self.model.fit(x[:, self.columns], y)
        return self

    def predict(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        if len(x) == 0:
            return np.zeros(0)
        return self.model.predict(x[:, self.columns])
