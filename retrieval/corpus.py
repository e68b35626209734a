"""KB sources: FAQ entries (question variants + answers per language) or JSONL passages."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

import yaml


@dataclass(frozen=True)
class Entry:
    """One answerable thing: an FAQ entry, or one passage of a document."""

    id: str
    questions: Tuple[str, ...]  # texts that should find this entry (variants, or the passage itself)
    answers: Dict[str, str] = field(default_factory=dict)  # language → answer text
    tags: Tuple[str, ...] = ()
    source: str = ""   # for document passages: the file they come from
    heading: str = ""  # … and the heading they sit under
    # An overview entry names the entries its answer contains ("store-locations" gives both
    # stores' addresses and hours). A short, generic question whose candidates are split among
    # them is answered with the overview (KnowledgeBase.search).
    covers: Tuple[str, ...] = ()

    def answer(self, language: str) -> str:
        return self.answers.get(language) or self.answers.get("vi") or next(iter(self.answers.values()), "")

    def to_json(self) -> dict:
        return {"id": self.id, "questions": list(self.questions), "answers": self.answers, "tags": list(self.tags),
                "source": self.source, "heading": self.heading, "covers": list(self.covers)}

    @classmethod
    def from_json(cls, data: dict) -> "Entry":
        return cls(data["id"], tuple(data["questions"]), dict(data.get("answers") or {}), tuple(data.get("tags") or ()),
                   data.get("source", ""), data.get("heading", ""), tuple(data.get("covers") or ()))


class CorpusError(ValueError):
    """The KB source is malformed (the message says where)."""


def load_faq_dir(directory: Path) -> List[Entry]:
    entries: List[Entry] = []
    seen: set = set()
    for path in sorted(directory.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for raw in data.get("entries", []):
            entry_id = raw.get("id")
            if not entry_id or entry_id in seen:
                raise CorpusError(f"{path}: missing or duplicate entry id {entry_id!r}")
            seen.add(entry_id)
            questions = raw.get("questions") or {}
            variants = [q for lang in ("vi", "en") for q in (questions.get(lang) or [])]
            answers = {lang: text for lang, text in (raw.get("answer") or {}).items() if text}
            if not variants or not answers:
                raise CorpusError(f"{path}: entry {entry_id} needs questions and an answer")
            entries.append(Entry(entry_id, tuple(variants), answers, tuple(raw.get("tags") or ()),
                                 covers=tuple(raw.get("covers") or ())))
    check_covers(entries, str(directory))
    return entries


def check_covers(entries: Iterable[Entry], where: str) -> None:
    """Every entry an overview covers exists, is not itself an overview, and has one overview."""
    by_id = {entry.id: entry for entry in entries}
    owner: Dict[str, str] = {}
    for entry in by_id.values():
        for child in entry.covers:
            if child not in by_id or child == entry.id or by_id[child].covers:
                raise CorpusError(f"{where}: {entry.id} covers {child!r}, which is missing or an overview itself")
            if child in owner:
                raise CorpusError(f"{where}: {child} is covered by both {owner[child]} and {entry.id}")
            owner[child] = entry.id


def load_jsonl(path: Path) -> List[Entry]:
    """Records {"id", "text"}: each one passage, found by its own text and answered with it."""
    entries: List[Entry] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                entry_id, text = str(record["id"]), str(record["text"])
            except (ValueError, KeyError, TypeError) as error:
                raise CorpusError(f"{path}:{number}: expected a JSON object with id and text ({error})") from error
            entries.append(Entry(entry_id, (text,), {"vi": text}))
    return entries


def load_source(path: Path) -> List[Entry]:
    """A KB source directory (FAQ *.yml files, plus documents under its docs/ folder), or a JSONL."""
    if path.is_dir():
        from retrieval.documents import load_documents

        docs = path / "docs"
        return load_faq_dir(path) + (load_documents(docs) if docs.is_dir() else [])
    if path.suffix in (".jsonl", ".json"):
        return load_jsonl(path)
    raise CorpusError(f"{path}: expected a KB source directory or a .jsonl file")


def units(entries: Iterable[Entry]) -> List[Tuple[str, str]]:
    """(entry id, text) for every searchable text; the unit's position is its vector id."""
    return [(entry.id, text) for entry in entries for text in entry.questions]
