"""Every conversation, turn by turn, straight from Rasa's SQL tracker store (read with SQLAlchemy
Core; Rasa itself is not loaded) joined with the hand-off queue of the app database.

One Turn per user or bot event: who spoke, what was said, what NLU understood (intent,
confidence, entities, sentiment), what the knowledge base answered (kb_entry, kb_score), the
hand-off this turn started and the conversation's CSAT. Text and personal entities are redacted
unless the caller asks for personal data.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, and_, inspect, or_, select
from sqlalchemy.engine import Engine, make_url

from leads.redact import redact, redact_value

VIETNAM = timezone(timedelta(hours=7))
CHANNEL_PREFIXES = ("web", "telegram", "zalo")
KB_SLOTS = ("kb_entry", "kb_score")

# Rasa's SQLTrackerStore table (rasa/core/tracker_store.py, SQLTrackerStore.SQLEvent): described
# here, never created: the tracker store owns it.
_tracker_meta = MetaData()
events = Table(
    "events", _tracker_meta,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),  # the slot name for slot events
    Column("data", Text),
)

EXPORT_FIELDS = ("turn_id", "conversation_id", "channel", "time", "speaker", "agent", "text", "intent",
                 "confidence", "entities", "sentiment", "negative", "kb_entry", "kb_score", "handoff_reason",
                 "csat")


@dataclass
class Turn:
    turn_id: int
    conversation_id: str
    channel: str
    time: str
    speaker: str  # customer | bot | agent
    text: Optional[str]
    agent: Optional[str] = None
    intent: Optional[str] = None
    confidence: Optional[float] = None
    entities: Dict[str, Any] = field(default_factory=dict)
    sentiment: Optional[str] = None
    negative: Optional[float] = None
    kb_entry: Optional[str] = None
    kb_score: Optional[float] = None
    handoff_reason: Optional[str] = None
    csat: Optional[int] = None
    # not exported: for the review queue
    timestamp: float = field(default=0.0, repr=False)
    paused: bool = field(default=False, repr=False)  # the bot was paused (an agent had the conversation)
    csat_reply: bool = field(default=False, repr=False)  # the customer's answer to the CSAT question
    response: Optional[str] = field(default=None, repr=False)  # bot turns: the domain response (utter_action)

    def as_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        return {name: data[name] for name in EXPORT_FIELDS}

    def as_row(self) -> Dict[str, Any]:
        """Flat, for CSV: entities as "name=value; …"."""
        row = self.as_dict()
        row["entities"] = "; ".join(f"{k}={'|'.join(map(str, v)) if isinstance(v, list) else v}"
                                    for k, v in self.entities.items())
        return {k: "" if v is None else v for k, v in row.items()}


@dataclass(frozen=True)
class HandoffRow:
    conversation_id: str
    reason: str
    created: float  # epoch seconds
    csat: Optional[int]
    id: int


# ---- time ------------------------------------------------------------------------------------

def parse_since(value: Union[None, str, date, datetime, float]) -> Optional[float]:
    """Epoch seconds from a date (midnight, Vietnam time), an ISO date-time (Vietnam time unless it
    carries an offset) or a number."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as error:
            raise ValueError(f"--since: expected a date like 2024-05-01 or an ISO date-time, got {text!r}") \
                from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM)
    return moment.timestamp()


def iso(timestamp: Optional[float]) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, VIETNAM).isoformat(timespec="seconds")


def _epoch(moment: Optional[datetime]) -> Optional[float]:
    if moment is None:
        return None
    if isinstance(moment, str):  # some drivers hand back text
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:  # SQLite keeps the UTC wall time without its offset
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


# ---- databases -------------------------------------------------------------------------------

def _engine(url_or_engine: Union[str, Engine]) -> Optional[Engine]:
    """An engine, or None for a SQLite file that does not exist yet (nothing was ever stored)."""
    if isinstance(url_or_engine, Engine):
        return url_or_engine
    parsed = make_url(url_or_engine)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not Path(database).expanduser().exists():
            return None
    from shop import make_engine

    return make_engine(url_or_engine)


def channel_of(conversation_id: str, metadata_channel: Optional[str] = None) -> str:
    if metadata_channel:
        return str(metadata_channel)
    prefix = conversation_id.split(":", 1)[0] if ":" in conversation_id else ""
    return prefix if prefix in CHANNEL_PREFIXES else "rest"


