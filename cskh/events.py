"""Live events between gateway replicas: what one replica does that another replica's open
sockets must see (an agent's reply for a widget connected elsewhere, queue changes for consoles
connected elsewhere, a KB edit).

The pattern: a replica delivers to its own sockets directly, then `publish`es the event for the
others; each replica's `subscribe`d handlers get the events of *other* replicas only. So with one
process (`Events`, the default) publishing reaches nobody and nothing changes; with
`CSKH_EVENTS_URL=redis://…` (`RedisEvents`) events travel over Redis pub/sub.

`publish` never blocks and never raises: events go out in order from one background task, and
when Redis is unavailable they are dropped with a log line (local delivery has already happened;
a widget on another replica still gets agent messages from the tracker through its history).

A small mailbox (`keep` / `take` / `forget`) holds frames no open socket took, for the
conversation's next socket or REST poll, wherever that arrives: in-process by default, a Redis list
when scaled out (falling back to the in-process one while Redis is down).
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections import defaultdict
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

log = logging.getLogger(__name__)

Handler = Callable[[Dict[str, Any]], Awaitable[None]]
MAILBOX_LIMIT = 50            # frames kept per conversation
MAILBOX_TTL_S = 24 * 3600     # a kept frame nobody came back for is dropped after a day


class Events:
    """In-process events: one replica, nobody else to tell."""

    def __init__(self) -> None:
        self.replica = uuid.uuid4().hex[:12]  # tells this process's own events apart
        self._handlers: Dict[str, List[Handler]] = defaultdict(list)
        self._boxes: Dict[str, List[Tuple[str, Dict[str, Any]]]] = defaultdict(list)
        self._box_lock = threading.Lock()

    @property
    def shared(self) -> bool:
        """True when events reach other replicas."""
        return False

    def subscribe(self, topic: str, handler: Handler) -> None:
        """`handler(payload)` is awaited for each event another replica publishes on `topic`.
        Subscribe before `start()`."""
        self._handlers[topic].append(handler)

    def publish(self, topic: str, payload: Dict[str, Any]) -> None:
        """Tell the other replicas (safe from any thread; never blocks, never raises)."""

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def ping(self) -> None:
        """Raises when the shared bus is unreachable (readiness)."""

    # ---- mailbox --------------------------------------------------------------------------------

    def _keep_local(self, box: str, item: Dict[str, Any], limit: int) -> str:
        token = uuid.uuid4().hex
        with self._box_lock:
            kept = self._boxes[box]
            kept.append((token, item))
            del kept[:-limit]
        return token

    def _take_local(self, box: str) -> List[Dict[str, Any]]:
        with self._box_lock:
            return [item for _, item in self._boxes.pop(box, [])]

    def _forget_local(self, box: str, token: str) -> None:
        with self._box_lock:
            if box in self._boxes:
                self._boxes[box] = [(t, i) for t, i in self._boxes[box] if t != token]
                if not self._boxes[box]:
                    del self._boxes[box]

    async def keep(self, box: str, item: Dict[str, Any], limit: int = MAILBOX_LIMIT) -> str:
        """Keep an item for the box's next `take`; returns a token for `forget`."""
        return self._keep_local(box, item, limit)

    async def take(self, box: str) -> List[Dict[str, Any]]:
        """Everything kept in the box, oldest first; the box is then empty."""
        return self._take_local(box)

    async def forget(self, box: str, token: str) -> None:
        """Drop a kept item (a socket elsewhere delivered it after all)."""
        self._forget_local(box, token)


