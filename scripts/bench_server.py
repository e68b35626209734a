"""`make bench`: start the service on free ports with a fresh demo database, then run the REST
benchmark at several concurrency levels, several times each, and print the medians."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from cskh.bench import HEADER, row, run
from cskh.cli import free_port

ROOT = Path(__file__).resolve().parent.parent
LEVELS = [1, 5, 20]
REPEATS = 3


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="cskh-bench-"))
    port = free_port()
    env = dict(os.environ, CSKH_PORT=str(port), CSKH_DATABASE_URL=f"sqlite:///{work / 'shop.db'}",
               CSKH_TRACKER_STORE_URL=f"sqlite:///{work / 'tracker.db'}",
               CSKH_ACTION_SERVER_URL=f"http://127.0.0.1:{free_port()}/webhook",
               # every scripted customer sends from 127.0.0.1 as fast as replies come: no rate limits
               CSKH_RATE_PER_SENDER="0", CSKH_RATE_PER_IP="0")
    subprocess.run([sys.executable, "-m", "cskh.cli", "db", "seed"], env=env, check=True, stdout=subprocess.DEVNULL)
    server = subprocess.Popen([sys.executable, "-m", "cskh.cli", "run"], env=env,
                              stdout=open(work / "service.log", "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        asyncio.run(run(url, 2, 1))  # warm-up: first KB query, first action calls
        print(f"{REPEATS} runs per level, median run shown (CPU: {os.cpu_count()} cores)")
        print(HEADER)
        for level in LEVELS:
            runs = [asyncio.run(run(url, level, 2)) for _ in range(REPEATS)]
            runs.sort(key=lambda s: s["msg_per_s"])
            print(row(runs[len(runs) // 2]), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
