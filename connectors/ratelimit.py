"""In-process rate limits: token buckets per customer (sender) and per client IP.

A bucket holds up to `burst` tokens and refills at `per_minute` tokens a minute; a message takes
one. Over the limit, HTTP endpoints answer 429 with Retry-After and {"error": ...}, the widget's
WebSocket gets a polite reply, and the Telegram/Zalo webhooks still answer 200 (the platform
would redeliver otherwise) but drop and log the message.

The buckets live in this process: with several replicas each one limits on its own (a customer
could send N × the limit through N replicas); a shared store (Redis) would make them global.
The client IP is what uvicorn reports: behind a reverse proxy, uvicorn takes it from
X-Forwarded-For only for the proxies in FORWARDED_ALLOW_IPS (default 127.0.0.1).
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from typing import Callable, Optional, Tuple

from fastapi import Request
from fastapi.responses import JSONResponse

from cskh import metrics
from cskh.settings import Settings, get_settings

log = logging.getLogger(__name__)

POLITE = "Dạ, anh/chị gửi nhanh quá, vui lòng chờ giây lát rồi gửi lại ạ."


class TokenBucket:
    """Buckets by key. `take` spends a token if there is one; `wait` only looks."""

    def __init__(self, per_minute: float, burst: int, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = max(0.0, float(per_minute)) / 60.0  # tokens per second
        self.burst = max(1, int(burst))
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: "OrderedDict[str, Tuple[float, float]]" = OrderedDict()  # key → (tokens, at)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) * self.rate)

    def wait(self, key: str) -> float:
        """Seconds until `key` may send (0.0: now), without spending anything."""
        if not self.enabled:
            return 0.0
        with self._lock:
            level = self._level(key, self.clock())
        return 0.0 if level >= 1.0 else (1.0 - level) / self.rate

    def take(self, key: str) -> float:
        """Spend one token: 0.0 when allowed, else the seconds until one is there (nothing spent)."""
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self.clock()
            level = self._level(key, now)
            if level < 1.0:
                self._buckets[key] = (level, now)
                self._buckets.move_to_end(key)
                return (1.0 - level) / self.rate
            self._buckets[key] = (level - 1.0, now)
            self._buckets.move_to_end(key)
            while len(self._buckets) > self.max_keys:  # forget the least recently seen
                self._buckets.popitem(last=False)
            return 0.0

    def __len__(self) -> int:
        return len(self._buckets)


class Limits:
    """The gateway's buckets, from the settings (0 per minute turns one off)."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.sender = TokenBucket(settings.rate_per_sender, settings.rate_sender_burst, clock=clock)
        self.ip = TokenBucket(settings.rate_per_ip, settings.rate_ip_burst, clock=clock)
        self.login = TokenBucket(settings.rate_login_per_ip, settings.rate_login_burst, clock=clock)

    def message(self, endpoint: str, ip: Optional[str] = None, sender: Optional[str] = None) -> float:
        """One customer message: 0.0 when allowed, else seconds to wait. The IP is checked first,
        so a refused request does not spend the sender's token."""
        if ip is not None:
            wait = self.ip.take(ip)
            if wait:
                return _refused(endpoint, "ip", ip, wait)
        if sender is not None:
            wait = self.sender.take(sender)
            if wait:
                return _refused(endpoint, "sender", sender, wait)
        return 0.0


def _refused(endpoint: str, scope: str, key: str, wait: float) -> float:
    metrics.RATE_LIMITED.labels(endpoint, scope).inc()
    log.warning("rate limit: %s refused for %s %s (retry in %.1f s)", endpoint, scope, key[:80], wait,
                extra={"rate_limit": scope, "endpoint": endpoint})
    return wait


def limits(app) -> Limits:
    """The app's Limits (made from the settings on first use)."""
    found = getattr(app.state, "limits", None)
    if found is None:
        found = app.state.limits = Limits(get_settings())
    return found


def client_ip(request) -> str:
    """Request or WebSocket: the peer address uvicorn reports (proxy headers already applied)."""
    client = getattr(request, "client", None)
    return client.host if client is not None and client.host else "unknown"


def retry_after(wait: float) -> int:
    return max(1, math.ceil(wait))


def too_many(wait: float, reason: str, headers: Optional[dict] = None) -> JSONResponse:
    seconds = retry_after(wait)
    return JSONResponse(status_code=429, content={"error": reason, "retry_after": seconds},
                        headers={"Retry-After": str(seconds), **(headers or {})})


def check_http(request: Request, endpoint: str, sender: Optional[str] = None, by_ip: bool = True) -> float:
    return limits(request.app).message(endpoint, client_ip(request) if by_ip else None, sender)
