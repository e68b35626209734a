"""Log configuration: one JSON object per line in production, readable text in development.

`CSKH_LOG_FORMAT=json|text` chooses (default: json when CSKH_ENV=production, text otherwise).
A JSON line carries time (UTC, ISO 8601), level, logger and message, plus the conversation_id
and channel of the message being handled: the conversation service sets them in a ContextVar
(`conversation_context`) for the whole of one message, so every line logged inside — Rasa's,
the connectors', the hand-off's — carries them without being passed along. Fields given with
`extra={...}` are added too; a traceback goes in "exception".

(This module is cskh.logging; `import logging` elsewhere still means the standard library.)
"""
from __future__ import annotations

import json
import logging
import os
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import IO, Any, Dict, Iterator, Optional

_CONTEXT: ContextVar[Dict[str, str]] = ContextVar("cskh_log_context", default={})
CONTEXT_FIELDS = ("conversation_id", "channel")

# LogRecord attributes that are not `extra` fields.
_STANDARD = set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message", "asctime", "taskName", *CONTEXT_FIELDS}


@contextmanager
def conversation_context(conversation_id: Optional[str], channel: Optional[str] = None) -> Iterator[None]:
    """Every log line inside (same task, tasks it creates, copied contexts) carries these."""
    values = {k: v for k, v in (("conversation_id", conversation_id), ("channel", channel)) if v}
    token = _CONTEXT.set({**_CONTEXT.get(), **values})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_context() -> Dict[str, str]:
    return dict(_CONTEXT.get())


class ContextFilter(logging.Filter):
    """Copies the conversation context onto each record (unless the call gave its own via extra)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _CONTEXT.get().items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: Dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value:
                out[key] = str(value)
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, _, status = record.args
            out.update(client=str(client), method=str(method), path=str(path), status=status)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in out:
                out[key] = _jsonable(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The development format, with [conversation channel] when a message is being handled."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        conversation = getattr(record, "conversation_id", None)
        if conversation:
            channel = getattr(record, "channel", None)
            first, newline, rest = line.partition("\n")
            line = f"{first} [{conversation}{' ' + channel if channel else ''}]{newline}{rest}"
        return line


def configure(log_format: str = "text", level: str = "INFO", stream: Optional[IO[str]] = None) -> logging.Handler:
    """Replace the root logger's handlers with one writing `log_format` lines to `stream`
    (stderr by default); returns the handler."""
    if log_format not in ("text", "json"):
        raise ValueError("log format must be text or json")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    _route_structlog()
    logging.captureWarnings(log_format == "json")  # warnings.warn() as log lines, not bare stderr text
    if log_format == "json":
        # Libraries that installed their own handlers would print a second, non-JSON line.
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "rasa", "rasa_sdk", "sanic.root",
                     "sanic.error", "sanic.access", "sentence_transformers"):
            logger = logging.getLogger(name)
            for old in list(logger.handlers):
                logger.removeHandler(old)
            logger.propagate = True
        # Progress bars (model loading) are terminal drawings, not log lines.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TQDM_DISABLE", "1")
        try:  # transformers keeps its own stderr handler unless told otherwise
            from transformers.utils import logging as hf_logging
        except ImportError:
            pass
        else:
            hf_logging.disable_default_handler()
            hf_logging.enable_propagation()
            hf_logging.disable_progress_bar()
    return handler


def _route_structlog() -> None:
    """Rasa 3.6 logs through structlog, which by default prints every debug line to stdout in its
    own format; send it through the standard loggers instead (level and format as configured)."""
    try:
        import structlog
    except ImportError:  # pragma: no cover - Rasa depends on it
        return
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level,
                    structlog.processors.KeyValueRenderer(key_order=["event"], drop_missing=True)],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True)
