"""Adapt the embedder to the shop's own questions (sentence-transformers, MultipleNegativesRankingLoss).

Training pairs come from the KB itself: every question variant of an entry paired with the
entry's other variants and with its Vietnamese answer, so in-batch negatives are other entries.
Reviewed transcripts can add pairs later (`extra_pairs`). The evaluation questions are never used.
Each run writes a new versioned directory models/embedder/<timestamp>/ with a meta.json.
"""
from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

from cskh.text import normalize
from retrieval.corpus import Entry
from retrieval.encoder import resolve_model

Pair = Tuple[str, str]


def training_pairs(entries: Sequence[Entry], seed: int = 13) -> List[Pair]:
    rng = random.Random(seed)
    pairs: List[Pair] = []
    for entry in entries:
        variants = list(entry.questions)
        for i, question in enumerate(variants):
            others = variants[:i] + variants[i + 1:]
            for other in rng.sample(others, min(2, len(others))):
                pairs.append((question, other))
            if entry.answers.get("vi"):
                pairs.append((question, entry.answers["vi"]))
    rng.shuffle(pairs)
    return pairs


def finetune(base: str, entries: Sequence[Entry], out_root: Path, epochs: int = 1, batch_size: int = 32,
             extra_pairs: Iterable[Pair] = (), seed: int = 13) -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import InputExample, SentenceTransformer, losses
    from torch.utils.data import DataLoader

    random.seed(seed)
    torch.manual_seed(seed)
    model = SentenceTransformer(str(resolve_model(base)), device="cpu")
    pairs = training_pairs(entries, seed) + list(extra_pairs)
    examples = [InputExample(texts=[normalize(a), normalize(b)]) for a, b in pairs]
    loader = DataLoader(examples, shuffle=True, batch_size=batch_size)
    started = time.time()
    model.fit(train_objectives=[(loader, losses.MultipleNegativesRankingLoss(model))], epochs=epochs,
              warmup_steps=max(1, len(loader) // 10), show_progress_bar=False)
    out = out_root / time.strftime("%Y%m%d-%H%M%S")
    model.save(str(out))
    meta = {"base": base, "pairs": len(pairs), "epochs": epochs, "batch_size": batch_size,
            "seconds": round(time.time() - started, 1), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (out / "cskh-finetune.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return out


def latest(out_root: Path) -> Optional[Path]:
    runs = sorted(p for p in out_root.glob("*") if (p / "cskh-finetune.json").exists())
    return runs[-1] if runs else None
