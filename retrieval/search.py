"""The knowledge base: entries, their vectors in FAISS, BM25, and hybrid search with abstention.

Search gathers candidates from both signals (the best units of each), scores every candidate
entry by its best unit under each signal, fuses the two, and attaches a confidence. The fusion
method, its weight and the confidence calibrator are tuned on a development split by
`cskh kb eval --write` (retrieval/fusion.json); without tuned parameters for the encoder in use,
a fixed linear fusion is used and its score is the confidence.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

from cskh.entities import detect_language
from retrieval.corpus import Entry
from retrieval.encoder import Encoder
from retrieval.index import VectorIndex
from retrieval.lexical import BM25

log = logging.getLogger(__name__)

FUSION_FILE = Path(__file__).resolve().parent / "fusion.json"
CANDIDATES = 64


@dataclass(frozen=True)
class Fusion:
    """How the two signals become one ranking score and one confidence."""

    method: str = "linear"          # "linear": w·cos + (1-w)·bm25/(bm25+s); "zscore": w·z(cos) + (1-w)·z(bm25)
    dense_weight: float = 0.5
    dense_weight_en: Optional[float] = None  # English queries: the English encoder deserves more weight
    saturation: float = 6.0
    mode: str = "hybrid"            # "hybrid", "dense" or "lexical" (single-signal baselines)
    coef: Tuple[float, ...] = ()    # logistic calibrator over confidence_features(); empty = no calibrator
    intercept: float = 0.0
    threshold: float = 0.68         # answer only when confidence >= threshold
    encoder: str = ""

    @classmethod
    def for_encoder(cls, encoder: str, path: Path = FUSION_FILE) -> "Fusion":
        if path.exists():
            tuned = json.loads(path.read_text(encoding="utf-8"))
            if tuned.get("encoder") == encoder:
                tuned["coef"] = tuple(tuned.get("coef") or ())
                return cls(**tuned)
            log.warning("retrieval/fusion.json was tuned for %s, not %s: using untuned fusion", tuned.get("encoder"), encoder)
        return cls(encoder=encoder)

    def save(self, path: Path = FUSION_FILE) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Hit:
    id: str
    score: float        # fused ranking score
    dense: float        # best cosine of the entry's units
    lexical: float      # best BM25 of the entry's units
    confidence: float = 0.0
    confident: bool = False


@dataclass
class Candidates:
    """Per-entry raw signals for one query."""

    dense: Dict[str, float] = field(default_factory=dict)
    lexical: Dict[str, float] = field(default_factory=dict)
    english: bool = False

    def entries(self) -> List[str]:
        return list(set(self.dense) | set(self.lexical))


def _zscores(values: Dict[str, float], keys: List[str], floor: float) -> Dict[str, float]:
    raw = np.array([values.get(k, floor) for k in keys], dtype=np.float64)
    std = raw.std()
    return dict(zip(keys, (raw - raw.mean()) / std if std > 1e-9 else np.zeros(len(keys))))


def rank(candidates: Candidates, fusion: Fusion) -> List[Hit]:
    """Entries ordered by fused score (without confidence)."""
    keys = candidates.entries()
    if not keys:
        return []
    dense = {k: max(candidates.dense.get(k, 0.0), 0.0) for k in keys}
    lexical = {k: candidates.lexical.get(k, 0.0) for k in keys}
    w = fusion.dense_weight_en if candidates.english and fusion.dense_weight_en is not None else fusion.dense_weight
    if fusion.mode == "dense":
        scores = dense
    elif fusion.mode == "lexical":
        scores = lexical
    elif fusion.method == "zscore":
        dense_floor = min(candidates.dense.values()) if candidates.dense else 0.0
        zd = _zscores(candidates.dense, keys, dense_floor)
        zl = _zscores(lexical, keys, 0.0)
        scores = {k: w * zd[k] + (1 - w) * zl[k] for k in keys}
    else:
        scores = {k: w * dense[k] + (1 - w) * lexical[k] / (lexical[k] + fusion.saturation) for k in keys}
    hits = [Hit(k, float(scores[k]), dense[k], lexical[k]) for k in keys]
    hits.sort(key=lambda h: h.score, reverse=True)
    return hits


def confidence_features(hits: List[Hit], fusion: Fusion) -> List[float]:
    """What the calibrator sees: the top score, its margin, and the top entry's raw signals."""
    top = hits[0]
    second = hits[1].score if len(hits) > 1 else (0.0 if fusion.method == "linear" or fusion.mode != "hybrid" else -1.0)
    saturated = top.lexical / (top.lexical + fusion.saturation)
    if fusion.mode == "dense":
        return [top.dense, top.dense - second]
    if fusion.mode == "lexical":
        return [saturated, top.lexical - second]
    return [top.score, top.score - second, top.dense, saturated]


