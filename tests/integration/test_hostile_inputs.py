"""Every case of tests/data/hostile_inputs.jsonl against the real service (with its Telegram and
Zalo channels on, their platforms played by the fakes): never a 5xx, never a dropped connection;
"4xx" cases get a 4xx with a JSON reason, "polite" ones a 200 and a Vietnamese reply, "ok" ones
a 2xx JSON answer. The corpus is written by scripts/gen_hostile_inputs.py."""
import asyncio
import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

import httpx
import pytest
import websockets

from tests.integration.conftest import ADMIN_TOKEN, PASSWORD, TELEGRAM_SECRET, ZALO_APP_ID, ZALO_OA_SECRET

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile_inputs.jsonl"
CASES: List[Dict[str, Any]] = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
VIETNAMESE = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]", re.IGNORECASE)


def test_the_corpus_covers_every_endpoint_with_enough_cases():
    assert len(CASES) >= 60 and len({c["id"] for c in CASES}) == len(CASES)
    endpoints = {c["endpoint"].split("?")[0] for c in CASES}
    for prefix in ("/webhooks/rest/webhook", "/api/web/messages", "/api/web/history", "/ws/chat", "/webhooks/telegram",
                   "/webhooks/zalo", "/kb/search", "/admin/kb/entries", "/agent/login", "/api/agent/", "/api/admin/",
                   "/internal/handoffs", "/metrics", "/agent/static/"):
        assert any(e.startswith(prefix) for e in endpoints), prefix
    assert {c["expect"] for c in CASES} <= {"4xx", "polite", "ok"}


def vietnamese(text: Optional[str]) -> bool:
    return bool(text and text.strip() and VIETNAMESE.search(text))


@pytest.fixture(scope="module")
def sessions(channel_server) -> Dict[str, str]:
    """Console sessions for the placeholders: an agent (lan) and a lead (thu)."""
    values = {"{ADMIN_TOKEN}": ADMIN_TOKEN, "{TELEGRAM_SECRET}": TELEGRAM_SECRET}
    for name, user in (("AGENT", "lan"), ("LEAD", "thu")):
        with httpx.Client(base_url=channel_server.url, timeout=30) as client:
            login = client.post("/agent/login", data={"username": user, "password": PASSWORD})
            assert login.status_code == 303, login.text
            token = client.cookies["cskh_session"]
            csrf = client.get("/api/agent/me").json()["csrf"]
        values[f"{{{name}_COOKIE}}"] = f"cskh_session={token}"
        values[f"{{{name}_CSRF}}"] = csrf
    return values


def body_of(case: Dict[str, Any]) -> bytes:
    if "body_b64" in case:
        return base64.b64decode(case["body_b64"])
    return case.get("body", "").encode("utf-8")


def headers_of(case: Dict[str, Any], values: Dict[str, str], body: bytes) -> Dict[str, str]:
    headers = {}
    for name, value in case["headers"].items():
        for placeholder, real in values.items():
            value = value.replace(placeholder, real)
        if "{ZALO_MAC}" in value:
            try:
                timestamp = str(json.loads(body).get("timestamp"))
            except (ValueError, AttributeError, RecursionError):
                timestamp = "0"
            mac = hashlib.sha256(ZALO_APP_ID.encode() + body + timestamp.encode() + ZALO_OA_SECRET.encode()).hexdigest()
            value = value.replace("{ZALO_MAC}", mac)
        headers[name] = value
    return headers


