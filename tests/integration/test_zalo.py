"""The Zalo OA channel through the real gateway and httpx; Zalo's OA API and OAuth server are a
local server that records every call, and signatures are computed here from Zalo's formula."""
import hashlib
import itertools
import json
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import create_engine, select

from connectors.zalo import TEXT_ONLY, tokens
from tests.integration.conftest import ZALO_APP_ID, ZALO_APP_SECRET, ZALO_OA_SECRET

pytestmark = pytest.mark.integration

_users = itertools.count(5_000_000)
_msgs = itertools.count(1)


def new_user() -> str:
    return f"24684588352919{next(_users)}"


def event(user: str, text: str = None, name: str = "user_send_text", msg_id: str = None, **message) -> dict:
    body = {"app_id": ZALO_APP_ID, "user_id_by_app": f"app-{user}", "event_name": name,
            "sender": {"id": user}, "recipient": {"id": "579745863508352884"},
            "timestamp": str(int(time.time() * 1000))}
    if name.startswith("user_send_"):
        body["message"] = {"msg_id": msg_id or f"msg{next(_msgs):08d}", **message}
        if text is not None:
            body["message"]["text"] = text
    return body


def mac(body: bytes, timestamp: str, oa_secret: str = ZALO_OA_SECRET) -> str:
    return hashlib.sha256(ZALO_APP_ID.encode() + body + timestamp.encode() + oa_secret.encode()).hexdigest()


def post(service, payload: dict, header: str = "signed", raw: bytes = None) -> httpx.Response:
    body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if header == "signed":
        headers["X-ZEvent-Signature"] = f"mac={mac(body, str(payload.get('timestamp')))}"
    elif header is not None:
        headers["X-ZEvent-Signature"] = header
    return httpx.post(f"{service.url}/webhooks/zalo", content=body, headers=headers, timeout=30)


def stored_pair(service):
    engine = create_engine(service.app_database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(tokens).where(tokens.c.app_id == ZALO_APP_ID)).first()
    finally:
        engine.dispose()


def test_a_signed_text_is_answered_through_the_cs_message_endpoint(channel_server, fake_zalo):
    user = new_user()
    started = time.monotonic()
    response = post(channel_server, event(user, "phí ship bao nhiêu vậy shop?"))
    assert response.status_code == 200 and time.monotonic() - started < 2.0
    reply = fake_zalo.wait_delivered(user)[0]
    assert reply.method == "POST" and reply.headers["access_token"] == fake_zalo.access_token
    assert set(reply.body) == {"recipient", "message"} and reply.body["recipient"] == {"user_id": user}
    assert "500.000₫" in reply.body["message"]["text"]


@pytest.mark.parametrize("header,status", [
    (None, 401),
    ("", 401),
    ("mac=" + "0" * 64, 403),
    ("not-a-mac", 403),
    ("forged-secret", 403),
    ("tampered-body", 403),
])
def test_missing_or_forged_signatures_are_refused(channel_server, fake_zalo, header, status):
    user = new_user()
    payload = event(user, "xin chào")
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    raw = None
    if header == "forged-secret":
        header = f"mac={mac(body, payload['timestamp'], oa_secret='guessed-secret')}"
    elif header == "tampered-body":
        header = f"mac={mac(body, payload['timestamp'])}"
        raw = body.replace("xin chào".encode(), "hủy đơn DH1001".encode())
    response = post(channel_server, payload, header=header, raw=raw)
    assert response.status_code == status and response.json()["error"]
    time.sleep(1)
    assert fake_zalo.messages_to(user) == []


def test_a_redelivered_msg_id_is_answered_once(channel_server, fake_zalo):
    user = new_user()
    payload = event(user, "xin chào")
    assert post(channel_server, payload).status_code == 200
    assert post(channel_server, payload).json().get("duplicate") is True
    fake_zalo.wait_delivered(user)
    assert post(channel_server, payload).json().get("duplicate") is True
    time.sleep(2)
    assert len(fake_zalo.delivered(user)) == 1


def test_buttons_become_a_numbered_list_and_a_number_picks_one(channel_server, fake_zalo):
    user = new_user()
    post(channel_server, event(user, "xin chào"))
    greeting = fake_zalo.wait_delivered(user)[0].body["message"]["text"]
    assert "1. Tra cứu đơn hàng" in greeting and "2. Đổi trả" in greeting
    post(channel_server, event(user, "1"))
    assert "mã đơn hàng" in fake_zalo.wait_delivered(user, 2)[1].body["message"]["text"]


