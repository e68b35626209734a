"""`cskh retrain`: labelled review rows → training data → `rasa data validate` → a candidate model →
both models evaluated on the fixed set → the gate promotes the candidate or refuses it.

Each run is a row in `retrain_runs` (app database) holding its stage, progress and final report,
so the /admin page can show a run started from the page or from the command line, and the
analytics page can show the last evaluation. The candidate is trained into a private folder and
moved into the model directory only when finished, so no replica ever loads a half-written file.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import sys
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Callable, Deque, Dict, Iterator, List, Optional, Tuple, Union

from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Text, Table, select
from sqlalchemy.engine import Engine

from cskh.settings import ROOT, Settings
from leads import evaluation as ev
from leads.models import ModelRegistry, iso, now, registry_engine

metadata = MetaData()
runs = Table(
    "retrain_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("status", String(16), nullable=False),     # running | promoted | refused | failed
    Column("stage", String(16), nullable=False),      # queued | apply | validate | train | evaluate | decide | done
    Column("progress", Float, nullable=False, default=0.0),
    Column("message", Text, nullable=True),
    Column("candidate", String(255), nullable=True),
    Column("report", Text, nullable=True),            # JSON
    Column("by", String(64), nullable=True),
    Column("pid", Integer, nullable=True),
    Column("host", String(255), nullable=True),       # where pid lives (replicas share the table)
)

STAGE_SPAN = {"queued": (0.0, 0.0), "apply": (0.0, 0.03), "validate": (0.03, 0.08), "train": (0.08, 0.75),
              "evaluate": (0.75, 0.97), "decide": (0.97, 1.0)}
EPOCHS = re.compile(r"Epochs:\s+(\d+)%")
COMPONENT = re.compile(r"Starting to train component '([^']+)'")
RESTORED = re.compile(r"Restored component '([^']+)' from cache")
EPOCH_COMPONENTS = ("DIETClassifier", "TEDPolicy")  # Rasa's components with progress bars; one may come
# from Rasa's cache (TED does when only NLU examples changed), and then its phase is not waited for


def epoch_components(config: Path) -> Tuple[str, ...]:
    """The components of a training config that print epoch bars, in training order."""
    import yaml

    data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    names = [item.get("name") for section in ("pipeline", "policies") for item in data.get(section) or []]
    return tuple(n for n in names if n in EPOCH_COMPONENTS)


class TrainProgress:
    """Reads `rasa train` output (tqdm bars end with a carriage return) as a fraction done."""

    def __init__(self, components: Tuple[str, ...] = EPOCH_COMPONENTS) -> None:
        self.components = components
        self.phases = max(1, len(components))
        self.phase = 0
        self.last_pct = 0
        self.done = 0.0
        self.component = "the model"

    def feed(self, line: str) -> Optional[Tuple[float, str, bool]]:
        """(fraction, message, worth printing) when the line moves the training on, else None."""
        if (found := RESTORED.search(line)) is not None and found.group(1) in self.components:
            self.phases = max(1, self.phases - 1)
            return None
        if (found := COMPONENT.search(line)) is not None:
            self.component = found.group(1)
            return self.done, f"training {self.component}", True
        if (found := EPOCHS.search(line)) is None:
            return None
        pct = int(found.group(1))
        if pct < self.last_pct:
            self.phase += 1
        announce = pct != self.last_pct and pct % 10 == 0
        self.last_pct = pct
        fraction = (min(self.phase, self.phases - 1) * 100 + pct) / (self.phases * 100)
        self.done = max(self.done, min(fraction, 1.0))  # never backwards, whatever the cache decides
        return self.done, f"training {self.component}: {pct}%", announce


def _lines(stream: IO[bytes]) -> Iterator[str]:
    """Non-empty lines of a byte stream split at line feeds and carriage returns, as they arrive."""
    buffer = b""
    while True:
        chunk = stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096)
        if not chunk:
            break
        buffer += chunk
        *pieces, buffer = re.split(rb"[\r\n]", buffer)
        for piece in pieces:
            line = piece.decode("utf-8", "replace").strip()
            if line:
                yield line
    if buffer.strip():
        yield buffer.decode("utf-8", "replace").strip()


class RetrainBusy(RuntimeError):
    """Another retrain is running."""


def _alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLog:
    """The `retrain_runs` table."""

    def __init__(self, app: Union[str, Engine]) -> None:
        self.engine = registry_engine(app)
        metadata.create_all(self.engine)

    def running(self) -> Optional[Dict[str, Any]]:
        """The run in progress; a run whose process died is closed as failed first."""
        with self.engine.begin() as conn:
            for row in conn.execute(select(runs).where(runs.c.status == "running")).fetchall():
                if row.pid is None or row.host != socket.gethostname() or _alive(row.pid):
                    return self._public(row)
                conn.execute(runs.update().where(runs.c.id == row.id).values(
                    status="failed", finished_at=now(), message="the retrain process ended unexpectedly"))
        return None

    def start(self, by: Optional[str], pid: Optional[int] = None) -> int:
        if self.running() is not None:
            raise RetrainBusy("a retrain is already running")
        with self.engine.begin() as conn:
            result = conn.execute(runs.insert().values(started_at=now(), status="running", stage="queued",
                                                       progress=0.0, message="waiting to start", by=by, pid=pid,
                                                       host=socket.gethostname()))
            return int(result.inserted_primary_key[0])

    def update(self, run_id: int, **values: Any) -> None:
        if "report" in values and not isinstance(values["report"], (str, type(None))):
            values["report"] = json.dumps(values["report"], ensure_ascii=False)
        with self.engine.begin() as conn:
            conn.execute(runs.update().where(runs.c.id == run_id).values(**values))

    def get(self, run_id: int) -> Optional[Dict[str, Any]]:
        with self.engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
        return self._public(row) if row else None

    def recent(self, limit: int = 20) -> List[Dict[str, Any]]:
        self.running()  # closes dead runs
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.id.desc()).limit(limit)).fetchall()
        return [self._public(r) for r in rows]

    @staticmethod
    def _public(row: Any) -> Dict[str, Any]:
        return {"id": row.id, "started_at": iso(row.started_at), "finished_at": iso(row.finished_at),
                "status": row.status, "stage": row.stage, "progress": round(row.progress or 0.0, 3),
                "message": row.message, "candidate": row.candidate, "by": row.by,
                "report": json.loads(row.report) if row.report else None}


@dataclass
class Paths:
    config: Path
    domain: Path
    data: Path
    nlu: Path
    eval_file: Path
    model_dir: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> "Paths":
        project = Path(settings.project_dir)
        return cls(project / "config.yml", project / "domain.yml", project / "bot" / "data",
                   project / "bot" / "data" / "nlu", Path(settings.nlu_eval_path), Path(settings.model_dir))


Echo = Callable[[str], None]


class Retrain:
    def __init__(self, settings: Settings, by: Optional[str] = None, echo: Echo = print,
                 run_id: Optional[int] = None) -> None:
        self.settings = settings
        self.paths = Paths.from_settings(settings)
        self.by = by
        self.echo = echo
        self.log = RunLog(settings.app_database_url)
        self.registry = ModelRegistry(settings.app_database_url, self.paths.model_dir)
        if run_id is None:
            run_id = self.log.start(by, os.getpid())
        else:
            self.log.update(run_id, pid=os.getpid())
        self.run_id = run_id

    # ---- progress ----------------------------------------------------------------------------

    def stage(self, name: str, message: str, fraction: float = 0.0) -> None:
        low, high = STAGE_SPAN[name]
        self.log.update(self.run_id, stage=name, progress=low + (high - low) * min(max(fraction, 0.0), 1.0),
                        message=message)

    def say(self, name: str, message: str, fraction: float = 0.0) -> None:
        self.stage(name, message, fraction)
        self.echo(f"[{name}] {message}")

    def finish(self, status: str, message: str, report: Optional[Dict[str, Any]] = None,
               candidate: Optional[str] = None) -> Dict[str, Any]:
        self.log.update(self.run_id, status=status, stage="done", progress=1.0, message=message,
                        finished_at=now(), report=report, candidate=candidate)
        self.echo(message)
        return self.log.get(self.run_id) or {}

    # ---- the steps ---------------------------------------------------------------------------

    def run(self, apply_labels: bool = True) -> Dict[str, Any]:
        try:
            return self._run(apply_labels)
        except Exception as error:  # the run row must never stay "running" with a dead process
            return self.finish("failed", f"failed: {type(error).__name__}: {error}")

    def _run(self, apply_labels: bool) -> Dict[str, Any]:
        report: Dict[str, Any] = {"tolerance": self.settings.gate_tolerance,
                                  "intent_tolerance": self.settings.gate_intent_tolerance}
        if apply_labels:
            self.say("apply", "writing labelled review rows into the training data")
            report["applied"] = self._apply()
            self.echo(f"  {report['applied']['examples']} new example(s), {report['applied']['conflicts']} "
                      f"conflict(s), {report['applied']['duplicates']} duplicate(s)")
        self.say("validate", "rasa data validate")
        problems = self._validate()
        if problems is not None:
            report["validate"] = problems
            return self.finish("failed", "rasa data validate found errors:\n" + problems, report)
        report["validate"] = "ok"

        examples = ev.load_examples(self.paths.eval_file)
        current = self.registry.current_path()
        name = f"retrain-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{self.run_id}.tar.gz"
        self.say("train", "training the candidate model")
        candidate = self._train(name)
        self.registry.register(candidate.name, "retrain")

        evaluations: Dict[str, Optional[ev.Evaluation]] = {"current": None}
        jobs = ([("current", current)] if current is not None else []) + [("candidate", candidate)]
        for i, (role, path) in enumerate(jobs):
            def progress(done: int, total: int, i: int = i, role: str = role) -> None:
                self.stage("evaluate", f"evaluating the {role} model: {done}/{total}", (i + done / total) / len(jobs))

            self.say("evaluate", f"evaluating the {role} model ({path.name}) on {len(examples)} examples",
                     i / len(jobs))
            evaluations[role] = ev.evaluate(path, examples, progress)
            self.registry.register(path.name, "existing", "promoted")
            self.registry.record_evaluation(path.name, evaluations[role].as_dict())
            self.echo(f"  {role}: macro-F1 {evaluations[role].macro_f1:.3f}, accuracy {evaluations[role].accuracy:.3f}")

        cand, curr = evaluations["candidate"], evaluations["current"]
        assert cand is not None
        self.say("decide", "comparing candidate and current model")
        decision = ev.gate(cand, curr, self.settings.gate_tolerance, self.settings.gate_intent_tolerance)
        report.update(candidate=_brief(cand), current=_brief(curr) if curr else None, reasons=decision.reasons,
                      deltas=decision.deltas, macro_delta=decision.macro_delta,
                      current_model=current.name if current else None)
        self.echo(ev.format_comparison(cand, curr))
        if decision.promote:
            self.registry.decide(candidate.name, "promoted", decision.summary())
            if current is not None and self.registry.current() is None:
                # the first deployment: record what was served (the newest file) so a rollback can return to it
                self.registry.deploy(current.name, "existing", self.by)
            self.registry.deploy(candidate.name, "promote", self.by)
            self._prune()
            return self.finish("promoted", f"{candidate.name} {decision.summary()}; the service switches to it "
                                           f"within {self.settings.model_poll_seconds:g} s", report, candidate.name)
        self.registry.decide(candidate.name, "refused", decision.summary())
        return self.finish("refused", f"{candidate.name} {decision.summary()}; still serving "
                                      f"{current.name if current else 'nothing'}", report, candidate.name)

    def _apply(self) -> Dict[str, int]:
        from leads.review import apply

        applied = apply(self.settings.app_database_url, self.paths.nlu, Path(self.settings.kb_source_dir))
        return {"examples": len(applied.examples) + len(applied.moved), "conflicts": len(applied.conflicts),
                "duplicates": len(applied.duplicates), "kb_questions": len(applied.kb_questions)}

    def _rasa(self, *args: str) -> List[str]:
        return [sys.executable, "-m", "rasa", *args, "--config", str(self.paths.config),
                "--domain", str(self.paths.domain), "--data", str(self.paths.data)]

    def _validate(self) -> Optional[str]:
        """None when the data is valid, else Rasa's error lines."""
        done = subprocess.run(self._rasa("data", "validate"), cwd=ROOT, capture_output=True, text=True,
                              env=_rasa_env())
        if done.returncode == 0:
            return None
        lines = [l for l in (done.stdout + done.stderr).splitlines() if "ERROR" in l or "error" in l.lower()]
        return "\n".join(lines[-30:]) or (done.stdout + done.stderr)[-3000:]

    def _train(self, name: str) -> Path:
        staging = self.paths.model_dir / ".training"
        staging.mkdir(parents=True, exist_ok=True)
        command = self._rasa("train", "--out", str(staging), "--fixed-model-name", name[: -len(".tar.gz")])
        tail: Deque[str] = deque(maxlen=40)
        progress = TrainProgress(epoch_components(self.paths.config))
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   env=_rasa_env())
        assert process.stdout is not None
        for line in _lines(process.stdout):
            tail.append(line)
            update = progress.feed(line)
            if update is not None:
                fraction, message, announce = update
                self.stage("train", message, fraction)
                if announce:
                    self.echo(f"  {message}")
        code = process.wait()
        produced = staging / name
        if code != 0 or not produced.is_file():
            raise RuntimeError("rasa train failed:\n" + "\n".join(tail))
        final = self.paths.model_dir / name
        os.replace(produced, final)
        return final

    def _prune(self) -> None:
        from cskh.setup import prune_models

        prune_models(self.paths.model_dir, protected=self.registry.protected())


def _brief(evaluation: ev.Evaluation) -> Dict[str, Any]:
    data = evaluation.as_dict()
    data["errors"] = data["errors"][:100]
    return data


def _rasa_env() -> Dict[str, str]:
    return dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")


def spawn(settings: Settings, by: Optional[str], env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Start `cskh retrain` in the background for the /admin page; raises RetrainBusy."""
    log = RunLog(settings.app_database_url)
    run_id = log.start(by)
    try:
        process = subprocess.Popen([sys.executable, "-m", "cskh.cli", "retrain", "--run-id", str(run_id),
                                    "--by", by or "admin"], cwd=ROOT, env=env or dict(os.environ),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as error:
        log.update(run_id, status="failed", stage="done", finished_at=now(), message=f"could not start: {error}")
        raise
    log.update(run_id, pid=process.pid)
    threading.Thread(target=process.wait, name=f"retrain-{run_id}", daemon=True).start()  # reap it
    return log.get(run_id) or {}
