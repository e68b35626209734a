"""Rasa's ticket locks (one message at a time per conversation), with two faults of Rasa 3.6's
lock stores fixed.

1. Rasa's RedisLockStore reads a lock, changes it and writes it back as separate commands. That is
   atomic within one process's event loop, not between replicas: two messages of one conversation
   arriving at two replicas at once can be issued the same ticket and be processed together, and a
   cleanup can delete the lock under a ticket issued in between. Here every change of a lock is
   atomic: the two every message makes (issue a ticket, clean up) are Redis scripts, one round trip
   each; the others are optimistic Redis transactions (WATCH … MULTI/EXEC), retried when they lose
   a race (`scripts/bench_lock_store.py` compares the two ways).
2. A waiting message's ticket expires like the holder's, `lifetime` after it was issued. When the
   ticket ahead of it belonged to a replica that died, both expire within moments of each other; a
   waiter that looks only after both have gone finds a lock with no tickets, which Rasa reads as
   "locked by someone else" forever (its own polling even keeps the empty lock alive). Here a
   waiter renews its own ticket on every poll, so only the tickets of dead or stuck holders
   expire, and the waiter keeps its place in the queue.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Callable, Optional, Tuple
from urllib.parse import unquote, urlparse

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockError, LockStore, RedisLockStore

_DELETE = object()  # what a lock change returns to remove the conversation's lock

# A change sees the stored lock (None when there is none) and returns (result, what to store):
# a lock to write, _DELETE to remove it, or None to leave storage as it is.
Change = Callable[[Optional[TicketLock]], Tuple[Any, Any]]


class RenewingLockStore(LockStore):
    """The ticket-lock algorithm over one primitive, `_change`: an atomic read-modify-write of one
    conversation's lock. Subclasses provide `_change` for their storage."""

    def _change(self, conversation_id: str, change: Change) -> Any:
        raise NotImplementedError

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        return self._issue(conversation_id, lock_lifetime)[0]

    def _issue(self, conversation_id: str, lifetime: float) -> Tuple[int, TicketLock]:
        """A new ticket, and the lock as stored with it (one change)."""
        def change(lock: Optional[TicketLock]):
            lock = lock or self.create_lock(conversation_id)
            return (lock.issue_ticket(lifetime), lock), lock
        try:
            return self._change(conversation_id, change)
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}")

    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncGenerator[TicketLock, None]:
        ticket, lock = self._issue(conversation_id, lock_lifetime)
        try:
            if lock.is_locked(ticket):  # someone is ahead: wait (most messages find the lock free)
                lock = await self._wait_for_turn(conversation_id, ticket, lock_lifetime, wait_time_in_seconds)
            yield lock
        finally:
            self.cleanup(conversation_id, ticket)

    async def _wait_for_turn(self, conversation_id: str, ticket: int, lifetime: float, wait: float) -> TicketLock:
        while True:
            await asyncio.sleep(wait)
            lock = self.renew_ticket(conversation_id, ticket, lifetime)
            if not lock.is_locked(ticket):
                return lock

    def renew_ticket(self, conversation_id: str, ticket: int, lifetime: float) -> TicketLock:
        """Drop expired tickets and give `ticket` a full lifetime from now, putting it back in its
        place (by number) if it had expired or the lock had gone; the lock as stored."""
        def change(lock: Optional[TicketLock]):
            lock = lock or self.create_lock(conversation_id)
            lock.remove_expired_tickets()
            expires = time.time() + lifetime
            mine = next((t for t in lock.tickets if t.number == ticket), None)
            if mine is not None:
                mine.expires = expires
            else:
                lock.tickets = deque(sorted([*lock.tickets, Ticket(ticket, expires)], key=lambda t: t.number))
            return lock, lock
        return self._change(conversation_id, change)

    def update_lock(self, conversation_id: str) -> None:
        def change(lock: Optional[TicketLock]):
            if lock is None:
                return None, None
            lock.remove_expired_tickets()
            return None, lock
        self._change(conversation_id, change)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def change(lock: Optional[TicketLock]):
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return None, lock
        self._change(conversation_id, change)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove the ticket, and the lock when nobody else holds a ticket, in one change."""
        def change(lock: Optional[TicketLock]):
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return None, (lock if lock.is_someone_waiting() else _DELETE)
        self._change(conversation_id, change)


class MemoryLockStore(RenewingLockStore, InMemoryLockStore):
    """One process's locks. A change runs without awaiting, so the event loop makes it atomic."""

    def _change(self, conversation_id: str, change: Change) -> Any:
        result, new = change(self.conversation_locks.get(conversation_id))
        if new is _DELETE:
            self.conversation_locks.pop(conversation_id, None)
        elif new is not None:
            self.conversation_locks[conversation_id] = new
        return result


