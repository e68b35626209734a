"""Held-out NLU evaluation: split the NLU data 80/20 (fixed seed), train NLU on 80%, `rasa test nlu`
on the other 20%, and print a per-intent table (results in results/nlu/)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results"


def rasa(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "rasa", *args], cwd=ROOT, check=True)


def main() -> int:
    split = OUT / "nlu-split"
    rasa("data", "split", "nlu", "-u", "bot/data/nlu", "--training-fraction", "0.8", "--random-seed", "13",
         "--out", str(split))
    rasa("train", "nlu", "--config", "config.yml", "--nlu", str(split / "training_data.yml"),
         "--out", str(OUT / "nlu-model"), "--fixed-model-name", "heldout")
    rasa("test", "nlu", "--nlu", str(split / "test_data.yml"), "--model", str(OUT / "nlu-model" / "heldout.tar.gz"),
         "--out", str(OUT / "nlu"))
    report = json.loads((OUT / "nlu" / "intent_report.json").read_text())
    print("\n| intent | precision | recall | F1 | support |\n|---|---|---|---|---|")
    for intent, row in sorted((k, v) for k, v in report.items() if isinstance(v, dict) and "support" in v
                              and k not in ("macro avg", "weighted avg", "micro avg")):
        print(f"| {intent} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1-score']:.3f} | {row['support']} |")
    for avg in ("macro avg", "weighted avg"):
        row = report[avg]
        print(f"| **{avg}** | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1-score']:.3f} | {row['support']} |")
    print(f"\naccuracy: {report['accuracy']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
