"""Every Prometheus metric of the gateway, in one registry, and GET /metrics.

Metrics live in this process's memory: with several gateway processes (replicas, or uvicorn
workers) each exposes its own figures and Prometheus scrapes every one of them (sum() in the
queries). Label values are closed sets (channels, hand-off reasons, route templates), never raw
paths, user ids or texts, so the number of series stays bounded whatever the traffic.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time
from typing import Any, Awaitable, Callable, Dict, Iterable, MutableMapping, Optional

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, GCCollector, Gauge, Histogram,
                               PlatformCollector, ProcessCollector, generate_latest)
from prometheus_client.core import InfoMetricFamily

from cskh.settings import get_settings
from handoff.queue import REASONS as HANDOFF_REASONS

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

# 10 ms (a KB answer, a canned reply) … 10 s (a slow action server); above that is "+Inf".
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CHANNELS = ("rest", "web", "telegram", "zalo")

MESSAGES_RECEIVED = Counter(
    "cskh_messages_received", "Customer messages received (recorded), by channel",
    ["channel"], registry=REGISTRY)
MESSAGES_DUPLICATE = Counter(
    "cskh_messages_duplicate", "Redelivered channel messages answered once and skipped, by channel",
    ["channel"], registry=REGISTRY)
MESSAGES_FAILED = Counter(
    "cskh_messages_failed", "Messages the engine failed to answer, by channel", ["channel"], registry=REGISTRY)
REPLY_LATENCY = Histogram(
    "cskh_reply_latency_seconds", "From handing a message to the conversation service to its replies, by channel",
    ["channel"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
HTTP_REQUESTS = Counter(
    "cskh_http_requests", "HTTP requests by method, route template and status code",
    ["method", "route", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram(
    "cskh_http_request_duration_seconds", "HTTP request duration by method and route template",
    ["method", "route"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
HANDOFFS_STARTED = Counter(
    "cskh_handoffs_started", "Hand-offs to a person started, by reason", ["reason"], registry=REGISTRY)
KB_SEARCHES = Counter(
    "cskh_kb_searches", "Knowledge-base searches; threshold: calibrated (the KB's own) or caller (the FAQ path's)",
    ["threshold"], registry=REGISTRY)
KB_ABSTENTIONS = Counter(
    "cskh_kb_abstentions", "KB searches whose best hit was below the threshold (no answer given)",
    ["threshold"], registry=REGISTRY)
RATE_LIMITED = Counter(
    "cskh_rate_limited", "Requests or messages refused by a rate limit, by endpoint and scope (sender, ip, login)",
    ["endpoint", "scope"], registry=REGISTRY)
QUEUE_LENGTH = Gauge(
    "cskh_handoff_queue_length", "Hand-offs waiting for an agent (read from the queue at scrape time)",
    registry=REGISTRY)
AGENTS_ONLINE = Gauge(
    "cskh_agents_online", "Agents with an open console connection to this process", registry=REGISTRY)


_sources: Dict[str, Callable[[], float]] = {}


def _read(name: str) -> float:
    source = _sources.get(name)
    if source is None:
        return math.nan
    try:
        return float(source())
    except Exception:  # a scrape must never fail because the database hiccups
        log.warning("metrics: could not read %s", name, exc_info=True)
        return math.nan


for _channel in CHANNELS:  # zeros from the start, so rate() has a baseline
    for _family in (MESSAGES_RECEIVED, MESSAGES_FAILED):
        _family.labels(_channel)
for _reason in HANDOFF_REASONS:
    HANDOFFS_STARTED.labels(_reason)
for _kind in ("calibrated", "caller"):
    KB_SEARCHES.labels(_kind)
    KB_ABSTENTIONS.labels(_kind)

QUEUE_LENGTH.set_function(lambda: _read("queue_length"))
AGENTS_ONLINE.set_function(lambda: _read("agents_online"))


class _ModelInfo:
    """cskh_model_info{model="<file name>"} 1, read at scrape time (the model can be switched live)."""

    def describe(self):
        return []

    def collect(self):
        family = InfoMetricFamily("cskh_model", "The Rasa model this process serves")
        model = _model_name()
        if model:
            family.add_metric([], {"model": model})
        yield family


def _model_name() -> Optional[str]:
    source = _sources.get("model")
    try:
        return str(source()) if source is not None else None
    except Exception:
        return None


REGISTRY.register(_ModelInfo())


def channel_label(channel: str) -> str:
    return channel if channel in CHANNELS else "other"


def reason_label(reason: str) -> str:
    return reason if reason in HANDOFF_REASONS else "other"


def bind(handoffs: Any = None, assistant: Any = None) -> None:
    """Called once the gateway has opened its services: what the scrape-time gauges read."""
    if handoffs is not None:
        _sources["queue_length"] = handoffs.queue.waiting_count
        _sources["agents_online"] = lambda: sum(1 for n in handoffs.online.values() if n > 0)
    if assistant is not None:
        _sources["model"] = lambda: assistant.model_path.name


# ---- HTTP ---------------------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]


def route_template(scope: Scope) -> str:
    """"/api/agent/handoffs/{handoff_id}/claim", not "/api/agent/handoffs/17/claim"; requests that
    matched no route share one label, so scanners cannot blow up the series count."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class HttpMetrics:
    """Pure ASGI middleware: counts every HTTP request by route template and status, and times it."""

    METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_note(message: Dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            method = scope.get("method", "GET")
            method = method if method in self.METHODS else "other"
            route = route_template(scope)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


router = APIRouter(tags=["ops"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition format; needs the bearer token when CSKH_METRICS_TOKEN is set."""
    token = get_settings().metrics_token
    if token:
        given = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        if not given or not hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8")):
            return JSONResponse(status_code=401, content={"error": "metrics token required (Authorization: Bearer …)"})
    # The queue gauge reads the database: off the event loop.
    body = await asyncio.get_running_loop().run_in_executor(None, generate_latest, REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def sample(name: str, labels: Optional[Dict[str, str]] = None, registry: CollectorRegistry = REGISTRY) -> float:
    """The current value of one sample (tests and debugging); 0.0 when it has none yet."""
    value = registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


def names(registry: CollectorRegistry = REGISTRY) -> Iterable[str]:
    return sorted({metric.name for metric in registry.collect()})
