"""The scale-out benchmark (issue 17), on the machine's PostgreSQL and RabbitMQ:

1. planning cost per change with 10k, 100k (and, with --sizes, 1M) shipments in flight, loaded with
   COPY: a change committed (its planning request written by the flush hook), then the planning
   worker's batch for it; beside it, the old full sweep (`plan_all`) where it is affordable;
2. dispatch messages/s with 1 and 2 Celery workers to the fake Twilio API (rate limit off).

    .venv/bin/python -m bench.scale [--sizes 10000,100000,1000000] [--changes 300] [--wave 10000]
                                    [--workers 1,2,4] [--only planning|dispatch]

Writes bench/scale_results.json. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from kombu import Connection
from sqlalchemy import create_engine, func, select, text

from bench.notify_wave import build_wave
from bot.core.models import Notification, PlanningRequest, Shipment
from bot.core.runtime import Runtime
from bot.core.schema import migrate
from bot.core.settings import ROOT, Settings
from bot.notify.planner import load_shipments, sync_plans
from bot.notify.planning import plan_requested
from bot.notify.replan import request_replan
from bot.notify.rules import Rules, load_rules
from bot.notify.service import plan_all
from bot.processes.devstack import free_port

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work" / "scale"
POSTGRES = os.environ.get("DOORSTEP_BENCH_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
RABBITMQ = os.environ.get("DOORSTEP_BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # 08:00 in Berlin: parcels at the depot, due today
NULL = "\\N"  # COPY's NULL


def cpu_reference_seconds() -> float:
    """Seconds one core takes for a fixed pure-Python loop (best of three): machines of the same kind
    ("2 cores") differ, and so do hosts' neighbours, so each figure carries the speed it was taken at."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        sum(i * i % 7 for i in range(2_000_000))
        best = min(best, time.perf_counter() - began)
    return round(best, 3)


@contextmanager
def schema() -> Iterator[str]:
    """A fresh, migrated schema on the bench PostgreSQL; dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    sep = "&" if "?" in POSTGRES else "?"
    url = f"{POSTGRES}{sep}options=-csearch_path%3D{name}"
    try:
        migrate(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


BERLIN = ZoneInfo("Europe/Berlin")


def _day_before(i: int, promised: datetime, due: datetime, status: str) -> str:
    """Parcel i's evening-before SMS (as the planner keys it): sent last evening, or planned for tonight."""
    local = promised.astimezone(BERLIN)
    key = f"{i}:day_before:{local.date().isoformat()}:{local.strftime('%H%M')}:sms"
    sent = status == "delivered"
    return (f"{i}\t{i}\tday_before\tsms\tday_before\t{('en', 'de', 'nl')[i % 3]}\t+49170{i:08d}\t"
            f"{'Your parcel arrives tomorrow.' if sent else ''}\t{key}\t{'twilio' if sent else NULL}\t"
            f"{f'SM{i:032x}' if sent else NULL}\t{status}\t{1 if sent else 0}\t{_stamp(due)}\t"
            f"{_stamp(due) if sent else NULL}\t{_stamp(due - timedelta(hours=12))}\t{{}}\t"
            f"{_stamp(due) if sent else NULL}\n")


