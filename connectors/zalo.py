"""Zalo Official Account: a signed webhook (POST /webhooks/zalo) and replies through the OA API v3
customer-service message endpoint.

A webhook is verified (X-ZEvent-Signature: mac=sha256(app_id + raw body + timestamp + OA secret)),
recorded (msg_id is the message id, so a redelivered event is answered once) and acknowledged with
200 at once; it is answered in the background, in order per user. Zalo has no buttons: they are
rendered as a numbered list, and a reply of just the number (or the title) chooses that button.

The access token lives 25 hours; it is refreshed with the refresh token five minutes before it
expires and whenever the API answers -216, and each new pair is kept in the app database
(`zalo_tokens`), since a refresh token can be used once only.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Optional, Sequence, Tuple

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError, constr
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, select
from sqlalchemy.engine import Engine

from connectors.background import OrderedTasks, answer_recorded
from connectors import ratelimit
from connectors.messages import Button, InboundMessage, OutboundMessage, clean_text, split_text
from cskh.conversation import ConversationService, Duplicate
from cskh.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["channels"])

CHANNEL = "zalo"
SIGNATURE_HEADER = "X-ZEvent-Signature"
TEXT_EVENT = "user_send_text"
USER_EVENT_PREFIX = "user_send_"  # user_send_image, _sticker, _gif, _audio, _video, _file, _location, _link…
TEXT_LIMIT = 2000                 # characters of one OA text message
INVALID_TOKEN = -216
REFRESH_MARGIN = timedelta(minutes=5)
MAX_BODY = 1_000_000
TEXT_ONLY = "Dạ, hiện em chỉ đọc được tin nhắn văn bản, anh/chị nhắn bằng chữ giúp em nhé."
CHOOSE_HINT = "(Anh/chị nhắn số để chọn ạ.)"


class ZaloError(RuntimeError):
    """The OA API or the OAuth server refused a call; `code` is Zalo's error number."""

    def __init__(self, code: Any, message: str) -> None:
        super().__init__(f"zalo error {code}: {message}")
        self.code = code


# signature --------------------------------------------------------------------------------------

def signature(app_id: str, body: bytes, timestamp: str, oa_secret: str) -> str:
    """Zalo's event MAC: SHA-256 over app_id + the raw request body + timestamp + the OA secret key."""
    return hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret.encode()).hexdigest()


def signature_matches(header: str, expected: str) -> bool:
    """`header` is the X-ZEvent-Signature value, "mac=<hex>"."""
    scheme, _, given = header.strip().partition("=")
    if scheme.strip().lower() != "mac" or not given:
        return False
    return hmac.compare_digest(given.strip().lower().encode(), expected.lower().encode())


# buttons as text --------------------------------------------------------------------------------

def render(message: OutboundMessage) -> str:
    """The reply text with its buttons as a numbered list."""
    if not message.buttons:
        return message.text
    menu = "\n".join(f"{number}. {button.title or button.payload}"
                     for number, button in enumerate(message.buttons, 1))
    return "\n\n".join(part for part in (message.text, menu, CHOOSE_HINT) if part)


def choose(text: str, buttons: Sequence[Button]) -> Optional[str]:
    """The payload of the button the customer picked by number or by title, else None."""
    said = text.strip().rstrip(".").strip()
    if said.isdigit() and 1 <= int(said) <= len(buttons):
        return buttons[int(said) - 1].payload
    for button in buttons:
        if button.title and said.casefold() == button.title.strip().casefold():
            return button.payload
    return None


# tokens -----------------------------------------------------------------------------------------

