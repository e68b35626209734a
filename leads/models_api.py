"""The lead's model routes: versions, retraining (started in the background, progress polled) and
rollback. Lead-only like the rest of /api/admin; state changes need the CSRF token."""
from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, Dict

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from cskh.settings import get_settings
from handoff.accounts import Session
from leads.api import _engine, lead_csrf_session, lead_session
from leads.models import ModelRegistry, RollbackImpossible
from leads.retrain import RetrainBusy, RunLog, spawn

router = APIRouter(prefix="/api/admin", tags=["lead admin: models"])


def _registry() -> ModelRegistry:
    settings = get_settings()
    return ModelRegistry(_engine(settings.app_database_url), settings.model_dir)


async def _run(function, *args, **kwargs):
    return await asyncio.get_running_loop().run_in_executor(None, partial(function, *args, **kwargs))


def _models_view(registry: ModelRegistry, serving: str) -> Dict[str, Any]:
    current = registry.current_path()
    versions = registry.versions()
    by_name = {v.name: v for v in versions}
    current_version = by_name.get(current.name) if current else None
    return {
        "current": (current_version.public(current.name) if current_version
                    else {"name": current.name, "state": "promoted", "macro_f1": None, "created_at": None,
                          "source": "existing", "decision": None, "current": True} if current else None),
        "serving": serving,  # what this replica has loaded (differs from current for one poll interval)
        "versions": [v.public(current.name if current else None) for v in versions],
        "history": registry.history()[:50],
        "can_rollback": registry.rollback_target() is not None,
    }


@router.get("/models")
async def models(request: Request, session: Session = Depends(lead_session)) -> Dict[str, Any]:
    serving = request.app.state.assistant.model_path.name
    return await _run(_models_view, _registry(), serving)


@router.get("/retrain")
async def retrain_runs(session: Session = Depends(lead_session)) -> Dict[str, Any]:
    log = RunLog(_engine(get_settings().app_database_url))
    return {"runs": await _run(log.recent)}


@router.post("/retrain", status_code=202)
async def start_retrain(session: Session = Depends(lead_csrf_session)) -> Any:
    try:
        run = await _run(spawn, get_settings(), session.user.username)
    except RetrainBusy as busy:
        return JSONResponse(status_code=409, content={"detail": str(busy)})
    except OSError as error:
        raise HTTPException(status_code=503, detail=f"could not start the retrain: {error}")
    return {"run": run}


@router.post("/models/rollback")
async def rollback(request: Request, session: Session = Depends(lead_csrf_session)) -> Dict[str, Any]:
    registry = _registry()
    try:
        target = await _run(registry.rollback, session.user.username)
    except RollbackImpossible as error:
        raise HTTPException(status_code=409, detail=str(error))
    # every replica (this one too) switches on its next poll; loading a model takes seconds
    return {"current": target, "serving": request.app.state.assistant.model_path.name,
            "switch_within_s": get_settings().model_poll_seconds}
