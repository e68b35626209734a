"""KB edits made through the admin API, kept in the app database and applied over the KB sources
whenever the index is opened, so they survive restarts and rebuilds."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Dict, List, Optional

from sqlalchemy import Boolean, Column, DateTime, MetaData, String, Table, Text, select
from sqlalchemy.engine import Engine

from retrieval.corpus import Entry

metadata = MetaData()
overrides = Table(
    "kb_overrides", metadata,
    Column("entry_id", String(128), primary_key=True),
    Column("data", Text, nullable=True),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


class OverrideStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def put(self, entry: Entry) -> None:
        self._write(entry.id, json.dumps(entry.to_json(), ensure_ascii=False), False)

    def delete(self, entry_id: str) -> None:
        self._write(entry_id, None, True)

    def _write(self, entry_id: str, data: Optional[str], deleted: bool) -> None:
        row = {"entry_id": entry_id, "data": data, "deleted": deleted, "updated_at": datetime.now(timezone.utc)}
        with self.engine.begin() as conn:
            updated = conn.execute(overrides.update().where(overrides.c.entry_id == entry_id).values(**row)).rowcount
            if not updated:
                conn.execute(overrides.insert().values(**row))

    def all(self) -> Dict[str, Optional[Entry]]:
        """entry id → replacement entry, or None for a deletion."""
        with self.engine.connect() as conn:
            rows: List = conn.execute(select(overrides)).fetchall()
        return {r.entry_id: None if r.deleted else Entry.from_json(json.loads(r.data)) for r in rows}
