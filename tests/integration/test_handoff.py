"""Hand-off end to end through HTTP: triggers, the queue, agents answering, hand-back and CSAT."""
import concurrent.futures

import httpx
import pytest

from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.integration


class Agent:
    """An agent logged into the console API with a real session cookie and CSRF token."""

    def __init__(self, server: str, username: str) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server, timeout=60, follow_redirects=False)
        login = self.http.post("/agent/login", data={"username": username, "password": PASSWORD})
        assert login.status_code == 303 and login.headers["location"] == "/agent"
        self.csrf = self.http.get("/api/agent/me").json()["csrf"]

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.http.post(path, headers={"X-CSRF-Token": self.csrf}, **kwargs)

    def waiting_for(self, conversation_id: str) -> dict:
        items = self.http.get("/api/agent/queue").json()["items"]
        return next(i for i in items if i["conversation_id"] == conversation_id)


def handoff_payload(replies):
    return next((r["custom"]["handoff"] for r in replies if "handoff" in (r.get("custom") or {})), None)


def test_asking_for_a_person_queues_pauses_and_an_agent_answers(server, customer):
    c = customer()
    replies = c.say("cho mình gặp nhân viên tư vấn")
    assert handoff_payload(replies) == {"status": "queued", "reason": "request_human"}
    assert "vị trí số" in "\n".join(r.get("text", "") for r in replies)

    lan = Agent(server, "lan")
    item = lan.waiting_for(c.sender)
    assert item["status"] == "queued" and item["reason"] == "request_human"
    assert lan.post(f"/api/agent/handoffs/{item['id']}/claim").status_code == 200

    replies = c.say("alo shop ơi")  # the bot is quiet while an agent owns the conversation;
    assert replies == [{"recipient_id": c.sender, "custom": {"notice": "Nhân viên Lan đã tham gia cuộc trò chuyện."}}]
    assert lan.post(f"/api/agent/handoffs/{item['id']}/reply", json={"text": "Dạ em là Lan, em nghe ạ"}).status_code == 200
    view = lan.http.get(f"/api/agent/conversations/{c.sender}").json()
    assert [t["who"] for t in view["turns"]].count("agent") == 1
    assert any(t.get("intent") == "request_human" for t in view["turns"])
    # REST customers receive agent messages with their next request
    replies = c.say("mình muốn hỏi về đơn hàng")
    assert any(r.get("text") == "Dạ em là Lan, em nghe ạ" for r in replies)

    assert lan.post(f"/api/agent/handoffs/{item['id']}/handback").status_code == 200
    assert "phí" in c.text("phí ship bao nhiêu") or "500.000₫" in c.text("phí ship bao nhiêu")


def test_resolution_asks_for_csat_and_stores_it(server, customer):
    c = customer()
    c.say("gặp người thật đi")
    lan = Agent(server, "lan")
    item = lan.waiting_for(c.sender)
    lan.post(f"/api/agent/handoffs/{item['id']}/claim")
    assert lan.post(f"/api/agent/handoffs/{item['id']}/resolve").status_code == 200
    replies = c.say("5")
    assert any("cảm ơn anh/chị đã đánh giá" in r.get("text", "") for r in replies)
    stats = lan.http.get("/api/agent/queue").json()["stats"]
    assert stats["csat_count"] >= 1


def test_complaint_hands_off_with_priority(server, customer):
    c = customer()
    replies = c.say("shop làm ăn kiểu gì vậy, giao hàng chậm quá")
    payload = handoff_payload(replies)
    assert payload and payload["reason"] in ("complain", "frustration")
    lan = Agent(server, "lan")
    assert lan.waiting_for(c.sender)["priority"] == 1


def test_frustration_detector_hands_off(server, customer):
    c = customer()
    replies = c.say("ĐM GIAO HÀNG GÌ MÀ 2 TUẦN CHƯA TỚI!!! LỪA ĐẢO À???")
    assert handoff_payload(replies) is not None


def test_two_misses_in_a_row_hand_off(server, customer):
    c = customer()
    c.say("xyzzy qwerty plugh")
    replies = c.say("blorp zzkx vvq")
    assert handoff_payload(replies) == {"status": "queued", "reason": "nlu_fallback"}


def test_two_agents_claiming_at_once_exactly_one_wins(server, customer):
    c = customer()
    c.say("cho gặp nhân viên")
    lan, minh = Agent(server, "lan"), Agent(server, "minh")
    item = lan.waiting_for(c.sender)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(lambda a: a.post(f"/api/agent/handoffs/{item['id']}/claim").status_code, [lan, minh]))
    assert codes == [200, 409]


def test_console_requires_login_and_csrf(server):
    assert httpx.get(f"{server}/api/agent/queue").status_code == 401
    assert "password" in httpx.get(f"{server}/agent").text.lower()
    bad = httpx.post(f"{server}/agent/login", data={"username": "lan", "password": "wrong-password"})
    assert bad.status_code == 303 and "error" in bad.headers["location"]
    lan = Agent(server, "lan")
    assert lan.http.post("/api/agent/handoffs/1/claim").status_code == 403  # no CSRF header


def test_asking_again_without_a_confident_kb_answer_hands_off(server, customer):
    c = customer()
    first = c.text("shop có cho thuê máy chiếu theo ngày không?")
    assert "chưa chắc" in first
    payload = handoff_payload(c.say("ý mình là thuê máy chiếu, có dịch vụ đó không shop?"))
    assert payload == {"status": "queued", "reason": "kb_no_answer"}


def test_the_same_form_question_failing_three_times_hands_off(server, customer):
    c = customer()
    c.say("tôi muốn kiểm tra đơn hàng")
    c.say("mã đơn là abc")
    c.say("xyz123")
    replies = c.say("mã là 99")
    payload = handoff_payload(replies)
    assert payload == {"status": "queued", "reason": "form_failures"}
