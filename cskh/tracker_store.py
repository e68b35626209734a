"""Rasa's SQL tracker store (every turn of every conversation, in SQLite or PostgreSQL), told how
many of a tracker's events are already stored instead of asking the database each time, and
keeping the trackers it saved so that the next message of a conversation need not rebuild one."""
from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional
from urllib.parse import parse_qsl, unquote, urlparse

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from cskh import metrics
from shop.db import ping_when_idle

_STORED = "_cskh_events_stored"  # attribute on a tracker: how many of its events the database holds
_ROWS = "_cskh_rows"  # attribute on a tracker: the conversation's rows in the events table (all sessions)


@dataclass
class _Kept:
    tracker: DialogueStateTracker
    rows: int       # the conversation's rows in the events table when it was saved
    length: int     # len(tracker.events) then: anything added since was never saved
    domain: Any     # the domain it was built with (a model switch brings another)


class CountingSQLTrackerStore(SQLTrackerStore):
    """On every save Rasa counts the conversation's stored events with the same query that loaded
    them (a subquery for the session start, then COUNT), to know which events are new. The tracker
    saved is the one this store just loaded (under the conversation's lock, so nobody else wrote in
    between), so the number is known: it is remembered on the tracker at load and after each save.
    A tracker this store did not load (a new conversation, a copy) is counted as Rasa does.

    Loading a tracker (the session's rows, JSON, every event replayed) was a sixth of the event
    loop's time under load. So a saved tracker is kept in memory, with the number of rows its
    conversation then had, and handed out again when the conversation's row count, one indexed
    COUNT in the same session that the load would use, is still that number: no other replica
    and no other store wrote to it since. A kept tracker is handed out once (taken out of the
    cache) and comes back only when it is saved again, so a tracker that was changed and not saved
    (a message that failed half-way, a reader that never saves) is never handed out; the next
    load rebuilds it from the database. A tracker in which a later session began is not kept,
    because Rasa's load returns the latest session only. `cache_size` 0 turns this off."""

    def __init__(self, *args: Any, cache_size: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cache_size = cache_size
        self._kept: "OrderedDict[str, _Kept]" = OrderedDict()
        self.hits = self.misses = 0

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        if fetch_events_from_all_sessions or not self.cache_size:
            tracker = await super()._retrieve(sender_id, fetch_events_from_all_sessions)
            if tracker is not None and not fetch_events_from_all_sessions and tracker.events.maxlen is None:
                setattr(tracker, _STORED, len(tracker.events))
            return tracker
        kept = self._kept.pop(sender_id, None)
        with self.session_scope() as session:
            rows = int(session.execute(sa.select(sa.func.count()).select_from(self.SQLEvent.__table__)
                                       .where(self.SQLEvent.__table__.c.sender_id == sender_id)).scalar() or 0)
            if (kept is not None and kept.rows == rows and kept.domain is self.domain
                    and len(kept.tracker.events) == kept.length):
                self.hits += 1
                metrics.TRACKER_LOADS.labels("kept").inc()
                return kept.tracker
            self.misses += 1
            metrics.TRACKER_LOADS.labels("loaded").inc()
            if not rows:
                return None  # a new conversation: nothing to load
            # the data column alone: no ORM object per row
            serialised = (self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
                          .with_entities(self.SQLEvent.data).all())
            events = [json.loads(event.data) for event in serialised]
        if not (self.domain and events):
            return None  # what Rasa's store answers for a conversation it does not have
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        if tracker.events.maxlen is None:
            setattr(tracker, _STORED, len(tracker.events))
            setattr(tracker, _ROWS, rows)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        stored, rows = getattr(tracker, _STORED, None), getattr(tracker, _ROWS, None)
        await self._insert_new_events(tracker)
        if tracker.events.maxlen is not None:  # a capped history would make the numbers meaningless
            return
        setattr(tracker, _STORED, len(tracker.events))
        if stored is None or rows is None or stored > len(tracker.events) or not self.cache_size:
            return  # not loaded by this store: how many rows the conversation has is not known
        rows += len(tracker.events) - stored
        setattr(tracker, _ROWS, rows)
        if any(isinstance(e, SessionStarted) for e in itertools.islice(tracker.events, 1, None)):
            return  # a later session began: Rasa's load returns it alone (from its SessionStarted on)
        self._kept[tracker.sender_id] = _Kept(tracker, rows, len(tracker.events), self.domain)
        self._kept.move_to_end(tracker.sender_id)
        while len(self._kept) > self.cache_size:
            self._kept.popitem(last=False)

    async def _insert_new_events(self, tracker: DialogueStateTracker) -> None:
        """What Rasa's `save` writes (the same rows), as one multi-row INSERT through SQLAlchemy
        Core: Rasa adds an ORM object per event and flushes them through the session's unit of
        work, which was a third of the save's time on the event loop under load."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            rows = []
            for event in self._additional_events(session, tracker):
                data = event.as_dict()
                rows.append({"sender_id": tracker.sender_id, "type_name": event.type_name,
                             "timestamp": data.get("timestamp"),
                             "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                             "action_name": data.get("name"), "data": json.dumps(data)})
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()

    def _additional_events(self, session, tracker: DialogueStateTracker) -> Iterator:
        stored = getattr(tracker, _STORED, None)
        if stored is None or stored > len(tracker.events):
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))


def tracker_store(url: str, cache_size: int = 0) -> SQLTrackerStore:
    """The tracker store from a URL: sqlite:///path or postgresql://user@host:port/db; it keeps up
    to `cache_size` saved trackers in memory (0: none)."""
    parsed = urlparse(url)
    if parsed.scheme.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        return CountingSQLTrackerStore(dialect="sqlite", db=str(path), cache_size=cache_size)
    store = CountingSQLTrackerStore(dialect=parsed.scheme.split("+")[0], host=parsed.hostname, port=parsed.port,
                                    db=unquote(parsed.path.lstrip("/")), username=_unquoted(parsed.username),
                                    password=_unquoted(parsed.password), query=dict(parse_qsl(parsed.query)) or None,
                                    cache_size=cache_size)
    if store.engine.dialect.name == "postgresql":
        autocommit(store)
    # Rasa creates its engine without a liveness test: after a database restart every pooled
    # connection would fail one message each. Test the connections that lay idle on checkout, as
    # the app engine does (shop.db.ping_when_idle).
    ping_when_idle(store.engine)
    return store


def autocommit(store: SQLTrackerStore) -> None:
    """Run the store's statements on PostgreSQL in autocommit mode (the pool's connections are
    made so once, when they connect).

    In psycopg2's default mode every session costs two more round trips, each blocking the event
    loop (the store is synchronous): a BEGIN before its first statement and a COMMIT or ROLLBACK at
    its end. The store's sessions need no transaction. A save is one INSERT of all its rows (atomic
    by itself). A load is a COUNT, and on a miss a SELECT of the events: under PostgreSQL's READ
    COMMITTED each statement took its own snapshot in a transaction too, and both run under the
    conversation's lock, which every writer of the conversation holds."""
    from rasa.core.tracker_store import create_engine_kwargs

    previous = store.engine
    store.engine = sa.create_engine(previous.url, isolation_level="AUTOCOMMIT", **create_engine_kwargs(previous.url))
    store.sessionmaker.configure(bind=store.engine)
    previous.dispose()


def _unquoted(part: Optional[str]) -> Optional[str]:
    return unquote(part) if part else None
