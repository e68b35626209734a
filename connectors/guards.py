"""Guards in front of every route, for what no single route can check well.

RequestGuard (ASGI middleware):
- request headers adding up to more than MAX_HEADER_BYTES get 431 with a JSON reason (a
  WebSocket handshake is refused). uvicorn itself (h11, `cskh run`) drops anything over 64 KB
  with a plain 400 before the application sees it, so header memory stays bounded.
- a path with a NUL byte (%00) gets 404: file-serving routes would raise ValueError on it.
SecurityHeaders (ASGI middleware): every HTTP response carries SECURITY_HEADERS unless the route set
that header itself. It is a plain ASGI wrapper that edits the response's start message, not
Starlette's BaseHTTPMiddleware, which runs each request in an extra task with memory streams.
An exception handler turns "int too large to convert" (a 20-digit id in a path reaching the
SQLite driver) into 422 instead of a 500.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict, MutableMapping

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 16 * 1024
UVICORN_MAX_HEADER_BYTES = 64 * 1024  # h11_max_incomplete_event_size in cskh run
# Sent with every response; pages only load their own scripts, so framing and sniffing are off.
SECURITY_HEADERS: Dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]


class RequestGuard:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]],
                 max_header_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            size = sum(len(name) + len(value) + 4 for name, value in scope.get("headers") or ())
            if size > self.max_header_bytes:
                await self._refuse(scope, send, 431, f"request headers too large ({size} bytes; "
                                                     f"at most {self.max_header_bytes})")
                return
            if "\x00" in scope.get("path", ""):
                await self._refuse(scope, send, 404, "not found")
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, reason: str) -> None:
        if scope["type"] == "websocket":  # closing before accept: the handshake gets 403
            await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
            return
        body = json.dumps({"error": reason}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]],
                 headers: Dict[str, str] = SECURITY_HEADERS) -> None:
        self.app = app
        self.headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers") or ()}
                missing = [(name, value) for name, value in self.headers if name not in present]
                if missing:
                    message = {**message, "headers": [*(message.get("headers") or ()), *missing]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _overflow(request: Request, error: OverflowError) -> JSONResponse:
    if "too large to convert" in str(error):
        return JSONResponse(status_code=422, content={"error": "a number in the request is out of range"})
    log.error("overflow in %s %s", request.method, request.url.path, exc_info=error)
    return JSONResponse(status_code=500, content={"error": "internal error"})


def install(app: FastAPI) -> None:
    app.add_middleware(RequestGuard)
    app.add_exception_handler(OverflowError, _overflow)
