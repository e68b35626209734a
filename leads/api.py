"""JSON API for the lead's admin pages: transcripts (redacted), the review queue, labelling,
analytics, agent answers proposed as KB entries, and applying the review.

Every route needs a console session of a lead (agents get 403); state-changing routes also need
the session's CSRF token in X-CSRF-Token, like the agent console.
"""
from __future__ import annotations

import asyncio
from functools import lru_cache, partial
from typing import Any, Dict, Literal, Optional

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, conlist, constr, validator
from sqlalchemy.engine import Engine

from cskh.settings import get_settings
from handoff.accounts import Session
from handoff.api import csrf_session, current_session
from leads import analytics as analytics_module
from leads import proposals, review, transcripts

router = APIRouter(prefix="/api/admin", tags=["lead admin"])


def _lead(session: Session) -> Session:
    if session.user.role != "lead":
        raise HTTPException(status_code=403, detail="lead role required")
    return session


def lead_session(session: Session = Depends(current_session)) -> Session:
    return _lead(session)


def lead_csrf_session(session: Session = Depends(csrf_session)) -> Session:
    return _lead(session)


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    from shop import make_engine

    return make_engine(url)


def _stores():
    settings = get_settings()
    return _engine(settings.tracker_store_url), _engine(settings.app_database_url)


async def _run(function, *args, **kwargs):
    return await asyncio.get_running_loop().run_in_executor(None, partial(function, *args, **kwargs))


@router.get("/transcripts")
async def list_transcripts(since: Optional[str] = None, channel: Optional[str] = None, handoff_only: bool = False,
                           limit: int = Query(2000, ge=1, le=20000),
                           session: Session = Depends(lead_session)) -> Dict[str, Any]:
    tracker, app = _stores()

    def read():
        turns = []
        for turn in transcripts.read_turns(tracker, app, since=since, channel=channel, handoff_only=handoff_only):
            if len(turns) == limit:
                return turns, True
            turns.append(turn.as_dict())
        return turns, False

    try:
        turns, truncated = await _run(read)
    except ValueError as error:
        raise HTTPException(status_code=422, detail=str(error))
    return {"turns": turns, "truncated": truncated}


@router.get("/review")
async def review_queue(since: Optional[str] = None, channel: Optional[str] = None, unlabelled: bool = False,
                       session: Session = Depends(lead_session)) -> Dict[str, Any]:
    tracker, app = _stores()
    try:
        items = await _run(review.review_queue, tracker, app, since=since, channel=channel,
                           unlabelled_only=unlabelled)
    except ValueError as error:
        raise HTTPException(status_code=422, detail=str(error))
    return {"items": [item.as_dict() for item in items], "intents": list(review.INTENTS)}


class Label(BaseModel):
    label: constr(strip_whitespace=True, max_length=160) = ""  # type: ignore[valid-type]
    kb_entry: Optional[constr(strip_whitespace=True, max_length=128)] = None  # type: ignore[valid-type]
    note: Optional[constr(max_length=2000)] = None  # type: ignore[valid-type]


@router.post("/review/{turn_id}/label")
async def label_turn(turn_id: int, body: Label, session: Session = Depends(lead_csrf_session)) -> Dict[str, Any]:
    tracker, app = _stores()
    try:
        return await _run(review.label, tracker, app, turn_id, body.label, body.kb_entry,
                          by=session.user.username, note=body.note)
    except review.LabelError as error:
        status = 404 if str(error).startswith("no turn") else 422
        raise HTTPException(status_code=status, detail=str(error))


# ---- analytics, KB proposals, applying the review ------------------------------------------------
# (leads.analytics and leads.proposals do the work; these routes only validate and run it off the loop)

def _kb_lock(request: Request) -> asyncio.Lock:
    """One KB writer at a time per process: accepting two proposals with the same new entry id, or
    applying the review twice at once, must not both pass their checks."""
    lock = getattr(request.app.state, "leads_kb_lock", None)
    if lock is None:
        lock = request.app.state.leads_kb_lock = asyncio.Lock()
    return lock


@router.get("/analytics")
async def get_analytics(days: int = Query(30, ge=1, le=analytics_module.MAX_DAYS),
                        session: Session = Depends(lead_session)) -> Dict[str, Any]:
    tracker, app = _stores()
    return await _run(analytics_module.analytics, tracker, app, days=days)


def _entry_summary(entry) -> Dict[str, Any]:
    from retrieval.admin import to_public

    public = to_public(entry)
    return {"id": entry.id, "question": public.questions.vi[0] if public.questions.vi else "",
            "answer": public.answer.vi, "tags": list(entry.tags), "questions": len(entry.questions),
            "source": entry.source or None}


