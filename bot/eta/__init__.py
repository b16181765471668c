"""ETA engine: point ETAs, calibrated quantiles and promised windows for a driver's remaining stops.

Public API (everything in minutes since the local midnight of the service day, floats):

    from bot.eta import EtaEngine, EtaConfig, RouteState, DoneStop, PlannedStop, WindowKeeper, Window

    engine = EtaEngine(EtaConfig(window_minutes=60)).fit(history)
        # history: pandas frame of completed stops of earlier days, columns STOP_COLUMNS =
        # courier, day, seq, lat, lng, area, area_type, parcels, arrived

    etas = engine.predict(RouteState(courier=7, now=612.0, done=[DoneStop(lat, lng, arrived=598.0)],
                                     remaining=[PlannedStop("stop-1", lat, lng, area="10245"), ...],
                                     origin=(depot_lat, depot_lng), departs_at=480.0))
        # -> list[StopEta(stop_id, point, q_low, q_high, window_start, window_end, window_probability,
        #                 quantiles)], one per remaining stop, in plan order
        # PlannedStop(..., on_board=True/False) tells whether a parcel has been picked up at the depot
        # (an acceptance scan); the history's optional `accepted` column (minutes) is the same scan.

    decision = engine.keeper.decide(current_window_or_None, LEVELS, eta.quantiles, now)
        # -> WindowDecision(window, moved, probability): keep the promise unless it has become clearly
        #    worse than the best window (config.keep_ratio); `moved` counts a broken promise.

    engine.predict_day(day_frame, cuts, now)   # batch form for evaluation (bench/eta_eval.py)

On the database (the sandbox today, any carrier's routes later), `bot.eta.live`:

    engine = fit_engine(session, service_date, tz)
    changes = recompute_route(session, route, now=now, engine=engine)  # -> list[WindowChange]
        # sets Shipment.eta_start/eta_end, logs EtaWindowChange rows; WindowChange.moved marks the
        # windows the notifications should announce ("delayed, new window 14:15-15:15").

How it predicts: see `bot.eta.engine`; how windows are placed and kept: `bot.eta.windows`.
"""

from bot.eta.engine import (
    LEVELS,
    STOP_COLUMNS,
    DoneStop,
    EtaConfig,
    EtaEngine,
    PlannedStop,
    RouteState,
    StopEta,
)
from bot.eta.windows import Window, WindowDecision, WindowKeeper

__all__ = [
    "LEVELS",
    "STOP_COLUMNS",
    "DoneStop",
    "EtaConfig",
    "EtaEngine",
    "PlannedStop",
    "RouteState",
    "StopEta",
    "Window",
    "WindowDecision",
    "WindowKeeper",
]
