"""Retrieval quality on the team-written Vietnamese question set (retrieval/eval/questions_vi.jsonl).

The questions are split by a stable hash of their id: one third is the development split (fusion
method and weight, calibrator and threshold are tuned there), two thirds the test split (every
reported figure). The tuning questions (retrieval/eval/tuning_vi.jsonl) are development data too. Each configuration is tuned on dev and reported on test:
dense only, lexical only, hybrid, hybrid + learned ranker, and the same with a fine-tuned encoder.

The learned ranker (retrieval/ranker.py) is fitted on pseudo-queries from the KB itself (each
phrasing held out of the index and searched for; each entry held out entirely for the
calibrator); the development split only trains its confidence calibrator (with the
pseudo-queries) and picks its answer threshold, on out-of-fold confidences. The test split is used for nothing but figures.

Every configuration's threshold is the lowest confidence at which the dev split reaches both
TARGET_PRECISION and TARGET_ABSTENTION.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from retrieval import ranker as learned
from retrieval.ranker import Ranker
from retrieval.search import Candidates, Fusion, KnowledgeBase, confidence, confidence_features, rank

QUESTIONS = Path(__file__).resolve().parent / "eval" / "questions_vi.jsonl"
# More team-written development questions, written later than questions_vi.jsonl and kept only if
# no character-trigram Jaccard similarity with any FAQ phrasing or any evaluation question is above
# TUNING_MAX_JACCARD. Every one of them is development data: they never enter the test split.
TUNING = Path(__file__).resolve().parent / "eval" / "tuning_vi.jsonl"
# Short, generic questions ("cửa hàng ở đâu"), few in QUESTIONS: test data only, reported on
# their own by `cskh kb eval` (written before any tuning on short questions; the tuning file's
# short questions were then written apart from them and filtered against them like the others).
SHORT = Path(__file__).resolve().parent / "eval" / "short_vi.jsonl"
# The tuning questions' limit on character-trigram Jaccard similarity with any FAQ phrasing and
# any question of QUESTIONS or SHORT (tests/unit/test_retrieval.py checks it).
TUNING_MAX_JACCARD = 0.6
# How many questions of QUESTIONS are near copies (above TUNING_MAX_JACCARD) of some FAQ phrasing.
# The questions were written before most phrasings and never checked against them; measured in
# December 2026, 137 of 643 were. A ratchet (tests/unit/test_retrieval.py): a phrasing added
# later must not copy an evaluation question, so the count may fall, never rise.
KNOWN_NEAR_COPIES = 137
TARGET_PRECISION = 0.97  # on dev, leaving a margin for the 0.95 target on test
# The dev questions' total weight in the calibrator, against the pseudo-queries' (1.0: as much as
# all of them together). Chosen on dev's out-of-fold figures (`cskh kb eval`'s variant table):
# at 2 the threshold clears both targets with 3 more points of coverage than at 1.
DEV_WEIGHT = 2.0
TARGET_ABSTENTION = 0.95  # on dev (106 unanswerable: one question is about 1 point), for the 0.90 target


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    entry: Optional[str]
    style: str
    dev_only: bool = False   # from a tuning file: always in the development split


def _read(path: Path, dev_only: bool) -> List[Question]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            q = json.loads(line)
            out.append(Question(q["id"], q["text"], q.get("entry"), q.get("style", ""), dev_only))
    return out


def read_short() -> List[Question]:
    """The short-question test file (SHORT); none of them is in `load_questions()`."""
    return _read(SHORT, False)


def load_questions(path: Path = QUESTIONS, tuning: Optional[Path] = TUNING) -> List[Question]:
    """The evaluation questions of `path`, split by hash, and the tuning questions (dev only)."""
    questions = _read(path, False)
    if tuning is not None and tuning.exists():
        questions += _read(tuning, True)
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise ValueError("question ids must be unique across the evaluation and tuning files")
    return questions


def is_dev(question: Question) -> bool:
    return question.dev_only or int(hashlib.sha1(question.id.encode()).hexdigest(), 16) % 3 == 0


def split(questions: Sequence[Question]) -> Tuple[List[Question], List[Question]]:
    return [q for q in questions if is_dev(q)], [q for q in questions if not is_dev(q)]


def closeness(phrasings: Sequence[str], questions: Sequence[Question]) -> List[float]:
    """Each question's highest character-trigram Jaccard similarity (accent-folded, as
    `char_trigrams`) with any of `phrasings`: above TUNING_MAX_JACCARD, the question is a near copy
    of something the KB already holds, and finding it says little about paraphrases."""
    from retrieval.lexical import char_trigrams

    grams = [g for g in (set(char_trigrams(text)) for text in phrasings) if g]
    out: List[float] = []
    for q in questions:
        mine = set(char_trigrams(q.text))
        out.append(max((len(mine & g) / len(mine | g) for g in grams), default=0.0) if mine else 0.0)
    return out


@dataclass(frozen=True)
class Metrics:
    hit1: float
    hit5: float
    mrr: float
    precision: float     # of the answers given (answerable and not), the share that were right
    coverage: float      # share of answerable questions answered (right or wrong)
    abstention: float    # share of unanswerable questions the KB declined
    answerable: int
    unanswerable: int


_CACHE: Dict[Tuple[int, Tuple[str, ...]], List[Candidates]] = {}


def candidates_for(kb: KnowledgeBase, questions: Sequence[Question]) -> List[Candidates]:
    key = (id(kb), tuple(q.id for q in questions))
    if key not in _CACHE:
        vectors = kb.encoder.encode([q.text for q in questions])
        _CACHE[key] = [kb.candidates(q.text, v) for q, v in zip(questions, vectors)]
    return _CACHE[key]


def _ranks(questions: Sequence[Question], cands: Sequence[Candidates], fusion: Fusion) -> List[Tuple[Optional[int], list]]:
    out = []
    for q, c in zip(questions, cands):
        hits = rank(c, fusion)
        ids = [h.id for h in hits]
        out.append((ids.index(q.entry) + 1 if q.entry in ids else None, hits))
    return out


def ranking_quality(questions: Sequence[Question], cands: Sequence[Candidates], fusion: Fusion) -> Tuple[float, float, float]:
    ranked = [r for q, (r, _) in zip(questions, _ranks(questions, cands, fusion)) if q.entry]
    n = max(len(ranked), 1)
    return (sum(r == 1 for r in ranked) / n, sum(r is not None and r <= 5 for r in ranked) / n,
            sum(1 / r for r in ranked if r) / n)


def tune_ranking(questions: Sequence[Question], cands: Sequence[Candidates], mode: str) -> Fusion:
    """Best fusion on dev by hit@1, then MRR."""
    if mode != "hybrid":
        return Fusion(mode=mode)
    grid = [Fusion(method="linear", dense_weight=w, saturation=s) for w in np.linspace(0, 1, 11) for s in (2.0, 4.0, 6.0, 10.0)]
    grid += [Fusion(method="zscore", dense_weight=w) for w in np.linspace(0, 1, 21)]
    def best_of(subset: List[int]) -> Fusion:
        qs, cs = [questions[i] for i in subset], [cands[i] for i in subset]
        scored = []
        for fusion in grid:
            hit1, _, mrr = ranking_quality(qs, cs, fusion)
            scored.append((hit1, mrr, fusion))
        scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
        return scored[0][2]

    english = [i for i, c in enumerate(cands) if c.english]
    best = best_of([i for i, c in enumerate(cands) if not c.english])
    weight_en = None
    if english:  # English queries keep the method, with their own weight
        same_method = [f for f in grid if f.method == best.method and f.saturation == best.saturation]
        qs, cs = [questions[i] for i in english], [cands[i] for i in english]
        weight_en = max(same_method, key=lambda f: ranking_quality(qs, cs, f)[:2]).dense_weight
    return replace(best, dense_weight=round(float(best.dense_weight), 3),
                   dense_weight_en=None if weight_en is None else round(float(weight_en), 3))


def calibrate(questions: Sequence[Question], cands: Sequence[Candidates], fusion: Fusion,
              overview_of: Optional[OverviewOf] = None) -> Fusion:
    """Fit a logistic calibrator for "the top answer is right" and the lowest threshold at which
    dev reaches TARGET_PRECISION and TARGET_ABSTENTION."""
    from sklearn.linear_model import LogisticRegression

    features, labels = [], []
    for q, (r, hits) in zip(questions, _ranks(questions, cands, fusion)):
        if not hits:
            continue
        features.append(confidence_features(hits, fusion))
        labels.append(int(q.entry is not None and r == 1))
    model = LogisticRegression(C=10.0, max_iter=1000).fit(np.array(features), np.array(labels))
    tuned = replace(fusion, coef=tuple(round(float(c), 6) for c in model.coef_[0]),
                    intercept=round(float(model.intercept_[0]), 6))
    threshold = pick_threshold(questions, fusion_results(cands, tuned, overview_of or _no_family))
    return replace(tuned, threshold=round(float(threshold), 6))


# ---- the learned ranker -------------------------------------------------------------------------

@dataclass(frozen=True)
class Result:
    """One question's outcome: the ranking, the confidence of its first entry and that entry's
    family, if it has one: its overview, what the overview covers (an overview's answer is right
    for those entries too, in every configuration) and, for the learned ranker's overview step
    (Ranker.choose), the family's confidence (0: no step)."""

    ids: List[str]                 # entry ids, best first
    confidence: float              # of ids[0]
    overview: Optional[str] = None
    covered: Tuple[str, ...] = ()
    family: float = 0.0
    family_floor: float = 0.0      # the family must clear this too (the ranker's strict threshold)

    def answer(self, threshold: float) -> Optional[str]:
        """The entry the customer gets at `threshold`, or None (the assistant is not sure)."""
        if not self.ids:
            return None
        if self.confidence >= threshold:
            return self.ids[0]
        stepped = self.overview is not None and learned.overview_answers(self.confidence, self.family, threshold,
                                                                        self.family_floor)
        return self.overview if stepped else None

    def right(self, entry: Optional[str], threshold: float) -> bool:
        """An answer is right when it is the question's entry, or an overview that covers it."""
        given = self.answer(threshold)
        return given is not None and entry is not None and (
            given == entry or (given == self.overview and entry in self.covered))


