"""Rasa's SQL tracker store (every turn of every conversation, in SQLite or PostgreSQL), told how
many of a tracker's events are already stored instead of asking the database each time."""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Iterator, Optional
from urllib.parse import parse_qsl, unquote, urlparse

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

_STORED = "_cskh_events_stored"  # attribute on a tracker: how many of its events the database holds


class CountingSQLTrackerStore(SQLTrackerStore):
    """On every save Rasa counts the conversation's stored events with the same query that loaded
    them (a subquery for the session start, then COUNT), to know which events are new. The tracker
    saved is the one this store just loaded (under the conversation's lock, so nobody else wrote in
    between), so the number is known: it is remembered on the tracker at load and after each save.
    A tracker this store did not load (a new conversation, a copy) is counted as Rasa does."""

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        tracker = await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        if tracker is not None and not fetch_events_from_all_sessions and tracker.events.maxlen is None:
            setattr(tracker, _STORED, len(tracker.events))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        if tracker.events.maxlen is None:  # a capped history would make the number meaningless
            setattr(tracker, _STORED, len(tracker.events))

    def _additional_events(self, session, tracker: DialogueStateTracker) -> Iterator:
        stored = getattr(tracker, _STORED, None)
        if stored is None or stored > len(tracker.events):
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))


def tracker_store(url: str) -> SQLTrackerStore:
    """The tracker store from a URL: sqlite:///path or postgresql://user@host:port/db."""
    parsed = urlparse(url)
    if parsed.scheme.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        return CountingSQLTrackerStore(dialect="sqlite", db=str(path))
    store = CountingSQLTrackerStore(dialect=parsed.scheme.split("+")[0], host=parsed.hostname, port=parsed.port,
                                    db=unquote(parsed.path.lstrip("/")), username=_unquoted(parsed.username),
                                    password=_unquoted(parsed.password), query=dict(parse_qsl(parsed.query)) or None)
    # Rasa creates its engine without pre-ping: after a database restart every pooled connection
    # would fail one message each. Test each connection on checkout instead (as the app engine does).
    store.engine.pool._pre_ping = True
    return store


def _unquoted(part: Optional[str]) -> Optional[str]:
    return unquote(part) if part else None
