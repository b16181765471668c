"""Conversation throughput and latency of our bot against a stock `rasa init` bot, in one run.

`make bench` (or `.venv/bin/python -m bench.run [--duration S] [--warmup S] [--concurrency 1 20]`) starts
both bots for real, then measures them level by level one right after the other (so a change in the
machine's speed hits both alike): N concurrent senders talk to a bot over the REST channel for a fixed time, checks
every reply for an expected substring, samples the Rasa server's RSS, prints a table with the ratios
ours/stock and the goals, and writes bench/results.json. It exits 0 whatever the figures, 1 if a bot
could not be started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import cli
from bot.core.runtime import Runtime
from bot.core.settings import ROOT
from bot.demo.demo_report import demo_report
from bot.processes.devstack import Stack, free_port
from bot.processes.model_files import model_path

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work"
STOCK_DIR = WORK / "stock"
RESULTS = BENCH / "results.json"
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_ENV = {"SQLALCHEMY_SILENCE_UBER_WARNING": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"}

# Goals from the issue.
MIN_SPEEDUP = 1.5  # ours / stock, turns per second
MAX_P95_MS = 300.0  # at the highest concurrency
MAX_RSS_MB = 800.0  # 0.8 GB (10^9 bytes), the Rasa server and its children


# --- Conversations: scripted turns, each with a substring the reply must contain -------------------

@dataclass(frozen=True)
class Turn:
    text: str
    expect: str
    # Another reply that is right too: under load a window can fill up between the offer and the
    # "yes" (its capacity is shared by every parcel), and the bot rightly says so and changes nothing.
    or_else: str | None = None

    def answered_by(self, reply: str) -> bool:
        return self.expect in reply or (self.or_else is not None and self.or_else in reply)


Script = list[Turn]


@dataclass(frozen=True)
class Parcel:
    tracking_number: str
    postcode: str


def track_parcel(parcel: Parcel) -> Script:
    """Web chat: ask where the parcel is, prove it's yours, get the status with its ETA."""
    return [
        Turn("hi", "Doorstep"),
        Turn("where is my parcel", "tracking number"),
        Turn(parcel.tracking_number, "postcode"),
        Turn(parcel.postcode, f"Parcel {parcel.tracking_number[-4:]}"),
    ]


def reschedule_parcel(parcel: Parcel) -> Script:
    """Move the delivery: verify, pick the second window offered, confirm, done (repeatable)."""
    return [
        Turn("can you deliver it another day", "tracking number"),
        Turn(parcel.tracking_number, "postcode"),
        Turn(parcel.postcode, "When should parcel"),
        Turn("2", "Move parcel"),
        Turn("yes", "Done", or_else="no longer available. Nothing was changed."),
    ]


def locker_parcel(parcel: Parcel) -> Script:
    """Send it to a locker: verify, pick one, then decline at the confirmation (keeps it repeatable)."""
    return [
        Turn("i'd rather pick it up from a locker", "tracking number"),
        Turn(parcel.tracking_number, "postcode"),
        Turn(parcel.postcode, "Which locker?"),
        Turn("1", "YES or NO"),
        Turn("no", "left it as it was"),
    ]


def track_parcel_de(parcel: Parcel) -> Script:
    """The tracking conversation in German: the first message sets the language of every reply."""
    return [
        Turn("Hallo, wo ist mein Paket bitte?", "Sendungsnummer"),
        Turn(parcel.tracking_number, "Postleitzahl"),
        Turn(parcel.postcode, f"Paket {parcel.tracking_number[-4:]}"),
    ]


def locker_parcel_nl(parcel: Parcel) -> Script:
    """Send it to a locker, in Dutch: verify, pick one, then say no at the confirmation (repeatable)."""
    return [
        Turn("kan het pakket naar een pakketkluis", "trackingnummer"),
        Turn(parcel.tracking_number, "postcode"),
        Turn(parcel.postcode, "Welke pakketkluis?"),
        Turn("1", "JA of NEE"),
        Turn("nee", "gelaten zoals het was"),
    ]


