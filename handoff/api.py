"""HTTP surface of the hand-off: the internal endpoint actions call, agent login, the console's
JSON API and its live WebSocket. Every console route needs a session; state-changing requests
also need the session's CSRF token in X-CSRF-Token (the cookie is SameSite=Strict besides)."""
from __future__ import annotations

import asyncio
import hmac
import logging
from pathlib import Path
from typing import Annotated, Any, Dict, List, Optional

import yaml
from fastapi import APIRouter, Depends, Form, Header, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, constr

from connectors import ratelimit
from cskh import metrics
from cskh.settings import get_settings
from handoff.accounts import Accounts, Session
from handoff.queue import REASONS, NotClaimable
from handoff.service import HandoffService, public

STATIC = Path(__file__).resolve().parent / "static"
CANNED = Path(__file__).resolve().parent / "canned.yml"
COOKIE = "cskh_session"
SESSION_RECHECK_S = 30.0  # how often an idle live socket re-checks that its session is still valid

log = logging.getLogger(__name__)
# Path ids fit the database's 64-bit integers (a bigger one was a 500 from the SQLite driver).
HandoffId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]
internal = APIRouter(prefix="/internal", tags=["internal"])
pages = APIRouter(tags=["agent console"])
api = APIRouter(prefix="/api/agent", tags=["agent console"])


def _service(request: Request) -> HandoffService:
    return request.app.state.handoffs


def _accounts(request: Request) -> Accounts:
    return request.app.state.accounts


# ---- internal: actions start hand-offs --------------------------------------------------------

class StartHandoff(BaseModel):
    conversation_id: constr(min_length=1, max_length=256)  # type: ignore[valid-type]
    reason: constr(min_length=1, max_length=32)  # type: ignore[valid-type]
    detail: Optional[constr(max_length=4000)] = None  # type: ignore[valid-type]
    frustrated: bool = False


def require_internal(authorization: Optional[str] = Header(None)) -> None:
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not given or not hmac.compare_digest(given.encode(), get_settings().admin_token.encode()):
        raise HTTPException(status_code=401, detail="internal token required")


@internal.post("/handoffs", dependencies=[Depends(require_internal)])
async def start_handoff(body: StartHandoff, request: Request) -> Dict[str, Any]:
    if body.reason not in REASONS:
        raise HTTPException(status_code=422, detail=f"reason must be one of {REASONS}")
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, _service(request).start, body.conversation_id, body.reason,
                                      body.detail, body.frustrated)


# ---- sessions ---------------------------------------------------------------------------------

def current_session(request: Request) -> Session:
    session = _accounts(request).session(request.cookies.get(COOKIE))
    if session is None:
        raise HTTPException(status_code=401, detail="login required")
    return session


def csrf_session(request: Request, x_csrf_token: Optional[str] = Header(None)) -> Session:
    session = current_session(request)
    if not x_csrf_token or not hmac.compare_digest(x_csrf_token.encode(), session.csrf.encode()):
        raise HTTPException(status_code=403, detail="missing or wrong X-CSRF-Token")
    return session


@pages.get("/agent", include_in_schema=False)
async def console_page(request: Request) -> Response:
    if _accounts(request).session(request.cookies.get(COOKIE)) is None:
        return FileResponse(STATIC / "login.html", headers={"Cache-Control": "no-store"})
    return FileResponse(STATIC / "agent.html", headers={"Cache-Control": "no-store"})


@pages.get("/agent/static/{name}", include_in_schema=False)
async def console_static(name: str) -> Response:
    if "\x00" in name:  # Path.resolve() raises ValueError on a NUL byte: a 500, not a 404
        raise HTTPException(status_code=404, detail="not found")
    path = (STATIC / name).resolve()
    if path.parent != STATIC or not path.is_file() or path.suffix not in (".js", ".css"):
        raise HTTPException(status_code=404, detail="not found")
    return FileResponse(path)


# where a login may send the browser back to: the console or the lead's pages, nothing else
LOGIN_NEXT = ("/agent", "/admin")


