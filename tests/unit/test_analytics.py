"""The lead's analytics from a real Rasa SQLTrackerStore database and a real hand-off queue, with
every figure worked out by hand from the conversations below."""
import asyncio
import sys
import types
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List

import pytest

from leads.analytics import analytics, question_key

# 2 May 2024, 10:00 Vietnam time; the figures are asked for one day later
T0 = datetime(2024, 5, 2, 3, 0, tzinfo=timezone.utc).timestamp()
NOW = T0 + 86400
OLD = NOW - 40 * 86400
NOT_SURE = {"utter_action": "utter_faq_not_sure"}
REPHRASE = {"utter_action": "utter_fallback_rephrase"}
QUEUED = {"utter_action": "utter_handoff_queued"}
PHONE_QUESTION = "thuê theo ngày được không, sđt mình 0912 345 678"
AGENT_ANSWERS = ("Dạ shop chưa có dịch vụ cho thuê máy chiếu ạ.", "Anh/chị gọi 0901 111 222 để được tư vấn thêm nhé.")


@dataclass
class World:
    tracker_url: str
    app_url: str
    handoffs: Dict[str, int]  # name → hand-off id
    work: Path


def _user(text, intent, confidence, ts, channel, **metadata):
    from rasa.shared.core.events import UserUttered

    return UserUttered(text, intent={"name": intent, "confidence": confidence}, entities=[],
                       metadata=dict(metadata, channel=channel), timestamp=ts)


def _bot(text, ts, **metadata):
    from rasa.shared.core.events import BotUttered

    return BotUttered(text, metadata=metadata, timestamp=ts)


