"""FAISS vector index by integer id (never text), saved as a directory with meta.json."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import List, Sequence, Tuple

import faiss
import numpy as np

FORMAT = 1


class IndexMismatch(ValueError):
    """The index on disk was built with another model or dimension."""


class VectorIndex:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @property
    def count(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of dimension {self.dim}, got shape {vectors.shape}")
        self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: Sequence[int]) -> int:
        return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(self, vectors: np.ndarray, k: int) -> List[List[Tuple[int, float]]]:
        if self.count == 0:
            return [[] for _ in range(len(vectors))]
        scores, ids = self._index.search(np.ascontiguousarray(vectors, dtype=np.float32), min(k, self.count))
        return [[(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i != -1]
                for row_ids, row_scores in zip(ids, scores)]

    def save(self, directory: Path, model: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(directory / "index.faiss"))
        meta = {"format": FORMAT, "model": model, "dim": self.dim, "count": self.count,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (directory / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, model: str, dim: int) -> "VectorIndex":
        meta = read_meta(directory)
        if meta.get("model") != model or meta.get("dim") != dim:
            raise IndexMismatch(f"{directory} was built with {meta.get('model')} (dim {meta.get('dim')}), "
                                f"not {model} (dim {dim}); rebuild it with `cskh kb build`")
        index = cls(dim)
        index._index = faiss.read_index(str(directory / "index.faiss"))
        return index


def read_meta(directory: Path) -> dict:
    path = directory / "meta.json"
    if not path.exists():
        raise FileNotFoundError(f"{directory} is not a KB index (no meta.json); build it with `cskh kb build`")
    return json.loads(path.read_text(encoding="utf-8"))