@pages.post("/agent/login", include_in_schema=False)
async def login(request: Request, username: str = Form(..., max_length=64),
                password: str = Form(..., max_length=256), next_page: str = Form("/agent", alias="next")) -> Response:
    target = next_page if next_page in LOGIN_NEXT else "/agent"
    # Brute force: failed logins spend the client IP's tokens; with none left, 429 until one refills.
    attempts, ip = ratelimit.limits(request.app).login, ratelimit.client_ip(request)
    wait = attempts.wait(ip)
    if wait:
        metrics.RATE_LIMITED.labels("login", "login").inc()
        log.warning("login refused for %s: too many failed attempts", ip)
        return ratelimit.too_many(wait, f"too many failed logins; retry in {ratelimit.retry_after(wait)} s")
    loop = asyncio.get_running_loop()
    session = await loop.run_in_executor(None, _accounts(request).login, username, password)
    if session is None:
        attempts.take(ip)
        log.info("failed login for %r from %s", username[:64], ip)
        return RedirectResponse(f"{target}?error=1", status_code=303)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, session.token, httponly=True, samesite="strict",
                        secure=get_settings().env == "production", max_age=get_settings().session_minutes * 60)
    return response


@pages.post("/agent/logout", include_in_schema=False)
async def logout(request: Request, session: Session = Depends(csrf_session)) -> Response:
    _accounts(request).logout(session.token)
    response = JSONResponse({"ok": True})
    response.delete_cookie(COOKIE)
    return response


# ---- the console's JSON API -------------------------------------------------------------------

@api.get("/me")
async def me(session: Session = Depends(current_session)) -> Dict[str, Any]:
    return {"username": session.user.username, "display_name": session.user.display_name,
            "role": session.user.role, "csrf": session.csrf}


@api.get("/queue")
async def queue(request: Request, session: Session = Depends(current_session)) -> Dict[str, Any]:
    service = _service(request)
    items = []
    for position, handoff in enumerate(service.queue.open_items(), 1):
        data = public(handoff)
        data["position"] = service.queue.position(handoff.id)
        data["waited_s"] = round(handoff.waited_seconds(), 1)
        items.append(data)
    loop = asyncio.get_running_loop()
    names = {u.username: u.display_name for u in await loop.run_in_executor(None, _accounts(request).list)}
    return {"items": items, "stats": service.queue.stats(), "online": sorted(a for a, n in service.online.items() if n),
            "names": names}


@api.get("/canned")
async def canned(session: Session = Depends(current_session)) -> Dict[str, List[Dict[str, str]]]:
    return {"answers": yaml.safe_load(CANNED.read_text(encoding="utf-8"))["answers"]}


