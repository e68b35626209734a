"""How long until a KB change is answerable: our live index vs Rasa's ResponseSelector.

  python scripts/bench_kb_update.py [--runs 20] [--skip-rasa]

Live index: add (or change) one FAQ entry in a KB holding the whole faq_corpus and time until a
search returns it first, over several runs. ResponseSelector: the same KB written as Rasa
retrieval intents (faq/<id>) with responses (utter_faq/<id>) into a copy of this project, with
ResponseSelector added to the pipeline; a new entry then needs a full `rasa train`, timed once.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cskh.settings import get_settings  # noqa: E402
from retrieval.corpus import Entry, load_source  # noqa: E402
from retrieval.encoder import Encoder  # noqa: E402
from retrieval.search import KnowledgeBase  # noqa: E402


def live_update_seconds(kb: KnowledgeBase, runs: int) -> list:
    times = []
    for i in range(runs):
        entry = Entry(f"bench-new-{i}", (f"shop có nhận khắc tên lên sản phẩm số {i} không",
                                         f"khac ten len may so {i} duoc ko"), {"vi": "Dạ, có ạ."})
        started = time.perf_counter()
        kb.upsert([entry])
        top = kb.search(f"khắc tên lên sản phẩm số {i}", k=1)[0].id
        times.append(time.perf_counter() - started)
        assert top == entry.id, top
    return times


def response_selector_train_seconds(entries: list) -> float:
    work = Path(tempfile.mkdtemp(prefix="cskh-rs-"))
    for name in ("config.yml", "domain.yml"):
        shutil.copy(ROOT / name, work / name)
    shutil.copytree(ROOT / "bot" / "data", work / "data")
    nlu = [{"intent": f"faq/{e.id}", "examples": "".join(f"- {q}\n" for q in e.questions
                                                          if not any(c in q for c in "[]{}()"))} for e in entries]
    (work / "data" / "nlu" / "faq_retrieval.yml").write_text(
        yaml.safe_dump({"version": "3.1", "nlu": nlu}, allow_unicode=True), encoding="utf-8")
    domain = yaml.safe_load((work / "domain.yml").read_text(encoding="utf-8"))
    for e in entries:
        domain["responses"][f"utter_faq/{e.id}"] = [{"text": e.answer("vi")}]
    (work / "domain.yml").write_text(yaml.safe_dump(domain, allow_unicode=True), encoding="utf-8")
    config = yaml.safe_load((work / "config.yml").read_text(encoding="utf-8"))
    position = [c["name"] for c in config["pipeline"]].index("DIETClassifier") + 1
    config["pipeline"].insert(position, {"name": "ResponseSelector", "epochs": 50, "retrieval_intent": "faq"})
    (work / "config.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rasa", "train", "--config", "config.yml", "--domain", "domain.yml",
                    "--data", "data", "--out", "models", "--force"], cwd=work, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    shutil.rmtree(work, ignore_errors=True)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--skip-rasa", action="store_true")
    args = parser.parse_args()
    settings = get_settings()
    entries = load_source(settings.kb_source_dir)
    kb = KnowledgeBase.build(entries, Encoder(settings.embedding_model))
    live = live_update_seconds(kb, args.runs)
    print("| way to add one FAQ entry | time until answerable |\n|---|---|")
    print(f"| live index (upsert + search), median of {args.runs} | {statistics.median(live) * 1000:.0f} ms "
          f"(max {max(live) * 1000:.0f} ms) |")
    if not args.skip_rasa:
        seconds = response_selector_train_seconds(entries)
        print(f"| Rasa ResponseSelector: full `rasa train` ({len(entries)} entries as retrieval intents), once | "
              f"{seconds:.0f} s, plus a model reload |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
