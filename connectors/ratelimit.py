"""Rate limits: token buckets per customer (sender), per client IP and per failed login.

A bucket holds up to `burst` tokens and refills at `per_minute` tokens a minute; a message takes
one. Over the limit, HTTP endpoints answer 429 with Retry-After and {"error": ...}, the widget's
WebSocket gets a polite reply, and the Telegram/Zalo webhooks still answer 200 (the platform
would redeliver otherwise) but drop and log the message.

Where the buckets live: with CSKH_RATE_LIMIT_URL (or, unset, CSKH_EVENTS_URL) they are in Redis,
shared by every replica and worker, so a customer gets the limit once, not once per replica; one
Lua script reads, refills and spends a bucket atomically on Redis's own clock. Without Redis they
live in this process. If Redis stops answering, each process limits on its own (in memory) until
it answers again: a limit that is briefly per replica is better than no service.
The client IP is what uvicorn reports: behind a reverse proxy, uvicorn takes it from
X-Forwarded-For only for the proxies in FORWARDED_ALLOW_IPS (default 127.0.0.1).
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Optional, Tuple

from fastapi import Request
from fastapi.responses import JSONResponse

from cskh import metrics
from cskh.settings import Settings, get_settings

log = logging.getLogger(__name__)

POLITE = "Dạ, anh/chị gửi nhanh quá, vui lòng chờ giây lát rồi gửi lại ạ."


# KEYS[1]: the bucket; ARGV: tokens per second, burst, 1 to spend a token or 0 to only look.
# Returns the seconds to wait, as a string (0: allowed). Redis's own clock, so replicas agree.
TAKE_SCRIPT = """
local rate, burst, spend = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1'
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(held[1]) or burst, tonumber(held[2]) or now
local level = math.min(burst, tokens + math.max(0, now - at) * rate)
if level < 1 then
  return tostring((1 - level) / rate)
end
if spend then
  redis.call('HSET', KEYS[1], 'tokens', tostring(level - 1), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
end
return '0'
"""


class SharedBuckets:
    """Token buckets in Redis (one hash per bucket and key, expiring once it would be full again).

    Calls are synchronous and short (0.5 s timeouts), like the lock store's. After a Redis error
    the callers fall back to their in-process buckets for `retry_after` seconds."""

    def __init__(self, url: str, prefix: str = "cskh", retry_after: float = 5.0,
                 client: Any = None) -> None:
        import redis  # only where a shared store is configured

        self.errors = (redis.RedisError, OSError)
        self.redis = client or redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.prefix = prefix
        self.retry_after = retry_after
        self._script = self.redis.register_script(TAKE_SCRIPT)
        self._down_until = 0.0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def take(self, name: str, key: str, rate: float, burst: int, spend: bool = True) -> Optional[float]:
        """Seconds to wait (0.0: allowed); None when Redis did not answer (use the local bucket)."""
        if not self.available:
            return None
        try:
            wait = self._script(keys=[f"{self.prefix}:ratelimit:{name}:{key}"],
                                args=[repr(rate), burst, 1 if spend else 0])
        except self.errors as error:
            self._down_until = time.monotonic() + self.retry_after
            log.warning("rate limit: Redis unavailable (%s); limiting in this process for %.0f s",
                        error, self.retry_after)
            return None
        return float(wait)


class TokenBucket:
    """Buckets by key. `take` spends a token if there is one; `wait` only looks.

    With `shared`, the buckets are in Redis under `name` and this process's own serve only while
    Redis does not answer."""

    def __init__(self, per_minute: float, burst: int, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic, name: str = "bucket",
                 shared: Optional[SharedBuckets] = None) -> None:
        self.rate = max(0.0, float(per_minute)) / 60.0  # tokens per second
        self.burst = max(1, int(burst))
        self.max_keys = max_keys
        self.clock = clock
        self.name = name
        self.shared = shared
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
        if self.shared is not None:
            wait = self.shared.take(self.name, key, self.rate, self.burst, spend=False)
            if wait is not None:
                return wait
        with self._lock:
            level = self._level(key, self.clock())
        return 0.0 if level >= 1.0 else (1.0 - level) / self.rate

    def take(self, key: str) -> float:
        """Spend one token: 0.0 when allowed, else the seconds until one is there (nothing spent)."""
        if not self.enabled:
            return 0.0
        if self.shared is not None:
            wait = self.shared.take(self.name, key, self.rate, self.burst)
            if wait is not None:
                return wait
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
    """The gateway's buckets, from the settings (0 per minute turns one off); in Redis when
    `settings.rate_limit_store_url` names one."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        url = settings.rate_limit_store_url
        self.shared = SharedBuckets(url, settings.redis_prefix) if url else None
        self.sender = TokenBucket(settings.rate_per_sender, settings.rate_sender_burst, clock=clock,
                                  name="sender", shared=self.shared)
        self.ip = TokenBucket(settings.rate_per_ip, settings.rate_ip_burst, clock=clock, name="ip", shared=self.shared)
        self.login = TokenBucket(settings.rate_login_per_ip, settings.rate_login_burst, clock=clock,
                                 name="login", shared=self.shared)

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
