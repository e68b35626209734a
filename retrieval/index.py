"""FAISS vector index by integer id (never text), saved as a directory with meta.json."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import faiss
import numpy as np

FORMAT = 1


class IndexMismatch(ValueError):
    """The index on disk was built with another model or dimension."""


KINDS = ("flat", "hnsw", "ivf")


class VectorIndex:
    """Inner-product search over unit vectors (= cosine) by int64 id.

    kind "flat" is exact and supports removal (the live KB uses it); "hnsw" (graph) and "ivf"
    (inverted lists, trained on the first batch added) are approximate, for large KBs. HNSW cannot
    remove vectors, so removed ids are masked and the search over-fetches.
    """

    def __init__(self, dim: int, kind: str = "flat", hnsw_m: int = 32, ivf_lists: int = 1024,
                 search_depth: int = 64) -> None:
        if kind not in KINDS:
            raise ValueError(f"index kind must be one of {KINDS}")
        self.dim, self.kind = dim, kind
        self._masked: set = set()
        if kind == "flat":
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        elif kind == "hnsw":
            graph = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = 80
            graph.hnsw.efSearch = search_depth
            self._index = faiss.IndexIDMap2(graph)
        else:
            self._quantizer = faiss.IndexFlatIP(dim)
            self._index = faiss.IndexIVFFlat(self._quantizer, dim, ivf_lists, faiss.METRIC_INNER_PRODUCT)
            self._index.nprobe = max(1, search_depth // 2)

    @property
    def count(self) -> int:
        return int(self._index.ntotal) - len(self._masked)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of dimension {self.dim}, got shape {vectors.shape}")
        if not self._index.is_trained:
            self._index.train(vectors)
        ids = np.asarray(ids, dtype=np.int64)
        self._masked.difference_update(ids.tolist())
        self._index.add_with_ids(vectors, ids)

    def remove(self, ids: Sequence[int]) -> int:
        if self.kind == "hnsw":
            fresh = set(int(i) for i in ids) - self._masked
            self._masked |= fresh
            return len(fresh)
        return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(self, vectors: np.ndarray, k: int) -> List[List[Tuple[int, float]]]:
        if self.count <= 0:
            return [[] for _ in range(len(vectors))]
        fetch = min(k + len(self._masked), int(self._index.ntotal))
        scores, ids = self._index.search(np.ascontiguousarray(vectors, dtype=np.float32), fetch)
        return [[(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i != -1 and int(i) not in self._masked][:k]
                for row_ids, row_scores in zip(ids, scores)]

    def vectors(self, ids: Sequence[int]) -> Optional[np.ndarray]:
        """The stored vectors of these ids, or None where the index cannot give them back (IVF)."""
        try:
            if not len(ids):
                return np.zeros((0, self.dim), np.float32)
            return np.vstack([self._index.reconstruct(int(i)) for i in ids])
        except RuntimeError:
            return None

    def save(self, directory: Path, model: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(directory / "index.faiss"))
        meta = {"format": FORMAT, "model": model, "dim": self.dim, "count": self.count, "kind": self.kind, "masked": sorted(self._masked),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (directory / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, model: str, dim: int) -> "VectorIndex":
        meta = read_meta(directory)
        if meta.get("model") != model or meta.get("dim") != dim:
            raise IndexMismatch(f"{directory} was built with {meta.get('model')} (dim {meta.get('dim')}), "
                                f"not {model} (dim {dim}); rebuild it with `cskh kb build`")
        index = cls(dim, kind=meta.get("kind", "flat"))
        index._index = faiss.read_index(str(directory / "index.faiss"))
        index._masked = set(meta.get("masked") or ())
        return index


def read_meta(directory: Path) -> dict:
    path = directory / "meta.json"
    if not path.exists():
        raise FileNotFoundError(f"{directory} is not a KB index (no meta.json); build it with `cskh kb build`")
    return json.loads(path.read_text(encoding="utf-8"))
