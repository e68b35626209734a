"""`make load`: start the service on free ports with a fresh demo database, then drive it with
`cskh.load` in both modes over both transports and print one table.

- saturation, REST and WebSocket: `--repeats` runs of `--saturation-seconds` each; the median run
  (by messages/s) is shown;
- paced, REST and WebSocket: 200 conversations for `--paced-seconds` (300 by default), 5-8 s
  between messages.

`--quick` shortens everything (for a first look). Extra service settings can be passed in the
environment (e.g. CSKH_WORKERS). The load generator runs on the same machine as the service, so it
takes some of the same two cores."""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from cskh.cli import free_port
from cskh.load import HEADER, Plan, row, run

ROOT = Path(__file__).resolve().parent.parent


def start(work: Path) -> tuple:
    port = free_port()
    env = dict(os.environ, CSKH_PORT=str(port), CSKH_DATABASE_URL=f"sqlite:///{work / 'shop.db'}",
               CSKH_TRACKER_STORE_URL=os.environ.get("CSKH_TRACKER_STORE_URL", f"sqlite:///{work / 'tracker.db'}"),
               CSKH_ACTION_SERVER_URL=f"http://127.0.0.1:{free_port()}/webhook",
               # every scripted customer sends from 127.0.0.1 as fast as replies come: no rate limits
               CSKH_RATE_PER_SENDER="0", CSKH_RATE_PER_IP="0")
    subprocess.run([sys.executable, "-m", "cskh.cli", "db", "seed"], env=env, check=True, stdout=subprocess.DEVNULL)
    server = subprocess.Popen([sys.executable, "-m", "cskh.cli", "run"], env=env,
                              stdout=open(work / "service.log", "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise SystemExit(f"the service exited; see {work / 'service.log'}")
        time.sleep(1)
    return server, url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--saturation-conversations", type=int, default=40)
    parser.add_argument("--saturation-seconds", type=float, default=60)
    parser.add_argument("--paced-conversations", type=int, default=200)
    parser.add_argument("--paced-seconds", type=float, default=300)
    parser.add_argument("--transports", default="rest,ws")
    parser.add_argument("--modes", default="saturation,paced")
    parser.add_argument("--url", help="an already running service (its rate limits must be off)")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.saturation_seconds, args.paced_seconds = 1, 20, 60
    work = Path(tempfile.mkdtemp(prefix="cskh-load-"))
    server, url = (None, args.url.rstrip("/")) if args.url else start(work)
    try:
        asyncio.run(run(Plan(url, "rest", 2, duration=5)))  # warm-up: first KB query, first action calls
        print(f"CPU: {os.cpu_count()} cores; saturation: median of {args.repeats} run(s) by msg/s; "
              f"service log: {work / 'service.log'}")
        print(HEADER, flush=True)
        for transport in args.transports.split(","):
            if "saturation" in args.modes:
                runs = [asyncio.run(run(Plan(url, transport, args.saturation_conversations, args.saturation_seconds)))
                        for _ in range(args.repeats)]
                runs.sort(key=lambda s: s["msg_per_s"])
                print(row(runs[len(runs) // 2]), flush=True)
        for transport in args.transports.split(","):
            if "paced" in args.modes:
                stats = asyncio.run(run(Plan(url, transport, args.paced_conversations, args.paced_seconds,
                                             think=(5.0, 8.0))))
                print(row(stats), flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
