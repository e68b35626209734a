"""Two gateway replicas on one shared PostgreSQL database and one Redis, as behind a load balancer
without sticky sessions: conversations move between replicas message by message, one
conversation's messages are processed one at a time wherever they arrive (Rasa's lock store in
Redis), agents on one replica serve customers connected to the other (Redis pub/sub), and KB
edits made on one replica are answered on the other.

Each replica is a real `cskh run` (gateway + its own action server). Skipped, with the reason,
when PostgreSQL or Redis does not answer; both run here and in CI.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import httpx
import pytest
import websockets
from sqlalchemy import create_engine, text

from tests.integration.conftest import ADMIN_TOKEN, ROOT, start_service
from tests.integration.test_handoff import Agent
from tests.integration.test_web import frames_until_ack, ws_url
from tests.services import REDIS_URL, fresh_database, require_postgres, require_redis

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.redis]
LOCK_LIFETIME = 15  # Rasa's TICKET_LOCK_LIFETIME for these replicas (Rasa's default: 60 s), as the README advises


@dataclass
class Replicas:
    a: str
    b: str
    database: str


def served_model(into: Path) -> Path:
    """Both replicas serve the same file: the newest model (a training elsewhere may add one)."""
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        pytest.skip("no trained model in models/ (make test trains one first)")
    into.mkdir()
    (into / models[-1].name).symlink_to(models[-1])
    return into


@pytest.fixture(scope="module")
def replicas(tmp_path_factory) -> Replicas:
    require_postgres()
    require_redis()
    import redis

    work = tmp_path_factory.mktemp("scale")
    prefix = "scale" + secrets.token_hex(4)  # this run's Redis keys and channels
    with fresh_database() as database:
        shared = {"CSKH_DATABASE_URL": database, "CSKH_APP_DATABASE_URL": database,
                  "CSKH_TRACKER_STORE_URL": database, "CSKH_LOCK_STORE_URL": REDIS_URL,
                  "CSKH_EVENTS_URL": REDIS_URL, "CSKH_REDIS_PREFIX": prefix,
                  "CSKH_MODEL_DIR": str(served_model(work / "models")), "CSKH_KB_POLL_SECONDS": "5",
                  "TICKET_LOCK_LIFETIME": str(LOCK_LIFETIME)}
        (work / "a").mkdir()
        (work / "b").mkdir()
        try:
            with start_service(work / "a", shared) as a, start_service(work / "b", shared, prepare=False) as b:
                yield Replicas(a, b, database)
        finally:
            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(f"{prefix}:*"):
                client.delete(key)


def say(url: str, sender: str, message: str) -> List[Dict]:
    response = httpx.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=90)
    assert response.status_code == 200, response.text
    return response.json()


def texts(replies: List[Dict]) -> List[str]:
    return [r["text"] for r in replies if r.get("text")]


def tracker_events(database: str, sender: str) -> List[Dict]:
    """The conversation as Rasa's SQL tracker store holds it, in its own order (by id)."""
    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender})
            return [json.loads(row.data) for row in rows]
    finally:
        engine.dispose()


def turns(events: List[Dict]) -> List[tuple]:
    """[(user text, [bot texts that followed it])] in tracker order."""
    result: List[tuple] = []
    for event in events:
        if event["event"] == "user":
            result.append((event["text"], []))
        elif event["event"] == "bot" and event.get("text") and result:
            result[-1][1].append(event["text"])
    return result


def test_a_conversation_alternating_between_replicas_stays_consistent(replicas):
    sender = "alt-" + secrets.token_hex(4)
    first = say(replicas.a, sender, "tôi muốn kiểm tra đơn hàng")
    assert "mã đơn" in " ".join(texts(first)).lower()
    second = say(replicas.b, sender, "DH1001")          # the form goes on on the other replica
    assert "số điện thoại" in " ".join(texts(second)).lower()
    third = say(replicas.a, sender, "0901234567")      # and back
    answer = " ".join(texts(third))
    assert "DH1001" in answer and "Chờ xác nhận" in answer and "Nova X5" in answer

    events = tracker_events(replicas.database, sender)
    assert turns(events) == [("tôi muốn kiểm tra đơn hàng", texts(first)), ("DH1001", texts(second)),
                             ("0901234567", texts(third))]
    assert sum(e["event"] == "action" and e["name"] == "action_session_start" for e in events) == 1
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)


