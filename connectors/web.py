"""The website chat widget channel: the demo shop page, the widget script, a WebSocket per open
widget and a REST fallback for browsers (or proxies) where WebSockets fail.

Conversation ids are made by the browser (a UUID kept in localStorage); Rasa sees "web:<id>".
Every frame the server sends is JSON:
  {"type": "typing", "on": bool}
  {"type": "message", "text", "buttons": [{"title", "payload"}], "custom"?, "reply_to"?}
  {"type": "message", "from": "user", "text", "id"}   (echo to the conversation's other tabs)
  {"type": "notice", "text"}                           (a human agent joined or left)
  {"type": "ack", "id", "duplicate": bool}             (the client message was received)
Agent messages are "message" frames with custom {"agent": name}.
  {"type": "error", "reason"}
"""
from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Set

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ValidationError, constr, validator

from connectors import ratelimit
from connectors.messages import InboundMessage, OutboundMessage, clean_text
from cskh.conversation import ConversationService, Duplicate
from cskh.events import Events
from cskh.settings import get_settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["web"])

STATIC = Path(__file__).resolve().parent / "static"
CHANNEL = "web"
ID_PATTERN = r"^[A-Za-z0-9-]{1,64}$"
_ID = re.compile(ID_PATTERN)
# The widget may be embedded on another origin: its REST fallback is a simple CORS API (no cookies).
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600"}


class BadFrame(ValueError):
    """A client frame or request body the channel cannot use; the message is the reason."""


class WebMessageIn(BaseModel):
    conversation: constr(strict=True, regex=ID_PATTERN)  # type: ignore[valid-type]
    text: constr(strict=True)  # type: ignore[valid-type]
    id: Optional[constr(strict=True, regex=ID_PATTERN)] = None  # type: ignore[valid-type]

    @validator("text")
    def _has_text(cls, value: str) -> str:
        value = clean_text(value)
        if not value.strip():
            raise ValueError("text is empty")
        limit = get_settings().max_message_chars
        if len(value) > limit:
            raise ValueError(f"text longer than {limit} characters")
        return value


def _reasons(invalid: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in invalid.errors())


def parse_frame(raw: str) -> Dict[str, Any]:
    """A client → server frame: {"type": "message", "text", "id"?}. Raises BadFrame with a reason."""
    if len(raw) > get_settings().max_message_chars * 4 + 1024:
        raise BadFrame("frame too large")
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadFrame('frame must be JSON: {"type": "message", "text": "...", "id": "..."}') from None
    if not isinstance(frame, dict):
        raise BadFrame("frame must be a JSON object")
    if frame.get("type") != "message":
        raise BadFrame(f"unknown frame type {frame.get('type')!r}; expected \"message\"")
    return frame


def message_frame(message: OutboundMessage, reply_to: Optional[str] = None) -> Dict[str, Any]:
    """reply_to: the client message id answered, so a tab that got the answer over REST can skip
    the same answer pushed to its (re)opened socket."""
    frame: Dict[str, Any] = {"type": "message", "text": message.text,
                             "buttons": [{"title": b.title, "payload": b.payload} for b in message.buttons]}
    if message.custom is not None:
        frame["custom"] = message.custom
    if reply_to:
        frame["reply_to"] = reply_to
    return frame


def rasa_id(conversation: str) -> str:
    """The widget's id → the conversation id Rasa and the rest of the service use ("web:<id>")."""
    return conversation if conversation.startswith(f"{CHANNEL}:") else f"{CHANNEL}:{conversation}"