def copy_in_flight(runtime: Runtime, start: int, count: int) -> None:
    """`count` customers, each with a parcel at the depot (ids from `start`), with COPY: three in five due
    today (their evening-before SMS delivered last evening), two in five tomorrow (it is planned for
    tonight), so the messages table grows with the parcels in flight as it does in service."""
    rows_c, rows_s, rows_n = io.StringIO(), io.StringIO(), io.StringIO()
    evening = datetime.combine(NOW.astimezone(BERLIN).date(), time_of_day(18), BERLIN)
    for i in range(start, start + count):
        tomorrow = i % 5 >= 3
        promised = NOW + timedelta(hours=2 + i % 8, days=1 if tomorrow else 0)
        rows_c.write(f"{i}\tScale Customer {i}\t+49170{i:08d}\tscale{i}@example.com\t{('en', 'de', 'nl')[i % 3]}\t"
                     f"Europe/Berlin\t[\"sms\"]\t0\t0\t{_stamp(NOW)}\n")
        rows_s.write(f"{i}\tSC{i:012d}\tsandbox\tO{i}\t{i}\tat_depot\t{_stamp(NOW - timedelta(hours=1))}\t"
                     f"{_stamp(promised)}\t{_stamp(promised + timedelta(hours=2))}\t{_stamp(promised)}\t"
                     f"{_stamp(promised + timedelta(hours=1))}\tScalestraße {i % 300 + 1}\t10115\tBerlin\t52.52\t13.40\t"
                     f"[]\t{_stamp(NOW)}\t{_stamp(NOW)}\n")
        rows_n.write(_day_before(i, promised, evening if tomorrow else evening - timedelta(days=1),
                                 "planned" if tomorrow else "delivered"))
    raw = runtime.engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy("COPY customers (id, name, phone, email, locale, time_zone, preferred_channels, "
                         "quiet_hours_start, quiet_hours_end, created_at) FROM STDIN") as copy:
            copy.write(rows_c.getvalue())
        with cursor.copy("COPY shipments (id, tracking_number, carrier, order_reference, customer_id, status, "
                         "status_at, promised_start, promised_end, eta_start, eta_end, address_line, postcode, city, "
                         "lat, lng, items, created_at, updated_at) FROM STDIN") as copy:
            copy.write(rows_s.getvalue())
        with cursor.copy("COPY notifications (customer_id, shipment_id, trigger, channel, template, locale, "
                         "to_address, body, dedupe_key, provider, provider_id, status, attempts, due_at, sent_at, "
                         "created_at, context, delivered_at) FROM STDIN") as copy:
            copy.write(rows_n.getvalue())
        raw.commit()
        cursor.execute("ANALYZE customers; ANALYZE shipments; ANALYZE notifications")
        raw.commit()
    finally:
        raw.close()


ROUNDS = 3  # rounds of changes at each size; the median round is reported (other work shares the machine)


def _change_round(runtime: Runtime, rules: Rules, picked: list[int]) -> tuple[float, float, int]:
    """Commit an ETA slip of each parcel one by one (each with its request), then plan them: (commit ms
    per change, planning ms per change, messages planned)."""
    started = time.perf_counter()
    for shipment_id in picked:
        with runtime.sessions() as session:
            shipment = session.get(Shipment, shipment_id)
            assert shipment is not None and shipment.eta_end is not None
            shipment.eta_end = shipment.eta_end + timedelta(minutes=45)  # the ETA engine moves the window
            session.commit()
    changed = time.perf_counter()
    planned = plan_requested(runtime.sessions, NOW, rules)
    finished = time.perf_counter()
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PlanningRequest)) == 0
    return (changed - started) / len(picked) * 1000, (finished - changed) / len(picked) * 1000, planned


def planning_cost(runtime: Runtime, in_flight: int, changes: int, rounds: int = ROUNDS) -> dict[str, object]:
    """`rounds` rounds of `changes` changes committed one by one then planned (distinct parcels), and
    single change→plan round trips. Milliseconds per change; the median round is the figure."""
    rules = load_rules()
    rng = random.Random(in_flight)
    picked = rng.sample(range(1, in_flight + 1), changes * rounds)
    measured = [_change_round(runtime, rules, picked[r * changes:(r + 1) * changes]) for r in range(rounds)]
    singles = []
    for shipment_id in rng.sample(range(1, in_flight + 1), 50):
        begin = time.perf_counter()
        with runtime.sessions() as session:
            shipment = session.get(Shipment, shipment_id)
            assert shipment is not None and shipment.eta_end is not None
            shipment.eta_end = shipment.eta_end + timedelta(minutes=25)
            session.commit()
        plan_requested(runtime.sessions, NOW, rules)
        singles.append(time.perf_counter() - begin)
    return {"changes": changes, "rounds": rounds, "messages_planned": sum(m[2] for m in measured),
            "change_commit_ms": round(statistics.median(m[0] for m in measured), 2),
            "plan_ms_per_change": round(statistics.median(m[1] for m in measured), 2),
            "total_ms_per_change": round(statistics.median(m[0] + m[1] for m in measured), 2),
            "rounds_commit_ms": [round(m[0], 2) for m in measured],
            "rounds_plan_ms": [round(m[1], 2) for m in measured],
            "single_change_to_plan_ms_median": round(statistics.median(singles) * 1000, 2),
            "single_change_to_plan_ms_p95": round(sorted(singles)[int(len(singles) * 0.95) - 1] * 1000, 2)}


