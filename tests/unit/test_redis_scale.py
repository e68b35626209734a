"""The Redis pieces of scaling out, against the local Redis (skipped with the reason when none
answers at CSKH_TEST_REDIS_URL, default redis://127.0.0.1:6379/0): the lock store shared by
replicas, and the live events between them."""
from __future__ import annotations

import asyncio
import os
import secrets
import threading
import time

import pytest

from cskh.locks import AtomicRedisLockStore, lock_store
from cskh.events import Events, RedisEvents, make_events

URL = os.environ.get("CSKH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module", autouse=True)
def redis_up():
    import redis

    try:
        redis.Redis.from_url(URL, socket_connect_timeout=2).ping()
    except Exception as error:
        pytest.skip(f"Redis not reachable at {URL}: {type(error).__name__}")


@pytest.fixture
def prefix():
    return "test" + secrets.token_hex(4)


def test_lock_store_setting_picks_the_store():
    from rasa.core.lock_store import InMemoryLockStore

    assert isinstance(lock_store(None), InMemoryLockStore)
    store = lock_store("redis://127.0.0.1:6379/3", "abc")
    assert isinstance(store, AtomicRedisLockStore)
    assert store.key_prefix.startswith("abc:")
    assert store.red.connection_pool.connection_kwargs["db"] == 3


def test_tickets_issued_at_once_by_two_replicas_are_all_different(prefix):
    stores = [lock_store(URL, prefix) for _ in range(4)]  # one per "replica": own connections
    conversation, issued, barrier = "race-" + secrets.token_hex(4), [], threading.Barrier(4)

    def issue(store):
        barrier.wait()
        for _ in range(25):
            issued.append(store.issue_ticket(conversation))

    threads = [threading.Thread(target=issue, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(issued) == list(range(100))  # Rasa's first ticket is 0
    finally:
        stores[0].red.delete(stores[0].key_prefix + conversation)


def _rasa_lock(store, conversation, tickets):
    """Write a lock as Rasa's own RedisLockStore does: tickets are (number, expires)."""
    from collections import deque

    from rasa.core.lock import Ticket, TicketLock
    from rasa.core.lock_store import RedisLockStore

    RedisLockStore.save_lock(store, TicketLock(conversation, deque(Ticket(n, e) for n, e in tickets)))


def _tickets(store, conversation):
    from rasa.core.lock_store import RedisLockStore

    lock = RedisLockStore.get_lock(store, conversation)  # read as Rasa reads it
    return None if lock is None else [(t.number, t.expires) for t in lock.tickets]


def test_the_scripts_change_locks_as_rasas_ticket_lock_does(prefix):
    store, conversation = lock_store(URL, prefix), "script-" + secrets.token_hex(4)
    try:
        assert store.issue_ticket(conversation, 30) == 0  # no lock yet: Rasa's first ticket is 0
        assert store.issue_ticket(conversation, 30) == 1
        (first, expires), (second, _) = _tickets(store, conversation)
        assert (first, second) == (0, 1) and abs(expires - (time.time() + 30)) < 1
        now = time.time()
        _rasa_lock(store, conversation, [(5, now - 1), (6, now + 30)])  # 5 expired, 6 is someone's
        number, lock = store._issue(conversation, 30)
        assert number == 7 and [n for n, _ in _tickets(store, conversation)] == [6, 7]
        assert lock.is_locked(7) and lock.now_serving == 6  # what `lock()` sees: wait behind 6
        store.cleanup(conversation, 7)
        assert [n for n, _ in _tickets(store, conversation)] == [6]  # someone else's ticket stays
        _rasa_lock(store, conversation, [(6, now + 30), (8, now - 1)])
        store.cleanup(conversation, 6)  # the last live ticket: the lock goes
        assert _tickets(store, conversation) is None
        _rasa_lock(store, conversation, [(3, now - 2), (4, now - 1)])
        assert store.issue_ticket(conversation, 30) == 0  # every ticket expired: numbering starts over
        store.cleanup(conversation, 42)  # a ticket that is not there changes nothing else
        assert [n for n, _ in _tickets(store, conversation)] == [0]
    finally:
        store.red.delete(store.key_prefix + conversation)


def test_a_message_takes_two_redis_round_trips_for_its_lock(prefix):
    store, conversation, sent = lock_store(URL, prefix), "trips-" + secrets.token_hex(4), []
    send = store.red.execute_command
    store.red.execute_command = lambda *args, **kwargs: sent.append(args[0]) or send(*args, **kwargs)

    async def message():
        async with store.lock(conversation):
            pass

    asyncio.run(message())  # the scripts are loaded on first use (EVALSHA fails once, then EVAL)
    sent.clear()
    asyncio.run(message())
    assert sent == ["EVALSHA", "EVALSHA"]
    assert store.get_lock(conversation) is None


def test_one_conversation_is_processed_one_message_at_a_time_across_replicas(prefix):
    conversation = "serial-" + secrets.token_hex(4)
    spans, errors = [], []

    def replica():
        store = lock_store(URL, prefix)

        async def handle():
            async with store.lock(conversation, lock_lifetime=30, wait_time_in_seconds=0.01):
                start = time.monotonic()
                await asyncio.sleep(0.05)
                spans.append((start, time.monotonic()))

        async def three_messages():
            await asyncio.wait_for(asyncio.gather(*(handle() for _ in range(3))), 30)

        try:
            asyncio.run(three_messages())
        except Exception as error:  # a LockError here is the bug this store fixes
            errors.append(error)

    threads = [threading.Thread(target=replica) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    spans.sort()
    assert len(spans) == 9
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:])), "two messages overlapped"
    assert lock_store(URL, prefix).get_lock(conversation) is None  # cleaned up


