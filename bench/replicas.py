"""The conversation bench against one Rasa replica and against two (issue 17).

Both run the scaled set as `make run-scaled` does (`bot.processes.devstack.ScaledStack`): HAProxy in
front, the tracker store on the machine's PostgreSQL (a schema of its own), the lock store on its
Redis, one action server; only the number of Rasa replicas differs. The scripts, senders and
measurements are `bench.run`'s. Writes `bench/replicas_results.json`.

    python -m bench.replicas [--duration 20] [--concurrency 1 20]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import uuid
from datetime import UTC, datetime

from bench import cli
from bench.run import WORK, Bot, OurBot, StartFailed, print_table, run_bots
from bench.scale import schema
from bot.core.settings import ROOT
from bot.processes.devstack import ScaledStack

RESULTS = ROOT / "bench" / "replicas_results.json"
REDIS = os.environ.get("DOORSTEP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


class ScaledBot(OurBot):
    replicas = 1

    def __init__(self) -> None:  # OurBot's start, on the scaled set
        self.notes = f"{self.replicas} Rasa replica(s) behind HAProxy, PostgreSQL tracker store, Redis lock store"
        self._database = contextlib.ExitStack()
        url = self._database.enter_context(schema())
        workdir = WORK / self.name
        shutil.rmtree(workdir, ignore_errors=True)
        self.stack = ScaledStack(workdir, database_url=url, redis_url=REDIS, rasa=self.replicas, actions=1, web=0,
                                 extra_env={"CELERY_QUEUE_PREFIX": f"b{uuid.uuid4().hex[:8]}"})
        try:
            try:
                self.stack.start()
            except Exception as exc:
                raise StartFailed(f"the scaled set did not start: {exc}") from exc
            self.url = self.stack.settings.rasa_url
            self.pid = self.stack.pid("rasa1")
            self.others = {name: self.stack.pid(name) for name in self.stack.processes if name != "rasa1"}
            self.model = self.stack.settings.rasa_url
            self.parcels = self._parcels()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        try:
            self.stack.stop()
        finally:
            self._database.close()


class OneReplica(ScaledBot):
    name = "1-rasa"
    replicas = 1


class TwoReplicas(ScaledBot):
    name = "2-rasa"
    replicas = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per concurrency level")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before each level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 20], help="concurrent senders")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    makes: list[type[Bot]] = [OneReplica, TwoReplicas]
    bots = run_bots(makes, args.concurrency, args.warmup, args.duration)
    print_table(bots)
    results = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "cpu_count": os.cpu_count(),
               "load_average_1m_before": round(load_before, 2), "load_average_1m_after": round(os.getloadavg()[0], 2),
               "settings": vars(args), "bots": bots}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 1 if any("error" in bot for bot in bots.values()) else 0


if __name__ == "__main__":
    cli.run(main)
