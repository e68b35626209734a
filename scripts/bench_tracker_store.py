"""CPU and wall time of one tracker save and one tracker load, Rasa's SQL tracker store against
cskh's (`cskh.tracker_store`), on PostgreSQL, with and without autocommit.

    python scripts/bench_tracker_store.py [--url postgresql://postgres@127.0.0.1:5432/test] [--saves 300]

- save: one turn as a message leaves it (user message, slot, two actions, two bot replies, listen:
  7 events) for a new conversation. Rasa adds an ORM object per event and flushes them through the
  session's unit of work; cskh writes the same rows in one Core INSERT. The number of stored events
  is given, as the store knows it after a load, so neither side counts.
- load: a conversation of 5 such turns (35 events) that the store does not keep in memory. Rasa
  reads ORM objects; cskh counts the conversation's rows (to know whether a kept tracker is
  current) and then reads the data column alone.
- kept tracker: what most messages cost the store, a conversation it keeps in memory: the COUNT
  that shows the kept tracker is current, then the save of one more turn.

cskh's store runs on PostgreSQL in autocommit mode (`cskh.tracker_store.autocommit`); the rows
"in a transaction" are the stores in psycopg2's default mode, which sends a BEGIN before a
session's first statement and a COMMIT or ROLLBACK at its end.

Rounds alternate; medians of the rounds' means."""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

from cskh.tracker_store import _STORED, CountingSQLTrackerStore, tracker_store  # noqa: E402
from shop.db import ping_when_idle  # noqa: E402

DOMAIN = Domain.from_dict({"slots": {"order_code": {"type": "text", "mappings": [{"type": "custom"}]}}})


def _tracker(turns: int = 1) -> DialogueStateTracker:
    tracker = DialogueStateTracker(f"bench-{uuid.uuid4().hex}", DOMAIN.slots)
    for _ in range(turns):
        _turn(tracker)
    setattr(tracker, _STORED, 0)
    return tracker


def _turn(tracker: DialogueStateTracker) -> None:
    now = time.time()
    parse = {"intent": {"name": "order_status", "confidence": 0.97}, "entities": [{"entity": "order_code",
             "value": "DH100234", "start": 10, "end": 18}], "text": "đơn DH100234 tới đâu rồi ạ"}
    for event in [UserUttered("đơn DH100234 tới đâu rồi ạ", parse["intent"], parse["entities"], parse, timestamp=now),
                  SlotSet("order_code", "DH100234", timestamp=now),
                  ActionExecuted("action_order_status", timestamp=now),
                  BotUttered("Dạ, đơn DH100234 của anh/chị đang được giao ạ.", {"buttons": None}, timestamp=now),
                  ActionExecuted("utter_anything_else", timestamp=now),
                  BotUttered("Anh/chị cần em hỗ trợ gì thêm không ạ?", timestamp=now),
                  ActionExecuted("action_listen", timestamp=now)]:
        tracker.update(event)


def _round(call: Callable[[object], object], items: List[object]) -> Tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for item in items:
        call(item)
    return (time.process_time() - cpu) / len(items) * 1000, (time.perf_counter() - wall) / len(items) * 1000


def in_transactions(store: SQLTrackerStore, url: str) -> SQLTrackerStore:
    """The store as it ran before `cskh.tracker_store.autocommit`: psycopg2's default mode, a BEGIN
    before each session's first statement and a COMMIT or ROLLBACK at its end."""
    store.engine.dispose()
    store.engine = sa.create_engine(url, **create_engine_kwargs(url))
    store.sessionmaker.configure(bind=store.engine)
    ping_when_idle(store.engine)
    return store


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--saves", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    store = tracker_store(args.url, cache_size=1000)  # as shipped: autocommit on PostgreSQL
    before = in_transactions(tracker_store(args.url, cache_size=1000), args.url)
    for each in (store, before):
        each.domain = DOMAIN
    loop = asyncio.new_event_loop()
    run = loop.run_until_complete

    def load(on: CountingSQLTrackerStore) -> Callable[[object], object]:
        def call(sender: object) -> object:
            on._kept.pop(str(sender), None)  # a load, not a tracker kept in memory
            return run(on._retrieve(str(sender), False))
        return call

    def turn(on: CountingSQLTrackerStore) -> Callable[[object], object]:
        """A message's round trips when its tracker is kept: the COUNT, then a save of the turn."""
        def call(sender: object) -> object:
            tracker = run(on._retrieve(str(sender), False))
            _turn(tracker)
            return run(on.save(tracker))
        return call

    conversations = [_tracker(5) for _ in range(args.saves)]
    for tracker in conversations:
        run(store.save(tracker))
    senders: List[object] = [t.sender_id for t in conversations]
    kept: Dict[int, List[object]] = {}
    for each in (store, before):  # other conversations, each loaded and saved by one store, so it keeps them
        kept[id(each)] = []
        for _ in range(args.saves // 2):
            tracker = _tracker(5)
            run(store.save(tracker))
            run(each.save(run(each._retrieve(tracker.sender_id, False))))
            kept[id(each)].append(tracker.sender_id)
    sides = {
        "save": {"Rasa's (ORM unit of work), in a transaction": lambda t: run(SQLTrackerStore.save(before, t)),
                 "cskh's (one Core INSERT), in a transaction (before)": lambda t: run(before.save(t)),
                 "cskh's (one Core INSERT), autocommit (shipped)": lambda t: run(store.save(t))},
        "load": {"Rasa's (ORM objects), in a transaction": lambda s: run(SQLTrackerStore._retrieve(before, str(s), False)),
                 "cskh's (row count, then the data column), in a transaction (before)": load(before),
                 "cskh's (row count, then the data column), autocommit (shipped)": load(store)},
        "kept tracker: count, then save the turn": {"cskh's, in a transaction (before)": turn(before),
                                                    "cskh's, autocommit (shipped)": turn(store)},
    }
    assert [e.as_dict() for e in load(store)(senders[0]).events] == \
        [e.as_dict() for e in run(SQLTrackerStore._retrieve(before, str(senders[0]), False)).events]
    results: Dict[Tuple[str, str], List[Tuple[float, float]]] = {}
    for _ in range(args.rounds + 1):  # the first round warms the pool and the compiled statements
        for what, calls in sides.items():
            for name, call in calls.items():
                if what == "save":
                    items = [_tracker() for _ in range(args.saves)]
                elif what == "load":
                    items = senders
                else:
                    items = kept[id(store if "shipped" in name else before)]
                results.setdefault((what, name), []).append(_round(call, items))
    print(f"store: {args.url.split('://')[0]}; {args.saves} saves (7 new events) and loads (35 events) per round, "
          f"{args.saves // 2} turns of kept conversations, {args.rounds} rounds")
    print("| operation | store | CPU ms | wall ms |")
    print("|---|---|---|---|")
    for (what, name), rounds in results.items():
        rounds = rounds[1:]
        print(f"| {what} | {name} | {statistics.median(c for c, _ in rounds):.3f} | "
              f"{statistics.median(w for _, w in rounds):.3f} |")
    with store.session_scope() as session:  # leave the database as it was
        session.execute(store.SQLEvent.__table__.delete().where(store.SQLEvent.__table__.c.sender_id.like("bench-%")))
        session.commit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
