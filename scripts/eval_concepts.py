"""The lexical concept terms (retrieval/lexical.py CONCEPTS) on and off, by the learned ranker's
hit@1 on the dev split and on the KB's own held-out phrasings.

    python scripts/eval_concepts.py            # dev and pseudo-queries (where the choice is made)
    python scripts/eval_concepts.py --test     # and the test split, reported after the choice
    python scripts/eval_concepts.py --bm25-grid 0.8,1.2,1.6 0.5,0.75,0.9   # BM25 k1 x b, concepts on
    python scripts/eval_concepts.py --analyser-timing   # what the concept terms cost per text

Each configuration rebuilds the KB index (BM25 reads the analyser when it indexes) and refits
the ranker the way `cskh kb eval` does: the scorer on pseudo-queries (each FAQ phrasing held out
and searched for), the calibrator and threshold on dev. "pseudo right first" is in-sample for the
scorer; dev hit@1 is not (the scorer never sees a dev question). About a minute per configuration."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from retrieval import evaluate as ev  # noqa: E402
from retrieval import lexical  # noqa: E402


def measure(concepts: bool, k1: float, b: float, with_test: bool) -> List[str]:
    from cskh.cli import _kb_for
    from cskh.settings import get_settings

    lexical.USE_CONCEPTS = concepts
    lexical.BM25.__init__.__defaults__ = (k1, b, lexical.terms)
    ev._PSEUDO.clear()  # keyed by id(kb): a rebuilt KB may reuse an id
    ev._TAILS.clear()
    kb = _kb_for(get_settings().embedding_model)
    questions = ev.load_questions(ev.QUESTIONS)
    dev, test = ev.split(questions)
    ranker = ev.tune_ranker(kb, dev)
    held_phrasing, _ = ev.pseudo_queries(kb)
    pseudo_right = sum(bool(len(s[1])) and s[1][int(ranker.ranking_scores(s[1], s[2], s[3] if len(s) > 3 else None)
                                                      .argmax())] == s[0] for s in held_phrasing)
    d = ev.result_metrics(dev, ev.results_for(kb, dev, ranker), ranker.threshold)
    cells = [("on" if concepts else "off"), f"{k1:g}", f"{b:g}", f"{d.hit1:.3f}",
             str(round(d.hit1 * sum(q.entry is not None for q in dev))), f"{pseudo_right} / {len(held_phrasing)}",
             f"{d.mrr:.3f}"]
    if with_test:
        t = ev.result_metrics(test, ev.results_for(kb, test, ranker), ranker.threshold)
        cells += [f"{t.hit1:.3f}", str(round(t.hit1 * sum(q.entry is not None for q in test))), f"{t.mrr:.3f}",
                  f"{t.precision:.3f}", f"{t.coverage:.3f}", f"{t.abstention:.3f}"]
    return cells


def analyser_timing() -> None:
    """Microseconds per `lexical.terms` call on the evaluation questions (what BM25 and the ranker
    run on every query and every indexed text), concept terms off and on, alternating, medians of 5."""
    import statistics
    import time

    texts = [q.text for q in ev.load_questions(ev.QUESTIONS)]
    runs: dict = {False: [], True: []}
    for _ in range(5):
        for concepts in (False, True):
            lexical.USE_CONCEPTS = concepts
            start = time.perf_counter()
            for text in texts:
                lexical.terms(text)
            runs[concepts].append((time.perf_counter() - start) / len(texts) * 1e6)
    off, on = statistics.median(runs[False]), statistics.median(runs[True])
    print(f"| lexical.terms per text ({len(texts)} evaluation questions) | off {off:.1f} µs | on {on:.1f} µs | "
          f"ratio {on / off:.2f} |")


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test", action="store_true", help="also the test split (report, do not choose on it)")
    parser.add_argument("--bm25-grid", nargs=2, metavar=("K1S", "BS"),
                        help="comma-separated k1 and b values to cross, concept terms on")
    parser.add_argument("--analyser-timing", action="store_true", help="only time lexical.terms, off and on")
    args = parser.parse_args(list(argv) or None)
    if args.analyser_timing:
        analyser_timing()
        return 0
    runs: List[Tuple[bool, float, float]] = [(False, 1.2, 0.75), (True, 1.2, 0.75)]
    if args.bm25_grid:
        k1s, bs = ([float(v) for v in s.split(",")] for s in args.bm25_grid)
        runs = [(True, k1, b) for k1 in k1s for b in bs]
    header = ["concept terms", "k1", "b", "hit@1 dev", "right first dev", "pseudo right first", "MRR dev"]
    if args.test:
        header += ["hit@1 test", "right first test", "MRR test", "precision test", "coverage test", "abstention test"]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header), flush=True)
    for concepts, k1, b in runs:
        print("| " + " | ".join(measure(concepts, k1, b, args.test)) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
