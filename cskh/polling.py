"""One background task that awaits an action every N seconds until stopped (the model watcher and
the KB sync each run one)."""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Optional


class Every:
    def __init__(self, seconds: float, action: Callable[[], Awaitable[object]], name: str) -> None:
        self.seconds, self.action, self.name = seconds, action, name
        self._task: Optional["asyncio.Task[None]"] = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.seconds)
            await self.action()

    def start(self) -> None:
        """Start polling (seconds <= 0: never); idempotent."""
        if self.seconds > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