def transcript(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """What the agent needs to see: every turn, and what the bot understood of it."""
    turns: List[Dict[str, Any]] = []
    slots: Dict[str, Any] = {}
    for event in events:
        kind = event.get("event")
        if kind == "user":
            parse = event.get("parse_data") or {}
            intent = parse.get("intent") or {}
            turns.append({"who": "customer", "text": event.get("text"), "time": event.get("timestamp"),
                          "intent": intent.get("name"), "confidence": intent.get("confidence"),
                          "entities": [{"entity": e.get("entity"), "value": e.get("value")}
                                       for e in parse.get("entities") or [] if e.get("entity") != "language"],
                          "sentiment": (event.get("metadata") or {}).get("sentiment")})
        elif kind == "bot":
            metadata = event.get("metadata") or {}
            who = "agent" if metadata.get("agent") else "bot"
            turns.append({"who": who, "agent": metadata.get("agent_name"), "text": event.get("text"),
                          "time": event.get("timestamp"), "custom": (event.get("data") or {}).get("custom")})
        elif kind == "slot" and event.get("name") not in ("requested_slot",):
            slots[event["name"]] = event.get("value")
        elif kind in ("pause", "resume"):
            turns.append({"who": "system", "text": "bot paused" if kind == "pause" else "bot resumed",
                          "time": event.get("timestamp")})
    return {"turns": turns, "slots": {k: v for k, v in slots.items() if v is not None},
            "order": slots.get("verified_order")}


@api.get("/conversations/{conversation_id:path}")
async def conversation(conversation_id: str, request: Request,
                       session: Session = Depends(current_session)) -> Dict[str, Any]:
    view = transcript(await request.app.state.assistant.events(conversation_id))
    handoff = _service(request).queue.current(conversation_id)
    view["handoff"] = public(handoff) if handoff else None
    view["conversation_id"] = conversation_id
    return view


class Reply(BaseModel):
    text: constr(strip_whitespace=True, min_length=1, max_length=4000)  # type: ignore[valid-type]


class Typing(BaseModel):
    on: bool


def _conflict(error: NotClaimable) -> HTTPException:
    return HTTPException(status_code=409, detail=str(error))


@api.post("/handoffs/{handoff_id}/claim")
async def claim(handoff_id: HandoffId, request: Request, session: Session = Depends(csrf_session)) -> Dict[str, Any]:
    try:
        return public(await _service(request).claim(handoff_id, session.user.username, session.user.display_name))
    except NotClaimable as error:
        raise _conflict(error)


@api.post("/handoffs/{handoff_id}/release")
async def release(handoff_id: HandoffId, request: Request, session: Session = Depends(csrf_session)) -> Dict[str, Any]:
    try:
        return public(await _service(request).release(handoff_id, session.user.username))
    except NotClaimable as error:
        raise _conflict(error)


@api.post("/handoffs/{handoff_id}/resolve")
async def resolve(handoff_id: HandoffId, request: Request, session: Session = Depends(csrf_session)) -> Dict[str, Any]:
    try:
        return public(await _service(request).resolve(handoff_id, session.user.username, session.user.display_name))
    except NotClaimable as error:
        raise _conflict(error)


@api.post("/handoffs/{handoff_id}/handback")
async def hand_back(handoff_id: HandoffId, request: Request, session: Session = Depends(csrf_session)) -> Dict[str, Any]:
    try:
        return public(await _service(request).hand_back(handoff_id, session.user.username,
                                                        session.user.display_name))
    except NotClaimable as error:
        raise _conflict(error)


@api.post("/handoffs/{handoff_id}/reply")
async def reply(handoff_id: HandoffId, body: Reply, request: Request, session: Session = Depends(csrf_session)) -> Dict[str, bool]:
    try:
        await _service(request).reply(handoff_id, session.user.username, session.user.display_name, body.text)
    except NotClaimable as error:
        raise _conflict(error)
    return {"ok": True}


@api.post("/handoffs/{handoff_id}/typing")
async def typing(handoff_id: HandoffId, body: Typing, request: Request, session: Session = Depends(csrf_session)) -> Dict[str, bool]:
    _service(request).typing(handoff_id, session.user.username, body.on, session.user.display_name)
    return {"ok": True}


@api.websocket("/live")
async def live(websocket: WebSocket) -> None:
    """Queue changes, customer messages, typing and CSAT as they happen. Marks the agent online."""
    accounts: Accounts = websocket.app.state.accounts
    session = accounts.session(websocket.cookies.get(COOKIE))
    if session is None:
        await websocket.close(code=4401)
        return
    service: HandoffService = websocket.app.state.handoffs
    await websocket.accept()
    events = service.hub.subscribe()
    agent = session.user.username
    service.online[agent] = service.online.get(agent, 0) + 1
    metrics.agents_online(service.online)
    service.hub.publish({"type": "presence", "agent": agent, "online": True})
    try:
        await service.assign_waiting(agent, session.user.display_name)
    except Exception:  # the console still opens; the agent can claim by hand
        log.exception("auto-assign for %s failed", agent)

    async def forward() -> None:
        # A session that expires or logs out stops receiving: checked before each event and at least
        # every SESSION_RECHECK_S while idle; the socket then closes with 4401 (the console goes to login).
        loop = asyncio.get_running_loop()
        while True:
            try:
                event = await asyncio.wait_for(events.get(), timeout=SESSION_RECHECK_S)
            except asyncio.TimeoutError:
                event = None
            if await loop.run_in_executor(None, accounts.session, session.token) is None:
                await websocket.close(code=4401)
                return
            if event is not None:
                await websocket.send_json(event)

    async def listen() -> None:  # the console sends nothing we need; this notices the disconnect
        while True:
            await websocket.receive_text()

    tasks = [asyncio.ensure_future(forward()), asyncio.ensure_future(listen())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        for task in tasks:
            task.cancel()
        service.hub.unsubscribe(events)
        service.online[agent] = max(0, service.online.get(agent, 1) - 1)
        metrics.agents_online(service.online)
        service.hub.publish({"type": "presence", "agent": agent, "online": service.online[agent] > 0})
