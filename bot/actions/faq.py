"""Informational questions answered from the knowledge base (hybrid FAISS + lexical search)."""
from __future__ import annotations

import logging
from typing import List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.common import default_kb, language, say, settings_value
from retrieval.client import KBClient, KBUnavailable

log = logging.getLogger(__name__)


def asked_again_after_unsure_answer(tracker: Tracker) -> bool:
    """The bot's last reply was "not sure" from the KB, and the customer wrote again."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return False
            seen_user = True
        elif event.get("event") == "bot" and seen_user:
            return (event.get("metadata") or {}).get("utter_action") == "utter_faq_not_sure"
    return False


def answer_from_kb(dispatcher: CollectingDispatcher, tracker: Tracker, kb: KBClient,
                   threshold: Optional[float] = None) -> Optional[List[EventType]]:
    """Answer the latest message from the KB if it is confident enough; None otherwise.

    threshold None: the KB's own (strict) calibrated threshold; a number: that confidence."""
    text = tracker.latest_message.get("text") or ""
    try:
        hit = kb.best(text) if threshold is None else kb.best(text, threshold=threshold)
    except KBUnavailable:
        log.warning("knowledge base unavailable")
        return None
    if hit is None or not (hit.confident if threshold is None else hit.score >= threshold):
        return None
    lang = language(tracker)
    dispatcher.utter_message(text=hit.answer(lang))
    return [SlotSet("kb_entry", hit.id), SlotSet("kb_score", round(hit.score, 4))]


class ActionKBFirst(Action):
    """Greetings and out-of-scope messages: answer from the KB when it is sure, else the usual reply.

    NLU only knows the topics it was trained on; a FAQ entry added through the admin API
    ("shop có gói quà không?") can land in greet or out_of_scope. The KB's calibrated confidence
    decides instead, so new entries are answerable without retraining Rasa.
    """

    REPLIES = {"greet": "utter_greet", "out_of_scope": "utter_out_of_scope"}

    def __init__(self, kb: Optional[KBClient] = None) -> None:
        self._kb = kb

    def name(self) -> Text:
        return "action_kb_first"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        events = answer_from_kb(dispatcher, tracker, self._kb or default_kb())
        if events is not None:
            return events
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        say(dispatcher, self.REPLIES.get(intent, "utter_out_of_scope"))
        return []


class ActionAnswerFAQ(Action):
    def __init__(self, kb: Optional[KBClient] = None) -> None:
        self._kb = kb

    def name(self) -> Text:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        events = answer_from_kb(dispatcher, tracker, self._kb or default_kb(), settings_value("kb_faq_threshold"))
        if events is not None:
            return events
        if settings_value("handoff_kb_repeat") and asked_again_after_unsure_answer(tracker):
            return kb_handoff()
        say(dispatcher, "utter_faq_not_sure")
        return [SlotSet("kb_entry", None), SlotSet("kb_score", None)]


def kb_handoff() -> List[EventType]:
    """Asked again and still no confident answer: a person should take it."""
    return [SlotSet("handoff_reason", "kb_no_answer"), FollowupAction("action_handoff")]
