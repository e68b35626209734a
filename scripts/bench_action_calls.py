"""Custom-action calls from the gateway to the real action server (a benchmark, not a test):
Rasa's own endpoint (a new aiohttp session and TCP connection per call) against
`cskh.rasa_tuning.PooledEndpoint` (one kept session per event loop). Starts the action server
on a free port, calls `action_decline` (no database: one reply and the form slots it resets) N times in a row
with each endpoint, alternating, and prints the median wall time of a call and the gateway
process's CPU time per call (`time.process_time`, which also counts the event loop's own work).

    python scripts/bench_action_calls.py [--calls 300] [--rounds 3]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def calls(endpoint, n: int, domain, nlg) -> tuple:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.shared.core.trackers import DialogueStateTracker

    action = RemoteAction("action_decline", endpoint)
    tracker = DialogueStateTracker("bench-actions", domain.slots)
    walls: List[float] = []
    cpu_started = time.process_time()
    for _ in range(n):
        started = time.perf_counter()
        events = await action.run(CollectingOutputChannel(), nlg, tracker, domain)
        walls.append(1000 * (time.perf_counter() - started))
        if not events:
            raise SystemExit("the action server answered without a reply")
    cpu = 1000 * (time.process_time() - cpu_started) / n
    return statistics.median(walls), cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.utils.endpoints import EndpointConfig

    from cskh import rasa_tuning
    from cskh.cli import action_server, free_port

    rasa_tuning.install()
    domain = Domain.load(str(ROOT / "domain.yml"))
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    url = f"http://127.0.0.1:{free_port()}/webhook"
    results: Dict[str, List[tuple]] = {"Rasa's EndpointConfig (a connection per call)": [],
                                       "PooledEndpoint (shipped)": []}
    with action_server(url, dict(os.environ)):
        async def run() -> None:
            pooled = rasa_tuning.PooledEndpoint(url=url)
            plain = EndpointConfig(url=url)
            await calls(pooled, 20, domain, nlg)  # warm-up: imports, the server's first requests
            await calls(plain, 20, domain, nlg)
            for _ in range(args.rounds):
                for name, endpoint in zip(results, (plain, pooled)):
                    results[name].append(await calls(endpoint, args.calls, domain, nlg))
            await pooled.close()

        asyncio.run(run())
    print(f"{args.calls} calls in a row per round, {args.rounds} rounds alternating; median over rounds\n")
    print("| endpoint | wall ms per call (median of rounds) | gateway CPU ms per call (median of rounds) | rounds (wall / CPU) |")
    print("|---|---|---|---|")
    for name, rounds in results.items():
        walls = [w for w, _ in rounds]
        cpus = [c for _, c in rounds]
        detail = ", ".join(f"{w:.2f} / {c:.2f}" for w, c in rounds)
        print(f"| {name} | {statistics.median(walls):.2f} | {statistics.median(cpus):.2f} | {detail} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