OverviewOf = Callable[[str], Optional[Tuple[str, Sequence[str]]]]  # KnowledgeBase.overview_of


def _no_family(entry_id: str) -> None:
    return None


def with_family(result: Result, overview_of: OverviewOf) -> Result:
    family = overview_of(result.ids[0]) if result.ids else None
    return replace(result, overview=family[0], covered=tuple(family[1])) if family else result


def fusion_results(cands: Sequence[Candidates], fusion: Fusion, overview_of: OverviewOf = _no_family) -> List[Result]:
    out = []
    for c in cands:
        hits = rank(c, fusion)
        out.append(with_family(Result([h.id for h in hits], confidence(hits, fusion) if hits else 0.0), overview_of))
    return out


RankerInput = Tuple[List[str], np.ndarray, learned.Tail]  # candidates, features, last sentence's


def ranker_results(samples: Sequence[RankerInput], ranker: Ranker, overview_of: OverviewOf = _no_family,
                   overview_step: bool = True, family_floor: Optional[float] = None) -> List[Result]:
    """The ranker's results, each with its first entry's family (`overview_of`) and, unless
    `overview_step` is False, the family's confidence, as the product answers (Ranker.choose:
    the family must clear the ranker's threshold too; `family_floor` 0.0 while that threshold is
    being picked)."""
    out: List[Result] = []
    for ids, X, tail in samples:
        if not ids:
            out.append(Result([], 0.0))
            continue
        scores = ranker.ranking_scores(ids, X, tail)
        result = with_family(Result([ids[i] for i in np.argsort(-scores, kind="stable")], ranker.confidence(scores, X)),
                             overview_of)
        if overview_step and result.overview is not None:
            result = replace(result, family=ranker.family_confidence(ids, scores, X, {result.overview, *result.covered}),
                             family_floor=ranker.threshold if family_floor is None else family_floor)
        out.append(result)
    return out


