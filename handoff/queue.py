"""The agent queue, persisted with SQLAlchemy (SQLite by default, PostgreSQL when scaled).

A claim is one conditional UPDATE (… WHERE status = 'queued'), so of two agents claiming the
same conversation at once exactly one wins, on SQLite and PostgreSQL alike. Taking the *next*
waiting hand-off (auto-assign) selects it FOR UPDATE SKIP LOCKED on PostgreSQL, so replicas
assigning at the same moment take different rows instead of fighting over the first. Priority:
frustrated customers first, then the longest waiting.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Dict, List, Optional

from sqlalchemy import (Boolean, Column, DateTime, Integer, MetaData, String, Table, Text, and_, func, select,
                        update)
from sqlalchemy.engine import Engine

metadata = MetaData()
handoffs = Table(
    "handoffs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(256), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=True),
    Column("priority", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False, index=True),  # queued | assigned | resolved | returned
    Column("agent", String(64), nullable=True, index=True),
    Column("after_hours", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("csat", Integer, nullable=True),
    Column("csat_pending", Boolean, nullable=False, default=False),
)

OPEN = ("queued", "assigned")
REASONS = ("request_human", "nlu_fallback", "kb_no_answer", "frustration", "complain", "form_failures",
           "system_error")  # system_error: the assistant could not answer a message even on a retry (cskh/recovery.py)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Handoff:
    id: int
    conversation_id: str
    channel: str
    reason: str
    detail: Optional[str]
    priority: int
    status: str
    agent: Optional[str]
    after_hours: bool
    created_at: datetime
    assigned_at: Optional[datetime]
    closed_at: Optional[datetime]
    csat: Optional[int]
    csat_pending: bool

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def waited_seconds(self, now: Optional[datetime] = None) -> float:
        end = self.assigned_at or now or _now()
        return (_aware(end) - _aware(self.created_at)).total_seconds()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class NotClaimable(Exception):
    """Someone else claimed it first, or it is no longer queued."""


class HandoffQueue:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] = _now) -> None:
        self.engine = engine
        self.clock = clock
        metadata.create_all(engine)

    # ---- reading ---------------------------------------------------------------------------

    def get(self, handoff_id: int) -> Optional[Handoff]:
        with self.engine.connect() as conn:
            row = conn.execute(select(handoffs).where(handoffs.c.id == handoff_id)).first()
        return Handoff(**row._mapping) if row else None

    def current(self, conversation_id: str) -> Optional[Handoff]:
        """The conversation's open hand-off, or its latest one awaiting a CSAT rating."""
        with self.engine.connect() as conn:
            row = conn.execute(select(handoffs).where(and_(
                handoffs.c.conversation_id == conversation_id,
                (handoffs.c.status.in_(OPEN)) | (handoffs.c.csat_pending.is_(True)),
            )).order_by(handoffs.c.id.desc())).first()
        return Handoff(**row._mapping) if row else None

    def waiting(self) -> List[Handoff]:
        """Queued hand-offs in service order."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(handoffs).where(handoffs.c.status == "queued")
                                .order_by(handoffs.c.priority.desc(), handoffs.c.id)).fetchall()
        return [Handoff(**r._mapping) for r in rows]

    def waiting_count(self) -> int:
        """How many hand-offs are queued (the metrics gauge)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(handoffs)
                                    .where(handoffs.c.status == "queued")).scalar() or 0)

    def open_items(self) -> List[Handoff]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(handoffs).where(handoffs.c.status.in_(OPEN))
                                .order_by(handoffs.c.priority.desc(), handoffs.c.id)).fetchall()
        return [Handoff(**r._mapping) for r in rows]

    def position(self, handoff_id: int) -> int:
        """1-based place in the queue (0 when not queued)."""
        ids = [h.id for h in self.waiting()]
        return ids.index(handoff_id) + 1 if handoff_id in ids else 0

    def load(self) -> Dict[str, int]:
        """Assigned conversations per agent."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(handoffs.c.agent, func.count()).where(handoffs.c.status == "assigned")
                                .group_by(handoffs.c.agent)).fetchall()
        return {agent: count for agent, count in rows}

    # ---- writing ---------------------------------------------------------------------------

    def enqueue(self, conversation_id: str, channel: str, reason: str, detail: Optional[str] = None,
                frustrated: bool = False, after_hours: bool = False) -> Handoff:
        """Queue the conversation (or return its open hand-off: one per conversation)."""
        existing = self.current(conversation_id)
        if existing is not None and existing.is_open:
            return existing
        with self.engine.begin() as conn:
            if existing is not None:  # a new hand-off supersedes a pending CSAT question
                conn.execute(update(handoffs).where(handoffs.c.id == existing.id).values(csat_pending=False))
            new_id = conn.execute(handoffs.insert().values(
                conversation_id=conversation_id, channel=channel, reason=reason, detail=detail,
                priority=1 if frustrated else 0, status="queued", after_hours=after_hours,
                created_at=self.clock(), csat_pending=False)).inserted_primary_key[0]
        return self.get(int(new_id))

    def claim(self, handoff_id: int, agent: str) -> Handoff:
        with self.engine.begin() as conn:
            won = conn.execute(update(handoffs).where(and_(handoffs.c.id == handoff_id, handoffs.c.status == "queued"))
                               .values(status="assigned", agent=agent, assigned_at=self.clock())).rowcount
        if won != 1:
            raise NotClaimable(f"hand-off {handoff_id} is no longer waiting")
        return self.get(handoff_id)

    def auto_assign(self, handoff_id: int, online_agents: List[str]) -> Optional[Handoff]:
        """Give it to the least busy online agent; None if nobody is online or it was taken."""
        if not online_agents:
            return None
        load = self.load()
        agent = min(sorted(online_agents), key=lambda a: load.get(a, 0))
        try:
            return self.claim(handoff_id, agent)
        except NotClaimable:
            return None

    def assign_next(self, agent: str, attempts: int = 5) -> Optional[Handoff]:
        """Give the agent the next waiting hand-off; None when none is waiting.

        PostgreSQL: the row is selected FOR UPDATE SKIP LOCKED (a row another transaction is
        assigning is passed over, not waited for). SQLite has no row locks (the clause is left out)
        and one writer at a time; the conditional UPDATE keeps every hand-off assigned once there
        too, and a lost race tries the next row."""
        for _ in range(attempts):
            with self.engine.begin() as conn:
                row = conn.execute(select(handoffs.c.id).where(handoffs.c.status == "queued")
                                   .order_by(handoffs.c.priority.desc(), handoffs.c.id).limit(1)
                                   .with_for_update(skip_locked=True)).first()
                if row is None:
                    return None
                won = conn.execute(update(handoffs).where(and_(handoffs.c.id == row.id,
                                                               handoffs.c.status == "queued"))
                                   .values(status="assigned", agent=agent, assigned_at=self.clock())).rowcount
            if won == 1:
                return self.get(int(row.id))
        return None

    def release(self, handoff_id: int, agent: str) -> Handoff:
        """The agent puts it back in the queue (keeps its original place)."""
        self._transition(handoff_id, agent, "queued", {"agent": None, "assigned_at": None})
        return self.get(handoff_id)

    def resolve(self, handoff_id: int, agent: str) -> Handoff:
        self._transition(handoff_id, agent, "resolved", {"closed_at": self.clock(), "csat_pending": True})
        return self.get(handoff_id)

    def hand_back(self, handoff_id: int, agent: str) -> Handoff:
        self._transition(handoff_id, agent, "returned", {"closed_at": self.clock()})
        return self.get(handoff_id)

    def _transition(self, handoff_id: int, agent: str, status: str, values: Dict[str, object]) -> None:
        with self.engine.begin() as conn:
            changed = conn.execute(update(handoffs).where(and_(
                handoffs.c.id == handoff_id, handoffs.c.status == "assigned", handoffs.c.agent == agent))
                .values(status=status, **values)).rowcount
        if changed != 1:
            raise NotClaimable(f"hand-off {handoff_id} is not assigned to {agent}")

    def record_csat(self, handoff_id: int, rating: int) -> None:
        if not 1 <= rating <= 5:
            raise ValueError("CSAT is 1 to 5")
        with self.engine.begin() as conn:
            conn.execute(update(handoffs).where(handoffs.c.id == handoff_id).values(csat=rating, csat_pending=False))

    def skip_csat(self, handoff_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(handoffs).where(handoffs.c.id == handoff_id).values(csat_pending=False))

    # ---- figures ---------------------------------------------------------------------------

    def stats(self, sla_seconds: float = 120.0) -> Dict[str, float]:
        with self.engine.connect() as conn:
            rows = [Handoff(**r._mapping) for r in conn.execute(select(handoffs)).fetchall()]
        now = self.clock()
        claimed = [h for h in rows if h.assigned_at]
        waits = sorted(h.waited_seconds(now) for h in claimed)
        rated = [h.csat for h in rows if h.csat]
        return {
            "queued": sum(h.status == "queued" for h in rows),
            "assigned": sum(h.status == "assigned" for h in rows),
            "total": len(rows),
            "median_wait_s": waits[len(waits) // 2] if waits else 0.0,
            "within_sla": (sum(w <= sla_seconds for w in waits) / len(waits)) if waits else 1.0,
            "csat_mean": (sum(rated) / len(rated)) if rated else 0.0,
            "csat_count": len(rated),
        }
