"""The review queue: customer turns that need a human look, the lead's labels, and applying them.

Reasons a turn is queued (each item lists all that hold):
  low_confidence   NLU confidence below 0.6
  fallback         NLU fell back (nlu_fallback)
  handoff          a hand-off started at this turn
  low_csat         the conversation was rated 2 or lower
  agent_corrected  the bot's answer to this turn was the last one before a hand-off or an agent
                   took over (the hand-off turn itself is "handoff")
  not_understood   the bot answered it by asking to rephrase, asking which task was meant, declining
                   it as out of scope, or saying the KB had no sure answer: a confident wrong intent
                   shows up here even though its confidence is high
Turns typed while an agent had the conversation (the bot paused) and CSAT answers are not queued.

Labels: one of the 17 intents, `kb:<entry-id>` (a question the KB entry answers) or `kb:new` (a
question needing a new KB entry). They are stored in the app database (`review_labels`);
`apply` turns labelled, unapplied rows into
  - examples in bot/data/nlu/reviewed.yml (the tool's own file), de-duplicated against every NLU
    file; an example some other file gives a different intent is a conflict, reported, not written;
  - question variants of existing KB entries, through the KB override store (live after restart);
  - a list of questions that need an answer written (`kb:new`, status needs_answer).
Texts are stored and written redacted: no customer's phone number or address ends up in training
data (placeholders are replaced by fixed sample values there).
"""
from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import yaml
from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text, select
from sqlalchemy.engine import Engine

from cskh.text import normalize_folded
from leads.db import engine_with
from leads.redact import ADDRESS, EMAIL, PHONE, redact
from leads.transcripts import Turn, _engine, find_turn, read_conversations

INTENTS = ("greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "request_human", "complain",
           "out_of_scope", "faq", "order_status", "order_change", "order_cancel", "return_request",
           "warranty_claim", "product_info", "inform")
LOW_CONFIDENCE = 0.6
LOW_CSAT = 2
REASONS = ("low_confidence", "fallback", "handoff", "low_csat", "agent_corrected", "not_understood")
# the responses by which the bot says it could not help with a message
NOT_UNDERSTOOD = frozenset({"utter_fallback_rephrase", "utter_which_task", "utter_out_of_scope",
                            "utter_faq_not_sure"})
CSV_COLUMNS = ("turn_id", "conversation_id", "time", "channel", "text", "predicted_intent", "confidence",
               "reasons", "label", "kb_entry", "note")
REVIEWED_FILE = "reviewed.yml"
REVIEWED_HEADER = "# written by cskh review; do not edit by hand\n"
# what placeholders become in training data: plausible, and nobody's
SAMPLE_VALUES = {PHONE: "0901234567", EMAIL: "ten@example.com", ADDRESS: "12 Lê Lợi, Quận 1"}

metadata = MetaData()
review_labels = Table(
    "review_labels", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("turn_id", Integer, nullable=False, unique=True),
    Column("conversation_id", String(256), nullable=True),
    Column("text", Text, nullable=True),                 # redacted
    Column("predicted_intent", String(64), nullable=True),
    Column("label", String(160), nullable=False),        # intent | kb:<entry-id> | kb:new
    Column("kb_entry", String(128), nullable=True),
    Column("note", Text, nullable=True),
    Column("status", String(16), nullable=False),        # labelled | applied | duplicate | conflict | needs_answer
    Column("labelled_by", String(64), nullable=False),
    Column("labelled_at", DateTime(timezone=True), nullable=False),
    Column("applied", Boolean, nullable=False, default=False),
    Column("applied_at", DateTime(timezone=True), nullable=True),
)


