"""Token buckets, and the channels' answers over the limit (429 + Retry-After, a polite WebSocket
reply), on a small app with the real routers and a stand-in conversation service."""
import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from connectors import ratelimit, rest, web
from connectors.messages import OutboundMessage
from connectors.ratelimit import Limits, TokenBucket
from cskh import metrics
from cskh.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_the_burst_then_refills_at_the_rate():
    clock = Clock()
    bucket = TokenBucket(per_minute=60, burst=3, clock=clock)  # one token a second
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = bucket.take("a")
    assert wait == pytest.approx(1.0)
    assert bucket.take("b") == 0.0  # keys are independent
    clock.now += 0.5
    assert bucket.take("a") == pytest.approx(0.5)  # refused attempts do not spend anything
    clock.now += 0.5
    assert bucket.take("a") == 0.0
    clock.now += 3600
    assert [bucket.take("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # never more than the burst


def test_wait_only_looks():
    clock = Clock()
    bucket = TokenBucket(per_minute=6, burst=1, clock=clock)
    assert bucket.wait("a") == 0.0 and bucket.wait("a") == 0.0
    bucket.take("a")
    assert bucket.wait("a") == pytest.approx(10.0)


def test_zero_disables_a_bucket():
    bucket = TokenBucket(per_minute=0, burst=1)
    assert not bucket.enabled
    assert all(bucket.take("a") == 0.0 for _ in range(1000)) and len(bucket) == 0


def test_memory_is_bounded_by_forgetting_the_least_recent_keys():
    bucket = TokenBucket(per_minute=60, burst=5, max_keys=100)
    for n in range(1000):
        bucket.take(f"k{n}")
    assert len(bucket) == 100


def test_the_ip_is_checked_first_and_a_refusal_spends_no_sender_token():
    clock = Clock()
    limits = Limits(Settings(rate_per_ip=60, rate_ip_burst=1, rate_per_sender=60, rate_sender_burst=1), clock=clock)
    before = metrics.sample("cskh_rate_limited_total", {"endpoint": "unit", "scope": "ip"})
    assert limits.message("unit", ip="1.2.3.4", sender="s") == 0.0
    assert limits.message("unit", ip="1.2.3.4", sender="t") > 0  # the IP is out
    assert metrics.sample("cskh_rate_limited_total", {"endpoint": "unit", "scope": "ip"}) == before + 1
    assert limits.message("unit", ip="5.6.7.8", sender="t") == 0.0  # t's token was not spent above
    assert limits.message("unit", ip="9.9.9.9", sender="t") > 0      # now t is out, whatever the IP


def test_retry_after_is_a_whole_number_of_seconds_at_least_one():
    assert ratelimit.retry_after(0.01) == 1 and ratelimit.retry_after(2.2) == 3


# ---- through the routers --------------------------------------------------------------------------

class FakeConversations:
    def __init__(self) -> None:
        self.seen = []

    async def handle(self, message, recorded=None):
        self.seen.append(message)
        return [OutboundMessage(message.conversation_id, "Dạ, em chào anh/chị ạ.")]


@pytest.fixture
def app():
    app = FastAPI()
    app.include_router(rest.router)
    app.include_router(web.router)
    app.state.conversations = FakeConversations()
    app.state.limits = Limits(Settings(rate_per_sender=60, rate_sender_burst=2, rate_per_ip=600, rate_ip_burst=100))
    return app


def test_rest_over_the_sender_limit_is_429_with_retry_after(app):
    client = TestClient(app)
    codes = [client.post("/webhooks/rest/webhook", json={"sender": "flood", "message": "hi"}).status_code
             for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = client.post("/webhooks/rest/webhook", json={"sender": "flood", "message": "hi"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"] and refused.json()["retry_after"] >= 1
    assert client.post("/webhooks/rest/webhook", json={"sender": "calm", "message": "hi"}).status_code == 200
    assert len(app.state.conversations.seen) == 3  # refused messages never reach the assistant


def test_rest_over_the_ip_limit_is_429_before_the_body_is_read(app):
    app.state.limits = Limits(Settings(rate_per_sender=0, rate_per_ip=60, rate_ip_burst=1))
    client = TestClient(app)
    assert client.post("/webhooks/rest/webhook", json={"sender": "a", "message": "hi"}).status_code == 200
    refused = client.post("/webhooks/rest/webhook", content=b"not even json")
    assert refused.status_code == 429 and "retry-after" in refused.headers


def test_the_widget_rest_fallback_gets_the_polite_reason_with_cors(app):
    client = TestClient(app)
    body = {"conversation": "c-1", "text": "xin chào"}
    codes = [client.post("/api/web/messages", json=body).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = client.post("/api/web/messages", json=body)
    assert refused.json()["error"] == ratelimit.POLITE
    assert refused.headers["access-control-allow-origin"] == "*" and refused.headers["retry-after"]


def test_the_websocket_answers_politely_and_acknowledges(app):
    client = TestClient(app)
    with client.websocket_connect("/ws/chat?conversation=ws-1") as socket:
        for n in range(2):
            socket.send_text(json.dumps({"type": "message", "text": "xin chào", "id": f"m{n}"}))
            frames = [socket.receive_json() for _ in range(4)]
            assert frames[-1] == {"type": "ack", "id": f"m{n}", "duplicate": False}
        socket.send_text(json.dumps({"type": "message", "text": "xin chào", "id": "m2"}))
        polite, ack = socket.receive_json(), socket.receive_json()
        assert polite["type"] == "message" and polite["text"] == ratelimit.POLITE and polite["reply_to"] == "m2"
        assert polite["custom"]["rate_limited"] is True and ack["id"] == "m2" and ack["rate_limited"] is True
        socket.send_text("garbage, over the limit too")  # no id to acknowledge: the polite reply only
        assert socket.receive_json()["text"] == ratelimit.POLITE
    assert len(app.state.conversations.seen) == 2


def test_a_binary_websocket_frame_is_read_as_text_or_refused_with_a_reason(app):
    client = TestClient(app)
    with client.websocket_connect("/ws/chat?conversation=ws-2") as socket:
        socket.send_bytes(b"\xff\xfe")
        assert socket.receive_json() == {"type": "error", "reason": "frames must be UTF-8 JSON text"}
        socket.send_bytes(json.dumps({"type": "message", "text": "chào", "id": "b1"}).encode())
        frames = [socket.receive_json() for _ in range(4)]
        assert frames[-1]["type"] == "ack"