metadata = MetaData()
tokens = Table(
    "zalo_tokens", metadata,
    Column("app_id", String(64), primary_key=True),
    Column("access_token", Text, nullable=False),
    Column("refresh_token", Text, nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),  # None: unknown (the configured pair)
    Column("seed", String(64), nullable=False),  # which configured pair this row descends from
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def _utc(value: Optional[datetime]) -> Optional[datetime]:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: Optional[str]
    expires_at: Optional[datetime] = None

    def expiring(self, now: Optional[datetime] = None) -> bool:
        """Refresh before use: no access token, or one that expires within five minutes."""
        if not self.access_token:
            return True
        if self.expires_at is None:
            return False
        return self.expires_at - (now or datetime.now(timezone.utc)) <= REFRESH_MARGIN


class TokenStore:
    """The current pair of one OA app in the app database (SQLAlchemy Core; survives restarts)."""

    def __init__(self, engine: Engine, app_id: str) -> None:
        self.engine, self.app_id = engine, app_id
        metadata.create_all(engine)

    @staticmethod
    def fingerprint(access_token: Optional[str], refresh_token: Optional[str]) -> str:
        return hashlib.sha256(f"{access_token or ''}\n{refresh_token or ''}".encode()).hexdigest()

    def seed(self, access_token: Optional[str], refresh_token: Optional[str]) -> TokenPair:
        """The stored pair, unless the configured pair changed since it was stored (a re-authorised
        OA): then the configured pair replaces it. Refreshed pairs are never overwritten by the
        configuration they descend from."""
        seed = self.fingerprint(access_token, refresh_token)
        with self.engine.begin() as conn:
            row = conn.execute(select(tokens).where(tokens.c.app_id == self.app_id)).first()
            if row is not None and row.seed == seed:
                return self._pair(row)
            pair = TokenPair(access_token or "", refresh_token or None, None)
            values = {"access_token": pair.access_token, "refresh_token": pair.refresh_token,
                      "expires_at": None, "seed": seed, "updated_at": datetime.now(timezone.utc)}
            if row is None:
                conn.execute(tokens.insert().values(app_id=self.app_id, **values))
            else:
                conn.execute(tokens.update().where(tokens.c.app_id == self.app_id).values(**values))
            return pair

    def load(self) -> Optional[TokenPair]:
        with self.engine.connect() as conn:
            row = conn.execute(select(tokens).where(tokens.c.app_id == self.app_id)).first()
        return self._pair(row) if row is not None else None

    def save(self, pair: TokenPair) -> None:
        with self.engine.begin() as conn:
            conn.execute(tokens.update().where(tokens.c.app_id == self.app_id).values(
                access_token=pair.access_token, refresh_token=pair.refresh_token, expires_at=pair.expires_at,
                updated_at=datetime.now(timezone.utc)))

    @staticmethod
    def _pair(row: Any) -> TokenPair:
        return TokenPair(row.access_token, row.refresh_token, _utc(row.expires_at))


# webhook payloads -------------------------------------------------------------------------------

class ZaloUser(BaseModel):
    id: constr(strict=True, min_length=1, max_length=64)  # type: ignore[valid-type]


class ZaloText(BaseModel):
    msg_id: constr(strict=True, min_length=1, max_length=128)  # type: ignore[valid-type]
    text: constr(strict=True, min_length=1)  # type: ignore[valid-type]


class ZaloTextEvent(BaseModel):
    sender: ZaloUser
    message: ZaloText


class ZaloUserEvent(BaseModel):
    """Any other user_send_* event: only who sent it matters (and msg_id, when given)."""
    sender: ZaloUser
    message: Optional[Dict[str, Any]] = None


# connector --------------------------------------------------------------------------------------

class ZaloConnector:
    def __init__(self, settings: Settings, conversations: ConversationService,
                 client: Optional[httpx.AsyncClient] = None) -> None:
        self.conversations = conversations
        self.app_id = settings.zalo_app_id or ""
        self.oa_secret = settings.zalo_oa_secret or ""
        self.app_secret = settings.zalo_app_secret or ""
        self.api_url = settings.zalo_api_url.rstrip("/")
        self.oauth_url = settings.zalo_oauth_url.rstrip("/")
        self._configured = (settings.zalo_access_token, settings.zalo_refresh_token)
        self.store = TokenStore(conversations.engine, self.app_id)
        self.client = client
        self.tasks = OrderedTasks()
        self._refresh_lock = asyncio.Lock()
        self._menus: Dict[str, Tuple[Button, ...]] = {}  # the last numbered list sent per conversation

    @classmethod
    def from_settings(cls, settings: Settings, conversations: ConversationService) -> Optional["ZaloConnector"]:
        missing = [name for name, value in (("CSKH_ZALO_APP_ID", settings.zalo_app_id),
                                            ("CSKH_ZALO_OA_SECRET", settings.zalo_oa_secret))
                   if not value]
        if not (settings.zalo_access_token or settings.zalo_refresh_token):
            missing.append("CSKH_ZALO_ACCESS_TOKEN or CSKH_ZALO_REFRESH_TOKEN")
        if missing:
            log.info("zalo connector disabled: %s not set", ", ".join(missing))
            return None
        if not (settings.zalo_refresh_token and settings.zalo_app_secret):
            log.warning("zalo: CSKH_ZALO_REFRESH_TOKEN or CSKH_ZALO_APP_SECRET not set: "
                        "the access token cannot be refreshed")
        return cls(settings, conversations)

    async def start(self) -> None:
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        await asyncio.get_running_loop().run_in_executor(None, self.store.seed, *self._configured)
        log.info("zalo connector ready for app %s", self.app_id)

    async def stop(self) -> None:
        await self.tasks.drain()
        if self.client is not None:
            await self.client.aclose()

    def expected_signature(self, body: bytes, timestamp: str) -> str:
        return signature(self.app_id, body, timestamp, self.oa_secret)

    # inbound ------------------------------------------------------------------------------

    async def accept(self, event: Dict[str, Any]) -> Dict[str, Any]:
        """Record a verified event and schedule its answer; returns what the webhook reports.
        Raises ValidationError for a user event without the fields it needs."""
        name = event.get("event_name")
        if name == TEXT_EVENT:
            text_event = ZaloTextEvent.parse_obj(event)
            canned = None if clean_text(text_event.message.text).strip() else TEXT_ONLY  # only invisible characters
            inbound = InboundMessage(CHANNEL, text_event.sender.id,
                                     text_event.message.text if canned is None else f"[{name}]",
                                     message_id=text_event.message.msg_id)
        elif isinstance(name, str) and name.startswith(USER_EVENT_PREFIX):
            user_event = ZaloUserEvent.parse_obj(event)
            msg_id = (user_event.message or {}).get("msg_id")
            if not isinstance(msg_id, str) or not msg_id:
                msg_id = f"{name}:{event.get('timestamp')}:{user_event.sender.id}"
            inbound = InboundMessage(CHANNEL, user_event.sender.id, f"[{name}]", message_id=msg_id[:128])
            canned = TEXT_ONLY
        else:
            return {"ignored": name}  # receipts (user_received_message, user_seen_message), follow…
        loop = asyncio.get_running_loop()
        try:
            row = await loop.run_in_executor(None, self.conversations.record, inbound)
        except Duplicate:
            log.info("zalo message %s already received", inbound.message_id)
            return {"duplicate": True}
        self.tasks.submit(inbound.conversation_id, lambda: self._answer(inbound, row, canned))
        return {}

    async def _answer(self, inbound: InboundMessage, row: int, canned: Optional[str]) -> None:
        if canned is None:  # a number or a title answers the last numbered menu sent to this user
            chosen = choose(inbound.text, self._menus.pop(inbound.conversation_id, ()))
            if chosen is not None:
                inbound = replace(inbound, text=chosen)
        await answer_recorded(self.conversations, inbound, row, canned, self.send)

    # outbound -----------------------------------------------------------------------------

    async def send(self, conversation_id: str, message: OutboundMessage) -> None:
        """Send one reply to the user of `conversation_id` ("zalo:<user id>")."""
        user_id = conversation_id.split(":", 1)[1]
        text = render(message)
        if message.buttons:
            self._menus[conversation_id] = tuple(message.buttons)
        for part in split_text(text, TEXT_LIMIT):
            await self.send_text(user_id, part)

    async def send_text(self, user_id: str, text: str) -> Dict[str, Any]:
        """POST /v3.0/oa/message/cs; on -216 the token is refreshed and the message sent once more."""
        pair = await self.current_pair()
        body = await self._post_message(pair.access_token, user_id, text)
        if body.get("error") == INVALID_TOKEN:
            log.info("zalo access token refused (-216): refreshing")
            pair = await self.refresh(pair)
            body = await self._post_message(pair.access_token, user_id, text)
        if body.get("error") != 0:
            raise ZaloError(body.get("error"), str(body.get("message")))
        return body

    async def _post_message(self, access_token: str, user_id: str, text: str, attempts: int = 3) -> Dict[str, Any]:
        assert self.client is not None, "start() the connector first"
        payload = {"recipient": {"user_id": user_id}, "message": {"text": text}}
        for attempt in range(1, attempts + 1):
            try:
                response = await self.client.post(f"{self.api_url}/v3.0/oa/message/cs", json=payload,
                                                  headers={"access_token": access_token})
                if response.status_code >= 500 and attempt < attempts:
                    raise httpx.TransportError(f"HTTP {response.status_code}")
                return _json(response)
            except httpx.TransportError:
                if attempt == attempts:
                    raise
                await asyncio.sleep(0.5 * attempt)
        raise AssertionError("unreachable")

    async def current_pair(self) -> TokenPair:
        pair = await asyncio.get_running_loop().run_in_executor(None, self.store.load)
        if pair is None:
            raise ZaloError("no_token", "no access token stored; start() the connector first")
        if pair.expiring():
            log.info("zalo access token expires at %s: refreshing", pair.expires_at)
            pair = await self.refresh(pair)
        return pair

    async def refresh(self, stale: TokenPair) -> TokenPair:
        """Trade the refresh token for a new pair and keep it; once, however many callers saw `stale`."""
        assert self.client is not None, "start() the connector first"
        loop = asyncio.get_running_loop()
        async with self._refresh_lock:
            current = await loop.run_in_executor(None, self.store.load)
            if current is not None and current.access_token != stale.access_token and not current.expiring():
                return current  # another caller refreshed meanwhile
            refresh_token = (current or stale).refresh_token
            if not refresh_token or not self.app_secret:
                raise ZaloError("no_refresh", "CSKH_ZALO_REFRESH_TOKEN / CSKH_ZALO_APP_SECRET needed to refresh")
            response = await self.client.post(
                f"{self.oauth_url}/v4/oa/access_token", headers={"secret_key": self.app_secret},
                data={"refresh_token": refresh_token, "app_id": self.app_id, "grant_type": "refresh_token"})
            body = _json(response)
            if not body.get("access_token"):
                raise ZaloError(body.get("error"), str(body.get("error_description") or body.get("error_name")
                                                       or body.get("message") or body))
            try:
                lifetime = int(body.get("expires_in") or 0)
            except (TypeError, ValueError):
                lifetime = 0
            pair = TokenPair(str(body["access_token"]), str(body.get("refresh_token") or refresh_token),
                             datetime.now(timezone.utc) + timedelta(seconds=lifetime or 25 * 3600))
            await loop.run_in_executor(None, self.store.save, pair)
            log.info("zalo access token refreshed; expires at %s", pair.expires_at.isoformat())
            return pair


def _json(response: httpx.Response) -> Dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ZaloError(f"http_{response.status_code}", response.text[:200]) from None
    if not isinstance(body, dict):
        raise ZaloError(f"http_{response.status_code}", "answer is not a JSON object")
    return body


def error(status: int, reason: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": reason})


@router.post("/webhooks/zalo")
async def webhook(request: Request) -> Any:
    connector: Optional[ZaloConnector] = getattr(request.app.state, "zalo", None)
    if connector is None:
        return error(503, "the zalo channel is disabled: CSKH_ZALO_APP_ID / CSKH_ZALO_OA_SECRET / tokens not set")
    header = request.headers.get(SIGNATURE_HEADER)
    if not header:
        return error(401, f"missing {SIGNATURE_HEADER}")
    body = await request.body()
    if len(body) > MAX_BODY:
        return error(413, "request body too large")
    try:
        event = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return error(400, "body must be a JSON Zalo event")
    if not isinstance(event, dict):
        return error(400, "body must be a JSON object (a Zalo event)")
    timestamp = event.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, (str, int)) or timestamp == "":
        return error(400, "timestamp: missing (it is part of the signature)")
    if not signature_matches(header, connector.expected_signature(body, str(timestamp))):
        return error(403, f"wrong {SIGNATURE_HEADER}")
    name, sender = event.get("event_name"), event.get("sender")
    user = sender.get("id") if isinstance(sender, dict) else None
    if isinstance(name, str) and name.startswith(USER_EVENT_PREFIX) and isinstance(user, str) and user:
        # Flooding: Zalo must still get 200 (it would redeliver), the message is dropped.
        if ratelimit.limits(request.app).message("zalo", sender=f"zalo:{user[:64]}"):
            log.warning("zalo: dropped %s from user %s (rate limited)", name, user[:64])
            return {"ok": True, "dropped": "rate_limited"}
    try:
        outcome = await connector.accept(event)
    except ValidationError as invalid:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in invalid.errors())
        return error(422, reasons)
    return {"ok": True, **outcome}
