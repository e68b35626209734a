"""`make load`: start the service on free ports with a fresh demo database, then drive it with
`cskh.load` in both modes over both transports and print one table.

- saturation, REST and WebSocket: `--repeats` runs of `--saturation-seconds` each; the median run
  (by messages/s) is shown;
- paced, REST and WebSocket: 200 conversations for `--paced-seconds` (300 by default), 5-8 s
  between messages.

`--cpu` also prints, for each saturation run shown, the CPU time per answered message of each
process: the gateway worker(s) (and, of that, their main threads, which run the event loop: the
rest is the thread pool's database calls and sentiment, and TensorFlow's own threads), the action
server, PostgreSQL, Redis and this load generator. On a machine with C cores, C seconds / (the sum)
bounds the messages/s, whatever the concurrency. And, for every run shown, each gateway worker's
part of the workers' CPU: how evenly the conversations' connections were spread over the workers.

`--quick` shortens everything (for a first look). Extra service settings can be passed in the
environment (e.g. CSKH_WORKERS). The load generator runs on the same machine as the service, so it
takes some of the same two cores."""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

from cskh.cli import free_port
from cskh.load import HEADER, Plan, row, run

ROOT = Path(__file__).resolve().parent.parent
REDIS = os.environ.get("CSKH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES = os.environ.get("CSKH_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432")


def start(work: Path, workers: int, database: str = "") -> tuple:
    """The service on free ports, its databases under `work` (or all in `database`, a PostgreSQL
    URL); with several workers, Rasa's lock store and the live events in the local Redis."""
    port = free_port()
    env = dict(os.environ, CSKH_PORT=str(port), CSKH_WORKERS=str(workers),
               CSKH_DATABASE_URL=database or f"sqlite:///{work / 'shop.db'}",
               CSKH_TRACKER_STORE_URL=database or f"sqlite:///{work / 'tracker.db'}",
               CSKH_APP_DATABASE_URL=database or f"sqlite:///{work / 'app.db'}",
               CSKH_ACTION_SERVER_URL=f"http://127.0.0.1:{free_port()}/webhook",
               # every scripted customer sends from 127.0.0.1 as fast as replies come: no rate limits
               CSKH_RATE_PER_SENDER="0", CSKH_RATE_PER_IP="0")
    if workers > 1:
        env.setdefault("CSKH_LOCK_STORE_URL", REDIS)
        env.setdefault("CSKH_EVENTS_URL", REDIS)
        env["CSKH_REDIS_PREFIX"] = "load" + secrets.token_hex(4)
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
    time.sleep(5 * (workers > 1))  # /ready answered by one worker: give the others their model load
    return server, url


@contextmanager
def postgres_database(enabled: bool) -> Iterator[str]:
    """A fresh PostgreSQL database for the run (dropped afterwards), or "" for SQLite files."""
    if not enabled:
        yield ""
        return
    from sqlalchemy import create_engine, text

    name = "cskh_load_" + secrets.token_hex(4)
    admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _component(process, service_pid: int) -> str:
    """Which part of the system a process is: by its place under the service, or its name."""
    import psutil

    try:
        if process.pid == os.getpid():
            return "load generator"
        if process.pid == service_pid or service_pid in {p.pid for p in process.parents()}:
            return "action server" if "cskh.action_server" in " ".join(process.cmdline()) else "gateway"
        name = process.name()
    except psutil.Error:
        return ""
    return {"postgres": "PostgreSQL", "redis-server": "Redis"}.get(name, "")


LOOP = "gateway event loop"  # the gateway workers' main threads (the rest: thread pool, TensorFlow's threads)


def cpu_seconds(service_pid: int) -> dict:
    """CPU seconds (user + system) used so far by each component."""
    import psutil

    totals: dict = {}
    for process in psutil.process_iter():
        part = _component(process, service_pid)
        if part:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            totals[part] = totals.get(part, 0.0) + times.user + times.system
            if part == "gateway":  # the main thread runs the event loop; the rest is thread pool and TF
                try:
                    main = [t for t in process.threads() if t.id == process.pid]
                except psutil.Error:
                    main = []
                totals[LOOP] = totals.get(LOOP, 0.0) + sum(t.user_time + t.system_time for t in main)
    return totals


def worker_cpu(service_pid: int) -> dict:
    """CPU seconds used so far by each gateway worker process (pid → seconds). With one worker,
    the service's own process is that worker."""
    import psutil

    try:
        service = psutil.Process(service_pid)
        children = service.children()
    except psutil.Error:
        return {}
    found = {}
    for process in children or []:
        try:
            line = " ".join(process.cmdline())
            if "multiprocessing" in line and "resource_tracker" not in line:
                times = process.cpu_times()
                found[process.pid] = times.user + times.system
        except psutil.Error:
            continue
    if not found:
        times = service.cpu_times()
        found[service_pid] = times.user + times.system
    return found


def shares(before: dict, after: dict) -> str:
    """Each worker's part of the workers' CPU between two readings, e.g. "34/33/33%"."""
    used = sorted((after[pid] - before.get(pid, 0.0) for pid in after), reverse=True)
    total = sum(used) or 1.0
    return "/".join(f"{100 * u / total:.0f}" for u in used) + "%"


def cpu_row(before: dict, after: dict, answered: int) -> str:
    parts = ["gateway", LOOP, "action server", "PostgreSQL", "Redis", "load generator"]
    per = {p: 1000 * (after.get(p, 0.0) - before.get(p, 0.0)) / max(answered, 1) for p in parts}
    total = sum(v for p, v in per.items() if p != LOOP)  # the loop's share is inside the gateway's
    cells = " | ".join(f"{per[p]:.1f}" for p in parts)
    return f"| {cells} | {total:.1f} | {1000 * (os.cpu_count() or 1) / max(total, 0.001):.1f} |"


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
    parser.add_argument("--workers", type=int, default=1, help="CSKH_WORKERS of the service started")
    parser.add_argument("--cpu", action="store_true", help="CPU ms per answered message, by process")
    parser.add_argument("--postgres", action="store_true",
                        help="tracker store, app and shop databases in a fresh PostgreSQL database")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.saturation_seconds, args.paced_seconds = 1, 20, 60
    work = Path(tempfile.mkdtemp(prefix="cskh-load-"))
    with postgres_database(args.postgres and not args.url) as database:
        server, url = (None, args.url.rstrip("/")) if args.url else start(work, args.workers, database)
        try:
            measure(url, args, work, server.pid if server is not None else 0)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=60)
    return 0


