"""The hand-off queue on PostgreSQL, the way several gateway replicas share it: racing claims and
racing auto-assignment, each in a throw-away database (skipped with the reason without a server)."""
from __future__ import annotations

import threading
from collections import Counter

import pytest

from handoff.queue import HandoffQueue, NotClaimable
from shop import make_engine
from tests.services import fresh_database

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def database():
    with fresh_database("cskh_queue") as url:
        yield url


@pytest.fixture
def queues(database):
    """Four queue objects with their own engines (connection pools), like four replicas."""
    # lock_timeout: a regression that waits for row locks fails instead of hanging the suite
    engines = [make_engine(database, pool_size=10, connect_args={"options": "-c lock_timeout=5000"})
               for _ in range(4)]
    made = [HandoffQueue(engine) for engine in engines]
    with engines[0].begin() as conn:
        conn.exec_driver_sql("DELETE FROM handoffs")
    yield made
    for engine in engines:
        engine.dispose()


def run_together(functions):
    barrier = threading.Barrier(len(functions))
    results, errors = [None] * len(functions), []

    def run(i, function):
        barrier.wait()
        try:
            results[i] = function()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(functions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_agents_claiming_the_same_handoff_on_different_replicas_exactly_one_wins(queues):
    for attempt in range(10):
        handoff = queues[0].enqueue(f"web:claim{attempt}", "web", "request_human")

        def claim(queue, agent):
            return lambda: queue.claim(handoff.id, agent)

        results, errors = run_together([claim(q, f"agent{i}") for i, q in enumerate(queues)])
        winners = [r for r in results if r is not None]
        assert len(winners) == 1 and len(errors) == 3
        assert all(isinstance(e, NotClaimable) for e in errors)
        assert queues[1].get(handoff.id).agent == winners[0].agent


def test_concurrent_auto_assign_gives_every_handoff_to_exactly_one_agent(queues):
    n = 40
    for i in range(n):
        queues[i % 4].enqueue(f"web:auto{i}", "web", "request_human", frustrated=i % 5 == 0)

    def agent_loop(queue, agent):
        def take_all():
            taken = []
            while (handoff := queue.assign_next(agent)) is not None:
                taken.append(handoff.id)
            return taken
        return take_all

    results, errors = run_together([agent_loop(q, f"agent{i}") for i, q in enumerate(queues) for _ in (0, 1)])
    assert not errors
    assigned = [h for taken in results for h in taken]
    assert len(assigned) == n and len(set(assigned)) == n, Counter(assigned).most_common(3)
    assert queues[0].waiting() == []
    rows = queues[0].open_items()
    assert all(r.status == "assigned" and r.agent for r in rows) and len(rows) == n


def test_the_next_handoff_is_the_frustrated_then_the_longest_waiting(queues):
    calm = queues[0].enqueue("web:next-a", "web", "request_human")
    angry = queues[1].enqueue("web:next-b", "web", "frustration", frustrated=True)
    assert queues[2].assign_next("lan").id == angry.id
    assert queues[3].assign_next("minh").id == calm.id
    assert queues[0].assign_next("lan") is None


def test_skip_locked_passes_over_a_row_another_replica_is_assigning(queues, database):
    """While one transaction holds the first waiting row, another takes the second one at once
    instead of waiting for the lock."""
    from sqlalchemy import select

    from handoff.queue import handoffs

    first = queues[0].enqueue("web:lock-a", "web", "request_human")
    second = queues[0].enqueue("web:lock-b", "web", "request_human")
    holder = make_engine(database)
    try:
        with holder.begin() as conn:
            locked = conn.execute(select(handoffs.c.id).where(handoffs.c.id == first.id).with_for_update()).scalar()
            assert locked == first.id
            taken = queues[1].assign_next("minh")  # would block without SKIP LOCKED
            assert taken is not None and taken.id == second.id
    finally:
        holder.dispose()
    assert queues[2].get(first.id).status == "queued"
