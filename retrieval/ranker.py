"""A learned ranker over per-candidate features of all signals, and its calibrated confidence.

For one query, every entry with a unit among the dense or the BM25 top-K is a candidate. Each
candidate is described by (FEATURES):

- dense: its best unit's cosine, z-score and margin to the best candidate, reciprocal rank, its
  second-best unit, how many of its units were retrieved, and the cosine with the centroid of all
  its phrasings;
- lexical (BM25 over folded syllables and bigrams): the same statistics of its best unit, relative
  to the best candidate, and whether BM25 found it at all;
- term coverage: the IDF-weighted share of the query's terms that its phrasings contain (any of
  them, and on average), the same share of the terms outside the product names the query
  mentions (`cover_rest`: "Nova X5 pin bao nhiêu mAh" shares only the phone's name with the
  phone's warranty entry), and the largest share of the query's syllable bigrams in one phrasing;
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
split (real questions, unanswerable ones included, weighted twice as much as all pseudo-queries
together: evaluate.DEV_WEIGHT), and `cskh kb eval --write` picks the answer threshold on that split's out-of-fold
confidences and saves everything to retrieval/ranker.json. The test split is used for nothing but
figures. A long message is ranked by its own features and, with less weight, by its last
sentence's (LAST_SENTENCE_WEIGHT). When the top entry is not confident but its family (an
overview entry and the entries it covers, faq_corpus `covers`) is, the overview answers
(`Ranker.choose`).
"""
from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

log = logging.getLogger(__name__)

RANKER_FILE = Path(__file__).resolve().parent / "ranker.json"

GROUPS: Dict[str, Tuple[str, ...]] = {
    "dense": ("d_max", "d_z", "d_gap", "d_rrank", "d_second", "d_count"),
    "centroid": ("c_cos", "c_z", "c_gap"),
    "lexical": ("l_sat", "l_rel", "l_z", "l_rrank", "l_second_rel", "l_count", "l_missing"),
    "coverage": ("cover", "cover_gap", "cover_frac", "cover_frac_gap", "cover_rest", "cover_rest_gap"),
    "bigrams": ("b_contain", "b_gap"),
}
TRIGRAM_FEATURES: Tuple[str, ...] = ("t_contain", "t_gap")
FEATURES: Tuple[str, ...] = tuple(name for group in GROUPS.values() for name in group)  # the product's
# Of the query itself, the same for every candidate (for the calibrator): log(1 + its distinct terms).
QUERY_FEATURES: Tuple[str, ...] = ("q_terms",)
ALL_FEATURES: Tuple[str, ...] = FEATURES + TRIGRAM_FEATURES + QUERY_FEATURES  # the columns candidate_features computes
CONFIDENCE_FEATURES: Tuple[str, ...] = (
    "score", "margin", "softmax", "d_max", "c_cos", "l_sat", "cover", "cover_frac", "b_contain", "cover_rest",
)

UnitHits = Sequence[Tuple[int, float]]
Tail = Optional[Tuple[List[str], np.ndarray]]  # the candidates and features of a long message's last sentence

# A long, rambling message usually asks its question in its last sentence, after the story that
# led to it. For messages of at least LAST_SENTENCE_WORDS words and more than one sentence, each
# candidate's score adds LAST_SENTENCE_WEIGHT times its score for the last sentence alone (the
# lowest of those for a candidate the last sentence did not retrieve). Chosen on the development
# split: its long answerable questions went from 35 to 39 of 44 right at 0.5 (38 at 1.0).
LAST_SENTENCE_WORDS = 25
LAST_SENTENCE_WEIGHT = 0.5
_SENTENCE_END = re.compile(r"(?<=[.?!…])\s+")


def last_sentence(text: str) -> Optional[str]:
    """The last sentence of a long message of several sentences, else None."""
    if len(text.split()) < LAST_SENTENCE_WORDS:
        return None
    sentences = [part for part in _SENTENCE_END.split(text.strip()) if part.strip()]
    return sentences[-1] if len(sentences) > 1 else None


