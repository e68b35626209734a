"""Transcript export from a real Rasa SQLTrackerStore database and a real hand-off queue:
fields, filters, redaction by default, personal data only on request."""
import asyncio
import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List

import pytest

from leads.redact import redact
from leads.transcripts import export_string, parse_since, read_turns

# 2 May 2024, Vietnam time; conversation C happened in January
T0 = datetime(2024, 5, 2, 3, 0, tzinfo=timezone.utc).timestamp()
OLD = datetime(2024, 1, 10, 3, 0, tzinfo=timezone.utc).timestamp()
PHONE_TEXT = "sđt mình là 0912 345 678, giao về 12 Lê Lợi, Quận 1 nhé"


@dataclass
class World:
    tracker_url: str
    app_url: str
    ids: Dict[str, int]  # name → event id of interesting turns
    work: Path


def _user(text, intent, confidence, ts, channel=None, entities=(), sentiment=None, **metadata):
    from rasa.shared.core.events import UserUttered

    meta = dict(metadata)
    if channel:
        meta["channel"] = channel
    if sentiment:
        meta["sentiment"] = sentiment
    return UserUttered(text, intent={"name": intent, "confidence": confidence} if intent else {},
                       entities=list(entities), metadata=meta, timestamp=ts)


def _conversations() -> Dict[str, List]:
    from rasa.shared.core.events import (ActionExecuted, BotUttered, ConversationPaused, ConversationResumed,
                                         SlotSet, UserUttered)

    neutral = {"label": "neutral", "negative": 0.1, "score": 0.8}
    angry = {"label": "negative", "negative": 0.93, "score": 0.93}
    return {
        "web:alice": [
            ActionExecuted("action_session_start", timestamp=T0),
            ActionExecuted("action_listen", timestamp=T0),
            _user("chào shop", "greet", 0.98, T0 + 1, "web", sentiment=neutral),
            ActionExecuted("utter_greet", timestamp=T0 + 2),
            BotUttered("Chào bạn, mình giúp gì được ạ?", timestamp=T0 + 2),
            ActionExecuted("action_listen", timestamp=T0 + 2),
            _user("phí ship về Cần Thơ bao nhiêu", "faq", 0.55, T0 + 10, "web", sentiment=neutral),
            ActionExecuted("action_kb_first", timestamp=T0 + 11),
            BotUttered("Phí giao hàng tiêu chuẩn là 30.000₫.", timestamp=T0 + 11),
            SlotSet("kb_entry", "shipping-fee", timestamp=T0 + 11),
            SlotSet("kb_score", 0.81, timestamp=T0 + 11),
            ActionExecuted("action_listen", timestamp=T0 + 11),
            _user(PHONE_TEXT, "inform", 0.91, T0 + 20, "web", sentiment=neutral,
                  entities=[{"entity": "phone", "value": "0912345678"},
                            {"entity": "address", "value": "12 Lê Lợi, Quận 1 nhé"},
                            {"entity": "language", "value": "vi"}]),
            ActionExecuted("action_change_order", timestamp=T0 + 21),
            BotUttered("Dạ, số 0912345678 đã được ghi nhận.", timestamp=T0 + 21),
            ActionExecuted("action_listen", timestamp=T0 + 21),
        ],
        "rest-bob": [
            _user("đơn DH1001 của mình đâu rồi", "order_status", 0.95, T0 + 100, "rest",
                  entities=[{"entity": "order_id", "value": "DH1001"}]),
            ActionExecuted("action_order_status", timestamp=T0 + 101),
            BotUttered("Đơn DH1001 đang được giao.", timestamp=T0 + 101),
            ActionExecuted("action_listen", timestamp=T0 + 101),
            _user("sao lâu vậy, cho gặp nhân viên", "request_human", 0.42, T0 + 110, "rest", sentiment=angry),
            ActionExecuted("action_handoff", timestamp=T0 + 111),
            BotUttered("Mình chuyển bạn tới nhân viên nhé.", timestamp=T0 + 111),
            ConversationPaused(timestamp=T0 + 111),
            ActionExecuted("action_listen", timestamp=T0 + 111),
            _user("alo shop ơi", "greet", 0.3, T0 + 120, "rest"),
            BotUttered("Dạ em là Lan, đơn của anh giao ngày mai ạ", metadata={"agent": "lan", "agent_name": "Lan"},
                       timestamp=T0 + 130),
            ConversationResumed(timestamp=T0 + 140),
            UserUttered("1", metadata={"csat": True}, timestamp=T0 + 150),
            BotUttered("Cảm ơn bạn đã đánh giá.", timestamp=T0 + 150),
            UserUttered.create_external("request_human"),  # never a customer turn
        ],
        "telegram:777": [
            _user("xyz abc qwerty", "nlu_fallback", 0.45, OLD, "telegram"),
            ActionExecuted("action_default_fallback", timestamp=OLD + 1),
            BotUttered("Xin lỗi, mình chưa hiểu.", timestamp=OLD + 1),
            ActionExecuted("action_listen", timestamp=OLD + 1),
        ],
    }


