"""Search latency on the real KB (not a test): fusion against the learned ranker, and the query cache.

  python scripts/bench_kb_search.py [--repeats 3] [--faiss-threads N]

Builds the KB from the FAQ corpus with the configured encoder and searches every question of
retrieval/eval/questions_vi.jsonl: "search" is KnowledgeBase.search given the query vector
(candidates, features, ranking, confidence); "end to end, cold" encodes the query first with the
query cache emptied; "end to end, cached" asks the same questions again (the LRU cache answers).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cskh.settings import get_settings  # noqa: E402
from retrieval.corpus import load_source  # noqa: E402
from retrieval.encoder import Encoder  # noqa: E402
from retrieval.evaluate import load_questions  # noqa: E402
from retrieval.search import KnowledgeBase  # noqa: E402


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def timed(fn, items, repeats=1):
    out = []
    for _ in range(repeats):
        for item in items:
            started = time.perf_counter()
            fn(item)
            out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--faiss-threads", type=int, help="faiss.omp_set_num_threads (default: FAISS's own)")
    args = parser.parse_args()
    if args.faiss_threads:
        import faiss

        faiss.omp_set_num_threads(args.faiss_threads)
    settings = get_settings()
    kb = KnowledgeBase.build(load_source(settings.kb_source_dir), Encoder(settings.embedding_model))
    if kb.ranker is None:
        print("no tuned ranker for this encoder (retrieval/ranker.json): run `cskh kb eval --write`")
        return 1
    texts = [q.text for q in load_questions(tuning=None)]
    vectors = kb.encoder.encode(texts)
    pairs = list(zip(texts, vectors))
    rows = [
        ("search, fusion", timed(lambda p: kb.search(p[0], k=5, vector=p[1], fusion=kb.fusion), pairs, args.repeats)),
        ("search, learned ranker", timed(lambda p: kb.search(p[0], k=5, vector=p[1]), pairs, args.repeats)),
    ]
    kb.encoder._cache.clear()
    rows.append(("end to end, cold (encode + ranker)", timed(lambda t: kb.search(t, k=5), texts)))
    rows.append(("end to end, cached (repeated question)", timed(lambda t: kb.search(t, k=5), texts, args.repeats)))
    print(f"{len(kb.entries)} entries, {len(kb.unit_items())} phrasings, {len(texts)} questions\n")
    print("| path | p50 ms | p95 ms |\n|---|---|---|")
    for name, values in rows:
        print(f"| {name} | {percentile(values, 50):.2f} | {percentile(values, 95):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
