"""Order status, change and cancellation (SHOP.md: changes only while pending or confirmed)."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import OrderAction, OrderFormValidation, clear_request_slots, completed, say
from cskh import entities
from cskh.formatting import day, vnd
from shop import (InvalidRequest, ItemNotInOrder, Order, OrderNotModifiable, OrderStatus, OutOfStock,
                  ShopError, VerificationFailed)

log = logging.getLogger(__name__)

STATUS_EN = {OrderStatus.PENDING: "pending confirmation", OrderStatus.CONFIRMED: "confirmed",
             OrderStatus.SHIPPING: "out for delivery", OrderStatus.DELIVERED: "delivered",
             OrderStatus.CANCELLED: "cancelled", OrderStatus.RETURNED: "returned"}


def status_text(order: Order, lang: str) -> str:
    return STATUS_EN[order.status] if lang == "en" else order.status.value


def items_text(order: Order) -> str:
    return ", ".join(f"{item.product_name} {item.colour} ×{item.quantity}" for item in order.items)


def status_detail(order: Order, lang: str) -> str:
    en = lang == "en"
    if order.status == OrderStatus.SHIPPING and order.expected_on:
        return (f"Expected delivery: {day(order.expected_on)} to {order.address}." if en
                else f"Dự kiến giao ngày {day(order.expected_on)} tới {order.address} ạ.")
    if order.status == OrderStatus.DELIVERED and order.delivered_on:
        return f"Delivered on {day(order.delivered_on)}." if en else f"Đã giao ngày {day(order.delivered_on)} ạ."
    if order.status in (OrderStatus.PENDING, OrderStatus.CONFIRMED):
        return (f"Delivery address: {order.address}. It can still be changed or cancelled." if en
                else f"Giao tới {order.address}; đơn vẫn có thể thay đổi hoặc hủy ạ.")
    return ""


def explain_not_modifiable(dispatcher: CollectingDispatcher, order: Order, lang: str) -> None:
    if order.status == OrderStatus.SHIPPING:
        say(dispatcher, "utter_not_modifiable_shipping", order_id=order.code)
    else:
        say(dispatcher, "utter_not_modifiable_status", order_id=order.code, status=status_text(order, lang))


class ValidateOrderStatusForm(OrderFormValidation):
    trigger_intent = "order_status"

    def name(self) -> Text:
        return "validate_order_status_form"


class ActionOrderStatus(OrderAction):
    def name(self) -> Text:
        return "action_order_status"

    async def act(self, order: Order, lang: str, dispatcher: CollectingDispatcher,
                  tracker: Tracker) -> List[EventType]:
        say(dispatcher, "utter_order_status", order_id=order.code, items=items_text(order), total=vnd(order.total),
            status=status_text(order, lang), detail=status_detail(order, lang))
        return clear_request_slots()


class ValidateOrderCancelForm(OrderFormValidation):
    trigger_intent = "order_cancel"

    def name(self) -> Text:
        return "validate_order_cancel_form"


class ActionAskCancel(OrderAction):
    """After verification: refuse (shipping, delivered…) or ask the customer to confirm."""

    def name(self) -> Text:
        return "action_ask_cancel"

    async def act(self, order: Order, lang: str, dispatcher: CollectingDispatcher,
                  tracker: Tracker) -> List[EventType]:
        if not order.can_modify:
            explain_not_modifiable(dispatcher, order, lang)
            return clear_request_slots()
        say(dispatcher, "utter_cancel_confirm", order_id=order.code, items=items_text(order),
            status=status_text(order, lang))
        return [SlotSet("pending_confirmation", "cancel")]


class ActionConfirm(OrderAction):
    """The customer said yes: carry out what is waiting for confirmation."""

    def name(self) -> Text:
        return "action_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if tracker.get_slot("pending_confirmation") != "cancel":
            say(dispatcher, "utter_anything_else")
            return []
        return await super().run(dispatcher, tracker, domain)

    async def act(self, order: Order, lang: str, dispatcher: CollectingDispatcher,
                  tracker: Tracker) -> List[EventType]:
        try:
            request = self.backend.cancel_order(order.code, order.phone)
        except OrderNotModifiable:
            explain_not_modifiable(dispatcher, self.backend.get_order(order.code, order.phone), lang)
            return clear_request_slots()
        say(dispatcher, "utter_cancel_done", order_id=order.code, reference=request.reference)
        return completed(request.reference)


class ActionDecline(Action):
    """The customer said no outside a form."""

    def name(self) -> Text:
        return "action_decline"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if tracker.get_slot("pending_confirmation") == "cancel":
            say(dispatcher, "utter_cancel_kept")
        else:
            say(dispatcher, "utter_anything_else")
        return clear_request_slots()


CHANGE_SLOTS = {"address": ["address"], "phone": ["new_phone"], "delivery_time": ["delivery_time"],
                "items": ["product", "colour"]}


class ValidateOrderChangeForm(OrderFormValidation):
    trigger_intent = "order_change"
    own_slots = ["change_field", "address", "new_phone", "delivery_time", "product", "colour", "quantity"]

    def name(self) -> Text:
        return "validate_order_change_form"

    def stop_early(self, order: Order) -> bool:
        return not order.can_modify

    def extra_slots(self, order: Order, slots: Dict[str, Any]) -> List[str]:
        field = slots.get("change_field")
        if field is None:
            return ["change_field"]
        needed = list(CHANGE_SLOTS[field])
        if field == "items":
            if slots.get("product") is None and len(order.items) == 1:
                slots["product"] = order.items[0].product_code
            if slots.get("quantity") is not None:
                needed.remove("colour")
        return ["change_field"] + needed

    def validate_extra(self, slot: str, value: Any, text: str, order: Order, slots: Dict[str, Any],
                       dispatcher: CollectingDispatcher) -> Dict[str, Any]:
        if slot == "change_field" and value not in CHANGE_SLOTS:
            return {"change_field": entities.detect_change_field(text)}
        if slot == "address":
            value = str(value).strip()
            if len(value) < 8 or not any(ch.isdigit() for ch in value):
                say(dispatcher, "utter_ask_address")
                return {"address": None}
            return {"address": value, "change_field": slots.get("change_field") or "address"}
        if slot == "new_phone":
            phone = entities.normalize_phone(str(value))
            if phone is None:
                say(dispatcher, "utter_invalid_phone")
            return {"new_phone": phone}
        if slot == "delivery_time":
            value = str(value).strip()
            return {"delivery_time": value if len(value) >= 2 else None}
        if slot in ("product", "colour", "quantity"):
            return {slot: value, "change_field": slots.get("change_field") or "items"}
        return {slot: value}


class ActionSubmitChange(OrderAction):
    def name(self) -> Text:
        return "action_submit_change"

    async def act(self, order: Order, lang: str, dispatcher: CollectingDispatcher,
                  tracker: Tracker) -> List[EventType]:
        if not order.can_modify:
            explain_not_modifiable(dispatcher, order, lang)
            return clear_request_slots()
        field = tracker.get_slot("change_field")
        try:
            request, change = self._apply(order, field, tracker, lang)
        except OutOfStock as error:
            product = self.backend.get_product(error.product_code)
            available = ", ".join(f"{colour} ({count})" for colour, count in error.available.items() if count > 0)
            say(dispatcher, "utter_out_of_stock", product=product.name, colour=error.colour, available=available or "—")
            return clear_request_slots()
        except ItemNotInOrder:
            say(dispatcher, "utter_invalid_change", reason="sản phẩm không có trong đơn." if lang != "en" else "that item is not in the order.")
            return clear_request_slots()
        except (InvalidRequest, OrderNotModifiable, VerificationFailed) as error:
            log.info("change refused: %s", error)
            say(dispatcher, "utter_invalid_change", reason=str(error))
            return clear_request_slots()
        except ShopError:
            log.exception("change failed")
            say(dispatcher, "utter_backend_error")
            return clear_request_slots()
        say(dispatcher, "utter_change_done", order_id=order.code, change=change, reference=request.reference)
        return completed(request.reference)

    def _apply(self, order: Order, field: Optional[str], tracker: Tracker, lang: str):
        en = lang == "en"
        if field == "address":
            address = tracker.get_slot("address")
            return self.backend.change_address(order.code, order.phone, address), (
                f"new address {address}" if en else f"địa chỉ mới {address}")
        if field == "phone":
            new_phone = tracker.get_slot("new_phone")
            return self.backend.change_phone(order.code, order.phone, new_phone), (
                f"new phone {new_phone}" if en else f"số điện thoại mới {new_phone}")
        if field == "delivery_time":
            when = tracker.get_slot("delivery_time")
            return self.backend.change_delivery_time(order.code, order.phone, when), (
                f"delivery time {when}" if en else f"thời gian giao {when}")
        product_code = tracker.get_slot("product")
        colour = tracker.get_slot("colour")
        quantity_raw = tracker.get_slot("quantity")
        quantity = int(quantity_raw) if quantity_raw not in (None, "") else None
        request = self.backend.change_item(order.code, order.phone, product_code, colour=colour, quantity=quantity)
        product = self.backend.get_product(product_code)
        parts = [product.name]
        if colour:
            parts.append(f"colour {colour}" if en else f"màu {colour}")
        if quantity is not None:
            parts.append(f"quantity {quantity}" if en else f"số lượng {quantity}")
        return request, " ".join(parts)
