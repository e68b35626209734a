"""Fallback (rephrase, then offer a person) and the hand-off message with SHOP.md's hours."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Callable, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
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


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many of the latest user messages in a row fell below the NLU threshold."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if ((event.get("parse_data") or {}).get("intent") or {}).get("name") == "nlu_fallback":
            count += 1
        else:
            break
    return count


class ActionFallback(Action):
    """Low NLU confidence: answer from the KB if it is sure, else ask to rephrase; twice → offer a person."""

    def __init__(self, kb: Optional[KBClient] = None) -> None:
        self._kb = kb

    def name(self) -> Text:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        events = answer_from_kb(dispatcher, tracker, self._kb or default_kb())
        if events is not None:
            return events
        if consecutive_fallbacks(tracker) >= 2:
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
