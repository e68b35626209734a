"""The Telegram channel through the real gateway and python-telegram-bot; Telegram's Bot API is a
local server that records every call."""
import asyncio
import itertools
import json
import logging
import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy import create_engine

from connectors.messages import Button, OutboundMessage
from connectors.telegram import LONG_PAYLOAD, TEXT_ONLY, TelegramConnector
from cskh.conversation import ConversationService
from cskh.settings import Settings
from tests.integration.conftest import ROOT, TELEGRAM_SECRET, TELEGRAM_TOKEN

pytestmark = pytest.mark.integration

_ids = itertools.count(10_000)
_chats = itertools.count(700_000)
GREETING = "Em là trợ lý của Điện Máy Sao Mai"


def chat_id() -> int:
    return next(_chats)


def user(chat: int) -> dict:
    return {"id": chat, "is_bot": False, "first_name": "Lan", "language_code": "vi"}


def text_update(chat: int, text: str, update_id: int = None) -> dict:
    message = {"message_id": next(_ids), "date": int(time.time()), "chat": {"id": chat, "type": "private"},
               "from": user(chat), "text": text}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id or next(_ids), "message": message}


def button_press(chat: int, data: str) -> dict:
    message = {"message_id": next(_ids), "date": int(time.time()), "chat": {"id": chat, "type": "private"},
               "from": {"id": 4242, "is_bot": True, "first_name": "Sao Mai"}, "text": "menu"}
    return {"update_id": next(_ids), "callback_query": {"id": f"cq-{next(_ids)}", "from": user(chat),
                                                        "chat_instance": "ci", "data": data, "message": message}}


def post(service, body, secret=TELEGRAM_SECRET, **kwargs) -> httpx.Response:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    if body is not None:
        kwargs["json"] = body
    return httpx.post(f"{service.url}/webhooks/telegram", headers=headers, timeout=30, **kwargs)


