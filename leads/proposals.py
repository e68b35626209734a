"""Agent answers that resolved a hand-off, proposed to the lead as new KB entries.

When a person had to answer, the bot did not know something; the agent's words are the best first
draft of the missing KB entry. Every resolved hand-off in which an agent wrote at least once is a
proposal: the customer's question (what led to the hand-off plus what was asked while waiting or
talking to the agent) and the agent's answer, both redacted. The lead accepts it (edited into a KB
entry, live at once through the caller) or dismisses it; that decision is the only state kept, in
`kb_proposals` of the app database. The texts are read from the tracker store each time, so a
proposal always shows the conversation as it is stored.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from leads.db import engine_with
from leads.transcripts import Turn, _epoch, iso, read_conversations

STATUSES = ("pending", "accepted", "dismissed")
SOCIAL_INTENTS = frozenset({"request_human", "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge"})
MAX_LEAD_IN = 3  # unanswered customer turns just before the hand-off that belong to its question
UNSURE_RESPONSES = frozenset({"utter_faq_not_sure", "utter_fallback_rephrase"})

metadata = MetaData()
kb_proposals = Table(
    "kb_proposals", metadata,
    Column("handoff_id", Integer, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False),  # accepted | dismissed (pending: no row)
    Column("entry_id", String(128), nullable=True),
    Column("decided_by", String(64), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)


class ProposalError(ValueError):
    """A proposal cannot be decided; the subclass says why."""


class UnknownProposal(ProposalError):
    """No resolved hand-off with that id."""


class AlreadyDecided(ProposalError):
    """The proposal was accepted or dismissed before."""


class EntryExists(ProposalError):
    """The KB already has an entry with the id the lead chose."""


def app_engine(app: Union[str, Engine]) -> Engine:
    return engine_with(app, metadata)


# ---- reading ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Resolved:
    id: int
    conversation_id: str
    channel: str
    reason: str
    agent: Optional[str]
    created: float
    closed: float
    csat: Optional[int]


def _resolved_handoffs(engine: Engine, handoff_id: Optional[int] = None) -> List[_Resolved]:
    from handoff.queue import HandoffQueue, handoffs

    HandoffQueue(engine)  # creates the table on a fresh database
    query = select(handoffs).where(handoffs.c.status == "resolved")
    if handoff_id is not None:
        query = query.where(handoffs.c.id == handoff_id)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(handoffs.c.id)).fetchall()
    return [_Resolved(r.id, r.conversation_id, r.channel, r.reason, r.agent, _epoch(r.created_at) or 0.0,
                      _epoch(r.closed_at) or _epoch(r.created_at) or 0.0, r.csat) for r in rows]


def _decisions(engine: Engine) -> Dict[int, Dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(kb_proposals)).fetchall()
    return {r.handoff_id: dict(r._mapping) for r in rows}


def _unanswered(turns: Sequence[Turn], index: int) -> bool:
    """The bot did not answer this customer turn: NLU fell back, or the reply was "not sure"."""
    if turns[index].intent == "nlu_fallback":
        return True
    for turn in turns[index + 1:]:
        if turn.speaker == "customer":
            break
        if turn.speaker == "bot" and turn.response in UNSURE_RESPONSES:
            return True
    return False


def question_turns(turns: Sequence[Turn], handoff: _Resolved) -> List[Turn]:
    """The customer turn that started the hand-off, the unanswered ones just before it, and every
    customer message until the hand-off was resolved (CSAT answers excluded)."""
    customers = [i for i, t in enumerate(turns) if t.speaker == "customer" and not t.csat_reply]
    started = [i for i in customers if turns[i].timestamp <= handoff.created]
    if not started:
        return []
    chosen = [started[-1]]
    for i in reversed(started[:-1]):
        if len(chosen) > MAX_LEAD_IN or turns[i].paused or not _unanswered(turns, i):
            break
        chosen.insert(0, i)
    chosen += [i for i in customers if handoff.created < turns[i].timestamp <= handoff.closed]
    return [turns[i] for i in chosen]


def agent_turns(turns: Sequence[Turn], handoff: _Resolved) -> List[Turn]:
    return [t for t in turns if t.speaker == "agent" and (handoff.agent is None or t.agent == handoff.agent)
            and handoff.created <= t.timestamp <= handoff.closed and (t.text or "").strip()]


def _suggested(asked: Sequence[Turn]) -> List[str]:
    """Phrasings worth keeping as KB questions: not "cho gặp nhân viên", greetings or thanks."""
    texts = [t.text.strip() for t in asked if (t.text or "").strip()]
    useful = [t.text.strip() for t in asked if (t.text or "").strip() and t.intent not in SOCIAL_INTENTS]
    unique: List[str] = []
    for text in useful or texts:
        if text not in unique:
            unique.append(text)
    return unique


def _public_decision(row: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    if row is None:
        return {"status": "pending", "entry_id": None, "decided_by": None, "decided_at": None}
    decided = row["decided_at"]
    return {"status": row["status"], "entry_id": row["entry_id"], "decided_by": row["decided_by"],
            "decided_at": iso(_epoch(decided)) if decided is not None else None}


def list_proposals(tracker: Union[str, Engine], app: Union[str, Engine], status: Optional[str] = None) -> List[Dict[str, Any]]:
    """Every proposal (or those with `status`), the latest resolved first; texts redacted."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    engine = app_engine(app)
    resolved = _resolved_handoffs(engine)
    decisions = _decisions(engine)
    by_conversation: Dict[str, List[_Resolved]] = {}
    for handoff in resolved:
        decision = _public_decision(decisions.get(handoff.id))
        if status is None or decision["status"] == status:
            by_conversation.setdefault(handoff.conversation_id, []).append(handoff)
    if not by_conversation:
        return []

    found: List[Dict[str, Any]] = []
    for conversation_id, turns in read_conversations(tracker, engine, handoff_only=True):
        for handoff in by_conversation.get(conversation_id, ()):
            answers = agent_turns(turns, handoff)
            if not answers:
                continue
            asked = question_turns(turns, handoff)
            found.append({
                "handoff_id": handoff.id, "conversation_id": conversation_id,
                "channel": turns[0].channel if turns else handoff.channel, "reason": handoff.reason,
                "question": "\n".join(t.text.strip() for t in asked if (t.text or "").strip()),
                "questions": _suggested(asked),
                "answer": "\n".join(t.text.strip() for t in answers),
                "agent": handoff.agent, "resolved_at": iso(handoff.closed), "csat": handoff.csat,
                **_public_decision(decisions.get(handoff.id)),
            })
    found.sort(key=lambda p: (p["resolved_at"], p["handoff_id"]), reverse=True)
    return found