# Each takes a demo parcel and returns its turns; conversations cycle through parcels x scripts.
OUR_SCRIPTS: list[Callable[[Parcel], Script]] = [track_parcel, reschedule_parcel, locker_parcel, track_parcel_de,
                                                 locker_parcel_nl]

# The moodbot's sad path, which its stories support end to end (4 turns, like ours).
STOCK_SCRIPTS: list[Script] = [
    [
        Turn("hi", "How are you"),
        Turn("i am sad", "cheer you up"),
        Turn("yes", "carry on"),
        Turn("bye", "Bye"),
    ],
]


def our_conversations(parcels: list[Parcel], sender: int = 0, senders: int = 1) -> Iterator[Script]:
    """Sender `sender` of `senders` talks about its own share of the parcels, so no parcel is in two
    conversations at once (two people moving one delivery at the same moment is not a load pattern;
    the loser would rightly hear "that window is no longer available")."""
    own = parcels[sender::senders] or parcels
    for parcel, script in itertools.cycle(itertools.product(own, OUR_SCRIPTS)):
        yield script(parcel)


# --- The two bots -----------------------------------------------------------------------------------

ON_ITS_WAY = ("at_depot", "in_transit")  # changeable: the bench stack runs no scheduler, so they stay so


class StartFailed(Exception):
    pass