@pytest.mark.parametrize("name,message", [
    ("user_send_image", {"attachments": [{"type": "image", "payload": {"url": "https://example.vn/a.jpg"}}]}),
    ("user_send_sticker", {"attachments": [{"type": "sticker", "payload": {"id": "123"}}]}),
])
def test_a_non_text_message_gets_a_polite_text_only_reply_once(channel_server, fake_zalo, name, message):
    user = new_user()
    payload = event(user, name=name, **message)
    assert post(channel_server, payload).status_code == 200
    assert post(channel_server, payload).json().get("duplicate") is True
    assert fake_zalo.wait_delivered(user)[0].body["message"]["text"] == TEXT_ONLY
    time.sleep(1)
    assert len(fake_zalo.delivered(user)) == 1


@pytest.mark.parametrize("name", ["user_seen_message", "user_received_message", "follow"])
def test_receipts_and_follows_are_acknowledged_and_ignored(channel_server, fake_zalo, name):
    user = new_user()
    payload = event(user, name=name)
    payload["message"] = {"msg_ids": ["abc"]}
    response = post(channel_server, payload)
    assert response.status_code == 200 and response.json()["ignored"] == name
    time.sleep(1)
    assert fake_zalo.messages_to(user) == []


def test_an_invalid_token_is_refreshed_once_and_the_message_sent_again(channel_server, fake_zalo):
    user = new_user()
    post(channel_server, event(user, "phí ship bao nhiêu vậy shop?"))
    fake_zalo.wait_delivered(user)  # the current token works
    old_refresh = fake_zalo.refresh_token
    refreshes = len(fake_zalo.refreshes())
    fake_zalo.revoke_access_token()

    post(channel_server, event(user, "xin chào"))
    fake_zalo.wait_delivered(user, 2)
    sends = fake_zalo.messages_to(user)
    assert [c.response["error"] for c in sends[-2:]] == [-216, 0]
    refresh = fake_zalo.refreshes()[refreshes:]
    assert len(refresh) == 1
    assert refresh[0].headers["secret_key"] == ZALO_APP_SECRET
    assert refresh[0].body == {"refresh_token": old_refresh, "app_id": ZALO_APP_ID, "grant_type": "refresh_token"}
    assert sends[-1].headers["access_token"] == fake_zalo.access_token
    row = stored_pair(channel_server)  # the new pair is kept: it survives a restart
    assert (row.access_token, row.refresh_token) == (fake_zalo.access_token, fake_zalo.refresh_token)
    expires = row.expires_at.replace(tzinfo=timezone.utc)
    assert abs(expires - (datetime.now(timezone.utc) + timedelta(seconds=90000))) < timedelta(minutes=2)


def test_a_token_about_to_expire_is_refreshed_before_sending(channel_server, fake_zalo):
    user = new_user()
    post(channel_server, event(user, "xin chào"))
    fake_zalo.wait_delivered(user)
    engine = create_engine(channel_server.app_database_url)
    with engine.begin() as conn:  # 25 hours later: three minutes left
        conn.execute(tokens.update().where(tokens.c.app_id == ZALO_APP_ID)
                     .values(expires_at=datetime.now(timezone.utc) + timedelta(minutes=3)))
    engine.dispose()
    old_access, refreshes = fake_zalo.access_token, len(fake_zalo.refreshes())

    post(channel_server, event(user, "phí ship bao nhiêu vậy shop?"))
    fake_zalo.wait_delivered(user, 2)
    assert len(fake_zalo.refreshes()) == refreshes + 1
    sends = fake_zalo.messages_to(user)
    assert all(c.response["error"] == 0 for c in sends)  # no -216: refreshed ahead of time
    assert sends[-1].headers["access_token"] == fake_zalo.access_token != old_access
    assert fake_zalo.refreshes()[-1].at < sends[-1].at
    row = stored_pair(channel_server)
    assert row.expires_at.replace(tzinfo=timezone.utc) > datetime.now(timezone.utc) + timedelta(hours=24)


@pytest.mark.parametrize("case,status", [
    ("not json", 400),
    ("a list", 400),
    ("no timestamp", 400),
    ("text is a number", 422),
    ("no sender", 422),
    ("no msg_id", 422),
])
def test_bad_events_get_a_clear_4xx(channel_server, case, status):
    payload = event(new_user(), "xin chào")
    raw = None
    if case == "not json":
        raw = b"{not json"
    elif case == "a list":
        raw = b'["user_send_text"]'
    elif case == "no timestamp":
        del payload["timestamp"]
    elif case == "text is a number":
        payload["message"]["text"] = 42
    elif case == "no sender":
        del payload["sender"]
    elif case == "no msg_id":
        del payload["message"]["msg_id"]
    header = None if raw is None else f"mac={mac(raw, '')}"
    response = post(channel_server, payload, header=header or "signed", raw=raw)
    assert response.status_code == status, response.text
    assert response.json()["error"]
