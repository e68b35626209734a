"""Faults in the middle of customer traffic, against one real `cskh run` (two gateway workers, one
supervised action server) on PostgreSQL and Redis.

The service reaches PostgreSQL and Redis through TCP proxies (tests/proxy.py) that a test can cut:
every open connection closed and new ones refused, which is what a database restart or an
unreachable Redis looks like from the service. Scripted customers (cskh.load) keep talking through
the REST channel meanwhile. For each fault the tests check what the customers saw (an answer, or
a clear 503 "temporarily unavailable", never a 500 or a hang), that every message the service
acknowledged (HTTP 200 with replies) is in Rasa's tracker store, and that the service recovers by
itself. Killing a replica is in test_scale_out.py (it needs two).
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import threading
import time
from collections import Counter
from typing import List, Set, Tuple
from urllib.parse import urlparse

import httpx
import pytest
from sqlalchemy import create_engine, text

from cskh.load import Plan, Tally, run
from tests.integration.conftest import SERVICE_ENV, TELEGRAM_SECRET, TELEGRAM_TOKEN, start_service
from tests.integration.test_scale_out import served_model
from tests.proxy import Proxy
from tests.services import REDIS_URL, fresh_database, require_postgres, require_redis

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.redis]

ORDER_LOOKUP = ["kiểm tra đơn hàng giúp mình", "DH1002", "0912345678"]


class Service:
    def __init__(self, url: str, database: str, postgres: Proxy, redis: Proxy, log) -> None:
        self.url, self.database, self.postgres, self.redis, self.log = url, database, postgres, redis, log


@pytest.fixture(scope="module")
def service(tmp_path_factory, fake_telegram):
    require_postgres()
    require_redis()
    import redis as redis_client
    from sqlalchemy.engine import make_url

    work = tmp_path_factory.mktemp("faults")
    prefix = "faults" + secrets.token_hex(4)
    with fresh_database("cskh_faults") as database:
        real = make_url(database)
        redis_url = urlparse(REDIS_URL)
        with Proxy(real.host or "127.0.0.1", real.port or 5432) as postgres, \
                Proxy(redis_url.hostname or "127.0.0.1", redis_url.port or 6379) as redis:
            through = real.set(port=postgres.port).render_as_string(hide_password=False)
            redis_through = f"redis://127.0.0.1:{redis.port}/0"
            env = {"CSKH_DATABASE_URL": through, "CSKH_APP_DATABASE_URL": through, "CSKH_TRACKER_STORE_URL": through,
                   "CSKH_LOCK_STORE_URL": redis_through, "CSKH_EVENTS_URL": redis_through, "CSKH_REDIS_PREFIX": prefix,
                   "CSKH_MODEL_DIR": str(served_model(work / "models")),
                   "CSKH_WORKERS": "2",  # the deployment `make load` measures: two gateway workers
                   # Telegram on (its Bot API played by the fake): webhook messages are swept every second
                   "CSKH_TELEGRAM_TOKEN": TELEGRAM_TOKEN, "CSKH_TELEGRAM_SECRET": TELEGRAM_SECRET,
                   "CSKH_TELEGRAM_API_URL": fake_telegram.url, "CSKH_RECOVERY_SECONDS": "1"}
            (work / "svc").mkdir()
            try:
                with start_service(work / "svc", env) as url:
                    yield Service(url, database, postgres, redis, work / "svc" / "service.log")
            finally:
                client = redis_client.Redis.from_url(REDIS_URL)
                for key in client.scan_iter(f"{prefix}:*"):
                    client.delete(key)


def say(service: Service, sender: str, message: str) -> httpx.Response:
    return httpx.post(f"{service.url}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=60)


def tracker_user_texts(database: str) -> Set[Tuple[str, str]]:
    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT sender_id, data FROM events WHERE type_name = 'user'"))
            return {(row.sender_id, json.loads(row.data)["text"]) for row in rows}
    finally:
        engine.dispose()


def load_during(service: Service, seconds: float, fault, conversations: int = 4) -> Tally:
    """Scripted customers for `seconds`; `fault()` runs in a thread after a third of it."""
    tally = Tally()
    timer = threading.Timer(seconds / 3, fault)
    timer.start()
    try:
        asyncio.run(run(Plan(service.url, "rest", conversations, seconds, timeout=60), tally))
    finally:
        timer.join()
    return tally


def check_outcomes(service: Service, tally: Tally) -> Counter:
    """No 500s, no hangs, no cross-talk; every acknowledged message is in the tracker store."""
    kinds = Counter(kind for _, _, kind in tally.outcomes)
    assert set(kinds) <= {"answered", "http 503"}, kinds
    assert tally.crossed == 0
    stored = tracker_user_texts(service.database)
    acknowledged = [(sender, message) for sender, message, kind in tally.outcomes if kind == "answered"]
    missing = [pair for pair in acknowledged if pair not in stored]
    assert not missing, missing[:5]
    return kinds


def order_lookup_works(service: Service) -> bool:
    sender = "after-" + secrets.token_hex(4)
    replies = [say(service, sender, m) for m in ORDER_LOOKUP]
    return all(r.status_code == 200 for r in replies) and "DH1002" in json.dumps(replies[-1].json(), ensure_ascii=False)


def test_killing_the_action_server_mid_load(service):
    port = SERVICE_ENV[service.url]["CSKH_ACTION_SERVER_URL"].rsplit(":", 1)[1].split("/")[0]
    killed: List[int] = []

    def kill() -> None:
        found = subprocess.run(["pgrep", "-f", f"cskh.action_server --actions bot.actions --port {port}"],
                               capture_output=True, text=True).stdout.split()
        for pid in found:
            os.kill(int(pid), signal.SIGKILL)
            killed.append(int(pid))

    tally = load_during(service, 18, kill)
    assert killed, "the action server was not found"
    kinds = check_outcomes(service, tally)
    print(f"\n[fault] action server killed mid-load: {dict(kinds)}")
    # the supervisor restarts it within the actions' retry window: customers at most waited longer
    assert kinds["answered"] >= 0.9 * sum(kinds.values()), kinds
    assert "restarting in" in service.log.read_text()
    assert order_lookup_works(service)


def test_redis_unavailable_then_back(service):
    sender = "redis-" + secrets.token_hex(4)
    assert say(service, sender, "xin chào shop").status_code == 200
    service.redis.cut()
    try:
        down = say(service, sender, "phí ship bao nhiêu vậy")
        assert down.status_code == 503 and "temporarily unavailable" in down.json()["error"]
        ready = httpx.get(f"{service.url}/ready", timeout=30)
        assert ready.status_code == 503 and any("lock store" in p for p in ready.json()["problems"])
        assert httpx.get(f"{service.url}/live", timeout=10).status_code == 200
    finally:
        service.redis.open()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        again = say(service, sender, "phí ship bao nhiêu vậy")
        if again.status_code == 200:
            break
        time.sleep(1)
    assert again.status_code == 200 and "500.000₫" in json.dumps(again.json(), ensure_ascii=False)
    assert httpx.get(f"{service.url}/ready", timeout=30).status_code == 200
    engine = create_engine(service.database)  # the message that failed was recorded, marked failed
    try:
        with engine.connect() as conn:
            statuses = [r.status for r in conn.execute(text(
                "SELECT status FROM inbound_messages WHERE conversation_id = :c ORDER BY id"), {"c": sender})]
    finally:
        engine.dispose()
    assert statuses[0] == "answered" and "failed" in statuses and statuses[-1] == "answered"


def test_postgres_restart_mid_load(service):
    def restart() -> None:  # what a restart does to clients: connections dropped, refused for a while
        service.postgres.cut()
        time.sleep(3)
        service.postgres.open()

    tally = load_during(service, 20, restart)
    kinds = check_outcomes(service, tally)
    print(f"\n[fault] PostgreSQL connections cut, refused 3 s: {dict(kinds)}")
    assert kinds["http 503"] and kinds["answered"] > kinds["http 503"], kinds
    assert [kind for _, _, kind in tally.outcomes[-12:]] == ["answered"] * 12  # recovered before the end
    assert order_lookup_works(service)  # recovered by itself: pools re-connect (pre-ping)
    assert httpx.get(f"{service.url}/ready", timeout=30).status_code == 200


def test_a_telegram_message_that_cannot_be_answered_goes_to_a_person(service, fake_telegram):
    """Redis is down: the webhook still says 200 (the message is recorded), the customer is told the
    system is busy; the sweep retries it, fails again, queues the conversation for a person and
    says so. Nothing is silently dropped."""
    from connectors.background import BUSY
    from cskh.recovery import SORRY
    from tests.integration.test_telegram import chat_id, text_update

    chat = chat_id()
    service.redis.cut()
    try:
        webhook = httpx.post(f"{service.url}/webhooks/telegram", json=text_update(chat, "phí ship bao nhiêu vậy"),
                             headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}, timeout=30)
        assert webhook.status_code == 200
        texts = [m["text"] for m in fake_telegram.wait_sent(chat, count=2, timeout=60)]
    finally:
        service.redis.open()
    assert texts[:2] == [BUSY, SORRY], texts  # the sweep retries a failed message 5 s after it came
    engine = create_engine(service.database)
    try:
        with engine.connect() as conn:
            status = conn.execute(text("SELECT status FROM inbound_messages WHERE conversation_id = :c"),
                                  {"c": f"telegram:{chat}"}).scalar_one()
            reason = conn.execute(text("SELECT reason FROM handoffs WHERE conversation_id = :c"),
                                  {"c": f"telegram:{chat}"}).scalar_one()
    finally:
        engine.dispose()
    assert (status, reason) == ("abandoned", "system_error")
