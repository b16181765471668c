"""A demo world whose runtime has every real adapter switched on, pointed at the local fake carriers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from actions import runtime as action_runtime
from bot.carriers.local import link
from bot.core.clock import start_clock
from bot.core.models import Shipment
from bot.core.runtime import Runtime
from bot.core.settings import get_settings
from tests import worlds
from tests.carriers.fakes import API_KEY, Fake, serve
from tests.conftest import T0

ONFLEET_SECRET = "8e1f5b0c2a9d4e6f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f"
REST_SECRET = "rest-webhook-secret"
TIMEOUT = 0.5


@pytest.fixture
def fake() -> Fake:
    return Fake()


@pytest.fixture
def carrier_url(fake: Fake) -> Iterator[str]:
    with serve(fake) as url:
        yield url


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, carrier_url: str) -> Iterator[Runtime]:
    """The action server's runtime over a fresh demo world (08:30 in Berlin), with CARRIERS=karrio,onfleet,rest."""
    url = worlds.fresh_sqlite(tmp_path / "carriers.db", world_speed=1, built_at=T0)
    env = {
        "DATABASE_URL": url, "CARRIERS": "karrio,onfleet,rest", "KARRIO_CARRIERS": "ups,fedex,dhl_express",
        "CARRIER_TIMEOUT_SECONDS": str(TIMEOUT), "CARRIER_RETRY_ATTEMPTS": "2", "CARRIER_BREAKER_FAILURES": "3",
        "CARRIER_BREAKER_COOL_OFF_SECONDS": "60",
        "KARRIO_UPS_CLIENT_ID": "ups-client", "KARRIO_UPS_CLIENT_SECRET": "ups-secret", "KARRIO_UPS_ACCOUNT_NUMBER": "A1B2C3",
        "KARRIO_UPS_SERVER_URL": f"{carrier_url}/ups",
        "KARRIO_FEDEX_API_KEY": "fedex-key", "KARRIO_FEDEX_SECRET_KEY": "fedex-secret",
        "KARRIO_FEDEX_ACCOUNT_NUMBER": "510087020", "KARRIO_FEDEX_SERVER_URL": f"{carrier_url}/fedex",
        "KARRIO_DHL_EXPRESS_SITE_ID": "dhl-site", "KARRIO_DHL_EXPRESS_PASSWORD": "dhl-password",
        "KARRIO_DHL_EXPRESS_ACCOUNT_NUMBER": "950000002", "KARRIO_DHL_EXPRESS_SERVER_URL": f"{carrier_url}/dhl",
        "ONFLEET_API_KEY": API_KEY, "ONFLEET_WEBHOOK_SECRET": ONFLEET_SECRET,
        "ONFLEET_API_URL": f"{carrier_url}/onfleet/api/v2",
        "REST_CARRIER_BASE_URL": f"{carrier_url}/rest", "REST_CARRIER_API_KEY": API_KEY,
        "REST_CARRIER_WEBHOOK_SECRET": REST_SECRET,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    action_runtime.runtime.cache_clear()
    rt = action_runtime.runtime()
    with rt.sessions() as session, session.begin():
        start_clock(session, sim_start=T0 + timedelta(minutes=90), speed=1)
    yield rt
    for carrier in rt.carriers.values():
        if hasattr(carrier, "close"):
            carrier.close()
    rt.engine.dispose()
    action_runtime.runtime.cache_clear()
    get_settings.cache_clear()


def switch(rt: Runtime, shipment_id: int, carrier: str, external: str | None = None) -> Shipment:
    """Serve a demo shipment through another adapter (known there as `external`)."""
    with rt.sessions() as session, session.begin():
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        link(session, shipment, carrier, external or shipment.tracking_number)
        session.flush()
        session.expunge(shipment)
        return shipment