def test_start_greets_in_vietnamese_with_an_inline_keyboard(channel_server, fake_telegram):
    chat = chat_id()
    assert post(channel_server, text_update(chat, "/start")).status_code == 200
    reply = fake_telegram.wait_sent(chat)[0]
    assert GREETING in reply["text"]
    keyboard = reply["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in keyboard][:2] == ["/order_status", "/return_request"]
    assert keyboard[0][0]["text"] == "Tra cứu đơn hàng"


def test_pressing_a_button_answers_the_callback_and_continues_the_conversation(channel_server, fake_telegram):
    chat = chat_id()
    post(channel_server, text_update(chat, "/start"))
    fake_telegram.wait_sent(chat)
    press = button_press(chat, "/order_status")
    assert post(channel_server, press).status_code == 200
    replies = fake_telegram.wait_sent(chat, 2)
    assert "mã đơn hàng" in replies[1]["text"]
    answered = fake_telegram.find(lambda c: c.path.endswith("/answerCallbackQuery"))
    assert press["callback_query"]["id"] in [c.body.get("callback_query_id") for c in answered]


def test_a_question_gets_the_shops_answer(channel_server, fake_telegram):
    chat = chat_id()
    post(channel_server, text_update(chat, "phí ship bao nhiêu vậy shop?"))
    reply = fake_telegram.wait_sent(chat)[0]
    assert "500.000₫" in reply["text"]


def test_messages_of_one_chat_are_answered_in_order(channel_server, fake_telegram):
    chat = chat_id()
    post(channel_server, text_update(chat, "xin chào"))
    post(channel_server, text_update(chat, "phí ship bao nhiêu vậy shop?"))
    replies = fake_telegram.wait_sent(chat, 2)
    assert GREETING in replies[0]["text"] and "500.000₫" in replies[-1]["text"]


@pytest.mark.parametrize("secret,status", [(None, 401), ("", 401), ("wrong-secret", 403),
                                           (TELEGRAM_SECRET + "x", 403)])
def test_webhook_refuses_a_missing_or_wrong_secret(channel_server, fake_telegram, secret, status):
    chat = chat_id()
    response = post(channel_server, text_update(chat, "xin chào"), secret=secret)
    assert response.status_code == status and response.json()["error"]
    time.sleep(1)
    assert fake_telegram.sent(chat) == []


def test_a_redelivered_update_is_answered_once(channel_server, fake_telegram):
    chat = chat_id()
    update = text_update(chat, "xin chào")
    first, second = post(channel_server, update), post(channel_server, update)
    assert first.status_code == second.status_code == 200
    assert second.json().get("duplicate") is True
    fake_telegram.wait_sent(chat)
    assert post(channel_server, update).json().get("duplicate") is True  # after the answer, too
    time.sleep(2)
    assert len(fake_telegram.sent(chat)) == 1


def test_webhook_answers_before_the_reply_is_ready(channel_server, fake_telegram):
    chat = chat_id()
    started = time.monotonic()
    response = post(channel_server, text_update(chat, "đơn DH1003 của tôi tới đâu rồi, sđt 0987654321"))
    assert response.status_code == 200 and time.monotonic() - started < 2.0
    fake_telegram.wait_sent(chat)


def test_a_photo_gets_a_polite_text_only_reply(channel_server, fake_telegram):
    chat = chat_id()
    update = text_update(chat, "x")
    del update["message"]["text"]
    update["message"]["photo"] = [{"file_id": "p", "file_unique_id": "pu", "width": 90, "height": 90}]
    assert post(channel_server, update).status_code == 200
    assert fake_telegram.wait_sent(chat)[0]["text"] == TEXT_ONLY


@pytest.mark.parametrize("kwargs,status", [
    ({"content": b"not json"}, 400),
    ({"content": b"\xff\xfe bad"}, 400),
    ({"json": ["a", "list"]}, 400),
    ({"json": {"message": {"text": "hi"}}}, 422),
    ({"json": {"update_id": "7", "message": {"text": "hi"}}}, 422),
    ({"json": {"update_id": True}}, 422),
    ({"json": {"update_id": 7, "message": "hi"}}, 422),
    ({"json": {"update_id": 8, "message": {"text": "hi"}}}, 422),
    ({"json": {"update_id": 9, "message": {"message_id": 1, "date": 1, "text": "hi",
                                           "chat": {"id": "abc", "type": "private"}}}}, 422),
])
def test_bad_updates_get_a_clear_4xx(channel_server, kwargs, status):
    response = post(channel_server, None, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]


def test_an_update_the_channel_does_not_use_is_acknowledged(channel_server):
    edited = text_update(chat_id(), "sửa")
    edited["edited_message"] = {**edited.pop("message"), "edit_date": int(time.time())}
    response = post(channel_server, edited)
    assert response.status_code == 200 and response.json() == {"ok": True, "ignored": True}


# the connector itself, against the fake Bot API ----------------------------------------------

@pytest.fixture
def connector_settings(fake_telegram):
    return Settings(_env_file=None, telegram_token=TELEGRAM_TOKEN, telegram_secret=TELEGRAM_SECRET,
                    telegram_api_url=fake_telegram.url)


@pytest.fixture
def conversations(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    yield ConversationService(None, engine)  # no engine needed: nothing here reaches Rasa
    engine.dispose()


async def test_a_long_reply_is_sent_in_parts_with_the_keyboard_on_the_last(connector_settings, conversations,
                                                                           fake_telegram, caplog):
    caplog.set_level(logging.INFO)
    connector = TelegramConnector(connector_settings, conversations)
    await connector.start()
    chat = chat_id()
    long_payload = '/inform{"product": "Nồi cơm điện tử Sao Mai RC-18 cao tần 1,8 lít màu bạc"}'
    text = "\n".join(f"Dòng {n}: chính sách đổi trả trong 30 ngày với sản phẩm lỗi." for n in range(90))
    assert len(text) > 5000
    await connector.send(f"telegram:{chat}", OutboundMessage(f"telegram:{chat}", text,
                                                             (Button("Chọn sản phẩm", long_payload),)))
    await connector.stop()
    sent = fake_telegram.sent(chat)
    assert len(sent) == 2 and all(len(m["text"]) <= 4096 for m in sent)
    assert " ".join(m["text"] for m in sent).split() == text.split()  # nothing lost
    assert "reply_markup" not in sent[0]
    data = sent[1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert data.startswith(LONG_PAYLOAD) and len(data.encode()) <= 64
    assert connector.callbacks.payload_for(data) == long_payload
    assert "sendMessage" in caplog.text and TELEGRAM_TOKEN not in caplog.text  # httpx logs URLs


async def test_polling_reads_updates_once_and_moves_the_offset(connector_settings, conversations, fake_telegram):
    chat = chat_id()
    update = text_update(chat, "x")
    del update["message"]["text"]
    update["message"]["sticker"] = {"file_id": "s", "file_unique_id": "su", "width": 512, "height": 512,
                                    "is_animated": False, "is_video": False, "type": "regular"}
    fake_telegram.updates.append(update)
    connector = TelegramConnector(connector_settings.copy(update={"telegram_mode": "polling"}), conversations)
    await connector.start()
    try:
        deadline = time.monotonic() + 20
        while not fake_telegram.sent(chat) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # a few more getUpdates rounds
    finally:
        await connector.stop()
        fake_telegram.updates.remove(update)
    assert [m["text"] for m in fake_telegram.sent(chat)] == [TEXT_ONLY]
    offsets = [c.body.get("offset") for c in fake_telegram.find(lambda c: c.path.endswith("/getUpdates"))]
    assert str(update["update_id"] + 1) in offsets
    assert fake_telegram.find(lambda c: c.path.endswith("/deleteWebhook"))


def test_cli_sets_the_webhook_with_the_secret(fake_telegram, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "CSKH_TELEGRAM_TOKEN": TELEGRAM_TOKEN, "CSKH_TELEGRAM_SECRET": TELEGRAM_SECRET,
           "CSKH_TELEGRAM_API_URL": fake_telegram.url, "HOME": str(tmp_path)}
    url = "https://cskh.example.vn/webhooks/telegram"
    done = subprocess.run([sys.executable, "-m", "cskh.cli", "telegram", "webhook", url], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert fake_telegram.webhook["url"] == url
    assert fake_telegram.webhook["secret_token"] == TELEGRAM_SECRET
    assert json.loads(fake_telegram.webhook["allowed_updates"]) == ["message", "callback_query"]


def test_a_disabled_channel_answers_503(tmp_path):
    from fastapi.testclient import TestClient

    from connectors.gateway import create_app

    client = TestClient(create_app(Settings(_env_file=None)))  # lifespan not run: no connectors
    for path in ("/webhooks/telegram", "/webhooks/zalo"):
        response = client.post(path, json={})
        assert response.status_code == 503 and "disabled" in response.json()["error"]
