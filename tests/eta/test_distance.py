"""Distances: haversine against known values, circuity, legs of a sequence."""

import numpy as np
import pytest

from bot.eta.distance import haversine_m, leg_km, travel_km


def test_one_degree_of_latitude_is_about_111_km() -> None:
    assert haversine_m(43.0, 126.0, 44.0, 126.0) == pytest.approx(111_195, rel=1e-3)


def test_haversine_is_symmetric_zero_on_the_spot_and_vectorised() -> None:
    lat1, lng1 = np.array([52.52, 43.85]), np.array([13.40, 126.55])
    lat2, lng2 = np.array([52.50, 43.86]), np.array([13.45, 126.56])
    there = haversine_m(lat1, lng1, lat2, lng2)
    assert there.shape == (2,) and np.allclose(there, haversine_m(lat2, lng2, lat1, lng1))
    assert haversine_m(52.52, 13.40, 52.52, 13.40) == 0.0
    # Berlin Alexanderplatz to Brandenburger Tor: about 2.3 km as the crow flies
    assert haversine_m(52.5219, 13.4132, 52.5163, 13.3777) == pytest.approx(2_480, rel=0.05)


def test_circuity_scales_and_legs_start_at_the_origin() -> None:
    assert travel_km(43.0, 126.0, 44.0, 126.0, 1.3) == pytest.approx(111.195 * 1.3, rel=1e-3)
    legs = leg_km([43.0, 43.01, 43.01], [126.0, 126.0, 126.01], 1.0)
    assert legs[0] == 0.0 and legs[1] == pytest.approx(1.112, rel=1e-2) and legs[2] > 0
    from_depot = leg_km([43.01], [126.0], 1.0, origin=(43.0, 126.0))
    assert from_depot[0] == pytest.approx(1.112, rel=1e-2)
