"""Startup and memory of one gateway process (not a test).

  python scripts/bench_startup.py [--runs 2] [--port 8765]

Starts `cskh run` (the default settings: SQLite, its own action server) on a free port, times it
until `/ready` answers, asks one knowledge-base question through the REST channel, and reads the
gateway's and the action server's resident memory (psutil). Each run
is a fresh process; the figures are per run, then the median.
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
CSKH = ROOT / ".venv" / "bin" / "cskh"


def rss_mb(process: psutil.Process) -> float:
    return process.memory_info().rss / 2**20


def one_run(port: int) -> Dict[str, float]:
    env = {**os.environ, "CSKH_PORT": str(port)}
    started = time.perf_counter()
    process = subprocess.Popen([str(CSKH), "run"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"cskh run exited with {process.returncode}")
                try:
                    if client.get("/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.perf_counter() - started > 300:
                    raise RuntimeError("not ready after 300 s")
                time.sleep(0.25)
            ready = time.perf_counter() - started
            reply = client.post("/webhooks/rest/webhook", json={"sender": "bench-startup", "message": "phí ship bao nhiêu vậy"})
            reply.raise_for_status()
            if not reply.json():
                raise RuntimeError("no reply to the KB question")
        gateway = psutil.Process(process.pid)
        return {"ready_s": ready, "gateway_rss": rss_mb(gateway),
                "actions_rss": sum(rss_mb(child) for child in gateway.children(recursive=True))}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    runs = [one_run(args.port) for _ in range(args.runs)]
    print("| run | ready after s | gateway RSS MB | action server RSS MB |")
    print("|---|---|---|---|")
    for i, r in enumerate(runs + [{k: statistics.median(run[k] for run in runs) for k in runs[0]}], start=1):
        label = str(i) if i <= len(runs) else "median"
        print(f"| {label} | {r['ready_s']:.1f} | {r['gateway_rss']:.0f} | {r['actions_rss']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