class Bot:
    """A running bot: where to post, which pid to watch, what to say to it."""

    name: str
    url: str
    pid: int  # the Rasa server
    others: dict[str, int]  # other processes serving conversations, for their CPU time
    model: str
    notes: str

    def conversations(self, sender: int, senders: int) -> Iterator[Script]:
        """The scripts sender number `sender` of `senders` runs, back to back."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class OurBot(Bot):
    name = "ours"
    notes = "rasa + actions via bot.processes.devstack (SQLite tracker store, action server); web not needed for REST"

    def __init__(self) -> None:
        model = model_path()
        if not model.exists():
            raise StartFailed(f"no trained model at {model.relative_to(ROOT)}: run `make model`")
        self.model = model.name
        shutil.rmtree(WORK / "ours", ignore_errors=True)  # a fresh database and tracker store each run
        self.stack = Stack(WORK / "ours", processes=("rasa", "actions"))
        try:
            try:
                self.stack.start()
            except Exception as exc:
                raise StartFailed(f"our stack did not start: {exc}") from exc
            self.url = self.stack.settings.rasa_url
            self.pid = self.stack.pid("rasa")  # the launcher execs rasa: this is the Rasa server
            self.others = {"actions": self.stack.pid("actions")}
            self.model = server_model(self.url, self.stack.settings.rasa_token) or self.model
            self.parcels = self._parcels()
        except BaseException:  # Ctrl-C too: stop what was started
            self.stack.stop()
            raise

    def _parcels(self) -> list[Parcel]:
        runtime = Runtime.build(self.stack.settings)
        try:
            with runtime.sessions() as session:
                shipments = demo_report(session, runtime.clock.now())["shipments"]
        finally:
            runtime.engine.dispose()
        parcels = [Parcel(s["tracking_number"], s["postcode"]) for s in shipments
                   if s["status"] in ON_ITS_WAY and s["eta_start"]]
        if not parcels:
            raise StartFailed("the demo world has no parcel on its way")
        return parcels

    def conversations(self, sender: int, senders: int) -> Iterator[Script]:
        return our_conversations(self.parcels, sender, senders)

    def stop(self) -> None:
        self.stack.stop()


class StockBot(Bot):
    name = "stock"
    notes = "`rasa init` moodbot: default pipeline/policies (DIET, TED), in-memory tracker store, no action server"

    def __init__(self) -> None:
        model = self._model()
        self.model = model.name
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(WORK / "stock.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(RASA_BIN), "run", "--enable-api", "-m", str(model), "--port", str(port)],
            cwd=STOCK_DIR, env={**os.environ, **RASA_ENV}, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.proc.pid
        self.others = {}
        try:
            self._wait_ready(timeout=180)
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def _model() -> Path:
        models = sorted((STOCK_DIR / "models").glob("*.tar.gz"))
        if models:
            return models[-1]
        print("==> creating the stock bot (rasa init, trains once, ~1 min)", flush=True)
        STOCK_DIR.mkdir(parents=True, exist_ok=True)
        log = WORK / "stock-init.log"
        with open(log, "wb") as out:
            done = subprocess.run([str(RASA_BIN), "init", "--no-prompt", "--init-dir", str(STOCK_DIR)], cwd=WORK,
                                  env={**os.environ, **RASA_ENV}, stdout=out, stderr=subprocess.STDOUT)
        models = sorted((STOCK_DIR / "models").glob("*.tar.gz"))
        if done.returncode != 0 or not models:
            raise StartFailed(f"rasa init failed ({done.returncode}), see {log}")
        return models[-1]

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StartFailed(f"stock rasa exited ({self.proc.returncode}), see {WORK / 'stock.log'}")
            with contextlib.suppress(httpx.HTTPError):
                status = httpx.get(f"{self.url}/status", timeout=2)
                if status.status_code == 200 and status.json().get("model_file"):
                    return
            time.sleep(0.3)
        raise StartFailed(f"stock rasa not ready after {timeout}s")

    def conversations(self, sender: int, senders: int) -> Iterator[Script]:
        return itertools.cycle(STOCK_SCRIPTS)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def server_model(url: str, token: str | None = None) -> str | None:
    """The model file the running server loaded."""
    with contextlib.suppress(httpx.HTTPError, ValueError):
        status = httpx.get(f"{url}/status", params={"token": token} if token else None, timeout=5)
        return Path(str(status.json()["model_file"])).name
    return None


# --- Memory and CPU -------------------------------------------------------------------------------

def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(child) for child in (task / "children").read_text().split()]
    return pids


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (10^6 bytes)."""
    total_kib = 0
    for each in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
    return total_kib * 1024 / 1e6


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far."""
    ticks = 0
    for each in process_tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


async def sample_rss(pid: int, peak: list[float], every: float = 0.25) -> None:
    while True:
        peak[0] = max(peak[0], rss_mb(pid))
        await asyncio.sleep(every)


# --- Load -----------------------------------------------------------------------------------------

@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)  # every turn answered with HTTP 200
    by_step: dict[int, list[float]] = field(default_factory=dict)  # the same, by position in the script
    turns_ok: int = 0  # answered, with the expected text
    turns_wrong: int = 0  # answered, without the expected text
    errors: int = 0  # HTTP error, timeout, connection refused
    conversations_ok: int = 0
    conversations_failed: int = 0
    failures: list[str] = field(default_factory=list)  # a few examples


class Deadline(Exception):
    pass


async def talk(client: httpx.AsyncClient, url: str, script: Script, end: float, tally: Tally) -> None:
    """One conversation with a fresh sender; stops counting when the measurement window ends."""
    sender = f"bench-{uuid.uuid4().hex[:16]}"
    for number, turn in enumerate(script, 1):
        started = time.monotonic()
        try:
            response = await client.post(url, json={"sender": sender, "message": turn.text})
            response.raise_for_status()
            reply = " ".join(str(m.get("text", "")) for m in response.json())
        except (httpx.HTTPError, ValueError) as exc:
            if time.monotonic() > end:
                raise Deadline from None
            tally.errors += 1
            tally.conversations_failed += 1
            if len(tally.failures) < 5:
                tally.failures.append(f"turn {number} {turn.text!r}: {type(exc).__name__}: {exc}")
            await asyncio.sleep(0.1)  # don't spin on a dead server
            return
        finished = time.monotonic()
        if finished > end:
            raise Deadline
        tally.latencies_ms.append((finished - started) * 1000)
        tally.by_step.setdefault(number, []).append((finished - started) * 1000)
        if not turn.answered_by(reply):
            tally.turns_wrong += 1
            tally.conversations_failed += 1
            if len(tally.failures) < 5:
                tally.failures.append(f"turn {number} {turn.text!r}: expected {turn.expect!r}, got {reply[:160]!r}")
            return
        tally.turns_ok += 1
    tally.conversations_ok += 1


async def sender_loop(client: httpx.AsyncClient, url: str, scripts: Iterator[Script], end: float, tally: Tally) -> None:
    with contextlib.suppress(Deadline):
        while time.monotonic() < end:
            await talk(client, url, next(scripts), end, tally)


async def load(bot: Bot, concurrency: int, seconds: float) -> Tally:
    tally = Tally()
    end = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(sender_loop(client, f"{bot.url}/webhooks/rest/webhook",
                                           bot.conversations(sender, concurrency), end, tally)
                               for sender in range(concurrency)))
    return tally


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest rank."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))]


async def measure(bot: Bot, concurrency: int, warmup: float, duration: float) -> dict[str, Any]:
    await load(bot, concurrency, warmup)
    peak = [rss_mb(bot.pid)]
    watched = {"rasa": bot.pid, **bot.others}
    cpu_before = {name: cpu_seconds(pid) for name, pid in watched.items()} | {"bench client": time.process_time()}
    sampler = asyncio.create_task(sample_rss(bot.pid, peak))
    try:
        started = time.monotonic()
        tally = await load(bot, concurrency, duration)
        elapsed = time.monotonic() - started
    finally:
        sampler.cancel()
    cpu_after = {name: cpu_seconds(pid) for name, pid in watched.items()} | {"bench client": time.process_time()}
    cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_before}
    turns = tally.turns_ok + tally.turns_wrong
    peak[0] = max(peak[0], rss_mb(bot.pid))
    lat = tally.latencies_ms
    return {
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "turns_per_s": round(tally.turns_ok / elapsed, 2),
        "conversations_per_s": round(tally.conversations_ok / elapsed, 2),
        "latency_ms": {f"p{p}": round(v, 1) if (v := percentile(lat, p)) is not None else None for p in (50, 95, 99)}
        | {"max": round(max(lat), 1) if lat else None, "mean": round(sum(lat) / len(lat), 1) if lat else None},
        "turns_ok": tally.turns_ok,
        "turns_wrong": tally.turns_wrong,
        "errors": tally.errors,
        "conversations_ok": tally.conversations_ok,
        "conversations_failed": tally.conversations_failed,
        "failure_examples": tally.failures,
        "peak_rss_mb": round(peak[0], 1),
        "p50_ms_by_step": {str(n): round(percentile(v, 50) or 0, 1) for n, v in sorted(tally.by_step.items())},
        "cpu_ms_per_turn": {name: round(1000 * s / turns, 1) if turns else None for name, s in cpu.items()},
        "cpu_cores_busy": {name: round(s / elapsed, 2) for name, s in cpu.items()},
        "load_average_1m_after": round(os.getloadavg()[0], 2),
    }


def run_bots(makes: list[type[Bot]], levels: list[int], warmup: float, duration: float) -> dict[str, dict[str, Any]]:
    """Start every bot, then measure them level by level, one bot right after the other, so that a
    change in the machine's speed during the run (it happens on shared hosts) hits both alike."""
    results: dict[str, dict[str, Any]] = {}
    running: list[Bot] = []
    try:
        for make in makes:
            print(f"==> starting {make.name}", flush=True)
            try:
                bot = make()
            except StartFailed as exc:
                print(f"    could not start: {exc}", file=sys.stderr, flush=True)
                results[make.name] = {"error": str(exc)}
                continue
            running.append(bot)
            results[bot.name] = {"model": bot.model, "notes": bot.notes, "idle_rss_mb": round(rss_mb(bot.pid), 1),
                                 "runs": {}}
        for level in levels:
            for bot in running:
                print(f"    {bot.name}: {level} concurrent, {warmup:g} s warm-up + {duration:g} s", flush=True)
                results[bot.name]["runs"][str(level)] = asyncio.run(measure(bot, level, warmup, duration))
        return results
    finally:
        for bot in running:
            bot.stop()