def _conversations() -> Dict[str, List]:
    from rasa.shared.core.events import ActionExecuted, ConversationPaused, ConversationResumed, SlotSet, UserUttered

    return {
        # contained: a greeting, one KB answer, one KB abstention (10:00)
        "web:alice": [
            ActionExecuted("action_listen", timestamp=T0),
            _user("chào shop", "greet", 0.98, T0 + 1, "web"),
            ActionExecuted("action_kb_first", timestamp=T0 + 2),
            _bot("Dạ, em chào anh/chị!", T0 + 2, utter_action="utter_greet"),
            ActionExecuted("action_listen", timestamp=T0 + 2),
            _user("phí ship bao nhiêu", "faq", 0.9, T0 + 10, "web"),
            ActionExecuted("action_answer_faq", timestamp=T0 + 11),
            _bot("Dạ, đơn từ 500.000₫ được miễn phí giao hàng ạ.", T0 + 11),
            SlotSet("kb_entry", "shipping-fee", timestamp=T0 + 11),
            SlotSet("kb_score", 0.91, timestamp=T0 + 11),
            ActionExecuted("action_listen", timestamp=T0 + 11),
            _user("shop có cho thuê máy chiếu không?", "faq", 0.8, T0 + 20, "web"),
            ActionExecuted("action_answer_faq", timestamp=T0 + 21),
            _bot("Dạ, em chưa chắc về câu này ạ.", T0 + 21, **NOT_SURE),
            SlotSet("kb_entry", None, timestamp=T0 + 21),
            SlotSet("kb_score", None, timestamp=T0 + 21),
            ActionExecuted("action_listen", timestamp=T0 + 21),
        ],
        # not sure, asked again → kb_no_answer hand-off; Lan answers twice, resolves, CSAT 4 (11:00)
        "rest-bob": [
            _user("Shop co cho thue may chieu khong", "faq", 0.7, T0 + 3600, "rest"),
            ActionExecuted("action_answer_faq", timestamp=T0 + 3601),
            _bot("Dạ, em chưa chắc về câu này ạ.", T0 + 3601, **NOT_SURE),
            ActionExecuted("action_listen", timestamp=T0 + 3601),
            _user("ý mình là thuê máy chiếu đó", "faq", 0.6, T0 + 3610, "rest"),
            ActionExecuted("action_answer_faq", timestamp=T0 + 3611),
            ActionExecuted("action_handoff", timestamp=T0 + 3611),
            _bot("Dạ, em đang kết nối anh/chị với nhân viên hỗ trợ.", T0 + 3611, **QUEUED),
            ConversationPaused(timestamp=T0 + 3611),
            ActionExecuted("action_listen", timestamp=T0 + 3611),
            _user(PHONE_QUESTION, "faq", 0.8, T0 + 3620, "rest"),
            _bot(AGENT_ANSWERS[0], T0 + 3630, agent="lan", agent_name="Lan"),
            _bot(AGENT_ANSWERS[1], T0 + 3640, agent="lan", agent_name="Lan"),
            ConversationResumed(timestamp=T0 + 3650),
            ActionExecuted("action_listen", timestamp=T0 + 3650),
            UserUttered("4", metadata={"csat": True}, timestamp=T0 + 3660),
            _bot("Dạ, em cảm ơn anh/chị đã đánh giá ạ!", T0 + 3660),
        ],
        # a miss, then a person; Minh resolves after midnight without writing; CSAT 2 (22:00)
        "telegram:777": [
            _user("xyz qwerty", "nlu_fallback", 0.3, T0 + 43200, "telegram"),
            ActionExecuted("action_fallback", timestamp=T0 + 43201),
            _bot("Dạ, anh/chị nói rõ hơn giúp em nhé.", T0 + 43201, **REPHRASE),
            ActionExecuted("action_listen", timestamp=T0 + 43201),
            _user("cho gặp nhân viên", "request_human", 0.95, T0 + 43210, "telegram"),
            ActionExecuted("action_handoff", timestamp=T0 + 43211),
            _bot("Dạ, em đang kết nối anh/chị với nhân viên hỗ trợ.", T0 + 43211, **QUEUED),
            ConversationPaused(timestamp=T0 + 43211),
            ConversationResumed(timestamp=T0 + 50400 + 600),
            UserUttered("2", metadata={"csat": True}, timestamp=T0 + 50400 + 610),
        ],
        # contained: a miss, then a new topic the KB answers although NLU said out_of_scope (23:30)
        "zalo:9": [
            _user("xyz qwerty!", "nlu_fallback", 0.2, T0 + 48600, "zalo"),
            ActionExecuted("action_fallback", timestamp=T0 + 48601),
            _bot("Dạ, anh/chị nói rõ hơn giúp em nhé.", T0 + 48601, **REPHRASE),
            ActionExecuted("action_listen", timestamp=T0 + 48601),
            _user("shop có gói quà không", "out_of_scope", 0.5, T0 + 48610, "zalo"),
            ActionExecuted("action_kb_first", timestamp=T0 + 48611),
            _bot("Dạ, shop gói quà miễn phí ạ.", T0 + 48611),
            SlotSet("kb_entry", "gift-wrapping", timestamp=T0 + 48611),
            SlotSet("kb_score", 0.95, timestamp=T0 + 48611),
        ],
        # outside the 30-day window
        "web:old": [
            _user("xyz qwerty", "nlu_fallback", 0.1, OLD, "web"),
            _user("gặp nhân viên", "request_human", 0.9, OLD + 10, "web"),
        ],
    }


def build_world(work: Path) -> World:
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker

    from handoff.queue import HandoffQueue
    from shop import make_engine

    store = SQLTrackerStore(dialect="sqlite", db=str(work / "tracker.db"))

    async def save():
        for sender, evs in _conversations().items():
            await store.save(DialogueStateTracker.from_events(sender, evs))

    asyncio.run(save())
    store.engine.dispose()

    app_url = f"sqlite:///{work / 'app.db'}"
    engine = make_engine(app_url)
    clock = [0.0]
    queue = HandoffQueue(engine, clock=lambda: datetime.fromtimestamp(clock[0], timezone.utc))

    def at(ts):
        clock[0] = ts

    ids = {}
    at(T0 + 3611.5)
    ids["bob"] = queue.enqueue("rest-bob", "rest", "kb_no_answer").id
    at(T0 + 3615)
    queue.claim(ids["bob"], "lan")
    at(T0 + 3650)
    queue.resolve(ids["bob"], "lan")
    queue.record_csat(ids["bob"], 4)
    at(T0 + 43211.5)
    ids["777"] = queue.enqueue("telegram:777", "telegram", "request_human").id
    at(T0 + 43300)
    queue.claim(ids["777"], "minh")
    at(T0 + 50400 + 600)
    queue.resolve(ids["777"], "minh")
    queue.record_csat(ids["777"], 2)
    at(OLD + 11)
    ids["old"] = queue.enqueue("web:old", "web", "request_human").id
    queue.claim(ids["old"], "lan")
    queue.resolve(ids["old"], "lan")
    queue.record_csat(ids["old"], 5)
    engine.dispose()
    return World(f"sqlite:///{work / 'tracker.db'}", app_url, ids, work)


