"""The REST channel contract and its answers to bad input: a clear 4xx, never a 500."""
import httpx
import pytest

pytestmark = pytest.mark.integration


def post(server, **kwargs):
    return httpx.post(f"{server}/webhooks/rest/webhook", timeout=60, **kwargs)


def test_health(server):
    body = httpx.get(f"{server}/health").json()
    assert body["status"] == "ok" and body["kb_entries"] >= 60


def test_rest_reply_shape(server):
    replies = post(server, json={"sender": "shape", "message": "xin chào"}).json()
    assert replies and all(r["recipient_id"] == "shape" for r in replies)
    assert any(r.get("buttons") for r in replies)


@pytest.mark.parametrize("kwargs,status", [
    ({"content": b"not json"}, 400),
    ({"content": b"\xff\xfe\x00bad"}, 400),
    ({"json": ["a", "list"]}, 400),
    ({"json": {"sender": "x"}}, 422),
    ({"json": {"message": "hi"}}, 422),
    ({"json": {"sender": "x", "message": ""}}, 422),
    ({"json": {"sender": "x", "message": "   \n "}}, 422),
    ({"json": {"sender": "x", "message": 42}}, 422),
    ({"json": {"sender": 7, "message": "hi"}}, 422),
    ({"json": {"sender": "x" * 500, "message": "hi"}}, 422),
    ({"json": {"sender": "x", "message": "a" * 5000}}, 413),
    ({"content": b"{" + b"a" * 100_000}, 413),
])
def test_bad_input_gets_a_clear_4xx(server, kwargs, status):
    response = post(server, **kwargs)
    assert response.status_code == status
    assert response.json()["error"]


def test_html_and_emoji_are_just_text(server):
    response = post(server, json={"sender": "odd", "message": "<script>alert(1)</script> 😀😀"})
    assert response.status_code == 200 and isinstance(response.json(), list)


def test_kb_search_endpoint(server):
    body = httpx.post(f"{server}/kb/search", json={"text": "hotline", "top_k": 3}).json()
    assert body["hits"][0]["id"] == "contact-hotline"


def test_liveness_and_readiness(server):
    assert httpx.get(f"{server}/live").json() == {"status": "alive"}
    ready = httpx.get(f"{server}/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "problems": []}


@pytest.mark.parametrize("path", ["/", "/agent", "/health", "/widget.js"])
def test_pages_carry_security_headers(server, path):
    headers = httpx.get(f"{server}{path}").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "strict-origin" in headers["referrer-policy"]


def test_the_gateway_runs_tensorflow_and_faiss_on_one_thread(server):
    # CSKH_COMPUTE_THREADS defaults to 1, set before the model and the KB load (cskh/threads.py)
    from tests.integration.conftest import SERVICE_LOG

    log = SERVICE_LOG[server].read_text(encoding="utf-8", errors="replace")
    assert "compute threads per process: 1 (tensorflow: set, faiss: set)" in log
