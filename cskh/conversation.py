"""The conversation service every channel hands its messages to.

It records each inbound message before processing (so an acknowledged message is never lost),
answers a redelivered message id once, processes the messages of one conversation in order
and different conversations concurrently, and turns Rasa's replies into OutboundMessages.
"""
from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from collections import defaultdict, deque
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, Deque, Dict, List, Optional, Tuple

from rasa.shared.core.events import BotUttered, UserUttered
from sqlalchemy import (Column, DateTime, Integer, MetaData, String, Table, Text, UniqueConstraint, and_, or_,
                        select)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from connectors.messages import InboundMessage, OutboundMessage
from cskh import metrics, sentiment
from cskh.events import Events
from cskh.logging import conversation_context

log = logging.getLogger(__name__)

metadata = MetaData()
inbound_messages = Table(
    "inbound_messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("message_id", String(128), nullable=True),
    Column("conversation_id", String(256), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False, default="received"),
    # received → answered | failed; failed (or long "received") → retrying → answered | abandoned
    UniqueConstraint("channel", "message_id", name="uq_channel_message"),
)


class Duplicate(Exception):
    """This channel message id was already received."""


def _in_thread(function, *args):
    """run_in_executor, keeping the log context (conversation id) in the worker thread."""
    call = functools.partial(contextvars.copy_context().run, function, *args)
    return asyncio.get_running_loop().run_in_executor(None, call)


