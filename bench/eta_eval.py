"""Evaluate the ETA engine on real courier data (LaDe-D Jilin) against a naive reference and gradient boosting.

`make eval-eta` runs `python -m bench.eta_eval`: prints the table, writes bench/eta_report.json and
docs/eta/error_by_horizon.png. Definitions (also in the README, section "ETA engine"):

- Each courier-day's stops in actual delivery order are the known plan. A *cut* after j completed
  stops is the moment of the j-th delivery; from it every remaining parcel is predicted, reading only
  the times of the j done stops. Point figures use five cuts a day, after floor(n*m/6) deliveries,
  m = 1..5 (the naive reference's five cut points); horizon = actual arrival - cut time.
- Models are fitted only on days before the predicted day: refitted every `--refit-days` days on all
  earlier days (expanding window). A courier-day is evaluated when its day is at least `--warmup-days`
  after the first day and its courier has a gap on an earlier day (the naive reference needs one).
- Windows are recomputed at every delivery of the day and at a position event every 15 minutes
  (without GPS in the data, such an event only tells that the next stop is not done yet). The
  window *promised 1 hour ahead* of a parcel is the one in force 60 minutes before its actual
  arrival: as set at the last recompute at or before that moment, with every move made until then.
  Parcels delivered less than 60 minutes after the route start have no such promise and are left
  out of that figure. The *route-start*
  window is the one set at the first delivery of the day (the data has no departure scan).
  `window_moves_per_stop` = moves of a parcel's window between its first placement and its arrival.
- Naive reference (the data README's): last delivery time + k x the courier's median gap on earlier
  days, k = stops ahead. Gradient boosting: HistGradientBoostingRegressor (absolute error) on
  (cut, parcel) rows of earlier days with the engine's inputs as features (stops ahead, road km
  ahead, area changes ahead, hour, area type, parcels, the courier's history, today's pace).
  Baseline windows: a window centred on the point ETA (on the same grid), moved when the point
  ETA leaves its middle half.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from bot.eta.distance import leg_km
from bot.eta.engine import LEVELS, MEDIAN, STOP_COLUMNS, EtaConfig, EtaEngine, keeper_for, recompute_moments
from bot.eta.windows import WindowKeeper

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "lade-d-jilin" / "delivery_jl.parquet"  # ../shared from the checkout
REPORT = ROOT / "bench" / "eta_report.json"
PLOT = ROOT / "docs" / "eta" / "error_by_horizon.png"
WINDOW_KEYS = ("window_hit_rate", "window_hit_rate_route_start", "window_moves_per_stop")
WIDER = (90.0, 120.0)  # also measured for the engine: how wide a window the 95% would need
HORIZONS = (("<30 min", 0, 30), ("30-60 min", 30, 60), ("1-2 h", 60, 120), ("2-4 h", 120, 240), (">4 h", 240, np.inf))
METHODS = ("engine", "naive", "gbm")
PROMISE_LEAD = 60.0
NAIVE_README_MAE = 54.1


def load_lade(path: Path = DATA) -> pd.DataFrame:
    """LaDe-D rows -> stop frame (`STOP_COLUMNS`): one parcel one stop, minutes since the day's midnight."""
    raw = pd.read_parquet(path)
    day = pd.to_datetime("2022" + raw["ds"].astype(str).str.zfill(4), format="%Y%m%d")
    arrived = pd.to_datetime("2022-" + raw["delivery_time"], format="%Y-%m-%d %H:%M:%S")
    accepted = pd.to_datetime("2022-" + raw["accept_time"], format="%Y-%m-%d %H:%M:%S", errors="coerce") \
        if "accept_time" in raw.columns else pd.Series(pd.NaT, index=raw.index)
    frame = pd.DataFrame({
        "courier": raw["courier_id"].astype(np.int64), "day": (day - day.min()).dt.days.astype(np.int64),
        "lat": raw["lat"].astype(float), "lng": raw["lng"].astype(float), "area": raw["aoi_id"].astype(np.int64),
        "area_type": raw["aoi_type"].astype(np.int64), "parcels": 1, "arrived": (arrived - day).dt.total_seconds() / 60,
        "accepted": (accepted - day).dt.total_seconds() / 60,  # acceptance scan at the depot; see the engine's stage
        "order_id": raw["order_id"],
    })
    frame = frame.sort_values(["courier", "day", "arrived", "order_id"], kind="stable")
    frame["seq"] = frame.groupby(["courier", "day"]).cumcount()
    return frame.reset_index(drop=True)