def test_a_waiter_on_the_survivor_is_served_after_a_dead_replicas_ticket_expires(prefix):
    """The dead replica's ticket and the waiter's were issued 20 ms apart and the waiter looks every
    0.5 s: with Rasa's store both had expired at its next look, and it waited forever."""
    dead, survivor = lock_store(URL, prefix), lock_store(URL, prefix)
    conversation = "dead-" + secrets.token_hex(4)

    async def wait_behind_the_dead():
        dead.issue_ticket(conversation, 0.6)  # then the replica died: it never cleans up
        await asyncio.sleep(0.02)
        start = time.monotonic()
        async with survivor.lock(conversation, lock_lifetime=0.6, wait_time_in_seconds=0.5):
            return time.monotonic() - start

    try:
        waited = asyncio.run(asyncio.wait_for(wait_behind_the_dead(), 5))
        assert 0.5 < waited < 5
        assert survivor.get_lock(conversation) is None
    finally:
        survivor.red.delete(survivor.key_prefix + conversation)


async def _until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_events_reach_the_other_replicas_only(prefix):
    a, b = RedisEvents(URL, prefix), RedisEvents(URL, prefix)
    got_a, got_b = [], []

    async def on_a(event):
        got_a.append(event)

    async def on_b(event):
        got_b.append(event)

    a.subscribe("console", on_a)
    b.subscribe("console", on_b)
    await a.start()
    await b.start()
    try:
        await _until(lambda: a.listening and b.listening)
        a.publish("console", {"type": "queue", "n": 1})
        await asyncio.get_running_loop().run_in_executor(None, a.publish, "console", {"type": "queue", "n": 2})
        await _until(lambda: len(got_b) == 2)
        assert got_b == [{"type": "queue", "n": 1}, {"type": "queue", "n": 2}]  # in order, from a thread too
        await asyncio.sleep(0.2)
        assert got_a == []
    finally:
        await a.stop()
        await b.stop()


async def test_mailbox_is_shared_between_replicas(prefix):
    a, b = RedisEvents(URL, prefix), RedisEvents(URL, prefix)
    await a.start()
    await b.start()
    try:
        first = await a.keep("box1", {"type": "notice", "text": "một"})
        await a.keep("box1", {"type": "notice", "text": "hai"})
        await b.forget("box1", first)  # delivered by a socket on b after all
        assert await b.take("box1") == [{"type": "notice", "text": "hai"}]
        assert await a.take("box1") == []
    finally:
        await a.stop()
        await b.stop()


