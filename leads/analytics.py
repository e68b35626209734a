"""The lead's figures: containment, hand-offs by reason, KB answers and abstentions, CSAT, volume,
the most frequent questions the bot could not handle, and the last model evaluation.

Everything is computed from the tracker store (through leads.transcripts, so Rasa is not loaded and
texts come out redacted) and the app database's hand-off queue. Pure functions: `analytics()`
reads, the rest only count. Days and hours are Vietnam time (UTC+7), like the consoles show them.

Definitions (what a number means is what a lead will argue about, so they are spelled out):
  conversation   a conversation with at least one customer message in the window (CSAT answers
                 do not count); "contained" when none of its hand-offs was created in the window
  hand-off rate  hand-offs of that reason created in the window, per conversation
  KB question    a customer turn the bot answered (not an agent, not a CSAT answer) that NLU
                 called `faq`, or that was answered from the KB, or where the KB abstained
  KB answer      a bot reply to the turn carries kb_entry (slot set by bot/actions/faq.py)
  KB abstention  the reply was `utter_faq_not_sure` (BotUttered metadata utter_action), or the turn
                 started a `kb_no_answer` hand-off (asked again after an unsure answer)
  messages       customer messages, CSAT answers and messages typed to an agent included
"""
from __future__ import annotations

import logging
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine

from cskh.text import normalize_folded
from leads.transcripts import VIETNAM, Turn, _engine, _epoch, iso, read_conversations

log = logging.getLogger(__name__)

NOT_SURE = "utter_faq_not_sure"
KB_NO_ANSWER = "kb_no_answer"
KNOWN_CHANNELS = ("rest", "web", "telegram", "zalo")
TOP_UNANSWERED = 20
MAX_DAYS = 366

Tracker = Union[str, Engine]
App = Union[str, Engine, None]


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, VIETNAM).date().isoformat()


def _now_ts(now: Union[None, float, datetime]) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        return (now if now.tzinfo else now.replace(tzinfo=VIETNAM)).timestamp()
    return float(now)


# ---- one conversation, turn by turn ------------------------------------------------------------

@dataclass
class TurnOutcome:
    """What happened to one customer turn the bot (not an agent) answered."""

    turn: Turn
    kb_answered: bool = False
    kb_abstained: bool = False
    fallback: bool = False
    handoff_reason: Optional[str] = None

    @property
    def kb_question(self) -> bool:
        return self.turn.intent == "faq" or self.kb_answered or self.kb_abstained

    @property
    def unanswered_reasons(self) -> List[str]:
        reasons = []
        if self.fallback:
            reasons.append("nlu_fallback")
        if self.kb_abstained:
            reasons.append("kb_abstained")
        if self.handoff_reason:
            reasons.append("handoff")
        return reasons


def bot_turn_outcomes(turns: Sequence[Turn]) -> List[TurnOutcome]:
    """Each customer turn the bot handled, with the bot replies that followed it."""
    outcomes: List[TurnOutcome] = []
    current: Optional[TurnOutcome] = None
    for turn in turns:
        if turn.speaker == "customer":
            current = None
            if turn.paused or turn.csat_reply:
                continue  # an agent had the conversation, or it is a rating
            current = TurnOutcome(turn, fallback=turn.intent == "nlu_fallback", handoff_reason=turn.handoff_reason)
            if turn.handoff_reason == KB_NO_ANSWER:
                current.kb_abstained = True
            outcomes.append(current)
        elif turn.speaker == "bot" and current is not None:
            if turn.kb_entry:
                current.kb_answered = True
            if turn.response == NOT_SURE:
                current.kb_abstained = True
    for outcome in outcomes:
        if outcome.kb_answered:  # a confident answer wins over an earlier "not sure" in the same turn
            outcome.kb_abstained = False
    return outcomes


def customer_turns(turns: Iterable[Turn]) -> List[Turn]:
    return [t for t in turns if t.speaker == "customer"]


_PUNCTUATION = re.compile(r"[^\w\s]+")


def question_key(text: str) -> str:
    """The same question typed differently: cskh.text's folded view, punctuation and spacing ignored
    ("Phí ship?" and "phi ship" are one question)."""
    return " ".join(_PUNCTUATION.sub(" ", normalize_folded(text)).split())


# ---- the figures -------------------------------------------------------------------------------

@dataclass
class _Tally:
    conversations: int = 0
    contained: int = 0
    handoffs: Counter = field(default_factory=Counter)
    kb_questions: int = 0
    kb_answered: int = 0
    kb_abstained: int = 0
    channel_conversations: Counter = field(default_factory=Counter)
    channel_messages: Counter = field(default_factory=Counter)
    hours: Counter = field(default_factory=Counter)
    days: Counter = field(default_factory=Counter)
    unanswered: Dict[str, Dict[str, Any]] = field(default_factory=dict)


def _window_handoffs(app: App, since: float, until: float) -> Tuple[Dict[str, List[str]], List[Tuple[str, float, int]]]:
    """(conversation → reasons of its hand-offs created in the window,
        [(Vietnam day, epoch, csat)] of ratings given for hand-offs closed in the window)."""
    engine = _engine(app) if app is not None else None
    if engine is None or not inspect(engine).has_table("handoffs"):
        return {}, []
    from handoff.queue import handoffs

    with engine.connect() as conn:
        rows = conn.execute(select(handoffs.c.conversation_id, handoffs.c.reason, handoffs.c.created_at,
                                   handoffs.c.closed_at, handoffs.c.csat)).fetchall()
    reasons: Dict[str, List[str]] = defaultdict(list)
    ratings: List[Tuple[str, float, int]] = []
    for row in rows:
        created = _epoch(row.created_at) or 0.0
        if since <= created <= until:
            reasons[row.conversation_id].append(row.reason)
        if row.csat is not None:
            rated = _epoch(row.closed_at) or created  # rated right after resolution
            if since <= rated <= until:
                ratings.append((_day(rated), rated, int(row.csat)))
    return dict(reasons), ratings


