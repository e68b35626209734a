"""Model versions: every trained Rasa model is registered in the app database with how it came to be
(trained by hand, a retrain candidate), its evaluation on the fixed set and the gate's decision;
the model being served is the last *deployment* (promote, train, rollback). Every replica reads the
same table, so a promotion or a rollback reaches all of them (the gateway polls it, see
cskh/assistant.py `ModelWatcher`).

With no deployment yet (a fresh install) the newest file in the model directory is served, as Rasa
itself would do.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, Text, inspect, select
from sqlalchemy.engine import Engine

from leads.db import engine_with

metadata = MetaData()
versions = Table(
    "model_versions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),   # file name in the model directory
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("source", String(32), nullable=False),               # train | retrain | existing
    Column("state", String(16), nullable=False),                # candidate | promoted | refused | rolled_back
    Column("macro_f1", Float, nullable=True),
    Column("evaluation", Text, nullable=True),                  # JSON: leads.evaluation.Evaluation.as_dict()
    Column("evaluated_at", DateTime(timezone=True), nullable=True),
    Column("decision", Text, nullable=True),                    # why promoted / refused
)
deployments = Table(
    "model_deployments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("action", String(16), nullable=False),               # promote | train | rollback | existing
    Column("by", String(64), nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
)


class RollbackImpossible(RuntimeError):
    """There is no earlier deployed model (whose file still exists) to go back to."""


def now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: Optional[datetime]) -> Optional[str]:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.isoformat(timespec="seconds")


def registry_engine(app: Union[str, Engine]) -> Engine:
    engine = engine_with(app, metadata)
    _add_missing_columns(engine)
    return engine


def _add_missing_columns(engine: Engine) -> None:
    """Columns added after a table was first created (create_all leaves existing tables alone)."""
    for table in (versions, deployments):
        present = {c["name"] for c in inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name not in present and column.nullable:
                kind = column.type.compile(engine.dialect)
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")


@dataclass(frozen=True)
class Version:
    id: int
    name: str
    created_at: datetime
    source: str
    state: str
    macro_f1: Optional[float]
    evaluation: Optional[Dict[str, Any]]
    decision: Optional[str]

    @classmethod
    def from_row(cls, row: Any) -> "Version":
        return cls(row.id, row.name, row.created_at, row.source, row.state, row.macro_f1,
                   json.loads(row.evaluation) if row.evaluation else None, row.decision)

    def public(self, current: Optional[str] = None) -> Dict[str, Any]:
        return {"id": self.id, "name": self.name, "created_at": iso(self.created_at), "source": self.source,
                "state": self.state, "macro_f1": self.macro_f1, "decision": self.decision,
                "current": self.name == current}


class ModelRegistry:
    def __init__(self, app: Union[str, Engine], model_dir: Path) -> None:
        self.engine = registry_engine(app)
        self.model_dir = Path(model_dir)

    # ---- versions ----------------------------------------------------------------------------

    def register(self, name: str, source: str, state: str = "candidate") -> Version:
        """Add a model file (idempotent: an already known name is returned as it is)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(versions).where(versions.c.name == name)).first()
            if row is None:
                conn.execute(versions.insert().values(name=name, created_at=now(), source=source, state=state))
                row = conn.execute(select(versions).where(versions.c.name == name)).first()
        return Version.from_row(row)

    def get(self, name: str) -> Optional[Version]:
        with self.engine.connect() as conn:
            row = conn.execute(select(versions).where(versions.c.name == name)).first()
        return Version.from_row(row) if row else None

    def versions(self) -> List[Version]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(versions).order_by(versions.c.id.desc())).fetchall()
        return [Version.from_row(r) for r in rows]

    def record_evaluation(self, name: str, evaluation: Dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(versions.update().where(versions.c.name == name)
                         .values(macro_f1=evaluation.get("macro_f1"), evaluated_at=now(),
                                 evaluation=json.dumps(evaluation, ensure_ascii=False)))

    def decide(self, name: str, state: str, decision: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(versions.update().where(versions.c.name == name).values(state=state, decision=decision))

    # ---- deployments -------------------------------------------------------------------------

    def deploy(self, name: str, action: str, by: Optional[str] = None) -> None:
        """Make `name` the served model; replicas switch to it on their next poll."""
        if not (self.model_dir / name).is_file():
            raise FileNotFoundError(f"no model file {self.model_dir / name}")
        with self.engine.begin() as conn:
            if conn.execute(select(versions.c.id).where(versions.c.name == name)).first() is None:
                conn.execute(versions.insert().values(name=name, created_at=now(), source="existing",
                                                      state="promoted"))
            elif action != "rollback":
                conn.execute(versions.update().where(versions.c.name == name).values(state="promoted"))
            conn.execute(deployments.insert().values(name=name, action=action, by=by, at=now()))

    def current(self) -> Optional[str]:
        """The deployed model's file name (None before the first deployment)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(deployments.c.name).order_by(deployments.c.id.desc()).limit(1)).first()
        return row.name if row else None

    def current_path(self) -> Optional[Path]:
        """The file to serve: the deployed model, or the newest file when nothing was deployed."""
        name = self.current()
        if name and (self.model_dir / name).is_file():
            return self.model_dir / name
        return newest_model(self.model_dir)

    def history(self) -> List[Dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(deployments).order_by(deployments.c.id.desc())).fetchall()
        return [{"name": r.name, "action": r.action, "by": r.by, "at": iso(r.at)} for r in rows]

    def rollback_target(self) -> Optional[str]:
        """The model deployed before the current one, skipping rolled-back and missing ones."""
        current = self.current_path()
        current_name = current.name if current else None
        rolled_back = {v.name for v in self.versions() if v.state == "rolled_back"}
        for row in self.history():
            name = row["name"]
            if name == current_name or name in rolled_back or not (self.model_dir / name).is_file():
                continue
            return name
        return None

    def rollback(self, by: Optional[str] = None) -> str:
        """Serve the previous model again; the one rolled back from is never picked by a rollback again."""
        target = self.rollback_target()
        if target is None:
            raise RollbackImpossible("no earlier model to roll back to")
        current = self.current_path()
        if current is not None:
            self.register(current.name, "existing", "promoted")
            self.decide(current.name, "rolled_back", f"rolled back by {by or 'unknown'}")
        self.deploy(target, "rollback", by)
        return target

    def protected(self) -> set:
        """Files pruning must keep: the served model and what a rollback would go back to."""
        keep = {p.name for p in (self.current_path(),) if p is not None}
        target = self.rollback_target()
        if target:
            keep.add(target)
        return keep

    def last_evaluated(self) -> Optional[Version]:
        """The model evaluated most recently (a retrain evaluates the served model, then the candidate)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(versions).where(versions.c.evaluated_at.isnot(None))
                               .order_by(versions.c.evaluated_at.desc(), versions.c.id.desc()).limit(1)).first()
        return Version.from_row(row) if row else None


def newest_model(model_dir: Path) -> Optional[Path]:
    """The newest model file (`cskh retrain` trains elsewhere and moves the finished file in)."""
    if not Path(model_dir).is_dir():
        return None
    models = sorted(Path(model_dir).glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    return models[0] if models else None


def last_evaluation(app: Union[str, Engine]) -> Optional[Dict[str, Any]]:
    """The most recent evaluation on the fixed set (for the analytics page), with its model's name."""
    from cskh.settings import get_settings

    version = ModelRegistry(app, get_settings().model_dir).last_evaluated()
    if version is None or not version.evaluation:
        return None
    return dict(version.evaluation, model=version.name, state=version.state)
