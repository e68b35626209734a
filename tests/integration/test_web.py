"""The web widget channel through the real service: WebSocket frames, REST fallback, history."""
import asyncio
import json
import uuid
from typing import Any, Dict, List

import httpx
import pytest
import websockets

pytestmark = pytest.mark.integration


def conversation_id() -> str:
    return str(uuid.uuid4())


def ws_url(server: str, conversation: str) -> str:
    return server.replace("http://", "ws://") + f"/ws/chat?conversation={conversation}"


async def frames_until_ack(socket, message_id: str) -> List[Dict[str, Any]]:
    frames = []
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), 60))
        frames.append(frame)
        if frame["type"] == "ack" and frame["id"] == message_id:
            return frames


def test_widget_assets_are_served(server):
    page = httpx.get(f"{server}/")
    assert page.status_code == 200 and '<script src="/widget.js" defer></script>' in page.text
    script = httpx.get(f"{server}/widget.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("application/javascript")
    assert script.text.count("innerHTML") == 1  # once, for the fixed icons; message text uses textContent


async def test_websocket_answers_a_resent_message_once(server):
    conversation, message_id = conversation_id(), str(uuid.uuid4())
    frame = json.dumps({"type": "message", "text": "xin chào", "id": message_id})
    async with websockets.connect(ws_url(server, conversation)) as socket:
        await socket.send(frame)
        first = await frames_until_ack(socket, message_id)
    async with websockets.connect(ws_url(server, conversation)) as socket:  # reconnect, resend
        await socket.send(frame)
        second = await frames_until_ack(socket, message_id)
    assert [f["type"] for f in first] == ["typing", "typing", "message", "ack"]
    assert first[2]["buttons"] and "Sao Mai" in first[2]["text"]
    assert [f["type"] for f in second] == ["typing", "typing", "ack"] and second[-1]["duplicate"] is True


async def test_websocket_bad_frames_get_an_error_and_the_socket_stays_open(server):
    async with websockets.connect(ws_url(server, conversation_id())) as socket:
        for bad in ("hello", json.dumps({"type": "message", "text": "   "}), json.dumps({"type": "x"})):
            await socket.send(bad)
            reply = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert reply["type"] == "error" and reply["reason"]
        await socket.send(json.dumps({"type": "message", "text": "xin chào", "id": "ok-1"}))
        assert any(f["type"] == "message" for f in await frames_until_ack(socket, "ok-1"))


async def test_websocket_refuses_an_invalid_conversation_id(server):
    with pytest.raises(websockets.exceptions.InvalidStatusCode):
        async with websockets.connect(ws_url(server, "not/valid")):
            pass


async def test_other_tabs_of_the_conversation_see_the_exchange(server):
    conversation = conversation_id()
    async with websockets.connect(ws_url(server, conversation)) as tab1, \
            websockets.connect(ws_url(server, conversation)) as tab2:
        await tab1.send(json.dumps({"type": "message", "text": "xin chào", "id": "t-1"}))
        await frames_until_ack(tab1, "t-1")
        seen = [json.loads(await asyncio.wait_for(tab2.recv(), 10)) for _ in range(4)]
    assert seen[0] == {"type": "message", "from": "user", "text": "xin chào", "id": "t-1"}
    assert [f["type"] for f in seen[1:]] == ["typing", "typing", "message"]


def test_rest_fallback_answers_and_history_lists_the_turns(server):
    conversation = conversation_id()
    post = lambda text, mid: httpx.post(f"{server}/api/web/messages", timeout=60,  # noqa: E731
                                        json={"conversation": conversation, "text": text, "id": mid})
    greeting = post("xin chào", "r-1")
    assert greeting.status_code == 200
    buttons = greeting.json()["messages"][0]["buttons"]
    assert post("xin chào", "r-1").json() == {"messages": [], "duplicate": True}
    assert post(buttons[0]["payload"], "r-2").status_code == 200
    history = httpx.get(f"{server}/api/web/history", params={"conversation": conversation}).json()["messages"]
    assert [(t["from"], t["text"]) for t in history][::2] == [("user", "xin chào"), ("user", buttons[0]["title"])]
    assert [t["from"] for t in history] == ["user", "bot", "user", "bot"]


@pytest.mark.parametrize("body", [
    {"conversation": "a b", "text": "hi"},
    {"conversation": "x" * 65, "text": "hi"},
    {"conversation": "abc", "text": "   "},
    {"conversation": "abc", "text": "hi", "id": "<script>"},
])
def test_rest_fallback_refuses_invalid_input_with_422(server, body):
    response = httpx.post(f"{server}/api/web/messages", json=body)
    assert response.status_code == 422 and response.json()["error"]


def test_history_refuses_an_invalid_conversation_id(server):
    assert httpx.get(f"{server}/api/web/history", params={"conversation": "a;b"}).status_code == 422
    assert httpx.get(f"{server}/api/web/history", params={"conversation": conversation_id()}).json()["messages"] == []