def load_handoffs(app: Union[str, Engine, None]) -> Dict[str, List[HandoffRow]]:
    """conversation id → its hand-offs, oldest first (empty when the queue was never used)."""
    engine = _engine(app) if app is not None else None
    if engine is None or not inspect(engine).has_table("handoffs"):
        return {}
    from handoff.queue import handoffs

    found: Dict[str, List[HandoffRow]] = {}
    with engine.connect() as conn:
        rows = conn.execute(select(handoffs.c.id, handoffs.c.conversation_id, handoffs.c.reason,
                                   handoffs.c.created_at, handoffs.c.csat)
                            .order_by(handoffs.c.created_at, handoffs.c.id)).fetchall()
    for row in rows:
        found.setdefault(row.conversation_id, []).append(
            HandoffRow(row.conversation_id, row.reason, _epoch(row.created_at) or 0.0, row.csat, row.id))
    return found


# ---- turns -----------------------------------------------------------------------------------

def _entities(parse: Dict[str, Any], personal: bool) -> Dict[str, Any]:
    found: Dict[str, Any] = {}
    for entity in parse.get("entities") or []:
        name, value = entity.get("entity"), entity.get("value")
        if not name or name == "language":
            continue
        if not personal:
            value = redact_value(name, value)
        if name in found:
            previous = found[name] if isinstance(found[name], list) else [found[name]]
            if value not in previous:
                found[name] = previous + [value]
        else:
            found[name] = value
    return found


def conversation_turns(conversation_id: str, rows: Iterable[Any], handoffs: Sequence[HandoffRow] = (),
                       personal: bool = False) -> List[Turn]:
    """The turns of one conversation from its event rows (in id order)."""
    parsed: List[Tuple[Any, Dict[str, Any]]] = []
    metadata_channel = None
    for row in rows:
        try:
            data = json.loads(row.data) if row.data else {}
        except ValueError:
            data = {}
        parsed.append((row, data))
        if metadata_channel is None and row.type_name == "user":
            metadata_channel = (data.get("metadata") or {}).get("channel")
    channel = channel_of(conversation_id, metadata_channel)

    turns: List[Turn] = []
    action_bots: List[Turn] = []  # bot turns of the action being run (its kb slots follow them)
    paused = False
    clean = (lambda text: text) if personal else redact
    for row, data in parsed:
        kind = row.type_name
        timestamp = row.timestamp if row.timestamp is not None else data.get("timestamp") or 0.0
        if kind == "user":
            action_bots = []
            metadata = data.get("metadata") or {}
            if metadata.get("is_external"):  # an intent the bot triggered itself, not the customer
                continue
            parse = data.get("parse_data") or {}
            intent = parse.get("intent") or {}
            mood = metadata.get("sentiment") or {}
            turns.append(Turn(
                turn_id=row.id, conversation_id=conversation_id, channel=channel, time=iso(timestamp),
                speaker="customer", text=clean(data.get("text") or ""),
                intent=intent.get("name") or row.intent_name, confidence=intent.get("confidence"),
                entities=_entities(parse, personal), sentiment=mood.get("label"), negative=mood.get("negative"),
                timestamp=timestamp, paused=paused, csat_reply=bool(metadata.get("csat"))))
        elif kind == "bot":
            metadata = data.get("metadata") or {}
            agent = metadata.get("agent")
            turn = Turn(turn_id=row.id, conversation_id=conversation_id, channel=channel, time=iso(timestamp),
                        speaker="agent" if agent else "bot", agent=agent, text=clean(data.get("text") or ""),
                        timestamp=timestamp, paused=paused, response=metadata.get("utter_action"))
            turns.append(turn)
            if not agent:
                action_bots.append(turn)
        elif kind == "slot" and data.get("name") in KB_SLOTS:
            if action_bots:
                setattr(action_bots[-1], data["name"], data.get("value"))
        elif kind == "action":
            action_bots = []
        elif kind == "pause":
            paused = True
        elif kind == "resume":
            paused = False

    _attach_handoffs(turns, handoffs)
    csat = next((h.csat for h in reversed(handoffs) if h.csat is not None), None)
    for turn in turns:
        turn.csat = csat
    return turns


