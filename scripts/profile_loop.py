"""Where a gateway worker's event loop spends its time, from a py-spy raw profile.

    py-spy record -p <worker pid> -d 25 -r 100 -f raw -o loop.raw --nonblocking   # during `cskh load`
    python scripts/profile_loop.py loop.raw

Only the event-loop thread's samples count (py-spy leaves out idle ones, so a share is of the time
the loop was busy, on the CPU or blocked in a call); each row is the share of them inside one part
of the per-message work (a sample can be in two rows: the
action call runs inside the prediction loop, for instance). `--profile` starts the service, loads
it with `cskh load` and records one worker by itself (py-spy must be installed: `pip install
py-spy`, not a dependency)."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
LOOP = {"asyncio_run", "run_forever"}  # uvicorn's asyncio.run, or a plain event loop
# row → the function names (as py-spy prints them) whose frames mark that part of the work
PARTS: List[Tuple[str, Tuple[str, ...]]] = [
    ("handling a message (Rasa's handle_message)", ("handle_message",)),
    ("NLU, every component", ("_parse_message_with_graph",)),
    ("NLU: DIET inference alone", ("_rasa_predict",)),
    ("policies (rules, memoization)", ("predict_action_probabilities",)),
    ("tracker load (tracker store retrieve)", ("_retrieve",)),
    ("tracker save", ("save_tracker",)),
    ("conversation lock (Redis)", ("lock",)),
    ("action server call", ("_run_action",)),
    ("connection pre-ping (PostgreSQL)", ("do_ping",)),
]


def shares(lines: Iterable[str]) -> Tuple[int, Dict[str, float]]:
    """(event-loop samples, {row: share of them})."""
    total, inside = 0, Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not count.isdigit():
            continue
        names = {frame.split(" (")[0] for frame in stack.split(";")}
        if not names & LOOP:
            continue
        total += int(count)
        for row, marks in PARTS:
            if names.intersection(marks):
                inside[row] += int(count)
    return total, {row: inside[row] / total if total else 0.0 for row, _ in PARTS}


# Leaves of a thread that is waiting, not working: py-spy cannot always tell (a pool thread blocked
# on its queue, uvicorn's parent pipe), so the thread listing leaves them out.
WAITING = {"_worker (thread.py)", "_recv (connection.py)", "wait (threading.py)"}


def top_frames(lines: Iterable[str], count: int, outside: str = "",
               threads: bool = False) -> Tuple[int, List[Tuple[str, float]]]:
    """The `count` functions (name, file and line) in which the most samples were taken (self time,
    the innermost frame) as shares of the event loop's samples; with `outside`, only samples whose
    stack has no frame of that name (what the loop does besides it); with `threads`, the samples
    of the other threads (the thread pool's database calls and sentiment), waiting ones left out.
    An event-loop sample inside uvloop's C code (waiting in epoll, or its own work) has uvicorn's
    `asyncio_run` as its innermost frame."""
    total, inside = 0, Counter()
    for line in lines:
        stack, _, samples = line.rstrip().rpartition(" ")
        if not samples.isdigit():
            continue
        frames = stack.split(";")
        names = {frame.split(" (")[0] for frame in frames}
        in_loop = bool(names & LOOP)
        total += int(samples) if in_loop else 0
        if in_loop == threads or (outside and outside in names):
            continue
        name, _, where = frames[-1].partition(" (")
        path, _, number = where.rstrip(")").rpartition(":")
        if f"{name} ({Path(path).name})" in WAITING:
            continue
        inside[f"{name} ({'/'.join(Path(path).parts[-2:])}:{number})"] += int(samples)
    return total, [(key, n / total if total else 0.0) for key, n in inside.most_common(count)]


def table(total: int, found: Dict[str, float]) -> str:
    rows = [f"event-loop samples: {total}", "", "| part of the work | share of the event loop |", "|---|---|"]
    rows += [f"| {row} | {100 * share:.1f}% |" for row, share in found.items()]
    return "\n".join(rows)


def profile(seconds: int) -> Path:
    """Start `cskh load` (2 workers, PostgreSQL, REST saturation) and record one worker."""
    out = Path(tempfile.mkdtemp(prefix="cskh-profile-")) / "loop.raw"
    load = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "bench_load.py"), "--workers", "2", "--postgres",
                             "--modes", "saturation", "--transports", "rest", "--repeats", "1",
                             "--saturation-seconds", str(seconds + 40)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in load.stdout:  # the table header is printed once the service is up and warmed
            if line.startswith("| transport"):
                break
        time.sleep(10)
        workers = subprocess.run(["pgrep", "-f", "multiprocessing.spawn"], capture_output=True, text=True).stdout.split()
        if not workers:
            raise SystemExit("no gateway worker found")
        subprocess.run(["py-spy", "record", "-p", workers[0], "-d", str(seconds), "-r", "100", "-f", "raw",
                        "-o", str(out), "--nonblocking"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=dict(os.environ, PATH=f"{Path(sys.executable).parent}:"
                                                                        f"{os.environ.get('PATH', '')}"))
    finally:
        load.wait(timeout=600)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("raw", nargs="?", help="a py-spy raw profile (-f raw)")
    parser.add_argument("--profile", type=int, metavar="SECONDS", help="record one now, for this long")
    parser.add_argument("--top", type=int, default=0, metavar="N",
                        help="also list the N functions with the most samples (self time): in the event loop, "
                             "in it outside handle_message, and in the other threads")
    args = parser.parse_args()
    path = profile(args.profile) if args.profile else Path(args.raw or "")
    if not path.is_file():
        parser.error("give a py-spy raw profile, or --profile SECONDS")
    print(f"profile: {path}")
    lines = path.read_text().splitlines()
    print(table(*shares(lines)))
    for outside, threads, title in (("", False, "function, event loop"),
                                    ("handle_message", False, "function, event loop outside handle_message"),
                                    ("", True, "function, other threads (thread pool)")) if args.top else ():
        _, top = top_frames(lines, args.top, outside, threads)
        print(f"\n| {title} | share of the event loop's samples |")
        print("|---|---|")
        for key, share in top:
            print(f"| `{key}` | {100 * share:.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
