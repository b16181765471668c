"""Rasa's Redis lock store with every change to a lock made atomically (issue 17).

Rasa Open Source's `RedisLockStore` reads a conversation's lock, changes it in Python and writes it
back: issuing a ticket, removing expired ones while waiting, finishing a turn, deleting the lock
when nobody waits. Two replicas doing that for one conversation at the same moment overwrite each
other's change (RasaHQ/rasa#11256; its fix was reverted from Open Source in #11428): a ticket is
lost or two turns hold the same one, and turns run out of the order they came in. Here each of those
read-change-write steps is one optimistic Redis transaction (WATCH the key, MULTI/EXEC the write,
start over if another replica changed the key meanwhile), so tickets are issued in the order turns
reach Redis and each turn waits for exactly the ones before it.

Same key names and lock format as Rasa's, so replicas can be switched over one at a time.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Tuple, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import WatchError

Result = TypeVar("Result")


class AtomicRedisLockStore(RedisLockStore):
    """endpoints.yml: `lock_store: type: addons.lock_store.AtomicRedisLockStore`, with `url` (the host),
    `port`, `db`, `password`, `key_prefix` as for Rasa's `redis` type."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _change(self, conversation_id: str,
                change: Callable[[TicketLock | None], Tuple[TicketLock | None, Result]]) -> Result:
        """Apply `change` to the stored lock in one transaction; a returned None lock deletes it."""
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    stored = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(stored)) if stored else None
                    changed, result = change(lock)
                    pipe.multi()
                    if changed is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, changed.dumps())
                    pipe.execute()
                    return result
                except WatchError:
                    continue  # another replica changed this lock meanwhile: read it again

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> Tuple[TicketLock | None, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, issue)
        except Exception as exc:  # as Rasa's: the channel answers with an error, nothing is processed
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: str) -> None:
        def expire(lock: TicketLock | None) -> Tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, expire)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self.cleanup(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove the ticket, and the lock with it when nobody else holds one, in one step (Rasa's
        checks "is someone waiting" and deletes after, which can delete a ticket issued in between)."""
        def finish(lock: TicketLock | None) -> Tuple[TicketLock | None, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, finish)
