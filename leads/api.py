"""JSON API for the lead's admin pages: transcripts (redacted), the review queue, labelling.

Every route needs a console session of a lead (agents get 403); labelling also needs the
session's CSRF token in X-CSRF-Token, like the agent console.
"""
from __future__ import annotations

import asyncio
from functools import lru_cache, partial
from typing import Any, Dict, Optional

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, constr
from sqlalchemy.engine import Engine

from cskh.settings import get_settings
from handoff.accounts import Session
from handoff.api import csrf_session, current_session
from leads import review, transcripts

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
