"""Writes tests/data/hostile_inputs.jsonl: bad, odd and hostile requests for every endpoint.

Each line: {"id", "endpoint", "method", "headers", "body" | "body_b64", "expect", "note"}.
  method   GET/POST/PUT/DELETE, or WS (body = one frame sent after connecting; body_b64 = binary)
  expect   "4xx"    a 4xx with a JSON reason (WebSocket: handshake refused, or an error frame
                    with a reason on a socket that stays open)
           "polite" 200 and a non-empty Vietnamese reply (Telegram/Zalo: 200 to the platform and
                    the reply sent through the fake platform API)
           "ok"     a 2xx JSON answer (endpoints that are not conversations: /kb/search, history)
Placeholders filled in by tests/integration/test_hostile_inputs.py: {ADMIN_TOKEN},
{TELEGRAM_SECRET}, {ZALO_MAC} (signature of the body as sent), {AGENT_COOKIE}, {AGENT_CSRF},
{LEAD_COOKIE}, {LEAD_CSRF}.

python scripts/gen_hostile_inputs.py   (rewrite the file after editing the cases below)
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "hostile_inputs.jsonl"
JSON = {"Content-Type": "application/json"}
BIG_COOKIE = {"Cookie": "tracking=" + "x" * 32 * 1024}
DEEP = "[" * 5000 + "]" * 5000
ZALO_APP_ID = "3608465249409039"  # tests/integration/conftest.py

cases: List[Dict[str, Any]] = []


def case(id: str, endpoint: str, method: str, expect: str, note: str, body: Optional[str] = None,
         raw: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None) -> None:
    entry: Dict[str, Any] = {"id": id, "endpoint": endpoint, "method": method, "headers": headers or {}}
    if raw is not None:
        entry["body_b64"] = base64.b64encode(raw).decode("ascii")
    elif body is not None:
        entry["body"] = body
    entry["expect"] = expect
    entry["note"] = note
    cases.append(entry)


def js(value: Any) -> str:
    """A JSON body as sent: ASCII, so lone surrogates travel as the escape "\\ud800"."""
    return json.dumps(value, ensure_ascii=True)


# ---- REST webhook ---------------------------------------------------------------------------------
REST = "/webhooks/rest/webhook"


def rest(id: str, message: Any, expect: str, note: str, **extra: Any) -> None:
    case(id, REST, "POST", expect, note, js({"sender": f"hostile-{id}", "message": message, **extra}), headers=JSON)


case("rest-empty-body", REST, "POST", "4xx", "no body at all", "", headers=JSON)
rest("rest-whitespace", "   \t\n  ", "4xx", "whitespace only")
rest("rest-100kb", "a" * 100_000, "4xx", "100 KB of text (body limit)")
rest("rest-over-message-limit", "ơ" * 4100, "4xx", "4,100 Vietnamese characters: over the message limit")
case("rest-invalid-utf8", REST, "POST", "4xx", "invalid UTF-8 inside the JSON string",
     raw=b'{"sender": "hostile-rest-invalid-utf8", "message": "\xff\xfe xin ch\xe0o"}', headers=JSON)
rest("rest-control-chars", "xin\x00 chào\x07\x1b[31m shop", "polite", "NUL, BEL and an ANSI escape inside text")
rest("rest-only-control-chars", "\x00\x01\x02\x1b", "4xx", "nothing but control characters")
rest("rest-zero-width-only", "\u200b\u200b\ufeff\u2060", "4xx", "nothing but zero-width characters")
rest("rest-rtl-override", "\u202eDH1001\u202c cho tôi tra đơn", "polite", "right-to-left override around an order code")
rest("rest-emoji-only", "😀😀😀🔥👍🏽", "polite", "emoji only")
rest("rest-zwj-emoji", "👨\u200d👩\u200d👧\u200d👦", "polite", "emoji joined with zero-width joiners")
rest("rest-html-script", "<script>alert(document.cookie)</script>", "polite", "script tag")
rest("rest-img-onerror", "<img src=x onerror=alert(1)>phí ship bao nhiêu?", "polite", "HTML attribute payload + question")
rest("rest-sql-order", "DH1001' OR 1=1 --", "polite", "SQL-like order code")
rest("rest-sql-union", "tra đơn DH1001 UNION SELECT password FROM users", "polite", "SQL UNION in a lookup")
rest("rest-sql-phone", "0901234567'; DROP TABLE orders; --", "polite", "SQL after a phone number")
rest("rest-fullwidth-order", "tra đơn ＤＨ１００１", "polite", "full-width order code")
rest("rest-arabic-digits", "tra đơn DH١٠٠١", "polite", "Arabic-Indic digits")
rest("rest-cyrillic-order", "tra đơn DН1001", "polite", "Cyrillic Н in the order code")
rest("rest-fullwidth-phone", "０９０１２３４５６７", "polite", "full-width phone number")
rest("rest-lone-surrogate", "\ud800 xin chào", "polite", "a lone UTF-16 surrogate (JSON \\ud800)")
rest("rest-only-surrogates", "\udfff\ud800", "4xx", "lone surrogates only")
rest("rest-newlines", "\n\n\nphí ship\r\n\r\n", "polite", "surrounding newlines and CRLF")
rest("rest-long-word", "a" * 3900, "polite", "one 3,900-character word (under the limit)")
rest("rest-format-string", "%s%s%s%n {0} ${jndi:ldap://x/a} {{7*7}}", "polite", "format strings and template injection")
rest("rest-metadata-channel-spoof", "xin chào", "polite", "metadata claims another channel", metadata={"channel": "telegram"})
case("rest-malformed-json", REST, "POST", "4xx", "truncated JSON", '{"sender": "x", "message": "hi"', headers=JSON)
case("rest-json-array", REST, "POST", "4xx", "a JSON array", '["x", "hi"]', headers=JSON)
case("rest-wrong-content-type", REST, "POST", "4xx", "plain text body", "xin chào", headers={"Content-Type": "text/plain"})
case("rest-form-encoded", REST, "POST", "4xx", "a form instead of JSON", "sender=x&message=hi",
     headers={"Content-Type": "application/x-www-form-urlencoded"})
case("rest-deep-nesting", REST, "POST", "4xx", "metadata nested 5,000 levels deep",
     '{"sender": "hostile-deep", "message": "hi", "metadata": ' + DEEP + "}", headers=JSON)
rest("rest-sender-channel-prefix", "xin chào", "4xx", "REST sender posing as a Telegram conversation",
     sender="telegram:990001")
case("rest-sender-control", REST, "POST", "4xx", "NUL in the sender", js({"sender": "a\x00b", "message": "hi"}), headers=JSON)
case("rest-sender-too-long", REST, "POST", "4xx", "200-character sender", js({"sender": "9" * 200, "message": "hi"}),
     headers=JSON)
case("rest-null-message", REST, "POST", "4xx", "message null", js({"sender": "x", "message": None}), headers=JSON)
case("rest-huge-cookie", REST, "POST", "4xx", "32 KB cookie", js({"sender": "hostile-cookie", "message": "hi"}),
     headers={**JSON, **BIG_COOKIE})
case("rest-get", REST, "GET", "4xx", "wrong method")

# ---- widget REST fallback ------------------------------------------------------------------------
WEB = "/api/web/messages"


def web(id: str, text: Any, expect: str, note: str, conversation: str = None, message_id: str = None) -> None:
    body = {"conversation": conversation or f"hostile-{id}", "text": text, "id": message_id or f"m-{id}"}
    case(id, WEB, "POST", expect, note, js(body), headers=JSON)


web("web-empty-text", "", "4xx", "empty text")
web("web-bad-conversation", "xin chào", "4xx", "path traversal as conversation id", conversation="../../etc/passwd")
case("web-invalid-utf8", WEB, "POST", "4xx", "invalid UTF-8",
     raw=b'{"conversation": "hostile-web-utf8", "text": "\xc3\x28"}', headers=JSON)
web("web-html", "<svg onload=alert(1)>", "polite", "SVG onload payload")
web("web-rtl", "\u202exin chào\u202c", "polite", "RTL override")
web("web-arabic-digits", "tra đơn DH١٠٠٣", "polite", "Arabic-Indic digits")
web("web-100kb", "b" * 100_000, "4xx", "100 KB of text")
case("web-malformed-json", WEB, "POST", "4xx", "not JSON", "{conversation: x}", headers=JSON)
case("web-deep-nesting", WEB, "POST", "4xx", "5,000 levels of nesting",
     '{"conversation": "hostile-web-deep", "text": ' + DEEP + "}", headers=JSON)
web("web-id-injection", "xin chào", "4xx", "SQL in the message id", message_id="1; DROP TABLE inbound_messages")
web("web-text-number", 12345, "4xx", "text is a number")
web("web-only-surrogate", "\ud800", "4xx", "a lone surrogate only")
case("web-wrong-content-type", WEB, "POST", "4xx", "a form body", "conversation=a&text=b",
     headers={"Content-Type": "application/x-www-form-urlencoded"})

# ---- widget history --------------------------------------------------------------------------------
case("history-missing-param", "/api/web/history", "GET", "4xx", "no conversation parameter")
case("history-traversal", "/api/web/history?conversation=..%2F..%2Fetc%2Fpasswd", "GET", "4xx", "path traversal")
case("history-sql", "/api/web/history?conversation=%27%20OR%201%3D1%20--", "GET", "4xx", "SQL in the id")
case("history-huge-id", "/api/web/history?conversation=" + "a" * 5000, "GET", "4xx", "5,000-character id")
case("history-unknown", "/api/web/history?conversation=hostile-history-1", "GET", "ok", "a conversation never seen")
case("history-post", "/api/web/history?conversation=x", "POST", "4xx", "wrong method", "{}", headers=JSON)

# ---- widget WebSocket ------------------------------------------------------------------------------
WS = "/ws/chat?conversation="


def frame(text: Any, id: str) -> str:
    return js({"type": "message", "text": text, "id": id})


case("ws-bad-conversation", WS + "not/valid", "WS", "4xx", "invalid conversation id", frame("hi", "x1"))
case("ws-no-conversation", "/ws/chat", "WS", "4xx", "no conversation id", frame("hi", "x2"))
case("ws-traversal-conversation", WS + "..%2F..%2Fetc", "WS", "4xx", "traversal as conversation id", frame("hi", "x3"))
case("ws-not-json", WS + "hostile-ws-1", "WS", "4xx", "a frame that is not JSON", "hello there")
case("ws-empty-text", WS + "hostile-ws-2", "WS", "4xx", "whitespace text", frame("   ", "e1"))
case("ws-unknown-type", WS + "hostile-ws-3", "WS", "4xx", "unknown frame type", js({"type": "subscribe", "id": "u1"}))
case("ws-binary-invalid-utf8", WS + "hostile-ws-4", "WS", "4xx", "binary frame, not UTF-8", raw=b"\xff\xfe\x00\x01")
case("ws-deep-nesting", WS + "hostile-ws-5", "WS", "4xx", "5,000 levels of nesting", '{"type": "message", "text": ' + DEEP + "}")
case("ws-huge-frame", WS + "hostile-ws-6", "WS", "4xx", "100 KB frame", frame("c" * 100_000, "big1"))
case("ws-huge-cookie", WS + "hostile-ws-7", "WS", "4xx", "32 KB cookie on the handshake", frame("hi", "c1"),
     headers=BIG_COOKIE)
case("ws-html", WS + "hostile-ws-8", "WS", "polite", "script tag", frame("<script>alert(1)</script>", "h1"))
case("ws-emoji", WS + "hostile-ws-9", "WS", "polite", "emoji only", frame("🙏🙏🙏", "em1"))
case("ws-fullwidth-order", WS + "hostile-ws-10", "WS", "polite", "full-width order code", frame("ＤＨ１００２", "fw1"))
case("ws-control-chars", WS + "hostile-ws-11", "WS", "polite", "control characters", frame("chào\x00\x1b shop", "cc1"))
case("ws-binary-json", WS + "hostile-ws-12", "WS", "polite", "a valid frame sent as binary",
     raw=frame("phí ship bao nhiêu?", "bin1").encode("utf-8"))

# ---- Telegram webhook ------------------------------------------------------------------------------
TG = "/webhooks/telegram"
TG_OK = {**JSON, "X-Telegram-Bot-Api-Secret-Token": "{TELEGRAM_SECRET}"}
_update_ids = iter(range(910_000_001, 910_001_000))
_chats = iter(range(990_101, 990_999))


def tg_update(text: Any, chat: int = None) -> str:
    chat = chat or next(_chats)
    return js({"update_id": next(_update_ids), "message": {
        "message_id": 1, "date": 1700000000, "text": text,
        "chat": {"id": chat, "type": "private"}, "from": {"id": chat, "is_bot": False, "first_name": "Khách"}}})


case("tg-missing-secret", TG, "POST", "4xx", "no secret header", tg_update("xin chào"), headers=JSON)
case("tg-wrong-secret", TG, "POST", "4xx", "forged secret header", tg_update("xin chào"),
     headers={**JSON, "X-Telegram-Bot-Api-Secret-Token": "guessed-secret"})
case("tg-forged-huge", TG, "POST", "4xx", "forged secret, 100 KB body", tg_update("x" * 100_000),
     headers={**JSON, "X-Telegram-Bot-Api-Secret-Token": "nope"})
case("tg-invalid-json", TG, "POST", "4xx", "secret right, body not JSON", "{update_id: 1", headers=TG_OK)
case("tg-invalid-utf8", TG, "POST", "4xx", "invalid UTF-8", raw=b'{"update_id": 1, "message": "\xff"}', headers=TG_OK)
case("tg-update-id-string", TG, "POST", "4xx", "update_id is a string", js({"update_id": "910", "message": {}}),
     headers=TG_OK)
case("tg-chat-id-string", TG, "POST", "4xx", "chat.id is a string", js({"update_id": next(_update_ids), "message": {
    "message_id": 1, "date": 1, "text": "hi", "chat": {"id": "abc", "type": "private"}}}), headers=TG_OK)
case("tg-deep-nesting", TG, "POST", "4xx", "5,000 levels of nesting", '{"update_id": 5, "message": ' + DEEP + "}",
     headers=TG_OK)
case("tg-html", TG, "POST", "polite", "script tag in a text message", tg_update("<script>alert(1)</script> chào shop"),
     headers=TG_OK)
case("tg-zero-width-only", TG, "POST", "polite", "only zero-width characters", tg_update("\u200b\u200b"), headers=TG_OK)
case("tg-rtl-sql", TG, "POST", "polite", "RTL override and SQL", tg_update("\u202eDH1001' OR '1'='1"), headers=TG_OK)
case("tg-text-plain-content-type", TG, "POST", "polite", "valid update sent as text/plain", tg_update("phí ship?"),
     headers={"Content-Type": "text/plain", "X-Telegram-Bot-Api-Secret-Token": "{TELEGRAM_SECRET}"})

# ---- Zalo webhook ----------------------------------------------------------------------------------
ZALO = "/webhooks/zalo"
ZALO_OK = {**JSON, "X-ZEvent-Signature": "mac={ZALO_MAC}"}
_users = iter(range(77_000_000_000_000_001, 77_000_000_000_001_000))
_msgs = iter(range(1, 1000))


def zalo_event(text: Any = "xin chào", name: str = "user_send_text", **override: Any) -> str:
    user = str(next(_users))
    body = {"app_id": ZALO_APP_ID, "event_name": name, "sender": {"id": user}, "recipient": {"id": "579745863508352884"},
            "timestamp": "1700000000000", "message": {"msg_id": f"hostile-{next(_msgs)}", "text": text}}
    body.update(override)
    return js(body)


case("zalo-missing-signature", ZALO, "POST", "4xx", "no signature", zalo_event(), headers=JSON)
case("zalo-forged-signature", ZALO, "POST", "4xx", "all-zero MAC", zalo_event(),
     headers={**JSON, "X-ZEvent-Signature": "mac=" + "0" * 64})
case("zalo-wrong-scheme", ZALO, "POST", "4xx", "not mac=…", zalo_event(), headers={**JSON, "X-ZEvent-Signature": "sha1=abc"})
case("zalo-invalid-json", ZALO, "POST", "4xx", "signed header, body not JSON", "{not json", headers=ZALO_OK)
case("zalo-no-timestamp", ZALO, "POST", "4xx", "no timestamp to check the MAC with",
     js({"app_id": ZALO_APP_ID, "event_name": "user_send_text"}), headers=ZALO_OK)
case("zalo-deep-nesting", ZALO, "POST", "4xx", "5,000 levels of nesting", '{"timestamp": "1", "x": ' + DEEP + "}",
     headers=ZALO_OK)
case("zalo-sender-not-object", ZALO, "POST", "4xx", "sender is a string", zalo_event(sender="abc"), headers=ZALO_OK)
case("zalo-control-chars", ZALO, "POST", "polite", "control characters", zalo_event("chào\x00\x08 shop"), headers=ZALO_OK)
case("zalo-emoji", ZALO, "POST", "polite", "emoji only", zalo_event("🥲🥲"), headers=ZALO_OK)
case("zalo-zero-width-only", ZALO, "POST", "polite", "only invisible characters", zalo_event("\u200b\u2060"),
     headers=ZALO_OK)
case("zalo-fullwidth-order", ZALO, "POST", "polite", "full-width order code", zalo_event("ＤＨ１００１"), headers=ZALO_OK)

# ---- KB search -------------------------------------------------------------------------------------
KB = "/kb/search"
case("kb-empty", KB, "POST", "4xx", "empty text", js({"text": ""}), headers=JSON)
case("kb-whitespace", KB, "POST", "ok", "whitespace only", js({"text": "   \n\t"}), headers=JSON)
case("kb-control-only", KB, "POST", "ok", "control characters only", js({"text": "\x00\x01\x02"}), headers=JSON)
case("kb-100kb", KB, "POST", "4xx", "100 KB query", js({"text": "d" * 100_000}), headers=JSON)
case("kb-top-k-huge", KB, "POST", "4xx", "top_k 10^9", js({"text": "hotline", "top_k": 10**9}), headers=JSON)
case("kb-top-k-negative", KB, "POST", "4xx", "top_k -1", js({"text": "hotline", "top_k": -1}), headers=JSON)
case("kb-text-number", KB, "POST", "4xx", "text is a number", js({"text": 42}), headers=JSON)
case("kb-malformed", KB, "POST", "4xx", "truncated JSON", '{"text": "hot', headers=JSON)
case("kb-invalid-utf8", KB, "POST", "4xx", "invalid UTF-8", raw=b'{"text": "\xff\xff"}', headers=JSON)
case("kb-wrong-content-type", KB, "POST", "4xx", "text/plain", "hotline", headers={"Content-Type": "text/plain"})
case("kb-deep-nesting", KB, "POST", "4xx", "5,000 levels of nesting", '{"text": ' + DEEP + "}", headers=JSON)
case("kb-threshold-out-of-range", KB, "POST", "4xx", "threshold 5", js({"text": "ship", "threshold": 5}), headers=JSON)
case("kb-emoji", KB, "POST", "ok", "emoji only", js({"text": "🤔🤔"}), headers=JSON)
case("kb-sql", KB, "POST", "ok", "SQL", js({"text": "' OR 1=1; DROP TABLE kb; --"}), headers=JSON)
case("kb-rtl-zero-width", KB, "POST", "ok", "RTL and zero-width characters", js({"text": "\u202ephí\u200b ship"}),
     headers=JSON)

# ---- KB admin --------------------------------------------------------------------------------------
ADMIN = "/admin/kb/entries"
ADMIN_OK = {**JSON, "Authorization": "Bearer {ADMIN_TOKEN}"}
ENTRY = {"questions": {"vi": ["câu hỏi thử"]}, "answer": {"vi": "trả lời thử"}}
case("admin-no-token", ADMIN, "GET", "4xx", "no token")
case("admin-wrong-token", ADMIN, "GET", "4xx", "wrong token", headers={"Authorization": "Bearer change-me"})
case("admin-basic-auth", ADMIN, "GET", "4xx", "Basic instead of Bearer", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
case("admin-bad-id", ADMIN, "POST", "4xx", "path traversal as entry id", js({"id": "../../etc/passwd", **ENTRY}),
     headers=ADMIN_OK)
case("admin-malformed", ADMIN, "POST", "4xx", "truncated JSON", '{"id": "x", "questions": ', headers=ADMIN_OK)
case("admin-huge-answer", ADMIN, "POST", "4xx", "100 KB answer",
     js({"id": "hostile-huge", "questions": {"vi": ["câu hỏi"]}, "answer": {"vi": "x" * 100_000}}), headers=ADMIN_OK)
case("admin-get-traversal", ADMIN + "/..%2F..%2Fetc%2Fpasswd", "GET", "4xx", "encoded traversal in the id",
     headers=ADMIN_OK)
case("admin-put-bad-id", ADMIN + "/ABC%20DEF", "PUT", "4xx", "invalid id in the path", js(ENTRY), headers=ADMIN_OK)
case("admin-delete-missing", ADMIN + "/no-such-entry-hostile", "DELETE", "4xx", "delete an unknown entry",
     headers=ADMIN_OK)

# ---- console login and API -------------------------------------------------------------------------
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
case("login-empty", "/agent/login", "POST", "4xx", "empty form", "", headers=FORM)
case("login-json", "/agent/login", "POST", "4xx", "JSON instead of a form", js({"username": "lan", "password": "x"}),
     headers=JSON)
case("login-sql-long", "/agent/login", "POST", "4xx", "SQL-ish username over 64 characters",
     "username=" + "%27%20OR%201%3D1%20--%20" * 10 + "&password=x", headers=FORM)
case("login-password-huge", "/agent/login", "POST", "4xx", "10 KB password", "username=lan&password=" + "p" * 10_000,
     headers=FORM)
case("login-get-method", "/agent/login", "GET", "4xx", "wrong method")

AGENT = {"Cookie": "{AGENT_COOKIE}"}
AGENT_CSRF = {**JSON, "Cookie": "{AGENT_COOKIE}", "X-CSRF-Token": "{AGENT_CSRF}"}
case("agent-me-no-session", "/api/agent/me", "GET", "4xx", "no session")
case("agent-me-forged-cookie", "/api/agent/me", "GET", "4xx", "made-up session", headers={"Cookie": "cskh_session=forged"})
case("agent-queue-sql-cookie", "/api/agent/queue", "GET", "4xx", "SQL in the session cookie",
     headers={"Cookie": "cskh_session=%27%20OR%201%3D1%20--"})
case("agent-claim-no-csrf", "/api/agent/handoffs/1/claim", "POST", "4xx", "session without CSRF token", "",
     headers=AGENT)
case("agent-claim-bad-id", "/api/agent/handoffs/abc/claim", "POST", "4xx", "non-numeric hand-off id", "",
     headers=AGENT_CSRF)
case("agent-claim-huge-id", "/api/agent/handoffs/99999999999999999999999/claim", "POST", "4xx",
     "hand-off id over 64 bits", "", headers=AGENT_CSRF)
case("agent-claim-unknown", "/api/agent/handoffs/987654/claim", "POST", "4xx", "a hand-off that does not exist", "",
     headers=AGENT_CSRF)
case("agent-reply-empty", "/api/agent/handoffs/987654/reply", "POST", "4xx", "whitespace reply", js({"text": "   "}),
     headers=AGENT_CSRF)
case("agent-reply-malformed", "/api/agent/handoffs/987654/reply", "POST", "4xx", "truncated JSON", '{"text": ',
     headers=AGENT_CSRF)
case("agent-typing-bad", "/api/agent/handoffs/987654/typing", "POST", "4xx", "on is not a boolean",
     js({"on": "maybe"}), headers=AGENT_CSRF)
case("agent-conversation-no-session", "/api/agent/conversations/..%2F..%2Fetc%2Fpasswd", "GET", "4xx",
     "traversal without a session")
case("agent-static-traversal", "/agent/static/..%2F..%2Fcskh%2Fsettings.py", "GET", "4xx", "encoded traversal")
case("agent-static-dotdot", "/agent/static/%2e%2e", "GET", "4xx", "encoded ..")
case("agent-static-null", "/agent/static/agent.js%00.py", "GET", "4xx", "NUL byte in a file name")
case("agent-static-double-encoded", "/agent/static/%252e%252e%252fapi.py", "GET", "4xx", "double-encoded traversal")
case("agent-static-py", "/agent/static/..%5Capi.py", "GET", "4xx", "backslash traversal")

LEAD = {"Cookie": "{LEAD_COOKIE}"}
LEAD_CSRF = {**JSON, "Cookie": "{LEAD_COOKIE}", "X-CSRF-Token": "{LEAD_CSRF}"}
case("leads-no-session", "/api/admin/transcripts", "GET", "4xx", "no session")
case("leads-agent-session", "/api/admin/transcripts", "GET", "4xx", "an agent is not a lead", headers=AGENT)
case("leads-bad-since", "/api/admin/transcripts?since=%27%3B%20DROP%20TABLE%20events%3B--", "GET", "4xx",
     "SQL as a date", headers=LEAD)
case("leads-limit-negative", "/api/admin/transcripts?limit=-5", "GET", "4xx", "negative limit", headers=LEAD)
case("leads-review-bad-since", "/api/admin/review?since=2024-13-45", "GET", "4xx", "impossible date", headers=LEAD)
case("leads-label-no-csrf", "/api/admin/review/1/label", "POST", "4xx", "no CSRF token", js({"label": "faq"}),
     headers={**JSON, **LEAD})
case("leads-label-bad-id", "/api/admin/review/abc/label", "POST", "4xx", "non-numeric turn id", js({"label": "faq"}),
     headers=LEAD_CSRF)
case("leads-label-huge-id", "/api/admin/review/99999999999999999999999/label", "POST", "4xx",
     "turn id over 64 bits", js({"label": "faq"}), headers=LEAD_CSRF)
case("leads-proposal-huge-id", "/api/admin/kb/proposals/99999999999999999999999/dismiss", "POST", "4xx",
     "hand-off id over 64 bits", "{}", headers=LEAD_CSRF)
case("leads-rollback-no-csrf", "/api/admin/models/rollback", "POST", "4xx", "no CSRF token", "{}", headers={**JSON, **LEAD})
case("leads-static-traversal", "/admin/static/..%2F..%2Fleads%2Fapi.py", "GET", "4xx", "encoded traversal")
case("leads-static-null", "/admin/static/x%00.js", "GET", "4xx", "NUL byte in a file name")

# ---- internal hand-off endpoint ----------------------------------------------------------------------
INTERNAL = "/internal/handoffs"
INTERNAL_OK = {**JSON, "Authorization": "Bearer {ADMIN_TOKEN}"}
case("internal-no-token", INTERNAL, "POST", "4xx", "no token", js({"conversation_id": "x", "reason": "complain"}),
     headers=JSON)
case("internal-wrong-token", INTERNAL, "POST", "4xx", "wrong token", js({"conversation_id": "x", "reason": "complain"}),
     headers={**JSON, "Authorization": "Bearer test"})
case("internal-bad-reason", INTERNAL, "POST", "4xx", "unknown reason",
     js({"conversation_id": "hostile-internal", "reason": "<script>"}), headers=INTERNAL_OK)
case("internal-malformed", INTERNAL, "POST", "4xx", "truncated JSON", '{"conversation_id": ', headers=INTERNAL_OK)
case("internal-conversation-too-long", INTERNAL, "POST", "4xx", "300-character conversation id",
     js({"conversation_id": "c" * 300, "reason": "complain"}), headers=INTERNAL_OK)

# ---- metrics and static routes -----------------------------------------------------------------------
case("metrics-post", "/metrics", "POST", "4xx", "wrong method", "{}", headers=JSON)
case("metrics-huge-cookie", "/metrics", "GET", "4xx", "32 KB cookie", headers=BIG_COOKIE)
case("root-traversal", "/..%2F..%2Fetc%2Fpasswd", "GET", "4xx", "encoded traversal at the root")
case("widget-traversal", "/widget.js/..%2F..%2Fcskh%2Fsettings.py", "GET", "4xx", "traversal after the widget")
case("unknown-route-huge-path", "/" + "a" * 8000, "GET", "4xx", "8 KB path")


def main() -> None:
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)), "duplicate ids"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as out:
        for entry in cases:
            # ensure_ascii: control characters and lone surrogates survive as \\u escapes
            out.write(json.dumps(entry, ensure_ascii=True) + "\n")
    print(f"{len(cases)} cases → {OUT}")


if __name__ == "__main__":
    main()