# --- Report ---------------------------------------------------------------------------------------

def ratio(ours: dict[str, Any], stock: dict[str, Any], level: int) -> float | None:
    try:
        return round(ours["runs"][str(level)]["turns_per_s"] / stock["runs"][str(level)]["turns_per_s"], 2)
    except (KeyError, ZeroDivisionError):
        return None


def goals(ours: dict[str, Any], ratios: dict[str, float | None], top: int) -> list[dict[str, Any]]:
    runs = ours.get("runs", {})
    p95 = runs.get(str(top), {}).get("latency_ms", {}).get("p95")
    rss = max((r["peak_rss_mb"] for r in runs.values()), default=None)
    checks: list[dict[str, Any]] = [
        {"goal": f"throughput ours/stock >= {MIN_SPEEDUP}x at {level}", "value": value,
         "pass": value is not None and value >= MIN_SPEEDUP}
        for level, value in ratios.items()
    ]
    checks.append({"goal": f"p95 <= {MAX_P95_MS:g} ms at {top} concurrent", "value": p95,
                   "pass": p95 is not None and p95 <= MAX_P95_MS})
    checks.append({"goal": f"rasa peak RSS < {MAX_RSS_MB / 1000:g} GB", "value": rss,
                   "pass": rss is not None and rss < MAX_RSS_MB})
    failed = sum(r["conversations_failed"] for r in runs.values())
    checks.append({"goal": "no failed conversations (ours)", "value": failed, "pass": bool(runs) and failed == 0})
    return checks


