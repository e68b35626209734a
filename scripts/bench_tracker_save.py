"""CPU and wall time of one tracker save: Rasa's (an ORM object per event, flushed by the session's
unit of work) against cskh's (the same rows in one Core INSERT), on PostgreSQL when it answers.

    python scripts/bench_tracker_save.py [--url postgresql://postgres@127.0.0.1:5432/test] [--saves 300]

Each save writes one turn as a message leaves it (user message, slot, two actions, bot reply,
listen: 7 events) for a new conversation; the number of stored events is given, as the store
knows it after a load, so neither side counts. Rounds alternate; medians of the rounds' means."""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rasa.core.tracker_store import SQLTrackerStore  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

from cskh.tracker_store import _STORED, tracker_store  # noqa: E402

DOMAIN = Domain.from_dict({"slots": {"order_code": {"type": "text", "mappings": [{"type": "custom"}]}}})


def _tracker() -> DialogueStateTracker:
    tracker = DialogueStateTracker(f"bench-{uuid.uuid4().hex}", DOMAIN.slots)
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
    setattr(tracker, _STORED, 0)
    return tracker


def _round(save: Callable[[DialogueStateTracker], None], saves: int) -> Tuple[float, float]:
    trackers = [_tracker() for _ in range(saves)]
    cpu, wall = time.process_time(), time.perf_counter()
    for tracker in trackers:
        save(tracker)
    return (time.process_time() - cpu) / saves * 1000, (time.perf_counter() - wall) / saves * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--saves", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    store = tracker_store(args.url)
    store.domain = DOMAIN
    loop = asyncio.new_event_loop()
    sides = {"Rasa's save (ORM unit of work)": lambda t: loop.run_until_complete(SQLTrackerStore.save(store, t)),
             "cskh's save (one Core INSERT)": lambda t: loop.run_until_complete(store.save(t))}
    for save in sides.values():  # warm the pool, the compiled statements
        _round(save, 20)
    results = {name: [] for name in sides}  # type: dict[str, List[Tuple[float, float]]]
    for _ in range(args.rounds):
        for name, save in sides.items():
            results[name].append(_round(save, args.saves))
    print(f"store: {args.url.split('://')[0]}; {args.saves} saves of 7 events per round, {args.rounds} rounds")
    print("| save | CPU ms per save | wall ms per save |")
    print("|---|---|---|")
    for name, rounds in results.items():
        print(f"| {name} | {statistics.median(c for c, _ in rounds):.3f} | {statistics.median(w for _, w in rounds):.3f} |")
    with store.session_scope() as session:  # leave the database as it was
        session.execute(store.SQLEvent.__table__.delete().where(store.SQLEvent.__table__.c.sender_id.like("bench-%")))
        session.commit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
