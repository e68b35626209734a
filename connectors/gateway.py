"""The FastAPI gateway: channels, KB search and health, with the Rasa engine and KB opened once."""
from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from cskh.assistant import Assistant, ModelWatcher
from cskh import heap, metrics
from cskh.conversation import ConversationService
from cskh.polling import Every
from cskh.recovery import Recovery
from cskh.settings import Settings, get_settings
from connectors import rest
from connectors import web
from connectors import telegram, zalo
from connectors import ratelimit
from connectors import guards
from connectors.messages import OutboundMessage
from handoff import api as handoff_api
from handoff.accounts import Accounts
from handoff.queue import HandoffQueue
from handoff.service import HandoffService
from leads import api as leads_api, models_api, pages as leads_pages
from retrieval import admin as kb_admin
from retrieval import api as kb_api

log = logging.getLogger(__name__)

def _web_sender(connector: "web.WebConnector"):
    async def send(conversation_id: str, message: OutboundMessage) -> None:
        notice = (message.custom or {}).get("notice")
        if notice:
            await connector.notify(conversation_id, notice)
        else:
            await connector.send(conversation_id, message)
    return send


def create_app(settings: Optional[Settings] = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from cskh.events import make_events
        from cskh.kb_sync import AnnouncingOverrideStore, KbSync
        from cskh.setup import ensure_database, open_kb
        from cskh.threads import limit_compute_threads
        from shop import make_engine

        settings.check_production()
        limit_compute_threads(settings.compute_threads)  # before the KB and the model load
        ensure_database(settings)
        # live events between replicas (in-process unless CSKH_EVENTS_URL names a Redis)
        app.state.events = make_events(settings.events_url, settings.redis_prefix)
        app.state.kb_overrides = AnnouncingOverrideStore(make_engine(settings.app_database_url), app.state.events)
        app.state.kb = open_kb(settings, app.state.kb_overrides)
        app.state.kb_sync = KbSync(app.state.kb, app.state.kb_overrides.engine, app.state.events,
                                   settings.kb_poll_seconds)
        app.state.assistant = Assistant.load(settings)
        app.state.model_watcher = ModelWatcher(app.state.assistant, settings)
        app_db = make_engine(settings.app_database_url)
        app.state.conversations = ConversationService(app.state.assistant, app_db,
                                                      frustration_trigger=settings.handoff_frustration,
                                                      events=app.state.events,
                                                      stale_after=settings.recovery_stale_seconds)
        app.state.accounts = Accounts(app_db, session_minutes=settings.session_minutes)
        app.state.handoffs = HandoffService(HandoffQueue(app_db), app.state.assistant, app.state.conversations.deliver,
                                            auto_assign=settings.handoff_auto_assign, hours=settings.agent_hours,
                                            events=app.state.events)
        app.state.conversations.handoffs = app.state.handoffs
        app.state.limits = ratelimit.Limits(settings)
        metrics.bind(app.state.handoffs, app.state.assistant)
        app.state.web = web.WebConnector(app.state.conversations, app.state.events)
        # Channels with credentials; without them, one log line and their webhook answers 503.
        app.state.telegram = telegram.TelegramConnector.from_settings(settings, app.state.conversations)
        app.state.zalo = zalo.ZaloConnector.from_settings(settings, app.state.conversations)
        channels = [c for c in (app.state.telegram, app.state.zalo) if c is not None]
        app.state.conversations.register_channel("web", _web_sender(app.state.web))
        for name, channel in (("telegram", app.state.telegram), ("zalo", app.state.zalo)):
            if channel is not None:
                app.state.conversations.register_channel(name, channel.send)
        for channel in channels:
            await channel.start()
        senders = {name: channel.send for name, channel in (("telegram", app.state.telegram), ("zalo", app.state.zalo))
                   if channel is not None}
        app.state.recovery = Recovery(app.state.conversations, senders, stale_after=settings.recovery_stale_seconds,
                                      interval=settings.recovery_seconds)
        await app.state.events.start()  # after every subscriber above
        await app.state.kb_sync.start()
        app.state.model_watcher.start()
        app.state.recovery.poll.start()
        heap.freeze(settings.gc_freeze)  # last: what start-up built lives as long as the process
        app.state.gc_pauses = heap.PauseWatch()  # serving's collections (not start-up's) on /metrics
        app.state.gc_pauses.install()
        app.state.gc_flush = Every(1.0, app.state.gc_pauses.flush, "gc-pauses")
        app.state.gc_flush.start()
        log.info("cskh ready on %s", settings.public_url)
        yield
        await app.state.gc_flush.stop()
        app.state.gc_pauses.remove()
        await app.state.recovery.poll.stop()
        await app.state.model_watcher.stop()
        await app.state.kb_sync.stop()
        for channel in channels:
            await channel.stop()
        await app.state.events.stop()
        metrics.process_exit()
        heap.thaw(settings.gc_freeze)

    app = FastAPI(title="cskh", version="0.1.0", lifespan=lifespan)
    guards.install(app)                      # oversized headers, NUL paths, huge ids: 4xx (inside the metrics)
    app.add_middleware(metrics.HttpMetrics)  # requests by route template and status
    app.add_middleware(guards.SecurityHeaders)  # outermost of ours: guard refusals carry the headers too
    app.include_router(metrics.router)       # GET /metrics
    app.include_router(rest.router)
    app.include_router(web.router)
    app.include_router(telegram.router)
    app.include_router(zalo.router)
    app.include_router(kb_api.router)
    app.include_router(kb_admin.router)
    app.include_router(handoff_api.internal)
    app.include_router(handoff_api.pages)
    app.include_router(handoff_api.api)
    app.include_router(leads_api.router)
    app.include_router(models_api.router)
    app.include_router(leads_pages.pages)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return JSONResponse(status_code=422, content={"error": reasons})

    @app.get("/live", tags=["ops"])
    async def live() -> dict:
        """The process answers (for a liveness probe)."""
        return {"status": "alive"}

    @app.get("/ready", tags=["ops"])
    async def ready(request: Request) -> JSONResponse:
        """Model, KB and app database usable (for a readiness probe / load balancer)."""
        problems = []
        if getattr(request.app.state, "assistant", None) is None:
            problems.append("model not loaded")
        if not getattr(request.app.state, "kb", None) or not request.app.state.kb.entries:
            problems.append("knowledge base empty")
        try:
            with request.app.state.conversations.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception as error:  # any database failure means "not ready", never a 500
            problems.append(f"app database: {type(error).__name__}")
        lock_store = getattr(getattr(getattr(request.app.state, "assistant", None), "agent", None), "lock_store", None)
        red = getattr(lock_store, "red", None)
        if red is not None:  # the Redis lock store: without it no message can be processed
            try:
                await asyncio.get_running_loop().run_in_executor(None, red.ping)
            except Exception as error:
                problems.append(f"lock store: {type(error).__name__}")
        status = 200 if not problems else 503
        return JSONResponse(status_code=status, content={"status": "ready" if not problems else "not ready",
                                                         "problems": problems})

    @app.get("/health", tags=["ops"])
    async def health(request: Request) -> dict:
        assistant: Assistant = request.app.state.assistant
        return {"status": "ok", "model": assistant.model_path.name, "kb_entries": len(request.app.state.kb.entries),
                "gc_frozen": gc.get_freeze_count()}  # this worker's objects out of the collector's reach (cskh/heap.py)

    return app


def worker_app() -> FastAPI:
    """The app of one `CSKH_WORKERS` worker: a fresh process (spawned by uvicorn), so it sets up
    logging as `cskh run` did, then builds the app from the environment."""
    from cskh.logging import configure as configure_logging

    settings = get_settings()
    configure_logging(settings.effective_log_format, settings.log_level)
    return create_app(settings)