@dataclass
class QueryView:
    """What the features need to know about the query itself."""

    terms: List[str]            # distinct lexical terms (folded syllables and bigrams)
    trigrams: List[str]         # distinct folded character trigrams (only when a trigram index is kept)
    named: List[str] = field(default_factory=list)  # the terms inside the product names it mentions

    @classmethod
    def of(cls, text: str, trigrams: bool = False) -> "QueryView":
        from cskh.entities import find_products
        from cskh.text import fold, nfc
        from retrieval.lexical import char_trigrams, terms

        view = fold(nfc(text).lower())
        named = {t for product in find_products(text) for t in terms(view[product.start:product.end])}
        all_terms = sorted(set(terms(text)))
        return cls(all_terms, sorted(set(char_trigrams(text))) if trigrams else [],
                   [t for t in all_terms if t in named])


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
    cover_rest = np.zeros(n)
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
            covered = np.logical_or.reduceat(has, starts, axis=0)
            cover[at] = covered @ weights / total
            named = set(query.named)
            rest = weights * np.array([t not in named for t in query.terms])
            cover_rest[at] = covered @ rest / rest.sum() if rest.sum() > 0 else cover[at]
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
        "cover_frac_gap": cover_frac - cover_frac.max(),
        "cover_rest": cover_rest, "cover_rest_gap": cover_rest - cover_rest.max(), "b_contain": b_contain, "b_gap": b_contain - b_contain.max(),
        "q_terms": np.full(n, math.log1p(len(query.terms))),
    }
    return ids, np.column_stack([columns[name] for name in ALL_FEATURES])


_COLUMN = {name: i for i, name in enumerate(ALL_FEATURES)}


def confidence_features(scores: np.ndarray, X: np.ndarray,
                        names: Sequence[str] = CONFIDENCE_FEATURES) -> List[float]:
    """What the calibrator sees about the top candidate (`names`, CONFIDENCE_FEATURES by default):
    its score, the margin to the second, its softmax share over all candidates, and a few of its
    raw features."""
    order = np.argsort(-scores, kind="stable")
    top = order[0]
    best = float(scores[top])
    second = float(scores[order[1]]) if len(scores) > 1 else best - 10.0
    softmax = 1.0 / float(np.exp(scores - best).sum())
    return [best, best - second, softmax] + [float(X[top, _COLUMN[name]]) for name in names[3:]]