# ---- deciding --------------------------------------------------------------------------------

def _decide(engine: Engine, handoff_id: int, status: str, by: str, entry_id: Optional[str] = None) -> Dict[str, Any]:
    if not _resolved_handoffs(engine, int(handoff_id)):
        raise UnknownProposal(f"no resolved hand-off {handoff_id}")
    row = {"handoff_id": int(handoff_id), "status": status, "entry_id": entry_id, "decided_by": by or "unknown",
           "decided_at": datetime.now(timezone.utc)}
    try:
        with engine.begin() as conn:  # the primary key makes the first decision the only one
            conn.execute(kb_proposals.insert().values(**row))
    except IntegrityError:
        raise AlreadyDecided(f"proposal {handoff_id} was already decided") from None
    return {"handoff_id": int(handoff_id), **_public_decision(row)}


def _undo(engine: Engine, handoff_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(kb_proposals.delete().where(kb_proposals.c.handoff_id == int(handoff_id)))


def accept(app: Union[str, Engine], handoff_id: int, entry, by: str, store=None,
           existing_ids: Iterable[str] = ()) -> Dict[str, Any]:
    """Mark the proposal accepted as `entry` (a retrieval.corpus.Entry) and persist the entry as a KB
    override. `store`: the OverrideStore to write to (default: one on `app`); `existing_ids`: the
    ids the live KB holds (an entry id is never silently replaced). Making the entry searchable in
    a running KB (KnowledgeBase.upsert) is the caller's part."""
    from retrieval.overrides import OverrideStore

    engine = app_engine(app)
    store = store or OverrideStore(engine)
    overridden = store.all()
    if entry.id in set(existing_ids) or overridden.get(entry.id) is not None:
        raise EntryExists(f"KB entry {entry.id} exists; choose another id")
    decided = _decide(engine, handoff_id, "accepted", by, entry.id)
    try:
        store.put(entry)
    except Exception:
        _undo(engine, handoff_id)  # not accepted after all: it can be tried again
        raise
    return decided


def dismiss(app: Union[str, Engine], handoff_id: int, by: str) -> Dict[str, Any]:
    """Mark the proposal dismissed (it stays listed under status=dismissed)."""
    return _decide(app_engine(app), handoff_id, "dismissed", by)
