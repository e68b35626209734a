"""Every Prometheus metric of the gateway, in one registry, and GET /metrics.

One process (`CSKH_WORKERS=1`): the metrics live in its memory. Several replicas on several hosts
each expose their own figures, and Prometheus scrapes every one of them (sum() in the queries).
Several uvicorn workers behind one port (`CSKH_WORKERS` > 1) are different: a scrape reaches any
one of them, so `cskh run` gives them prometheus_client's multiprocess mode
(PROMETHEUS_MULTIPROC_DIR, set before the workers start). Each worker writes its counters and
histograms to files there, and whichever worker answers a scrape sums every worker's files; the
process_* and python_* collectors are then left out (they would describe one worker only).
Label values are closed sets (channels, hand-off reasons, route templates), never raw paths, user
ids or texts, so the number of series stays bounded whatever the traffic.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import math
import os
import time
from typing import Any, Awaitable, Callable, Dict, Iterable, MutableMapping, Optional

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, GCCollector, Gauge, Histogram,
                               PlatformCollector, ProcessCollector, generate_latest, multiprocess)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily

from cskh.settings import get_settings
from handoff.queue import REASONS as HANDOFF_REASONS

log = logging.getLogger(__name__)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
REGISTRY = CollectorRegistry(auto_describe=True)  # the metrics below; what /metrics shows with one process
MULTIPROCESS = bool(os.environ.get(MULTIPROCESS_ENV))  # read once: prometheus_client decides at import too
if not MULTIPROCESS:
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
TRACKER_LOADS = Counter(
    "cskh_tracker_loads", "Conversation trackers fetched: result=kept (handed out from memory) or loaded (from the database)",
    ["result"], registry=REGISTRY)
RATE_LIMITED = Counter(
    "cskh_rate_limited", "Requests or messages refused by a rate limit, by endpoint and scope (sender, ip, login)",
    ["endpoint", "scope"], registry=REGISTRY)
# Python's cyclic garbage collector stops the whole process (its event loop included) while it runs:
# a full collection of an unfrozen gateway heap took 370-450 ms (cskh/heap.py).
GC_PAUSE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
GC_PAUSES = Histogram(
    "cskh_gc_pause_seconds", "Garbage-collector runs and how long each stopped the process, by generation (2: full)",
    ["generation"], buckets=GC_PAUSE_BUCKETS, registry=REGISTRY)
# Summed over worker processes in multiprocess mode (an agent with consoles on two workers counts twice);
# a worker that exits takes its share with it.
AGENTS_ONLINE = Gauge(
    "cskh_agents_online", "Agents with an open console connection (summed over this host's worker processes)",
    registry=REGISTRY, multiprocess_mode="livesum")


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
for _result in ("kept", "loaded"):
    TRACKER_LOADS.labels(_result)
for _kind in ("calibrated", "caller"):
    KB_SEARCHES.labels(_kind)
    KB_ABSTENTIONS.labels(_kind)

class _QueueLength:
    """cskh_handoff_queue_length, read from the queue (the shared database) at scrape time."""

    def describe(self):
        return []

    def collect(self):
        family = GaugeMetricFamily("cskh_handoff_queue_length",
                                   "Hand-offs waiting for an agent (read from the queue at scrape time)")
        family.add_metric([], _read("queue_length"))
        yield family


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


SCRAPE_TIME = (_QueueLength(), _ModelInfo())
for _collector in SCRAPE_TIME:
    REGISTRY.register(_collector)


def exposed() -> CollectorRegistry:
    """What GET /metrics shows: this process's registry, or every worker's files summed plus the
    scrape-time collectors in multiprocess mode."""
    if not MULTIPROCESS:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    for collector in SCRAPE_TIME:
        registry.register(collector)
    return registry


def prepare_multiprocess(directory: str) -> None:
    """Before several workers start (in the parent): an empty directory for their metric files,
    named in the environment they inherit."""
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))
    os.environ[MULTIPROCESS_ENV] = directory


def process_exit() -> None:
    """A worker shutting down: its live gauges (agents online) stop counting."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())


def channel_label(channel: str) -> str:
    return channel if channel in CHANNELS else "other"


def reason_label(reason: str) -> str:
    return reason if reason in HANDOFF_REASONS else "other"


def bind(handoffs: Any = None, assistant: Any = None) -> None:
    """Called once the gateway has opened its services: what the scrape-time gauges read."""
    if handoffs is not None:
        _sources["queue_length"] = handoffs.queue.waiting_count
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
    body = await asyncio.get_running_loop().run_in_executor(None, generate_latest, exposed())
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def agents_online(online: Dict[str, int]) -> None:
    """The console connections by agent in this process changed."""
    AGENTS_ONLINE.set(sum(1 for n in online.values() if n > 0))


def sample(name: str, labels: Optional[Dict[str, str]] = None, registry: Optional[CollectorRegistry] = None) -> float:
    """The current value of one sample (tests and debugging); 0.0 when it has none yet."""
    value = (registry or exposed()).get_sample_value(name, labels or {})
    return 0.0 if value is None else value


def names(registry: Optional[CollectorRegistry] = None) -> Iterable[str]:
    return sorted({metric.name for metric in (registry or exposed()).collect()})
