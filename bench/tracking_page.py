"""What the tracking page's own changes cost (issue 16): the page's live poll (which now asks the change
service what can be changed), a change form, and a whole choose → confirm → done reschedule, against the web
app alone on SQLite with the sandbox world.

    .venv/bin/python -m bench.tracking_page [--rounds 100]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import timedelta
from html import unescape
from pathlib import Path

import httpx
from sqlalchemy import select

from bot.carriers.sandbox.world import build_world
from bot.conversation.identity import make_link_token
from bot.core.clock import start_clock
from bot.core.models import Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from bot.core.schema import migrate
from bot.core.settings import Settings
from tests.conftest import T0
from tests.test_web import LiveServer


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    return f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {ordered[int(len(ordered) * 0.95) - 1] * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=100)
    rounds = parser.parse_args().rounds
    folder = Path(tempfile.mkdtemp())
    url = f"sqlite:///{folder / 'bench.db'}"
    migrate(url)
    runtime = Runtime.build(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
    with runtime.sessions() as session, session.begin():
        build_world(session, seed=7, speed=1, now=T0)
        start_clock(session, sim_start=T0 + timedelta(minutes=90), speed=1)
    with runtime.sessions() as session:
        ids = list(session.scalars(select(Shipment.id).where(Shipment.status == ShipmentStatus.AT_DEPOT,
                                                             Shipment.locker_id.is_(None)).order_by(Shipment.id)))
    with LiveServer(runtime.settings) as server, httpx.Client(base_url=server.url) as http:
        page = f"/t/{make_link_token(runtime.settings.link_secret, ids[0])}"
        polls, forms, flows = [], [], []
        for _ in range(rounds):
            started = time.perf_counter()
            assert http.get(f"{page}/live").status_code == 200
            polls.append(time.perf_counter() - started)
            started = time.perf_counter()
            assert http.get(f"{page}/change/reschedule").status_code == 200
            forms.append(time.perf_counter() - started)
        for shipment_id in ids[: min(rounds, len(ids))]:
            page = f"/t/{make_link_token(runtime.settings.link_secret, shipment_id)}"
            started = time.perf_counter()
            form = http.get(f"{page}/change/reschedule").text
            window = unescape(re.findall(r'name="window" value="([^"]*)"', form)[1])
            assert http.post(f"{page}/change/reschedule", data={"window": window}).status_code == 200
            assert http.post(f"{page}/change/reschedule/confirm", data={"window": window}).status_code == 200
            flows.append(time.perf_counter() - started)
    print(f"GET /t/<token>/live ({rounds}): {_ms(polls)}")
    print(f"GET /t/<token>/change/reschedule ({rounds}): {_ms(forms)}")
    print(f"choose → confirm → done, reschedule ({len(flows)} parcels): {_ms(flows)}")


if __name__ == "__main__":
    main()
