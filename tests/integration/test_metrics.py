"""GET /metrics on the real service: messages by channel, reply latency, hand-offs by reason,
HTTP requests by route template, KB searches, the queue gauge and the model served."""
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration


def scrape(server):
    response = httpx.get(f"{server}/metrics", timeout=30)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def say(server, sender, text):
    response = httpx.post(f"{server}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_rest_message_is_counted_and_its_latency_observed(server):
    before = scrape(server)
    say(server, f"metrics-{uuid.uuid4().hex[:8]}", "xin chào")
    after = scrape(server)
    assert value(after, "cskh_messages_received_total", channel="rest") == \
        value(before, "cskh_messages_received_total", channel="rest") + 1
    assert value(after, "cskh_reply_latency_seconds_count", channel="rest") == \
        value(before, "cskh_reply_latency_seconds_count", channel="rest") + 1
    assert value(after, "cskh_reply_latency_seconds_sum", channel="rest") > \
        value(before, "cskh_reply_latency_seconds_sum", channel="rest")
    assert value(after, "cskh_reply_latency_seconds_bucket", channel="rest", le="+Inf") == \
        value(after, "cskh_reply_latency_seconds_count", channel="rest")
    route = dict(method="POST", route="/webhooks/rest/webhook", status="200")
    assert value(after, "cskh_http_requests_total", **route) >= value(before, "cskh_http_requests_total", **route) + 1


def test_a_handoff_increments_its_reason_and_the_queue_gauge(server):
    before = scrape(server)
    replies = say(server, f"metrics-human-{uuid.uuid4().hex[:8]}", "cho mình gặp nhân viên tư vấn")
    assert any((r.get("custom") or {}).get("handoff") for r in replies), replies
    after = scrape(server)
    assert value(after, "cskh_handoffs_started_total", reason="request_human") == \
        value(before, "cskh_handoffs_started_total", reason="request_human") + 1
    assert value(after, "cskh_handoff_queue_length") >= 1


def test_routes_are_labelled_by_template_not_by_raw_path(server):
    httpx.post(f"{server}/api/agent/handoffs/424242/claim", timeout=30)
    httpx.get(f"{server}/no/such/page/31337", timeout=30)
    samples = scrape(server)
    routes = {dict(labels)["route"] for (name, labels) in samples if name == "cskh_http_requests_total"}
    assert "/api/agent/handoffs/{handoff_id}/claim" in routes and "unmatched" in routes
    assert not any("424242" in r or "31337" in r for r in routes)


def test_kb_searches_and_the_model_are_exposed(server):
    before = scrape(server)
    httpx.post(f"{server}/kb/search", json={"text": "xổ số hôm nay mấy giờ", "top_k": 1}, timeout=30)
    after = scrape(server)
    assert value(after, "cskh_kb_searches_total", threshold="calibrated") == \
        value(before, "cskh_kb_searches_total", threshold="calibrated") + 1
    assert value(after, "cskh_kb_abstentions_total", threshold="calibrated") == \
        value(before, "cskh_kb_abstentions_total", threshold="calibrated") + 1  # a lottery question: no answer
    model = httpx.get(f"{server}/health", timeout=30).json()["model"]
    assert value(after, "cskh_model_info", model=model) == 1.0
    assert value(after, "process_resident_memory_bytes") > 0


def test_the_start_up_heap_is_frozen_and_collector_pauses_are_exposed(server):
    import time

    assert httpx.get(f"{server}/health", timeout=30).json()["gc_frozen"] > 100_000  # CSKH_GC_FREEZE's default
    before = scrape(server)
    say(server, f"metrics-gc-{uuid.uuid4().hex[:8]}", "phí ship về Đà Nẵng bao nhiêu")
    time.sleep(2.5)  # the watch flushes into the histogram every second
    after = scrape(server)
    assert value(after, "cskh_gc_pause_seconds_count", generation="0") > \
        value(before, "cskh_gc_pause_seconds_count", generation="0")
    assert value(after, "cskh_gc_pause_seconds_bucket", generation="0", le="+Inf") == \
        value(after, "cskh_gc_pause_seconds_count", generation="0")


# ---- several workers behind one port ------------------------------------------------------------

@pytest.fixture(scope="module")
def two_workers(trained_model, tmp_path_factory):
    """`cskh run` with CSKH_WORKERS=2 (Redis for the lock store and the live events, as it requires)."""
    import secrets

    import redis

    from tests.integration.conftest import start_service
    from tests.services import REDIS_URL, require_redis

    require_redis()
    prefix = "metrics" + secrets.token_hex(4)
    env = {"CSKH_MODEL_DIR": str(trained_model), "CSKH_WORKERS": "2", "CSKH_LOCK_STORE_URL": REDIS_URL,
           "CSKH_EVENTS_URL": REDIS_URL, "CSKH_REDIS_PREFIX": prefix}
    try:
        with start_service(tmp_path_factory.mktemp("workers"), env) as url:
            yield url
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)


def received_by_worker(url):
    """cskh_messages_received_total{channel="rest"} in each worker's own file (pid → count)."""
    from pathlib import Path

    from prometheus_client.multiprocess import MultiProcessCollector

    port = url.rsplit(":", 1)[1]
    found = {}
    for path in (Path(__file__).resolve().parents[2] / "var" / f"metrics-{port}").glob("counter_*.db"):
        for family in MultiProcessCollector.merge([str(path)], accumulate=False):
            for sample in family.samples:
                if sample.name == "cskh_messages_received_total" and sample.labels.get("channel") == "rest":
                    found[path.stem.split("_", 1)[1]] = sample.value
    return found


@pytest.mark.redis
def test_every_worker_answers_a_scrape_with_the_figures_of_all_workers(two_workers):
    sent = 0
    while sent < 60:  # each message on a new connection, until both workers have answered some
        say(two_workers, f"workers-{uuid.uuid4().hex[:8]}", "xin chào")
        sent += 1
        by_worker = received_by_worker(two_workers)
        if sent >= 6 and sum(1 for n in by_worker.values() if n > 0) >= 2:
            break
    by_worker = received_by_worker(two_workers)
    assert sum(1 for n in by_worker.values() if n > 0) >= 2, f"one worker took all {sent} connections: {by_worker}"
    assert sum(by_worker.values()) == sent
    for _ in range(8):  # each scrape on a new connection, so several workers answer them
        samples = scrape(two_workers)
        assert value(samples, "cskh_messages_received_total", channel="rest") == sent
        assert value(samples, "cskh_reply_latency_seconds_count", channel="rest") == sent
        assert "process_resident_memory_bytes" not in {name for name, _ in samples}  # one worker's: left out
        assert ("cskh_handoff_queue_length", ()) in samples and ("cskh_agents_online", ()) in samples
