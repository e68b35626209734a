"""Telegram and Zalo channel pieces that need no network: signatures, buttons, splitting, stores."""
import asyncio
import hashlib
import logging
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine
from telegram import Update

from connectors import telegram, zalo
from connectors.background import OrderedTasks
from connectors.messages import Button, OutboundMessage, split_text
from cskh.conversation import ConversationService
from cskh.settings import Settings

BUTTONS = (Button("Tra cứu đơn hàng", "/order_status"), Button("Đổi trả", "/return_request"))


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    yield engine
    engine.dispose()


# Zalo signature -------------------------------------------------------------------------------

def test_zalo_signature_is_sha256_of_app_id_body_timestamp_and_oa_secret():
    body = '{"event_name":"user_send_text","timestamp":"1700000000000"}'.encode()
    expected = hashlib.sha256(b"app42" + body + b"1700000000000" + b"oa-secret").hexdigest()
    assert zalo.signature("app42", body, "1700000000000", "oa-secret") == expected


def test_zalo_signature_header_is_mac_equals_hex():
    mac = zalo.signature("app", b"{}", "1", "secret")
    assert zalo.signature_matches(f"mac={mac}", mac)
    assert zalo.signature_matches(f"mac={mac.upper()}", mac)
    assert not zalo.signature_matches(mac, mac)
    assert not zalo.signature_matches(f"sha256={mac}", mac)
    assert not zalo.signature_matches("mac=", mac)
    assert not zalo.signature_matches(f"mac={zalo.signature('app', b'{ }', '1', 'secret')}", mac)


def test_zalo_signature_covers_the_raw_body_byte_for_byte():
    assert zalo.signature("a", b'{"x": 1}', "1", "s") != zalo.signature("a", b'{"x":1}', "1", "s")


# buttons --------------------------------------------------------------------------------------

def test_zalo_buttons_render_as_a_numbered_list():
    text = zalo.render(OutboundMessage("zalo:1", "Dạ, em giúp gì được ạ?", BUTTONS))
    assert text.startswith("Dạ, em giúp gì được ạ?\n\n1. Tra cứu đơn hàng\n2. Đổi trả")
    assert "nhắn số" in text
    assert zalo.render(OutboundMessage("zalo:1", "Không nút")) == "Không nút"


@pytest.mark.parametrize("said,payload", [("1", "/order_status"), (" 2. ", "/return_request"),
                                          ("đổi trả", "/return_request"), ("3", None), ("0", None),
                                          ("đơn DH1003", None)])
def test_zalo_reply_by_number_or_title_picks_the_button(said, payload):
    assert zalo.choose(said, BUTTONS) == payload


def test_telegram_short_payload_is_the_callback_data(engine):
    store = telegram.CallbackStore(engine)
    assert store.data_for("/order_status") == "/order_status"
    assert store.payload_for("/order_status") == "/order_status"


def test_telegram_long_payload_maps_to_a_short_key_that_survives_restart(engine):
    payload = '/inform{"order_id": "DH1003", "product": "Máy lọc không khí Sao Mai AP-300 Pro"}'
    assert len(payload.encode()) > 64
    data = telegram.CallbackStore(engine).data_for(payload)
    assert data.startswith(telegram.LONG_PAYLOAD) and len(data.encode()) <= 64
    assert telegram.CallbackStore(engine).data_for(payload) == data
    assert telegram.CallbackStore(engine).payload_for(data) == payload
    assert telegram.CallbackStore(engine).payload_for(telegram.LONG_PAYLOAD + "0" * 32) is None


# Telegram updates -----------------------------------------------------------------------------

def update(**fields):
    return Update.de_json({"update_id": 1, **fields}, None)


def message(text=None, **extra):
    body = {"message_id": 5, "date": 1700000000, "chat": {"id": 77, "type": "private"},
            "from": {"id": 77, "is_bot": False, "first_name": "An"}, **extra}
    if text is not None:
        body["text"] = text
    return body


@pytest.mark.parametrize("text,expected", [("/start", "/greet"), ("/start@saomai_bot", "/greet"),
                                           ("/start ref123", "/greet"), ("/order_status", "order status"),
                                           ("xin chào", "xin chào")])
def test_telegram_commands(text, expected):
    assert telegram.read_update(update(message=message(text))) == telegram.Incoming(77, expected)


