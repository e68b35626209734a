"""Rate limits (and JSON logs) on a service of their own with low limits. Each test poses as its own client
address through X-Forwarded-For (uvicorn trusts it from 127.0.0.1, as from a reverse proxy)."""
import asyncio
import itertools
import json
import time

import httpx
import pytest
import websockets

from connectors.ratelimit import POLITE
from tests.integration.conftest import (PASSWORD, TELEGRAM_SECRET, TELEGRAM_TOKEN, ZALO_APP_ID, ZALO_APP_SECRET,
                                        ZALO_OA_SECRET, start_service)

pytestmark = pytest.mark.integration
_ips = (f"203.0.113.{n}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def limited(trained_model, tmp_path_factory, fake_telegram, fake_zalo):
    env = {"CSKH_MODEL_DIR": str(trained_model), "CSKH_LOG_FORMAT": "json",
           "CSKH_RATE_PER_SENDER": "6", "CSKH_RATE_SENDER_BURST": "3",   # 3 at once, then one every 10 s
           "CSKH_RATE_PER_IP": "6", "CSKH_RATE_IP_BURST": "5",
           "CSKH_RATE_LOGIN_PER_IP": "1", "CSKH_RATE_LOGIN_BURST": "2",
           "CSKH_TELEGRAM_TOKEN": TELEGRAM_TOKEN, "CSKH_TELEGRAM_SECRET": TELEGRAM_SECRET,
           "CSKH_TELEGRAM_API_URL": fake_telegram.url,
           "CSKH_ZALO_APP_ID": ZALO_APP_ID, "CSKH_ZALO_OA_SECRET": ZALO_OA_SECRET,
           "CSKH_ZALO_ACCESS_TOKEN": fake_zalo.access_token, "CSKH_ZALO_REFRESH_TOKEN": fake_zalo.refresh_token,
           "CSKH_ZALO_APP_SECRET": ZALO_APP_SECRET, "CSKH_ZALO_API_URL": fake_zalo.url,
           "CSKH_ZALO_OAUTH_URL": fake_zalo.url}
    work = tmp_path_factory.mktemp("limited")
    with start_service(work, env) as url:
        LOG_FILES[url] = work / "service.log"
        yield url


LOG_FILES = {}  # service URL → its output file


def rest(url, sender, ip):
    return httpx.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": "xin chào"},
                      headers={"X-Forwarded-For": ip}, timeout=60)


def test_a_flooding_sender_gets_429_with_retry_after_and_others_are_served(limited):
    ip = next(_ips)
    codes = [rest(limited, "flood-1", ip).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = rest(limited, "flood-1", ip)
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 10
    assert "retry" in refused.json()["error"]
    assert rest(limited, "calm-1", next(_ips)).status_code == 200  # other customers are served
    metrics = httpx.get(f"{limited}/metrics", timeout=30).text
    assert 'cskh_rate_limited_total{endpoint="rest",scope="sender"}' in metrics


def test_one_address_with_many_senders_is_limited_by_ip(limited):
    ip = next(_ips)
    codes = [rest(limited, f"many-{n}", ip).status_code for n in range(6)]
    assert codes == [200] * 5 + [429]
    assert rest(limited, "many-0", next(_ips)).status_code == 200  # another address


async def test_the_widget_socket_answers_a_flood_politely(limited):
    url = limited.replace("http://", "ws://") + "/ws/chat?conversation=rate-ws-1"
    async with websockets.connect(url, extra_headers={"X-Forwarded-For": next(_ips)}) as socket:
        texts = []
        for n in range(4):
            await socket.send(json.dumps({"type": "message", "text": "xin chào", "id": f"r{n}"}))
            while True:
                frame = json.loads(await asyncio.wait_for(socket.recv(), 60))
                if frame["type"] == "message":
                    texts.append(frame["text"])
                if frame["type"] == "ack" and frame["id"] == f"r{n}":
                    break
        assert POLITE not in texts[:-1] and texts[-1] == POLITE and frame.get("rate_limited") is True


def test_brute_force_logins_are_refused_per_address(limited):
    ip = next(_ips)
    with httpx.Client(base_url=limited, timeout=30, headers={"X-Forwarded-For": ip}) as client:
        attempts = [client.post("/agent/login", data={"username": "lan", "password": f"guess-{n}"}).status_code
                    for n in range(3)]
        assert attempts == [303, 303, 429]
        blocked = client.post("/agent/login", data={"username": "lan", "password": PASSWORD})
        assert blocked.status_code == 429 and blocked.headers["retry-after"] and blocked.json()["error"]
    with httpx.Client(base_url=limited, timeout=30, headers={"X-Forwarded-For": next(_ips)}) as client:
        for _ in range(3):  # successful logins cost nothing
            assert client.post("/agent/login", data={"username": "lan", "password": PASSWORD}).status_code == 303


def test_telegram_and_zalo_floods_are_acknowledged_but_dropped(limited, fake_telegram, fake_zalo):
    import hashlib

    chat = 880_001
    outcomes = []
    for n in range(4):
        update = {"update_id": 920_000_000 + n, "message": {"message_id": n, "date": 1, "text": "xin chào",
                                                            "chat": {"id": chat, "type": "private"}}}
        response = httpx.post(f"{limited}/webhooks/telegram", json=update, timeout=30,
                              headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
        assert response.status_code == 200
        outcomes.append(response.json())
    assert [o.get("dropped") for o in outcomes] == [None, None, None, "rate_limited"]

    user, results = "88000000000000001", []
    for n in range(4):
        body = json.dumps({"app_id": ZALO_APP_ID, "event_name": "user_send_text", "sender": {"id": user},
                           "recipient": {"id": "1"}, "timestamp": str(int(time.time() * 1000)),
                           "message": {"msg_id": f"rate-{n}", "text": "xin chào"}}).encode()
        timestamp = json.loads(body)["timestamp"]
        mac = hashlib.sha256(ZALO_APP_ID.encode() + body + timestamp.encode() + ZALO_OA_SECRET.encode()).hexdigest()
        response = httpx.post(f"{limited}/webhooks/zalo", content=body, timeout=30,
                              headers={"X-ZEvent-Signature": f"mac={mac}", "Content-Type": "application/json"})
        assert response.status_code == 200
        results.append(response.json())
    assert [r.get("dropped") for r in results] == [None, None, None, "rate_limited"]
    fake_telegram.wait_sent(chat, count=3)
    time.sleep(2)
    assert len(fake_telegram.sent(chat)) == 3  # the dropped update was never answered


def test_the_service_logs_json_lines_with_the_conversation(limited):
    """CSKH_LOG_FORMAT=json: every line `cskh run` writes (the gateway's and the action server's,
    warnings included) is one JSON object; lines logged while a message was handled carry its
    conversation id."""
    time.sleep(1)
    lines = [line for line in LOG_FILES[limited].read_text(encoding="utf-8", errors="replace").splitlines() if line]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line: {line[:300]!r}")
    assert all({"time", "level", "logger", "message"} <= set(p) for p in parsed)
    assert any(p.get("conversation_id") == "flood-1" and p.get("channel") == "rest" for p in parsed)
    assert any(p["logger"] == "uvicorn.access" and p.get("status") == 429 for p in parsed)
    assert any(p["logger"].startswith("rasa_sdk") for p in parsed)  # the action server's lines