def print_table(bots: dict[str, dict[str, Any]]) -> None:
    head = (f"{'bot':<6} {'conc':>4} {'turns/s':>8} {'convs/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
            f"{'turns':>6} {'convs':>6} {'failed':>6} {'errors':>6} {'RSS MB':>7}")
    print()
    print(head)
    print("-" * len(head))
    for name, bot in bots.items():
        if "error" in bot:
            print(f"{name:<6} could not start: {bot['error']}")
            continue
        for level, r in bot["runs"].items():
            lat = r["latency_ms"]
            print(f"{name:<6} {level:>4} {r['turns_per_s']:>8.1f} {r['conversations_per_s']:>8.2f} "
                  f"{lat['p50'] or 0:>7.0f} {lat['p95'] or 0:>7.0f} {lat['p99'] or 0:>7.0f} "
                  f"{r['turns_ok']:>6} {r['conversations_ok']:>6} {r['conversations_failed']:>6} {r['errors']:>6} "
                  f"{r['peak_rss_mb']:>7.0f}")
            for example in r["failure_examples"]:
                print(f"         failed: {example}")
    print("\nwhere the time goes (p50 ms per step of the script; CPU ms per turn, by process):")
    for name, bot in bots.items():
        for level, r in bot.get("runs", {}).items():
            steps = " ".join(f"{n}:{v:.0f}" for n, v in r["p50_ms_by_step"].items())
            cpu = " ".join(f"{p}={v}" for p, v in r["cpu_ms_per_turn"].items())
            print(f"{name:<6} {level:>4}  steps {steps:<24} cpu {cpu}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per concurrency level")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before each level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 20], help="concurrent senders")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    if load_before > 0.5:
        print(f"note: load average is {load_before:.2f} before starting: other processes compete for the "
              f"{os.cpu_count()} CPUs and lower the figures", flush=True)

    bots = run_bots([OurBot, StockBot], args.concurrency, args.warmup, args.duration)

    ratios = {str(level): ratio(bots["ours"], bots["stock"], level) for level in args.concurrency}
    checks = goals(bots["ours"], ratios, max(args.concurrency))
    print_table(bots)
    print()
    for level, value in ratios.items():
        print(f"ours/stock turns/s at {level:>2} concurrent: {value if value is not None else 'n/a'}x")
    for check in checks:
        print(f"{'PASS' if check['pass'] else 'MISS'}  {check['goal']}: {check['value']}")

    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_1m_before": round(load_before, 2)},
        "settings": {"duration_s": args.duration, "warmup_s": args.warmup, "concurrency": args.concurrency},
        "scripts": {"ours": [[asdict(t) for t in s(Parcel("DS0000000000", "00000"))] for s in OUR_SCRIPTS],
                    "stock": [[asdict(t) for t in s] for s in STOCK_SCRIPTS]},
        "bots": bots,
        "ratio_turns_per_s": ratios,
        "goals": checks,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 1 if any("error" in bot for bot in bots.values()) else 0


if __name__ == "__main__":
    cli.run(main)