def reason_of(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        raise AssertionError(f"{response.status_code} without a JSON reason: {response.text[:200]!r}")
    reason = data.get("error") or data.get("detail") if isinstance(data, dict) else None
    assert reason, f"{response.status_code} without a reason: {data!r}"
    return str(reason)


def replies_of(case: Dict[str, Any], response: httpx.Response) -> List[str]:
    data = response.json()
    if case["endpoint"].startswith("/webhooks/rest"):
        return [r.get("text", "") for r in data]
    return [f.get("text", "") for f in data["messages"] if f.get("type") == "message" and f.get("from") != "user"]


def platform_reply(case: Dict[str, Any], fake_telegram, fake_zalo) -> str:
    event = json.loads(body_of(case))
    if case["endpoint"] == "/webhooks/telegram":
        chat = event["message"]["chat"]["id"]
        return "\n".join(m["text"] for m in fake_telegram.wait_sent(chat, timeout=60))
    user = event["sender"]["id"]
    return "\n".join(c.body["message"]["text"] for c in fake_zalo.wait_delivered(user, timeout=60))


HTTP_CASES = [c for c in CASES if c["method"] != "WS"]
WS_CASES = [c for c in CASES if c["method"] == "WS"]


@pytest.mark.parametrize("case", HTTP_CASES, ids=[c["id"] for c in HTTP_CASES])
def test_http_case(case, channel_server, sessions, fake_telegram, fake_zalo):
    body = body_of(case)
    headers = headers_of(case, sessions, body)
    with httpx.Client(base_url=channel_server.url, timeout=60, follow_redirects=False) as client:
        try:
            response = client.request(case["method"], case["endpoint"], content=body or None, headers=headers)
        except httpx.HTTPError as dropped:
            pytest.fail(f"connection dropped: {type(dropped).__name__}: {dropped}")
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    if case["expect"] == "4xx":
        assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
        reason_of(response)
    elif case["expect"] == "ok":
        assert 200 <= response.status_code < 300, f"{response.status_code}: {response.text[:300]}"
        response.json()
    else:
        assert response.status_code == 200, f"{response.status_code}: {response.text[:300]}"
        if case["endpoint"] in ("/webhooks/telegram", "/webhooks/zalo"):
            assert response.json()["ok"] is True
            reply = platform_reply(case, fake_telegram, fake_zalo)
        else:
            reply = "\n".join(replies_of(case, response))
        assert vietnamese(reply), f"not a Vietnamese reply: {reply!r}"


async def ws_exchange(url: str, case: Dict[str, Any], headers: Dict[str, str]) -> Dict[str, Any]:
    """Connect, send the frame, read until the answer; what happened, for the assertions."""
    try:
        socket = await websockets.connect(url, extra_headers=headers, max_size=2**22, open_timeout=30)
    except websockets.exceptions.InvalidStatusCode as refused:
        return {"refused": refused.status_code}
    try:
        if "body_b64" in case:
            await socket.send(base64.b64decode(case["body_b64"]))
        else:
            await socket.send(case["body"])
        frames = []
        while True:
            try:
                frame = json.loads(await asyncio.wait_for(socket.recv(), 60))
            except websockets.exceptions.ConnectionClosed as closed:
                return {"closed": closed.code, "frames": frames}
            frames.append(frame)
            if frame["type"] in ("ack", "error"):
                break
        # the socket must still be usable after a bad frame
        await socket.send(json.dumps({"type": "message", "text": "xin chào", "id": "after-1"}))
        while True:
            frame = json.loads(await asyncio.wait_for(socket.recv(), 60))
            if frame["type"] == "ack" and frame.get("id") == "after-1":
                return {"frames": frames, "still_open": True}
    finally:
        await socket.close()


@pytest.mark.parametrize("case", WS_CASES, ids=[c["id"] for c in WS_CASES])
async def test_websocket_case(case, channel_server, sessions):
    body = body_of(case)
    url = channel_server.url.replace("http://", "ws://") + case["endpoint"]
    outcome = await ws_exchange(url, case, headers_of(case, sessions, body))
    assert "closed" not in outcome, f"socket dropped: {outcome}"
    if case["expect"] == "4xx":
        if "refused" in outcome:
            assert 400 <= outcome["refused"] < 500
        else:
            errors = [f for f in outcome["frames"] if f["type"] == "error"]
            assert errors and errors[0]["reason"], outcome
            assert outcome["still_open"]
    else:
        assert "refused" not in outcome, outcome
        texts = [f.get("text") for f in outcome["frames"] if f["type"] == "message" and f.get("from") != "user"]
        assert any(vietnamese(t) for t in texts), outcome


def test_nothing_answered_500_meanwhile(channel_server):
    """The service's own count: no request of this module (or any other) got a 5xx."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{channel_server.url}/metrics", timeout=30).text
    bad = [(s.labels, s.value) for f in text_string_to_metric_families(text) if f.name == "cskh_http_requests"
           for s in f.samples if s.name.endswith("_total") and s.labels["status"].startswith("5") and s.value]
    assert not bad, bad