def sweep_seconds(runtime: Runtime) -> float:
    """One pass of the old per-tick sweep over every parcel in flight."""
    started = time.perf_counter()
    plan_all(runtime, NOW, load_rules())
    return round(time.perf_counter() - started, 2)


def bench_planning(sizes: list[int], changes: int, sweep_up_to: int) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    with schema() as url:
        runtime = Runtime.build(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
        loaded = 0
        for size in sorted(sizes):
            began = time.perf_counter()
            for start in range(loaded + 1, size + 1, 100_000):
                copy_in_flight(runtime, start, min(100_000, size + 1 - start))
            load_seconds = round(time.perf_counter() - began, 1)
            loaded = size
            row: dict[str, object] = {"in_flight": size, "copy_seconds": load_seconds,
                                      "cpu_reference_seconds": cpu_reference_seconds(),
                                      "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                      "load_average": round(os.getloadavg()[0], 2),
                                      **planning_cost(runtime, size, changes)}
            if size <= sweep_up_to:
                row["old_sweep_seconds_per_tick"] = sweep_seconds(runtime)
            print(json.dumps(row), flush=True)
            results.append(row)
        runtime.engine.dispose()
    return results


def worker(env: dict[str, str], prefix: str, name: str, log: Path) -> subprocess.Popen[bytes]:
    queues = ",".join(f"{prefix}.{q}" for q in ("essential", "dispatch", "planning", "recording"))
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "celery", "-A", "bot.workers.app", "worker", "-Q", queues,
                                 "-c", "1", "-n", f"{name}@%h", "--loglevel", "INFO", "--without-gossip",
                                 "--without-mingle"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_for_fake(base: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/_stats", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the fake Twilio API did not start")


def event_to_message(runtime: Runtime, samples: int) -> list[float]:
    """Seconds from one parcel's change (out for delivery, its planning request committed) to its SMS
    recorded sent, one parcel at a time, with the workers and the beat running as in production."""
    seconds: list[float] = []
    for _ in range(samples):
        with runtime.sessions() as session:
            [shipment_id] = build_wave(session, 1, datetime.now(UTC), first_phone=4918000000000)
            request_replan(session, shipment_id, "out for delivery")
            session.commit()
        begin = time.perf_counter()
        while time.perf_counter() - begin < 30:
            with runtime.sessions() as session:
                if session.scalar(select(func.count()).where(Notification.shipment_id == shipment_id,
                                                             Notification.status == "sent")):
                    seconds.append(time.perf_counter() - begin)
                    break
            time.sleep(0.01)
    return seconds


def bench_dispatch(workers: int, wave: int, event_samples: int = 30) -> dict[str, object]:
    """A morning wave of `wave` planned SMS, sent by `workers` Celery workers to the fake Twilio API, the
    scheduler enqueueing their tasks; timed from the scheduler leading to the last message sent."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    fake = subprocess.Popen([sys.executable, "-m", "bench.fake_twilio", "--port", str(port), "--prefix",
                             "/outbox/twilio", "--account-sid", defaults.outbox_account_sid, "--auth-token",
                             defaults.outbox_auth_token], cwd=ROOT)
    started: list[subprocess.Popen[bytes]] = []
    try:
        wait_for_fake(base)
        with schema() as url:
            settings = Settings(_env_file=None, database_url=url, celery_broker_url=RABBITMQ,  # type: ignore[call-arg]
                                celery_queue_prefix=prefix)
            runtime = Runtime.build(settings)
            now = datetime.now(UTC)
            with runtime.sessions() as session:
                ids = build_wave(session, wave, now)
                session.commit()
                for chunk in range(0, wave, 2000):
                    sync_plans(session, load_shipments(session, ids[chunk:chunk + 2000]), now, load_rules())
                    session.commit()
                    session.expunge_all()
            env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": RABBITMQ, "CELERY_QUEUE_PREFIX": prefix,
                   "WEB_INTERNAL_URL": base, "PUBLIC_BASE_URL": "https://track.doorstep.example",
                   "RASA_URL": "http://127.0.0.1:9", "NOTIFY_BATCH": "1000", "NOTIFY_CONCURRENCY": "64",
                   "SMS_PER_SECOND": "0", "NOTIFY_TICK_SECONDS": "0.5", "SANDBOX_TICK_SECONDS": "3600",
                   "NOTIFY_CLAIM_LEASE_SECONDS": "5"}
            WORK.mkdir(parents=True, exist_ok=True)
            logs = [WORK / f"{prefix}-w{i}.log" for i in range(workers)]
            started = [worker(env, prefix, f"w{i}", logs[i]) for i in range(workers)]
            deadline = time.monotonic() + 120
            while not all("ready." in log.read_text(errors="replace") for log in logs if log.exists()) \
                    or not all(log.exists() for log in logs):
                if time.monotonic() > deadline:
                    raise SystemExit("the workers did not start")
                time.sleep(0.2)
            beat_log = WORK / f"{prefix}-scheduler.log"
            with beat_log.open("ab") as out:  # the scheduler is the beat: a dispatch task per tick
                started.append(subprocess.Popen([sys.executable, "-m", "bot", "scheduler"], cwd=ROOT, env=env,
                                                stdout=out, stderr=subprocess.STDOUT))
            while "leading" not in beat_log.read_text(errors="replace"):
                if time.monotonic() > deadline:
                    raise SystemExit("the scheduler did not start")
                time.sleep(0.1)
            begin = time.perf_counter()
            sent = 0
            while sent < wave and time.perf_counter() - begin < 600:
                time.sleep(0.2)
                with runtime.sessions() as session:
                    sent = session.scalar(select(func.count()).where(Notification.status == "sent")) or 0
            seconds = time.perf_counter() - begin
            stats = httpx.get(f"{base}/_stats", timeout=30).json()
            latency = sorted(event_to_message(runtime, event_samples))
            runtime.engine.dispose()
        return {"workers": workers, "wave": wave, "sent": sent, "seconds": round(seconds, 2),
                "messages_per_second": round(sent / seconds, 1), "accepted_by_api": stats["accepted"],
                "duplicates": stats["duplicates"], "lost": wave - stats["unique"],
                "event_to_message_samples": len(latency), "event_to_message_lost": event_samples - len(latency),
                "event_to_message_ms_p50": round(1000 * statistics.median(latency)) if latency else None,
                "event_to_message_ms_p95": round(1000 * statistics.quantiles(latency, n=20)[18])
                if len(latency) >= 2 else None}
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a worker still retrying against the dropped schema
                process.kill()
                process.wait()
        fake.terminate()
        fake.wait(timeout=10)
        with Connection(RABBITMQ) as connection:
            channel = connection.channel()
            for name in ("essential", "dispatch", "planning", "recording"):
                channel.queue_delete(queue=f"{prefix}.{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="parcels in flight (comma-separated)")
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--wave", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--event-samples", type=int, default=30, help="single changes timed to their SMS out")
    parser.add_argument("--sweep-up-to", type=int, default=10_000,
                        help="time the old per-tick sweep up to this many in flight (100k on PostgreSQL: minutes)")
    parser.add_argument("--only", choices=("planning", "dispatch"),
                        help="run one part; the other part's figures in scale_results.json are kept")
    args = parser.parse_args()
    started = datetime.now(UTC)
    results_file = BENCH / "scale_results.json"
    result = json.loads(results_file.read_text()) if args.only and results_file.exists() else {}
    result.update({"machine": f"{os.cpu_count()} cores", "database": "postgresql", "broker": "rabbitmq"})
    if args.only != "dispatch":
        result["planning_per_change"] = bench_planning([int(s) for s in args.sizes.split(",")], args.changes,
                                                       args.sweep_up_to)
        result.update({"measured_at": started.isoformat(timespec="seconds"),
                       "load_average_before": os.getloadavg()[0]})
    if args.only != "planning":
        load = os.getloadavg()[0]
        dispatch: list[dict[str, object]] = []
        for workers in args.workers.split(","):
            before, reference = round(os.getloadavg()[0], 2), cpu_reference_seconds()
            dispatch.append({**bench_dispatch(int(workers), args.wave, args.event_samples),
                             "load_average_before": before, "cpu_reference_seconds": reference})
            print(json.dumps(dispatch[-1]), flush=True)
        result["dispatch"] = dispatch
        result["dispatch_measured_at"] = started.isoformat(timespec="seconds")
        result["dispatch_load_average_before"] = round(load, 2)
    results_file.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {BENCH / 'scale_results.json'}")


if __name__ == "__main__":
    main()