class WebConnector:
    """Open widget sockets by conversation; answers messages and pushes frames to every open tab.

    With several gateway replicas a conversation's tabs may be open on other replicas: every frame
    pushed here goes to this replica's sockets at once and is published (cskh.events) for the
    other replicas, which push it to theirs."""

    PENDING_LIMIT = 50

    def __init__(self, conversations: ConversationService, events: Optional[Events] = None) -> None:
        self.conversations = conversations
        self.events = events or Events()
        self.events.subscribe("web", self._from_other_replica)
        self._sockets: Dict[str, Set[WebSocket]] = defaultdict(set)
        # Messages and notices no open socket took (the widget is reconnecting, or on the REST
        # fallback) wait in the events mailbox for the conversation's next socket or REST call.

    def attach(self, conversation_id: str, socket: WebSocket) -> None:
        self._sockets[rasa_id(conversation_id)].add(socket)

    async def pending(self, conversation_id: str) -> List[Dict[str, Any]]:
        """Take the frames kept for a conversation while no socket was open."""
        return await self.events.take(_box(conversation_id))

    def detach(self, conversation_id: str, socket: WebSocket) -> None:
        key = rasa_id(conversation_id)
        self._sockets[key].discard(socket)
        if not self._sockets[key]:
            del self._sockets[key]

    def online(self, conversation_id: str) -> bool:
        """A socket of the conversation is open on this replica."""
        return bool(self._sockets.get(rasa_id(conversation_id)))

    async def _push_here(self, key: str, frame: Dict[str, Any], skip: Optional[WebSocket] = None) -> int:
        delivered = 0
        for socket in list(self._sockets.get(key, ())):
            if socket is skip:
                continue
            try:
                await socket.send_json(frame)
                delivered += 1
            except Exception:  # a socket closing under us: its handler detaches it
                log.debug("web socket gone for %s", key)
        return delivered

    async def push(self, conversation_id: str, frame: Dict[str, Any],
                   skip: Optional[WebSocket] = None, keep: bool = False) -> int:
        """Send a frame to every open socket of the conversation (here, and on other replicas);
        returns how many sockets of this replica got it. `keep`: when none here took it, it is
        also kept for the next socket or REST call (and forgotten when another replica's socket
        takes it)."""
        key = rasa_id(conversation_id)
        delivered = await self._push_here(key, frame, skip)
        kept = await self.events.keep(_box(key), frame, self.PENDING_LIMIT) if keep and not delivered else None
        self.events.publish("web", {"conversation": key, "frame": frame, **({"kept": kept} if kept else {})})
        return delivered

    async def _from_other_replica(self, event: Dict[str, Any]) -> None:
        key, frame = event.get("conversation"), event.get("frame")
        if not isinstance(key, str) or not isinstance(frame, dict):
            return
        if await self._push_here(key, frame) and event.get("kept"):
            await self.events.forget(_box(key), event["kept"])

    async def send(self, conversation_id: str, message: OutboundMessage, reply_to: Optional[str] = None,
                   keep: bool = True) -> int:
        """Deliver a bot (or agent) message to the widget's open sockets; with none open (0),
        it is kept for the next socket or REST call unless keep is False."""
        return await self.push(conversation_id, message_frame(message, reply_to), keep=keep)

    async def notify(self, conversation_id: str, text: str) -> int:
        """A notice line ("An agent joined"); conversation_id is "web:<id>" or the bare widget id.
        Kept for later like send() when no widget socket is open."""
        return await self.push(conversation_id, {"type": "notice", "text": text}, keep=True)

    async def answer(self, conversation: str, text: str, message_id: Optional[str]) -> List[OutboundMessage]:
        """Hand one widget message to the conversation service; raises Duplicate for a resend."""
        return await self.conversations.handle(InboundMessage(CHANNEL, conversation, text, message_id))


def _box(conversation_id: str) -> str:
    return f"web-pending:{rasa_id(conversation_id)}"


def _connector(app) -> WebConnector:
    connector = getattr(app.state, "web", None)
    if connector is None:  # the gateway creates it in lifespan; this keeps the router usable alone
        connector = app.state.web = WebConnector(app.state.conversations)
    return connector


# --- pages and assets -----------------------------------------------------------------------------

def _asset(name: str, media_type: str) -> FileResponse:
    cache = "public, max-age=3600" if get_settings().env == "production" else "no-cache"
    return FileResponse(STATIC / name, media_type=media_type, headers={"Cache-Control": cache, **CORS})


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
async def shop_page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})


@router.api_route("/widget.js", methods=["GET", "HEAD"], include_in_schema=False)
async def widget_script() -> FileResponse:
    return _asset("widget.js", "application/javascript; charset=utf-8")


# --- WebSocket ------------------------------------------------------------------------------------

