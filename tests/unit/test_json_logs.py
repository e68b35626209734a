"""JSON log lines: one object per line, carrying the conversation being handled."""
import asyncio
import io
import json
import logging

import pytest

from cskh.logging import ContextFilter, JsonFormatter, TextFormatter, conversation_context, current_context


@pytest.fixture
def capture():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("cskh.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_inside_a_conversation_carries_its_id_and_channel(capture):
    logger, stream = capture
    with conversation_context("web:abc-123", "web"):
        logger.info("answered %s in %d ms", "xin chào", 42)
    logger.warning("outside")
    inside, outside = lines(stream)
    assert inside["message"] == "answered xin chào in 42 ms"
    assert inside["conversation_id"] == "web:abc-123" and inside["channel"] == "web"
    assert inside["level"] == "INFO" and inside["logger"] == "cskh.test.json"
    assert inside["time"].endswith("Z") and "T" in inside["time"]
    assert "conversation_id" not in outside and outside["level"] == "WARNING"
    assert current_context() == {}


def test_the_context_follows_tasks_and_nested_contexts(capture):
    logger, stream = capture

    async def handle(conversation):
        with conversation_context(conversation, "rest"):
            await asyncio.sleep(0)
            await asyncio.get_running_loop().create_task(asyncio.sleep(0))
            logger.info("done")

    async def main():
        await asyncio.gather(handle("c1"), handle("c2"))

    asyncio.run(main())
    assert sorted(line["conversation_id"] for line in lines(stream)) == ["c1", "c2"]


def test_extras_unicode_and_exceptions_stay_one_valid_line(capture):
    logger, stream = capture
    try:
        raise ValueError("hỏng\nrồi")
    except ValueError:
        logger.exception("lỗi \"lạ\"\n", extra={"order": "DH1001", "obj": object()})
    raw = stream.getvalue()
    assert raw.count("\n") == 1  # newlines inside are escaped
    line = json.loads(raw)
    assert line["message"] == "lỗi \"lạ\"\n" and line["order"] == "DH1001"
    assert "ValueError: hỏng" in line["exception"] and isinstance(line["obj"], str)


def test_the_text_format_shows_the_conversation_too():
    record = logging.LogRecord("cskh", logging.INFO, __file__, 1, "hi", None, None)
    with conversation_context("zalo:42", "zalo"):
        ContextFilter().filter(record)
    assert TextFormatter().format(record).endswith("hi [zalo:42 zalo]")


def test_configure_installs_one_json_handler_on_the_root_logger():
    from cskh.logging import configure

    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    stream = io.StringIO()
    try:
        configure("json", "INFO", stream)
        assert len(root.handlers) == 1
        with conversation_context("c9", "web"):
            logging.getLogger("somewhere.else").info("x")
            import structlog  # Rasa's structured logs end up as JSON lines too, debug ones filtered out

            structlog.get_logger("rasa.core.processor").debug("processor.noise", x=1)
            structlog.get_logger("rasa.core.processor").warning("processor.slow", seconds=3)
        first, second = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert first["conversation_id"] == "c9"
        assert second["logger"] == "rasa.core.processor" and second["level"] == "WARNING"
        assert second["message"] == "event='processor.slow' seconds=3" and second["conversation_id"] == "c9"
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)
