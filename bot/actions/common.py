"""What every action shares: the lazily created clients, replies in the customer's language,
and the form validation base that verifies an order (code AND phone) before anything else."""
from __future__ import annotations

import abc
import logging
from functools import lru_cache
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecutionRejected, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction
from rasa_sdk.types import DomainDict

from cskh import entities
from cskh.settings import get_settings
from handoff.client import HandoffClient
from retrieval.client import KBClient
from shop import Order, ShopBackend, ShopError, SqlShopBackend, VerificationFailed, make_engine

log = logging.getLogger(__name__)

# Intents that mean "not an answer to the form's question".
STOP_INTENTS = {"deny", "request_human", "complain"}
TASK_INTENTS = {"order_status", "order_cancel", "order_change", "return_request", "warranty_claim", "product_info"}
CHAT_INTENTS = {"faq", "bot_challenge", "out_of_scope", "greet", "thank", "goodbye"}
FREE_TEXT_SLOTS = {"address", "delivery_time", "fault"}
# Slots of one request; cleared when the request is done so the next one starts clean.
REQUEST_SLOTS = ["handoff_reason", "change_field", "address", "new_phone", "delivery_time", "product", "colour", "quantity",
                 "return_reason", "box_state", "resolution", "fault", "invalid_attempts", "pending_confirmation"]


@lru_cache
def default_backend() -> ShopBackend:
    return SqlShopBackend(make_engine(get_settings().database_url))


@lru_cache
def default_kb() -> KBClient:
    return KBClient(get_settings().kb_search_url)


@lru_cache
def default_handoff() -> HandoffClient:
    settings = get_settings()
    return HandoffClient(settings.handoff_start_url, settings.admin_token)


def settings_value(name: str) -> Any:
    return getattr(get_settings(), name)


def say(dispatcher: CollectingDispatcher, response: str, **values: Any) -> None:
    """Send a domain response; Rasa picks the variant for the customer's language slot."""
    dispatcher.utter_message(response=response, **values)


def language(tracker: Tracker) -> str:
    return tracker.get_slot("language") or "vi"


def clear_request_slots() -> List[EventType]:
    return [SlotSet(slot, None) for slot in REQUEST_SLOTS]


def verified_order(tracker: Tracker, backend: ShopBackend) -> Optional[Order]:
    """The order whose code and phone the customer proved in this conversation, fresh from the backend."""
    code, phone = tracker.get_slot("verified_order"), tracker.get_slot("verified_phone")
    if not code or not phone:
        return None
    try:
        return backend.get_order(code, phone)
    except VerificationFailed:
        return None


class UsesBackend:
    """The shop backend given at construction (tests), or the lazily created default."""

    def __init__(self, backend: Optional[ShopBackend] = None) -> None:
        self._backend = backend

    @property
    def backend(self) -> ShopBackend:
        return self._backend or default_backend()


class BackendAction(UsesBackend, Action, abc.ABC):
    """An action that talks to the shop backend."""

    @abc.abstractmethod
    def name(self) -> Text: ...


