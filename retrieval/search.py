"""The knowledge base: entries, their vectors in FAISS, BM25, and hybrid search with abstention."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Tuple



from retrieval.corpus import Entry
from retrieval.encoder import Encoder
from retrieval.index import VectorIndex
from retrieval.lexical import BM25

# Fusion: dense cosine and saturated BM25, equally weighted. Fixed for now; retrieval tuning
# (weights, thresholds, fine-tuned encoder) is measured and set by `cskh kb eval`.
DENSE_WEIGHT = 0.5
LEXICAL_SATURATION = 6.0


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    dense: float
    lexical: float


class KnowledgeBase:
    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.entries: Dict[str, Entry] = {}
        self._units: Dict[int, Tuple[str, str]] = {}  # vector id → (entry id, text)
        self._next_id = 0
        self._index = VectorIndex(encoder.dim)
        self._bm25 = BM25()

    # ---- building and updating -----------------------------------------------------------

    def upsert(self, entries: Iterable[Entry]) -> None:
        entries = list(entries)
        for entry in entries:
            self.delete(entry.id)
        new_units: List[Tuple[int, str, str]] = []
        for entry in entries:
            self.entries[entry.id] = entry
            for text in entry.questions:
                new_units.append((self._next_id, entry.id, text))
                self._next_id += 1
        if not new_units:
            return
        vectors = self.encoder.encode([text for _, _, text in new_units])
        self._index.add([uid for uid, _, _ in new_units], vectors)
        for uid, entry_id, text in new_units:
            self._units[uid] = (entry_id, text)
            self._bm25.add(uid, text)

    def delete(self, entry_id: str) -> bool:
        if entry_id not in self.entries:
            return False
        del self.entries[entry_id]
        stale = [uid for uid, (eid, _) in self._units.items() if eid == entry_id]
        self._index.remove(stale)
        for uid in stale:
            del self._units[uid]
            self._bm25.remove(uid)
        return True

    # ---- search ------------------------------------------------------------------------------

    def search(self, text: str, k: int = 5) -> List[Hit]:
        if not self.entries or not text.strip():
            return []
        vector = self.encoder.encode([text])
        dense: Dict[str, float] = {}
        for uid, score in self._index.search(vector, k=max(50, k * 10))[0]:
            entry_id = self._units[uid][0]
            dense[entry_id] = max(dense.get(entry_id, -1.0), score)
        lexical: Dict[str, float] = {}
        for uid, score in self._bm25.scores(text).items():
            entry_id = self._units[uid][0]
            lexical[entry_id] = max(lexical.get(entry_id, 0.0), score)
        hits = []
        for entry_id in set(dense) | set(lexical):
            d = max(dense.get(entry_id, 0.0), 0.0)
            raw = lexical.get(entry_id, 0.0)
            lex = raw / (raw + LEXICAL_SATURATION)
            hits.append(Hit(entry_id, DENSE_WEIGHT * d + (1 - DENSE_WEIGHT) * lex, d, lex))
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    # ---- persistence ---------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._index.save(directory, self.encoder.name)
        with (directory / "entries.jsonl").open("w", encoding="utf-8") as handle:
            for entry in self.entries.values():
                handle.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")
        with (directory / "units.jsonl").open("w", encoding="utf-8") as handle:
            for uid, (entry_id, text) in sorted(self._units.items()):
                handle.write(json.dumps({"id": uid, "entry": entry_id, "text": text}, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, directory: Path, encoder: Encoder) -> "KnowledgeBase":
        kb = cls(encoder)
        kb._index = VectorIndex.load(directory, encoder.name, encoder.dim)
        for line in (directory / "entries.jsonl").read_text(encoding="utf-8").splitlines():
            entry = Entry.from_json(json.loads(line))
            kb.entries[entry.id] = entry
        for line in (directory / "units.jsonl").read_text(encoding="utf-8").splitlines():
            unit = json.loads(line)
            kb._units[unit["id"]] = (unit["entry"], unit["text"])
            kb._bm25.add(unit["id"], unit["text"])
        kb._next_id = max(kb._units, default=-1) + 1
        return kb

    @classmethod
    def build(cls, entries: Iterable[Entry], encoder: Encoder) -> "KnowledgeBase":
        kb = cls(encoder)
        kb.upsert(entries)
        return kb