def courier_history(frame: pd.DataFrame, cap: float) -> pd.DataFrame:
    """Per courier-day, the courier's median gap and mean capped gap over strictly earlier days."""
    gaps = frame.groupby(["courier", "day"])["arrived"].diff()
    rows = []
    for courier, part in frame.assign(gap=gaps).groupby("courier", sort=False):
        seen: list[np.ndarray] = []
        for day, one in part.groupby("day", sort=True):
            before = np.concatenate(seen) if seen else np.empty(0)
            rows.append((courier, day, np.median(before) if before.size else np.nan,
                         np.clip(before, 0, cap).mean() if before.size else np.nan, len(seen)))
            seen.append(one["gap"].dropna().to_numpy())
    return pd.DataFrame(rows, columns=["courier", "day", "median_gap", "mean_gap", "days_before"]).set_index(["courier", "day"])


def five_cuts(n: int) -> np.ndarray:
    return np.unique([c for c in (n * m // 6 for m in range(1, 6)) if 1 <= c < n]).astype(np.int64)


GBM_FEATURES = ("ahead", "km_ahead", "new_areas_ahead", "km_first", "cut_min", "done", "left", "area_type", "parcels",
                "median_gap", "mean_gap", "today_gap")


def gbm_rows(day: pd.DataFrame, hist: tuple[float, float], config: EtaConfig) -> pd.DataFrame:
    """(cut, parcel) feature rows for every cut of one courier-day; the target is arrival - cut time."""
    t = day["arrived"].to_numpy()
    n = len(t)
    km = leg_km(day["lat"].to_numpy(), day["lng"].to_numpy(), config.circuity)
    area = day["area"].to_numpy()
    new_area = np.r_[0.0, (area[1:] != area[:-1]).astype(float)]
    cum_km, cum_new = np.cumsum(km), np.cumsum(new_area)
    gaps = np.clip(np.diff(t), 0, config.gap_cap_minutes)
    cum_gap = np.r_[0.0, np.cumsum(gaps)]
    j, i = np.triu_indices(n, k=1)  # j = index of the last done stop, i = a remaining stop
    cut = j + 1
    return pd.DataFrame({
        "cut": cut, "stop": i, "ahead": i - j, "km_ahead": cum_km[i] - cum_km[j], "new_areas_ahead": cum_new[i] - cum_new[j],
        "km_first": km[cut], "cut_min": t[j], "done": cut, "left": n - cut, "area_type": day["area_type"].to_numpy()[i],
        "parcels": day["parcels"].to_numpy()[i], "median_gap": hist[0], "mean_gap": hist[1],
        "today_gap": np.where(j >= 1, cum_gap[j] / np.maximum(j, 1), np.nan), "target": t[i] - t[j],
    })


@dataclass
class Collected:
    """Per method: point rows (horizon, error, in window) and per-parcel window outcomes."""

    horizon: list[np.ndarray] = field(default_factory=list)
    error: list[np.ndarray] = field(default_factory=list)
    in_window: list[np.ndarray] = field(default_factory=list)
    hit_1h: list[np.ndarray] = field(default_factory=list)
    hit_start: list[np.ndarray] = field(default_factory=list)
    moves: list[np.ndarray] = field(default_factory=list)


def events(t: np.ndarray, tick: float) -> tuple[np.ndarray, np.ndarray]:
    """Recompute moments of a courier-day: every delivery and a position event every `tick` minutes."""
    return recompute_moments(t, tick)


def simulate_windows(t: np.ndarray, cuts: np.ndarray, now: np.ndarray, starts: np.ndarray, moved: np.ndarray,
                     width: float, sink: Collected) -> None:
    """Score a courier-day's window history; starts/moved are (events, stops), set at each event."""
    n = len(t)
    for c in five_cuts(n):
        r = int(np.flatnonzero((cuts == c) & (now == t[c - 1]))[0])
        s = starts[r, c:]
        sink.horizon.append(t[c:] - t[c - 1])
        sink.in_window.append((s <= t[c:]) & (t[c:] <= s + width))
    stops = np.arange(1, n)
    arrival = t[1:]
    first = starts[0, 1:]
    sink.hit_start.append((first <= arrival) & (arrival <= first + width))
    promised_at = np.searchsorted(now, arrival - PROMISE_LEAD, side="right") - 1  # last event <= arrival - 60
    has = promised_at >= 0
    w = starts[np.maximum(promised_at, 0), stops]
    sink.hit_1h.append(np.where(has, (w <= arrival) & (arrival <= w + width), np.nan))
    before = now[:, None] < arrival[None, :]
    sink.moves.append((moved[:, 1:] & before).sum(axis=0))


def censor(point: np.ndarray, cuts: np.ndarray, now: np.ndarray) -> np.ndarray:
    """A baseline's chain pushed past `now` when its next stop is overdue (the engine does the same)."""
    rows = np.arange(len(cuts))
    shift = np.maximum(now + 1.0 - point[rows, cuts], 0.0)
    return point + shift[:, None]


def point_windows(cuts: np.ndarray, point: np.ndarray, width: float, granularity: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Baseline windows: centred on the point ETA; moved when the point leaves the window's middle half."""
    starts = np.full(point.shape, np.nan)
    moved = np.zeros(point.shape, bool)
    current = np.full(point.shape[1], np.nan)
    for r in range(len(cuts)):
        live = np.isfinite(point[r])
        centred = np.round((point[r] - width / 2) / granularity) * granularity
        far = np.abs(point[r] - (current + width / 2)) > width / 4
        change = live & (np.isnan(current) | far)
        moved[r] = live & np.isfinite(current) & far
        current = np.where(change, centred, current)
        starts[r] = np.where(live, current, np.nan)
    return starts, moved


def engine_windows(keeper: WindowKeeper, cuts: np.ndarray, now: np.ndarray, quantiles: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    n = quantiles.shape[1]
    starts = np.full((len(cuts), n), np.nan)
    moved = np.zeros((len(cuts), n), bool)
    current = np.full(n, np.nan)
    for r, c in enumerate(cuts):
        start, move, _ = keeper.decide_many(current[c:], LEVELS, quantiles[r, c:], float(now[r]))
        current[c:] = start
        starts[r, c:], moved[r, c:] = start, move
    return starts, moved


def evaluate(frame: pd.DataFrame, *, config: EtaConfig | None = None, warmup_days: int = 14, refit_days: int = 7,
             tick_minutes: float | None = None, with_gbm: bool = True, wider: tuple[float, ...] = WIDER, log: bool = False) -> dict:
    """Run engine, naive reference and gradient boosting through the same cuts; return the report dict."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    config = config or EtaConfig()
    tick_minutes = tick_minutes or config.tick_minutes
    frame = frame.sort_values(["courier", "day", "seq"], kind="stable").reset_index(drop=True)
    hist = courier_history(frame, config.gap_cap_minutes)
    days = np.sort(frame["day"].unique())
    first_eval = days[0] + warmup_days
    groups = {key: part for key, part in frame.groupby(["courier", "day"], sort=True)}
    feats = {key: gbm_rows(part, tuple(hist.loc[key, ["median_gap", "mean_gap"]]), config)
             for key, part in groups.items() if len(part) >= 2}
    out = {m: Collected() for m in METHODS}
    keeper = keeper_for(config)
    wide = {w: (keeper_for(config, w), Collected()) for w in wider}
    evaluated = 0
    for block_start in np.arange(first_eval, days[-1] + 1, refit_days):
        block = [k for k in groups if block_start <= k[1] < block_start + refit_days
                 and len(groups[k]) >= 2 and np.isfinite(hist.loc[k, "median_gap"])]
        if not block:
            continue
        engine = EtaEngine(config).fit(frame[frame["day"] < block_start])
        gbm = None
        if with_gbm:
            train = pd.concat([f[np.isin(f["cut"], five_cuts(len(groups[k])))] for k, f in feats.items() if k[1] < block_start])
            gbm = HistGradientBoostingRegressor(loss="absolute_error", max_iter=200, learning_rate=0.08,
                                                categorical_features=[GBM_FEATURES.index("area_type")], random_state=0)
            gbm.fit(train[list(GBM_FEATURES)].to_numpy(), train["target"].to_numpy())
        for key in block:
            part = groups[key]
            t = part["arrived"].to_numpy()
            n = len(t)
            cuts, now = events(t, tick_minutes)
            cuts, now, quantiles = engine.predict_day(part, cuts, now)
            points = {"engine": quantiles[..., MEDIAN]}
            ahead = np.arange(n)[None, :] - cuts[:, None] + 1
            naive = t[cuts - 1][:, None] + ahead * hist.loc[key, "median_gap"]
            points["naive"] = censor(np.where(ahead >= 1, naive, np.nan), cuts, now)
            if gbm is not None:
                f = feats[key]
                by_cut = np.full((n, n), np.nan)
                horizon = gbm.predict(f[list(GBM_FEATURES)].to_numpy())
                by_cut[f["cut"].to_numpy(), f["stop"].to_numpy()] = f["cut_min"].to_numpy() + horizon
                points["gbm"] = censor(by_cut[cuts], cuts, now)
            for method, point in points.items():
                sink = out[method]
                for c in five_cuts(n):
                    r = int(np.flatnonzero((cuts == c) & (now == t[c - 1]))[0])
                    sink.error.append(point[r, c:] - t[c:])
                if method == "engine":
                    starts, moved = engine_windows(keeper, cuts, now, quantiles)
                else:
                    starts, moved = point_windows(cuts, point, config.window_minutes, config.granularity_minutes)
                simulate_windows(t, cuts, now, starts, moved, config.window_minutes, sink)
            for width, (wide_keeper, wide_sink) in wide.items():
                starts, moved = engine_windows(wide_keeper, cuts, now, quantiles)
                simulate_windows(t, cuts, now, starts, moved, width, wide_sink)
            evaluated += 1
        if log:
            print(f"  days {block_start}-{block_start + refit_days - 1}: {len(block)} courier-days", flush=True)
    report = build_report(out, frame, evaluated, config, warmup_days, refit_days)
    report["window_hit_rate_by_width"] = {
        f"{config.window_minutes:g}": {k: report[k] for k in WINDOW_KEYS},
        **{f"{w:g}": _window_figures(sink) for w, (_, sink) in wide.items()},
    }
    return report


def _window_figures(sink: Collected) -> dict:
    hit_1h, hit_start, moves = (np.concatenate(a).astype(float) for a in (sink.hit_1h, sink.hit_start, sink.moves))
    figures = (float(np.nanmean(hit_1h)), float(hit_start.mean()), float(moves.mean()))
    return {key: round(value, 3) for key, value in zip(WINDOW_KEYS, figures, strict=True)}


def _metrics(horizon: np.ndarray, error: np.ndarray, in_window: np.ndarray) -> dict:
    if error.size == 0:
        return {"n": 0}
    return {
        "n": int(error.size), "mae_min": round(float(np.abs(error).mean()), 2),
        "rmse_min": round(float(np.sqrt((error ** 2).mean())), 2),
        "acc20": round(float((np.abs(error) <= 20).mean()), 3), "acc30": round(float((np.abs(error) <= 30).mean()), 3),
        "window_hit_rate": round(float(in_window.mean()), 3),
    }


def method_report(sink: Collected) -> dict:
    horizon, error, in_window = (np.concatenate(a) for a in (sink.horizon, sink.error, sink.in_window))
    hit_1h, hit_start = (np.concatenate(a).astype(float) for a in (sink.hit_1h, sink.hit_start))
    overall = _metrics(horizon, error, in_window)
    overall |= _window_figures(sink) | {"n_window_1h": int(np.isfinite(hit_1h).sum()), "n_window_route_start": int(hit_start.size)}
    by_horizon = {}
    for name, low, high in HORIZONS:
        mask = (horizon >= low) & (horizon < high)
        by_horizon[name] = _metrics(horizon[mask], error[mask], in_window[mask])
    return overall | {"by_horizon": by_horizon}


def build_report(out: dict[str, Collected], frame: pd.DataFrame, evaluated: int, config: EtaConfig,
                 warmup_days: int, refit_days: int) -> dict:
    methods = {m: method_report(s) for m, s in out.items() if s.error}
    engine = methods.pop("engine")
    return {
        "dataset": {"stops": len(frame), "couriers": int(frame["courier"].nunique()), "days": int(frame["day"].nunique()),
                    "evaluated_courier_days": evaluated, "warmup_days": warmup_days, "refit_every_days": refit_days},
        "config": {"window_minutes": config.window_minutes, "granularity_minutes": config.granularity_minutes,
                   "keep_ratio": config.keep_ratio, "near_keep_ratio": config.near_keep_ratio, "near_minutes": config.near_minutes,
                   "tick_minutes": config.tick_minutes, "circuity": config.circuity, "promise_lead_minutes": PROMISE_LEAD},
        **engine,
        "baselines": methods,
        "naive_mae_in_data_readme": NAIVE_README_MAE,
    }


def print_table(report: dict) -> None:
    rows = [("engine", report), *list(report["baselines"].items())]
    print(f"\n{'method':8} {'horizon':10} {'n':>7} {'MAE':>7} {'RMSE':>7} {'ACC@20':>7} {'ACC@30':>7} {'in win':>7}")
    for name, r in rows:
        for h, m in [("all", r), *list(r["by_horizon"].items())]:
            if m.get("n"):
                hit = m["window_hit_rate"] if h != "all" else np.nan
                print(f"{name:8} {h:10} {m['n']:7d} {m['mae_min']:7.1f} {m['rmse_min']:7.1f} "
                      f"{m['acc20']:7.3f} {m['acc30']:7.3f} {hit:7.3f}")
    print(f"\n{'method':8} {'width':>6} {'hit 1h ahead':>13} {'hit route start':>16} {'moves/stop':>11}")
    width = report["config"]["window_minutes"]
    lines = [(name, width, r) for name, r in rows]
    lines += [("engine", float(w), r) for w, r in report.get("window_hit_rate_by_width", {}).items() if float(w) != width]
    for name, w, r in lines:
        hit, start, moves = (r[k] for k in WINDOW_KEYS)
        print(f"{name:8} {w:6g} {hit:13.3f} {start:16.3f} {moves:11.3f}")
    naive = report["baselines"].get("naive")
    if naive:
        print(f"\nMAE engine / naive: {report['mae_min'] / naive['mae_min']:.2f} (goal <= 0.50); "
              f"window hit 1 h ahead {report['window_hit_rate']:.3f} (goal >= 0.95); "
              f"route start {report['window_hit_rate_route_start']:.3f} "
              f"({0.95 - report['window_hit_rate_route_start']:.3f} short of 0.95)")


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    names = [h for h, _, _ in HORIZONS]
    for name, r in [("engine", report), *list(report["baselines"].items())]:
        bh = r["by_horizon"]
        ax1.plot(names, [bh[h].get("mae_min", np.nan) for h in names], marker="o", label=name)
        ax2.plot(names, [bh[h].get("window_hit_rate", np.nan) for h in names], marker="o", label=name)
    ax1.set(title="MAE by horizon (LaDe-D Jilin)", ylabel="minutes", xlabel="horizon")
    ax2.set(title="share inside the 60-min window in force at the cut", ylim=(0, 1), xlabel="horizon")
    ax2.axhline(0.95, color="grey", linestyle="--", linewidth=1)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=REPORT)
    parser.add_argument("--plot", type=Path, default=PLOT)
    parser.add_argument("--warmup-days", type=int, default=14)
    parser.add_argument("--refit-days", type=int, default=7)
    parser.add_argument("--no-gbm", action="store_true")
    parser.add_argument("--no-wider", action="store_true", help="skip the 90/120-minute window figures")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override an EtaConfig field")
    args = parser.parse_args(argv)
    config = EtaConfig()
    for item in args.set:
        name, _, value = item.partition("=")
        config = replace(config, **{name: type(getattr(config, name))(float(value))})
    started = time.monotonic()
    frame = load_lade(args.data)
    report = evaluate(frame, config=config, warmup_days=args.warmup_days, refit_days=args.refit_days,
                      with_gbm=not args.no_gbm, wider=() if args.no_wider else WIDER, log=True)
    report["seconds"] = round(time.monotonic() - started, 1)
    print_table(report)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    plot(report, args.plot)
    print(f"\nwrote {args.out} and {args.plot} in {report['seconds']} s")
    return 0


assert set(STOP_COLUMNS) <= {"courier", "day", "seq", "lat", "lng", "area", "area_type", "parcels", "arrived"}

if __name__ == "__main__":
    raise SystemExit(main())