@pytest.fixture
def world(tmp_path) -> World:
    return build_world(tmp_path)


@pytest.fixture
def no_models(monkeypatch):
    """leads.models (another engineer's module) stands aside: evaluation is tested on its own."""
    monkeypatch.setitem(sys.modules, "leads.models", types.ModuleType("leads.models"))


def test_containment_and_handoffs_by_reason(world, no_models):
    figures = analytics(world.tracker_url, world.app_url, days=30, now=NOW)
    assert figures["containment"] == {"conversations": 4, "contained": 2, "rate": 0.5}
    assert figures["handoffs_by_reason"] == [
        {"reason": "request_human", "count": 1, "rate": 0.25},
        {"reason": "nlu_fallback", "count": 0, "rate": 0.0},
        {"reason": "kb_no_answer", "count": 1, "rate": 0.25},
        {"reason": "frustration", "count": 0, "rate": 0.0},
        {"reason": "complain", "count": 0, "rate": 0.0},
        {"reason": "form_failures", "count": 0, "rate": 0.0},
        {"reason": "system_error", "count": 0, "rate": 0.0},
    ]


def test_kb_answers_and_abstentions(world, no_models):
    # questions: alice's two faq turns, bob's two (not sure, then kb_no_answer), zalo's KB answer to
    # an out_of_scope turn; not bob's message to the agent (the bot did not answer it)
    kb = analytics(world.tracker_url, world.app_url, now=NOW)["kb"]
    assert kb == {"questions": 5, "answered": 2, "abstained": 3, "answer_rate": 0.4, "abstention_rate": 0.6}


def test_csat_by_vietnam_day_inside_the_window(world, no_models):
    figures = analytics(world.tracker_url, world.app_url, now=NOW)
    # Minh's resolution was 00:10 on 3 May in Vietnam (17:10 UTC on 2 May); the old 5 is outside
    assert figures["csat_by_day"] == [{"day": "2024-05-02", "mean": 4.0, "count": 1},
                                      {"day": "2024-05-03", "mean": 2.0, "count": 1}]


def test_volume_by_channel_hour_and_day(world, no_models):
    figures = analytics(world.tracker_url, world.app_url, now=NOW)
    assert figures["volume_by_channel"] == [
        {"channel": "rest", "conversations": 1, "messages": 4},
        {"channel": "web", "conversations": 1, "messages": 3},
        {"channel": "telegram", "conversations": 1, "messages": 3},
        {"channel": "zalo", "conversations": 1, "messages": 2},
    ]
    hours = {row["hour"]: row["messages"] for row in figures["volume_by_hour"]}
    assert list(hours) == list(range(24))
    assert {h: n for h, n in hours.items() if n} == {0: 1, 10: 3, 11: 4, 22: 2, 23: 2}
    days = figures["volume_by_day"]
    assert len(days) == 31 and days[0] == {"day": "2024-04-03", "messages": 0}
    assert {d["day"]: d["messages"] for d in days if d["messages"]} == {"2024-05-02": 11, "2024-05-03": 1}


def test_top_unanswered_grouped_by_folded_text(world, no_models):
    top = analytics(world.tracker_url, world.app_url, now=NOW)["top_unanswered"]
    assert top == [
        {"text": "xyz qwerty!", "count": 2, "last_seen": "2024-05-02T23:30:00+07:00",
         "reasons": ["nlu_fallback"], "handoff_reasons": []},
        {"text": "Shop co cho thue may chieu khong", "count": 2, "last_seen": "2024-05-02T11:00:00+07:00",
         "reasons": ["kb_abstained"], "handoff_reasons": []},
        {"text": "cho gặp nhân viên", "count": 1, "last_seen": "2024-05-02T22:00:10+07:00",
         "reasons": ["handoff"], "handoff_reasons": ["request_human"]},
        {"text": "ý mình là thuê máy chiếu đó", "count": 1, "last_seen": "2024-05-02T11:00:10+07:00",
         "reasons": ["kb_abstained", "handoff"], "handoff_reasons": ["kb_no_answer"]},
    ]
    assert question_key("Shop có cho THUÊ máy chiếu không?") == question_key("shop co cho thue may chieu khong")


