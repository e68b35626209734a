"""The HTTP middleware labels by route template (bounded), and /metrics speaks Prometheus text."""
import re

from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from connectors import guards
from cskh import metrics


def make_app() -> FastAPI:
    app = FastAPI()
    guards.install(app)
    app.add_middleware(metrics.HttpMetrics)
    app.include_router(metrics.router)

    @app.get("/unit/items/{item_id}")
    async def item(item_id: int):
        if item_id == 0:
            raise HTTPException(404, "no item")
        return {"id": item_id}

    @app.get("/unit/files/{name}")
    async def files(name: str):
        return {"name": name}

    @app.get("/unit/big/{number}")
    async def big(number: int):
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    @app.get("/unit/boom")
    async def boom():
        raise RuntimeError("boom")

    return app


def requests(route, status, method="GET"):
    return metrics.sample("cskh_http_requests_total", {"method": method, "route": route, "status": status})


def test_requests_are_counted_by_route_template_not_raw_path():
    client = TestClient(make_app(), raise_server_exceptions=False)
    before_ok, before_404 = requests("/unit/items/{item_id}", "200"), requests("/unit/items/{item_id}", "404")
    before_unmatched = requests("unmatched", "404")
    for n in range(1, 6):
        assert client.get(f"/unit/items/{n}").status_code == 200
    client.get("/unit/items/0")
    client.get("/no/such/path/12345")
    assert requests("/unit/items/{item_id}", "200") == before_ok + 5
    assert requests("/unit/items/{item_id}", "404") == before_404 + 1
    assert requests("unmatched", "404") == before_unmatched + 1
    assert metrics.sample("cskh_http_request_duration_seconds_count",
                          {"method": "GET", "route": "/unit/items/{item_id}"}) >= 6


def test_an_exception_is_counted_as_a_500():
    client = TestClient(make_app(), raise_server_exceptions=False)
    before = requests("/unit/boom", "500")
    assert client.get("/unit/boom").status_code == 500
    assert requests("/unit/boom", "500") == before + 1


def test_metrics_endpoint_is_prometheus_text_with_every_family():
    client = TestClient(make_app())
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    families = {f.name for f in text_string_to_metric_families(response.text)}
    for name in ("cskh_messages_received", "cskh_reply_latency_seconds", "cskh_http_requests",
                 "cskh_http_request_duration_seconds", "cskh_handoffs_started", "cskh_kb_searches",
                 "cskh_kb_abstentions", "cskh_handoff_queue_length", "cskh_rate_limited", "process_cpu_seconds"):
        assert name in families, name
    # every channel has its series from the start (its value depends on the tests run before)
    assert re.search(r'^cskh_messages_received_total\{channel="telegram"\} \d', response.text, re.MULTILINE)


def test_reply_latency_buckets_span_10_ms_to_10_s():
    assert metrics.LATENCY_BUCKETS[0] == 0.01 and metrics.LATENCY_BUCKETS[-1] == 10.0


def test_metrics_token_when_set(monkeypatch):
    from cskh.settings import Settings

    monkeypatch.setattr(metrics, "get_settings", lambda: Settings(_env_file=None, metrics_token="scrape-me-please"))
    client = TestClient(make_app())
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-me-please"}).status_code == 200


def test_oversized_headers_get_431_with_a_json_reason():
    client = TestClient(make_app())
    response = client.get("/unit/items/1", headers={"Cookie": "a=" + "b" * 32_000})
    assert response.status_code == 431 and "too large" in response.json()["error"]
    assert client.get("/unit/items/1", headers={"Cookie": "a=" + "b" * 4_000}).status_code == 200


def test_a_nul_byte_in_the_path_is_404_and_a_huge_id_422():
    client = TestClient(make_app())
    response = client.get("/unit/files/a%00.js")
    assert response.status_code == 404 and response.json()["error"]
    assert client.get("/unit/files/a.js").status_code == 200
    response = client.get("/unit/big/99999999999999999999999")
    assert response.status_code == 422 and "out of range" in response.json()["error"]
