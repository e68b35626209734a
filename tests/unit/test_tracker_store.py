"""The tracker store stores exactly the events Rasa's would, without counting the stored ones on
every save (SQLite here; the same class runs on PostgreSQL in the scale-out and fault tests)."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import List

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event

from cskh.tracker_store import CountingSQLTrackerStore, tracker_store

DOMAIN = Domain.from_dict({"slots": {"order_code": {"type": "text", "mappings": [{"type": "custom"}]}}})


def _store(cls, path: Path):
    store = cls(dialect="sqlite", db=str(path))
    store.domain = DOMAIN
    return store


def _statements(store) -> List[str]:
    seen: List[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda c, cur, statement, *a: seen.append(statement))
    return seen


def _turn(n: int, at: float) -> list:
    return [UserUttered(f"tin nhắn {n}", {"name": "greet"}, timestamp=at),
            SlotSet("order_code", f"DH{n}", timestamp=at + 0.1),
            ActionExecuted("utter_greet", timestamp=at + 0.2),
            BotUttered(f"trả lời {n}", timestamp=at + 0.3),
            ActionExecuted("action_listen", timestamp=at + 0.4)]


async def _conversation(store) -> None:
    """Three messages as Rasa handles them (load, add a turn, save), one of them starting a new
    session, and one tracker saved twice."""
    tracker = DialogueStateTracker("c", DOMAIN.slots)
    for e in [ActionExecuted("action_session_start", timestamp=1.0), SessionStarted(timestamp=1.1),
              ActionExecuted("action_listen", timestamp=1.2), *_turn(1, 2.0)]:
        tracker.update(e)
    await store.save(tracker)
    tracker = await store.retrieve("c")
    for e in _turn(2, 3.0):
        tracker.update(e)
    await store.save(tracker)
    tracker = await store.retrieve("c")  # the session expired: a new one starts on this tracker
    for e in [ActionExecuted("action_session_start", timestamp=10.0), SessionStarted(timestamp=10.1),
              ActionExecuted("action_listen", timestamp=10.2), *_turn(3, 11.0)]:
        tracker.update(e)
    await store.save(tracker)
    tracker.update(BotUttered("một tin nữa", timestamp=12.0))  # saved again without reloading
    await store.save(tracker)


def _rows(store) -> list:
    with store.session_scope() as session:
        return [(r.type_name, json.loads(r.data).get("timestamp")) for r in session.query(store.SQLEvent).order_by(store.SQLEvent.id)]


def test_stores_every_event_once_without_counting(tmp_path):
    counting = _store(CountingSQLTrackerStore, tmp_path / "counting.db")
    statements = _statements(counting)
    asyncio.run(_conversation(counting))
    rows = _rows(counting)
    assert len(rows) == 3 + 5 + 5 + 3 + 5 + 1
    assert len(set(rows)) == len(rows)  # nothing twice
    counts = [s for s in statements if "count(" in s.lower()]
    assert len(counts) == 1  # only the first save, of a tracker the store did not load


def test_stores_what_rasas_store_stores(tmp_path):
    """Rasa's own store, for the same conversation up to the session restart (after it, Rasa's
    count covers only the new session and its second save of the same tracker re-stores events)."""
    async def until_restart(store):
        tracker = DialogueStateTracker("c", DOMAIN.slots)
        for e in [ActionExecuted("action_session_start", timestamp=1.0), SessionStarted(timestamp=1.1), *_turn(1, 2.0)]:
            tracker.update(e)
        await store.save(tracker)
        for n in (2, 3, 4):
            tracker = await store.retrieve("c")
            for e in _turn(n, n + 1.0):
                tracker.update(e)
            await store.save(tracker)

    ours, rasas = _store(CountingSQLTrackerStore, tmp_path / "a.db"), _store(SQLTrackerStore, tmp_path / "b.db")
    asyncio.run(until_restart(ours))
    asyncio.run(until_restart(rasas))
    assert _rows(ours) == _rows(rasas)
    loaded = asyncio.run(ours.retrieve("c"))
    assert [e.as_dict() for e in loaded.events] == [e.as_dict() for e in asyncio.run(rasas.retrieve("c")).events]


def test_a_retrieved_tracker_is_reloaded_with_everything(tmp_path):
    store = _store(CountingSQLTrackerStore, tmp_path / "t.db")
    asyncio.run(_conversation(store))
    tracker = asyncio.run(store.retrieve("c"))  # the latest session only
    assert tracker.events[0].type_name == "session_started"  # Rasa loads from the session start on
    assert [e.text for e in tracker.events if isinstance(e, BotUttered)] == ["trả lời 3", "một tin nữa"]
    assert tracker.get_slot("order_code") == "DH3"
    full = asyncio.run(store.retrieve_full_tracker("c"))
    assert len(full.events) == len(_rows(store))


def test_the_url_picks_the_counting_store(tmp_path):
    assert isinstance(tracker_store(f"sqlite:///{tmp_path / 'x' / 'tracker.db'}"), CountingSQLTrackerStore)
