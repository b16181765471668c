"""The notification wave benchmark: N synthetic out-for-delivery shipments planned, rendered and sent
through the real twilio library to the fake Twilio API (its own process, so its own core).

    .venv/bin/python -m bench.notify_run [--shipments 100000] [--profile]

Prints messages per second end to end (planning included; building the synthetic shipments is not),
duplicates and lost messages counted by the fake API, this process's memory along the way, and with
--profile the functions where the time goes. Writes bench/notify_results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select

from bench.fake_twilio import ACCOUNT_SID, AUTH_TOKEN
from bench.notify_wave import build_wave
from bot.core.models import Notification
from bot.core.runtime import Runtime
from bot.core.schema import migrate
from bot.core.settings import ROOT, Settings
from bot.notify.dispatch import Dispatcher
from bot.notify.planner import load_shipments, sync_plans
from bot.notify.providers import TwilioSms
from bot.notify.rules import load_rules
from bot.processes.devstack import free_port

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work" / "notify"
GOAL_PER_SECOND = 500


class MailNowhere:
    name = "none"

    async def send(self, *args: object) -> object:
        raise AssertionError("the wave is SMS only")

    async def close(self) -> None:
        return None


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def start_fake(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.fake_twilio", "--port", str(port)], cwd=ROOT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_stats", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the fake Twilio API did not start")


async def run_wave(runtime: Runtime, n: int, base: str, memory: list[float]) -> dict[str, float]:
    rules = load_rules()
    now = datetime.now(UTC)
    with runtime.sessions() as session:
        ids = build_wave(session, n, now)
        session.commit()
    memory.append(rss_mb())
    started = time.perf_counter()
    with runtime.sessions() as session:
        for chunk in range(0, n, 2000):
            sync_plans(session, load_shipments(session, ids[chunk:chunk + 2000]), now, rules)
            session.commit()
            session.expunge_all()
    planned_at = time.perf_counter()
    memory.append(rss_mb())
    sms = TwilioSms(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base=base, from_number="+4930901820",
                    timeout=10)
    dispatcher = Dispatcher(runtime.sessions, runtime.settings, rules, sms=sms, email=MailNowhere(), worker="bench")  # type: ignore[arg-type]
    try:
        while True:
            report = await dispatcher.run_once(now)
            memory.append(rss_mb())
            if report["claimed"] == 0:
                break
    finally:
        await sms.close()
    finished = time.perf_counter()
    return {"plan_seconds": planned_at - started, "send_seconds": finished - planned_at,
            "total_seconds": finished - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="profile the run (slower) and print the top functions")
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    url = os.environ.get("DOORSTEP_BENCH_DATABASE_URL") or f"sqlite:///{WORK / 'wave.db'}"
    migrate(url)
    port = free_port()
    fake = start_fake(port)
    settings = Settings(_env_file=None, database_url=url, notify_batch=1000, notify_concurrency=64,  # type: ignore[call-arg]
                        public_base_url="https://track.doorstep.example")
    runtime = Runtime.build(settings)
    memory: list[float] = [rss_mb()]
    profiler = cProfile.Profile() if args.profile else None
    try:
        if profiler:
            profiler.enable()
        timings = asyncio.run(run_wave(runtime, args.shipments, f"http://127.0.0.1:{port}", memory))
        if profiler:
            profiler.disable()
        stats = httpx.get(f"http://127.0.0.1:{port}/_stats").json()
    finally:
        fake.terminate()
        fake.wait(timeout=10)
    with runtime.sessions() as session:
        sent = session.scalar(select(func.count()).where(Notification.status == "sent")) or 0
    rate = args.shipments / timings["total_seconds"]
    result = {
        "shipments": args.shipments, **{k: round(v, 2) for k, v in timings.items()},
        "messages_per_second": round(rate, 1), "goal_messages_per_second": GOAL_PER_SECOND,
        "sent_recorded": sent, "accepted_by_api": stats["accepted"], "unique_at_api": stats["unique"],
        "duplicates": stats["duplicates"], "lost": args.shipments - stats["unique"],
        "rss_mb": {"before": round(memory[0], 1), "after_build": round(memory[1], 1), "after_plan": round(memory[2], 1),
                   "peak": round(max(memory), 1), "end": round(memory[-1], 1)},
        "database": url.split(":")[0], "profiled": bool(profiler),
    }
    print(json.dumps(result, indent=2))
    print(f"\n  {rate:.0f} messages/s end to end (goal >= {GOAL_PER_SECOND}); "
          f"duplicates {stats['duplicates']}, lost {result['lost']}")
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(r"bot/notify/|twilio/http/async|jinja2/environment.py:\d+\(render", 18)
        stats.sort_stats("tottime").print_stats(15)
        print(out.getvalue())
    (BENCH / "notify_results.json").write_text(json.dumps(result, indent=2) + "\n")
    runtime.engine.dispose()


if __name__ == "__main__":
    main()