def confidence(hits: List[Hit], fusion: Fusion) -> float:
    if not hits:
        return 0.0
    if not fusion.coef:
        return hits[0].score
    z = fusion.intercept + sum(c * x for c, x in zip(fusion.coef, confidence_features(hits, fusion)))
    return 1.0 / (1.0 + math.exp(-z))


class KnowledgeBase:
    def __init__(self, encoder: Encoder, fusion: Optional[Fusion] = None, index_kind: str = "flat") -> None:
        self.encoder = encoder
        self.fusion = fusion or Fusion.for_encoder(encoder.name)
        self.entries: Dict[str, Entry] = {}
        self._units: Dict[int, Tuple[str, str]] = {}  # vector id → (entry id, text)
        self._next_id = 0
        self._index = VectorIndex(encoder.dim, kind=index_kind)
        self._bm25 = BM25()

    # ---- building and updating -----------------------------------------------------------

    def upsert(self, entries: Iterable[Entry]) -> None:
        """Add or replace entries; searchable as soon as this returns (no rebuild)."""
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
        if len(new_units) > 50:
            self._bm25.add_many((uid, text) for uid, _, text in new_units)
        else:
            for uid, _, text in new_units:
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

    def candidates(self, text: str, vector: Optional[np.ndarray] = None) -> Candidates:
        found = Candidates(english=detect_language(text) == "en")
        if not self.entries or not text.strip():
            return found
        if vector is None:
            vector = self.encoder.encode([text])[0]
        for uid, score in self._index.search(vector.reshape(1, -1), k=CANDIDATES)[0]:
            entry_id = self._units[uid][0]
            found.dense[entry_id] = max(found.dense.get(entry_id, -1.0), score)
        for uid, score in self._bm25.top(text, n=CANDIDATES):
            entry_id = self._units[uid][0]
            found.lexical[entry_id] = max(found.lexical.get(entry_id, 0.0), score)
        return found

    def search(self, text: str, k: int = 5, vector: Optional[np.ndarray] = None,
               fusion: Optional[Fusion] = None) -> List[Hit]:
        fusion = fusion or self.fusion
        hits = rank(self.candidates(text, vector), fusion)
        if not hits:
            return []
        conf = confidence(hits, fusion)
        top = Hit(hits[0].id, hits[0].score, hits[0].dense, hits[0].lexical, conf, conf >= fusion.threshold)
        return [top] + hits[1:k]

    # ---- persistence ---------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "entries.jsonl").open("w", encoding="utf-8") as handle:
            for entry in self.entries.values():
                handle.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")
        with (directory / "units.jsonl").open("w", encoding="utf-8") as handle:
            for uid, (entry_id, text) in sorted(self._units.items()):
                handle.write(json.dumps({"id": uid, "entry": entry_id, "text": text}, ensure_ascii=False) + "\n")
        self._index.save(directory, self.encoder.name)  # meta.json last: its presence marks a complete index

    @classmethod
    def load(cls, directory: Path, encoder: Encoder, fusion: Optional[Fusion] = None) -> "KnowledgeBase":
        kb = cls(encoder, fusion)
        kb._index = VectorIndex.load(directory, encoder.name, encoder.dim)
        for line in (directory / "entries.jsonl").read_text(encoding="utf-8").splitlines():
            entry = Entry.from_json(json.loads(line))
            kb.entries[entry.id] = entry
        units = [json.loads(line) for line in (directory / "units.jsonl").read_text(encoding="utf-8").splitlines()]
        for unit in units:
            kb._units[unit["id"]] = (unit["entry"], unit["text"])
        kb._bm25.add_many((unit["id"], unit["text"]) for unit in units)
        kb._next_id = max(kb._units, default=-1) + 1
        return kb

    @classmethod
    def build(cls, entries: Iterable[Entry], encoder: Encoder, fusion: Optional[Fusion] = None,
              index_kind: str = "flat") -> "KnowledgeBase":
        kb = cls(encoder, fusion, index_kind)
        kb.upsert(entries)
        return kb