def result_metrics(questions: Sequence[Question], results: Sequence[Result], threshold: float) -> Metrics:
    ranks = [(r.ids.index(q.entry) + 1 if q.entry in r.ids else None) for q, r in zip(questions, results) if q.entry]
    n = max(len(ranks), 1)
    answered_right = answered = covered = declined = 0
    for q, r in zip(questions, results):
        gives = r.answer(threshold) is not None
        answered += int(gives)
        answered_right += int(r.right(q.entry, threshold))
        if q.entry is not None:
            covered += int(gives)
        else:
            declined += int(not gives)
    n_answerable = sum(q.entry is not None for q in questions)
    n_unanswerable = len(questions) - n_answerable
    return Metrics(sum(r == 1 for r in ranks) / n, sum(r is not None and r <= 5 for r in ranks) / n,
                   sum(1 / r for r in ranks if r) / n, answered_right / answered if answered else 1.0,
                   covered / max(n_answerable, 1), declined / max(n_unanswerable, 1), n_answerable, n_unanswerable)


def pick_threshold(questions: Sequence[Question], results: Sequence[Result], precision: float = TARGET_PRECISION,
                   abstention: float = TARGET_ABSTENTION) -> float:
    """The lowest confidence at which the answers given (Result.answer: at or above it, an
    overview's included) reach the target precision and the unanswerable questions declined
    reach the target abstention."""
    values = sorted({r.confidence for r in results if r.ids} | {r.family for r in results if r.overview})
    unanswerable = sum(q.entry is None for q in questions)
    for value in values:
        given = right = declined = 0
        for q, r in zip(questions, results):
            answer = r.answer(value)
            given += answer is not None
            right += r.right(q.entry, value)
            declined += answer is None and q.entry is None
        if given and right / given >= precision and declined >= abstention * unanswerable:
            return value
    return 1.0