def _count_conversation(tally: _Tally, conversation_id: str, turns: List[Turn], handoff_reasons: List[str]) -> None:
    said = customer_turns(turns)
    if not said:
        return
    channel = said[0].channel
    tally.channel_messages[channel] += len(said)
    for turn in said:
        moment = datetime.fromtimestamp(turn.timestamp, VIETNAM)
        tally.hours[moment.hour] += 1
        tally.days[moment.date().isoformat()] += 1
    if not any(not t.csat_reply for t in said):
        return  # only a rating in the window: no conversation with the bot
    tally.conversations += 1
    tally.channel_conversations[channel] += 1
    if not handoff_reasons:
        tally.contained += 1
    tally.handoffs.update(handoff_reasons)

    for outcome in bot_turn_outcomes(turns):
        if outcome.kb_question:
            tally.kb_questions += 1
            tally.kb_answered += outcome.kb_answered
            tally.kb_abstained += outcome.kb_abstained
        reasons = outcome.unanswered_reasons
        text = (outcome.turn.text or "").strip()
        if not reasons or not text:
            continue
        key = question_key(text) or normalize_folded(text)
        group = tally.unanswered.setdefault(key, {"text": text, "count": 0, "last": 0.0, "reasons": set(),
                                                  "handoff_reasons": set()})
        group["count"] += 1
        group["reasons"].update(reasons)
        if outcome.handoff_reason:
            group["handoff_reasons"].add(outcome.handoff_reason)
        if outcome.turn.timestamp >= group["last"]:
            group["last"], group["text"] = outcome.turn.timestamp, text  # shown as last typed


def _days(since: float, until: float) -> List[str]:
    first: date = datetime.fromtimestamp(since, VIETNAM).date()
    last: date = datetime.fromtimestamp(until, VIETNAM).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _csat_by_day(ratings: List[Tuple[str, float, int]]) -> List[Dict[str, Any]]:
    by_day: Dict[str, List[int]] = defaultdict(list)
    for day, _, rating in ratings:
        by_day[day].append(rating)
    return [{"day": day, "mean": round(sum(values) / len(values), 4), "count": len(values)}
            for day, values in sorted(by_day.items())]


def _top_unanswered(groups: Dict[str, Dict[str, Any]], limit: int = TOP_UNANSWERED) -> List[Dict[str, Any]]:
    order = ("nlu_fallback", "kb_abstained", "handoff")
    ranked = sorted(groups.values(), key=lambda g: (-g["count"], -g["last"], g["text"]))[:limit]
    return [{"text": g["text"], "count": g["count"], "last_seen": iso(g["last"]),
             "reasons": [r for r in order if r in g["reasons"]],
             "handoff_reasons": sorted(g["handoff_reasons"])} for g in ranked]


def last_model_evaluation(app: App) -> Optional[Dict[str, Any]]:
    """The latest NLU evaluation recorded by leads.models, or None while that module (or any
    evaluation) does not exist. Imported lazily: analytics must work without it."""
    engine = _engine(app) if app is not None else None
    if engine is None:
        return None
    try:
        from leads.models import last_evaluation
    except (ImportError, AttributeError):
        return None
    try:
        return last_evaluation(engine)
    except AttributeError:
        return None
    except Exception:  # the analytics page must not fail because of the evaluation store
        log.exception("reading the last model evaluation failed")
        return None


def analytics(tracker: Tracker, app: App, days: int = 30, now: Union[None, float, datetime] = None) -> Dict[str, Any]:
    """Every figure of the analytics page for the last `days` days up to `now`; JSON-able."""
    if not 1 <= int(days) <= MAX_DAYS:
        raise ValueError(f"days must be 1 to {MAX_DAYS}")
    until = _now_ts(now)
    since = until - int(days) * 86400
    handoff_reasons, ratings = _window_handoffs(app, since, until)

    tally = _Tally()
    for conversation_id, turns in read_conversations(tracker, app, since=since):
        turns = [t for t in turns if t.timestamp <= until]
        _count_conversation(tally, conversation_id, turns, handoff_reasons.get(conversation_id, []))

    from handoff.queue import REASONS

    reasons = list(REASONS) + sorted(set(tally.handoffs) - set(REASONS))
    channels = list(KNOWN_CHANNELS) + sorted(set(tally.channel_messages) - set(KNOWN_CHANNELS))
    return {
        "window": {"days": int(days), "since": iso(since), "until": iso(until)},
        "containment": {"conversations": tally.conversations, "contained": tally.contained,
                        "rate": _rate(tally.contained, tally.conversations)},
        "handoffs_by_reason": [{"reason": r, "count": tally.handoffs[r], "rate": _rate(tally.handoffs[r],
                                                                                         tally.conversations)}
                               for r in reasons],
        "kb": {"questions": tally.kb_questions, "answered": tally.kb_answered, "abstained": tally.kb_abstained,
               "answer_rate": _rate(tally.kb_answered, tally.kb_questions),
               "abstention_rate": _rate(tally.kb_abstained, tally.kb_questions)},
        "csat_by_day": _csat_by_day(ratings),
        "volume_by_channel": [{"channel": c, "conversations": tally.channel_conversations[c],
                               "messages": tally.channel_messages[c]} for c in channels],
        "volume_by_hour": [{"hour": h, "messages": tally.hours[h]} for h in range(24)],
        "volume_by_day": [{"day": d, "messages": tally.days[d]} for d in _days(since, until)],
        "top_unanswered": _top_unanswered(tally.unanswered),
        "evaluation": last_model_evaluation(app),
    }
