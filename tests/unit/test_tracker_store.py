"""The tracker store stores exactly the events Rasa's would, without counting the stored ones on
every save, and hands out a kept tracker only when it is what a load would build (SQLite here;
the same class runs on PostgreSQL in the scale-out and fault tests)."""
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
    store = cls(dialect="sqlite", db=str(path), **({"cache_size": 1000} if cls is CountingSQLTrackerStore else {}))
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


def _full_rows(store) -> list:
    with store.session_scope() as session:
        return [(r.sender_id, r.type_name, r.timestamp, r.intent_name, r.action_name, r.data)
                for r in session.query(store.SQLEvent).order_by(store.SQLEvent.id)]


def test_stores_every_event_once_without_counting(tmp_path):
    counting = _store(CountingSQLTrackerStore, tmp_path / "counting.db")
    statements = _statements(counting)
    asyncio.run(_conversation(counting))
    rows = _rows(counting)
    assert len(rows) == 3 + 5 + 5 + 3 + 5 + 1
    assert len(set(rows)) == len(rows)  # nothing twice
    counts = [s for s in statements if "count(" in s.lower() and "from (select" in s.lower()]
    assert len(counts) == 1  # Rasa's count: only the first save, of a tracker the store did not load


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
    assert _full_rows(ours) == _full_rows(rasas)  # every column, written by one INSERT instead of the ORM
    assert any(intent for *_, intent, _, _ in _full_rows(ours)) and any(action for *_, action, _ in _full_rows(ours))
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


# ---- kept trackers ---------------------------------------------------------------------------------

def _dicts(tracker) -> list:
    return [e.as_dict() for e in tracker.events]


async def _message(store, n: int) -> DialogueStateTracker:
    """One message as Rasa handles it: load (or start), add a turn, save."""
    tracker = await store.retrieve("k")
    if tracker is None:
        tracker = DialogueStateTracker("k", DOMAIN.slots)
        for e in [ActionExecuted("action_session_start", timestamp=1.0), SessionStarted(timestamp=1.1)]:
            tracker.update(e)
    for e in _turn(n, 2.0 + n):
        tracker.update(e)
    await store.save(tracker)
    return tracker


def test_a_saved_tracker_is_handed_out_again_as_a_load_would_build_it(tmp_path):
    store = _store(CountingSQLTrackerStore, tmp_path / "k.db")
    asyncio.run(_message(store, 1))  # a new conversation: not loaded by the store, so not kept
    second = asyncio.run(_message(store, 2))  # loaded (a miss), then kept
    assert (store.hits, store.misses) == (0, 2)
    third = asyncio.run(store.retrieve("k"))
    assert third is second and (store.hits, store.misses) == (1, 2)
    fresh = _store(CountingSQLTrackerStore, tmp_path / "k.db")  # another process on the same rows
    assert _dicts(third) == _dicts(asyncio.run(fresh.retrieve("k")))
    assert third.get_slot("order_code") == "DH2"


def test_a_write_by_another_replica_is_seen(tmp_path):
    a, b = _store(CountingSQLTrackerStore, tmp_path / "r.db"), _store(CountingSQLTrackerStore, tmp_path / "r.db")
    for n in (1, 2):
        asyncio.run(_message(a, n))  # a keeps the tracker
    asyncio.run(_message(b, 3))      # the next message went to b
    seen = asyncio.run(a.retrieve("k"))
    assert seen.get_slot("order_code") == "DH3" and (a.hits, a.misses) == (0, 3)  # the kept one was stale
    assert _dicts(seen) == _dicts(asyncio.run(b.retrieve("k")))


def test_a_tracker_changed_and_not_saved_is_never_handed_out(tmp_path):
    store = _store(CountingSQLTrackerStore, tmp_path / "u.db")
    for n in (1, 2):
        asyncio.run(_message(store, n))
    failed = asyncio.run(store.retrieve("k"))  # a hit; then the message fails half-way
    failed.update(UserUttered("không được lưu", {"name": "greet"}, timestamp=50.0))
    again = asyncio.run(store.retrieve("k"))
    assert again is not failed and "không được lưu" not in [getattr(e, "text", None) for e in again.events]
    assert again.get_slot("order_code") == "DH2"


def test_a_reader_that_never_saves_costs_a_load_not_correctness(tmp_path):
    store = _store(CountingSQLTrackerStore, tmp_path / "v.db")
    for n in (1, 2):
        asyncio.run(_message(store, n))
    reader = asyncio.run(store.retrieve("k"))  # e.g. the console's transcript
    handler = asyncio.run(store.retrieve("k"))  # meanwhile the next message
    assert handler is not reader and _dicts(handler) == _dicts(reader)
    asyncio.run(_message(store, 3))
    assert asyncio.run(store.retrieve("k")).get_slot("order_code") == "DH3"


def test_a_new_session_is_loaded_not_kept(tmp_path):
    store = _store(CountingSQLTrackerStore, tmp_path / "s.db")
    for n in (1, 2):
        asyncio.run(_message(store, n))
    tracker = asyncio.run(store.retrieve("k"))
    for e in [ActionExecuted("action_session_start", timestamp=30.0), SessionStarted(timestamp=30.1), *_turn(9, 31.0)]:
        tracker.update(e)
    asyncio.run(store.save(tracker))
    tracker.update(BotUttered("thêm", timestamp=40.0))
    asyncio.run(store.save(tracker))  # saved twice, as in _conversation
    loaded = asyncio.run(store.retrieve("k"))
    assert loaded is not tracker and loaded.events[0].type_name == "session_started"
    assert [e.text for e in loaded.events if isinstance(e, BotUttered)] == ["trả lời 9", "thêm"]


def test_another_domain_or_no_cache_means_a_load(tmp_path):
    store = _store(CountingSQLTrackerStore, tmp_path / "d.db")
    for n in (1, 2):
        asyncio.run(_message(store, n))
    store.domain = Domain.from_dict({"slots": {"order_code": {"type": "text", "mappings": [{"type": "custom"}]},
                                               "phone": {"type": "text", "mappings": [{"type": "custom"}]}}})
    loaded = asyncio.run(store.retrieve("k"))
    assert store.hits == 0 and "phone" in loaded.slots  # built with the new model's slots
    off = CountingSQLTrackerStore(dialect="sqlite", db=str(tmp_path / "d.db"), cache_size=0)
    off.domain = DOMAIN
    asyncio.run(_message(off, 3))
    asyncio.run(_message(off, 4))
    assert off.hits == 0 and not off._kept


def test_the_kept_trackers_are_bounded(tmp_path):
    store = CountingSQLTrackerStore(dialect="sqlite", db=str(tmp_path / "b.db"), cache_size=3)
    store.domain = DOMAIN

    async def conversations():
        for sender in [f"c{n}" for n in range(6)]:
            for n in (1, 2):
                tracker = await store.retrieve(sender) or DialogueStateTracker(sender, DOMAIN.slots)
                for e in _turn(n, 2.0 + n):
                    tracker.update(e)
                await store.save(tracker)

    asyncio.run(conversations())
    assert list(store._kept) == ["c3", "c4", "c5"]
