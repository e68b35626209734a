"""Local HTTP servers standing in for Telegram's Bot API and Zalo's OA and OAuth servers.

They answer like the real APIs and record every call (method, path, headers, JSON or form body),
so tests can assert what the service sent. Each runs in a thread on a free port.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlparse


@dataclass
class Call:
    method: str
    path: str
    headers: Dict[str, str]  # lower-case names
    body: Dict[str, Any]     # the JSON object or the form fields
    at: float = field(default_factory=time.monotonic)
    status: int = 0                             # what the fake answered
    response: Optional[Dict[str, Any]] = None


class FakeServer:
    def __init__(self) -> None:
        self.calls: List[Call] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                fake._serve(self)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        parsed = urlparse(handler.path)
        body: Dict[str, Any] = dict(parse_qsl(parsed.query))
        kind = handler.headers.get("Content-Type", "")
        if raw and "json" in kind:
            body.update(json.loads(raw))
        elif raw:
            body.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        call = Call(handler.command, parsed.path, {k.lower(): v for k, v in handler.headers.items()}, body)
        with self._lock:
            self.calls.append(call)
        status, answer = self.answer(call)
        call.status, call.response = status, answer
        data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def answer(self, call: Call) -> Tuple[int, Dict[str, Any]]:
        raise NotImplementedError

    def find(self, predicate: Callable[[Call], bool]) -> List[Call]:
        with self._lock:
            return [c for c in self.calls if predicate(c)]

    def wait_for(self, predicate: Callable[[Call], bool], count: int = 1, timeout: float = 90.0) -> List[Call]:
        """The matching calls once there are at least `count` (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(predicate)
            if len(found) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(found) >= count, f"expected {count} matching calls, got {len(found)}: {self.calls[-10:]}"
        return found


class FakeTelegram(FakeServer):
    """The Bot API at {url}/bot<token>/<method>: {"ok": true, "result": …} like the real one."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self._message_ids = iter(range(1, 10**9))
        self.updates: List[Dict[str, Any]] = []  # served by getUpdates
        self.webhook: Optional[Dict[str, Any]] = None

    def answer(self, call: Call) -> Tuple[int, Dict[str, Any]]:
        prefix = f"/bot{self.token}/"
        if not call.path.startswith(prefix):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        method = call.path[len(prefix):]
        if method == "getMe":
            return 200, {"ok": True, "result": {"id": 4242, "is_bot": True, "first_name": "Sao Mai",
                                                "username": "saomai_cskh_bot"}}
        if method == "sendMessage":
            if not call.body.get("text"):
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
            if len(call.body["text"].encode("utf-16-le")) // 2 > 4096:
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
            chat = int(call.body["chat_id"])
            return 200, {"ok": True, "result": {"message_id": next(self._message_ids), "date": int(time.time()),
                                                "chat": {"id": chat, "type": "private"},
                                                "text": call.body["text"]}}
        if method == "answerCallbackQuery":
            return 200, {"ok": True, "result": True}
        if method == "setWebhook":
            self.webhook = dict(call.body)
            return 200, {"ok": True, "result": True, "description": "Webhook was set"}
        if method == "deleteWebhook":
            self.webhook = None
            return 200, {"ok": True, "result": True, "description": "Webhook was deleted"}
        if method == "getUpdates":
            offset = int(call.body.get("offset") or 0)
            deadline = time.monotonic() + min(float(call.body.get("timeout") or 0), 1.0)
            while True:
                with self._lock:
                    ready = [u for u in self.updates if u["update_id"] >= offset]
                if ready or time.monotonic() >= deadline:
                    return 200, {"ok": True, "result": ready}
                time.sleep(0.05)
        return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}

    def sent(self, chat_id: int) -> List[Dict[str, Any]]:
        """sendMessage calls to `chat_id`, with reply_markup decoded."""
        found = []
        for call in self.find(lambda c: c.path.endswith("/sendMessage") and str(c.body.get("chat_id")) == str(chat_id)):
            message = dict(call.body)
            if "reply_markup" in message:
                message["reply_markup"] = json.loads(message["reply_markup"])
            found.append(message)
        return found

    def wait_sent(self, chat_id: int, count: int = 1, timeout: float = 90.0) -> List[Dict[str, Any]]:
        self.wait_for(lambda c: c.path.endswith("/sendMessage") and str(c.body.get("chat_id")) == str(chat_id),
                      count, timeout)
        return self.sent(chat_id)


class FakeZalo(FakeServer):
    """Both Zalo hosts: the OA API (/v3.0/oa/message/cs) and OAuth (/v4/oa/access_token).

    Like Zalo, it accepts only the current access token (else error -216) and each refresh token
    once; `revoke_access_token()` makes the current access token invalid, as expiry would."""

    def __init__(self, app_id: str, app_secret: str) -> None:
        super().__init__()
        self.app_id, self.app_secret = app_id, app_secret
        self.generation = 0
        self.access_token, self.refresh_token = "zalo-access-0", "zalo-refresh-0"
        self.expires_in = 90000

    def revoke_access_token(self) -> None:
        with self._lock:
            self.access_token = f"revoked-{uuid.uuid4().hex}"

    def answer(self, call: Call) -> Tuple[int, Dict[str, Any]]:
        if call.path == "/v3.0/oa/message/cs":
            if call.headers.get("access_token") != self.access_token:
                return 200, {"error": -216, "message": "Access token is invalid"}
            recipient = (call.body.get("recipient") or {}).get("user_id")
            text = (call.body.get("message") or {}).get("text")
            if not recipient or not text:
                return 200, {"error": -201, "message": "Parameters are invalid"}
            if len(text) > 2000:
                return 200, {"error": -201, "message": "Text is too long"}
            return 200, {"error": 0, "message": "Success",
                         "data": {"message_id": uuid.uuid4().hex, "user_id": recipient}}
        if call.path == "/v4/oa/access_token":
            if call.headers.get("secret_key") != self.app_secret or call.body.get("app_id") != self.app_id:
                return 200, {"error": -14001, "error_name": "Invalid app", "error_description": "app_id or secret_key"}
            if call.body.get("grant_type") != "refresh_token" or call.body.get("refresh_token") != self.refresh_token:
                return 200, {"error": -14014, "error_name": "Invalid refresh token",
                             "error_description": "refresh token is invalid or used"}
            with self._lock:
                self.generation += 1
                self.access_token = f"zalo-access-{self.generation}"
                self.refresh_token = f"zalo-refresh-{self.generation}"
            return 200, {"access_token": self.access_token, "refresh_token": self.refresh_token,
                         "expires_in": str(self.expires_in)}
        return 404, {"error": 404, "message": "not found"}

    def messages_to(self, user_id: str) -> List[Call]:
        return self.find(lambda c: c.path == "/v3.0/oa/message/cs"
                         and (c.body.get("recipient") or {}).get("user_id") == user_id)

    def delivered(self, user_id: str) -> List[Call]:
        """Sends to `user_id` that Zalo accepted."""
        return [c for c in self.messages_to(user_id) if (c.response or {}).get("error") == 0]

    def wait_delivered(self, user_id: str, count: int = 1, timeout: float = 90.0) -> List[Call]:
        deadline = time.monotonic() + timeout
        while len(self.delivered(user_id)) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        found = self.delivered(user_id)
        assert len(found) >= count, f"expected {count} delivered to {user_id}, got {len(found)}: {self.messages_to(user_id)}"
        return found

    def refreshes(self) -> List[Call]:
        return self.find(lambda c: c.path == "/v4/oa/access_token")
