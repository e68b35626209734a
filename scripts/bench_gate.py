"""How the retrain gate behaves on label sets whose effect we know: retrain with no new labels, with
a correct set (tests/data/gate_labels.yml `thank`) and with a harmful one (`harmful_order_cancel`),
each on a copy of the project starting from the served model, and print what the gate measured.

    python scripts/bench_gate.py            # about 5 minutes a retrain on 2 cores

The copies live in a temporary directory; the repository, its models and databases are untouched.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cskh.settings import get_settings  # noqa: E402
from cskh.assistant import served_model  # noqa: E402

SETS = {"no new labels": None, "correct: 9 formal thanks → thank": ("thank", "thank"),
        "harmful: 40 order-status questions → order_cancel": ("harmful_order_cancel", "order_cancel")}


def _project(work: Path, labels: Optional[List[str]], intent: Optional[str], model: Path) -> Dict[str, str]:
    project, models = work / "project", work / "models"
    (project / "bot").mkdir(parents=True)
    for name in ("config.yml", "domain.yml"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "bot" / "data", project / "bot" / "data")
    shutil.copytree(ROOT / "bot" / "eval", project / "bot" / "eval")
    if labels:
        text = f'version: "3.1"\nnlu:\n- intent: {intent}\n  examples: |\n' + "".join(f"    - {t}\n" for t in labels)
        (project / "bot" / "data" / "nlu" / "reviewed.yml").write_text(text, encoding="utf-8")
    models.mkdir()
    shutil.copy(model, models / model.name)
    return dict(os.environ, CSKH_PROJECT_DIR=str(project), CSKH_MODEL_DIR=str(models),
                CSKH_APP_DATABASE_URL=f"sqlite:///{work / 'app.db'}", HF_HUB_OFFLINE="1",
                TRANSFORMERS_OFFLINE="1", RASA_TELEMETRY_ENABLED="false")


def main() -> int:
    labels = yaml.safe_load((ROOT / "tests" / "data" / "gate_labels.yml").read_text(encoding="utf-8"))
    model = served_model(get_settings())
    rows = []
    for name, spec in SETS.items():
        with tempfile.TemporaryDirectory(prefix="cskh-gate-") as tmp:
            env = _project(Path(tmp), labels[spec[0]] if spec else None, spec[1] if spec else None, model)
            print(f"== {name}", flush=True)
            code = subprocess.call([sys.executable, "-m", "cskh.cli", "retrain", "--no-apply", "--by", "bench"],
                                   cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with sqlite3.connect(Path(tmp) / "app.db") as db:
                status, report = db.execute("SELECT status, report FROM retrain_runs ORDER BY id DESC").fetchone()
            report = json.loads(report or "{}")
            deltas = report.get("deltas") or {}
            worst = min(deltas.items(), key=lambda kv: kv[1]) if deltas else ("", 0.0)
            rows.append((name, report.get("current", {}).get("macro_f1"), report.get("candidate", {}).get("macro_f1"),
                         report.get("macro_delta"), worst, status, code))
    settings = get_settings()
    print(f"\ngate: macro-F1 tolerance {settings.gate_tolerance}, per-intent {settings.gate_intent_tolerance}; "
          f"fixed set {settings.nlu_eval_path.relative_to(ROOT)}\n")
    print("| label set | current macro-F1 | candidate macro-F1 | change | largest intent drop | decision |")
    print("|---|---|---|---|---|---|")
    for name, before, after, delta, (intent, drop), status, _ in rows:
        fmt = lambda v: "" if v is None else f"{v:.3f}"  # noqa: E731
        print(f"| {name} | {fmt(before)} | {fmt(after)} | {'' if delta is None else f'{delta:+.3f}'} | "
              f"{intent} {drop:+.3f} | {status} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