def measure(url: str, args: argparse.Namespace, work: Path, service_pid: int) -> None:
    asyncio.run(run(Plan(url, "rest", 2, duration=5)))  # warm-up: first KB query, first action calls
    stores = "PostgreSQL" if args.postgres else "SQLite"
    print(f"CPU: {os.cpu_count()} cores; workers: {args.workers}; stores: {stores}; saturation: median of "
          f"{args.repeats} run(s) by msg/s; service log: {work / 'service.log'}")
    print(HEADER, flush=True)
    transports = args.transports.split(",")
    cpu_rows: list = []
    share_rows: list = []
    if "saturation" in args.modes:
        for transport in transports:
            runs = []
            for _ in range(args.repeats):
                before, workers_before = (cpu_seconds(service_pid), worker_cpu(service_pid)) if args.cpu else ({}, {})
                stats = asyncio.run(run(Plan(url, transport, args.saturation_conversations, args.saturation_seconds)))
                if args.cpu:
                    stats["cpu"] = cpu_row(before, cpu_seconds(service_pid), stats["answered"])
                    stats["shares"] = shares(workers_before, worker_cpu(service_pid))
                runs.append(stats)
            runs.sort(key=lambda s: s["msg_per_s"])
            print(row(runs[len(runs) // 2]), flush=True)
            if args.cpu:
                cpu_rows += [f"| {transport} " + runs[len(runs) // 2]["cpu"]]
                share_rows += [f"| {transport} | saturation | {runs[len(runs) // 2]['shares']} |"]
    if "paced" in args.modes:
        for transport in transports:
            workers_before = worker_cpu(service_pid) if args.cpu else {}
            stats = asyncio.run(run(Plan(url, transport, args.paced_conversations, args.paced_seconds,
                                         think=(5.0, 8.0))))
            print(row(stats), flush=True)
            if args.cpu:
                share_rows += [f"| {transport} | paced | {shares(workers_before, worker_cpu(service_pid))} |"]
    if cpu_rows:
        print(f"\nCPU ms per answered message (the saturation runs above; {os.cpu_count()} cores):\n")
        print("| transport | gateway | of which event-loop threads | action server | PostgreSQL | Redis | load generator "
              "| total | msg/s bound |")
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(cpu_rows), flush=True)
    if share_rows:
        print("\nEach gateway worker's part of the workers' CPU (even spreading: equal parts):\n")
        print("| transport | mode | worker parts |\n|---|---|---|")
        print("\n".join(share_rows), flush=True)
    pauses = gc_pauses(url)
    if pauses:
        print("\nGarbage-collector runs in the gateway workers during the whole run (warm-up included; "
              "generation 2 is a full collection, and each run stops its worker's event loop):\n")
        print(gc_table({}, pauses), flush=True)
    kept, loaded = tracker_loads(url)
    if kept + loaded:
        print(f"\nTrackers fetched during the whole run (warm-up included): {kept:.0f} kept in memory, "
              f"{loaded:.0f} loaded from the database ({100 * kept / (kept + loaded):.0f}% kept).")


def gc_pauses(url: str) -> dict:
    """cskh_gc_pause_seconds from the service's /metrics (every worker's): generation → (runs, total
    seconds, runs over 100 ms)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        body = httpx.get(f"{url}/metrics", timeout=30).text
    except httpx.HTTPError:
        return {}
    found: dict = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            generation = sample.labels.get("generation")
            if not sample.name.startswith("cskh_gc_pause_seconds") or generation is None:
                continue
            runs, total, under = found.get(generation, (0.0, 0.0, 0.0))
            if sample.name.endswith("_count"):
                runs = sample.value
            elif sample.name.endswith("_sum"):
                total = sample.value
            elif sample.name.endswith("_bucket") and float(sample.labels["le"]) == 0.1:
                under = sample.value
            found[generation] = (runs, total, under)
    return {g: (runs, total, runs - under) for g, (runs, total, under) in sorted(found.items())}


def gc_table(before: dict, after: dict) -> str:
    """The garbage collector's runs between two readings of gc_pauses, as a Markdown table."""
    lines = ["| generation | runs | total ms | mean ms | runs over 100 ms |", "|---|---|---|---|---|"]
    for generation, (runs, total, slow) in after.items():
        b_runs, b_total, b_slow = before.get(generation, (0.0, 0.0, 0.0))
        runs, total, slow = runs - b_runs, total - b_total, slow - b_slow
        lines.append(f"| {generation} | {runs:.0f} | {1000 * total:.0f} | {1000 * total / max(runs, 1):.1f} | {slow:.0f} |")
    return "\n".join(lines)


def tracker_loads(url: str) -> tuple:
    """cskh_tracker_loads_total by result, from the service's /metrics (every worker's)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        body = httpx.get(f"{url}/metrics", timeout=30).text
    except httpx.HTTPError:
        return 0.0, 0.0
    found = {"kept": 0.0, "loaded": 0.0}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "cskh_tracker_loads_total" and sample.labels.get("result") in found:
                found[sample.labels["result"]] = sample.value
    return found["kept"], found["loaded"]


if __name__ == "__main__":
    sys.exit(main())
