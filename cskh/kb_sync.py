"""KB edits made by other processes reach this replica's in-memory KB.

Every KB edit is an override row in the app database (`retrieval/overrides.py`: the admin API, the
leads' pages, `cskh review apply`, `cskh retrain`). Each gateway re-reads the rows whose
`updated_at` moved every `CSKH_KB_POLL_SECONDS`, and at once when another replica announces an
edit over the live events ("kb" topic). A row is applied only when it differs from what the KB
holds, so a replica's own edits are not applied twice.
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Optional

from sqlalchemy import select
from sqlalchemy.engine import Engine

from cskh.events import Events
from cskh.polling import Every
from retrieval.corpus import Entry
from retrieval.overrides import OverrideStore, overrides
from retrieval.search import KnowledgeBase

log = logging.getLogger(__name__)

# Rows are re-read from a little before the newest one seen: a transaction that committed late, or
# a writer whose clock is slightly behind, is not missed.
OVERLAP = timedelta(seconds=60)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class AnnouncingOverrideStore(OverrideStore):
    """The gateway's override store: after each write, tells the other replicas (cskh.events)."""

    def __init__(self, engine: Engine, events: Events) -> None:
        super().__init__(engine)
        self.events = events

    def put(self, entry: Entry) -> None:
        super().put(entry)
        self.events.publish("kb", {"entry_id": entry.id})

    def delete(self, entry_id: str) -> None:
        super().delete(entry_id)
        self.events.publish("kb", {"entry_id": entry_id})


class KbSync:
    def __init__(self, kb: KnowledgeBase, engine: Engine, events: Events, poll_seconds: float = 5.0) -> None:
        self.kb = kb
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.since: Optional[datetime] = None  # newest updated_at seen
        self._lock = asyncio.Lock()
        self._poll = Every(poll_seconds, self.sync, "kb-sync")
        events.subscribe("kb", self._announced)

    def apply_changes(self) -> int:
        """Apply override rows changed since the last look; returns how many changed the KB."""
        query = select(overrides)
        if self.since is not None:
            query = query.where(overrides.c.updated_at > self.since - OVERLAP)
        with self.engine.connect() as conn:
            rows = conn.execute(query).fetchall()
        changed = 0
        for row in rows:
            entry = None if row.deleted else Entry.from_json(json.loads(row.data))
            current = self.kb.entries.get(row.entry_id)
            if entry is None and current is not None:
                self.kb.delete(row.entry_id)
                changed += 1
            elif entry is not None and current != entry:
                self.kb.upsert([entry])
                changed += 1
            seen = _aware(row.updated_at)
            self.since = seen if self.since is None else max(self.since, seen)
        if changed:
            log.info("applied %d KB edit(s) made elsewhere", changed)
        return changed

    async def sync(self) -> int:
        async with self._lock:
            try:
                return await asyncio.get_running_loop().run_in_executor(None, self.apply_changes)
            except Exception as error:  # app database unreachable: keep the KB as it is, retry later
                log.warning("KB edits not readable: %s: %s", type(error).__name__, error)
                return 0

    async def _announced(self, event: dict) -> None:
        await self.sync()

    async def start(self) -> None:
        await self.sync()  # the newest edit the KB was opened with
        self._poll.start()

    async def stop(self) -> None:
        await self._poll.stop()