class OrderAction(BackendAction, abc.ABC):
    """Acts on the order the customer verified in this conversation, looked up fresh."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if tracker.get_slot("handoff_reason") == "form_failures":  # the form gave up: a person takes over
            return [FollowupAction("action_handoff")]
        order = verified_order(tracker, self.backend)
        if order is None:
            say(dispatcher, "utter_verification_failed")
            return clear_request_slots()
        return await self.act(order, language(tracker), dispatcher, tracker)

    @abc.abstractmethod
    async def act(self, order: Order, lang: str, dispatcher: CollectingDispatcher,
                  tracker: Tracker) -> List[EventType]: ...


def completed(reference: Optional[str]) -> List[EventType]:
    """Events that end a request: its slots cleared, its reference remembered."""
    return clear_request_slots() + ([SlotSet("last_reference", reference)] if reference else [])


class OrderFormValidation(UsesBackend, FormValidationAction, abc.ABC):
    """Validates one turn of an order form.

    Order code and phone are checked together against the backend before any other slot is
    accepted, and nothing about the order is revealed until both match. Subclasses add the
    slots of their own request in `extra_slots` and `validate_extra`.
    """

    trigger_intent: Text = ""
    own_slots: List[str] = []  # every slot this form may ask after verification

    @abc.abstractmethod
    def name(self) -> Text: ...

    def extra_slots(self, order: Order, slots: Dict[str, Any]) -> List[str]:
        """Slots still needed after verification (asked in this order)."""
        return []

    def validate_extra(self, slot: str, value: Any, text: str, order: Order, slots: Dict[str, Any],
                       dispatcher: CollectingDispatcher) -> Dict[str, Any]:
        """Validate one extracted or free-text value; return slot updates ({slot: None} rejects)."""
        return {slot: value}

    def stop_early(self, order: Order) -> bool:
        """True when the request cannot go on (the submit action then explains why)."""
        return False

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        text = tracker.latest_message.get("text") or ""
        requested = tracker.get_slot(REQUESTED_SLOT)
        candidates: Dict[str, Any] = dict(tracker.slots_to_validate())
        candidates.pop(REQUESTED_SLOT, None)
        activating = tracker.active_loop.get("name") != self.form_name()

        by_entity = bool(requested) and candidates.get(requested) is not None
        if requested in FREE_TEXT_SLOTS and not by_entity and not activating:
            candidates[requested] = text.strip()
        confidence = float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)
        if not activating and self._is_interruption(intent, confidence, requested, by_entity):
            return [ActionExecutionRejected(self.form_name())]

        slots = dict(tracker.slots)
        updates: Dict[str, Any] = {}
        if requested == "new_phone" and "phone" in candidates:
            updates["new_phone"] = candidates.pop("phone")
            updates["phone"] = slots.get("verified_phone")

        updates.update(self._verify(candidates, slots, dispatcher))
        slots.update(updates)

        order = verified_order(_with_slots(tracker, slots), self.backend) if slots.get("verified_order") else None
        if order is not None and activating:
            candidates.update({s: slots[s] for s in self.own_slots if slots.get(s) is not None and s not in candidates})
        if order is not None:
            for slot, value in candidates.items():
                if slot in ("order_id", "phone") or value is None:
                    continue
                result = self.validate_extra(slot, value, text, order, slots, dispatcher)
                updates.update(result)
                slots.update(result)

        accepted = {k: v for k, v in updates.items() if v is not None}
        if not accepted and requested and not activating:
            if not dispatcher.messages:
                say(dispatcher, f"utter_invalid_{requested}" if requested in ("order_id", "phone") else "utter_fallback_rephrase")
            updates["invalid_attempts"] = int(slots.get("invalid_attempts") or 0) + 1
            limit = settings_value("handoff_form_failures")
            if limit and updates["invalid_attempts"] >= limit:
                return [SlotSet(k, v) for k, v in updates.items()] + [
                    SlotSet("handoff_reason", "form_failures"), SlotSet(REQUESTED_SLOT, None)]

        events: List[EventType] = [SlotSet(k, v) for k, v in updates.items()]
        if order is not None and self.stop_early(order):
            return events + [SlotSet(REQUESTED_SLOT, None)]
        required = ["order_id", "phone"] + (self.extra_slots(order, slots) if order is not None else [])
        next_slot = next((s for s in required if slots.get(s) is None), None)
        return events + [SlotSet(REQUESTED_SLOT, next_slot)]

    def _is_interruption(self, intent: str, confidence: float, requested: Optional[str], by_entity: bool) -> bool:
        """Whether this message is not an answer to the form's question (rules then handle it).

        A message that fills the requested slot is an answer, even if NLU heard another task in
        it ("tai nghe bị lỗi" may sound like a warranty claim while a return asks why; "tủ không
        lạnh nữa" like a cancellation while a warranty claim asks for the fault); only a confident
        other task that merely repeats the order code or phone switches tasks. Chit-chat and
        questions fill only slots that an entity filled, never free-text ones.
        """
        if intent in STOP_INTENTS:
            return True
        if intent in CHAT_INTENTS:
            return not by_entity
        if intent in TASK_INTENTS and intent != self.trigger_intent:
            answered = by_entity or requested in FREE_TEXT_SLOTS
            return not answered or (requested in ("order_id", "phone") and confidence >= 0.8)
        return False

    def _verify(self, candidates: Dict[str, Any], slots: Dict[str, Any],
                dispatcher: CollectingDispatcher) -> Dict[str, Any]:
        updates: Dict[str, Any] = {}
        if "order_id" in candidates:
            code = entities.normalize_order_code(str(candidates["order_id"] or ""))
            updates["order_id"] = code
            if code is None:
                say(dispatcher, "utter_invalid_order_id")
        if "phone" in candidates:
            phone = entities.normalize_phone(str(candidates["phone"] or ""))
            updates["phone"] = phone
            if phone is None:
                say(dispatcher, "utter_invalid_phone")
        code = updates.get("order_id", slots.get("order_id"))
        phone = updates.get("phone", slots.get("phone"))
        if (code, phone) == (slots.get("verified_order"), slots.get("verified_phone")) or not code or not phone:
            return updates
        try:
            self.backend.get_order(code, phone)
        except VerificationFailed:
            say(dispatcher, "utter_verification_failed")
            return {**updates, "order_id": None, "phone": None, "verified_order": None, "verified_phone": None}
        except ShopError:
            log.exception("order lookup failed")
            say(dispatcher, "utter_backend_error")
            return {**updates, "order_id": None, "phone": None}
        return {**updates, "verified_order": code, "verified_phone": phone}


def _with_slots(tracker: Tracker, slots: Dict[str, Any]) -> Tracker:
    copy = tracker.copy()
    copy.slots = dict(slots)
    return copy