def test_telegram_photo_is_not_text():
    photo = [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]
    assert telegram.read_update(update(message=message(photo=photo))) == telegram.Incoming(77, None)


def test_telegram_button_press_is_its_callback_data():
    query = {"id": "cq1", "from": {"id": 77, "is_bot": False, "first_name": "An"}, "chat_instance": "c",
             "data": "/order_status", "message": message("menu")}
    assert telegram.read_update(update(callback_query=query)) == telegram.Incoming(77, "/order_status", "cq1")


def test_telegram_edits_are_ignored():
    assert telegram.read_update(update(edited_message={**message("sửa"), "edit_date": 1700000001})) is None


# splitting ------------------------------------------------------------------------------------

def test_a_5000_character_reply_splits_under_4096():
    text = " ".join(["giao hàng"] * 500)  # 4999 characters
    parts = telegram.message_parts(text)
    assert len(parts) == 2 and all(len(p) <= 4096 for p in parts)
    assert " ".join(parts) == text
    assert split_text(text, 4096) == parts


def test_emoji_count_twice_toward_telegrams_limit():
    parts = telegram.message_parts("😀" * 3000)  # 3000 characters, 6000 UTF-16 units
    assert len(parts) == 2 and all(telegram.utf16_len(p) <= 4096 for p in parts)


# tokens ---------------------------------------------------------------------------------------

def test_zalo_refreshed_pair_survives_restart_and_is_not_reset_by_the_configured_pair(engine):
    store = zalo.TokenStore(engine, "app")
    assert store.seed("access-0", "refresh-0") == zalo.TokenPair("access-0", "refresh-0", None)
    expires = datetime.now(timezone.utc) + timedelta(hours=25)
    store.save(zalo.TokenPair("access-1", "refresh-1", expires))
    again = zalo.TokenStore(engine, "app")
    assert again.seed("access-0", "refresh-0") == zalo.TokenPair("access-1", "refresh-1", expires)
    assert again.load().expires_at == expires


def test_zalo_a_new_configured_pair_replaces_the_stored_one(engine):
    store = zalo.TokenStore(engine, "app")
    store.seed("access-0", "refresh-0")
    store.save(zalo.TokenPair("access-1", "refresh-1", datetime.now(timezone.utc)))
    assert store.seed("access-new", "refresh-new") == zalo.TokenPair("access-new", "refresh-new", None)


def test_zalo_token_is_refreshed_within_five_minutes_of_expiry():
    now = datetime.now(timezone.utc)
    assert zalo.TokenPair("a", "r", now + timedelta(minutes=4)).expiring(now)
    assert not zalo.TokenPair("a", "r", now + timedelta(minutes=6)).expiring(now)
    assert not zalo.TokenPair("a", "r", None).expiring(now)
    assert zalo.TokenPair("", "r", None).expiring(now)


# wiring ---------------------------------------------------------------------------------------

def test_connectors_without_credentials_are_disabled_with_one_log_line(engine, caplog):
    conversations = ConversationService(None, engine)
    settings = Settings(_env_file=None, telegram_token=None, zalo_app_id=None)
    with caplog.at_level(logging.INFO):
        assert telegram.TelegramConnector.from_settings(settings, conversations) is None
        assert zalo.ZaloConnector.from_settings(settings, conversations) is None
    lines = [r.getMessage() for r in caplog.records]
    assert "telegram connector disabled: CSKH_TELEGRAM_TOKEN not set" in lines
    assert any(line.startswith("zalo connector disabled: CSKH_ZALO_APP_ID") for line in lines)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_channel_settings_defaults():
    settings = Settings(_env_file=None)
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.zalo_api_url == "https://openapi.zalo.me"
    assert settings.zalo_oauth_url == "https://oauth.zaloapp.com"


async def test_background_jobs_run_in_order_per_conversation_and_concurrently_across():
    tasks, log = OrderedTasks(), []

    def job(key, number, delay):
        async def run():
            log.append(f"{key}{number}+")
            await asyncio.sleep(delay)
            log.append(f"{key}{number}-")
        return run

    tasks.submit("a", job("a", 1, 0.05))
    tasks.submit("a", job("a", 2, 0))
    tasks.submit("b", job("b", 1, 0))
    await tasks.drain()
    assert log.index("a1-") < log.index("a2+")      # in order within a conversation
    assert log.index("b1-") < log.index("a1-")      # b did not wait for a
    assert tasks.running == 0
