"""Acknowledged-but-unanswered webhook messages are answered on a retry, or handed to a person;
a resend of a failed message id is processed again instead of being skipped as a duplicate."""
import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, select

from connectors.messages import InboundMessage, OutboundMessage
from cskh.conversation import ConversationService, Duplicate, inbound_messages
from cskh.recovery import SORRY, Recovery


class Handoffs:
    def __init__(self):
        self.started = []

    def start(self, conversation, reason, detail=None):
        self.started.append((conversation, reason))
        return {}


class Assistant:
    def __init__(self):
        self.appended = []

    async def append(self, conversation, events):
        self.appended.append((conversation, [type(e).__name__ for e in events]))


class Service(ConversationService):
    """The real recording and marking; the answer is scripted (ok or failing)."""

    def __init__(self, engine, fail=False):
        super().__init__(Assistant(), engine, stale_after=60)
        self.handoffs, self.fail, self.answered = Handoffs(), fail, []

    async def _answer(self, conversation, message):
        if self.fail:
            raise RuntimeError("engine down")
        self.answered.append(message.text)
        return [OutboundMessage(conversation, f"Dạ, trả lời: {message.text}")]


@pytest.fixture
def engine(tmp_path):
    return create_engine(f"sqlite:///{tmp_path / 'app.db'}", future=True)


def status(engine, row_id):
    with engine.connect() as conn:
        return conn.execute(select(inbound_messages.c.status).where(inbound_messages.c.id == row_id)).scalar_one()


def age(engine, row_id, seconds):
    with engine.begin() as conn:
        conn.execute(inbound_messages.update().where(inbound_messages.c.id == row_id)
                     .values(received_at=datetime.now(timezone.utc) - timedelta(seconds=seconds)))


def sweep(service, sent):
    async def send(conversation, message):
        sent.append((conversation, message.text))
    return asyncio.run(Recovery(service, {"telegram": send}, stale_after=60, retry_after=0).sweep())


def test_a_failed_webhook_message_is_answered_on_the_retry(engine):
    service = Service(engine)
    row = service.record(InboundMessage("telegram", "42", "phí ship bao nhiêu", "u-1"))
    service._mark(row, "failed")
    sent = []
    assert sweep(service, sent) == 1
    assert sent == [("telegram:42", "Dạ, trả lời: phí ship bao nhiêu")] and status(engine, row) == "answered"
    assert sweep(service, sent) == 0  # answered: never again


def test_a_message_whose_replica_died_is_answered_once_it_is_stale(engine):
    service = Service(engine)
    row = service.record(InboundMessage("telegram", "42", "còn hàng không", "u-2"))
    sent = []
    assert sweep(service, sent) == 0  # just received: maybe another replica is answering it
    age(engine, row, 120)
    assert sweep(service, sent) == 1 and status(engine, row) == "answered"


def test_failing_again_hands_over_to_a_person_and_says_so(engine):
    service = Service(engine, fail=True)
    row = service.record(InboundMessage("telegram", "42", "đơn của mình đâu", "u-3"))
    service._mark(row, "failed")
    sent = []
    assert sweep(service, sent) == 1
    assert status(engine, row) == "abandoned" and sent == [("telegram:42", SORRY)]
    assert service.handoffs.started == [("telegram:42", "system_error")]
    assert service.assistant.appended == [("telegram:42", ["ConversationPaused"])]
    assert sweep(service, sent) == 0  # abandoned rows stay with the person


def test_rest_and_widget_messages_are_left_to_their_client(engine):
    service = Service(engine)
    row = service.record(InboundMessage("web", "abc", "xin chào", "m-1"))
    service._mark(row, "failed")
    assert sweep(service, []) == 0 and status(engine, row) == "failed"


def test_two_replicas_sweeping_together_answer_each_message_once(engine):
    service = Service(engine)
    rows = [service.record(InboundMessage("telegram", str(i), f"tin {i}", f"u-{i}")) for i in range(10, 16)]
    for row in rows:
        service._mark(row, "failed")
    sent = []

    async def send(conversation, message):
        sent.append(conversation)

    async def both():
        a, b = (Recovery(service, {"telegram": send}, retry_after=0), Recovery(service, {"telegram": send},
                                                                                  retry_after=0))
        return await asyncio.gather(a.sweep(), b.sweep())

    assert sum(asyncio.run(both())) == 6 and sorted(sent) == sorted(f"telegram:{i}" for i in range(10, 16))


def test_a_resend_of_a_failed_message_id_is_processed_again(engine):
    service = Service(engine)
    message = InboundMessage("web", "abc", "xin chào", "m-2")
    row = service.record(message)
    with pytest.raises(Duplicate):  # still being answered
        service.record(message)
    service._mark(row, "failed")
    assert service.record(message) == row and status(engine, row) == "received"
    service._mark(row, "answered")
    with pytest.raises(Duplicate):
        service.record(message)


def test_a_failed_message_waits_before_its_retry(engine):
    service = Service(engine)
    row = service.record(InboundMessage("telegram", "42", "phí ship bao nhiêu", "u-9"))
    service._mark(row, "failed")

    async def send(conversation, message):
        pass

    assert asyncio.run(Recovery(service, {"telegram": send}, retry_after=30).sweep()) == 0  # too fresh
    age(engine, row, 60)
    assert asyncio.run(Recovery(service, {"telegram": send}, retry_after=30).sweep()) == 1
