"""The gateway under load with its start-up heap frozen out of the garbage collector
(`CSKH_GC_FREEZE=true`, the default; cskh/heap.py) and without it (false).

    python scripts/bench_gc_freeze.py [--rounds 2] [--workers 2] [--postgres]
                                      [--saturation-seconds 45] [--paced-seconds 90]

Each round starts the service (as `make load` does: fresh databases, free ports) once per setting,
the two settings in alternating order, and drives it with `cskh.load`: a REST saturation run, then
a paced REST run (200 conversations, 5-8 s between messages). Around each run it reads the
collector's runs from the service's /metrics (`cskh_gc_pause_seconds`, every worker's). Printed:
one row per setting with the medians over its rounds: msg/s and latency, and the full collections
(generation 2) with their mean pause and the pause time per 1,000 answered messages.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_load import gc_pauses, postgres_database, start  # noqa: E402
from cskh.load import Plan, run  # noqa: E402


def _window(url: str, plan: Plan) -> Dict[str, float]:
    """Drive one plan; its figures and the full collections it saw."""
    before = gc_pauses(url)
    stats = asyncio.run(run(plan))
    after = gc_pauses(url)
    runs = after.get("2", (0, 0, 0))[0] - before.get("2", (0, 0, 0))[0]
    total = after.get("2", (0, 0, 0))[1] - before.get("2", (0, 0, 0))[1]
    young = sum(after[g][1] - before.get(g, (0, 0, 0))[1] for g in after if g != "2")
    return {"msg_per_s": stats["msg_per_s"], "p95": stats["p95"], "p99": stats["p99"], "errors": stats["errors"],
            "crossed": stats["crossed"], "full_runs": runs, "full_mean_ms": 1000 * total / runs if runs else 0.0,
            "full_ms_per_1k": 1e6 * total / max(stats["answered"], 1),
            "young_ms_per_1k": 1e6 * young / max(stats["answered"], 1)}


def one(setting: bool, args: argparse.Namespace) -> Dict[str, Dict[str, float]]:
    os.environ["CSKH_GC_FREEZE"] = "true" if setting else "false"
    work = Path(tempfile.mkdtemp(prefix="cskh-gc-"))
    with postgres_database(args.postgres) as database:
        server, url = start(work, args.workers, database)
        try:
            asyncio.run(run(Plan(url, "rest", 2, duration=5)))  # warm-up, as make load does
            found = {"saturation": _window(url, Plan(url, "rest", args.saturation_conversations,
                                                     args.saturation_seconds))}
            if args.paced_seconds > 0:
                found["paced"] = _window(url, Plan(url, "rest", args.paced_conversations, args.paced_seconds,
                                                   think=(5.0, 8.0)))
            return found
        finally:
            server.terminate()
            server.wait(timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--saturation-conversations", type=int, default=40)
    parser.add_argument("--saturation-seconds", type=float, default=45)
    parser.add_argument("--paced-conversations", type=int, default=200)
    parser.add_argument("--paced-seconds", type=float, default=90, help="0: no paced run")
    args = parser.parse_args()
    results: Dict[bool, List[Dict[str, Dict[str, float]]]] = {True: [], False: []}
    for round_ in range(args.rounds):
        for setting in ((True, False) if round_ % 2 == 0 else (False, True)):
            results[setting].append(one(setting, args))
            print(f"round {round_ + 1}, CSKH_GC_FREEZE={str(setting).lower()}: {results[setting][-1]}",
                  file=sys.stderr, flush=True)
    print(f"\n{os.cpu_count()} cores; workers: {args.workers}; stores: {'PostgreSQL' if args.postgres else 'SQLite'}; "
          f"REST; medians of {args.rounds} round(s), the settings alternating\n")
    print("| CSKH_GC_FREEZE | mode | msg/s | p95 ms | p99 ms | errors | cross-talk | full collections | "
          "mean full pause ms | full-pause ms per 1k msgs | younger-pause ms per 1k msgs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for setting in (True, False):
        for mode in ("saturation", "paced"):
            rows = [r[mode] for r in results[setting] if mode in r]
            if not rows:
                continue
            m = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            errors, crossed = sum(r["errors"] for r in rows), sum(r["crossed"] for r in rows)
            print(f"| {str(setting).lower()} | {mode} | {m['msg_per_s']:.1f} | {m['p95']:.0f} | {m['p99']:.0f} | "
                  f"{errors:.0f} | {crossed:.0f} | {m['full_runs']:.1f} | {m['full_mean_ms']:.0f} | "
                  f"{m['full_ms_per_1k']:.0f} | {m['young_ms_per_1k']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
