"""The conversation service every channel hands its messages to.

It records each inbound message before processing (so an acknowledged message is never lost),
answers a redelivered message id once, processes the messages of one conversation in order
and different conversations concurrently, and turns Rasa's replies into OutboundMessages.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime, timezone
from typing import Dict, List, Optional

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, UniqueConstraint, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from connectors.messages import InboundMessage, OutboundMessage

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
    Column("status", String(16), nullable=False, default="received"),  # received → answered | failed
    UniqueConstraint("channel", "message_id", name="uq_channel_message"),
)


class Duplicate(Exception):
    """This channel message id was already received."""


class ConversationService:
    def __init__(self, assistant, engine: Engine) -> None:  # assistant: cskh.assistant.Assistant
        self.assistant = assistant
        self.engine = engine
        metadata.create_all(engine)
        self._locks: Dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def record(self, message: InboundMessage) -> int:
        """Persist before processing; raises Duplicate for a channel message id seen before."""
        row = {"channel": message.channel, "message_id": message.message_id,
               "conversation_id": message.conversation_id, "text": message.text,
               "received_at": datetime.now(timezone.utc), "status": "received"}
        try:
            with self.engine.begin() as conn:
                return int(conn.execute(inbound_messages.insert().values(**row)).inserted_primary_key[0])
        except IntegrityError as error:
            raise Duplicate(f"{message.channel} message {message.message_id} already received") from error

    def _mark(self, row_id: int, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(inbound_messages.update().where(inbound_messages.c.id == row_id).values(status=status))

    async def handle(self, message: InboundMessage, recorded: Optional[int] = None) -> List[OutboundMessage]:
        """Record, then answer. Duplicate is raised (and nothing answered) for a redelivery.

        `recorded`: the row id when the channel already called `record` (webhooks record before
        acknowledging, then answer in the background)."""
        loop = asyncio.get_running_loop()
        row_id = recorded if recorded is not None else await loop.run_in_executor(None, self.record, message)
        conversation = message.conversation_id
        async with self._locks[conversation]:
            try:
                replies = await self.assistant.handle(conversation, message.text,
                                                      {"channel": message.channel, **message.metadata})
            except Exception:
                await loop.run_in_executor(None, self._mark, row_id, "failed")
                raise
        await loop.run_in_executor(None, self._mark, row_id, "answered")
        return [OutboundMessage.from_rasa(conversation, r) for r in replies]

    def mark_answered(self, row_id: int) -> None:
        """For a recorded message a channel answered itself (e.g. "only text is supported")."""
        self._mark(row_id, "answered")

    def unanswered(self, channel: Optional[str] = None) -> List[dict]:
        query = select(inbound_messages).where(inbound_messages.c.status != "answered")
        if channel:
            query = query.where(inbound_messages.c.channel == channel)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