@router.websocket("/ws/chat")
async def chat_socket(socket: WebSocket, conversation: str = "") -> None:
    if not _ID.match(conversation):
        await socket.close(code=1008, reason="conversation must be 1-64 characters of A-Z, a-z, 0-9 and -")
        return
    connector = _connector(socket.app)
    await socket.accept()
    connector.attach(conversation, socket)
    try:
        for frame in await connector.pending(conversation):
            await socket.send_json(frame)
        while True:
            received = await socket.receive()
            if received["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(received.get("code", 1000))
            raw = received.get("text")
            if raw is None:  # a binary frame: the widget never sends one, but text in it is accepted
                try:
                    raw = (received.get("bytes") or b"").decode("utf-8")
                except UnicodeDecodeError:
                    await socket.send_json({"type": "error", "reason": "frames must be UTF-8 JSON text"})
                    continue
            wait = ratelimit.limits(socket.app).message("ws", ratelimit.client_ip(socket), f"web:{conversation}")
            if wait:
                await _slow_down(socket, raw, wait)
                continue
            try:
                frame = parse_frame(raw)
                message = WebMessageIn.parse_obj({"conversation": conversation, "text": frame.get("text"),
                                                  "id": frame.get("id")})
            except BadFrame as bad:
                await socket.send_json({"type": "error", "reason": str(bad)})
                continue
            except ValidationError as invalid:
                await socket.send_json({"type": "error", "reason": _reasons(invalid), "id": frame.get("id")})
                continue
            await _answer_on_socket(connector, socket, message)
    except WebSocketDisconnect:
        pass
    finally:
        connector.detach(conversation, socket)


async def _slow_down(socket: WebSocket, raw: str, wait: float) -> None:
    """Over the rate limit: a polite reply instead of an answer, and the message acknowledged
    (not processed: the customer sends it again)."""
    message_id = None
    try:
        frame = json.loads(raw) if len(raw) <= 64 * 1024 else None
        candidate = frame.get("id") if isinstance(frame, dict) else None
        message_id = candidate if isinstance(candidate, str) and _ID.match(candidate) else None
    except (ValueError, RecursionError):
        pass
    reply: Dict[str, Any] = {"type": "message", "text": ratelimit.POLITE, "buttons": [],
                             "custom": {"rate_limited": True, "retry_after": ratelimit.retry_after(wait)}}
    if message_id:
        reply["reply_to"] = message_id
    await socket.send_json(reply)
    if message_id:
        await socket.send_json({"type": "ack", "id": message_id, "duplicate": False, "rate_limited": True})


async def _answer_on_socket(connector: WebConnector, socket: WebSocket, message: WebMessageIn) -> None:
    conversation = message.conversation
    await connector.push(conversation, {"type": "message", "from": "user", "text": message.text,
                                        "id": message.id}, skip=socket)
    await connector.push(conversation, {"type": "typing", "on": True})
    try:
        replies = await connector.answer(conversation, message.text, message.id)
    except Duplicate:  # a resend after a reconnect: it was (or is being) answered already
        await connector.push(conversation, {"type": "typing", "on": False})
        await socket.send_json({"type": "ack", "id": message.id, "duplicate": True})
        return
    except Exception:
        log.exception("engine failed for web conversation %s", conversation)
        await connector.push(conversation, {"type": "typing", "on": False})
        await socket.send_json({"type": "error", "reason": "the assistant is temporarily unavailable, please retry",
                                "id": message.id})
        return
    # Replies go to every open tab of this conversation, so a tab that reconnected mid-answer gets them.
    await connector.push(conversation, {"type": "typing", "on": False})
    for reply in replies:
        await connector.send(conversation, reply, message.id)
    await socket.send_json({"type": "ack", "id": message.id, "duplicate": False})


# --- REST fallback --------------------------------------------------------------------------------

def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": reason}, headers=CORS)


@router.options("/api/web/messages", include_in_schema=False)
@router.options("/api/web/history", include_in_schema=False)
@router.options("/api/web/updates", include_in_schema=False)
async def preflight() -> Response:
    return Response(status_code=204, headers=CORS)


@router.post("/api/web/messages")
async def post_message(request: Request) -> Any:
    """The widget's fallback when WebSockets fail: one message in, the replies in the response."""
    wait = ratelimit.check_http(request, "web")
    if wait:
        return ratelimit.too_many(wait, ratelimit.POLITE, CORS)
    body = await request.body()
    if len(body) > get_settings().max_message_chars * 4 + 1024:
        return _error(413, "request body too large")
    try:
        message = WebMessageIn.parse_raw(body)
    except ValidationError as invalid:
        if any(e["type"].startswith("value_error.jsondecode") for e in invalid.errors()):
            return _error(400, 'body must be JSON: {"conversation": "...", "text": "...", "id": "..."}')
        return _error(422, _reasons(invalid))
    except RecursionError:
        return _error(400, "body must be JSON nested less deeply")
    wait = ratelimit.limits(request.app).message("web", sender=f"web:{message.conversation}")
    if wait:
        return ratelimit.too_many(wait, ratelimit.POLITE, CORS)
    connector = _connector(request.app)
    try:
        replies = await connector.answer(message.conversation, message.text, message.id)
    except Duplicate:
        return JSONResponse({"messages": await connector.pending(message.conversation), "duplicate": True},
                            headers=CORS)
    except Exception:
        log.exception("engine failed for web conversation %s", message.conversation)
        return _error(503, "the assistant is temporarily unavailable, please retry")
    # Open tabs of the same conversation (WebSocket) see the exchange too.
    await connector.push(message.conversation, {"type": "message", "from": "user", "text": message.text,
                                                "id": message.id})
    for reply in replies:  # already answered in this response: not kept for later
        await connector.send(message.conversation, reply, message.id, keep=False)
    frames = await connector.pending(message.conversation) + [message_frame(r) for r in replies]
    return JSONResponse({"messages": frames, "duplicate": False}, headers=CORS)


@router.get("/api/web/updates")
async def updates(request: Request, conversation: str = Query(..., regex=ID_PATTERN)) -> Any:
    """What an agent or the hand-off sent while the widget had no socket (it polls this on REST)."""
    return JSONResponse({"messages": await _connector(request.app).pending(conversation)}, headers=CORS)


@router.get("/api/web/history")
async def history(request: Request, conversation: str = Query(..., regex=ID_PATTERN)) -> Any:
    """The transcript so far, oldest first: [{"from": "user"|"bot"|"notice", "text", "buttons"?, "custom"?}]."""
    wait = ratelimit.check_http(request, "history")
    if wait:
        return ratelimit.too_many(wait, ratelimit.POLITE, CORS)
    store = request.app.state.assistant.agent.tracker_store
    tracker = await store.retrieve_full_tracker(rasa_id(conversation))
    events = [e.as_dict() for e in tracker.events] if tracker else []
    turns = transcript(events)
    # Kept messages are in the transcript already; kept notices are not, so they come last.
    turns += [{"from": "notice", "text": f["text"]} for f in await _connector(request.app).pending(conversation)
              if f["type"] == "notice"]
    return JSONResponse({"conversation": conversation, "messages": turns}, headers=CORS)


def transcript(events: List[Dict[str, Any]], limit: int = 200) -> List[Dict[str, Any]]:
    """User and bot turns from Rasa events. A quick-reply click is stored as its payload
    ("/order_status"); it is shown as the button's title, as the widget showed it."""
    turns: List[Dict[str, Any]] = []
    last_buttons: Dict[str, str] = {}
    for event in events:
        kind = event.get("event")
        if kind == "bot":
            data = event.get("data") or {}
            buttons = [{"title": b.get("title", ""), "payload": b.get("payload", "")}
                       for b in data.get("buttons") or []]
            if not event.get("text") and not buttons:
                continue
            turn: Dict[str, Any] = {"from": "bot", "text": event.get("text") or "", "buttons": buttons}
            if data.get("custom") is not None:
                turn["custom"] = data["custom"]
            agent = (event.get("metadata") or {}).get("agent_name")
            if agent:  # a human agent's message, stored by the hand-off service
                turn["custom"] = {**(turn.get("custom") or {}), "agent": agent}
            turns.append(turn)
            last_buttons = {b["payload"]: b["title"] for b in buttons}
        elif kind == "user":
            text = event.get("text") or ""
            if text:
                turns.append({"from": "user", "text": last_buttons.get(text, text)})
            last_buttons = {}
    return turns[-limit:]
