"""CPU and wall time of one NLU parse (the trained model's whole NLU graph, DIET included) with
TensorFlow on one thread against its defaults (one per core): `CSKH_TF_THREADS`.

    python scripts/bench_nlu_threads.py [--threads 1 0] [--rounds 3] [--parses 500]

TensorFlow takes its thread counts once per process, so each setting runs in a child process of
its own; settings alternate, rounds times. Each child loads the newest model under models/ (as
the gateway does), warms up, then parses --parses customer messages (seven texts, each made new
by a number) and prints the CPU time of the whole process (TensorFlow's threads included) and
the wall time per parse. Printed: each setting's median over its rounds."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXTS = ["chào shop", "phí ship về Đà Nẵng bao nhiêu", "cho mình hỏi đơn SM12345 tới đâu rồi", "cảm ơn nhé",
         "tai nghe Aura Buds còn hàng không", "mình muốn đổi địa chỉ giao hàng", "bảo hành laptop bao lâu"]


async def _measure(threads: int, parses: int) -> Dict[str, float]:
    from rasa.core.agent import Agent

    from cskh.assistant import served_model
    from cskh.rasa_tuning import install, tensorflow_threads
    from cskh.settings import get_settings

    install()
    took = tensorflow_threads(threads)
    agent = Agent.load(str(served_model(get_settings())))
    for text in TEXTS * 5:
        await agent.parse_message(text)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(parses):
        await agent.parse_message(f"{TEXTS[i % len(TEXTS)]} {i}")
    return {"threads": threads, "applied": took, "cpu_ms": (time.process_time() - cpu) * 1000 / parses,
            "wall_ms": (time.perf_counter() - wall) * 1000 / parses}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 0], help="settings to compare (0: defaults)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parses", type=int, default=500)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(asyncio.run(_measure(args.child, args.parses))))
        return 0
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "HF_HUB_OFFLINE": "1", "RASA_TELEMETRY_ENABLED": "false"}
    runs: Dict[int, List[dict]] = {t: [] for t in args.threads}
    for _ in range(args.rounds):
        for threads in args.threads:
            done = subprocess.run([sys.executable, __file__, "--child", str(threads), "--parses", str(args.parses)],
                                  capture_output=True, text=True, env=env, cwd=ROOT, check=True)
            runs[threads].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"one NLU parse, {args.parses} parses per run, {args.rounds} alternating runs per setting, medians\n")
    print("| TensorFlow threads (inter-op, intra-op) | CPU ms per parse | wall ms per parse | runs' CPU ms |")
    print("|---|---|---|---|")
    for threads, rows in runs.items():
        name = f"{threads}, {threads}" if threads > 0 else "TensorFlow's defaults"
        if threads > 0 and not all(r["applied"] for r in rows):
            name += " (not applied)"
        print(f"| {name} | {statistics.median(r['cpu_ms'] for r in rows):.2f} | "
              f"{statistics.median(r['wall_ms'] for r in rows):.2f} | "
              + ", ".join(f"{r['cpu_ms']:.2f}" for r in rows) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
