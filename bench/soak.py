"""The soak: the whole stack under a steady load for a long time, checked for errors, lost or
duplicated messages and memory growth.

`make soak` (= `.venv/bin/python -m bench.soak`, `SOAK_MINUTES` or `--minutes` to shorten) starts
rasa, actions, web and scheduler with `bot.processes.devstack.Stack` (fresh SQLite database and tracker store,
demo world, the sandbox day on an accelerated clock that plays the whole day during the run), then
keeps 20 conversations going at once, split over SMS (signed Twilio webhooks into Rasa, replies read
from the outbox), web chat (socket.io, as the widget speaks it) and REST. Two waves of
out-for-delivery notifications go out on top, one during the warm-up (the first third of the run)
and one after it. It reports:

- errors: a request refused or failed (HTTP error, 5xx, connection refused, socket.io error);
- lost: a customer message that got no reply, an SMS that never reached its conversation, a
  notification recorded as sent that the outbox never got, a wave parcel without its message;
- duplicated: an SMS processed twice by Rasa, a reply said twice in one turn, a notification in the
  outbox twice (same address and text), two notifications with one provider id;
- memory: each process's resident memory (with its children) after warm-up, in the middle and at the
  end of the conversations.

Writes bench/soak_results.json and prints a table. Exit 0 when every goal is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench import cli
from bench.customers import CHANNELS, Parcel, Tally, converse
from bench.notify_wave import build_wave
from bench.run import rss_mb
from bot.core.clock import sim_now
from bot.core.models import Notification, OutboxMessage, Shipment
from bot.core.runtime import Runtime
from bot.demo.demo_report import demo_report
from bot.processes.devstack import Stack

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work" / "soak"
RESULTS = BENCH / "soak_results.json"
PROCESSES = ("rasa", "actions", "web", "scheduler")
SANDBOX_DAY_SECONDS = 13 * 3600  # 07:30 to the evening: the whole day plays out during the run
MAX_MEMORY_GROWTH_PCT = 10.0
WAVE_AT = (0.05, 0.55)  # the notification waves start at these fractions of the run


# --- Memory -----------------------------------------------------------------------------------------

async def sample_memory(pids: dict[str, int], samples: list[dict[str, float]], started: float,
                        every: float, until: float) -> None:
    """RSS of each process (with its children) every `every` seconds while the conversations run."""
    while time.monotonic() < until:
        samples.append({"t": round(time.monotonic() - started, 1)}
                       | {name: round(rss_mb(pid), 1) for name, pid in pids.items()})
        await asyncio.sleep(every)


def memory_growth(samples: list[dict[str, float]], warmup_s: float, window_s: float) -> dict[str, dict[str, float]]:
    """Per process: the mean RSS over a window just after warm-up, at the middle and at the end, the
    peak, and the growth from after warm-up (and from the middle: a step once, or a steady climb?)."""
    end_t = samples[-1]["t"]

    def around(t: float) -> list[dict[str, float]]:
        return [s for s in samples if t <= s["t"] < t + window_s] or samples[-1:]

    after_warmup, middle = around(warmup_s), around((warmup_s + end_t - window_s) / 2)
    at_end = [s for s in samples if s["t"] >= end_t - window_s] or samples[-1:]
    report = {}
    for name in PROCESSES:
        base, mid, last = (statistics.fmean(s[name] for s in window) for window in (after_warmup, middle, at_end))
        report[name] = {"start_mb": samples[0][name], "after_warmup_mb": round(base, 1), "middle_mb": round(mid, 1),
                        "end_mb": round(last, 1), "peak_mb": max(s[name] for s in samples),
                        "growth_pct": round(100 * (last - base) / base, 1),
                        "growth_second_half_pct": round(100 * (last - mid) / mid, 1)}
    return report


# --- The notification wave and the outbox checks --------------------------------------------------

def start_wave(runtime: Runtime, size: int) -> list[int]:
    with runtime.sessions() as session:
        ids = build_wave(session, size, sim_now(session), first_phone=4916000000000)
        session.commit()
    return ids


def wave_sent(runtime: Runtime, ids: list[int]) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(Notification).where(
            Notification.shipment_id.in_(ids), Notification.trigger == "out_for_delivery",
            Notification.sent_at.is_not(None))) or 0


async def wait_for_wave(runtime: Runtime, ids: list[int], timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await asyncio.to_thread(wave_sent, runtime, ids) >= len(ids):
            return time.monotonic() - started
        await asyncio.sleep(2)
    return None


def notification_check(runtime: Runtime, wave_ids: list[int]) -> dict[str, Any]:
    """Every notification recorded as sent is in the outbox exactly once; none sent twice."""
    with runtime.sessions() as session:
        sent = session.execute(select(Notification.to_address, Notification.body, Notification.provider_id,
                                      Notification.shipment_id, Notification.trigger)
                               .where(Notification.sent_at.is_not(None))).all()
        in_flight = session.scalar(select(func.count()).select_from(Notification)
                                   .where(Notification.status == "sending")) or 0
        outbox = Counter(session.execute(select(OutboxMessage.to_address, OutboxMessage.body)
                                         .where(OutboxMessage.direction == "outbound")).all())
        wave_numbers = set(session.scalars(select(Shipment.id).where(Shipment.id.in_(wave_ids))))
    by_provider_id = Counter(row.provider_id for row in sent if row.provider_id)
    twice = [(row.to_address, row.body[:60]) for row in sent if outbox[(row.to_address, row.body)] > 1]
    missing = [(row.to_address, row.body[:60]) for row in sent if outbox[(row.to_address, row.body)] == 0]
    wave_done = {row.shipment_id for row in sent if row.shipment_id in wave_numbers and row.trigger == "out_for_delivery"}
    return {
        "sent": len(sent), "sending_at_end": in_flight,
        "duplicated_in_outbox": len(twice), "missing_from_outbox": len(missing),
        "provider_id_twice": sum(n - 1 for n in by_provider_id.values() if n > 1),
        "wave_size": len(wave_ids), "wave_sent": len(wave_done), "wave_lost": len(wave_numbers - wave_done),
        "by_trigger": dict(Counter(row.trigger for row in sent)),
        "examples": (twice + missing)[:5],
    }


def settle(runtime: Runtime, timeout: float) -> None:
    """Let the scheduler finish what it is sending, so the count is a still picture."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.sessions() as session:
            if not session.scalar(select(func.count()).select_from(Notification)
                                  .where(Notification.status == "sending")):
                return
        time.sleep(1)


