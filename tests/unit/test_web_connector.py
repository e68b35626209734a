"""The web widget connector without a server: fake sockets and a fake conversation service."""
from typing import Any, Dict, List

import pytest

from connectors.messages import Button, OutboundMessage
from connectors.web import BadFrame, WebConnector, parse_frame, transcript
from cskh.conversation import Duplicate


class FakeSocket:
    def __init__(self, fail: bool = False) -> None:
        self.sent: List[Dict[str, Any]] = []
        self.fail = fail

    async def send_json(self, frame: Dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("socket closed")
        self.sent.append(frame)


class FakeConversations:
    def __init__(self) -> None:
        self.seen: set = set()
        self.received: List[Any] = []

    async def handle(self, message):
        if message.message_id in self.seen:
            raise Duplicate(message.message_id)
        self.seen.add(message.message_id)
        self.received.append(message)
        return [OutboundMessage(message.conversation_id, f"echo {message.text}")]


async def test_notify_reaches_every_open_tab_of_the_conversation():
    connector = WebConnector(FakeConversations())
    tab1, tab2, other = FakeSocket(), FakeSocket(), FakeSocket()
    connector.attach("abc", tab1)
    connector.attach("abc", tab2)
    connector.attach("xyz", other)
    delivered = await connector.notify("web:abc", "Nhân viên Lan đã tham gia cuộc trò chuyện")
    assert delivered == 2
    assert tab1.sent == tab2.sent == [{"type": "notice", "text": "Nhân viên Lan đã tham gia cuộc trò chuyện"}]
    assert other.sent == []


async def test_notify_accepts_the_bare_widget_id_and_skips_closed_sockets():
    connector = WebConnector(FakeConversations())
    alive, closed = FakeSocket(), FakeSocket(fail=True)
    connector.attach("abc", alive)
    connector.attach("abc", closed)
    assert await connector.notify("abc", "Nhân viên đã rời cuộc trò chuyện") == 1
    assert alive.sent == [{"type": "notice", "text": "Nhân viên đã rời cuộc trò chuyện"}]


async def test_notices_without_an_open_widget_are_kept_for_its_next_connection():
    connector = WebConnector(FakeConversations())
    socket = FakeSocket()
    connector.attach("abc", socket)
    connector.detach("abc", socket)
    assert not connector.online("web:abc")
    assert await connector.notify("web:abc", "Nhân viên Lan đã tham gia") == 0
    await connector.send("web:abc", OutboundMessage("web:abc", "Dạ em là Lan", custom={"agent": "Lan"}))
    await connector.send("web:abc", OutboundMessage("web:abc", "answered in a REST body"), keep=False)
    assert await connector.pending("abc") == [
        {"type": "notice", "text": "Nhân viên Lan đã tham gia"},
        {"type": "message", "text": "Dạ em là Lan", "buttons": [], "custom": {"agent": "Lan"}},
    ]
    assert await connector.pending("abc") == []  # taken once


async def test_send_pushes_an_agent_message_with_buttons():
    connector = WebConnector(FakeConversations())
    socket = FakeSocket()
    connector.attach("abc", socket)
    await connector.send("web:abc", OutboundMessage("web:abc", "Chào anh", (Button("Có", "/affirm"),)))
    assert socket.sent == [{"type": "message", "text": "Chào anh", "buttons": [{"title": "Có", "payload": "/affirm"}]}]


async def test_answer_uses_the_web_channel_and_the_client_message_id():
    conversations = FakeConversations()
    connector = WebConnector(conversations)
    replies = await connector.answer("abc", "xin chào", "m-1")
    assert [r.text for r in replies] == ["echo xin chào"]
    message = conversations.received[0]
    assert (message.channel, message.conversation_id, message.message_id) == ("web", "web:abc", "m-1")
    with pytest.raises(Duplicate):
        await connector.answer("abc", "xin chào", "m-1")


@pytest.mark.parametrize("raw, reason", [
    ("not json", "frame must be JSON"),
    ("[1, 2]", "frame must be a JSON object"),
    ('{"type": "subscribe"}', "unknown frame type"),
])
def test_bad_frames_are_refused_with_a_reason(raw, reason):
    with pytest.raises(BadFrame, match=reason):
        parse_frame(raw)


def test_transcript_keeps_user_and_bot_turns_in_order_and_shows_button_titles():
    buttons = [{"title": "Tra cứu đơn hàng", "payload": "/order_status"}]
    events = [
        {"event": "action", "name": "action_session_start"},
        {"event": "user", "text": "xin chào"},
        {"event": "bot", "text": "Dạ, em chào anh/chị!", "data": {"buttons": buttons}},
        {"event": "user", "text": "/order_status"},
        {"event": "slot", "name": "x", "value": 1},
        {"event": "bot", "text": "Mã đơn hàng ạ?", "data": {}},
        {"event": "user", "text": "/order_status"},  # typed, not clicked: no buttons were on screen
    ]
    assert transcript(events) == [
        {"from": "user", "text": "xin chào"},
        {"from": "bot", "text": "Dạ, em chào anh/chị!", "buttons": buttons},
        {"from": "user", "text": "Tra cứu đơn hàng"},
        {"from": "bot", "text": "Mã đơn hàng ạ?", "buttons": []},
        {"from": "user", "text": "/order_status"},
    ]