def overview_answers(confidence: float, family: float, threshold: float, strict: float) -> bool:
    """The overview step's rule (Ranker.choose, and the evaluation's Result.answer): the top entry
    is below `threshold` and its family clears both that and the ranker's `strict` threshold."""
    return confidence < threshold and family >= max(threshold, strict)


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
    conf_features: Tuple[str, ...] = CONFIDENCE_FEATURES
    last_sentence_weight: float = LAST_SENTENCE_WEIGHT

    def usable(self) -> bool:
        return bool(self.features) and all(name in _COLUMN for name in self.features) and \
            len(self.coef) == len(self.features) == len(self.mean) == len(self.scale) and \
            tuple(self.conf_features[:3]) == CONFIDENCE_FEATURES[:3] and \
            all(name in _COLUMN for name in self.conf_features[3:]) and len(self.conf_coef) == len(self.conf_features)

    @property
    def needs_trigrams(self) -> bool:
        return any(name in TRIGRAM_FEATURES for name in self.features)

    def scores(self, X: np.ndarray) -> np.ndarray:
        """One score per candidate row of X (columns ALL_FEATURES)."""
        if not len(X):
            return np.zeros(0)
        columns = [_COLUMN[name] for name in self.features]
        return ((X[:, columns] - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef)

    def ranking_scores(self, ids: Sequence[str], X: np.ndarray, tail: Tail = None) -> np.ndarray:
        """The scores that rank the candidates `ids`: their own, plus the last sentence's for a
        long message (`last_sentence_weight`, see LAST_SENTENCE_WEIGHT), as a weighted mean so that the confidence
        calibrator sees scores on one scale."""
        scores = self.scores(X)
        weight = self.last_sentence_weight
        if tail is None or not len(tail[0]) or not len(scores) or weight <= 0:
            return scores
        tail_scores = dict(zip(tail[0], self.scores(tail[1])))
        floor = min(tail_scores.values())
        tail_part = np.array([tail_scores.get(e, floor) for e in ids])
        return (scores + weight * tail_part) / (1.0 + weight)

    def family_confidence(self, ids: Sequence[str], scores: np.ndarray, X: np.ndarray, family: set) -> float:
        """The confidence that the answer is one of `family` (an overview and the entries it
        covers): the family's candidates count as one, its best-scored member."""
        members = [i for i, e in enumerate(ids) if e in family]
        if not members:
            return 0.0
        best = max(members, key=lambda i: scores[i])
        rows = [best] + [i for i, e in enumerate(ids) if e not in family]
        return self.confidence(scores[rows], X[rows])

    def choose(self, ids: Sequence[str], scores: np.ndarray, X: np.ndarray, threshold: float,
               overview_of: Callable[[str], Optional[Tuple[str, Sequence[str]]]]) -> Tuple[str, float]:
        """The entry to answer with and its confidence. The top-scored entry, unless it falls
        short of `threshold` while its family (the overview it belongs to, with everything the
        overview covers) clears both `threshold` and this ranker's own (strict, tuned) threshold:
        then the overview, whose answer contains every member's. The strict threshold was picked
        with this step included; a looser path's threshold (the FAQ intent's) applies to single
        entries only. `overview_of(entry)` gives (overview id, covered ids) or None."""
        top = ids[int(np.argmax(scores))]
        conf = self.confidence(scores, X)
        family = overview_of(top) if conf < threshold else None
        if family is not None:
            pooled = self.family_confidence(ids, scores, X, {family[0], *family[1]})
            if overview_answers(conf, pooled, threshold, self.threshold):
                return family[0], pooled
        return top, conf

    def confidence(self, scores: np.ndarray, X: np.ndarray) -> float:
        if not len(scores):
            return 0.0
        f = (np.asarray(confidence_features(scores, X, self.conf_features)) - np.asarray(self.conf_mean)) / \
            np.asarray(self.conf_scale)
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

Sample = Tuple  # (right entry or None, candidate ids, features[, Tail])


def _standardise(X: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    mean = X.mean(0)
    scale = X.std(0)
    return mean, np.where(scale > 1e-9, scale, 1.0)


def fit_scorer(ranking: Sequence[Sample], features: Sequence[str] = FEATURES, C: float = 1.0,
               encoder: str = "", conf_features: Sequence[str] = CONFIDENCE_FEATURES,
               last_sentence_weight: float = LAST_SENTENCE_WEIGHT,
               query_weights: Optional[Sequence[float]] = None) -> Ranker:
    """The candidate scorer alone (pointwise: one row per candidate of `ranking`, is it the right
    entry?, each row weighted by its query's `query_weights` if given); the calibrator is left
    empty (see `fit_calibrator`)."""
    from sklearn.linear_model import LogisticRegression

    columns = [_COLUMN[name] for name in features]
    weights = [1.0] * len(ranking) if query_weights is None else list(query_weights)
    usable = [(sample[0], sample[1], sample[2], w) for sample, w in zip(ranking, weights) if len(sample[1])]
    X = np.vstack([X[:, columns] for _, _, X, _ in usable])
    y = np.concatenate([[i == e for i in ids] for e, ids, _, _ in usable])
    rows = None if query_weights is None else np.concatenate([[w] * len(ids) for _, ids, _, w in usable])
    mean, scale = _standardise(X)
    model = LogisticRegression(C=C, max_iter=5000).fit((X - mean) / scale, y, sample_weight=rows)
    return Ranker(tuple(features), tuple(np.round(mean, 6)), tuple(np.round(scale, 6)),
                  tuple(np.round(model.coef_[0], 6)), encoder=encoder, conf_features=tuple(conf_features),
                  last_sentence_weight=last_sentence_weight)


def fit_calibrator(ranker: Ranker, calibration: Sequence[Sample], C: float = 1.0,
                   calibration_weights: Optional[Sequence[float]] = None) -> Ranker:
    """`ranker`'s scorer with a confidence calibrator fitted on `calibration` (one row per query:
    is its top entry right?), weighted per query if `calibration_weights` is given. The
    threshold is left at 0.5; the caller tunes it on development data."""
    from sklearn.linear_model import LogisticRegression

    rows, labels, weights = [], [], []
    for k, (e, ids, X, *tail) in enumerate(calibration):
        if not len(ids):
            continue
        s = ranker.ranking_scores(ids, X, tail[0] if tail else None)
        rows.append(confidence_features(s, X, ranker.conf_features))
        labels.append(int(e is not None and ids[int(np.argmax(s))] == e))
        weights.append(1.0 if calibration_weights is None else float(calibration_weights[k]))
    F = np.array(rows)
    conf_mean, conf_scale = _standardise(F)
    calibrator = LogisticRegression(C=C, max_iter=5000).fit((F - conf_mean) / conf_scale, np.array(labels),
                                                            sample_weight=np.array(weights))
    return replace(ranker, conf_mean=tuple(np.round(conf_mean, 6)), conf_scale=tuple(np.round(conf_scale, 6)),
                   conf_coef=tuple(np.round(calibrator.coef_[0], 6)),
                   conf_intercept=round(float(calibrator.intercept_[0]), 6), threshold=0.5)


def fit(ranking: Sequence[Sample], calibration: Sequence[Sample], features: Sequence[str] = FEATURES,
        C: float = 1.0, encoder: str = "", calibration_weights: Optional[Sequence[float]] = None) -> Ranker:
    """Scorer on `ranking`, then the calibrator on `calibration` (see the two functions)."""
    return fit_calibrator(fit_scorer(ranking, features, C, encoder), calibration, C, calibration_weights)