class RedisEvents(Events):
    """Events over Redis pub/sub (`redis.asyncio`), channels `<prefix>:events:<topic>`."""

    RETRY_AFTER_S = 5.0   # after a failure, Redis is not tried again for this long
    OUTBOX_LIMIT = 10000  # events waiting to go out; beyond it the oldest are dropped

    def __init__(self, url: str, prefix: str = "cskh") -> None:
        super().__init__()
        from redis import asyncio as aioredis

        self.url = url
        self.prefix = prefix
        self.redis = aioredis.from_url(url, socket_timeout=3, socket_connect_timeout=2, health_check_interval=15)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._outbox: Optional[asyncio.Queue] = None
        self._tasks: List[asyncio.Task] = []
        self._down_until = 0.0
        self._warned = False
        self.listening = False  # the subscription is up (events of other replicas arrive)
        self.dropped = 0        # events that could not be published

    @property
    def shared(self) -> bool:
        return True

    def _channel(self, topic: str) -> str:
        return f"{self.prefix}:events:{topic}"

    def _box(self, box: str) -> str:
        return f"{self.prefix}:box:{box}"

    # ---- health ---------------------------------------------------------------------------------

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, what: str, error: BaseException) -> None:
        self._down_until = time.monotonic() + self.RETRY_AFTER_S
        if not self._warned:  # one line per outage, not one per event
            log.warning("Redis events unavailable (%s: %s: %s); delivering locally only", what,
                        type(error).__name__, error)
            self._warned = True

    def _recovered(self) -> None:
        if self._warned:
            log.info("Redis events available again")
            self._warned = False

    async def ping(self) -> None:
        await self.redis.ping()

    # ---- publishing -----------------------------------------------------------------------------

    def publish(self, topic: str, payload: Dict[str, Any]) -> None:
        if self._loop is None or self._outbox is None:
            return  # not started (a unit test, or shutting down)
        message = (self._channel(topic), json.dumps({"from": self.replica, "data": payload}, ensure_ascii=False))
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._enqueue(message)
        else:  # from a worker thread (hand-off service calls run in the executor)
            self._loop.call_soon_threadsafe(self._enqueue, message)

    def _enqueue(self, message: Tuple[str, str]) -> None:
        assert self._outbox is not None
        if self._outbox.full():
            self._outbox.get_nowait()
            self.dropped += 1
        self._outbox.put_nowait(message)

    async def _send(self) -> None:
        assert self._outbox is not None
        while True:
            channel, message = await self._outbox.get()
            if not self._available():
                self.dropped += 1
                continue
            try:
                await self.redis.publish(channel, message)
                self._recovered()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Redis down or slow: the event is lost for other replicas only
                self.dropped += 1
                self._failed("publish", error)

    # ---- receiving ------------------------------------------------------------------------------

    async def _listen(self) -> None:
        backoff = 0.5
        channels = [self._channel(topic) for topic in self._handlers]
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*channels)
                self.listening, backoff = True, 0.5
                self._recovered()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        await self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.listening = False
                self._failed("subscribe", error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.listening = False
                try:
                    await pubsub.reset()
                except Exception:  # the connection is gone anyway
                    pass

    async def _dispatch(self, message: Dict[str, Any]) -> None:
        channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
        topic = channel[len(self._channel("")):]
        try:
            envelope = json.loads(message["data"])
        except (TypeError, ValueError):
            log.warning("unreadable event on %s", channel)
            return
        if envelope.get("from") == self.replica:
            return  # this replica delivered it locally already
        for handler in self._handlers.get(topic, ()):
            try:
                await handler(envelope.get("data") or {})
            except Exception:
                log.exception("event handler for %s failed", topic)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._outbox = asyncio.Queue(maxsize=self.OUTBOX_LIMIT)
        self._tasks = [self._loop.create_task(self._send(), name="events-send")]
        if self._handlers:
            self._tasks.append(self._loop.create_task(self._listen(), name="events-listen"))
        try:
            await asyncio.wait_for(self.redis.ping(), 3)
            log.info("live events over Redis (%s), replica %s", self.prefix, self.replica)
        except Exception as error:  # start anyway: local delivery works, Redis is retried
            self._failed("start", error)

    async def stop(self) -> None:
        # let queued events go out (briefly), then stop
        deadline = time.monotonic() + 1.0
        while self._outbox is not None and not self._outbox.empty() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks, self._loop = [], None
        try:
            await self.redis.close()
        except Exception:
            pass

    # ---- mailbox in Redis (the in-process one while Redis is down) ------------------------------

    async def keep(self, box: str, item: Dict[str, Any], limit: int = MAILBOX_LIMIT) -> str:
        if self._available():
            token = json.dumps({"t": uuid.uuid4().hex, "item": item}, ensure_ascii=False)
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    await (pipe.rpush(self._box(box), token).ltrim(self._box(box), -limit, -1)
                           .expire(self._box(box), MAILBOX_TTL_S).execute())
                return token
            except Exception as error:
                self._failed("keep", error)
        return self._keep_local(box, item, limit)

    async def take(self, box: str) -> List[Dict[str, Any]]:
        items = self._take_local(box)
        if self._available():
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    kept, _ = await pipe.lrange(self._box(box), 0, -1).delete(self._box(box)).execute()
                items += [json.loads(token)["item"] for token in kept]
            except Exception as error:
                self._failed("take", error)
        return items

    async def forget(self, box: str, token: str) -> None:
        if not token.startswith("{"):  # kept in-process
            self._forget_local(box, token)
            return
        if self._available():
            try:
                await self.redis.lrem(self._box(box), 1, token)
            except Exception as error:
                self._failed("forget", error)


def make_events(url: Optional[str], prefix: str = "cskh") -> Events:
    """`CSKH_EVENTS_URL` unset: in-process; redis://…: Redis pub/sub between replicas."""
    return RedisEvents(url, prefix) if url else Events()