def build_world(work: Path) -> World:
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker

    from handoff.queue import HandoffQueue
    from shop import make_engine

    events = _conversations()
    external = events["rest-bob"][-1]
    external.timestamp = T0 + 160
    store = SQLTrackerStore(dialect="sqlite", db=str(work / "tracker.db"))

    async def save():
        for sender, evs in events.items():
            await store.save(DialogueStateTracker.from_events(sender, evs))

    asyncio.run(save())
    store.engine.dispose()

    app_url = f"sqlite:///{work / 'app.db'}"
    engine = make_engine(app_url)
    now = [datetime.fromtimestamp(T0 + 111.5, timezone.utc)]
    queue = HandoffQueue(engine, clock=lambda: now[0])
    handoff = queue.enqueue("rest-bob", "rest", "request_human", frustrated=True)
    now[0] = datetime.fromtimestamp(T0 + 125, timezone.utc)
    queue.claim(handoff.id, "lan")
    queue.resolve(handoff.id, "lan")
    queue.record_csat(handoff.id, 1)
    engine.dispose()

    tracker_url = f"sqlite:///{work / 'tracker.db'}"
    ids = {}
    for turn in read_turns(tracker_url, app_url, personal=True):
        ids.setdefault(turn.text, turn.turn_id)
    return World(tracker_url, app_url, ids, work)


@pytest.fixture
def world(tmp_path) -> World:
    return build_world(tmp_path)


def by_text(turns):
    return {t.text: t for t in turns}


def test_every_turn_with_what_the_bot_understood(world):
    turns = list(read_turns(world.tracker_url, world.app_url))
    # ordered by conversation, then event id; external intents are not turns
    assert [t.conversation_id for t in turns] == sorted(t.conversation_id for t in turns)
    assert all(not (t.text or "").startswith("EXTERNAL") for t in turns)
    ids = [t.turn_id for t in turns if t.conversation_id == "rest-bob"]
    assert ids == sorted(ids)
    text = by_text(turns)

    greet = text["chào shop"]
    assert (greet.speaker, greet.intent, greet.confidence, greet.channel) == ("customer", "greet", 0.98, "web")
    assert (greet.sentiment, greet.negative) == ("neutral", 0.1)
    assert greet.time.startswith("2024-05-02T10:00:01") and greet.time.endswith("+07:00")

    answer = text["Phí giao hàng tiêu chuẩn là 30.000₫."]
    assert (answer.speaker, answer.kb_entry, answer.kb_score) == ("bot", "shipping-fee", 0.81)
    assert text["Chào bạn, mình giúp gì được ạ?"].kb_entry is None

    order = text["đơn DH1001 của mình đâu rồi"]
    assert order.channel == "rest" and order.entities == {"order_id": "DH1001"}
    assert order.handoff_reason is None and order.csat == 1

    ask = text["sao lâu vậy, cho gặp nhân viên"]
    assert (ask.intent, ask.handoff_reason, ask.sentiment) == ("request_human", "request_human", "negative")
    assert text["Mình chuyển bạn tới nhân viên nhé."].handoff_reason == "request_human"
    assert text["alo shop ơi"].handoff_reason is None

    agent = text["Dạ em là Lan, đơn của anh giao ngày mai ạ"]
    assert (agent.speaker, agent.agent) == ("agent", "lan")
    assert {t.csat for t in turns if t.conversation_id == "rest-bob"} == {1}
    assert {t.csat for t in turns if t.conversation_id != "rest-bob"} == {None}
    assert text["xyz abc qwerty"].channel == "telegram"


