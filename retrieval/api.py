"""KB search over HTTP for the actions (and tools): POST /kb/search {"text", "top_k"}."""
from __future__ import annotations

import asyncio
import functools
from typing import Any, Dict, List, Optional

from fastapi import APIRouter, Request
from pydantic import BaseModel, confloat, conint, constr

from connectors.messages import clean_text
from cskh import metrics
from retrieval.search import KnowledgeBase

router = APIRouter(prefix="/kb", tags=["knowledge base"])


class SearchRequest(BaseModel):
    text: constr(strict=True, min_length=1, max_length=4000)  # type: ignore[valid-type]
    top_k: conint(strict=True, ge=1, le=50) = 5  # type: ignore[valid-type]
    # The confidence the caller will require (the FAQ path's CSKH_KB_FAQ_THRESHOLD): it decides
    # whether an overview answers a generic question (KnowledgeBase.search) and counts abstentions.
    threshold: Optional[confloat(ge=0.0, le=1.0)] = None  # type: ignore[valid-type]


@router.post("/search")
async def search(body: SearchRequest, request: Request) -> Dict[str, Any]:
    kb: KnowledgeBase = request.app.state.kb
    text = clean_text(body.text)
    if not text.strip():
        return {"hits": []}  # nothing to look for (whitespace, control or invisible characters only)
    hits = await asyncio.get_running_loop().run_in_executor(
        None, functools.partial(kb.search, text, body.top_k, threshold=body.threshold))
    kind = "calibrated" if body.threshold is None else "caller"
    metrics.KB_SEARCHES.labels(kind).inc()
    if not hits or not (hits[0].confident if body.threshold is None else hits[0].confidence >= body.threshold):
        metrics.KB_ABSTENTIONS.labels(kind).inc()
    out: List[Dict[str, Any]] = []
    for hit in hits:
        entry = kb.entries[hit.id]
        out.append({"id": hit.id, "score": round(hit.score, 4), "dense": round(hit.dense, 4),
                    "lexical": round(hit.lexical, 4), "confidence": round(hit.confidence, 4),
                    "confident": hit.confident, "answers": entry.answers})
    return {"hits": out}