def test_two_messages_of_one_conversation_at_two_replicas_are_processed_one_after_the_other(replicas):
    waited = []
    for round_ in range(3):
        sender = f"race{round_}-" + secrets.token_hex(4)
        say(replicas.a, sender, "xin chào")  # the session exists: both messages below are plain turns
        messages = {"phí ship bao nhiêu vậy shop": replicas.a, "shop có bảo hành không": replicas.b}

        def timed(item):
            message, url = item
            started = time.monotonic()
            replies = say(url, sender, message)
            return message, texts(replies), time.monotonic() - started

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(timed, messages.items()))
        answered = {message: replies for message, replies, _ in results}
        assert all(answered.values()), answered  # both answered
        waited.append(max(seconds for *_, seconds in results))

        history = turns(tracker_events(replicas.database, sender))
        assert [user for user, _ in history][0] == "xin chào"
        later = history[1:]
        # each message once, each followed by exactly its own answer: one ran after the other
        assert sorted(user for user, _ in later) == sorted(messages)
        assert all(bot == answered[user] for user, bot in later), (later, answered)
    # Rasa's lock makes the later message wait (it retries every second): seen at least once
    assert max(waited) >= 0.9, waited


async def _next_event(socket, match, timeout: float = 20.0) -> Dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), max(0.1, deadline - time.monotonic())))
        if match(frame):
            return frame


async def test_an_agent_on_one_replica_serves_a_widget_customer_on_the_other(replicas):
    conversation = "scale-" + secrets.token_hex(6)
    lan = Agent(replicas.b, "lan")  # logged in on B; the customer's widget is connected to A
    cookie = f"cskh_session={lan.http.cookies.get('cskh_session')}"
    console_url = replicas.b.replace("http://", "ws://") + "/api/agent/live"
    async with websockets.connect(console_url, extra_headers={"Cookie": cookie}) as console, \
            websockets.connect(ws_url(replicas.a, conversation)) as widget:
        await widget.send(json.dumps({"type": "message", "text": "cho mình gặp nhân viên tư vấn", "id": "h-1"}))
        frames = await frames_until_ack(widget, "h-1")
        assert any("vị trí số" in (f.get("text") or "") for f in frames)

        queued = await _next_event(console, lambda e: e.get("type") == "queue"
                                   and e["handoff"]["conversation_id"] == f"web:{conversation}")
        handoff_id = queued["handoff"]["id"]
        assert queued["handoff"]["status"] == "queued"
        assert any(i["id"] == handoff_id for i in lan.http.get("/api/agent/queue").json()["items"])

        assert lan.post(f"/api/agent/handoffs/{handoff_id}/claim").status_code == 200
        notice = await _next_event(widget, lambda f: f["type"] == "notice")
        assert notice["text"] == "Nhân viên Lan đã tham gia cuộc trò chuyện."

        assert lan.post(f"/api/agent/handoffs/{handoff_id}/reply",
                        json={"text": "Dạ em là Lan, em hỗ trợ anh/chị ạ"}).status_code == 200
        reply = await _next_event(widget, lambda f: f["type"] == "message" and f.get("custom", {}).get("agent"))
        assert reply["text"] == "Dạ em là Lan, em hỗ trợ anh/chị ạ" and reply["custom"] == {"agent": "Lan"}

        await widget.send(json.dumps({"type": "message", "text": "em ơi đơn của chị đâu rồi", "id": "h-2"}))
        said = await _next_event(console, lambda e: e.get("type") == "customer_message"
                                 and e["text"] == "em ơi đơn của chị đâu rồi")
        assert said["handoff_id"] == handoff_id

        assert lan.post(f"/api/agent/handoffs/{handoff_id}/resolve").status_code == 200
        csat = await _next_event(widget, lambda f: f["type"] == "message" and "chấm điểm" in f.get("text", ""))
        assert [b["payload"] for b in csat["buttons"]] == ["1", "2", "3", "4", "5"]


def test_a_rest_customer_gets_the_reply_of_an_agent_on_the_other_replica(replicas):
    sender = "rest-" + secrets.token_hex(4)
    replies = say(replicas.b, sender, "cho mình gặp nhân viên tư vấn")
    assert "vị trí số" in " ".join(texts(replies))
    minh = Agent(replicas.a, "minh")
    item = minh.waiting_for(sender)
    assert minh.post(f"/api/agent/handoffs/{item['id']}/claim").status_code == 200
    assert minh.post(f"/api/agent/handoffs/{item['id']}/reply", json={"text": "Dạ em Minh đây ạ"}).status_code == 200
    # REST clients receive agent messages with their next request, on whichever replica it lands
    replies = say(replicas.b, sender, "alo em")
    assert {"recipient_id": sender, "custom": {"notice": "Nhân viên Minh đã tham gia cuộc trò chuyện."}} in replies
    assert any(r.get("text") == "Dạ em Minh đây ạ" for r in replies)
    assert say(replicas.a, sender, "còn đó không em") == []  # taken once; the bot stays quiet
    assert minh.post(f"/api/agent/handoffs/{item['id']}/handback").status_code == 200


GIFT = {"id": "scale-gift-wrap", "questions": {"vi": ["shop có gói quà tặng không", "gói quà sinh nhật được không"]},
        "answer": {"vi": "Dạ, shop gói quà miễn phí cho mọi đơn hàng ạ."}, "tags": ["gift"]}
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _top_hit(url: str, question: str) -> str:
    hits = httpx.post(f"{url}/kb/search", json={"text": question, "top_k": 1}, timeout=30).json()["hits"]
    return hits[0]["id"] if hits else ""


