import threading
from datetime import datetime, timedelta, timezone

import pytest

from handoff.queue import HandoffQueue, NotClaimable
from shop import make_engine


@pytest.fixture
def queue(tmp_path):
    return HandoffQueue(make_engine(f"sqlite:///{tmp_path / 'app.db'}"))


def test_frustrated_customers_first_then_waiting_time(queue):
    calm = queue.enqueue("web:a", "web", "request_human")
    angry = queue.enqueue("web:b", "web", "frustration", frustrated=True)
    later = queue.enqueue("web:c", "web", "request_human")
    assert [h.id for h in queue.waiting()] == [angry.id, calm.id, later.id]
    assert queue.position(calm.id) == 2


def test_one_open_handoff_per_conversation(queue):
    first = queue.enqueue("zalo:1", "zalo", "request_human")
    assert queue.enqueue("zalo:1", "zalo", "frustration").id == first.id


def test_claim_release_resolve_and_csat(queue):
    h = queue.enqueue("telegram:9", "telegram", "complain")
    assert queue.claim(h.id, "lan").agent == "lan"
    with pytest.raises(NotClaimable):
        queue.claim(h.id, "minh")
    assert queue.release(h.id, "lan").status == "queued"
    queue.claim(h.id, "minh")
    with pytest.raises(NotClaimable):
        queue.resolve(h.id, "lan")  # not hers any more
    resolved = queue.resolve(h.id, "minh")
    assert resolved.status == "resolved" and resolved.csat_pending
    assert queue.current("telegram:9").id == h.id  # still awaiting the rating
    queue.record_csat(h.id, 5)
    assert queue.current("telegram:9") is None and queue.get(h.id).csat == 5


def test_auto_assign_picks_the_least_busy_online_agent(queue):
    busy = queue.enqueue("web:1", "web", "request_human")
    queue.claim(busy.id, "lan")
    h = queue.enqueue("web:2", "web", "request_human")
    assert queue.auto_assign(h.id, ["lan", "minh"]).agent == "minh"
    assert queue.auto_assign(queue.enqueue("web:3", "web", "x").id, []) is None


def test_two_agents_claiming_at_once_exactly_one_wins(queue):
    for attempt in range(20):
        h = queue.enqueue(f"web:race{attempt}", "web", "request_human")
        barrier = threading.Barrier(2)
        results = []

        def claim(agent):
            barrier.wait()
            try:
                results.append(queue.claim(h.id, agent).agent)
            except NotClaimable:
                results.append(None)

        threads = [threading.Thread(target=claim, args=(a,)) for a in ("lan", "minh")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results, key=str) == sorted([None, queue.get(h.id).agent], key=str)


def test_waiting_time_and_sla(tmp_path):
    now = [datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)]
    queue = HandoffQueue(make_engine(f"sqlite:///{tmp_path / 'app.db'}"), clock=lambda: now[0])
    quick = queue.enqueue("web:q", "web", "request_human")
    slow = queue.enqueue("web:s", "web", "request_human")
    now[0] += timedelta(seconds=60)
    queue.claim(quick.id, "lan")
    now[0] += timedelta(seconds=240)
    queue.claim(slow.id, "minh")
    stats = queue.stats(sla_seconds=120)
    assert stats["within_sla"] == 0.5 and stats["assigned"] == 2


def test_assign_next_takes_the_frustrated_then_the_longest_waiting(queue):
    calm = queue.enqueue("web:n1", "web", "request_human")
    angry = queue.enqueue("web:n2", "web", "frustration", frustrated=True)
    assert queue.assign_next("lan").id == angry.id
    taken = queue.assign_next("minh")
    assert taken.id == calm.id and taken.agent == "minh" and taken.status == "assigned"
    assert queue.assign_next("lan") is None


def test_assign_next_from_racing_threads_assigns_each_handoff_once(queue):
    for i in range(20):
        queue.enqueue(f"web:many{i}", "web", "request_human")
    taken, barrier = [], threading.Barrier(4)

    def take(agent):
        barrier.wait()
        while (h := queue.assign_next(agent)) is not None:
            taken.append(h.id)

    threads = [threading.Thread(target=take, args=(f"a{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == sorted(set(taken)) and len(taken) == 20


async def test_with_auto_assign_an_agent_opening_the_console_takes_the_next_waiting_one(queue):
    import asyncio

    from handoff.service import HandoffService

    class FakeAssistant:
        def __init__(self):
            self.appended = []

        async def append(self, conversation_id, events):
            self.appended.append((conversation_id, [type(e).__name__ for e in events]))

    delivered = []

    async def deliver(conversation_id, messages):
        delivered.extend((conversation_id, m.custom) for m in messages)

    assistant = FakeAssistant()
    service = HandoffService(queue, assistant, deliver, auto_assign=True, hours="00:00-24:00")
    events = service.hub.subscribe()
    waiting = queue.enqueue("web:w1", "web", "request_human")
    # published from a worker thread, as the hand-off calls in the executor do
    await asyncio.get_running_loop().run_in_executor(None, service.hub.publish, {"type": "ping"})
    assert (await asyncio.wait_for(events.get(), 2)) == {"type": "ping"}

    taken = await service.assign_waiting("lan", "Lan")
    assert taken.id == waiting.id and queue.get(waiting.id).agent == "lan"
    assert assistant.appended == [("web:w1", ["ConversationPaused"])]
    assert delivered == [("web:w1", {"notice": "Nhân viên Lan đã tham gia cuộc trò chuyện."})]
    assert (await asyncio.wait_for(events.get(), 2))["handoff"]["status"] == "assigned"
    assert await service.assign_waiting("minh", "Minh") is None  # nothing left waiting
    service.auto_assign = False
    queue.enqueue("web:w2", "web", "request_human")
    assert await service.assign_waiting("minh", "Minh") is None  # off: agents claim by hand