def test_a_shorter_window_and_the_old_conversation(world, no_models):
    one_hour = analytics(world.tracker_url, world.app_url, days=1, now=T0 + 3700)
    assert one_hour["containment"] == {"conversations": 2, "contained": 1, "rate": 0.5}
    assert [d["day"] for d in one_hour["volume_by_day"]] == ["2024-05-01", "2024-05-02"]
    everything = analytics(world.tracker_url, world.app_url, days=366, now=NOW)
    assert everything["containment"] == {"conversations": 5, "contained": 2, "rate": 0.4}
    assert {"day": "2024-03-24", "mean": 5.0, "count": 1} in everything["csat_by_day"]


def test_top_unanswered_texts_are_redacted(tmp_path, no_models):
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker

    store = SQLTrackerStore(dialect="sqlite", db=str(tmp_path / "tracker.db"))
    evs = [_user("gọi mình số 0912 345 678 nha", "nlu_fallback", 0.2, T0, "rest")]
    asyncio.run(store.save(DialogueStateTracker.from_events("rest-x", evs)))
    store.engine.dispose()
    top = analytics(f"sqlite:///{tmp_path / 'tracker.db'}", f"sqlite:///{tmp_path / 'app.db'}", now=NOW)["top_unanswered"]
    assert [t["text"] for t in top] == ["gọi mình số [SĐT] nha"]


def test_empty_databases_give_zeros(tmp_path, no_models):
    for tracker, app in ((f"sqlite:///{tmp_path / 'none.db'}", f"sqlite:///{tmp_path / 'none-app.db'}"),
                         (f"sqlite:///{tmp_path / 'none.db'}", None)):
        figures = analytics(tracker, app, days=7, now=NOW)
        assert figures["containment"] == {"conversations": 0, "contained": 0, "rate": 0.0}
        assert [r["count"] for r in figures["handoffs_by_reason"]] == [0] * 7
        assert figures["kb"] == {"questions": 0, "answered": 0, "abstained": 0, "answer_rate": 0.0,
                                 "abstention_rate": 0.0}
        assert figures["csat_by_day"] == [] and figures["top_unanswered"] == []
        assert sum(r["messages"] for r in figures["volume_by_hour"]) == 0 and len(figures["volume_by_hour"]) == 24
        assert len(figures["volume_by_day"]) == 8
        assert figures["evaluation"] is None
    assert not (tmp_path / "none.db").exists()  # reading never creates a database
    # existing but empty databases (tables of other kinds only)
    from shop import make_engine

    for name in ("empty-tracker.db", "empty-app.db"):
        with make_engine(f"sqlite:///{tmp_path / name}").begin() as conn:
            conn.exec_driver_sql("CREATE TABLE unrelated (x INTEGER)")
    figures = analytics(f"sqlite:///{tmp_path / 'empty-tracker.db'}", f"sqlite:///{tmp_path / 'empty-app.db'}", now=NOW)
    assert figures["containment"]["conversations"] == 0


def test_days_out_of_range_is_a_value_error(world):
    for days in (0, 367):
        with pytest.raises(ValueError):
            analytics(world.tracker_url, world.app_url, days=days, now=NOW)


def test_the_last_model_evaluation_when_leads_models_provides_it(world, monkeypatch):
    evaluation = {"model": "20240502-100000.tar.gz", "at": "2024-05-02T10:00:00+07:00", "macro_f1": 0.83,
                  "per_intent": {"greet": {"precision": 1.0, "recall": 0.9, "f1": 0.947, "support": 10}},
                  "labels": ["greet"], "confusion": [[9]]}
    seen = []
    fake = types.ModuleType("leads.models")
    fake.last_evaluation = lambda engine: seen.append(engine) or evaluation
    monkeypatch.setitem(sys.modules, "leads.models", fake)
    assert analytics(world.tracker_url, world.app_url, now=NOW)["evaluation"] == evaluation
    assert len(seen) == 1 and hasattr(seen[0], "connect")  # given an Engine

    def broken(engine):
        raise RuntimeError("registry table is corrupt")

    fake.last_evaluation = broken
    assert analytics(world.tracker_url, world.app_url, now=NOW)["evaluation"] is None
