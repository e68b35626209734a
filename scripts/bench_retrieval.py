"""Retrieval benchmark (not a test): query latency, build throughput, memory and ANN recall.

  python scripts/bench_retrieval.py [--sizes 1000 100000 1000000] [--queries 200] [--faiss-threads N]

Passages at 1k/100k/1M are synthetic: texts of 20–40 syllables drawn from the KB's own vocabulary
(for BM25) and clustered unit vectors (for FAISS; uniform random vectors are the worst case for
any ANN index, real embeddings are clustered). Latency is one hybrid query end to end (encode
the query with the real encoder, FAISS search, BM25 top-64, fusion) and without the encoding. Build throughput with the
real encoder is measured on the real KB text. Each figure is the median of several runs. First, the
query encoding alone: the product's ONNX encoder against sentence-transformers on the same model.
"""
from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import List, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cskh.settings import get_settings  # noqa: E402
from retrieval.corpus import load_source, units  # noqa: E402
from retrieval.encoder import Encoder  # noqa: E402
from retrieval.index import VectorIndex  # noqa: E402
from retrieval.lexical import BM25, terms  # noqa: E402
from retrieval.search import Candidates, Fusion, rank  # noqa: E402

DIM = 384


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def clustered_vectors(n: int, dim: int, clusters: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors with the low intrinsic dimension of real sentence embeddings: topic centres plus
    a 48-dimensional latent, projected to `dim`, plus a little noise. (Fresh, unstructured noise in
    all 384 dimensions would make every neighbour equally far, which no real KB looks like.)"""
    centres = rng.normal(size=(clusters, 48)).astype(np.float32)
    projection = np.random.default_rng(0).normal(size=(48, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        latent = centres[rng.integers(0, clusters, size=m)] + 0.5 * rng.normal(size=(m, 48)).astype(np.float32)
        block = latent @ projection + 0.05 * rng.normal(size=(m, dim)).astype(np.float32)
        out[start:start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def synthetic_texts(n: int, vocabulary: Sequence[str], rng: random.Random) -> List[str]:
    return [" ".join(rng.choices(vocabulary, k=rng.randint(20, 40))) for _ in range(n)]


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def recall_at_10(exact: VectorIndex, approx: VectorIndex, queries: np.ndarray) -> float:
    truth = exact.search(queries, 10)
    found = approx.search(queries, 10)
    return float(np.mean([len({i for i, _ in t} & {i for i, _ in f}) / 10 for t, f in zip(truth, found)]))


def bench_size(n: int, encoder: Encoder, vocabulary: Sequence[str], query_texts: Sequence[str], kind: str) -> dict:
    rng_np, rng = np.random.default_rng(n), random.Random(n)
    vectors = clustered_vectors(n, DIM, max(16, n // 1000), rng_np)
    texts = synthetic_texts(n, vocabulary, rng)
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    index = VectorIndex(DIM, kind=kind, ivf_lists=max(16, int(4 * np.sqrt(n))))
    index.add(np.arange(n), vectors)
    index_seconds = time.perf_counter() - started
    started = time.perf_counter()
    bm25 = BM25()
    bm25.add_many(enumerate(texts))
    bm25_seconds = time.perf_counter() - started
    memory = rss_mb() - before
    del texts
    fusion = Fusion()
    latencies, search_only = [], []
    for text in query_texts:
        t0 = time.perf_counter()
        query = encoder.encode([text])
        t1 = time.perf_counter()
        found = Candidates()
        for uid, score in index.search(query, 64)[0]:
            found.dense[str(uid)] = score
        for uid, score in bm25.top(text, 64):
            found.lexical[str(uid)] = score
        rank(found, fusion)
        t2 = time.perf_counter()
        latencies.append((t2 - t0) * 1000)
        search_only.append((t2 - t1) * 1000)
    result = {"n": n, "kind": kind, "p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
              "search_p50": percentile(search_only, 50), "search_p95": percentile(search_only, 95),
              "index_build_s": index_seconds, "bm25_build_s": bm25_seconds, "memory_mb": memory}
    if kind != "flat":
        exact = VectorIndex(DIM, kind="flat")
        exact.add(np.arange(n), vectors)
        probes = clustered_vectors(200, DIM, max(16, n // 1000), np.random.default_rng(n))
        result["recall@10"] = recall_at_10(exact, index, probes)
        del exact
    del index, bm25, vectors
    gc.collect()
    return result


def encoder_table(encoder: Encoder, texts: Sequence[str], rounds: int = 3) -> str:
    """One query at a time: sentence-transformers (PyTorch) on the same model against the product's
    ONNX encoder, alternating rounds; the median over rounds of each round's p50 and p95."""
    from sentence_transformers import SentenceTransformer

    from cskh.text import normalize
    from retrieval.encoder import resolve_model

    reference = SentenceTransformer(str(resolve_model(encoder.name)), device="cpu")

    def torch_encode(text: str) -> None:
        reference.encode([normalize(text)], convert_to_numpy=True, normalize_embeddings=True,
                         show_progress_bar=False)

    ways = {"sentence-transformers (PyTorch)": torch_encode, "ONNX Runtime (the product)": lambda t: encoder.encode([t])}
    figures: dict = {name: ([], []) for name in ways}
    for _ in range(rounds):
        for name, encode in ways.items():
            times = []
            for text in texts:
                started = time.perf_counter()
                encode(text)
                times.append((time.perf_counter() - started) * 1000)
            figures[name][0].append(percentile(times, 50))
            figures[name][1].append(percentile(times, 95))
    lines = [f"query encoding, one at a time ({len(texts)} texts, median of {rounds} alternating rounds):", "",
             "| encoder | p50 ms | p95 ms |", "|---|---|---|"]
    for name, (p50s, p95s) in figures.items():
        lines.append(f"| {name} | {statistics.median(p50s):.1f} | {statistics.median(p95s):.1f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--faiss-threads", type=int, help="faiss.omp_set_num_threads (default: FAISS's own)")
    args = parser.parse_args()
    if args.faiss_threads:
        import faiss

        faiss.omp_set_num_threads(args.faiss_threads)

    settings = get_settings()
    encoder = Encoder(settings.embedding_model)
    entries = load_source(settings.kb_source_dir)
    kb_texts = [text for _, text in units(entries)] + [e.answer("vi") for e in entries]
    vocabulary = sorted({t for text in kb_texts for t in terms(text) if "_" not in t})
    query_texts = (kb_texts * 10)[: args.queries]

    print(encoder_table(encoder, query_texts) + "\n")
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        encoder.encode(kb_texts)
        runs.append(len(kb_texts) / (time.perf_counter() - started))
    print(f"build throughput with the real encoder: {statistics.median(runs):.0f} passages/s "
          f"(median of 3, {len(kb_texts)} KB texts)\n")

    print("| passages | index | end-to-end p50 ms | end-to-end p95 ms | search p50 ms | search p95 ms | FAISS add s | "
          "BM25 build s | peak RSS growth MB | recall@10 vs exact |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        kinds = ["flat"] if n <= 100_000 else []
        kinds += ["hnsw"] if n == 100_000 else []
        kinds += ["ivf"] if n > 100_000 else []
        for kind in kinds:
            r = bench_size(n, encoder, vocabulary, query_texts, kind)
            recall = f"{r['recall@10']:.3f}" if "recall@10" in r else "exact"
            print(f"| {n:,} | {kind} | {r['p50']:.1f} | {r['p95']:.1f} | {r['search_p50']:.1f} | {r['search_p95']:.1f} | "
                  f"{r['index_build_s']:.1f} | "
                  f"{r['bm25_build_s']:.1f} | {r['memory_mb']:.0f} | {recall} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