def _until(condition, timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not within {timeout} s"
        time.sleep(0.2)
    return time.monotonic() - started


def test_a_kb_entry_added_on_one_replica_is_answered_on_the_other(replicas):
    assert httpx.post(f"{replicas.a}/admin/kb/entries", json=GIFT, headers=AUTH).status_code == 201
    took = _until(lambda: _top_hit(replicas.b, "shop co goi qua khong") == GIFT["id"], timeout=10)
    print(f"KB entry searchable on the other replica after {took:.2f} s")
    answer = " ".join(texts(say(replicas.b, "kb-" + secrets.token_hex(4), "shop có gói quà tặng không ạ?")))
    assert "gói quà miễn phí" in answer

    assert httpx.delete(f"{replicas.a}/admin/kb/entries/{GIFT['id']}", headers=AUTH).status_code == 204
    _until(lambda: _top_hit(replicas.b, "shop có gói quà tặng không") != GIFT["id"], timeout=10)
    assert httpx.get(f"{replicas.b}/admin/kb/entries/{GIFT['id']}", headers=AUTH).status_code == 404


# ---- a replica dies mid-load (the last test: replica a stays dead) ----------------------------

SCRIPT = ["xin chào shop", "kiểm tra đơn hàng giúp mình", "DH1002", "0912345678", "phí ship bao nhiêu vậy"]


def kill_replica(url: str) -> None:
    """SIGKILL the replica's `cskh run` and its action server: a crashed machine, no clean-up."""
    import psutil

    from tests.integration.conftest import SERVICE_PROCESS

    root = psutil.Process(SERVICE_PROCESS[url].pid)
    for process in [*root.children(recursive=True), root]:
        process.kill()


async def _customer(replicas: Replicas, sender: str, until: float, log: List[tuple]) -> None:
    """Sends to replica a, and on a connection failure sends the same message to b (what a load
    balancer does when a backend goes away). A message counts as acknowledged once answered."""
    async with httpx.AsyncClient(timeout=120) as client:
        while time.monotonic() < until:
            for message in SCRIPT:
                failures = []
                for url in (replicas.a, replicas.b):
                    started = time.monotonic()
                    try:
                        response = await client.post(f"{url}/webhooks/rest/webhook",
                                                     json={"sender": sender, "message": message})
                    except httpx.TransportError as error:
                        failures.append(f"{url}: {type(error).__name__} after {time.monotonic() - started:.1f} s")
                        continue  # the replica is gone: the balancer retries on the other one
                    log.append((sender, message, response.status_code, url, response.json(),
                                time.monotonic() - started))
                    break
                else:
                    log.append((sender, message, "unreachable", "", failures, 0.0))


def test_killing_a_replica_mid_load_loses_no_acknowledged_message(replicas):
    log: List[tuple] = []
    senders = ["kill-" + secrets.token_hex(4) for _ in range(4)]

    async def scenario():
        until = time.monotonic() + 30
        customers = [asyncio.ensure_future(_customer(replicas, s, until, log)) for s in senders]
        await asyncio.sleep(8)
        await asyncio.get_running_loop().run_in_executor(None, kill_replica, replicas.a)
        await asyncio.gather(*customers)

    asyncio.run(scenario())
    # Never a 5xx, and every conversation is answered: the one whose message was in flight on the killed replica waits
    # for that replica's ticket to expire, then goes on (cskh/locks.py: with Rasa's own lock store it
    # could wait forever, which is how this test once failed in CI).
    assert all(e[2] == 200 for e in log), [e for e in log if e[2] != 200][:5]
    on_b = [e for e in log if e[3] == replicas.b]
    assert on_b, "nothing moved to replica b"
    for sender in senders:  # every acknowledged message is in the shared tracker, answered
        stored = [user for user, _ in turns(tracker_events(replicas.database, sender))]
        acknowledged = [e[1] for e in log if e[0] == sender]
        assert all(message in stored for message in acknowledged), (sender, acknowledged, stored)
    # conversations carried on on b: the order verified on a is remembered there (asking again
    # shows it at once), and fresh lookups there find it
    for sender in senders:
        mine = [e for e in on_b if e[0] == sender and e[1] in ("kiểm tra đơn hàng giúp mình", "0912345678")]
        assert any("DH1002" in json.dumps(e[4], ensure_ascii=False) for e in mine), (sender, mine)
    waited = max(e[5] for e in on_b)
    print(f"\n[fault] replica killed mid-load: {len(log)} messages answered, {len(on_b)} by the survivor, "
          f"{sum(1 for e in log if e[3] == replicas.a)} by the killed one before it died; longest answer on the "
          f"survivor {waited:.1f} s (a conversation whose lock the dead replica held waits for the lock's lifetime, "
          f"TICKET_LOCK_LIFETIME={LOCK_LIFETIME} s)")