_TAILS: Dict[Tuple[int, str], learned.Tail] = {}


def ranker_features(kb: KnowledgeBase, questions: Sequence[Question]) -> List[RankerInput]:
    out = []
    for q, c in zip(questions, candidates_for(kb, questions)):
        key = (id(kb), q.text)
        if key not in _TAILS:
            _TAILS[key] = kb.tail(q.text)
        out.append((*kb.features(c), _TAILS[key]))
    return out


_PSEUDO: Dict[int, Tuple[List[learned.Sample], List[learned.Sample]]] = {}


def pseudo_queries(kb: KnowledgeBase, limit: int = 4000,
                   seed: int = 13) -> Tuple[List[learned.Sample], List[learned.Sample]]:
    """Training data from the KB itself. Leave-one-phrasing-out: each phrasing of an entry with
    other phrasings is searched for with itself held out of the index (the right answer is its
    entry). Leave-one-entry-out: each phrasing searched for with its whole entry held out (nothing
    right is left: the calibrator learns what "not in the KB" looks like). At most `limit`
    phrasings (a seeded sample) on a large KB."""
    import random

    if id(kb) in _PSEUDO:
        return _PSEUDO[id(kb)]
    units = kb.unit_items()
    if len(units) > limit:
        units = sorted(random.Random(seed).sample(units, limit))
    vectors = kb.unit_vectors([uid for uid, _, _ in units])
    if vectors is None:
        vectors = kb.encoder.encode([text for _, _, text in units])
    held_phrasing: List[learned.Sample] = []
    held_entry: List[learned.Sample] = []
    for (uid, entry_id, text), vector in zip(units, vectors):
        siblings = kb.units_of(entry_id)
        if len(siblings) > 1:
            held_phrasing.append((entry_id, *kb.held_out(text, vector, [uid])))
        held_entry.append((None, *kb.held_out(text, vector, siblings)))
    _PSEUDO[id(kb)] = (held_phrasing, held_entry)
    return held_phrasing, held_entry


