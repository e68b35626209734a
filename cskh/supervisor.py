"""Keeps a child process running: `cskh run` starts the rasa-sdk action server through this, so an
action server that crashes (or is killed) is back within seconds instead of failing every custom
action until someone restarts the service."""
from __future__ import annotations

import logging
import subprocess
import threading
import time
from typing import Callable, List, Optional

log = logging.getLogger(__name__)


class Supervised:
    """Start `command`; whenever it exits (and `stop` was not called), start it again after a
    backoff that doubles from `backoff` up to `max_backoff` seconds and resets once a run has lasted
    `stable_after` seconds."""

    def __init__(self, command: List[str], env: dict, backoff: float = 0.5, max_backoff: float = 10.0,
                 stable_after: float = 30.0, started: Optional[Callable[[subprocess.Popen], None]] = None) -> None:
        self.command, self.env = command, env
        self.backoff, self.max_backoff, self.stable_after = backoff, max_backoff, stable_after
        self.restarts = 0
        self._started = started
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.process: Optional[subprocess.Popen] = None
        self._thread: Optional[threading.Thread] = None

    def start(self) -> subprocess.Popen:
        self.process = self._spawn()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._thread.start()
        return self.process

    def _spawn(self) -> subprocess.Popen:
        process = subprocess.Popen(self.command, env=self.env)
        if self._started is not None:
            self._started(process)
        return process

    def _watch(self) -> None:
        wait = self.backoff
        while not self._stopping.is_set():
            with self._lock:
                process = self.process
            began = time.monotonic()
            assert process is not None
            code = process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - began >= self.stable_after:
                wait = self.backoff
            log.error("%s exited with code %s; restarting in %.1f s", self.command[2] if len(self.command) > 2
                      else self.command[0], code, wait)
            if self._stopping.wait(wait):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self.process = self._spawn()
                self.restarts += 1
            wait = min(wait * 2, self.max_backoff)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        with self._lock:
            process = self.process
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
