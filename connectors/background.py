"""Background work for webhook channels: answered after the webhook has said 200, in order per
conversation (a reply to message 1 goes out before the reply to message 2) and concurrently
across conversations."""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Dict, Optional, Set

from connectors.messages import InboundMessage, OutboundMessage

log = logging.getLogger(__name__)

BUSY = "Dạ, hệ thống đang bận, anh/chị nhắn lại giúp em sau ít phút nhé."
Send = Callable[[str, OutboundMessage], Awaitable[None]]


async def answer_recorded(conversations, inbound: InboundMessage, row: int, canned: Optional[str],
                          send: Send) -> None:
    """Answer a webhook message the channel already recorded (row): a canned reply (and mark it
    answered), or the assistant's replies; if the assistant fails, apologise instead of going quiet."""
    conversation = inbound.conversation_id
    if canned is not None:
        await send(conversation, OutboundMessage(conversation, canned))
        await asyncio.get_running_loop().run_in_executor(None, conversations.mark_answered, row)
        return
    try:
        replies = await conversations.handle(inbound, recorded=row)
    except Exception:
        log.exception("engine failed for %s", conversation)
        await send(conversation, OutboundMessage(conversation, BUSY))
        return
    for reply in replies:
        await send(conversation, reply)


class OrderedTasks:
    def __init__(self) -> None:
        self._locks: Dict[str, asyncio.Lock] = {}
        self._pending: Dict[str, int] = {}
        self._tasks: Set[asyncio.Task] = set()

    def submit(self, key: str, job: Callable[[], Awaitable[None]]) -> asyncio.Task:
        """Run `job` after every job submitted earlier for `key`; errors are logged, not raised."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._pending[key] = self._pending.get(key, 0) + 1
        # Tasks start in creation order and asyncio.Lock is FIFO, so one key's jobs run in order.
        task = asyncio.get_running_loop().create_task(self._run(key, lock, job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, key: str, lock: asyncio.Lock, job: Callable[[], Awaitable[None]]) -> None:
        try:
            async with lock:
                await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background job for %s failed", key)
        finally:
            self._pending[key] -= 1
            if not self._pending[key]:
                del self._pending[key], self._locks[key]

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float = 10.0) -> None:
        """Let running jobs finish (up to `timeout` seconds), then cancel what is left."""
        if not self._tasks:
            return
        _, left = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in left:
            task.cancel()
        if left:
            log.warning("cancelled %d unfinished background jobs at shutdown", len(left))
            await asyncio.gather(*left, return_exceptions=True)
