"""Rasa's REST channel contract: POST /webhooks/rest/webhook {"sender", "message"} → [messages]."""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, Optional

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError, constr, validator

from connectors import ratelimit
from connectors.messages import InboundMessage, clean_text
from cskh.conversation import ConversationService
from cskh.settings import get_settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks/rest", tags=["channels"])
OTHER_CHANNELS = {"web", "telegram", "zalo"}  # their conversation ids are "<channel>:<id>"


class RestMessage(BaseModel):
    sender: constr(strict=True, min_length=1, max_length=128)  # type: ignore[valid-type]
    message: constr(strict=True)  # type: ignore[valid-type]
    metadata: Optional[Dict[str, Any]] = None

    @validator("sender")
    def _printable_sender(cls, value: str) -> str:
        if not value.strip() or not value.isprintable():
            raise ValueError("sender must be printable text")
        if value.split(":", 1)[0].lower() in OTHER_CHANNELS and ":" in value:
            # "telegram:123" is that Telegram user's conversation (and its verified order)
            raise ValueError("sender must not start with another channel's prefix (web:, telegram:, zalo:)")
        return value

    @validator("message")
    def _has_text(cls, value: str) -> str:
        value = clean_text(value)
        if not value.strip():
            raise ValueError("message is empty")
        return value


def error(status: int, reason: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": reason})


@router.post("/webhook")
async def webhook(request: Request) -> Any:
    settings = get_settings()
    wait = ratelimit.check_http(request, "rest")
    if wait:
        return ratelimit.too_many(wait, f"too many requests from this address; retry in {ratelimit.retry_after(wait)} s")
    body = await request.body()
    if len(body) > settings.max_message_chars * 4 + 1024:
        return error(413, f"request body too large (message limit {settings.max_message_chars} characters)")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return error(400, "body must be JSON (UTF-8): {\"sender\": \"...\", \"message\": \"...\"}")
    if not isinstance(payload, dict):
        return error(400, "body must be a JSON object with sender and message")
    try:
        message = RestMessage.parse_obj(payload)
    except ValidationError as invalid:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in invalid.errors())
        return error(422, reasons)
    if len(message.message) > settings.max_message_chars:
        return error(413, f"message longer than {settings.max_message_chars} characters")
    wait = ratelimit.limits(request.app).message("rest", sender=f"rest:{message.sender}")
    if wait:
        return ratelimit.too_many(wait, f"too many messages from this sender; retry in {ratelimit.retry_after(wait)} s")
    conversations: ConversationService = request.app.state.conversations
    inbound = InboundMessage("rest", message.sender, message.message, metadata=message.metadata or {})
    try:
        replies = await conversations.handle(inbound)
    except Exception:  # the engine failed: say so clearly instead of a 500
        log.exception("engine failed for sender %s", message.sender)
        return error(503, "the assistant is temporarily unavailable, please retry")
    return [reply.as_rest(message.sender) for reply in replies]