CV_FOLDS = 5


def cv_fold(question: Question, folds: int = CV_FOLDS) -> int:
    """A stable fold of the development split, independent of the dev/test hash."""
    return int(hashlib.sha1(f"fold:{question.id}".encode()).hexdigest(), 16) % folds


def tune_ranker(kb: KnowledgeBase, dev: Sequence[Question], features: Sequence[str] = learned.FEATURES,
                conf_features: Sequence[str] = learned.CONFIDENCE_FEATURES,
                last_sentence_weight: float = learned.LAST_SENTENCE_WEIGHT, overview_step: bool = True) -> Ranker:
    """See `tune_ranker_out_of_fold`: the ranker alone."""
    return tune_ranker_out_of_fold(kb, dev, features, conf_features, last_sentence_weight, overview_step)[0]


def tune_ranker_out_of_fold(kb: KnowledgeBase, dev: Sequence[Question], features: Sequence[str] = learned.FEATURES,
                            conf_features: Sequence[str] = learned.CONFIDENCE_FEATURES,
                            last_sentence_weight: float = learned.LAST_SENTENCE_WEIGHT,
                            overview_step: bool = True, dev_weight: float = DEV_WEIGHT) -> Tuple[Ranker, List[Result]]:
    """The scorer on pseudo-queries; the calibrator on pseudo-queries and the dev split (dev
    weighted `dev_weight` times as much as all pseudo-queries together); the threshold on the dev
    split's out-of-fold confidences, for the answers the product gives (with the overview step
    unless `overview_step` is False).

    The calibrator learns from dev, so a threshold picked on its in-sample confidences is
    optimistic (the unanswerable dev questions it was fitted to decline look easier than new
    ones). Each dev question's confidence for the threshold therefore comes from a calibrator
    fitted without its fold (CV_FOLDS folds); the saved calibrator is then fitted on all of dev.
    Returns the ranker and those out-of-fold results (dev figures no dev question was fitted to)."""
    held_phrasing, held_entry = pseudo_queries(kb)
    pseudo = held_phrasing + held_entry
    scorer = learned.fit_scorer(held_phrasing, features, encoder=kb.encoder.name, conf_features=conf_features,
                                last_sentence_weight=last_sentence_weight)
    dev_features = ranker_features(kb, dev)
    dev_samples = [(q.entry, ids, X, tail) for q, (ids, X, tail) in zip(dev, dev_features)]

    def calibrated(subset: Sequence[int]) -> Ranker:
        weights = [1.0] * len(pseudo) + [dev_weight * len(pseudo) / max(len(subset), 1)] * len(subset)
        return learned.fit_calibrator(scorer, pseudo + [dev_samples[i] for i in subset], calibration_weights=weights)

    out_of_fold: List[Result] = [Result([], 0.0)] * len(dev)
    for fold in range(CV_FOLDS):
        held = [i for i, q in enumerate(dev) if cv_fold(q) == fold]
        fitted = calibrated([i for i, q in enumerate(dev) if cv_fold(q) != fold])
        for i, result in zip(held, ranker_results([dev_features[i] for i in held], fitted, kb.overview_of,
                                                  overview_step, family_floor=0.0)):
            out_of_fold[i] = result
    threshold = pick_threshold(dev, out_of_fold)
    ranker = calibrated(range(len(dev)))
    return replace(ranker, threshold=round(float(threshold), 6),
                   trained_on=f"scorer: {len(held_phrasing)} held-out phrasings; calibrator: those, "
                              f"{len(held_entry)} held-out-entry queries and {len(dev)} dev questions; "
                              f"threshold: dev, out of {CV_FOLDS} folds (precision >= {TARGET_PRECISION}, "
                              f"abstention >= {TARGET_ABSTENTION})"), out_of_fold


# ---- reporting ------------------------------------------------------------------------------------

