"""The cached action-response validation accepts and rejects exactly what Rasa's own does."""
import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from cskh import rasa_tuning

GOOD = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "order_code", "value": "DH1002", "timestamp": None}],
     "responses": [{"text": "Dạ, đơn DH1002 đã xác nhận ạ."}]},
    {"events": [{"event": "followup", "name": "utter_greet"}]},
    {},
]
GOOD += [
    {"events": [{"event": "active_loop", "name": "order_lookup_form"},
                {"event": "slot", "name": "requested_slot", "value": "phone"},
                {"event": "bot", "text": "Dạ, anh/chị cho em xin số điện thoại đặt hàng ạ.", "metadata": {}},
                {"event": "action", "name": "action_listen", "policy": None, "confidence": 1.0}],
     "responses": [{"text": "Dạ, anh/chị cho em xin số điện thoại đặt hàng ạ.", "buttons": []}]},
    {"events": [{"event": "user", "text": "xin chào", "parse_data": {"intent": {"name": "greet", "confidence": 0.9},
                                                                   "entities": []}},
                {"event": "restart"}, {"event": "session_started", "timestamp": 1.5}]},
]
BAD = [
    {"events": "not a list"},
    {"events": [{"event": "slot"}]},  # a slot event needs a name
    {"responses": ["a string, not an object"]},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"name": "x"}]},  # no event type at all
    {"events": [{"event": 7}]},
    {"events": ["slot"]},
    {"events": [{"event": "slot", "name": "ok", "value": 1}, {"event": "slot", "value": 2}]},  # the second has no name
    {"events": [{"event": "slot", "name": 5}]},
    {"events": [{"event": "user", "parse_data": "not an object"}]},
    {"events": [{"event": "bot", "timestamp": "yesterday"}]},
    {"events": [{"event": "user", "parse_data": {"entities": [{"entity": "order_code"}]}}]},  # no value
    ["not", "an", "object"],
    "text",
]


def action() -> RemoteAction:
    rasa_tuning.install()
    return RemoteAction("action_check_order", EndpointConfig(url="http://127.0.0.1:1/webhook"))


@pytest.mark.parametrize("result", GOOD)
def test_valid_responses_pass_like_jsonschema_validate(result):
    validate(result, RemoteAction.action_response_format_spec())  # Rasa's own check agrees
    assert action()._validate_action_result(result) is True


@pytest.mark.parametrize("result", BAD)
def test_invalid_responses_raise_like_jsonschema_validate(result):
    with pytest.raises(ValidationError):
        validate(result, RemoteAction.action_response_format_spec())
    with pytest.raises(ValidationError) as raised:
        action()._validate_action_result(result)
    assert "Failed to validate Action server response" in raised.value.message


@pytest.mark.parametrize("result", GOOD)
def test_valid_responses_are_recognised_without_trying_every_event_type(result):
    validator = rasa_tuning.ResponseValidator(RemoteAction.action_response_format_spec())
    assert validator.by_event and len(validator.by_event) >= 20
    assert validator.recognised_valid(result) is True


@pytest.mark.parametrize("result", BAD)
def test_invalid_responses_are_never_recognised_and_get_jsonschemas_error(result):
    schema = RemoteAction.action_response_format_spec()
    validator = rasa_tuning.ResponseValidator(schema)
    assert validator.recognised_valid(result) is False
    with pytest.raises(ValidationError) as expected:
        validate(result, schema)
    assert validator.error(result).message == expected.value.message


def test_a_schema_not_split_by_event_type_is_validated_whole():
    schema = {"type": "object", "properties": {"events": {"type": "array", "items": {"type": "object"}}}}
    validator = rasa_tuning.ResponseValidator(schema)
    assert validator.outer is None and validator.error({"events": [{}]}) is None
    assert validator.error({"events": "x"}) is not None


def test_install_is_idempotent():
    rasa_tuning.install()
    first = RemoteAction._validate_action_result
    rasa_tuning.install()
    assert RemoteAction._validate_action_result is first


# ---- retrying an unreachable action server -------------------------------------------------

import asyncio  # noqa: E402
import socket  # noqa: E402

from aiohttp import web  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402
from rasa.shared.exceptions import RasaException  # noqa: E402
from rasa.core.channels.channel import CollectingOutputChannel  # noqa: E402
from rasa.core.nlg import TemplatedNaturalLanguageGenerator  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _run(port: int):
    domain = Domain.empty()
    tracker = DialogueStateTracker("retry-test", [])
    remote = RemoteAction("action_check_order", EndpointConfig(url=f"http://127.0.0.1:{port}/webhook"))
    return await remote.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker, domain)


def test_an_action_server_that_comes_back_is_retried(monkeypatch):
    rasa_tuning.install()
    monkeypatch.setattr(rasa_tuning, "RETRY_DELAYS", (0.3, 0.3, 0.3))
    port = free_port()

    async def scenario():
        failed = rasa_tuning.watch_actions()

        async def later():  # the action server is back after the first refused attempt
            await asyncio.sleep(0.15)
            app = web.Application()
            app.router.add_post("/webhook", lambda request: web.json_response(
                {"events": [], "responses": [{"text": "Dạ, em đây ạ."}]}))
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            return runner

        starting = asyncio.ensure_future(later())
        events = await _run(port)
        await (await starting).cleanup()
        return events, failed

    events, failed = asyncio.run(scenario())
    assert [e.text for e in events] == ["Dạ, em đây ạ."] and failed == []


def test_an_action_server_that_stays_down_is_noted(monkeypatch):
    rasa_tuning.install()
    monkeypatch.setattr(rasa_tuning, "RETRY_DELAYS", (0.01, 0.01))

    async def scenario():
        failed = rasa_tuning.watch_actions()
        with pytest.raises(RasaException):
            await _run(free_port())
        return failed

    assert asyncio.run(scenario()) == ["action_check_order"]
