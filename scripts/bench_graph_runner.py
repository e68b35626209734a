"""Rasa's DaskGraphRunner against cskh's OrderedGraphRunner on the trained model (a benchmark, not a
test): the median time of one NLU parse and of one action prediction, run by run, on the same
nodes. `tests/integration/test_graph_runner.py` checks that both give the same results.

    python scripts/bench_graph_runner.py [--runs 300]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent


def median_ms(call: Callable[[], object], runs: int) -> float:
    for _ in range(max(10, runs // 10)):  # warm-up
        call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from cskh import rasa_tuning
    from cskh.logging import configure

    configure(level="WARNING")  # Rasa's debug lines off
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit("no trained model in models/ (make setup trains one)")
    rasa_tuning.install()
    agent = Agent.load(str(models[-1]))
    ordered = agent.processor.graph_runner
    dask = DaskGraphRunner.__new__(DaskGraphRunner)
    dask.__dict__.update({k: v for k, v in ordered.__dict__.items() if k != "_orders"})
    metadata = agent.processor.model_metadata
    tracker = DialogueStateTracker("bench", agent.domain.slots)
    tracker.update(ActionExecuted("action_listen"))
    text = "phí ship bao nhiêu vậy shop"
    parsed = ordered.run({"__message__": [UserMessage(text, sender_id="bench")], "__tracker__": tracker},
                         [metadata.nlu_target])[metadata.nlu_target][0].as_dict()
    tracker.update(UserUttered(text, parsed.get("intent"), parsed.get("entities", []), parse_data=parsed))

    print(f"model: {models[-1].name}; median of {args.runs} runs, ms\n")
    print("| graph run | DaskGraphRunner | OrderedGraphRunner | saved |\n|---|---|---|---|")
    for label, inputs, target in (
            ("NLU parse", lambda: {"__message__": [UserMessage(text, sender_id="bench")], "__tracker__": tracker},
             metadata.nlu_target),
            ("action prediction", lambda: {"__tracker__": tracker}, metadata.core_target)):
        before = median_ms(lambda: dask.run(inputs(), [target]), args.runs)
        after = median_ms(lambda: ordered.run(inputs(), [target]), args.runs)
        print(f"| {label} | {before:.3f} | {after:.3f} | {before - after:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
