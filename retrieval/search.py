"""The knowledge base: entries, their vectors in FAISS, BM25, and hybrid search with abstention.

Search gathers candidates from both signals (the best units of dense search and of BM25 over
syllables and bigrams). By default a learned ranker
(retrieval/ranker.py, parameters in retrieval/ranker.json) scores every candidate entry from
per-candidate features of all of them and gives the calibrated confidence. Without a tuned
ranker for the encoder in use, the entries are scored by their best unit under each of the two
main signals and fused (retrieval/fusion.json; both files are written by `cskh kb eval --write`,
tuned on the development split); without tuned fusion either, a fixed linear fusion is used and
its score is the confidence.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from cskh.entities import detect_language
from retrieval.corpus import Entry
from retrieval.encoder import Encoder
from retrieval.index import VectorIndex
from retrieval.lexical import BM25, char_trigrams
from retrieval.ranker import QueryView, Ranker, Tail, candidate_features, last_sentence

log = logging.getLogger(__name__)

FUSION_FILE = Path(__file__).resolve().parent / "fusion.json"
CANDIDATES = 64
# A query whose vector equals one of an entry's own phrasings (the same text once normalised and,
# for the encoder, accent-folded) is answered with that entry: the learned ranker never trains on
# such queries (its pseudo-queries are held out of the index) and ranks them poorly ("phí ship").
EXACT_COSINE = 0.999
EXACT_CONFIDENCE = 0.99


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
    """Per-entry raw signals for one query (and, for the ranker, the unit hits behind them)."""

    dense: Dict[str, float] = field(default_factory=dict)
    lexical: Dict[str, float] = field(default_factory=dict)
    english: bool = False
    dense_units: List[Tuple[int, float]] = field(default_factory=list)
    lexical_units: List[Tuple[int, float]] = field(default_factory=list)
    query: Optional[QueryView] = None
    vector: Optional[np.ndarray] = None

    def entries(self) -> List[str]:
        return list(set(self.dense) | set(self.lexical))


def _zscores(values: Dict[str, float], keys: List[str], floor: float) -> Dict[str, float]:
    raw = np.array([values.get(k, floor) for k in keys], dtype=np.float64)
    std = raw.std()
    return dict(zip(keys, (raw - raw.mean()) / std if std > 1e-9 else np.zeros(len(keys))))


def rank(candidates: Candidates, fusion: Fusion) -> List[Hit]:
    """Entries ordered by fused score (without confidence); ties in id order, so runs agree."""
    keys = sorted(candidates.entries())
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


_TUNED = object()  # KnowledgeBase(ranker=...) default: the tuned ranker for the encoder, if any


class KnowledgeBase:
    def __init__(self, encoder: Encoder, fusion: Optional[Fusion] = None, index_kind: str = "flat",
                 ranker: object = _TUNED, trigrams: bool = False) -> None:
        """`ranker`: a Ranker, None for fusion only, or by default the tuned one for this encoder
        (retrieval/ranker.json). `trigrams`: keep a character-trigram index (for rankers that use
        TRIGRAM_FEATURES; implied by such a ranker)."""
        self.encoder = encoder
        self.fusion = fusion or Fusion.for_encoder(encoder.name)
        tuned = Ranker.for_encoder(encoder.name) if ranker is _TUNED else ranker
        self.ranker: Optional[Ranker] = tuned  # type: ignore[assignment]
        self.entries: Dict[str, Entry] = {}
        self._units: Dict[int, Tuple[str, str]] = {}  # vector id → (entry id, text)
        self._entry_units: Dict[str, List[int]] = {}
        self._overview: Dict[str, str] = {}  # covered entry id → its overview's id (Entry.covers)
        self._entry_sum: Dict[str, np.ndarray] = {}  # sum of an entry's unit vectors (entries with 2+ units)
        self._centroids: Dict[str, Optional[np.ndarray]] = {}  # cache of normalised sums
        self._next_id = 0
        self._index = VectorIndex(encoder.dim, kind=index_kind)
        self._bm25 = BM25()
        self._trigrams: Optional[BM25] = BM25(analyzer=char_trigrams) if trigrams or (
            self.ranker is not None and self.ranker.needs_trigrams) else None

    @property
    def has_trigrams(self) -> bool:
        return self._trigrams is not None

    def _lexical_indexes(self) -> List[BM25]:
        return [self._bm25] + ([self._trigrams] if self._trigrams is not None else [])

    # ---- building and updating -----------------------------------------------------------

    def upsert(self, entries: Iterable[Entry]) -> None:
        """Add or replace entries; searchable as soon as this returns (no rebuild)."""
        entries = list(entries)
        for entry in entries:
            self.delete(entry.id)
        new_units: List[Tuple[int, str, str]] = []
        for entry in entries:
            self.entries[entry.id] = entry
            self._overview.update({child: entry.id for child in entry.covers})
            for text in entry.questions:
                new_units.append((self._next_id, entry.id, text))
                self._next_id += 1
        if not new_units:
            return
        vectors = self.encoder.encode([text for _, _, text in new_units])
        self._index.add([uid for uid, _, _ in new_units], vectors)
        for uid, entry_id, text in new_units:
            self._units[uid] = (entry_id, text)
            self._entry_units.setdefault(entry_id, []).append(uid)
        self._add_sums(new_units, vectors)
        docs = [(uid, text) for uid, _, text in new_units]
        for index in self._lexical_indexes():
            if len(new_units) > 50:
                index.add_many(docs)
            else:
                for uid, text in docs:
                    index.add(uid, text)

    def _add_sums(self, units: Sequence[Tuple[int, str, str]], vectors: Optional[np.ndarray]) -> None:
        """Keep the sum of each entry's unit vectors (its centroid direction); an entry's units
        always arrive together (upsert replaces whole entries). Single-unit entries need none."""
        if vectors is None:
            return
        for (_, entry_id, _), vector in zip(units, vectors):
            self._entry_sum[entry_id] = self._entry_sum.get(entry_id, 0.0) + vector.astype(np.float64)
        for entry_id in {e for _, e, _ in units}:
            self._centroids.pop(entry_id, None)
            if len(self._entry_units[entry_id]) < 2:
                self._entry_sum.pop(entry_id, None)

    def delete(self, entry_id: str) -> bool:
        if entry_id not in self.entries:
            return False
        for child in self.entries.pop(entry_id).covers:
            if self._overview.get(child) == entry_id:
                del self._overview[child]
        stale = self._entry_units.pop(entry_id, [])
        self._entry_sum.pop(entry_id, None)
        self._centroids.pop(entry_id, None)
        self._index.remove(stale)
        for uid in stale:
            del self._units[uid]
            for index in self._lexical_indexes():
                index.remove(uid)
        return True

    # ---- search ------------------------------------------------------------------------------

    def candidates(self, text: str, vector: Optional[np.ndarray] = None, exclude: Sequence[int] = ()) -> Candidates:
        """The unit hits of both signals and each entry's best unit under each. `exclude` leaves
        units out of the dense hits (pseudo-queries held out of the index, see `held_out`, which
        also hides them from BM25)."""
        found = Candidates(english=detect_language(text) == "en")
        if not self.entries or not text.strip():
            return found
        if vector is None:
            encode_query = getattr(self.encoder, "encode_query", None)
            vector = encode_query(text) if encode_query else self.encoder.encode([text])[0]
        skip = set(exclude)
        found.vector = vector
        found.query = QueryView.of(text, trigrams=self._trigrams is not None)
        dense = self._index.search(vector.reshape(1, -1), k=CANDIDATES + len(skip))[0]
        found.dense_units = [(uid, score) for uid, score in dense if uid not in skip][:CANDIDATES]
        found.lexical_units = self._bm25.top(text, n=CANDIDATES)
        for uid, score in found.dense_units:
            entry_id = self._units[uid][0]
            found.dense[entry_id] = max(found.dense.get(entry_id, -1.0), score)
        for uid, score in found.lexical_units:
            entry_id = self._units[uid][0]
            found.lexical[entry_id] = max(found.lexical.get(entry_id, 0.0), score)
        return found

    def _centroid(self, entry_id: str, exclude: Dict[int, Optional[np.ndarray]]) -> Optional[np.ndarray]:
        if not exclude and entry_id in self._centroids:
            return self._centroids[entry_id]
        total = self._entry_sum.get(entry_id)
        if total is None:
            return None
        units = self._entry_units.get(entry_id, ())
        removed = [exclude[uid] for uid in units if uid in exclude] if exclude else []
        if removed:
            if len(units) - len(removed) < 2 or any(v is None for v in removed):
                return None
            total = total - sum(removed)
        norm = float(np.linalg.norm(total))
        centroid = (total / norm).astype(np.float32) if norm > 1e-9 else None
        if not removed:
            self._centroids[entry_id] = centroid
        return centroid

    def features(self, found: Candidates,
                 exclude: Optional[Dict[int, Optional[np.ndarray]]] = None) -> Tuple[List[str], np.ndarray]:
        """The ranker's candidate ids and feature matrix; `exclude` maps held-out units to their
        vectors (see `held_out`)."""
        if found.query is None:
            return [], np.zeros((0, 0))
        held = exclude or {}
        return candidate_features(found.query, found.dense_units, found.lexical_units,
                                  _UnitEntry(self._units), self._entry_units, self._bm25, self._trigrams,
                                  lambda e: self._centroid(e, held), found.vector, tuple(held))

    def tail(self, text: str, vector: Optional[np.ndarray] = None) -> Tail:
        """The candidates and features of a long message's last sentence (see
        retrieval.ranker.last_sentence), or None; `vector` is that sentence's, if known."""
        sentence = last_sentence(text)
        if sentence is None:
            return None
        ids, X = self.features(self.candidates(sentence, vector))
        return (ids, X) if ids else None

    def overview_of(self, entry_id: str) -> Optional[Tuple[str, Tuple[str, ...]]]:
        """The overview `entry_id` belongs to (itself, if it is one) and what that overview
        covers, or None."""
        entry = self.entries.get(entry_id)
        if entry is not None and entry.covers:
            return entry.id, entry.covers
        overview = self.entries.get(self.covering(entry_id) or "")
        return (overview.id, overview.covers) if overview is not None else None

    def covering(self, entry_id: str) -> Optional[str]:
        """The id of the overview that covers `entry_id`, or None."""
        return self._overview.get(entry_id)

    def unit_items(self) -> List[Tuple[int, str, str]]:
        """(unit id, entry id, text) of every searchable text."""
        return [(uid, entry_id, text) for uid, (entry_id, text) in sorted(self._units.items())]

    def units_of(self, entry_id: str) -> List[int]:
        return list(self._entry_units.get(entry_id, ()))

    def unit_vectors(self, uids: Sequence[int]) -> Optional[np.ndarray]:
        return self._index.vectors(list(uids))

    def held_out(self, text: str, vector: np.ndarray, exclude: Sequence[int]) -> Tuple[List[str], np.ndarray]:
        """Features for a query as if the units `exclude` were not in the KB (their vectors,
        BM25 document frequencies and share of their entry's centroid included): the ranker's
        pseudo-queries, without touching the index."""
        vectors = self._index.vectors(list(exclude))
        held: Dict[int, Optional[np.ndarray]] = {uid: (None if vectors is None else vectors[i].astype(np.float64))
                                                 for i, uid in enumerate(exclude)}
        with contextlib.ExitStack() as stack:
            for index in self._lexical_indexes():
                stack.enter_context(index.without(exclude))
            return self.features(self.candidates(text, vector, exclude), held)

    def search(self, text: str, k: int = 5, vector: Optional[np.ndarray] = None,
               fusion: Optional[Fusion] = None, threshold: Optional[float] = None) -> List[Hit]:
        """The top k entries; the first carries the confidence and whether it clears the
        (calibrated) threshold. Uses the tuned ranker unless a fusion is asked for.

        With the ranker, the first hit is the entry to answer with (Ranker.choose): the best one,
        or the overview of its family when the best one falls short of `threshold` (the
        confidence the caller will require; the calibrated threshold by default) and the family
        clears both that and the calibrated one."""
        if fusion is None and self.ranker is not None:
            tail = None
            if self.ranker.last_sentence_weight > 0:
                sentence = last_sentence(text)
                sentence_vector = None
                encode_queries = getattr(self.encoder, "encode_queries", None)
                if sentence is not None and vector is None and encode_queries is not None:
                    vector, sentence_vector = encode_queries([text, sentence])  # one model call
                tail = self.tail(text, sentence_vector)
            return self._ranked(self.candidates(text, vector), k, self.ranker, tail, threshold)
        found = self.candidates(text, vector)
        fusion = fusion or self.fusion
        hits = rank(found, fusion)
        if not hits:
            return []
        conf = confidence(hits, fusion)
        top = Hit(hits[0].id, hits[0].score, hits[0].dense, hits[0].lexical, conf, conf >= fusion.threshold)
        return [top] + hits[1:k]

    def _ranked(self, found: Candidates, k: int, ranker: Ranker, tail: Tail = None,
                threshold: Optional[float] = None) -> List[Hit]:
        ids, X = self.features(found)
        if not ids:
            return []
        scores = ranker.ranking_scores(ids, X, tail)
        chosen, conf = ranker.choose(ids, scores, X, ranker.threshold if threshold is None else threshold,
                                     self.overview_of)
        exact = {self._units[uid][0] for uid, score in found.dense_units if score >= EXACT_COSINE}
        if len(exact) == 1 and next(iter(exact)) in ids:  # one entry's own phrasing (see EXACT_COSINE)
            i = ids.index(next(iter(exact)))
            if scores[i] < scores.max():
                scores = scores.copy()
                scores[i] = scores.max() + 1e-6
            chosen, conf = ids[i], max(conf, EXACT_CONFIDENCE)
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        if chosen in ids:  # the overview first, the rest in score order
            order.remove(ids.index(chosen))
            order.insert(0, ids.index(chosen))
        hits = [Hit(ids[i], float(scores[i]), max(found.dense.get(ids[i], 0.0), 0.0), found.lexical.get(ids[i], 0.0))
                for i in order[:k]]
        if chosen not in ids:  # an overview the search did not retrieve
            hits = [Hit(chosen, float(scores.max()), 0.0, 0.0)] + hits[:k - 1]
        hits[0] = Hit(hits[0].id, hits[0].score, hits[0].dense, hits[0].lexical, conf, conf >= ranker.threshold)
        return hits

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
    def load(cls, directory: Path, encoder: Encoder, fusion: Optional[Fusion] = None,
             ranker: object = _TUNED, trigrams: bool = False) -> "KnowledgeBase":
        kb = cls(encoder, fusion, ranker=ranker, trigrams=trigrams)
        kb._index = VectorIndex.load(directory, encoder.name, encoder.dim)
        for line in (directory / "entries.jsonl").read_text(encoding="utf-8").splitlines():
            entry = Entry.from_json(json.loads(line))
            kb.entries[entry.id] = entry
            kb._overview.update({child: entry.id for child in entry.covers})
        units = [json.loads(line) for line in (directory / "units.jsonl").read_text(encoding="utf-8").splitlines()]
        for unit in units:
            kb._units[unit["id"]] = (unit["entry"], unit["text"])
            kb._entry_units.setdefault(unit["entry"], []).append(unit["id"])
        multi = [(u["id"], u["entry"], u["text"]) for u in units if len(kb._entry_units[u["entry"]]) > 1]
        kb._add_sums(multi, kb._index.vectors([uid for uid, _, _ in multi]))
        for index in kb._lexical_indexes():
            index.add_many((unit["id"], unit["text"]) for unit in units)
        kb._next_id = max(kb._units, default=-1) + 1
        return kb

    @classmethod
    def build(cls, entries: Iterable[Entry], encoder: Encoder, fusion: Optional[Fusion] = None,
              index_kind: str = "flat", ranker: object = _TUNED, trigrams: bool = False) -> "KnowledgeBase":
        kb = cls(encoder, fusion, index_kind, ranker, trigrams)
        kb.upsert(entries)
        return kb


class _UnitEntry:
    """unit id → entry id, read straight from the KB's unit table (no copy per query)."""

    def __init__(self, units: Dict[int, Tuple[str, str]]) -> None:
        self._units = units

    def __getitem__(self, uid: int) -> str:
        return self._units[uid][0]
