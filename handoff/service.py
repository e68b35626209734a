"""Hand-off orchestration: queue a conversation, pause the bot, let an agent answer in the
customer's own channel, then resolve (and ask for a CSAT rating) or hand back to the bot.

Rasa's tracker stays the one transcript: customer messages keep being logged while the bot is
paused (ConversationPaused), agent messages are added as bot utterances marked with the agent.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple

from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationPaused, ConversationResumed

from connectors.messages import Button, OutboundMessage
from cskh import metrics
from cskh.events import Events
from handoff.queue import Handoff, HandoffQueue, NotClaimable

log = logging.getLogger(__name__)

VIETNAM = timezone(timedelta(hours=7))
def resume_events() -> list:
    """Back to the bot in a clean "waiting for the customer" state, so its rules apply to the next
    turn. Made fresh each time: the tracker store orders events by their creation timestamp."""
    return [ConversationResumed(), ActionExecuted("action_listen")]


Deliver = Callable[[str, List[OutboundMessage]], Awaitable[None]]

CSAT_QUESTION = "Dạ, cuộc trò chuyện đã xong. Anh/chị chấm điểm hỗ trợ giúp em từ 1 (tệ) đến 5 (rất tốt) nhé."
CSAT_THANKS = "Dạ, em cảm ơn anh/chị đã đánh giá ạ!"
HANDED_BACK = "Dạ, nhân viên đã chuyển anh/chị lại cho trợ lý ảo. Em tiếp tục hỗ trợ anh/chị ạ."
AGENT_JOINED = "Nhân viên {name} đã tham gia cuộc trò chuyện."
AGENT_LEFT = "Nhân viên {name} đã rời cuộc trò chuyện."


def parse_hours(spec: str) -> Tuple[int, int]:
    """"08:00-21:00" → (480, 1260) minutes of the Vietnam day."""
    start, end = (part.strip() for part in spec.split("-"))
    minutes = [int(p.split(":")[0]) * 60 + int((p.split(":") + ["0"])[1]) for p in (start, end)]
    return minutes[0], minutes[1]


def agents_online_hours(now: datetime, hours: str = "08:00-21:00") -> bool:
    local = now.astimezone(VIETNAM)
    start, end = parse_hours(hours)
    return start <= local.hour * 60 + local.minute < end


class EventHub:
    """Fan-out of live events to the agent consoles open on this process; with `events` shared
    (Redis), every event is also published for the consoles open on the other replicas, and theirs
    arrive here."""

    def __init__(self, events: Optional[Events] = None) -> None:
        self._subscribers: Set[asyncio.Queue] = set()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self.events = events
        if events is not None:
            events.subscribe("console", self._from_other_replica)

    def subscribe(self) -> asyncio.Queue:
        self._loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers.discard(queue)

    def publish(self, event: Dict[str, Any]) -> None:
        """From the event loop or a worker thread (the service's queue calls run in the executor)."""
        if self.events is not None:
            self.events.publish("console", event)
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop or self._loop is None:
            self._fan_out(event)
        else:  # asyncio queues are not thread-safe: hand the event to the loop
            self._loop.call_soon_threadsafe(self._fan_out, event)

    def _fan_out(self, event: Dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("a console is not reading its events; dropping one")

    async def _from_other_replica(self, event: Dict[str, Any]) -> None:
        self._fan_out(event)


def public(handoff: Handoff) -> Dict[str, Any]:
    data = asdict(handoff)
    for key in ("created_at", "assigned_at", "closed_at"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    return data


class HandoffService:
    def __init__(self, queue: HandoffQueue, assistant, deliver: Deliver, auto_assign: bool = False,
                 hours: str = "08:00-21:00",
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 events: Optional[Events] = None) -> None:
        self.hours = hours
        self.queue = queue
        self.assistant = assistant
        self.deliver = deliver
        self.auto_assign = auto_assign
        self.clock = clock
        self.hub = EventHub(events)
        self.online: Dict[str, int] = {}  # agent → open console connections (on this process)

    # ---- from the bot --------------------------------------------------------------------

    def start(self, conversation_id: str, reason: str, detail: Optional[str] = None,
              frustrated: bool = False) -> Dict[str, Any]:
        """Queue the conversation; returns what the customer should be told."""
        channel = conversation_id.split(":", 1)[0] if ":" in conversation_id else "rest"
        after_hours = not agents_online_hours(self.clock(), self.hours)
        already = self.queue.current(conversation_id)
        handoff = self.queue.enqueue(conversation_id, channel, reason, detail, frustrated, after_hours)
        if already is None or already.id != handoff.id:  # a new hand-off, not the open one again
            metrics.HANDOFFS_STARTED.labels(metrics.reason_label(reason)).inc()
            log.info("hand-off %s started: %s", handoff.id, reason,
                     extra={"handoff_reason": reason, "conversation_id": conversation_id})
        status = "queued"
        if self.auto_assign and not after_hours:
            assigned = self.queue.auto_assign(handoff.id, [a for a, n in self.online.items() if n > 0])
            if assigned is not None:
                handoff, status = assigned, "assigned"
        self.hub.publish({"type": "queue", "handoff": public(handoff)})
        return {"handoff_id": handoff.id, "status": status, "reason": handoff.reason,
                "position": self.queue.position(handoff.id), "after_hours": after_hours,
                "agent": handoff.agent}

    # ---- from the customer ---------------------------------------------------------------

    def customer_said(self, handoff: Handoff, text: str) -> None:
        """Show the agents what the customer wrote in an open hand-off (the caller has just read it)."""
        if handoff.is_open:
            self.hub.publish({"type": "customer_message", "handoff_id": handoff.id,
                              "conversation_id": handoff.conversation_id, "text": text})

    def csat_reply(self, conversation_id: str, text: str) -> Optional[List[OutboundMessage]]:
        """A rating after resolution, if this message is one; None to let the bot answer."""
        handoff = self.queue.current(conversation_id)
        if handoff is None or not handoff.csat_pending:
            return None
        rating = text.strip().rstrip("⭐*").strip()
        if rating in {"1", "2", "3", "4", "5"}:
            self.queue.record_csat(handoff.id, int(rating))
            self.hub.publish({"type": "csat", "handoff_id": handoff.id, "rating": int(rating)})
            return [OutboundMessage(conversation_id, CSAT_THANKS)]
        self.queue.skip_csat(handoff.id)
        return None

    # ---- from an agent --------------------------------------------------------------------

    async def claim(self, handoff_id: int, agent: str, display_name: str) -> Handoff:
        handoff = self.queue.claim(handoff_id, agent)
        await self._taken(handoff, display_name)
        return handoff

    async def assign_waiting(self, agent: str, display_name: str) -> Optional[Handoff]:
        """With auto-assign, an agent whose console opens takes the next waiting hand-off (one that
        queued while nobody was online). Replicas doing this at once take different hand-offs
        (FOR UPDATE SKIP LOCKED on PostgreSQL, a conditional update everywhere)."""
        if not self.auto_assign or not agents_online_hours(self.clock(), self.hours):
            return None
        handoff = await asyncio.get_running_loop().run_in_executor(None, self.queue.assign_next, agent)
        if handoff is not None:
            await self._taken(handoff, display_name)
        return handoff

    async def _taken(self, handoff: Handoff, display_name: str) -> None:
        await self.assistant.append(handoff.conversation_id, [ConversationPaused()])
        await self._notice(handoff, AGENT_JOINED.format(name=display_name))
        self.hub.publish({"type": "queue", "handoff": public(handoff)})

    async def release(self, handoff_id: int, agent: str) -> Handoff:
        handoff = self.queue.release(handoff_id, agent)
        self.hub.publish({"type": "queue", "handoff": public(handoff)})
        return handoff

    async def reply(self, handoff_id: int, agent: str, display_name: str, text: str) -> None:
        handoff = self._owned(handoff_id, agent)
        await self.assistant.append(handoff.conversation_id,
                                    [BotUttered(text, metadata={"agent": agent, "agent_name": display_name})])
        await self.deliver(handoff.conversation_id, [OutboundMessage(handoff.conversation_id, text,
                                                                     custom={"agent": display_name})])
        self.hub.publish({"type": "agent_message", "handoff_id": handoff_id, "agent": agent, "text": text})

    def typing(self, handoff_id: int, agent: str, on: bool, display_name: Optional[str] = None) -> None:
        self.hub.publish({"type": "typing", "handoff_id": handoff_id, "agent": agent,
                          "agent_name": display_name or agent, "on": on})

    async def resolve(self, handoff_id: int, agent: str, display_name: str) -> Handoff:
        handoff = self.queue.resolve(handoff_id, agent)
        await self.assistant.append(handoff.conversation_id, resume_events())
        await self._notice(handoff, AGENT_LEFT.format(name=display_name))
        buttons = tuple(Button(str(n), str(n)) for n in range(1, 6))
        await self.deliver(handoff.conversation_id, [OutboundMessage(handoff.conversation_id, CSAT_QUESTION, buttons)])
        self.hub.publish({"type": "queue", "handoff": public(handoff)})
        return handoff

    async def hand_back(self, handoff_id: int, agent: str, display_name: str) -> Handoff:
        handoff = self.queue.hand_back(handoff_id, agent)
        await self.assistant.append(handoff.conversation_id, resume_events())
        await self._notice(handoff, AGENT_LEFT.format(name=display_name))
        await self.deliver(handoff.conversation_id, [OutboundMessage(handoff.conversation_id, HANDED_BACK)])
        self.hub.publish({"type": "queue", "handoff": public(handoff)})
        return handoff

    def _owned(self, handoff_id: int, agent: str) -> Handoff:
        handoff = self.queue.get(handoff_id)
        if handoff is None or handoff.status != "assigned" or handoff.agent != agent:
            raise NotClaimable(f"hand-off {handoff_id} is not assigned to {agent}")
        return handoff

    async def _notice(self, handoff: Handoff, text: str) -> None:
        await self.deliver(handoff.conversation_id, [OutboundMessage(handoff.conversation_id, "",
                                                                     custom={"notice": text})])