def test_personal_data_is_redacted_by_default(world):
    out = export_string(read_turns(world.tracker_url, world.app_url), "jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 16
    for raw in ("0912 345 678", "0912345678", "Lê Lợi"):
        assert raw not in out
    phone_turn = next(r for r in records if r["intent"] == "inform")
    assert "[SĐT]" in phone_turn["text"] and "[ĐỊA CHỈ]" in phone_turn["text"]
    assert phone_turn["entities"] == {"phone": "[SĐT]", "address": "[ĐỊA CHỈ]"}  # no "language"
    assert "DH1001" in out  # order codes are not personal
    assert "Dạ, số [SĐT] đã được ghi nhận." in out  # bot turns are redacted too
    assert "timestamp" not in records[0] and "paused" not in records[0]


def test_personal_data_only_when_asked(world):
    out = export_string(read_turns(world.tracker_url, world.app_url, personal=True), "jsonl")
    assert PHONE_TEXT in out and '"phone": "0912345678"' in out


def test_filters(world):
    def conversations(**kwargs):
        return {t.conversation_id for t in read_turns(world.tracker_url, world.app_url, **kwargs)}

    assert conversations() == {"web:alice", "rest-bob", "telegram:777"}
    assert conversations(since="2024-05-01") == {"web:alice", "rest-bob"}
    assert conversations(since="2024-05-02T10:01:00+07:00") == {"rest-bob"}
    assert conversations(channel="telegram") == {"telegram:777"}
    assert conversations(channel="rest") == {"rest-bob"}
    assert conversations(channel="web", since="2024-01-01") == {"web:alice"}
    assert conversations(handoff_only=True) == {"rest-bob"}
    assert conversations(handoff_only=True, channel="web") == set()
    with pytest.raises(ValueError):
        parse_since("last tuesday")
    assert parse_since("2024-05-01") == datetime(2024, 4, 30, 17, tzinfo=timezone.utc).timestamp()


def test_csv_has_the_same_turns_flattened(world):
    jsonl = export_string(read_turns(world.tracker_url, world.app_url), "jsonl").splitlines()
    rows = list(csv.DictReader(io.StringIO(export_string(read_turns(world.tracker_url, world.app_url), "csv"))))
    assert len(rows) == len(jsonl)
    assert list(rows[0]) == list(json.loads(jsonl[0]))
    inform = next(r for r in rows if r["intent"] == "inform")
    assert inform["entities"] == "phone=[SĐT]; address=[ĐỊA CHỈ]"
    assert next(r for r in rows if r["kb_entry"])["kb_score"] == "0.81"


def test_no_tracker_database_yet_means_no_turns(tmp_path):
    assert list(read_turns(f"sqlite:///{tmp_path / 'none.db'}", f"sqlite:///{tmp_path / 'app.db'}")) == []
    assert not (tmp_path / "none.db").exists()


def test_cli_export_redacts_unless_include_personal(world, monkeypatch, capsys):
    from cskh.cli import main
    from cskh.settings import get_settings

    monkeypatch.setenv("CSKH_TRACKER_STORE_URL", world.tracker_url)
    monkeypatch.setenv("CSKH_APP_DATABASE_URL", world.app_url)
    get_settings.cache_clear()
    try:
        assert main(["transcripts", "export", "--format", "jsonl", "--handoff-only"]) == 0
        captured = capsys.readouterr()
        lines = captured.out.splitlines()
        assert lines and all(json.loads(line)["conversation_id"] == "rest-bob" for line in lines)
        assert "WARNING" not in captured.err

        assert main(["transcripts", "export", "--format", "csv", "--include-personal",
                     "--out", str(world.work / "all.csv")]) == 0
        captured = capsys.readouterr()
        assert "WARNING" in captured.err and "personal data" in captured.err
        assert "0912 345 678" in (world.work / "all.csv").read_text(encoding="utf-8")

        assert main(["transcripts", "export", "--since", "not a date"]) == 2
    finally:
        get_settings.cache_clear()


# ---- redaction -------------------------------------------------------------------------------

MESSAGES = [
    ("sđt của mình là 0912345678 nhé", ["0912345678"]),
    ("số mới 0912 345 678 ạ", ["0912 345 678", "345 678"]),
    ("gọi 091.234.5678 giúp em", ["091.234.5678", "234.5678"]),
    ("+84 912 345 678 là số em", ["912 345 678"]),
    ("(+84) 912-345-678 nha shop", ["912-345-678"]),
    ("84912345678", ["84912345678"]),
    ("0283 822 4567 số bàn nhà mình", ["822 4567"]),
    ("đổi số nhận hàng thành 0987-654-321 cho đơn DH1002", ["0987-654-321", "654-321"]),
    ("email mình là nguyen.van.a@gmail.com", ["nguyen.van.a", "gmail.com"]),
    ("mail: tran_b+shop@yahoo.com.vn ạ", ["tran_b", "yahoo.com.vn"]),
    ("gửi hóa đơn qua le.thi.c [at] gmail [dot] com", ["le.thi.c"]),
    ("Địa chỉ mới là 12 Lê Lợi, Quận 1, TP.HCM", ["Lê Lợi"]),
    ("dia chi moi la 45/12 nguyen van cu, p4, q5", ["45/12", "nguyen van cu"]),
    ("giao tới 12 Lê Lợi, Quận 1 giúp mình", ["12 Lê Lợi"]),
    ("nhà mình số 7 ngõ 35 Cát Linh, Đống Đa, Hà Nội", ["Cát Linh", "ngõ 35"]),
    ("123 đường Nguyễn Trãi, Thanh Xuân", ["Nguyễn Trãi"]),
    ("Thôn 3, xã Ea Kao, huyện Buôn Đôn, Đắk Lắk", ["Ea Kao"]),
    ("đơn DH1001 của mình đâu rồi, sđt 0356789012", ["0356789012"]),
    ("đổi địa chỉ đơn DH1003 thành 88 Trần Hưng Đạo, Q.5. Cảm ơn shop", ["Trần Hưng Đạo"]),
    ("I live at 221 Baker Street, London, phone 0901112223, mail a.b@c.vn", ["Baker", "0901112223", "a.b@c.vn"]),
]


@pytest.mark.parametrize("message,personal", MESSAGES)
def test_redaction_leaves_no_phone_email_or_address(message, personal):
    redacted = redact(message)
    for raw in personal:
        assert raw not in redacted, redacted
    assert any(p in redacted for p in ("[SĐT]", "[EMAIL]", "[ĐỊA CHỈ]"))


def test_redaction_keeps_order_codes_products_and_prices():
    assert len(MESSAGES) == 20
    for message, _ in MESSAGES:
        for code in ("DH1001", "DH1002", "DH1003"):
            if code in message:
                assert code in redact(message)
    for keep in ("cho mình 2 Nova X5 màu đen", "mua 3 cái tai nghe giá 1.500.000đ", "đơn DH1001 giao chưa ạ",
                 "địa chỉ của shop ở đâu vậy?", "shop ơi địa chỉ là gì", "bảo hành 12 tháng không shop"):
        assert redact(keep) == keep