@router.get("/kb/entries")
async def kb_entries(request: Request, session: Session = Depends(lead_session)) -> Dict[str, Any]:
    kb = request.app.state.kb
    entries = [kb.entries[key] for key in sorted(kb.entries)]
    return {"entries": await _run(lambda: [_entry_summary(e) for e in entries])}


@router.get("/kb/proposals")
async def kb_proposals(status: Optional[Literal["pending", "accepted", "dismissed"]] = None,
                       session: Session = Depends(lead_session)) -> Dict[str, Any]:
    tracker, app = _stores()
    return {"proposals": await _run(proposals.list_proposals, tracker, app, status=status)}


_Question = constr(strip_whitespace=True, min_length=2, max_length=500)  # same limits as /admin/kb
_Answer = constr(strip_whitespace=True, min_length=2, max_length=4000)


class Acceptance(BaseModel):
    id: str
    questions: conlist(_Question, min_items=1, max_items=50)  # type: ignore[valid-type]
    answer: _Answer  # type: ignore[valid-type]
    tags: conlist(constr(strip_whitespace=True, min_length=1, max_length=64), max_items=20) = []  # type: ignore[valid-type]

    @validator("id")
    def _id_shape(cls, value: str) -> str:
        from retrieval.admin import ENTRY_ID

        if not ENTRY_ID.match(value):
            raise ValueError("id must be lower-case letters, digits and dashes (max 128)")
        return value


def _proposal_http_error(error: proposals.ProposalError) -> HTTPException:
    status = 404 if isinstance(error, proposals.UnknownProposal) else 409
    return HTTPException(status_code=status, detail=str(error))


@router.post("/kb/proposals/{handoff_id}/accept")
async def accept_proposal(handoff_id: int, body: Acceptance, request: Request,
                          session: Session = Depends(lead_csrf_session)) -> Dict[str, Any]:
    """The lead's edited entry goes into the live KB (searchable on the next message) and the
    override store (kept across restarts); the proposal is marked accepted."""
    from retrieval.admin import to_public
    from retrieval.corpus import Entry

    _, app = _stores()
    kb = request.app.state.kb
    entry = Entry(body.id, tuple(dict.fromkeys(body.questions)), {"vi": body.answer}, tuple(body.tags))
    async with _kb_lock(request):
        try:
            decided = await _run(proposals.accept, app, handoff_id, entry, session.user.username,
                                 store=request.app.state.kb_overrides, existing_ids=set(kb.entries))
        except proposals.ProposalError as error:
            raise _proposal_http_error(error)
        await _run(kb.upsert, [entry])
    return {**decided, "entry": to_public(entry).dict()}


@router.post("/kb/proposals/{handoff_id}/dismiss")
async def dismiss_proposal(handoff_id: int, session: Session = Depends(lead_csrf_session)) -> Dict[str, Any]:
    _, app = _stores()
    try:
        return await _run(proposals.dismiss, app, handoff_id, session.user.username)
    except proposals.ProposalError as error:
        raise _proposal_http_error(error)


def _report_json(report: review.ApplyReport) -> Dict[str, Any]:
    from cskh.settings import ROOT

    path = report.reviewed_file
    if path is not None:
        try:
            path = path.resolve().relative_to(ROOT)
        except ValueError:
            pass
    return {
        "examples": [{"intent": intent, "text": text} for intent, text in report.examples],
        "moved": [{"text": text, "from": before, "to": after} for text, before, after in report.moved],
        "duplicates": [{"turn_id": turn_id, "text": text} for turn_id, text in report.duplicates],
        "conflicts": report.conflicts,
        "kb_questions": [{"entry_id": entry_id, "question": text} for entry_id, text in report.kb_questions],
        "needs_answer": report.needs_answer,
        "reviewed_file": str(path) if path is not None else None,
        "live_entries": [entry.id for entry in report.entries],
    }


@router.post("/review/apply")
async def apply_review(request: Request, session: Session = Depends(lead_csrf_session)) -> Dict[str, Any]:
    """Labelled turns into bot/data/nlu/reviewed.yml (for the next training) and KB question
    variants, which go live at once."""
    _, app = _stores()
    kb = request.app.state.kb
    async with _kb_lock(request):
        report = await _run(review.apply, app, review.default_nlu_dir(), get_settings().kb_source_dir)
        if report.entries:
            await _run(kb.upsert, report.entries)
    return _report_json(report)
