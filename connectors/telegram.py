"""Telegram: a webhook in the gateway (POST /webhooks/telegram), or long polling for development
(`cskh telegram poll`).

An update is checked (secret header), parsed, recorded (update_id is the message id, so a
redelivered update is answered once) and only then acknowledged with 200; it is answered in the
background, in order per chat. Replies are plain text split at Telegram's 4096-character limit,
with buttons as an inline keyboard whose callback_data is the button's payload (or, for a payload
over Telegram's 64 bytes, a short key kept in the app database).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Dict, List, Optional, Sequence

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Column, MetaData, String, Table, Text, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError

from connectors.background import OrderedTasks, answer_recorded
from connectors import ratelimit
from connectors.messages import Button, InboundMessage, OutboundMessage, clean_text, split_text
from cskh.conversation import ConversationService, Duplicate
from cskh.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["channels"])

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TEXT_LIMIT = 4096          # characters (UTF-16 code units) of one message
CALLBACK_LIMIT = 64        # bytes of callback_data
LONG_PAYLOAD = "cb:"       # callback_data prefix of a payload kept in telegram_callbacks
MAX_BODY = 1_000_000
START_PAYLOAD = "/greet"   # /start greets like the web widget does
ALLOWED_UPDATES = ["message", "callback_query"]
TEXT_ONLY = "Dạ, hiện em chỉ đọc được tin nhắn văn bản, anh/chị nhắn bằng chữ giúp em nhé."
EXPIRED_BUTTON = "Dạ, nút này đã hết hạn, anh/chị nhắn lại yêu cầu giúp em nhé."
CHOOSE = "Dạ, anh/chị chọn giúp em:"

metadata = MetaData()
callbacks = Table(
    "telegram_callbacks", metadata,
    Column("key", String(40), primary_key=True),
    Column("payload", Text, nullable=False),
)


class BadUpdate(ValueError):
    """The body is not a Telegram update this channel can use; the message is the reason."""


@dataclass(frozen=True)
class Incoming:
    chat_id: int
    text: Optional[str]                      # None: not text (photo, sticker…)
    callback_query_id: Optional[str] = None  # a pressed inline button, to be answered


def read_update(update: Update) -> Optional[Incoming]:
    """What the customer said, or None for updates the channel ignores (edits, channel posts…)."""
    query = update.callback_query
    if query is not None:
        chat = query.message.chat.id if query.message is not None else query.from_user.id
        data = query.data if isinstance(query.data, str) and query.data else None
        return Incoming(_chat_id(chat), data, str(query.id))
    message = update.message
    if message is None:
        return None
    if message.text is None:
        return Incoming(_chat_id(message.chat.id), None)
    if not isinstance(message.text, str):
        raise BadUpdate("message.text must be a string")
    return Incoming(_chat_id(message.chat.id), command_text(message.text))


def _chat_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadUpdate("chat.id must be an integer")
    return value


def command_text(text: str) -> str:
    """/start (or /start@bot, /start ref) greets; another /command is read as its words."""
    if not text.startswith("/"):
        return text
    head, _, rest = text.partition(" ")
    command = head.split("@", 1)[0].lower()
    if command == "/start":
        return START_PAYLOAD
    words = (command[1:].replace("_", " ") + " " + rest).strip()
    return words or text


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def message_parts(text: str) -> List[str]:
    """split_text at 4096, re-split the rare part whose emoji push it over 4096 UTF-16 units."""
    parts: List[str] = []
    for part in split_text(text, TEXT_LIMIT):
        parts.extend(split_text(part, TEXT_LIMIT // 2) if utf16_len(part) > TEXT_LIMIT else [part])
    return parts


def fits_callback(payload: str) -> bool:
    return len(payload.encode("utf-8")) <= CALLBACK_LIMIT and not payload.startswith(LONG_PAYLOAD)


class CallbackStore:
    """callback_data ↔ payload; payloads over 64 bytes are kept under a short key (the same key
    for the same payload, so a button still works after a restart)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def data_for(self, payload: str) -> str:
        if fits_callback(payload):
            return payload
        key = LONG_PAYLOAD + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
        try:
            with self.engine.begin() as conn:
                conn.execute(callbacks.insert().values(key=key, payload=payload))
        except IntegrityError:
            pass  # already kept
        return key

    def payload_for(self, data: str) -> Optional[str]:
        if not data.startswith(LONG_PAYLOAD):
            return data
        with self.engine.connect() as conn:
            return conn.execute(select(callbacks.c.payload).where(callbacks.c.key == data)).scalar()


