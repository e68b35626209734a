"""CPU and wall time of one NLU parse and one KB search in a gateway process, with its compute
threads (`CSKH_COMPUTE_THREADS`: TensorFlow's and FAISS's OpenMP) at 1 against the libraries'
defaults (0: one per core).

    python scripts/bench_compute_threads.py [--threads 1 0] [--rounds 3] [--parses 500] [--searches 600]

Both libraries take their thread counts once per process, so each setting runs in a child process
of its own, set up as the gateway is (`limit_compute_threads`, then the newest model under models/
and the KB index under var/); settings alternate, rounds times. Each child warms up, then:
- parses --parses customer messages (seven texts, each made new by a number);
- runs --searches KB searches of five questions whose vectors are already cached (what the
  gateway does for a question it has seen: the FAISS search and the ranker, no encoder), 2 ms
  apart, as searches come between other work in the gateway (OpenMP's threads spin for a while
  after each search, waiting for more).
It prints the CPU time of the whole process (every library thread included) and the wall time per
parse and per search (without the pauses). Printed: each setting's median over its rounds."""
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


QUESTIONS = ["phí ship về Đà Nẵng bao nhiêu", "bảo hành laptop bao lâu", "shop có trả góp không",
             "đổi trả trong mấy ngày", "cửa hàng ở đâu"]
PAUSE = 0.002


async def _measure(threads: int, parses: int, searches: int) -> Dict[str, float]:
    from rasa.core.agent import Agent

    from cskh.assistant import served_model
    from cskh.rasa_tuning import install
    from cskh.settings import get_settings
    from cskh.setup import open_kb
    from cskh.threads import limit_compute_threads

    settings = get_settings()
    applied = limit_compute_threads(threads)
    install()
    kb = open_kb(settings)
    agent = Agent.load(str(served_model(settings)))
    for text in TEXTS * 5:
        await agent.parse_message(text)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(parses):
        await agent.parse_message(f"{TEXTS[i % len(TEXTS)]} {i}")
    parse_cpu, parse_wall = (time.process_time() - cpu) * 1000 / parses, (time.perf_counter() - wall) * 1000 / parses
    for question in QUESTIONS * 3:
        kb.search(question)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(searches):
        kb.search(QUESTIONS[i % len(QUESTIONS)])
        time.sleep(PAUSE)
    return {"threads": threads, "applied": all(applied.values()), "cpu_ms": parse_cpu, "wall_ms": parse_wall,
            "search_cpu_ms": (time.process_time() - cpu) * 1000 / searches,
            "search_wall_ms": (time.perf_counter() - wall) * 1000 / searches - PAUSE * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 0], help="settings to compare (0: defaults)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parses", type=int, default=500)
    parser.add_argument("--searches", type=int, default=600)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(asyncio.run(_measure(args.child, args.parses, args.searches))))
        return 0
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "HF_HUB_OFFLINE": "1", "RASA_TELEMETRY_ENABLED": "false"}
    runs: Dict[int, List[dict]] = {t: [] for t in args.threads}
    for _ in range(args.rounds):
        for threads in args.threads:
            done = subprocess.run([sys.executable, __file__, "--child", str(threads), "--parses", str(args.parses),
                                   "--searches", str(args.searches)],
                                  capture_output=True, text=True, env=env, cwd=ROOT, check=True)
            runs[threads].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"per NLU parse ({args.parses} per run) and per KB search ({args.searches} per run, cached vectors), "
          f"{args.rounds} alternating runs per setting, medians; CPU of the whole process\n")
    print("| compute threads (TensorFlow inter-op and intra-op, OpenMP) | parse CPU ms | parse wall ms | "
          "search CPU ms | search wall ms | runs' parse CPU ms | runs' search CPU ms |")
    print("|---|---|---|---|---|---|---|")
    for threads, rows in runs.items():
        name = str(threads) if threads > 0 else "the libraries' defaults (one per core)"
        if threads > 0 and not all(r["applied"] for r in rows):
            name += " (not applied)"
        median = lambda key: statistics.median(r[key] for r in rows)  # noqa: E731
        print(f"| {name} | {median('cpu_ms'):.2f} | {median('wall_ms'):.2f} | {median('search_cpu_ms'):.2f} | "
              f"{median('search_wall_ms'):.2f} | " + ", ".join(f"{r['cpu_ms']:.2f}" for r in rows) + " | "
              + ", ".join(f"{r['search_cpu_ms']:.2f}" for r in rows) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
