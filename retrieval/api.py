"""KB search over HTTP for the actions (and tools): POST /kb/search {"text", "top_k"}."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List

from fastapi import APIRouter, Request
from pydantic import BaseModel, conint, constr

from retrieval.search import KnowledgeBase

router = APIRouter(prefix="/kb", tags=["knowledge base"])


class SearchRequest(BaseModel):
    text: constr(min_length=1, max_length=4000)  # type: ignore[valid-type]
    top_k: conint(ge=1, le=50) = 5  # type: ignore[valid-type]


@router.post("/search")
async def search(body: SearchRequest, request: Request) -> Dict[str, Any]:
    kb: KnowledgeBase = request.app.state.kb
    hits = await asyncio.get_running_loop().run_in_executor(None, kb.search, body.text, body.top_k)
    out: List[Dict[str, Any]] = []
    for hit in hits:
        entry = kb.entries[hit.id]
        out.append({"id": hit.id, "score": round(hit.score, 4), "dense": round(hit.dense, 4),
                    "lexical": round(hit.lexical, 4), "confidence": round(hit.confidence, 4),
                    "confident": hit.confident, "answers": entry.answers})
    return {"hits": out}
