"""Returns and exchanges: the 7-day / 30-day / opened-earphones rules of SHOP.md."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.common import OrderAction, OrderFormValidation, clear_request_slots, completed, say
from bot.actions.orders import status_text
from cskh import entities
from cskh.formatting import day, vnd
from shop import Order, OrderStatus, ReturnReason, ShopError, vn_today, warranty_status

log = logging.getLogger(__name__)

RESOLUTION_TEXT = {"vi": {"exchange": "đổi sản phẩm mới (1 đổi 1)", "refund": "hoàn tiền 100%"},
                   "en": {"exchange": "a new replacement", "refund": "a 100% refund"}}
REFUND_TIME = {"vi": "Tiền hoàn về trong 3–5 ngày làm việc nếu chuyển khoản, 7–10 ngày làm việc nếu thẻ tín dụng ạ.",
               "en": "Refunds arrive within 3–5 working days by bank transfer, 7–10 working days to a credit card."}


def days_since_delivery(order: Order) -> int:
    return (vn_today() - order.delivered_on).days if order.delivered_on else -1


def pick_item_slot(order: Order, slots: Dict[str, Any]) -> List[str]:
    """Ask which product only when the order has several."""
    if len(order.items) == 1:
        slots["product"] = order.items[0].product_code
        return []
    return ["product"]


def validate_order_product(value: Any, order: Order, dispatcher: CollectingDispatcher) -> Dict[str, Any]:
    if order.item(str(value)) is None:
        say(dispatcher, "utter_ask_product")
        return {"product": None}
    return {"product": value}


class ValidateReturnForm(OrderFormValidation):
    trigger_intent = "return_request"
    own_slots = ["product", "return_reason", "box_state", "resolution"]

    def name(self) -> Text:
        return "validate_return_form"

    def stop_early(self, order: Order) -> bool:
        return order.status != OrderStatus.DELIVERED

    def extra_slots(self, order: Order, slots: Dict[str, Any]) -> List[str]:
        needed = pick_item_slot(order, slots) + ["return_reason"]
        reason = slots.get("return_reason")
        if reason == "changed_mind" and days_since_delivery(order) <= 7:
            needed.append("box_state")
        if reason == "defect" and days_since_delivery(order) <= 7:
            needed.append("resolution")
        return needed

    def validate_extra(self, slot: str, value: Any, text: str, order: Order, slots: Dict[str, Any],
                       dispatcher: CollectingDispatcher) -> Dict[str, Any]:
        if slot == "product":
            return validate_order_product(value, order, dispatcher)
        if slot == "return_reason" and value not in ("defect", "changed_mind"):
            return {"return_reason": entities.detect_return_reason(text)}
        if slot == "box_state" and value not in ("sealed", "opened"):
            return {"box_state": entities.detect_box_state(text)}
        if slot == "resolution" and value not in ("exchange", "refund"):
            return {"resolution": entities.detect_resolution(text)}
        return {slot: value}


class ActionSubmitReturn(OrderAction):
    def name(self) -> Text:
        return "action_submit_return"

    async def act(self, order: Order, lang: str, dispatcher: CollectingDispatcher,
                  tracker: Tracker) -> List[EventType]:
        if order.status != OrderStatus.DELIVERED:
            say(dispatcher, "utter_return_not_delivered", order_id=order.code, status=status_text(order, lang))
            return clear_request_slots()
        product_code = tracker.get_slot("product") or order.items[0].product_code
        reason = ReturnReason(tracker.get_slot("return_reason") or "defect")
        opened = tracker.get_slot("box_state") == "opened"
        try:
            decision, request = self.backend.request_return(order.code, order.phone, product_code, reason, opened)
        except ShopError:
            log.exception("return failed")
            say(dispatcher, "utter_backend_error")
            return clear_request_slots()
        days = decision.days_since_delivery
        code = decision.code
        if code == "defect_within_7_days":
            resolution = tracker.get_slot("resolution") or "exchange"
            say(dispatcher, "utter_return_defect_7_days", order_id=order.code, days=days,
                resolution=RESOLUTION_TEXT[lang][resolution], reference=request.reference,
                refund_time=REFUND_TIME[lang] if resolution == "refund" else "")
        elif code == "changed_mind_within_7_days":
            item = order.item(product_code)
            refund = item.subtotal - decision.fee
            say(dispatcher, "utter_return_changed_mind", fee=vnd(decision.fee), refund=vnd(refund),
                reference=request.reference, refund_time=REFUND_TIME[lang])
        elif code == "defect_within_30_days":
            say(dispatcher, "utter_return_defect_30_days", order_id=order.code, days=days, reference=request.reference)
        elif code == "in_ear_opened":
            say(dispatcher, "utter_return_refused_in_ear")
        elif code == "changed_mind_used":
            say(dispatcher, "utter_return_refused_used")
        elif code == "changed_mind_after_7_days":
            say(dispatcher, "utter_return_refused_late_change", order_id=order.code, days=days)
        elif code == "after_30_days":
            item = order.item(product_code)
            warranty = warranty_status(order, item, self.backend.get_product(product_code), vn_today())
            response = ("utter_return_refused_after_30_days" if warranty.valid
                        else "utter_return_refused_after_30_days_no_warranty")
            say(dispatcher, response, order_id=order.code, days=days, warranty_end=day(warranty.ends_on))
        else:
            say(dispatcher, "utter_return_not_delivered", order_id=order.code, status=status_text(order, lang))
        return completed(request.reference if request else None)