def results_for(kb: KnowledgeBase, questions: Sequence[Question], tuned, overview_step: bool = True) -> List[Result]:
    """Each question's result under `tuned` (a Ranker, with the overview step unless told not
    to, or a Fusion), with the first entry's family (an overview's answer is right for what it covers)."""
    if isinstance(tuned, Ranker):
        return ranker_results(ranker_features(kb, questions), tuned, kb.overview_of, overview_step)
    return fusion_results(candidates_for(kb, questions), tuned, kb.overview_of)


def tune_and_measure(kb: KnowledgeBase, questions: Sequence[Question], mode: str, report: str = "test"):
    """Tune `mode` ("dense", "lexical", "hybrid" or "ranker") on the dev split; its metrics and
    hit@1 by style on the `report` split ("test", or "dev" for the tuning split itself)."""
    dev, test = split(questions)
    if mode == "ranker":
        tuned = tune_ranker(kb, dev)
    else:
        dev_c = candidates_for(kb, dev)
        tuned = replace(calibrate(dev, dev_c, tune_ranking(dev, dev_c, mode), kb.overview_of), encoder=kb.encoder.name)
    shown = test if report == "test" else dev
    results = results_for(kb, shown, tuned)
    by_style: Dict[str, float] = {}
    for style in sorted({q.style for q in shown if q.entry}):
        idx = [i for i, q in enumerate(shown) if q.style == style]
        by_style[style] = result_metrics([shown[i] for i in idx], [results[i] for i in idx], tuned.threshold).hit1
    return tuned, result_metrics(shown, results, tuned.threshold), by_style


@dataclass(frozen=True)
class Variant:
    name: str
    features: Tuple[str, ...] = learned.FEATURES
    conf_features: Tuple[str, ...] = learned.CONFIDENCE_FEATURES
    last_sentence_weight: float = learned.LAST_SENTENCE_WEIGHT
    tuning_questions: bool = True   # the calibrator and threshold also see retrieval/eval/tuning_vi.jsonl
    overview_step: bool = True      # a split family is answered with its overview (Ranker.choose)
    dev_weight: float = DEV_WEIGHT  # the dev questions' total weight in the calibrator, against the pseudo-queries'


def ranker_variants() -> List[Variant]:
    """The product, each feature group of it left out, the product-name-free coverage left out,
    the last sentence of long messages ignored, the tuning questions left out, the character
    trigrams added, and no overview step."""
    variants = [Variant("all groups (the product)")]
    for group, names in learned.GROUPS.items():
        variants.append(Variant(f"without {group}", tuple(n for n in learned.FEATURES if n not in names)))
    rest = ("cover_rest", "cover_rest_gap")
    variants.append(Variant("without cover_rest (scorer and calibrator)", tuple(n for n in learned.FEATURES if n not in rest),
                            tuple(n for n in learned.CONFIDENCE_FEATURES if n not in rest)))
    variants.append(Variant("without the last sentence of long messages", last_sentence_weight=0.0))
    variants.append(Variant("without the tuning questions", tuning_questions=False))
    variants.append(Variant("with character trigrams", learned.FEATURES + learned.TRIGRAM_FEATURES))
    variants.append(Variant("without the overview step", overview_step=False))
    variants.append(Variant("calibrator sees the query's length", conf_features=learned.CONFIDENCE_FEATURES + learned.QUERY_FEATURES))
    variants.append(Variant("dev weighted as much as the pseudo-queries in the calibrator", dev_weight=1.0))
    return variants