class LabelError(ValueError):
    """The label (or the turn it names) is not valid; the message says why."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def app_engine(app: Union[str, Engine]) -> Engine:
    return engine_with(app, metadata)


# ---- the queue -------------------------------------------------------------------------------

@dataclass
class ReviewItem:
    turn: Turn
    reasons: List[str]
    bot_kb_entry: Optional[str] = None  # the KB entry the bot answered this turn with
    bot_kb_score: Optional[float] = None
    label: Optional[str] = None
    kb_entry: Optional[str] = None
    note: Optional[str] = None
    status: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        t = self.turn
        return {"turn_id": t.turn_id, "conversation_id": t.conversation_id, "time": t.time, "channel": t.channel,
                "text": t.text, "predicted_intent": t.intent, "confidence": t.confidence, "reasons": self.reasons,
                "sentiment": t.sentiment, "handoff_reason": t.handoff_reason, "csat": t.csat,
                "bot_kb_entry": self.bot_kb_entry, "bot_kb_score": self.bot_kb_score,
                "label": self.label, "kb_entry": self.kb_entry, "note": self.note, "status": self.status}

    def as_row(self) -> Dict[str, Any]:
        t = self.turn
        row = {"turn_id": t.turn_id, "conversation_id": t.conversation_id, "time": t.time, "channel": t.channel,
               "text": t.text, "predicted_intent": t.intent,
               "confidence": "" if t.confidence is None else round(float(t.confidence), 4),
               "reasons": ";".join(self.reasons), "label": self.label, "kb_entry": self.kb_entry, "note": self.note}
        return {k: "" if v is None else v for k, v in row.items()}


def turn_reasons(turns: Sequence[Turn]) -> Dict[int, List[str]]:
    """turn id → reasons, for the customer turns of one conversation that need a look."""
    corrected: set = set()
    current: Optional[Turn] = None   # the customer turn being answered
    answered: Optional[Turn] = None  # the last customer turn the bot answered
    for turn in turns:
        if turn.speaker == "customer":
            if turn.csat_reply:
                continue
            current = turn
            if turn.handoff_reason and not turn.paused:
                if answered is not None and answered is not turn:
                    corrected.add(answered.turn_id)
                answered = None
        elif turn.speaker == "bot":
            if current is not None and not current.paused and not current.handoff_reason:
                answered = current
        elif turn.speaker == "agent":
            if answered is not None:
                corrected.add(answered.turn_id)
            answered = None

    not_understood: set = set()
    asked: Optional[Turn] = None
    for turn in turns:
        if turn.speaker == "customer":
            asked = turn
        elif turn.speaker == "bot" and asked is not None and turn.response in NOT_UNDERSTOOD:
            not_understood.add(asked.turn_id)

    reasons: Dict[int, List[str]] = {}
    for turn in turns:
        if turn.speaker != "customer" or turn.paused or turn.csat_reply or not turn.intent:
            continue
        found = []
        if turn.confidence is not None and turn.confidence < LOW_CONFIDENCE:
            found.append("low_confidence")
        if turn.intent == "nlu_fallback":
            found.append("fallback")
        if turn.handoff_reason:
            found.append("handoff")
        if turn.csat is not None and turn.csat <= LOW_CSAT:
            found.append("low_csat")
        if turn.turn_id in corrected:
            found.append("agent_corrected")
        if turn.turn_id in not_understood:
            found.append("not_understood")
        if found:
            reasons[turn.turn_id] = found
    return reasons


def _bot_answer(turns: Sequence[Turn], index: int) -> Tuple[Optional[str], Optional[float]]:
    for turn in turns[index + 1:]:
        if turn.speaker == "customer":
            break
        if turn.speaker == "bot" and turn.kb_entry:
            return turn.kb_entry, turn.kb_score
    return None, None


def labels(app: Union[str, Engine]) -> Dict[int, Dict[str, Any]]:
    engine = app_engine(app)
    with engine.connect() as conn:
        rows = conn.execute(select(review_labels)).fetchall()
    return {row.turn_id: dict(row._mapping) for row in rows}


def review_queue(tracker: Union[str, Engine], app: Union[str, Engine], since=None, channel: Optional[str] = None,
                 reasons: Optional[Iterable[str]] = None, unlabelled_only: bool = False) -> List[ReviewItem]:
    """Customer turns needing a look, oldest conversation first; redacted."""
    wanted = set(reasons or REASONS)
    stored = labels(app)
    items: List[ReviewItem] = []
    for _, turns in read_conversations(tracker, app, since=since, channel=channel):
        found = turn_reasons(turns)
        for index, turn in enumerate(turns):
            why = [r for r in found.get(turn.turn_id, []) if r in wanted]
            if not why:
                continue
            label = stored.get(turn.turn_id)
            if unlabelled_only and label:
                continue
            entry, score = _bot_answer(turns, index)
            items.append(ReviewItem(turn, why, entry, score,
                                    label=label["label"] if label else None,
                                    kb_entry=label["kb_entry"] if label else None,
                                    note=label["note"] if label else None,
                                    status=label["status"] if label else None))
    return items


# ---- labelling -------------------------------------------------------------------------------

def kb_entry_ids(faq_dir: Path, app: Union[str, Engine, None] = None) -> set:
    """Entries a question can be attached to: the KB sources plus entries added through the admin API."""
    from retrieval.corpus import load_faq_dir

    ids = {entry.id for entry in load_faq_dir(Path(faq_dir))}
    if app is not None:
        from retrieval.overrides import OverrideStore

        for entry_id, entry in OverrideStore(app_engine(app)).all().items():
            if entry is None:
                ids.discard(entry_id)
            else:
                ids.add(entry_id)
    return ids


def normalize_label(label: Optional[str], kb_entry: Optional[str], known_entries: Iterable[str]) -> Tuple[str, Optional[str]]:
    """(label, kb_entry) as stored: an intent with no entry, `kb:<id>` with the entry, or `kb:new`."""
    label = (label or "").strip()
    entry = (kb_entry or "").strip() or None
    known = set(known_entries)
    if label.lower().startswith("kb:"):
        target = label[3:].strip()
        if entry and entry != target:
            raise LabelError(f"label {label!r} and kb_entry {entry!r} disagree")
        entry = target
    elif not label and entry:
        pass  # kb_entry alone: a KB question
    elif label in INTENTS:
        if entry and label != "faq":
            raise LabelError(f"kb_entry only goes with a kb:… (or faq) label, not {label!r}")
        if not entry:
            return label, None
    elif not label:
        raise LabelError("no label")
    else:
        raise LabelError(f"unknown label {label!r}: use one of the {len(INTENTS)} intents, kb:<entry-id> or kb:new")
    if entry is None or entry == "":
        raise LabelError("kb: needs an entry id (or kb:new)")
    if entry.lower() == "new":
        return "kb:new", None
    if entry not in known:
        raise LabelError(f"no KB entry {entry!r}")
    return f"kb:{entry}", entry


def _customer_turn(tracker: Union[str, Engine], turn_id: Any) -> Dict[str, Any]:
    try:
        number = int(str(turn_id).strip())
    except ValueError:
        raise LabelError(f"turn_id {turn_id!r} is not a number") from None
    event = find_turn(tracker, number)
    if event is None:
        raise LabelError(f"no turn {number}")
    if event["type"] != "user" or (event["data"].get("metadata") or {}).get("is_external"):
        raise LabelError(f"turn {number} is not a customer message")
    event["turn_id"] = number
    return event


def _label_row(event: Dict[str, Any], label: str, entry: Optional[str], by: str, note: Optional[str]) -> Dict[str, Any]:
    intent = ((event["data"].get("parse_data") or {}).get("intent") or {}).get("name")
    return {"turn_id": event["turn_id"], "conversation_id": event["conversation_id"],
            "text": redact(event["data"].get("text") or ""), "predicted_intent": intent, "label": label,
            "kb_entry": entry, "note": (note or "").strip() or None,
            "status": "needs_answer" if label == "kb:new" else "labelled", "labelled_by": by or "unknown",
            "labelled_at": _now(), "applied": False, "applied_at": None}


def _store(conn, row: Dict[str, Any]) -> None:
    existing = conn.execute(select(review_labels).where(review_labels.c.turn_id == row["turn_id"])).first()
    if existing is None:
        conn.execute(review_labels.insert().values(**row))
        return
    if existing.label == row["label"] and existing.kb_entry == row["kb_entry"] and existing.applied:
        # the same label again: keep it applied (only the note may change)
        conn.execute(review_labels.update().where(review_labels.c.turn_id == row["turn_id"])
                     .values(note=row["note"] or existing.note))
        return
    conn.execute(review_labels.update().where(review_labels.c.turn_id == row["turn_id"]).values(**row))


def label(tracker: Union[str, Engine], app: Union[str, Engine], turn_id: Any, value: Optional[str],
          kb_entry: Optional[str] = None, by: str = "", note: Optional[str] = None,
          faq_dir: Optional[Path] = None) -> Dict[str, Any]:
    """Label one customer turn; raises LabelError (nothing stored) when the label or turn is wrong."""
    engine = app_engine(app)
    known = kb_entry_ids(faq_dir or _default_faq_dir(), engine)
    normalized, entry = normalize_label(value, kb_entry, known)
    event = _customer_turn(tracker, turn_id)
    row = _label_row(event, normalized, entry, by, note)
    with engine.begin() as conn:
        _store(conn, row)
        stored = conn.execute(select(review_labels).where(review_labels.c.turn_id == row["turn_id"])).first()
    return _public(dict(stored._mapping))


def _public(row: Dict[str, Any]) -> Dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items() if k != "id"}


def needs_answer(app: Union[str, Engine]) -> List[Dict[str, Any]]:
    engine = app_engine(app)
    with engine.connect() as conn:
        rows = conn.execute(select(review_labels).where(review_labels.c.status == "needs_answer")
                            .order_by(review_labels.c.labelled_at, review_labels.c.id)).fetchall()
    return [_public(dict(r._mapping)) for r in rows]


# ---- CSV round trip --------------------------------------------------------------------------

def export_csv(tracker: Union[str, Engine], app: Union[str, Engine], out: Union[str, Path, IO[str]], since=None,
               channel: Optional[str] = None, unlabelled_only: bool = False) -> int:
    """The queue as CSV (UTF-8 with a BOM when written to a file, so spreadsheet programs read it)."""
    items = review_queue(tracker, app, since=since, channel=channel, unlabelled_only=unlabelled_only)
    if isinstance(out, (str, Path)):
        with open(out, "w", encoding="utf-8-sig", newline="") as handle:
            return _write_items(items, handle)
    return _write_items(items, out)


def _write_items(items: Sequence[ReviewItem], handle: IO[str]) -> int:
    writer = csv.DictWriter(handle, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for item in items:
        writer.writerow(item.as_row())
    return len(items)


@dataclass
class ImportReport:
    labelled: List[int] = field(default_factory=list)     # turn ids stored
    blank: int = 0                                         # rows with no label (nothing to do)
    errors: List[Tuple[int, str]] = field(default_factory=list)  # (line number, why)


def import_csv(tracker: Union[str, Engine], app: Union[str, Engine], source: Union[str, Path, IO[str]],
               by: str = "", faq_dir: Optional[Path] = None) -> ImportReport:
    """Store the label/kb_entry/note of every filled-in row. A row with an error is reported with
    its line number and skipped whole; the valid rows are stored together."""
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8-sig", newline="") as handle:
            return import_csv(tracker, app, handle, by, faq_dir)
    engine = app_engine(app)
    known = kb_entry_ids(faq_dir or _default_faq_dir(), engine)
    report = ImportReport()
    reader = csv.DictReader(source)
    missing = [c for c in ("turn_id", "label", "kb_entry") if c not in (reader.fieldnames or [])]
    if missing:
        report.errors.append((1, f"missing column(s): {', '.join(missing)}"))
        return report
    rows: Dict[int, Dict[str, Any]] = {}
    last_line = reader.line_num
    for record in reader:
        line, last_line = last_line + 1, reader.line_num
        value, entry = (record.get("label") or "").strip(), (record.get("kb_entry") or "").strip()
        if not value and not entry:
            report.blank += 1
            continue
        try:
            normalized, kb = normalize_label(value, entry, known)
            event = _customer_turn(tracker, record.get("turn_id"))
            if event["turn_id"] in rows:
                raise LabelError(f"turn {event['turn_id']} is labelled twice in this file")
        except LabelError as error:
            report.errors.append((line, str(error)))
            continue
        rows[event["turn_id"]] = _label_row(event, normalized, kb, by, record.get("note"))
    with engine.begin() as conn:
        for row in rows.values():
            _store(conn, row)
    report.labelled = list(rows)
    return report


# ---- applying labels -------------------------------------------------------------------------

@dataclass
class ApplyReport:
    examples: List[Tuple[str, str]] = field(default_factory=list)          # (intent, text) written
    moved: List[Tuple[str, str, str]] = field(default_factory=list)        # (text, from intent, to intent)
    duplicates: List[Tuple[int, str]] = field(default_factory=list)        # (turn id, text): already there
    conflicts: List[Dict[str, Any]] = field(default_factory=list)          # not written
    kb_questions: List[Tuple[str, str]] = field(default_factory=list)      # (entry id, question) added
    needs_answer: List[Dict[str, Any]] = field(default_factory=list)       # kb:new rows
    reviewed_file: Optional[Path] = None
    entries: List[Any] = field(default_factory=list)  # the changed KB entries (retrieval.corpus.Entry), to upsert live


def training_text(text: str) -> str:
    """A redacted customer message as an NLU example: placeholders filled, one line, no entity markup."""
    for placeholder, sample in SAMPLE_VALUES.items():
        text = text.replace(placeholder, sample)
    text = re.sub(r"[\[\]]", "", text)
    return re.sub(r"\s+", " ", text).strip()


_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def _examples(block: Dict[str, Any]) -> List[str]:
    raw = block.get("examples") or ""
    if isinstance(raw, list):
        lines = [str(x) for x in raw]
    else:
        lines = [line.strip()[2:] for line in str(raw).splitlines() if line.strip().startswith("- ")]
    return [_ANNOTATION.sub(r"\1", line).strip() for line in lines]


def read_nlu(nlu_dir: Path) -> Tuple[Dict[str, Tuple[str, str]], Dict[str, List[str]]]:
    """(normalised example → (intent, file) over the other NLU files, reviewed.yml as intent → examples)."""
    others: Dict[str, Tuple[str, str]] = {}
    reviewed: Dict[str, List[str]] = {}
    for path in sorted(Path(nlu_dir).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            intent = block.get("intent") if isinstance(block, dict) else None
            if not intent:
                continue
            for example in _examples(block):
                if path.name == REVIEWED_FILE:
                    reviewed.setdefault(intent, []).append(example)
                else:
                    others.setdefault(normalize_folded(example), (intent, path.name))
    return others, reviewed


def write_reviewed(path: Path, reviewed: Dict[str, List[str]]) -> None:
    """Rasa 3 NLU YAML, intents in a stable order; written atomically."""
    order = [i for i in INTENTS if i in reviewed] + sorted(i for i in reviewed if i not in INTENTS)
    lines = [REVIEWED_HEADER, 'version: "3.1"\n', "nlu:\n"]
    for intent in order:
        examples = reviewed[intent]
        if not examples:
            continue
        lines.append(f"- intent: {intent}\n  examples: |\n")
        lines += [f"    - {example}\n" for example in examples]
    if not any(reviewed.values()):
        lines[-1] = "nlu: []\n"
    tmp = path.with_suffix(".yml.tmp")
    tmp.write_text("".join(lines), encoding="utf-8")
    os.replace(tmp, path)


def apply(app: Union[str, Engine], nlu_dir: Path, faq_dir: Path) -> ApplyReport:
    """Write every labelled, unapplied row: NLU examples, KB question variants; list kb:new rows."""
    from retrieval.corpus import Entry, load_faq_dir
    from retrieval.overrides import OverrideStore

    engine = app_engine(app)
    nlu_dir, faq_dir = Path(nlu_dir), Path(faq_dir)
    report = ApplyReport(reviewed_file=nlu_dir / REVIEWED_FILE)
    with engine.connect() as conn:
        rows = conn.execute(select(review_labels).where(review_labels.c.applied.is_(False))
                            .order_by(review_labels.c.labelled_at, review_labels.c.id)).fetchall()
    others, reviewed = read_nlu(nlu_dir)
    in_reviewed = {normalize_folded(e): intent for intent, examples in reviewed.items() for e in examples}
    store = OverrideStore(engine)
    overrides = store.all()
    sources = {entry.id: entry for entry in load_faq_dir(faq_dir)}
    changed_entries: Dict[str, Entry] = {}
    outcome: Dict[int, Tuple[str, bool]] = {}  # turn id → (status, applied)
    reviewed_changed = False

    for row in rows:
        if row.status == "needs_answer" or row.label == "kb:new":
            report.needs_answer.append(_public(dict(row._mapping)))
            continue
        text = training_text(row.text or "")
        if not text:
            report.conflicts.append({"turn_id": row.turn_id, "text": row.text, "label": row.label,
                                     "why": "empty text"})
            outcome[row.turn_id] = ("conflict", False)
            continue
        key = normalize_folded(text)
        if row.label.startswith("kb:"):
            entry_id = row.kb_entry or row.label[3:]
            entry = changed_entries.get(entry_id) or (overrides[entry_id] if entry_id in overrides
                                                      else sources.get(entry_id))
            if entry is None:
                report.conflicts.append({"turn_id": row.turn_id, "text": text, "label": row.label,
                                         "why": f"KB entry {entry_id} does not exist (any more)"})
                outcome[row.turn_id] = ("conflict", False)
                continue
            if key in {normalize_folded(q) for q in entry.questions}:
                report.duplicates.append((row.turn_id, text))
                outcome[row.turn_id] = ("duplicate", True)
                continue
            changed_entries[entry_id] = Entry(entry.id, entry.questions + (text,), entry.answers, entry.tags)
            report.kb_questions.append((entry_id, text))
            outcome[row.turn_id] = ("applied", True)
            continue

        intent = row.label
        if key in others:
            existing, filename = others[key]
            if existing == intent:
                report.duplicates.append((row.turn_id, text))
                outcome[row.turn_id] = ("duplicate", True)
            else:
                report.conflicts.append({"turn_id": row.turn_id, "text": text, "label": intent,
                                         "existing_intent": existing, "file": filename,
                                         "why": f"{filename} has it as {existing}"})
                outcome[row.turn_id] = ("conflict", False)
            continue
        if key in in_reviewed:
            previous = in_reviewed[key]
            if previous == intent:
                report.duplicates.append((row.turn_id, text))
                outcome[row.turn_id] = ("duplicate", True)
                continue
            # the tool's own file: the lead's latest decision wins
            reviewed[previous] = [e for e in reviewed[previous] if normalize_folded(e) != key]
            report.moved.append((text, previous, intent))
        else:
            report.examples.append((intent, text))
        reviewed.setdefault(intent, []).append(text)
        in_reviewed[key] = intent
        reviewed_changed = True
        outcome[row.turn_id] = ("applied", True)

    # files and overrides first; the rows are marked only once everything is written
    if reviewed_changed:
        write_reviewed(report.reviewed_file, reviewed)
    for entry in changed_entries.values():
        store.put(entry)
    report.entries = list(changed_entries.values())
    now = _now()
    with engine.begin() as conn:
        for turn_id, (status, applied) in outcome.items():
            conn.execute(review_labels.update().where(review_labels.c.turn_id == turn_id)
                         .values(status=status, applied=applied, applied_at=now if applied else None))
    return report


def _default_faq_dir() -> Path:
    from cskh.settings import get_settings

    return Path(get_settings().kb_source_dir)


def default_nlu_dir() -> Path:
    from cskh.settings import get_settings

    return Path(get_settings().project_dir) / "bot" / "data" / "nlu"


def format_report(report: ApplyReport) -> str:
    out = io.StringIO()
    if report.examples or report.moved:
        out.write(f"wrote {len(report.examples) + len(report.moved)} example(s) to {report.reviewed_file}\n")
    for intent, text in report.examples:
        out.write(f"  + {intent}: {text}\n")
    for text, before, after in report.moved:
        out.write(f"  ~ {text}: {before} → {after}\n")
    if report.kb_questions:
        out.write(f"added {len(report.kb_questions)} question(s) to KB entries (live after restart)\n")
    for entry, text in report.kb_questions:
        out.write(f"  + {entry}: {text}\n")
    if report.duplicates:
        out.write(f"{len(report.duplicates)} already in the training data (skipped)\n")
    if report.conflicts:
        out.write(f"{len(report.conflicts)} conflict(s), not written:\n")
    for c in report.conflicts:
        out.write(f"  ! turn {c['turn_id']}: {c['text']!r} labelled {c['label']}: {c['why']}\n")
    if report.needs_answer:
        out.write(f"{len(report.needs_answer)} question(s) need a new KB entry (kb:new):\n")
    for row in report.needs_answer:
        out.write(f"  ? turn {row['turn_id']}: {row['text']}\n")
    if not out.getvalue():
        out.write("nothing to apply\n")
    return out.getvalue()
