"""A learned ranker over per-candidate features of all signals, and its calibrated confidence.

For one query, every entry with a unit among the dense or the BM25 top-K is a candidate. Each
candidate is described by (FEATURES):

- dense: its best unit's cosine, z-score and margin to the best candidate, reciprocal rank, its
  second-best unit, how many of its units were retrieved, and the cosine with the centroid of all
  its phrasings;
- lexical (BM25 over folded syllables and bigrams): the same statistics of its best unit, relative
  to the best candidate, and whether BM25 found it at all;
- term coverage: the IDF-weighted share of the query's terms that its phrasings contain (any of
  them, and on average), and the largest share of the query's syllable bigrams in one phrasing;
- optionally (TRIGRAM_FEATURES, when the KB keeps a character-trigram index): the largest share
  of the query's folded character trigrams one of its phrasings contains. Measured by
  `cskh kb eval` as an ablation; it did not help on the development split, so the product's
  ranker does not use it and the product KB keeps no trigram index.

Scores are a linear model over standardised features (pointwise logistic regression); the
confidence is a logistic calibrator over the top candidate's score, its margin, its softmax share
and a few raw features. Both are fitted by `fit()` on pseudo-queries from the KB itself: each
phrasing held out from the index and searched for (leave-one-phrasing-out: is the top entry
right?) and each entry held out entirely (leave-one-entry-out: the right answer is not in the KB).
The scorer never sees an evaluation question; the calibrator also learns from the development
split (real questions, unanswerable ones included, weighted as much as all pseudo-queries
together), and `cskh kb eval --write` picks the answer threshold there and saves everything to
retrieval/ranker.json. The test split is used for nothing but figures.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

log = logging.getLogger(__name__)

RANKER_FILE = Path(__file__).resolve().parent / "ranker.json"

GROUPS: Dict[str, Tuple[str, ...]] = {
    "dense": ("d_max", "d_z", "d_gap", "d_rrank", "d_second", "d_count"),
    "centroid": ("c_cos", "c_z", "c_gap"),
    "lexical": ("l_sat", "l_rel", "l_z", "l_rrank", "l_second_rel", "l_count", "l_missing"),
    "coverage": ("cover", "cover_gap", "cover_frac", "cover_frac_gap"),
    "bigrams": ("b_contain", "b_gap"),
}
TRIGRAM_FEATURES: Tuple[str, ...] = ("t_contain", "t_gap")
FEATURES: Tuple[str, ...] = tuple(name for group in GROUPS.values() for name in group)  # the product's
ALL_FEATURES: Tuple[str, ...] = FEATURES + TRIGRAM_FEATURES  # the columns candidate_features computes
CONFIDENCE_FEATURES: Tuple[str, ...] = (
    "score", "margin", "softmax", "d_max", "c_cos", "l_sat", "cover", "cover_frac", "b_contain",
)

UnitHits = Sequence[Tuple[int, float]]


@dataclass
class QueryView:
    """What the features need to know about the query itself."""

    terms: List[str]            # distinct lexical terms (folded syllables and bigrams)
    trigrams: List[str]         # distinct folded character trigrams (only when a trigram index is kept)

    @classmethod
    def of(cls, text: str, trigrams: bool = False) -> "QueryView":
        from retrieval.lexical import char_trigrams, terms

        return cls(sorted(set(terms(text))), sorted(set(char_trigrams(text))) if trigrams else [])


class Presence:
    """Which query terms each document contains, and their IDF (both BM25 indexes answer this)."""

    def presence(self, doc_ids: Sequence[int], query_terms: Sequence[str]) -> np.ndarray: ...  # pragma: no cover

    def idf(self, term: str) -> float: ...  # pragma: no cover


def _z(values: np.ndarray) -> np.ndarray:
    std = values.std()
    return (values - values.mean()) / std if std > 1e-9 else np.zeros_like(values)


def _rrank(values: np.ndarray) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    return 1.0 / ranks


def _by_entry(hits: UnitHits, unit_entry: Mapping[int, str], skip: set) -> Dict[str, List[float]]:
    grouped: Dict[str, List[float]] = {}
    for uid, score in hits:
        if uid not in skip:
            grouped.setdefault(unit_entry[uid], []).append(float(score))
    return grouped


def _best_two(grouped: Dict[str, List[float]], ids: Sequence[str],
              floor: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    best, second, count = np.full(len(ids), floor), np.full(len(ids), floor), np.zeros(len(ids))
    for i, e in enumerate(ids):
        values = sorted(grouped.get(e, ()), reverse=True)
        if values:
            best[i], count[i] = values[0], len(values)
            if len(values) > 1:
                second[i] = values[1]
    return best, second, count


def candidate_features(query: QueryView, dense_hits: UnitHits, lexical_hits: UnitHits,
                       unit_entry: Mapping[int, str], entry_units: Mapping[str, Sequence[int]],
                       lexical: Presence, trigram: Optional[Presence] = None,
                       centroid: Optional[Callable[[str], Optional[np.ndarray]]] = None,
                       query_vector: Optional[np.ndarray] = None,
                       exclude: Sequence[int] = ()) -> Tuple[List[str], np.ndarray]:
    """Candidate entry ids (sorted) and their feature matrix, one row per candidate, columns
    ALL_FEATURES (the trigram columns are 0 without a trigram index).

    `exclude` names units to treat as absent (held-out pseudo-queries); callers also remove them
    from the hits and from the BM25 statistics."""
    skip = set(exclude)
    dense = _by_entry(dense_hits, unit_entry, skip)
    lex = _by_entry(lexical_hits, unit_entry, skip)
    ids = sorted(set(dense) | set(lex))
    if not ids:
        return [], np.zeros((0, len(ALL_FEATURES)))
    n = len(ids)
    dense_floor = min((s for v in dense.values() for s in v), default=0.0)
    d_max, d_second, d_count = _best_two(dense, ids, dense_floor)
    l_max, l_second, l_count = _best_two(lex, ids, 0.0)
    l_best = max(l_max.max(), 1e-9)

    c_cos = d_max.copy()
    if centroid is not None and query_vector is not None:
        for i, e in enumerate(ids):
            c = centroid(e)
            if c is not None:
                c_cos[i] = float(c @ query_vector)

    # Surface overlap over every phrasing of every candidate, in one block per signal; the rows
    # of one candidate are contiguous, so per-candidate reductions are reduceat over segments.
    rows: List[int] = []
    starts: List[int] = []
    present: List[int] = []
    for i, e in enumerate(ids):
        units = [uid for uid in entry_units.get(e, ()) if uid not in skip] if skip else list(entry_units.get(e, ()))
        if units:
            starts.append(len(rows))
            present.append(i)
            rows.extend(units)
    cover = np.zeros(n)
    cover_frac = np.zeros(n)
    b_contain = np.zeros(n)
    t_contain = np.zeros(n)
    if rows:
        at = np.asarray(present)
        counts = np.diff(np.append(starts, len(rows)))
        weights = np.array([lexical.idf(t) for t in query.terms])
        total = weights.sum()
        if total > 0:
            has = lexical.presence(rows, query.terms)
            cover[at] = np.logical_or.reduceat(has, starts, axis=0) @ weights / total
            cover_frac[at] = np.add.reduceat(has @ weights, starts) / counts / total
            bigrams = np.array(["_" in t for t in query.terms])
            if bigrams.any():
                b_contain[at] = np.maximum.reduceat(has[:, bigrams].sum(1), starts) / bigrams.sum()
        if trigram is not None and query.trigrams:
            shared = trigram.presence(rows, query.trigrams).sum(1)
            t_contain[at] = np.maximum.reduceat(shared, starts) / len(query.trigrams)

    columns = {
        "d_max": d_max, "d_z": _z(d_max), "d_gap": d_max - d_max.max(), "d_rrank": _rrank(d_max),
        "d_second": d_second, "d_count": np.log1p(d_count),
        "c_cos": c_cos, "c_z": _z(c_cos), "c_gap": c_cos - c_cos.max(),
        "l_sat": l_max / (l_max + 6.0), "l_rel": l_max / l_best, "l_z": _z(l_max), "l_rrank": _rrank(l_max),
        "l_second_rel": l_second / l_best, "l_count": np.log1p(l_count), "l_missing": (l_max == 0).astype(float),
        "t_contain": t_contain, "t_gap": t_contain - t_contain.max(),
        "cover": cover, "cover_gap": cover - cover.max(), "cover_frac": cover_frac,
        "cover_frac_gap": cover_frac - cover_frac.max(), "b_contain": b_contain, "b_gap": b_contain - b_contain.max(),
    }
    return ids, np.column_stack([columns[name] for name in ALL_FEATURES])


_COLUMN = {name: i for i, name in enumerate(ALL_FEATURES)}


def confidence_features(scores: np.ndarray, X: np.ndarray) -> List[float]:
    """What the calibrator sees about the top candidate (CONFIDENCE_FEATURES): its score, the
    margin to the second, its softmax share over all candidates, and a few of its raw features."""
    order = np.argsort(-scores, kind="stable")
    top = order[0]
    best = float(scores[top])
    second = float(scores[order[1]]) if len(scores) > 1 else best - 10.0
    softmax = 1.0 / float(np.exp(scores - best).sum())
    return [best, best - second, softmax] + [float(X[top, _COLUMN[name]]) for name in CONFIDENCE_FEATURES[3:]]


@dataclass(frozen=True)
class Ranker:
    """Tuned parameters: the candidate scorer, the confidence calibrator and the answer threshold."""

    features: Tuple[str, ...] = FEATURES
    mean: Tuple[float, ...] = ()
    scale: Tuple[float, ...] = ()
    coef: Tuple[float, ...] = ()
    conf_mean: Tuple[float, ...] = ()
    conf_scale: Tuple[float, ...] = ()
    conf_coef: Tuple[float, ...] = ()
    conf_intercept: float = 0.0
    threshold: float = 0.5
    encoder: str = ""
    trained_on: str = ""

    def usable(self) -> bool:
        return bool(self.features) and all(name in _COLUMN for name in self.features) and \
            len(self.coef) == len(self.features) == len(self.mean) == len(self.scale) and \
            len(self.conf_coef) == len(CONFIDENCE_FEATURES)

    @property
    def needs_trigrams(self) -> bool:
        return any(name in TRIGRAM_FEATURES for name in self.features)

    def scores(self, X: np.ndarray) -> np.ndarray:
        """One score per candidate row of X (columns ALL_FEATURES)."""
        if not len(X):
            return np.zeros(0)
        columns = [_COLUMN[name] for name in self.features]
        return ((X[:, columns] - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef)

    def confidence(self, scores: np.ndarray, X: np.ndarray) -> float:
        if not len(scores):
            return 0.0
        f = (np.asarray(confidence_features(scores, X)) - np.asarray(self.conf_mean)) / np.asarray(self.conf_scale)
        z = self.conf_intercept + float(f @ np.asarray(self.conf_coef))
        return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))

    @classmethod
    def for_encoder(cls, encoder: str, path: Path = RANKER_FILE) -> Optional["Ranker"]:
        """The tuned ranker for this encoder, or None (the caller falls back to fusion)."""
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        ranker = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
        if ranker.encoder != encoder:
            log.warning("%s was tuned for %s, not %s: using fusion", path.name, ranker.encoder, encoder)
            return None
        if not ranker.usable():
            log.warning("%s does not match this version's features: using fusion", path.name)
            return None
        return ranker

    def save(self, path: Path = RANKER_FILE) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


# ---- fitting ------------------------------------------------------------------------------------

Sample = Tuple[Optional[str], List[str], np.ndarray]  # (right entry or None, candidate ids, features)


def _standardise(X: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    mean = X.mean(0)
    scale = X.std(0)
    return mean, np.where(scale > 1e-9, scale, 1.0)


def fit(ranking: Sequence[Sample], calibration: Sequence[Sample], features: Sequence[str] = FEATURES,
        C: float = 1.0, encoder: str = "", calibration_weights: Optional[Sequence[float]] = None) -> Ranker:
    """Scorer on `ranking` (pointwise: one row per candidate, is it the right entry?), then the
    calibrator on `calibration` (one row per query: is its top entry right?), weighted per query
    if `calibration_weights` is given. The threshold is left at 0.5; the caller tunes it on
    development data."""
    from sklearn.linear_model import LogisticRegression

    columns = [_COLUMN[name] for name in features]
    usable = [(e, ids, X) for e, ids, X in ranking if len(ids)]
    X = np.vstack([X[:, columns] for _, _, X in usable])
    y = np.concatenate([[i == e for i in ids] for e, ids, _ in usable])
    mean, scale = _standardise(X)
    model = LogisticRegression(C=C, max_iter=5000).fit((X - mean) / scale, y)
    ranker = Ranker(tuple(features), tuple(np.round(mean, 6)), tuple(np.round(scale, 6)),
                    tuple(np.round(model.coef_[0], 6)), encoder=encoder)
    rows, labels, weights = [], [], []
    for k, (e, ids, X) in enumerate(calibration):
        if not len(ids):
            continue
        s = ranker.scores(X)
        rows.append(confidence_features(s, X))
        labels.append(int(e is not None and ids[int(np.argmax(s))] == e))
        weights.append(1.0 if calibration_weights is None else float(calibration_weights[k]))
    F = np.array(rows)
    conf_mean, conf_scale = _standardise(F)
    calibrator = LogisticRegression(C=C, max_iter=5000).fit((F - conf_mean) / conf_scale, np.array(labels),
                                                            sample_weight=np.array(weights))
    return Ranker(ranker.features, ranker.mean, ranker.scale, ranker.coef, tuple(np.round(conf_mean, 6)),
                  tuple(np.round(conf_scale, 6)), tuple(np.round(calibrator.coef_[0], 6)),
                  round(float(calibrator.intercept_[0]), 6), encoder=encoder)