# --- The run ----------------------------------------------------------------------------------------

def demo_parcels(runtime: Runtime) -> list[Parcel]:
    with runtime.sessions() as session:
        shipments = demo_report(session, runtime.clock.now())["shipments"]
    return [Parcel(s["tracking_number"], s["postcode"]) for s in shipments if s["eta_start"]]


async def soak(stack: Stack, runtime: Runtime, args: argparse.Namespace) -> dict[str, Any]:
    seconds = args.minutes * 60
    warmup = seconds / 3
    tally = Tally()
    samples: list[dict[str, float]] = []
    started = time.monotonic()
    pids = {name: stack.pid(name) for name in PROCESSES}
    sampler = asyncio.create_task(sample_memory(pids, samples, started, every=min(15.0, seconds / 40),
                                                 until=started + seconds))
    load = asyncio.create_task(converse(runtime, demo_parcels(runtime), tally, seconds, args.concurrency, args.think))
    waves: list[dict[str, Any]] = []
    wave_ids: list[int] = []
    # Two waves: the first inside the warm-up, the second after it. Memory that a wave takes once
    # (caches, the allocator's high-water mark) is warm-up; memory that each wave adds is growth.
    for at in (WAVE_AT if args.wave else ()):
        await asyncio.sleep(max(0.0, started + at * seconds - time.monotonic()))
        print(f"    {datetime.now(UTC):%H:%M:%S} notification wave: {args.wave} parcels out for delivery", flush=True)
        ids = await asyncio.to_thread(start_wave, runtime, args.wave)
        wave_ids += ids
        # Sent during the conversations or after them (late, not lost); not out 10 minutes after
        # the load ended: lost.
        took = await wait_for_wave(runtime, ids, timeout=started + seconds + 600 - time.monotonic())
        waves.append({"size": args.wave, "started_at_s": round(at * seconds), "seconds_to_send":
                      round(took, 1) if took is not None else None})
        print(f"    {datetime.now(UTC):%H:%M:%S} wave sent in {waves[-1]['seconds_to_send']} s", flush=True)
    await load
    await sampler
    await asyncio.to_thread(settle, runtime, 60)
    notifications = await asyncio.to_thread(notification_check, runtime, wave_ids)
    with runtime.sessions() as session:
        sim_end = sim_now(session).isoformat(timespec="minutes")
    memory = memory_growth(samples, warmup, window_s=max(60.0, seconds * 0.1))
    return {"tally": tally, "notifications": notifications, "waves": waves, "memory": memory,
            "samples": samples, "warmup_s": warmup, "sim_end": sim_end,
            "elapsed_s": round(time.monotonic() - started, 1)}


