"""scripts/bench_ranker_training.py's two alternative scorers, on synthetic candidates (no KB)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from retrieval.ranker import ALL_FEATURES, FEATURES, fit_scorer
from tests.unit.test_ranker import synthetic_samples

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_ranker_training.py"
spec = importlib.util.spec_from_file_location("bench_ranker_training", SCRIPT)
bench = importlib.util.module_from_spec(spec)
sys.modules["bench_ranker_training"] = bench
spec.loader.exec_module(bench)


def right_share(ranker, samples) -> float:
    return float(np.mean([ids[int(np.argmax(ranker.scores(X)))] == e for e, ids, X in samples]))


def test_listwise_learns_the_informative_feature():
    ranker = bench.listwise(synthetic_samples())
    assert len(ranker.coef) == len(FEATURES) and ranker.coef[FEATURES.index("cover")] == max(ranker.coef)
    assert right_share(ranker, synthetic_samples(40, seed=2)) > 0.9


def test_listwise_skips_queries_whose_right_entry_is_not_a_candidate():
    samples = synthetic_samples()
    missing = [("nowhere", ids, X) for _, ids, X in synthetic_samples(20, seed=3)]
    assert bench.listwise(samples + missing).coef == bench.listwise(samples).coef


def test_unit_weights_are_the_products_scorer_and_weights_move_the_fit():
    samples = synthetic_samples()
    plain = bench.pointwise(samples)
    assert plain.coef == fit_scorer(samples).coef
    weighted = bench.pointwise(samples, [1.0] * len(samples))
    assert np.allclose(weighted.coef, plain.coef, atol=1e-4)
    # Weighting the queries whose right entry is decided by another feature shifts the scorer.
    rng = np.random.default_rng(5)
    other = []
    for e, ids, X in synthetic_samples(30, seed=4):
        X = X.copy()
        X[:, ALL_FEATURES.index("cover")] = rng.uniform(0, 1, size=len(ids))
        X[:, ALL_FEATURES.index("d_max")] = 0.0
        X[ids.index(e), ALL_FEATURES.index("d_max")] = 3.0
        other.append((e, ids, X))
    light = bench.pointwise(samples + other, [1.0] * len(samples) + [0.1] * len(other))
    heavy = bench.pointwise(samples + other, [1.0] * len(samples) + [10.0] * len(other))
    d = FEATURES.index("d_max")
    assert heavy.coef[d] > light.coef[d]