def _attach_handoffs(turns: List[Turn], handoffs: Sequence[HandoffRow]) -> None:
    """A hand-off belongs to the customer turn it followed (the last one before it was created)
    and to the bot's replies to that turn."""
    customer_times = [(i, t.timestamp) for i, t in enumerate(turns) if t.speaker == "customer"]
    for handoff in handoffs:
        started = [i for i, ts in customer_times if ts <= handoff.created]
        if not started:
            continue
        first = started[-1]
        if turns[first].handoff_reason is not None:
            continue
        for turn in turns[first:]:
            if turn is not turns[first] and turn.speaker == "customer":
                break
            if turn.speaker != "agent":
                turn.handoff_reason = handoff.reason


def read_conversations(tracker: Union[str, Engine], app: Union[str, Engine, None] = None, since=None,
                       channel: Optional[str] = None, handoff_only: bool = False,
                       personal: bool = False) -> Iterator[Tuple[str, List[Turn]]]:
    """(conversation id, all its turns) for each conversation with a turn since `since`."""
    engine = _engine(tracker)
    if engine is None or not inspect(engine).has_table("events"):
        return
    since_ts = parse_since(since)
    handoffs = load_handoffs(app)
    wanted = or_(events.c.type_name.in_(("user", "bot", "action", "pause", "resume")),
                 and_(events.c.type_name == "slot", events.c.action_name.in_(KB_SLOTS)))
    query = select(events.c.id, events.c.sender_id, events.c.type_name, events.c.timestamp,
                   events.c.intent_name, events.c.data).where(wanted)
    if since_ts is not None:
        active = select(events.c.sender_id).where(and_(events.c.timestamp >= since_ts,
                                                        events.c.type_name.in_(("user", "bot"))))
        query = query.where(events.c.sender_id.in_(active.distinct().scalar_subquery()))
    if handoff_only:
        query = query.where(events.c.sender_id.in_(list(handoffs)))
    if channel and channel != "rest":  # a cheap pre-filter; the channel is decided per conversation
        query = query.where(or_(events.c.sender_id.like(f"{channel}:%"), ~events.c.sender_id.contains(":")))
    query = query.order_by(events.c.sender_id, events.c.id)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(query)
        for sender, rows in itertools.groupby(result, key=lambda r: r.sender_id):
            turns = conversation_turns(sender, rows, handoffs.get(sender, ()), personal)
            if channel and (not turns or turns[0].channel != channel):
                continue
            if since_ts is not None:
                turns = [t for t in turns if t.timestamp >= since_ts]
            if turns:
                yield sender, turns


def read_turns(tracker_url: Union[str, Engine], app_url: Union[str, Engine, None] = None, since=None,
               channel: Optional[str] = None, handoff_only: bool = False, personal: bool = False) -> Iterator[Turn]:
    """Every turn, ordered by conversation then event id; redacted unless `personal`."""
    for _, turns in read_conversations(tracker_url, app_url, since, channel, handoff_only, personal):
        yield from turns


def find_turn(tracker: Union[str, Engine], turn_id: int) -> Optional[Dict[str, Any]]:
    """The raw event of one turn: {"conversation_id", "type", "timestamp", "data"}."""
    engine = _engine(tracker)
    if engine is None or not inspect(engine).has_table("events"):
        return None
    with engine.connect() as conn:
        row = conn.execute(select(events).where(events.c.id == int(turn_id))).first()
    if row is None:
        return None
    try:
        data = json.loads(row.data) if row.data else {}
    except ValueError:
        data = {}
    return {"conversation_id": row.sender_id, "type": row.type_name, "timestamp": row.timestamp, "data": data}


# ---- export ----------------------------------------------------------------------------------

def write_jsonl(turns: Iterable[Turn], out: IO[str]) -> int:
    count = 0
    for turn in turns:
        out.write(json.dumps(turn.as_dict(), ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(turns: Iterable[Turn], out: IO[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=list(EXPORT_FIELDS), lineterminator="\n")
    writer.writeheader()
    count = 0
    for turn in turns:
        writer.writerow(turn.as_row())
        count += 1
    return count


def export(turns: Iterable[Turn], out: IO[str], fmt: str = "jsonl") -> int:
    if fmt == "jsonl":
        return write_jsonl(turns, out)
    if fmt == "csv":
        return write_csv(turns, out)
    raise ValueError(f"unknown format {fmt!r} (jsonl or csv)")


def export_string(turns: Iterable[Turn], fmt: str = "jsonl") -> str:
    buffer = io.StringIO()
    export(turns, buffer, fmt)
    return buffer.getvalue()

