"""Authenticated admin API for FAQ entries: each change is live at once (no rebuild, no restart,
no Rasa retraining) and persisted as an override of the KB sources."""
from __future__ import annotations

import asyncio
import hmac
import re
from typing import Dict, List, Optional

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from pydantic import BaseModel, conlist, constr, validator

from cskh.settings import get_settings
from retrieval.corpus import Entry
from retrieval.search import KnowledgeBase

ENTRY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")


def require_admin(authorization: Optional[str] = Header(None)) -> None:
    token = get_settings().admin_token
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        raise HTTPException(status_code=401, detail="admin token required (Authorization: Bearer <token>)")


router = APIRouter(prefix="/admin/kb", tags=["knowledge base admin"], dependencies=[Depends(require_admin)])

Question = constr(strip_whitespace=True, min_length=2, max_length=500)  # type: ignore[valid-type]
Answer = constr(strip_whitespace=True, min_length=2, max_length=4000)  # type: ignore[valid-type]


class Questions(BaseModel):
    vi: conlist(Question, min_items=1, max_items=50)  # type: ignore[valid-type]
    en: conlist(Question, max_items=50) = []  # type: ignore[valid-type]


class Answers(BaseModel):
    vi: Answer  # type: ignore[valid-type]
    en: Optional[Answer] = None  # type: ignore[valid-type]


class EntryBody(BaseModel):
    questions: Questions
    answer: Answers
    tags: conlist(constr(max_length=64), max_items=20) = []  # type: ignore[valid-type]
    # An overview: the ids of the entries whose facts its answer contains (faq_corpus/README.md).
    covers: conlist(constr(max_length=128), max_items=50) = []  # type: ignore[valid-type]


class EntryCreate(EntryBody):
    id: str

    @validator("id")
    def _id_shape(cls, value: str) -> str:
        if not ENTRY_ID.match(value):
            raise ValueError("id must be lower-case letters, digits and dashes (max 128)")
        return value


class EntryPublic(EntryBody):
    id: str


def to_entry(entry_id: str, body: EntryBody) -> Entry:
    answers = {"vi": body.answer.vi, **({"en": body.answer.en} if body.answer.en else {})}
    return Entry(entry_id, tuple(body.questions.vi) + tuple(body.questions.en), answers, tuple(body.tags),
                 covers=tuple(dict.fromkeys(body.covers)))


def check_covers(kb: KnowledgeBase, entry: Entry) -> None:
    """422 unless every entry `entry` covers exists, is no overview and has no other overview,
    and `entry` itself, if it covers anything, is not covered by one."""
    for child in entry.covers:
        other = kb.entries.get(child)
        if other is None or child == entry.id or other.covers or kb.covering(child) not in (None, entry.id):
            raise HTTPException(status_code=422, detail=f"covers: {child!r} is missing, an overview, or covered "
                                                        "by another overview")
    if entry.covers and kb.covering(entry.id) is not None:
        raise HTTPException(status_code=422, detail=f"{entry.id} is covered by {kb.covering(entry.id)}, "
                                                    "so it cannot be an overview")


def to_public(entry: Entry) -> EntryPublic:
    from cskh.entities import detect_language

    en = [q for q in entry.questions if detect_language(q) == "en"]
    vi = [q for q in entry.questions if q not in en] or list(entry.questions)
    return EntryPublic(id=entry.id, questions=Questions(vi=vi, en=en),
                       answer=Answers(vi=entry.answers.get("vi") or entry.answer("vi"), en=entry.answers.get("en")),
                       tags=list(entry.tags), covers=list(entry.covers))


def _kb(request: Request) -> KnowledgeBase:
    return request.app.state.kb


async def _apply(request: Request, entry: Optional[Entry], entry_id: str) -> None:
    kb, store = _kb(request), request.app.state.kb_overrides
    loop = asyncio.get_running_loop()
    if entry is None:
        await loop.run_in_executor(None, kb.delete, entry_id)
        await loop.run_in_executor(None, store.delete, entry_id)
    else:
        await loop.run_in_executor(None, kb.upsert, [entry])
        await loop.run_in_executor(None, store.put, entry)


@router.get("/entries")
async def list_entries(request: Request) -> Dict[str, List[str]]:
    return {"ids": sorted(_kb(request).entries)}


@router.get("/entries/{entry_id}", response_model=EntryPublic)
async def get_entry(entry_id: str, request: Request) -> EntryPublic:
    entry = _kb(request).entries.get(entry_id)
    if entry is None:
        raise HTTPException(status_code=404, detail=f"no entry {entry_id}")
    return to_public(entry)


@router.post("/entries", response_model=EntryPublic, status_code=201)
async def create_entry(body: EntryCreate, request: Request) -> EntryPublic:
    if body.id in _kb(request).entries:
        raise HTTPException(status_code=409, detail=f"entry {body.id} exists; use PUT to change it")
    entry = to_entry(body.id, body)
    check_covers(_kb(request), entry)
    await _apply(request, entry, body.id)
    return to_public(entry)


@router.put("/entries/{entry_id}", response_model=EntryPublic)
async def replace_entry(entry_id: str, body: EntryBody, request: Request) -> EntryPublic:
    if not ENTRY_ID.match(entry_id):
        raise HTTPException(status_code=422, detail="id must be lower-case letters, digits and dashes")
    entry = to_entry(entry_id, body)
    check_covers(_kb(request), entry)
    await _apply(request, entry, entry_id)
    return to_public(entry)


@router.delete("/entries/{entry_id}", status_code=204)
async def delete_entry(entry_id: str, request: Request) -> None:
    if entry_id not in _kb(request).entries:
        raise HTTPException(status_code=404, detail=f"no entry {entry_id}")
    await _apply(request, None, entry_id)
