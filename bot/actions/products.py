"""Product questions answered from the live catalog: price, colours and stock, warranty, restock date."""
from __future__ import annotations

from typing import List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecutionRejected, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction
from rasa_sdk.types import DomainDict

from bot.actions.common import STOP_INTENTS, TASK_INTENTS, BackendAction, language, say
from cskh.formatting import day, vnd
from shop import Product, ProductNotFound, ShopBackend

EXTRA_EN = {"motor": "motor", "máy nén": "compressor", "năm": "years"}


def warranty_text(product: Product, lang: str) -> str:
    base = f"{product.warranty_months} months" if lang == "en" else f"{product.warranty_months} tháng"
    extra = product.extra_warranty or ""
    if extra and lang == "en":
        for vi, en in EXTRA_EN.items():
            extra = extra.replace(vi, en)
    return f"{base}; {extra}" if extra else base


def stock_text(product: Product, colour: Optional[str], lang: str) -> str:
    en = lang == "en"
    available = [f"{v.colour} ({v.stock})" for v in product.variants if v.stock > 0]
    if not available:
        if product.restock_date:
            return (f"Currently out of stock; expected back on {day(product.restock_date)}." if en
                    else f"Hiện sản phẩm tạm hết hàng, dự kiến có hàng lại ngày {day(product.restock_date)} ạ.")
        return "Currently out of stock." if en else "Hiện sản phẩm tạm hết hàng ạ."
    in_stock = ", ".join(available)
    if colour:
        variant = product.variant(colour)
        if variant is None:
            return (f"It doesn't come in {colour}; in stock: {in_stock}." if en
                    else f"Sản phẩm không có màu {colour}; hiện còn: {in_stock} ạ.")
        if variant.stock <= 0:
            return (f"The {variant.colour} colour is out of stock; in stock: {in_stock}." if en
                    else f"Màu {variant.colour} hiện đã hết hàng; còn hàng: {in_stock} ạ.")
        return (f"{variant.colour} is in stock ({variant.stock})." if en
                else f"Màu {variant.colour} còn hàng ({variant.stock} sản phẩm) ạ.")
    out = [v.colour for v in product.variants if v.stock <= 0]
    text = f"In stock: {in_stock}." if en else f"Còn hàng: {in_stock}."
    if out:
        text += f" Out of stock: {', '.join(out)}." if en else f" Tạm hết: {', '.join(out)}."
    return text


class ValidateProductForm(FormValidationAction):
    """Accepts a catalog product; an unknown one ends the form with the list of what the shop sells."""

    def __init__(self, backend: Optional[ShopBackend] = None) -> None:
        self._backend = backend

    def name(self) -> Text:
        return "validate_product_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        product = tracker.get_slot("product")
        activating = tracker.active_loop.get("name") != self.form_name()
        if product:
            return [SlotSet("product", product), SlotSet(REQUESTED_SLOT, None)]
        if not activating and (intent in STOP_INTENTS or (intent in TASK_INTENTS and intent != "product_info")
                               or intent in ("faq", "bot_challenge", "greet", "thank", "goodbye")):
            return [ActionExecutionRejected(self.form_name())]
        if not activating and intent in ("inform", "product_info", "nlu_fallback", "out_of_scope"):
            say(dispatcher, "utter_product_unknown")
            return [SlotSet(REQUESTED_SLOT, None)]
        return [SlotSet(REQUESTED_SLOT, "product")]


class ActionProductInfo(BackendAction):
    def name(self) -> Text:
        return "action_product_info"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        code = tracker.get_slot("product")
        events: List[EventType] = [SlotSet("product", None), SlotSet("colour", None)]
        if not code:
            return events
        try:
            product = self.backend.get_product(code)
        except ProductNotFound:
            say(dispatcher, "utter_product_unknown")
            return events
        lang = language(tracker)
        say(dispatcher, "utter_product_info", name=product.name, price=vnd(product.price),
            warranty=warranty_text(product, lang), stock=stock_text(product, tracker.get_slot("colour"), lang))
        return events
