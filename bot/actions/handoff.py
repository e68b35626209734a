"""Fallback (rephrase, then offer a person) and the hand-off message with SHOP.md's hours."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Callable, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import default_kb, say
from bot.actions.faq import answer_from_kb
from retrieval.client import KBClient

VIETNAM = timezone(timedelta(hours=7))
AGENT_HOURS = (time(8, 0), time(21, 0))


def agents_online(now: datetime) -> bool:
    local = now.astimezone(VIETNAM).time()
    return AGENT_HOURS[0] <= local < AGENT_HOURS[1]


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
        if consecutive_misses(tracker) >= 2:
            say(dispatcher, "utter_fallback_offer_human")
        else:
            say(dispatcher, "utter_fallback_rephrase")
        return []


class ActionHandoff(Action):
    """Tell the customer a person will take over, within or outside agent hours (8:00–21:00)."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self._clock = clock

    def name(self) -> Text:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        online = agents_online(self._clock())
        say(dispatcher, "utter_handoff_open" if online else "utter_handoff_closed")
        return [SlotSet("pending_confirmation", None)]