class ConversationService:
    """Channels call handle(); hand-off, CSAT and the frustration trigger are decided here."""

    def __init__(self, assistant, engine: Engine, handoffs=None, frustration_trigger: bool = True,
                 events: Optional[Events] = None, stale_after: float = 120.0) -> None:
        self.assistant = assistant  # cskh.assistant.Assistant
        self.engine = engine
        self.handoffs = handoffs    # handoff.service.HandoffService (None: no hand-off support)
        self.frustration_trigger = frustration_trigger
        self.stale_after = stale_after  # seconds after which a message still "received" counts as lost
        metadata.create_all(engine)
        # In-process order per conversation; across replicas Rasa's lock store (Redis) serialises.
        self._locks: Dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._negativity: Dict[str, Deque[float]] = defaultdict(lambda: deque(maxlen=3))
        self._senders: Dict[str, Callable[[str, OutboundMessage], Awaitable[object]]] = {}
        # REST clients' undelivered messages: in the events mailbox, so the next request finds them
        # on whichever replica it arrives
        self.events = events or Events()

    # ---- delivery of messages the customer did not ask for (agents, notices, CSAT) -----------

    def register_channel(self, channel: str, send: Callable[[str, OutboundMessage], Awaitable[object]]) -> None:
        self._senders[channel] = send

    async def deliver(self, conversation_id: str, messages: List[OutboundMessage]) -> None:
        """Push to the conversation's channel; REST clients collect them with their next request."""
        channel = conversation_id.split(":", 1)[0] if ":" in conversation_id else "rest"
        send = self._senders.get(channel)
        if send is None:
            for message in messages:
                await self.events.keep(f"rest-outbox:{conversation_id}", message.as_rest(conversation_id), 200)
            return
        for message in messages:
            notice = (message.custom or {}).get("notice")
            if notice and channel != "web":  # only the widget draws notices; elsewhere they are a line of text
                message = OutboundMessage(conversation_id, f"({notice})")
            await send(conversation_id, message)

    async def drain(self, conversation_id: str) -> List[OutboundMessage]:
        return [OutboundMessage.from_rasa(conversation_id, kept)
                for kept in await self.events.take(f"rest-outbox:{conversation_id}")]

    def record(self, message: InboundMessage) -> int:
        """Persist before processing; raises Duplicate for a channel message id seen before."""
        row = {"channel": message.channel, "message_id": message.message_id,
               "conversation_id": message.conversation_id, "text": message.text,
               "received_at": datetime.now(timezone.utc), "status": "received"}
        try:
            with self.engine.begin() as conn:
                row_id = int(conn.execute(inbound_messages.insert().values(**row)).inserted_primary_key[0])
        except IntegrityError as error:
            again = self._reclaim(message)
            if again is not None:
                log.warning("message %s of %s was not answered before (%s): answering it now",
                            message.message_id, message.conversation_id, again[1])
                return again[0]
            metrics.MESSAGES_DUPLICATE.labels(metrics.channel_label(message.channel)).inc()
            raise Duplicate(f"{message.channel} message {message.message_id} already received") from error
        metrics.MESSAGES_RECEIVED.labels(metrics.channel_label(message.channel)).inc()
        return row_id

    def _reclaim(self, message: InboundMessage) -> Optional[Tuple[int, str]]:
        """A resend of a message id that was never answered (the engine failed on it, or the replica
        that took it died long ago): claim it for processing again; None for a real duplicate."""
        c = inbound_messages.c
        same = and_(c.channel == message.channel, c.message_id == message.message_id)
        stale = datetime.now(timezone.utc) - timedelta(seconds=self.stale_after)
        with self.engine.begin() as conn:
            found = conn.execute(select(c.id, c.status).where(same)).first()
            if found is None:
                return None
            unanswered = or_(c.status == "failed", and_(c.status == "received", c.received_at < stale))
            won = conn.execute(inbound_messages.update().where(and_(c.id == found.id, unanswered))
                               .values(status="received", received_at=datetime.now(timezone.utc))).rowcount
        return (int(found.id), found.status) if won == 1 else None

    def _mark(self, row_id: int, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(inbound_messages.update().where(inbound_messages.c.id == row_id).values(status=status))

    async def handle(self, message: InboundMessage, recorded: Optional[int] = None) -> List[OutboundMessage]:
        """Record, then answer. Duplicate is raised (and nothing answered) for a redelivery.

        `recorded`: the row id when the channel already called `record` (webhooks record before
        acknowledging, then answer in the background)."""
        started = time.perf_counter()
        channel = metrics.channel_label(message.channel)
        conversation = message.conversation_id
        with conversation_context(conversation, message.channel):  # every log line below carries it
            row_id = recorded if recorded is not None else await _in_thread(self.record, message)
            async with self._locks[conversation]:
                try:
                    replies = await self._answer(conversation, message)
                except Exception:
                    metrics.MESSAGES_FAILED.labels(channel).inc()
                    await _in_thread(self._mark, row_id, "failed")
                    raise
            await _in_thread(self._mark, row_id, "answered")
            elapsed = time.perf_counter() - started
            log.info("answered in %.0f ms", elapsed * 1000,
                     extra={"latency_ms": round(elapsed * 1000, 1), "replies": len(replies)})
        metrics.REPLY_LATENCY.labels(channel).observe(elapsed)
        return replies

    async def _answer(self, conversation: str, message: InboundMessage) -> List[OutboundMessage]:
        if self.handoffs is not None:
            rating = await _in_thread(self.handoffs.csat_reply, conversation, message.text)
            if rating is not None:
                await self.assistant.append(conversation, [UserUttered(message.text, metadata={"csat": True}),
                                                           BotUttered(rating[0].text)])
                return await self.drain(conversation) + rating
        mood = await _in_thread(sentiment.predict, message.text)
        history = self._negativity[conversation]
        history.append(mood.negative_probability)
        metadata = {**message.metadata, "channel": message.channel,  # a client cannot claim another channel
                    "sentiment": {"label": mood.label, "score": round(mood.score, 4),
                                  "negative": round(mood.negative_probability, 4), "signals": list(mood.signals)}}
        raw = await self.assistant.handle(conversation, message.text, metadata)
        replies = [OutboundMessage.from_rasa(conversation, r) for r in raw]
        if self.handoffs is None:
            return replies
        current = await _in_thread(self.handoffs.queue.current, conversation)
        if current is not None and current.is_open:
            self.handoffs.customer_said(current, message.text)  # no second read on the event loop
        elif self.frustration_trigger and (sentiment.is_frustrated(mood) or sentiment.worsening(list(history))):
            raw = await self.assistant.trigger(conversation, "request_human", {"handoff_reason": "frustration"})
            replies += [OutboundMessage.from_rasa(conversation, r) for r in raw]
            history.clear()
        return await self.drain(conversation) + replies

    def mark_answered(self, row_id: int) -> None:
        """For a recorded message a channel answered itself (e.g. "only text is supported")."""
        self._mark(row_id, "answered")

    def unanswered(self, channel: Optional[str] = None) -> List[dict]:
        query = select(inbound_messages).where(inbound_messages.c.status != "answered")
        if channel:
            query = query.where(inbound_messages.c.channel == channel)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
