"""connectors.guards.SecurityHeaders: every HTTP response carries the headers, a route's own wins."""
from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, StreamingResponse

from connectors import guards


def make_app() -> FastAPI:
    app = FastAPI()
    guards.install(app)
    app.add_middleware(guards.SecurityHeaders)

    @app.get("/plain")
    async def plain() -> dict:
        return {"ok": True}

    @app.get("/framed")
    async def framed() -> PlainTextResponse:
        return PlainTextResponse("x", headers={"X-Frame-Options": "SAMEORIGIN"})

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks():
            for part in (b"a", b"b", b"c"):
                yield part
        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/boom")
    async def boom() -> dict:
        raise RuntimeError("boom")

    return app


async def get(path: str, headers: dict | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers=headers)


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/plain", "/stream", "/missing"])
async def test_every_response_carries_the_headers(path):
    response = await get(path)
    for name, value in guards.SECURITY_HEADERS.items():
        assert response.headers[name] == value
        assert len(response.headers.get_list(name)) == 1
    if path == "/stream":
        assert response.text == "abc"


@pytest.mark.asyncio
async def test_a_routes_own_header_is_kept():
    response = await get("/framed")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.asyncio
async def test_a_guard_refusal_carries_them():
    response = await get("/plain", headers={"x-big": "a" * (guards.MAX_HEADER_BYTES + 10)})
    assert response.status_code == 431
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.asyncio
async def test_an_error_is_still_a_500_not_a_crash_of_the_middleware():
    response = await get("/boom")
    assert response.status_code == 500
