"""The Redis lock store the Rasa replicas share (addons/lock_store.py), in the Rasa runtime against
the machine's Redis: two stores (two replicas) issuing and returning tickets for one conversation
from many threads at once lose none and give none twice; Rasa's own RedisLockStore, run the same
way, does (RasaHQ/rasa#11256), which is what the atomic one is for."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from bot.core.settings import ROOT
from tests.workers.conftest import REDIS_URL

RACE = r"""
import json, sys, threading
from urllib.parse import urlsplit
from rasa.core.lock_store import RedisLockStore
from addons.lock_store import AtomicRedisLockStore

url, prefix = urlsplit(sys.argv[1]), sys.argv[2]
results = {}
for kind, store_class in (("atomic", AtomicRedisLockStore), ("rasa", RedisLockStore)):
    stores = [store_class(host=url.hostname, port=url.port or 6379, db=int(url.path.strip("/") or 0),
                          key_prefix=prefix + kind) for _ in range(2)]
    issued, start = [], threading.Barrier(8)

    def replica(n):
        store = stores[n % 2]
        start.wait()
        for _ in range(25):
            issued.append(store.issue_ticket("conversation-1"))

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    lock = stores[0].get_lock("conversation-1")
    held = [t.number for t in lock.tickets] if lock else []
    for number in list(held):
        stores[number % 2].cleanup("conversation-1", number)
    left = stores[0].get_lock("conversation-1") is not None
    stores[0].delete_lock("conversation-1")
    results[kind] = {"issued": issued, "held": held, "left": left}
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def races() -> dict[str, dict[str, object]]:
    """Both stores in the same race, in one Rasa process (importing Rasa takes a while)."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    done = subprocess.run([str(ROOT / ".venv-rasa" / "bin" / "python"), "-c", RACE, REDIS_URL, prefix],
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"},
                          capture_output=True, text=True, timeout=300, check=True)
    results: dict[str, dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def test_two_replicas_issue_every_ticket_once_and_keep_every_ticket(races: dict[str, dict[str, object]]) -> None:
    result = races["atomic"]
    assert sorted(result["issued"]) == list(range(200)), "200 tickets, numbered in order, none twice"  # type: ignore[arg-type]
    assert result["held"] == list(range(200)), "every ticket issued is in the lock, in order"
    assert result["left"] is False, "the last turn to finish removes the lock"


def test_rasas_own_redis_lock_store_loses_tickets_in_the_same_race(races: dict[str, dict[str, object]]) -> None:
    result = races["rasa"]
    issued, held = result["issued"], result["held"]
    assert isinstance(issued, list) and isinstance(held, list)
    assert len(set(issued)) < 200 or len(held) < 200, "Rasa's read-change-write lost nothing this time"