def ablation_table(kb: KnowledgeBase, questions: Sequence[Question]) -> str:
    """hit@1 and MRR on dev (all of it); coverage, precision and abstention at each variant's tuned
    threshold on dev's out-of-fold confidences (on the dev questions the variant tuned on: without
    the tuning file for that variant) and on test. Needs a KB built with trigrams=True for the trigram row."""
    dev, test = split(questions)
    lines = ["| ranker variant | hit@1 dev | MRR dev | coverage dev (out of fold) | precision dev (oof) | "
             "abstention dev (oof) | hit@1 test | MRR test | coverage test | precision test | abstention test |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for v in ranker_variants():
        if not kb.has_trigrams and any(f in learned.TRIGRAM_FEATURES for f in v.features):
            continue
        tuning = dev if v.tuning_questions else [q for q in dev if not q.dev_only]
        tuned, oof = tune_ranker_out_of_fold(kb, tuning, v.features, v.conf_features, v.last_sentence_weight,
                                             v.overview_step, v.dev_weight)
        d = result_metrics(dev, results_for(kb, dev, tuned, v.overview_step), tuned.threshold)
        o = result_metrics(tuning, oof, tuned.threshold)
        t = result_metrics(test, results_for(kb, test, tuned, v.overview_step), tuned.threshold)
        lines.append(f"| {v.name} | {d.hit1:.3f} | {d.mrr:.3f} | {o.coverage:.3f} | {o.precision:.3f} | "
                     f"{o.abstention:.3f} | {t.hit1:.3f} | {t.mrr:.3f} | {t.coverage:.3f} | {t.precision:.3f} | "
                     f"{t.abstention:.3f} |")
    return "\n".join(lines)


def threshold_table(kb: KnowledgeBase, questions: Sequence[Question], tuned,
                    thresholds: Sequence[Tuple[float, str]]) -> str:
    """Precision and coverage on dev and test (and abstention on test) at several thresholds."""
    dev, test = split(questions)
    dev_r, test_r = results_for(kb, dev, tuned), results_for(kb, test, tuned)
    lines = ["| confidence ≥ | precision dev | coverage dev | precision test | coverage test | abstention test |",
             "|---|---|---|---|---|---|"]
    for value, label in thresholds:
        d, t = result_metrics(dev, dev_r, value), result_metrics(test, test_r, value)
        lines.append(f"| {value:.2f}{' ' + label if label else ''} | {d.precision:.3f} | {d.coverage:.3f} | "
                     f"{t.precision:.3f} | {t.coverage:.3f} | {t.abstention:.3f} |")
    return "\n".join(lines)


def overview_table(kb: KnowledgeBase, groups: Sequence[Tuple[str, Sequence[Question]]], ranker: Ranker,
                   thresholds: Sequence[Tuple[float, str]]) -> str:
    """Answers at each threshold without and with the overview step (faq_corpus `covers`). An
    overview's answer contains every fact of the entries it covers, so it counts as right for a
    question about any of them; the last column says how many of the step's answers were right
    only that way (their question was about a covered entry, not the overview itself). `groups`:
    (name, questions), e.g. the dev and test splits and the short questions."""
    lines = ["| questions | hit@1 | confidence ≥ | precision | coverage | abstention | with the overview step: "
             "precision | coverage | abstention | answers by the step | of which right only as covered |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, shown in groups:
        samples = ranker_features(kb, shown)
        plain = ranker_results(samples, ranker, kb.overview_of, overview_step=False)
        stepped = ranker_results(samples, ranker, kb.overview_of)
        for value, label in thresholds:
            m, w = result_metrics(shown, plain, value), result_metrics(shown, stepped, value)
            by_step = [(q, r) for q, r in zip(shown, stepped) if r.confidence < value and r.answer(value) is not None]
            only_covered = sum(r.right(q.entry, value) and q.entry != r.overview for q, r in by_step)
            lines.append(f"| {name} | {m.hit1:.3f} | {value:.2f}{' ' + label if label else ''} | {m.precision:.3f} | "
                         f"{m.coverage:.3f} | {m.abstention:.3f} | {w.precision:.3f} | {w.coverage:.3f} | "
                         f"{w.abstention:.3f} | {len(by_step)} | {only_covered} |")
    return "\n".join(lines)


HEADER = ("| configuration | hit@1 | hit@5 | MRR | answer precision | coverage | abstention (unanswerable) |\n"
          "|---|---|---|---|---|---|---|")


def row(name: str, m: Metrics) -> str:
    return (f"| {name} | {m.hit1:.3f} | {m.hit5:.3f} | {m.mrr:.3f} | {m.precision:.3f} | {m.coverage:.3f} | "
            f"{m.abstention:.3f} |")
