"""Warranty claims: each product's length counted from delivery (SHOP.md), valid or expired."""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.common import OrderAction, OrderFormValidation, clear_request_slots, completed, say
from bot.actions.returns import pick_item_slot, validate_order_product
from cskh.formatting import day
from cskh.text import normalize_folded
from shop import InvalidRequest, Order, OrderStatus, ShopError

log = logging.getLogger(__name__)

# Causes SHOP.md excludes from warranty: drops, cracks, liquid, power surges, third-party repairs, seals.
EXCLUDED = re.compile(r"\b(roi|rot|danh roi|vo man|nut|be man|vao nuoc|ngam nuoc|nuoc vao|uot|chay no|chap dien|"
                      r"set danh|sua ngoai|tiem sua|sua o ngoai|rach tem|boc tem|dropped|cracked|water|liquid|"
                      r"power surge|third.party)\b")

LOAN = {"vi": " Nếu sửa quá 7 ngày, anh/chị được mượn máy dùng tạm ạ.",
        "en": " If the repair takes longer than 7 days, you get a loan device."}


class ValidateWarrantyForm(OrderFormValidation):
    trigger_intent = "warranty_claim"
    own_slots = ["product", "fault"]

    def name(self) -> Text:
        return "validate_warranty_form"

    def stop_early(self, order: Order) -> bool:
        return order.status != OrderStatus.DELIVERED

    def extra_slots(self, order: Order, slots: Dict[str, Any]) -> List[str]:
        return pick_item_slot(order, slots) + ["fault"]

    def validate_extra(self, slot: str, value: Any, text: str, order: Order, slots: Dict[str, Any],
                       dispatcher: CollectingDispatcher) -> Dict[str, Any]:
        if slot == "product":
            return validate_order_product(value, order, dispatcher)
        if slot == "fault":
            fault = str(value).strip()
            return {"fault": fault if len(fault) >= 3 else None}
        return {slot: value}


class ActionSubmitWarranty(OrderAction):
    def name(self) -> Text:
        return "action_submit_warranty"

    async def act(self, order: Order, lang: str, dispatcher: CollectingDispatcher,
                  tracker: Tracker) -> List[EventType]:
        if order.status != OrderStatus.DELIVERED:
            say(dispatcher, "utter_warranty_not_delivered", order_id=order.code)
            return clear_request_slots()
        fault = tracker.get_slot("fault") or ""
        if EXCLUDED.search(normalize_folded(fault)):
            say(dispatcher, "utter_warranty_excluded")
            return clear_request_slots()
        product_code = tracker.get_slot("product") or order.items[0].product_code
        try:
            status, request = self.backend.request_warranty(order.code, order.phone, product_code, fault)
        except InvalidRequest:
            say(dispatcher, "utter_warranty_not_delivered", order_id=order.code)
            return clear_request_slots()
        except ShopError:
            log.exception("warranty claim failed")
            say(dispatcher, "utter_backend_error")
            return clear_request_slots()
        if not status.valid or request is None:
            say(dispatcher, "utter_warranty_expired", product=status.product_name, ends_on=day(status.ends_on),
                months=status.months)
            return clear_request_slots()
        say(dispatcher, "utter_warranty_valid", product=status.product_name, ends_on=day(status.ends_on),
            reference=request.reference, loan=LOAN[lang] if status.loan_device_eligible else "")
        return completed(request.reference)
