"""How the learned ranker's scorer is trained, against two alternatives, by hit@1 on the dev split.

    python scripts/bench_ranker_training.py

The product's scorer (retrieval/ranker.py `fit_scorer`) is a pointwise logistic regression over
candidates of pseudo-queries from the KB itself (each FAQ phrasing held out and searched for).
Two ways it could be trained instead:

- listwise: a softmax over each pseudo-query's candidates (cross-entropy of the right entry),
  which optimises the first place directly rather than each candidate on its own;
- with real questions: the dev split's answerable questions added to the pseudo-queries, each
  weighted w times a pseudo-query. Then dev is training data, so its hit@1 is out of fold: each
  dev question is ranked by a scorer fitted without its fold (evaluate.CV_FOLDS folds).

Only dev is used (the test split is for reporting what was chosen, not for choosing). The ranking
alone is compared: hit@1 does not depend on the calibrator or the threshold."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from retrieval import evaluate as ev  # noqa: E402
from retrieval import ranker as learned  # noqa: E402
from retrieval.ranker import Ranker  # noqa: E402

C = 1.0


def pointwise(samples: Sequence[learned.Sample], weights: Optional[Sequence[float]] = None) -> Ranker:
    """The product's scorer fit (`learned.fit_scorer`), each query weighted if `weights` is given."""
    return learned.fit_scorer(samples, C=C, query_weights=weights)


def listwise(samples: Sequence[learned.Sample], weights: Optional[Sequence[float]] = None) -> Ranker:
    """A linear scorer fitted by the softmax cross-entropy of each query's right entry among its
    candidates, L2-regularised like the pointwise fit (queries without the right entry among
    their candidates, or with one candidate, carry no ranking signal and are left out)."""
    from scipy.optimize import minimize

    columns = [learned._COLUMN[name] for name in learned.FEATURES]
    weights = [1.0] * len(samples) if weights is None else list(weights)
    usable = [(s[0], s[1], s[2], w) for s, w in zip(samples, weights) if s[0] in s[1] and len(s[1]) > 1]
    mean, scale = learned._standardise(np.vstack([X[:, columns] for _, _, X, _ in usable]))
    groups = [((X[:, columns] - mean) / scale, ids.index(e), w) for e, ids, X, w in usable]
    total = sum(w for _, _, w in groups)
    penalty = 1.0 / (C * total)

    def loss(coef: np.ndarray):
        value, grad = 0.0, np.zeros_like(coef)
        for Z, right, w in groups:
            s = Z @ coef
            top = s.max()
            p = np.exp(s - top)
            norm = p.sum()
            p /= norm
            value += w * (top + np.log(norm) - s[right])
            grad += w * (p @ Z - Z[right])
        return value / total + 0.5 * penalty * coef @ coef, grad / total + penalty * coef

    coef = minimize(loss, np.zeros(len(columns)), jac=True, method="L-BFGS-B").x
    return Ranker(learned.FEATURES, tuple(mean), tuple(scale), tuple(coef))


def right_first(ranker: Ranker, questions: Sequence[ev.Question], inputs: Sequence[ev.RankerInput]) -> int:
    """How many answerable questions get their entry first."""
    right = 0
    for q, (ids, X, tail) in zip(questions, inputs):
        if q.entry and ids:
            right += ids[int(np.argmax(ranker.ranking_scores(ids, X, tail)))] == q.entry
    return right


def main() -> int:
    from cskh.cli import _kb_for
    from cskh.settings import get_settings

    kb = _kb_for(get_settings().embedding_model)
    dev, _ = ev.split(ev.load_questions())
    inputs = ev.ranker_features(kb, dev)
    held_phrasing, _ = ev.pseudo_queries(kb)
    real = [(q.entry, ids, X) for q, (ids, X, _) in zip(dev, inputs)]
    answerable = sum(q.entry is not None for q in dev)

    def with_dev(fit: Callable, weight: float) -> int:
        right = 0
        for fold in range(ev.CV_FOLDS):
            train = [i for i, q in enumerate(dev) if ev.cv_fold(q) != fold and q.entry]
            held = [i for i, q in enumerate(dev) if ev.cv_fold(q) == fold]
            ranker = fit(list(held_phrasing) + [real[i] for i in train], [1.0] * len(held_phrasing) + [weight] * len(train))
            right += right_first(ranker, [dev[i] for i in held], [inputs[i] for i in held])
        return right

    rows: List[tuple] = [
        ("pointwise, held-out phrasings (the product)", "no", right_first(pointwise(held_phrasing), dev, inputs)),
        ("listwise, held-out phrasings", "no", right_first(listwise(held_phrasing), dev, inputs)),
    ]
    for weight in (1.0, 3.0, 10.0):
        rows.append((f"pointwise, held-out phrasings + dev questions (weight {weight:g})", "out of fold",
                     with_dev(pointwise, weight)))
        rows.append((f"listwise, held-out phrasings + dev questions (weight {weight:g})", "out of fold",
                     with_dev(listwise, weight)))
    print(f"scorer training against hit@1 on the dev split ({answerable} answerable questions; "
          f"{len(held_phrasing)} held-out phrasings)\n")
    print("| scorer | trained on dev | hit@1 dev | right first |\n|---|---|---|---|")
    for name, on_dev, right in rows:
        print(f"| {name} | {on_dev} | {right / answerable:.3f} | {right} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
