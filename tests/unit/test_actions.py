"""Actions called directly, as rasa-sdk calls them, against the real backend on a seeded SQLite file."""
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.faq import ActionAnswerFAQ
from bot.actions.handoff import ActionFallback, ActionHandoff
from bot.actions.orders import ActionAskCancel, ActionConfirm, ActionOrderStatus, ActionSubmitChange, ValidateOrderStatusForm, ValidateOrderChangeForm
from bot.actions.products import ActionProductInfo
from bot.actions.returns import ActionSubmitReturn
from bot.actions.warranty import ActionSubmitWarranty
from retrieval.client import KBAnswer

PHONES = {"DH1001": "0901234567", "DH1002": "0912345678", "DH1003": "0987654321", "DH1004": "0901234567",
          "DH1005": "0933333333", "DH1007": "0955555555", "DH1008": "0966666666"}


def tracker(slots: Dict[str, Any], text: str = "", intent: str = "inform", new_slots: Optional[Dict[str, Any]] = None,
            active_loop: Optional[str] = None, events: Optional[List[dict]] = None) -> Tracker:
    history = list(events or []) + [{"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}]
    history += [{"event": "slot", "name": k, "value": v} for k, v in (new_slots or {}).items()]
    all_slots = {"language": "vi", **slots, **(new_slots or {})}
    return Tracker("test", all_slots, {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []},
                   history, False, None, {"name": active_loop} if active_loop else {}, "action_listen")


def verified(code: str, **slots: Any) -> Dict[str, Any]:
    return {"order_id": code, "phone": PHONES[code], "verified_order": code, "verified_phone": PHONES[code], **slots}


async def run(action, t: Tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, {})
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def responses(messages) -> List[str]:
    return [m.get("response") for m in messages]


async def test_wrong_phone_reveals_nothing_and_clears_both(backend):
    t = tracker({}, "DH1002 0999999999", new_slots={"order_id": "DH1002", "phone": "0999999999"},
                active_loop="order_status_form")
    messages, slots = await run(ValidateOrderStatusForm(backend), t)
    assert responses(messages) == ["utter_verification_failed"]
    assert slots["order_id"] is None and slots["phone"] is None and slots["requested_slot"] == "order_id"
    assert all("Lumi" not in str(m) and "Trần Duy Hưng" not in str(m) for m in messages)


async def test_matching_code_and_phone_verify_the_order(backend):
    t = tracker({}, "dh1002 +84 912 345 678", new_slots={"order_id": "dh1002", "phone": "+84 912 345 678"},
                active_loop="order_status_form")
    _, slots = await run(ValidateOrderStatusForm(backend), t)
    assert slots["verified_order"] == "DH1002" and slots["verified_phone"] == "0912345678"
    assert slots["requested_slot"] is None


async def test_order_status_of_a_shipping_order_gives_the_expected_date(backend):
    messages, _ = await run(ActionOrderStatus(backend), tracker(verified("DH1003")))
    (message,) = messages
    assert message["response"] == "utter_order_status"
    assert message["status"] == "Đang giao" and "Dự kiến giao ngày" in message["detail"]


async def test_cancel_refused_once_shipping(backend):
    messages, slots = await run(ActionAskCancel(backend), tracker(verified("DH1003")))
    assert responses(messages) == ["utter_not_modifiable_shipping"]
    assert slots.get("pending_confirmation") is None


async def test_cancel_pending_order_after_confirmation(backend):
    messages, slots = await run(ActionAskCancel(backend), tracker(verified("DH1001")))
    assert responses(messages) == ["utter_cancel_confirm"] and slots["pending_confirmation"] == "cancel"
    messages, slots = await run(ActionConfirm(backend), tracker(verified("DH1001", pending_confirmation="cancel"),
                                                                 "ok", "affirm"))
    assert responses(messages) == ["utter_cancel_done"]
    assert messages[0]["reference"].startswith("YC") and slots["last_reference"] == messages[0]["reference"]
    assert backend.get_order("DH1001", PHONES["DH1001"]).status.value == "Đã hủy"


async def test_affirm_with_nothing_pending_changes_nothing(backend):
    messages, _ = await run(ActionConfirm(backend), tracker(verified("DH1001"), "ok", "affirm"))
    assert responses(messages) == ["utter_anything_else"]
    assert backend.get_order("DH1001", PHONES["DH1001"]).status.value == "Chờ xác nhận"


async def test_change_form_stops_early_for_a_shipping_order(backend):
    t = tracker({}, "DH1003 0987654321", new_slots={"order_id": "DH1003", "phone": "0987654321"},
                active_loop="order_change_form")
    _, slots = await run(ValidateOrderChangeForm(backend), t)
    assert slots["verified_order"] == "DH1003" and slots["requested_slot"] is None


async def test_change_address_of_a_confirmed_order(backend):
    t = tracker(verified("DH1002", change_field="address", address="100 Kim Mã, Ba Đình, Hà Nội"))
    messages, _ = await run(ActionSubmitChange(backend), t)
    assert responses(messages) == ["utter_change_done"]
    assert backend.get_order("DH1002", PHONES["DH1002"]).address == "100 Kim Mã, Ba Đình, Hà Nội"


async def test_change_colour_to_an_out_of_stock_one_is_refused(backend):
    t = tracker(verified("DH1001", change_field="items", product="NOVA-X5", colour="xanh"))
    messages, _ = await run(ActionSubmitChange(backend), t)
    assert responses(messages) == ["utter_out_of_stock"]
    assert "tím" in messages[0]["available"]


async def test_dh1004_defect_return_accepted(backend):
    t = tracker(verified("DH1004", product="ECHO-E2", return_reason="defect", resolution="refund"))
    messages, slots = await run(ActionSubmitReturn(backend), t)
    assert responses(messages) == ["utter_return_defect_7_days"]
    assert messages[0]["days"] == 3 and "hoàn tiền" in messages[0]["resolution"]
    assert slots["last_reference"].startswith("YC")


async def test_opened_in_ear_earphones_refused_for_change_of_mind(backend):
    t = tracker(verified("DH1004", product="ECHO-E2", return_reason="changed_mind", box_state="opened"))
    messages, _ = await run(ActionSubmitReturn(backend), t)
    assert responses(messages) == ["utter_return_refused_in_ear"]


async def test_sealed_change_of_mind_return_costs_ten_percent(backend):
    t = tracker(verified("DH1004", product="ECHO-E2", return_reason="changed_mind", box_state="sealed"))
    messages, _ = await run(ActionSubmitReturn(backend), t)
    assert responses(messages) == ["utter_return_changed_mind"]
    assert messages[0]["fee"] == "258.000₫" and messages[0]["refund"] == "2.322.000₫"


async def test_dh1005_return_refused_and_warranty_offered(backend):
    t = tracker(verified("DH1005", return_reason="defect"))
    messages, _ = await run(ActionSubmitReturn(backend), t)
    assert responses(messages) == ["utter_return_refused_after_30_days"]
    assert messages[0]["days"] == 50


async def test_dh1007_fridge_warranty_valid(backend):
    t = tracker(verified("DH1007", fault="tủ không lạnh"))
    messages, slots = await run(ActionSubmitWarranty(backend), t)
    assert responses(messages) == ["utter_warranty_valid"] and slots["last_reference"].startswith("YC")


async def test_dh1008_warranty_expired(backend):
    t = tracker(verified("DH1008", fault="không lên nguồn"))
    messages, _ = await run(ActionSubmitWarranty(backend), t)
    assert responses(messages) == ["utter_warranty_expired"] and messages[0]["months"] == 12


async def test_drop_damage_is_not_covered(backend):
    t = tracker(verified("DH1007", fault="em làm rơi nên vỡ cửa tủ"))
    messages, _ = await run(ActionSubmitWarranty(backend), t)
    assert responses(messages) == ["utter_warranty_excluded"]


async def test_product_info_for_an_out_of_stock_colour(backend):
    messages, _ = await run(ActionProductInfo(backend), tracker({"product": "NOVA-X5", "colour": "xanh"}))
    (message,) = messages
    assert message["price"] == "7.490.000₫" and "Màu xanh hiện đã hết hàng" in message["stock"]
    assert "tím (5)" in message["stock"] and message["warranty"] == "12 tháng"


async def test_product_info_gives_the_back_in_stock_date(backend):
    from datetime import timedelta

    from shop import vn_today

    messages, _ = await run(ActionProductInfo(backend), tracker({"product": "LUMI-B16"}))
    expected = (vn_today() + timedelta(days=14)).strftime("%d/%m/%Y")
    assert expected in messages[0]["stock"]


class FakeKB:
    def __init__(self, answer: Optional[KBAnswer]) -> None:
        self.answer = answer

    def best(self, text: str, threshold: Optional[float] = None) -> Optional[KBAnswer]:
        return self.answer


async def test_faq_answers_in_the_customers_language():
    kb = FakeKB(KBAnswer("contact-hotline", 0.9, True, {"vi": "Dạ, hotline 1900 6868", "en": "Hotline 1900 6868"}))
    messages, slots = await run(ActionAnswerFAQ(kb), tracker({"language": "en"}, "hotline?", "faq"))
    assert messages[0]["text"] == "Hotline 1900 6868" and slots["kb_entry"] == "contact-hotline"


async def test_faq_abstains_below_the_threshold():
    kb = FakeKB(KBAnswer("shipping-fee", 0.1, False, {"vi": "..."}))
    messages, _ = await run(ActionAnswerFAQ(kb), tracker({}, "xổ số hôm nay", "faq"))
    assert responses(messages) == ["utter_faq_not_sure"]


async def test_second_fallback_in_a_row_hands_off():
    kb = FakeKB(None)
    first = [{"event": "user", "text": "asdf", "parse_data": {"intent": {"name": "nlu_fallback"}}}]
    messages, _ = await run(ActionFallback(kb), tracker({}, "qwer", "nlu_fallback"))
    assert responses(messages) == ["utter_fallback_rephrase"]
    dispatcher = CollectingDispatcher()
    events = await ActionFallback(kb).run(dispatcher, tracker({}, "qwer", "nlu_fallback", events=first), {})
    assert {"event": "followup", "name": "action_handoff", "timestamp": None} in events
    assert {"event": "slot", "timestamp": None, "name": "handoff_reason", "value": "nlu_fallback"} in events


@pytest.mark.parametrize("hour,online", [(7, False), (8, True), (20, True), (21, False)])
def test_agent_hours_are_vietnam_time(hour, online):
    from datetime import datetime, timedelta, timezone

    from handoff.service import agents_online_hours

    assert agents_online_hours(datetime(2026, 1, 5, hour, 30, tzinfo=timezone(timedelta(hours=7)))) is online


class FakeHandoffs:
    def __init__(self, ticket):
        self.ticket, self.calls = ticket, []

    def start(self, conversation_id, reason, detail=None, frustrated=False):
        self.calls.append((conversation_id, reason, frustrated))
        return self.ticket


async def test_handoff_queues_pauses_and_says_the_position():
    from handoff.client import HandoffTicket

    handoffs = FakeHandoffs(HandoffTicket(7, "queued", "request_human", 2, False, None))
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff(handoffs).run(dispatcher, tracker({}, "cho gặp nhân viên", "request_human"), {})
    assert [m.get("response") for m in dispatcher.messages][0] == "utter_handoff_queued"
    assert dispatcher.messages[0]["position"] == 2
    assert dispatcher.messages[1]["custom"] == {"handoff": {"status": "queued", "reason": "request_human"}}
    assert {"event": "pause", "timestamp": None} in events
    assert handoffs.calls == [("test", "request_human", False)]


async def test_complaint_after_hours_becomes_a_ticket_and_the_bot_stays_on():
    from handoff.client import HandoffTicket

    handoffs = FakeHandoffs(HandoffTicket(8, "queued", "complain", 1, True, None))
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff(handoffs).run(dispatcher, tracker({}, "làm ăn kiểu gì vậy", "complain"), {})
    assert [m.get("response") for m in dispatcher.messages][:2] == ["utter_sorry", "utter_handoff_closed"]
    assert not any(e.get("event") == "pause" for e in events)
    assert handoffs.calls == [("test", "complain", True)]
