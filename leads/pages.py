"""The lead's admin pages at /admin: the page itself and its static files.

No session → the console's login page, which brings the lead back here (its hidden `next` field
says /admin); a session of another role → a 403 page; a lead → admin.html. The page reads
everything else from the JSON API in leads/api.py (and the console's /api/agent/me for the CSRF
token), so nothing here renders data.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from handoff.api import COOKIE, STATIC as CONSOLE_STATIC

STATIC = Path(__file__).resolve().parent / "static"
NO_STORE = {"Cache-Control": "no-store"}
# login.html posts next=/agent; served here it brings the lead back to /admin
LOGIN_NEXT = 'name="next" value="/agent"'

FORBIDDEN = """<!DOCTYPE html>
<html lang="vi">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex">
  <title>Chỉ dành cho trưởng nhóm · Quản trị CSKH</title>
  <link rel="stylesheet" href="/agent/static/agent.css">
</head>
<body class="login-page" data-page="forbidden">
  <main class="login-card" id="forbidden">
    <div class="login-brand">
      <span class="logo" aria-hidden="true">SM</span>
      <div>
        <h1>Chỉ dành cho trưởng nhóm</h1>
        <p>Điện Máy Sao Mai · Quản trị CSKH</p>
      </div>
    </div>
    <p>Tài khoản của bạn không có quyền xem trang quản trị. Nếu bạn cần quyền này, vui lòng liên hệ
       trưởng nhóm.</p>
    <p><a class="btn primary wide" style="text-decoration: none" href="/agent">Về bàn làm việc CSKH</a></p>
  </main>
</body>
</html>
"""

pages = APIRouter(tags=["lead admin"])


@pages.get("/admin", include_in_schema=False)
async def admin_page(request: Request) -> Response:
    session = request.app.state.accounts.session(request.cookies.get(COOKIE))
    if session is None:
        login = (CONSOLE_STATIC / "login.html").read_text(encoding="utf-8")
        return HTMLResponse(login.replace(LOGIN_NEXT, 'name="next" value="/admin"'), headers=NO_STORE)
    if session.user.role != "lead":
        return HTMLResponse(FORBIDDEN, status_code=403, headers=NO_STORE)
    return FileResponse(STATIC / "admin.html", headers=NO_STORE)


@pages.get("/admin/static/{name}", include_in_schema=False)
async def admin_static(name: str) -> Response:
    path = (STATIC / name).resolve()
    if path.parent != STATIC or not path.is_file() or path.suffix not in (".js", ".css"):
        raise HTTPException(status_code=404, detail="not found")
    return FileResponse(path)
