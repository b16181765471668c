"""Promised windows: where to put a window, and when a promised one has to move.

An arrival distribution is given by quantiles (`levels` in (0, 1), `values` in minutes). A window of
`width` minutes, starting on a `granularity` grid (quarter hours by default, as customers read them),
is placed where it holds the most probability. A promised window is kept while it still holds at
least `keep_ratio` of what the best window would hold; otherwise it moves, and the move is counted:
moving a promise is itself a cost to the customer. Everything works on many stops at once (rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Window:
    start: float  # minutes since the local midnight of the service day
    end: float


@dataclass(frozen=True)
class WindowDecision:
    window: Window
    moved: bool  # True when an existing promise had to change
    probability: float  # chance that the arrival falls in `window`


def cdf(levels: NDArray[np.float64], values: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """P(arrival <= x) per row: `values` (rows, levels) increasing, `x` (rows, k); linear between quantiles."""
    values, x = np.atleast_2d(values), np.atleast_2d(x)
    rows = np.arange(values.shape[0])[:, None]
    above = (values[:, None, :] <= x[:, :, None]).sum(axis=2)  # quantiles at or below x
    hi = np.clip(above, 1, values.shape[1] - 1)
    v0, v1 = values[rows, hi - 1], values[rows, hi]
    share = np.clip((x - v0) / np.maximum(v1 - v0, 1e-9), 0.0, 1.0)
    inside = levels[hi - 1] + share * (levels[hi] - levels[hi - 1])
    # Outside the quantile range the tails are spread linearly over one more quantile step.
    first, last = values[:, :1], values[:, -1:]
    step_lo = np.maximum(values[:, 1:2] - first, 1e-9) * levels[0] / max(levels[1] - levels[0], 1e-9)
    step_hi = np.maximum(last - values[:, -2:-1], 1e-9) * (1 - levels[-1]) / max(levels[-1] - levels[-2], 1e-9)
    below = levels[0] * np.clip(1 - (first - x) / step_lo, 0.0, 1.0)
    beyond = levels[-1] + (1 - levels[-1]) * np.clip((x - last) / step_hi, 0.0, 1.0)
    return np.where(x < first, below, np.where(x > last, beyond, inside))


def window_probability(levels: NDArray[np.float64], values: NDArray[np.float64], start: float, end: float) -> float:
    """P(start <= arrival <= end) for one distribution."""
    p = cdf(levels, values, np.array([[start, end]]))[0]
    return float(p[1] - p[0])


def best_windows(levels: NDArray[np.float64], values: NDArray[np.float64], width: float, granularity: float,
                 not_before: float | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per row, the start of the grid window holding the most probability, and that probability.

    Windows that end before `not_before` (the present) are not offered. Ties go to the window
    centred nearest the median.
    """
    values = np.atleast_2d(values)
    first = np.floor((values[:, 0].min() - width) / granularity) * granularity
    last = max(float(values[:, -1].max()), not_before if not_before is not None else -np.inf)
    starts = np.arange(first, last + granularity, granularity)
    grid = np.broadcast_to(starts, (values.shape[0], starts.size))
    mass = cdf(levels, values, grid + width) - cdf(levels, values, grid)
    if not_before is not None:
        mass = np.where(grid + width > not_before, mass, -1.0)
    median = values[:, int(np.argmin(np.abs(levels - 0.5)))][:, None]
    best = np.argmax(mass - 1e-6 * np.abs(grid + width / 2 - median), axis=1)
    rows = np.arange(values.shape[0])
    return grid[rows, best].astype(float), mass[rows, best]


def best_window(levels: NDArray[np.float64], values: NDArray[np.float64], width: float, granularity: float,
                not_before: float | None = None) -> tuple[Window, float]:
    """The best window for one distribution."""
    start, mass = best_windows(levels, values, width, granularity, not_before)
    return Window(float(start[0]), float(start[0] + width)), float(mass[0])


class WindowKeeper:
    """Decides whether promised windows must move; stateless, so the promise can live anywhere (a DB row)."""

    def __init__(self, width: float = 60.0, granularity: float = 15.0, keep_ratio: float = 0.8,
                 near_keep_ratio: float | None = None, near_minutes: float = 90.0) -> None:
        self.width, self.granularity, self.keep_ratio = width, granularity, keep_ratio
        # A window starting within `near_minutes` is the promise the customer acts on: it may be held
        # to a stricter standard than one still hours away, which can wait for better news.
        self.near_keep_ratio = keep_ratio if near_keep_ratio is None else near_keep_ratio
        self.near_minutes = near_minutes

    def decide_many(self, current_start: NDArray[np.float64], levels: NDArray[np.float64], values: NDArray[np.float64],
                    now: float) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]:
        """Rows of (promised start or NaN, arrival quantiles) -> (start, moved, probability)."""
        current_start = np.asarray(current_start, float)
        best, best_mass = best_windows(levels, values, self.width, self.granularity, not_before=now)
        promised = np.isfinite(current_start)
        held_start = np.nan_to_num(current_start)
        held = cdf(levels, values, held_start[:, None] + self.width)[:, 0] - cdf(levels, values, held_start[:, None])[:, 0]
        held = np.where(held_start + self.width > now, held, 0.0)
        ratio = np.where(held_start - now <= self.near_minutes, self.near_keep_ratio, self.keep_ratio)
        keep = promised & (((held > 0) & (held >= ratio * best_mass)) | (held_start == best))
        start = np.where(keep, held_start, best)
        return start, promised & ~keep, np.where(keep, held, best_mass)

    def decide(self, current: Window | None, levels: NDArray[np.float64], values: NDArray[np.float64],
               now: float) -> WindowDecision:
        """Keep `current` unless it has become clearly worse than the best window; place one if none."""
        start, moved, mass = self.decide_many(np.array([np.nan if current is None else current.start]), levels,
                                              np.atleast_2d(values), now)
        return WindowDecision(Window(float(start[0]), float(start[0] + self.width)), bool(moved[0]), float(mass[0]))