# The two changes every message makes, as Redis scripts: one round trip each instead of three
# (WATCH, GET, then MULTI/SET/EXEC). They do what `_issue` and `cleanup` do in Python, on the same
# JSON (a ticket is a JSON string inside the lock's JSON, as Rasa stores it), with the client's
# clock as Rasa's tickets use it: a ticket has expired once `now` is past its `expires`.
_ISSUE = """
local now, lifetime = tonumber(ARGV[2]), tonumber(ARGV[3])
local raw = redis.call('GET', KEYS[1])
local kept = {}
if raw then
  for _, text in ipairs(cjson.decode(raw).tickets or {}) do
    if cjson.decode(text).expires >= now then table.insert(kept, text) end
  end
end
local number = 0
if #kept > 0 then number = cjson.decode(kept[#kept]).number + 1 end
table.insert(kept, cjson.encode({number = number, expires = now + lifetime}))
local stored = cjson.encode({conversation_id = ARGV[1], tickets = kept})
redis.call('SET', KEYS[1], stored)
return {number, stored}
"""
_CLEANUP = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local now, number = tonumber(ARGV[1]), tonumber(ARGV[2])
local lock = cjson.decode(raw)
local kept = {}
for _, text in ipairs(lock.tickets or {}) do
  local ticket = cjson.decode(text)
  if ticket.expires >= now and ticket.number ~= number then table.insert(kept, text) end
end
if #kept == 0 then
  redis.call('DEL', KEYS[1])
else
  lock.tickets = kept
  redis.call('SET', KEYS[1], cjson.encode(lock))
end
return #kept
"""


class AtomicRedisLockStore(RenewingLockStore, RedisLockStore):
    """Rasa's RedisLockStore (the same keys and format, so replicas of either kind agree), with
    every change of a lock atomic: the two every message makes (issue a ticket, clean up) are Redis
    scripts, one round trip each; the rest (a waiter's renewal, Rasa's own calls) are optimistic
    transactions (`_change`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._issue_script = self.red.register_script(_ISSUE)
        self._cleanup_script = self.red.register_script(_CLEANUP)

    def _issue(self, conversation_id: str, lifetime: float) -> Tuple[int, TicketLock]:
        try:
            number, stored = self._issue_script(keys=[self.key_prefix + conversation_id],
                                                args=[conversation_id, repr(time.time()), repr(float(lifetime))])
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}")
        return int(number), TicketLock.from_dict(json.loads(stored))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self._cleanup_script(keys=[self.key_prefix + conversation_id], args=[repr(time.time()), int(ticket_number)])

    def _change(self, conversation_id: str, change: Change) -> Any:
        key = self.key_prefix + conversation_id

        def attempt(pipe) -> Any:
            raw = pipe.get(key)
            result, new = change(TicketLock.from_dict(json.loads(raw)) if raw else None)
            if new is None:  # nothing to write
                return result
            pipe.multi()
            if new is _DELETE:
                pipe.delete(key)
            else:
                pipe.set(key, new.dumps())
            return result

        return self.red.transaction(attempt, key, value_from_callable=True)


def lock_store(url: Optional[str], prefix: str = "cskh") -> LockStore:
    """In-memory for one process; with redis://[user:password@]host:port/db, the Redis one, shared
    by every replica, so one conversation's messages are processed one at a time wherever they
    arrive."""
    if not url:
        return MemoryLockStore()
    parsed = urlparse(url)
    return AtomicRedisLockStore(host=parsed.hostname or "localhost", port=parsed.port or 6379,
                                db=int(parsed.path.lstrip("/") or 0), username=_unquoted(parsed.username),
                                password=_unquoted(parsed.password), use_ssl=parsed.scheme == "rediss",
                                key_prefix=prefix)


def _unquoted(part: Optional[str]) -> Optional[str]:
    return unquote(part) if part else None
