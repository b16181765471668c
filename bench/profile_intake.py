"""How long the intake takes per new parcel, with and without a profile to apply (issue 16).

    .venv/bin/python -m bench.profile_intake [--parcels 30]

A fresh SQLite sandbox world in a temporary directory; each parcel is registered through
`bot.parcels.register` (the same call the shipper's API and the demo button make). With a profile, each
parcel also gets a driver note and a window check (a move when its window doesn't fit), through the
change service and the sandbox carrier. Prints the median and the 90th percentile per parcel.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.carriers.sandbox.world import build_world
from bot.core.clock import real_now, sim_now, start_clock
from bot.core.models import Customer
from bot.core.runtime import Runtime
from bot.core.schema import migrate
from bot.core.settings import Settings
from bot.parcels import register
from bot.parcels.sandbox_arrival import sandbox_parcel
from bot.profile import By, Item, set_item


def _timings(runtime: Runtime, customer_id: int, parcels: int) -> list[float]:
    took = []
    for _ in range(parcels):
        with runtime.sessions() as session:
            customer = session.get(Customer, customer_id)
            assert customer is not None
            now = sim_now(session)
            parcel = sandbox_parcel(session, customer, now)
        start = time.perf_counter()
        register(runtime, parcel, now=now)
        took.append((time.perf_counter() - start) * 1000)
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parcels", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        runtime = Runtime.build(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
        now = real_now()
        with runtime.sessions() as session, session.begin():
            build_world(session, seed=7, speed=1, now=now)
            start_clock(session, sim_start=now + timedelta(minutes=90), speed=1)
        with runtime.sessions() as session, session.begin():
            plain, wishful = session.scalars(select(Customer.id).order_by(Customer.id).limit(2)).all()
            for item, value in ((Item.NEIGHBOUR, "no. 14"), (Item.NOT_BEFORE, 600), (Item.DOOR_MINUTES, 5)):
                set_item(session, customer_id=wishful, item=item, value=value, by=By.CUSTOMER, channel="sms")
        for label, customer_id in (("no profile", plain), ("profile (note + window)", wishful)):
            took = sorted(_timings(runtime, customer_id, args.parcels))
            print(f"{label}: median {statistics.median(took):.1f} ms, p90 {took[int(len(took) * 0.9) - 1]:.1f} ms "
                  f"per parcel ({args.parcels} parcels)")
        runtime.engine.dispose()


if __name__ == "__main__":
    main()
