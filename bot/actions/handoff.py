"""Fallback (rephrase, then offer a person) and the hand-off message with SHOP.md's hours."""
from __future__ import annotations

from typing import List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import default_handoff, default_kb, say, settings_value
from handoff.client import HandoffClient, HandoffUnavailable
from bot.actions.faq import answer_from_kb, asked_again_after_unsure_answer, kb_handoff
from retrieval.client import KBClient

USEFUL_ENTITIES = {"order_id", "phone", "product"}


def _entities(parse_data: dict) -> set:
    return {e.get("entity") for e in parse_data.get("entities") or []} & USEFUL_ENTITIES


def not_understood(parse_data: dict) -> bool:
    """Below the NLU threshold, or "information" that carries none the shop can use."""
    intent = (parse_data.get("intent") or {}).get("name")
    return intent == "nlu_fallback" or (intent == "inform" and not _entities(parse_data))


def consecutive_misses(tracker: Tracker) -> int:
    """How many of the latest user messages in a row the assistant did not understand."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") in ("pause", "resume"):  # a person was involved: start counting afresh
            break
        if event.get("event") != "user":
            continue
        if not_understood(event.get("parse_data") or {}):
            count += 1
        else:
            break
    return count


class ActionFallback(Action):
    """Not understood (low NLU confidence, or information without a task).

    A product name alone gets product info; an order code or phone alone gets "what would you like
    to do with it"; otherwise the KB answers if it is sure, else the customer is asked to rephrase,
    and after two misses in a row is offered a person.
    """

    def __init__(self, kb: Optional[KBClient] = None) -> None:
        self._kb = kb

    def name(self) -> Text:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        found = _entities(tracker.latest_message)
        if "product" in found:
            return [FollowupAction("product_form")]
        if found:
            say(dispatcher, "utter_which_task")
            return []
        events = answer_from_kb(dispatcher, tracker, self._kb or default_kb())
        if events is not None:
            return events
        if settings_value("handoff_kb_repeat") and asked_again_after_unsure_answer(tracker):
            return kb_handoff()
        limit = settings_value("handoff_fallbacks")
        if limit and consecutive_misses(tracker) >= limit:
            return [SlotSet("handoff_reason", "nlu_fallback"), FollowupAction("action_handoff")]
        say(dispatcher, "utter_fallback_rephrase")
        return []


REASON_BY_INTENT = {"request_human": "request_human", "complain": "complain"}


class ActionHandoff(Action):
    """Queue the conversation for a person and tell the customer where they stand.

    The reason comes from the trigger that asked for it (slot handoff_reason: nlu_fallback,
    kb_no_answer, form_failures, frustration) or from the intent (request_human, complain).
    Within agent hours (8:00–21:00) the bot goes quiet (ConversationPaused) until an agent
    resolves or hands back; outside them the hand-off becomes a ticket for 8:00 next morning
    and the bot stays available.
    """

    def __init__(self, client: Optional[HandoffClient] = None) -> None:
        self._client = client

    def name(self) -> Text:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        reason = tracker.get_slot("handoff_reason") or REASON_BY_INTENT.get(intent, "request_human")
        reset = [SlotSet("handoff_reason", None), SlotSet("pending_confirmation", None)]
        try:
            ticket = (self._client or default_handoff()).start(tracker.sender_id, reason,
                                                                 detail=tracker.latest_message.get("text"),
                                                                 frustrated=reason in ("frustration", "complain"))
        except HandoffUnavailable:
            say(dispatcher, "utter_handoff_unavailable")
            return reset
        if reason == "complain":
            say(dispatcher, "utter_sorry")
        if ticket.after_hours:
            say(dispatcher, "utter_handoff_closed")
        elif ticket.status == "assigned":
            say(dispatcher, "utter_handoff_assigned")
        else:
            say(dispatcher, "utter_handoff_queued", position=ticket.position)
        dispatcher.utter_message(json_message={"handoff": {"status": ticket.status, "reason": ticket.reason}})
        return reset + ([] if ticket.after_hours else [ConversationPaused()])
