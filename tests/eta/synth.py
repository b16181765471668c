"""Small synthetic courier data, made in the tests: known legs, known paces, known noise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.eta.distance import leg_km

SERVICE, MIN_PER_KM = 3.0, 4.0


def stop_frame(*, couriers: int = 3, days: int = 12, stops: int = 15, seed: int = 1,
               pace: dict[int, float] | None = None, day_pace: dict[tuple[int, int], float] | None = None,
               noise: float = 0.15) -> pd.DataFrame:
    """Courier-days in the engine's stop-frame shape. Leg = (SERVICE + MIN_PER_KM * km) * pace * lognormal noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(couriers):
        for d in range(days):
            lat = 43.85 + np.cumsum(rng.normal(0, 0.004, stops))
            lng = 126.55 + np.cumsum(rng.normal(0, 0.004, stops))
            km = leg_km(lat, lng, 1.3)
            factor = (pace or {}).get(c, 1.0) * (day_pace or {}).get((c, d), 1.0)
            legs = (SERVICE + MIN_PER_KM * km) * factor * rng.lognormal(0, noise, stops)
            arrived = 8 * 60 + np.cumsum(np.r_[0.0, legs[1:]])
            for i in range(stops):
                area = int(rng.integers(0, 4)) + 10 * c
                rows.append({"courier": c, "day": d, "seq": i, "lat": lat[i], "lng": lng[i], "area": area,
                             "area_type": 1, "parcels": 1, "arrived": arrived[i]})
    return pd.DataFrame(rows)


def lade_raw(frame: pd.DataFrame) -> pd.DataFrame:
    """The same stops written as LaDe-D rows (what `bench.eta_eval.load_lade` reads)."""
    day = pd.Timestamp("2022-05-01") + pd.to_timedelta(frame["day"], unit="D")
    at = day + pd.to_timedelta(frame["arrived"].round(), unit="min")
    return pd.DataFrame({
        "order_id": np.arange(len(frame)) + 1000, "courier_id": frame["courier"], "lat": frame["lat"], "lng": frame["lng"],
        "aoi_id": frame["area"], "aoi_type": frame["area_type"], "delivery_time": at.dt.strftime("%m-%d %H:%M:%S"),
        "ds": day.dt.strftime("%m%d").astype(int),
    })
