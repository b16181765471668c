"""The embedded tracker store: conversations in memory, persisted to SQLite behind the scenes.

Rasa's SQL tracker store re-reads and re-writes through SQLAlchemy on every turn: about a third of
the Rasa server's CPU per turn in `make bench`. For one Rasa process (the embedded default) this
store answers from memory and writes each saved tracker to SQLite from a background thread, so a
restart loses at most the last moment. Several Rasa replicas need a shared store instead: set
RASA_TRACKER_URL to PostgreSQL (Rasa's SQL store) and add a Redis lock store.

It also keeps each conversation's events as objects, as they were saved: a tracker is rebuilt from
them (as Rasa rebuilds one from its JSON) without parsing the JSON and re-creating every event first,
about a tenth of the server's CPU per turn at 20 concurrent conversations (py-spy, `make bench`). The
JSON is still what is persisted, and what is read back after a restart or an eviction.
"""

import atexit
import logging
import queue
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Tuple

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

# Conversations kept in memory (least recently used go first; they are read back from SQLite when
# they speak again). About 60 KB each with their event objects: 1,000 is ~60 MB. At 20,000 the
# 30-minute soak (7,000 conversations) grew Rasa by a third after warm-up.
MAX_IN_MEMORY = 1_000
SCHEMA = "CREATE TABLE IF NOT EXISTS conversations (sender_id TEXT PRIMARY KEY, tracker TEXT NOT NULL, saved_at REAL)"


class LocalTrackerStore(InMemoryTrackerStore):
    def __init__(self, domain: Domain, event_broker: EventBroker | None = None, host: str | None = None,
                 **kwargs: Any) -> None:
        # Rasa passes the endpoint's `url` as `host`: sqlite:////absolute/path/to/file.db
        if not host or not host.startswith("sqlite:///"):
            raise ValueError(f"LocalTrackerStore needs url: sqlite:///<path>, got {host!r}")
        super().__init__(domain, event_broker)
        self.store: "OrderedDict[str, str]" = OrderedDict()
        self.saved_events: "dict[str, list[Event]]" = {}  # the events behind self.store[sender_id]
        self.path = Path(host.split("///", 1)[1])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA)
        self._pending: "queue.Queue[Tuple[str, str] | None]" = queue.Queue()
        self._writer = threading.Thread(target=self._write_forever, name="tracker-writer", daemon=True)
        self._writer.start()
        atexit.register(self.flush)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, check_same_thread=False)

    def _write_forever(self) -> None:
        db = self._connect()
        uncommitted = 0
        while True:
            item = self._pending.get()
            try:
                if item is not None:
                    db.execute("INSERT INTO conversations VALUES (?, ?, ?) ON CONFLICT(sender_id) DO UPDATE "
                               "SET tracker = excluded.tracker, saved_at = excluded.saved_at",
                               (item[0], item[1], time.time()))
                    uncommitted += 1
                    if self._pending.empty() or uncommitted >= 100:
                        db.commit()
                        uncommitted = 0
            except sqlite3.Error:
                logger.exception("could not persist a conversation")
            finally:
                self._pending.task_done()

    def flush(self) -> None:
        """Wait until every saved tracker is on disk."""
        self._pending.join()

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        self.saved_events[tracker.sender_id] = list(tracker.events)
        self.store.move_to_end(tracker.sender_id)
        self._pending.put((tracker.sender_id, self.store[tracker.sender_id]))
        while len(self.store) > MAX_IN_MEMORY:
            evicted, _ = self.store.popitem(last=False)
            self.saved_events.pop(evicted, None)

    def deserialise_tracker(self, sender_id: str, serialised_tracker: str | bytes) -> DialogueStateTracker | None:
        """The tracker as saved: from the saved events when we have them, else from the JSON."""
        events = self.saved_events.get(sender_id)
        if events is None:
            return super().deserialise_tracker(sender_id, serialised_tracker)
        tracker = self.init_tracker(sender_id)
        tracker.recreate_from_dialogue(Dialogue(sender_id, list(events)))
        return tracker

    def _load(self, sender_id: str) -> None:
        if sender_id in self.store:
            return
        self.flush()  # what was evicted may still be on its way to disk
        with self._connect() as db:
            row = db.execute("SELECT tracker FROM conversations WHERE sender_id = ?", (sender_id,)).fetchone()
        if row is not None:
            self.store[sender_id] = row[0]

    async def _retrieve(self, sender_id: str, fetch_all_sessions: bool) -> DialogueStateTracker | None:
        self._load(sender_id)
        return await super()._retrieve(sender_id, fetch_all_sessions)

    async def keys(self) -> Iterable[str]:
        self.flush()
        with self._connect() as db:
            stored = {row[0] for row in db.execute("SELECT sender_id FROM conversations")}
        return stored | set(self.store.keys())

    def __repr__(self) -> str:
        return f"LocalTrackerStore(path={self.path})"


__all__ = ["LocalTrackerStore"]