def summarise(run: dict[str, Any], args: argparse.Namespace, load_before: float) -> dict[str, Any]:
    tally: Tally = run["tally"]
    notes = run["notifications"]
    errors = sum(tally.errors.values())
    lost = sum(tally.lost.values()) + notes["missing_from_outbox"] + notes["wave_lost"]
    duplicated = sum(tally.duplicated.values()) + notes["duplicated_in_outbox"] + notes["provider_id_twice"]
    growth = {name: m["growth_pct"] for name, m in run["memory"].items()}
    channels = {
        channel: {"conversations": tally.conversations[channel], "turns": tally.turns[channel],
                  "errors": tally.errors[channel], "lost": tally.lost[channel],
                  "duplicated": tally.duplicated[channel], "unexpected": tally.unexpected[channel],
                  "p50_s": round(statistics.median(tally.latencies[channel]), 2) if tally.latencies.get(channel) else None,
                  "p95_s": round(statistics.quantiles(tally.latencies[channel], n=20)[-1], 2)
                  if len(tally.latencies.get(channel, [])) > 1 else None}
        for channel in CHANNELS
    }
    goals = [
        {"goal": "errors = 0", "value": errors, "pass": errors == 0},
        {"goal": "lost messages = 0", "value": lost, "pass": lost == 0},
        {"goal": "duplicated messages = 0", "value": duplicated, "pass": duplicated == 0},
        *({"goal": f"{name} memory growth after warm-up < {MAX_MEMORY_GROWTH_PCT:g}%", "value": pct,
           "pass": pct < MAX_MEMORY_GROWTH_PCT} for name, pct in growth.items()),
    ]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "load_average_1m_before": round(load_before, 2),
                    "load_average_1m_after": round(os.getloadavg()[0], 2)},
        "settings": {"minutes": args.minutes, "concurrency": args.concurrency, "think_s": args.think,
                     "wave": args.wave, "sandbox_speed": args.sandbox_speed, "warmup_s": run["warmup_s"]},
        "elapsed_s": run["elapsed_s"], "sandbox_clock_at_end": run["sim_end"],
        "errors": errors, "lost": lost, "duplicated": duplicated,
        "unexpected_replies": sum(tally.unexpected.values()),
        "channels": channels, "notifications": notes, "waves": run["waves"], "memory": run["memory"],
        "goals": goals, "examples": tally.examples, "memory_samples": run["samples"],
    }


def print_table(result: dict[str, Any]) -> None:
    head = f"{'channel':<8} {'convs':>6} {'turns':>6} {'errors':>6} {'lost':>5} {'dup':>4} {'unexp':>5} {'p50 s':>6} {'p95 s':>6}"
    print("\n" + head + "\n" + "-" * len(head))
    for channel, c in result["channels"].items():
        print(f"{channel:<8} {c['conversations']:>6} {c['turns']:>6} {c['errors']:>6} {c['lost']:>5} "
              f"{c['duplicated']:>4} {c['unexpected']:>5} {c['p50_s'] or 0:>6.2f} {c['p95_s'] or 0:>6.2f}")
    n = result["notifications"]
    print(f"\nnotifications sent {n['sent']} ({n['by_trigger']}); in the outbox twice {n['duplicated_in_outbox']}, "
          f"missing {n['missing_from_outbox']}; waves {n['wave_sent']}/{n['wave_size']} sent, in "
          f"{', '.join(str(w['seconds_to_send']) for w in result['waves'])} s")
    head = (f"{'process':<10} {'start MB':>9} {'warm MB':>8} {'mid MB':>7} {'end MB':>7} {'peak MB':>8} {'growth':>7} "
            f"{'2nd half':>8}")
    print("\n" + head + "\n" + "-" * len(head))
    for name, m in result["memory"].items():
        print(f"{name:<10} {m['start_mb']:>9.0f} {m['after_warmup_mb']:>8.0f} {m['middle_mb']:>7.0f} "
              f"{m['end_mb']:>7.0f} {m['peak_mb']:>8.0f} {m['growth_pct']:>6.1f}% {m['growth_second_half_pct']:>7.1f}%")
    print()
    for example in result["examples"][:10]:
        print(f"  {example}")
    for goal in result["goals"]:
        print(f"{'PASS' if goal['pass'] else 'MISS'}  {goal['goal']}: {goal['value']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES") or 30))
    parser.add_argument("--concurrency", type=int, default=20, help="conversations at once")
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds a customer takes to answer")
    parser.add_argument("--wave", type=int, default=1000, help="parcels in each notification wave (0: none)")
    args = parser.parse_args(argv)
    args.sandbox_speed = round(max(30.0, SANDBOX_DAY_SECONDS / (args.minutes * 60)), 1)
    load_before = os.getloadavg()[0]
    shutil.rmtree(WORK, ignore_errors=True)
    stack = Stack(WORK, processes=PROCESSES, extra_env={"SANDBOX_SPEED": str(args.sandbox_speed),
                                                        "NOTIFY_TICK_SECONDS": "1"})
    print(f"==> soak: {args.minutes:g} min, {args.concurrency} conversations over {', '.join(CHANNELS)}, "
          f"sandbox day at {args.sandbox_speed:g}x, two waves of {args.wave}; load average {load_before:.2f}",
          flush=True)
    try:
        stack.start()
        runtime = Runtime.build(stack.settings)
        try:
            run = asyncio.run(soak(stack, runtime, args))
        finally:
            runtime.engine.dispose()
    finally:
        stack.stop()
    result = summarise(run, args, load_before)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(f"\nwrote {RESULTS.relative_to(BENCH.parent)}; logs in {WORK.relative_to(BENCH.parent)}")
    return 0 if all(goal["pass"] for goal in result["goals"]) else 1


if __name__ == "__main__":
    cli.run(main)
