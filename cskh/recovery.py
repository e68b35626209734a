"""Messages that were acknowledged but never answered get answered, or go to a person.

Webhook channels (Telegram, Zalo) record a message and say 200 before answering it. If the
replica then dies, or the engine fails on it, the platform will not send it again: without this
sweep the customer would wait forever. Every `interval` seconds each replica claims such rows
(status `failed` for `retry_after` seconds, or still `received` after `stale_after` seconds, so the
replica that took it is gone) with a conditional UPDATE, so one replica retries each row once:
- answered on the retry: the customer gets the (late) answer;
- failing again: the row becomes `abandoned`, the conversation is queued for a person (reason
  `system_error`, Rasa's tracker paused so the bot stays quiet) and the customer is told so.

The REST and widget channels answer inside the request, so their client sees the failure and sends
again (a widget resend of a failed message id is processed again, see ConversationService.record);
they are not swept."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, Dict, List

from rasa.shared.core.events import ConversationPaused
from sqlalchemy import and_, or_, select

from connectors.messages import InboundMessage, OutboundMessage
from cskh.conversation import ConversationService, _in_thread, inbound_messages
from cskh.polling import Every

log = logging.getLogger(__name__)

SORRY = ("Dạ, em xin lỗi, hệ thống vừa gặp sự cố nên chưa trả lời được tin nhắn của anh/chị. "
         "Em đã chuyển cho nhân viên hỗ trợ, anh/chị chờ em một chút nhé.")
Send = Callable[[str, OutboundMessage], Awaitable[object]]


class Recovery:
    def __init__(self, conversations: ConversationService, senders: Dict[str, Send], stale_after: float = 120.0,
                 interval: float = 15.0, batch: int = 20, retry_after: float = 5.0) -> None:
        self.conversations, self.senders = conversations, senders
        self.stale_after, self.batch = stale_after, batch
        self.retry_after = retry_after  # a failed message waits this long (the outage may pass; the
        # channel's own "busy" apology goes out first)
        self.poll = Every(interval, self.sweep, "recovery")

    def _claim(self) -> List[dict]:
        """Rows of the swept channels that need answering, each claimed by this replica alone."""
        if not self.senders:
            return []
        now = datetime.now(timezone.utc)
        stale, settled = now - timedelta(seconds=self.stale_after), now - timedelta(seconds=self.retry_after)
        c = inbound_messages.c
        stuck = and_(c.channel.in_(list(self.senders)),
                     or_(and_(c.status == "failed", c.received_at < settled),
                         and_(c.status == "received", c.received_at < stale)))
        claimed = []
        with self.conversations.engine.begin() as conn:
            candidates = [dict(r._mapping) for r in conn.execute(select(inbound_messages).where(stuck)
                                                                 .order_by(c.id).limit(self.batch))]
        for row in candidates:
            with self.conversations.engine.begin() as conn:
                won = conn.execute(inbound_messages.update()
                                   .where(and_(c.id == row["id"], c.status == row["status"]))
                                   .values(status="retrying")).rowcount
            if won == 1:
                claimed.append(row)
        return claimed

    async def sweep(self) -> int:
        """One pass; returns how many rows it took. Never raises (it runs in a background task)."""
        try:
            rows = await _in_thread(self._claim)
        except Exception:
            log.exception("recovery: could not read the unanswered messages")
            return 0
        for row in rows:
            await self._retry(row)
        return len(rows)

    async def _retry(self, row: dict) -> None:
        channel, conversation = row["channel"], row["conversation_id"]
        send = self.senders[channel]
        inbound = InboundMessage(channel, conversation.split(":", 1)[1], row["text"], row["message_id"])
        log.warning("recovery: answering message %s of %s again (was %s)", row["id"], conversation, row["status"])
        try:
            replies = await self.conversations.handle(inbound, recorded=row["id"])
        except Exception:
            log.exception("recovery: message %s of %s failed again; handing over to a person", row["id"],
                          conversation)
            await self._give_up(row, send)
            return
        for reply in replies:
            await send(conversation, reply)

    async def _give_up(self, row: dict, send: Send) -> None:
        conversation = row["conversation_id"]
        try:
            await _in_thread(self.conversations._mark, row["id"], "abandoned")
        except Exception:
            log.exception("recovery: could not mark message %s abandoned", row["id"])
        handoffs = self.conversations.handoffs
        if handoffs is not None:
            try:
                await _in_thread(handoffs.start, conversation, "system_error", f"unanswered: {row['text'][:200]}")
                await self.conversations.assistant.append(conversation, [ConversationPaused()])
            except Exception:
                log.exception("recovery: could not queue %s for a person", conversation)
        try:
            await send(conversation, OutboundMessage(conversation, SORRY))
        except Exception:
            log.exception("recovery: could not tell %s", conversation)

