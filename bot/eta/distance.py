"""Travel distance between stops: great-circle distance times a circuity factor.

Roads are not straight lines; a city network is typically 1.2-1.4 times the crow-flies distance. The
factor is a setting (`EtaConfig.circuity`); a road graph can replace this function where one exists.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_M = 6_371_000.0


def haversine_m(lat1: ArrayLike, lng1: ArrayLike, lat2: ArrayLike, lng2: ArrayLike) -> NDArray[np.float64]:
    """Great-circle distance in metres, element-wise over arrays (or scalars)."""
    p1, p2 = np.radians(np.asarray(lat1, float)), np.radians(np.asarray(lat2, float))
    dlat = p2 - p1
    dlng = np.radians(np.asarray(lng2, float) - np.asarray(lng1, float))
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def travel_km(lat1: ArrayLike, lng1: ArrayLike, lat2: ArrayLike, lng2: ArrayLike, circuity: float) -> NDArray[np.float64]:
    """Expected road distance in kilometres: haversine x circuity."""
    return haversine_m(lat1, lng1, lat2, lng2) * circuity / 1000.0


def leg_km(lat: ArrayLike, lng: ArrayLike, circuity: float, origin: tuple[float, float] | None = None) -> NDArray[np.float64]:
    """Road km of each leg of a sequence: leg i goes from stop i-1 (or `origin`, else 0 km) to stop i."""
    lat, lng = np.asarray(lat, float), np.asarray(lng, float)
    if lat.size == 0:
        return np.zeros(0)
    prev_lat = np.concatenate([[origin[0] if origin else lat[0]], lat[:-1]])
    prev_lng = np.concatenate([[origin[1] if origin else lng[0]], lng[:-1]])
    return travel_km(prev_lat, prev_lng, lat, lng, circuity)
