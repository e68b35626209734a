"""Three customers on the widget, Telegram and Zalo; two agents answer them in their own channels,
hand one back to the bot and resolve the others (CSAT). Telegram's and Zalo's APIs are the local
fakes that record every call; the widget is driven through its REST fallback."""
import time
import uuid

import httpx
import pytest

from tests.integration import test_telegram as telegram
from tests.integration import test_zalo as zalo
from tests.integration.test_handoff import Agent

pytestmark = pytest.mark.integration


def wait_queue_item(agent: Agent, conversation_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = agent.http.get("/api/agent/queue").json()["items"]
        found = [i for i in items if i["conversation_id"] == conversation_id]
        if found:
            return found[0]
        time.sleep(0.3)
    raise AssertionError(f"{conversation_id} never reached the queue")


def eventually(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def widget_say(url: str, conversation: str, text: str) -> list:
    response = httpx.post(f"{url}/api/web/messages", json={"conversation": conversation, "text": text,
                                                           "id": uuid.uuid4().hex}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def widget_updates(url: str, conversation: str) -> list:
    return httpx.get(f"{url}/api/web/updates", params={"conversation": conversation}).json()["messages"]


def test_three_channels_two_agents(channel_server, fake_telegram, fake_zalo):
    url = channel_server.url
    lan, minh = Agent(url, "lan"), Agent(url, "minh")

    # Widget customer asks for a person.
    widget = f"w{uuid.uuid4().hex[:12]}"
    frames = widget_say(url, widget, "cho mình gặp nhân viên tư vấn")
    assert any((f.get("custom") or {}).get("handoff", {}).get("reason") == "request_human" for f in frames)

    # Telegram customer asks for a person.
    chat = telegram.chat_id()
    assert telegram.post(channel_server, telegram.text_update(chat, "cho tôi nói chuyện với người thật")).status_code == 200
    assert "vị trí số" in " ".join(m["text"] for m in fake_telegram.wait_sent(chat))

    # Zalo customer complains.
    user = zalo.new_user()
    assert zalo.post(channel_server, zalo.event(user, "shop làm ăn kiểu gì vậy, giao chậm quá trời")).status_code == 200
    first = fake_zalo.wait_delivered(user)
    assert any("xin lỗi" in c.body["message"]["text"] for c in first)

    # Lan takes the widget and Telegram customers, Minh the Zalo one (complaints come first).
    zalo_item = wait_queue_item(minh, f"zalo:{user}")
    assert zalo_item["priority"] == 1 and zalo_item["reason"] in ("complain", "frustration")
    web_item, tg_item = wait_queue_item(lan, f"web:{widget}"), wait_queue_item(lan, f"telegram:{chat}")
    for agent, item in ((lan, web_item), (lan, tg_item), (minh, zalo_item)):
        assert agent.post(f"/api/agent/handoffs/{item['id']}/claim").status_code == 200

    # Agent replies reach each customer in their own channel.
    lan.post(f"/api/agent/handoffs/{web_item['id']}/reply", json={"text": "Dạ em là Lan, em hỗ trợ anh/chị ạ"})
    lan.post(f"/api/agent/handoffs/{tg_item['id']}/reply", json={"text": "Dạ Lan đây, anh/chị cần gì ạ?"})
    minh.post(f"/api/agent/handoffs/{zalo_item['id']}/reply", json={"text": "Dạ em là Minh, em xin lỗi anh/chị"})
    updates = widget_updates(url, widget)
    assert any(f.get("type") == "notice" and "Lan" in f["text"] for f in updates)
    assert any(f.get("text") == "Dạ em là Lan, em hỗ trợ anh/chị ạ" for f in updates)
    assert any(m["text"] == "Dạ Lan đây, anh/chị cần gì ạ?" for m in fake_telegram.wait_sent(chat, count=3))
    assert any(c.body["message"]["text"] == "Dạ em là Minh, em xin lỗi anh/chị"
               for c in fake_zalo.wait_delivered(user, count=len(first) + 2))

    # While agents own the conversations the bot stays quiet.
    assert [f for f in widget_say(url, widget, "vâng") if f.get("type") == "message" and f.get("from") != "user"] == []

    # Lan hands the widget customer back: the bot answers again.
    assert lan.post(f"/api/agent/handoffs/{web_item['id']}/handback").status_code == 200
    widget_updates(url, widget)
    assert any("500.000₫" in (f.get("text") or "") for f in widget_say(url, widget, "phí ship bao nhiêu vậy"))

    # Lan resolves Telegram, Minh resolves Zalo; both customers are asked for a rating and answer it.
    assert lan.post(f"/api/agent/handoffs/{tg_item['id']}/resolve").status_code == 200
    eventually(lambda: any("từ 1" in m["text"] for m in fake_telegram.sent(chat)))
    telegram.post(channel_server, telegram.text_update(chat, "5"))
    eventually(lambda: any("cảm ơn anh/chị đã đánh giá" in m["text"] for m in fake_telegram.sent(chat)))

    assert minh.post(f"/api/agent/handoffs/{zalo_item['id']}/resolve").status_code == 200
    zalo_texts = lambda: [c.body["message"]["text"] for c in fake_zalo.messages_to(user)]  # noqa: E731
    eventually(lambda: any("từ 1" in t for t in zalo_texts()))
    zalo.post(channel_server, zalo.event(user, "4"))
    eventually(lambda: any("cảm ơn anh/chị đã đánh giá" in t for t in zalo_texts()))

    stats = lan.http.get("/api/agent/queue").json()["stats"]
    assert stats["csat_count"] >= 2