class RedactToken(logging.Filter):
    """The Bot API puts the token in every URL, and httpx logs URLs: keep it out of the logs."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self.token:
            message = record.getMessage()
            if self.token in message:
                record.msg, record.args = message.replace(self.token, "<token>"), ()
        return True


def make_bot(settings: Settings) -> Bot:
    api = settings.telegram_api_url.rstrip("/")
    return Bot(settings.telegram_token or "", base_url=f"{api}/bot", base_file_url=f"{api}/file/bot")


class TelegramConnector:
    def __init__(self, settings: Settings, conversations: ConversationService, bot: Optional[Bot] = None) -> None:
        self.conversations = conversations
        self.secret = settings.telegram_secret or None
        self._token = settings.telegram_token or ""
        self.bot = bot or make_bot(settings)
        self.callbacks = CallbackStore(conversations.engine)
        self.tasks = OrderedTasks()
        self._redact = RedactToken(self._token)
        self.polling = settings.telegram_mode == "polling"
        self._stop_polling = asyncio.Event()
        self._poller: Optional[asyncio.Task] = None

    @classmethod
    def from_settings(cls, settings: Settings, conversations: ConversationService) -> Optional["TelegramConnector"]:
        if not settings.telegram_token:
            log.info("telegram connector disabled: CSKH_TELEGRAM_TOKEN not set")
            return None
        if not settings.telegram_secret and settings.telegram_mode != "polling":
            log.warning("telegram webhook disabled: CSKH_TELEGRAM_SECRET not set (polling still works)")
        return cls(settings, conversations)

    async def start(self) -> None:
        logging.getLogger("httpx").addFilter(self._redact)
        try:
            await self.bot.initialize()  # getMe: checks the token
            log.info("telegram connector ready as @%s", self.bot.username)
        except TelegramError as error:  # Telegram unreachable or token refused: keep serving the rest
            log.error("telegram getMe failed (%s): replies may fail until Telegram answers",
                      self._hide_token(str(error)))
        if self.polling:
            self._poller = asyncio.get_running_loop().create_task(self.poll(self._stop_polling))

    async def stop(self) -> None:
        if self._poller is not None:
            self._stop_polling.set()
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        await self.tasks.drain()
        try:
            await self.bot.shutdown()
        except TelegramError:
            log.warning("telegram shutdown failed", exc_info=True)
        logging.getLogger("httpx").removeFilter(self._redact)

    def _hide_token(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token else text

    def secret_matches(self, given: str) -> bool:
        return bool(self.secret) and hmac.compare_digest(given.encode("utf-8"), (self.secret or "").encode("utf-8"))

    # inbound ------------------------------------------------------------------------------

    async def accept(self, update: Update) -> Dict[str, Any]:
        """Record the update and schedule its answer; returns what the webhook reports."""
        incoming = read_update(update)
        if incoming is None:
            return {"ignored": True}
        loop = asyncio.get_running_loop()
        text, canned = incoming.text, None
        if text is None or not clean_text(text).strip():  # not text, or only invisible characters
            text, canned = None, TEXT_ONLY
        elif incoming.callback_query_id is not None:
            text = await loop.run_in_executor(None, self.callbacks.payload_for, text)
            canned = None if text is not None else EXPIRED_BUTTON
        inbound = InboundMessage(CHANNEL, str(incoming.chat_id), text or incoming.text or "[không phải văn bản]",
                                 message_id=str(update.update_id))
        try:
            row = await loop.run_in_executor(None, self.conversations.record, inbound)
        except Duplicate:
            log.info("telegram update %s already received", update.update_id)
            return {"duplicate": True}
        self.tasks.submit(inbound.conversation_id, lambda: self._answer(incoming, inbound, row, canned))
        return {}

    async def _answer(self, incoming: Incoming, inbound: InboundMessage, row: int, canned: Optional[str]) -> None:
        if incoming.callback_query_id is not None:
            try:
                await self.bot.answer_callback_query(incoming.callback_query_id)
            except TelegramError as error:  # too late or already answered: the reply matters more
                log.info("answerCallbackQuery failed: %s", error)
        await answer_recorded(self.conversations, inbound, row, canned, self.send)

    # outbound -----------------------------------------------------------------------------

    async def send(self, conversation_id: str, message: OutboundMessage) -> None:
        """Send one reply to the chat of `conversation_id` ("telegram:<chat id>")."""
        chat_id = int(conversation_id.split(":", 1)[1])
        text = message.text or (CHOOSE if message.buttons else "")
        if not text:
            return  # custom payloads have no Telegram rendering
        markup = await self.keyboard(message.buttons) if message.buttons else None
        parts = message_parts(text)
        for number, part in enumerate(parts, 1):
            await self._call(self.bot.send_message, chat_id=chat_id, text=part,
                             reply_markup=markup if number == len(parts) else None)

    async def keyboard(self, buttons: Sequence[Button]) -> InlineKeyboardMarkup:
        loop = asyncio.get_running_loop()
        rows = []
        for button in buttons:
            data = await loop.run_in_executor(None, self.callbacks.data_for, button.payload)
            rows.append([InlineKeyboardButton(button.title or button.payload, callback_data=data)])
        return InlineKeyboardMarkup(rows)

    async def _call(self, method, attempts: int = 3, **kwargs: Any) -> Any:
        """A Bot API call, retried on flood control and network errors; a blocked bot is logged."""
        for attempt in range(1, attempts + 1):
            try:
                return await method(**kwargs)
            except RetryAfter as error:
                delay = error.retry_after
                wait = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
                if attempt == attempts:
                    raise
                await asyncio.sleep(min(wait, 30.0))
            except Forbidden as error:
                log.warning("telegram refused delivery to %s: %s", kwargs.get("chat_id"), error)
                return None
            except NetworkError:
                if attempt == attempts:
                    raise
                await asyncio.sleep(0.5 * attempt)
        return None

    # polling ------------------------------------------------------------------------------

    async def poll(self, stop: Optional[asyncio.Event] = None, timeout: int = 25) -> None:
        """Long polling (development): the same path as the webhook; the offset moves past an
        update only once it is recorded, so an update is never dropped."""
        stop = stop or asyncio.Event()
        offset: Optional[int] = None
        webhook_removed = False
        log.info("telegram polling for updates")
        while not stop.is_set():
            try:
                if not webhook_removed:  # getUpdates is refused while a webhook is set
                    webhook_removed = bool(await self.bot.delete_webhook())
                updates = await self.bot.get_updates(offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES)
            except TelegramError as failure:
                log.warning("telegram polling failed (%s); retrying", self._hide_token(str(failure)))
                await asyncio.sleep(2)
                continue
            for update in updates:
                try:
                    await self.accept(update)
                except BadUpdate as bad:
                    log.warning("skipped telegram update %s: %s", update.update_id, bad)
                except Exception:  # not recorded (database down?): fetch it again later
                    log.exception("could not record telegram update %s; retrying", update.update_id)
                    await asyncio.sleep(2)
                    break
                offset = update.update_id + 1


def error(status: int, reason: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": reason})


@router.post("/webhooks/telegram")
async def webhook(request: Request) -> Any:
    connector: Optional[TelegramConnector] = getattr(request.app.state, "telegram", None)
    if connector is None:
        return error(503, "the telegram channel is disabled: CSKH_TELEGRAM_TOKEN is not set")
    if not connector.secret:
        return error(503, "the telegram webhook is disabled: CSKH_TELEGRAM_SECRET is not set")
    given = request.headers.get(SECRET_HEADER)
    if not given:
        return error(401, f"missing {SECRET_HEADER}")
    if not connector.secret_matches(given):
        return error(403, f"wrong {SECRET_HEADER}")
    body = await request.body()
    if len(body) > MAX_BODY:
        return error(413, "request body too large")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return error(400, "body must be a JSON Telegram update")
    if not isinstance(payload, dict):
        return error(400, "body must be a JSON object (a Telegram update)")
    update_id = payload.get("update_id")
    if isinstance(update_id, bool) or not isinstance(update_id, int):
        return error(422, "update_id: must be an integer")
    try:
        update = Update.de_json(payload, connector.bot)
        incoming = read_update(update)
        if incoming is not None:
            # Flooding: Telegram must still get 200 (it would redeliver), the message is dropped.
            wait = ratelimit.limits(request.app).message("telegram", sender=f"telegram:{incoming.chat_id}")
            if wait:
                log.warning("telegram: dropped update %s from chat %s (rate limited)", update.update_id,
                            incoming.chat_id)
                return {"ok": True, "dropped": "rate_limited"}
        outcome = await connector.accept(update)
    except BadUpdate as bad:
        return error(422, str(bad))
    except (KeyError, TypeError, ValueError, AttributeError) as bad:
        return error(422, f"not a Telegram update: {type(bad).__name__}: {bad}")
    return {"ok": True, **outcome}