async def test_redis_down_never_breaks_a_caller():
    events = RedisEvents("redis://127.0.0.1:1/0", "down")  # nothing listens on port 1

    async def handler(event):
        pass

    events.subscribe("web", handler)
    await events.start()
    try:
        events.publish("web", {"frame": {}})  # dropped, not raised
        token = await events.keep("box", {"type": "notice", "text": "x"})
        assert await events.take("box") == [{"type": "notice", "text": "x"}]  # kept in-process instead
        await events.forget("box", token)
        await asyncio.sleep(0.2)
        assert not events.listening
    finally:
        await events.stop()


async def test_in_process_events_are_the_default():
    events = make_events(None)
    assert type(events) is Events and not events.shared
    events.publish("web", {"x": 1})  # nobody else to tell
    token = await events.keep("b", {"n": 1})
    await events.keep("b", {"n": 2})
    await events.forget("b", token)
    assert await events.take("b") == [{"n": 2}]


# ---- rate limits shared by replicas ------------------------------------------------------------

def _limits(prefix: str, url: str = URL, **rates):
    from connectors.ratelimit import Limits
    from cskh.settings import Settings

    return Limits(Settings(rate_limit_url=url, redis_prefix=prefix, **rates))


def test_two_replicas_share_one_senders_bucket(prefix):
    a = _limits(prefix, rate_per_sender=6, rate_sender_burst=3, rate_per_ip=0)  # one token every 10 s
    b = _limits(prefix, rate_per_sender=6, rate_sender_burst=3, rate_per_ip=0)
    assert [replica.message("unit", sender="s") for replica in (a, b, a)] == [0.0, 0.0, 0.0]
    wait = b.message("unit", sender="s")  # the burst was spent across both replicas
    assert 9.0 < wait <= 10.0
    assert a.message("unit", sender="s") > 0 and a.sender.wait("s") > 0
    assert b.message("unit", sender="other") == 0.0  # keys are independent
    assert len(a.sender) == 0 and len(b.sender) == 0  # nothing was kept in either process


def test_the_shared_bucket_refills_on_redis_time_and_expires(prefix):
    import redis

    a = _limits(prefix, rate_per_sender=600, rate_sender_burst=2, rate_per_ip=0)  # ten tokens a second
    b = _limits(prefix, rate_per_sender=600, rate_sender_burst=2, rate_per_ip=0)
    assert a.message("unit", sender="r") == 0.0 and b.message("unit", sender="r") == 0.0
    assert 0 < a.message("unit", sender="r") <= 0.1
    time.sleep(0.15)
    assert b.message("unit", sender="r") == 0.0
    ttl = redis.Redis.from_url(URL).pttl(f"{prefix}:ratelimit:sender:r")
    assert 0 < ttl <= 1200  # gone once it would be full again (0.2 s) plus a second


def test_the_ip_first_rule_holds_in_redis(prefix):
    limits = _limits(prefix, rate_per_ip=60, rate_ip_burst=1, rate_per_sender=60, rate_sender_burst=1)
    assert limits.message("unit", ip="1.2.3.4", sender="s") == 0.0
    assert limits.message("unit", ip="1.2.3.4", sender="t") > 0  # the IP is out
    assert limits.message("unit", ip="5.6.7.8", sender="t") == 0.0  # t's token was not spent above
    assert limits.message("unit", ip="9.9.9.9", sender="t") > 0


def test_without_redis_each_process_limits_on_its_own(prefix, caplog):
    from tests.proxy import free_port

    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    limits = _limits(prefix, url=down, rate_per_sender=60, rate_sender_burst=2, rate_per_ip=0)
    started = time.monotonic()
    assert [limits.message("unit", sender="s") for _ in range(3)][:2] == [0.0, 0.0]
    assert limits.message("unit", sender="s") > 0  # limited in memory, not let through
    assert time.monotonic() - started < 2  # one failed connection, then Redis is not asked again for a while
    assert "Redis unavailable" in caplog.text and len(limits.sender) == 1
