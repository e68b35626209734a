"""scripts/bench_load.py's reading of the gateway workers' CPU: each worker's part of it."""
from __future__ import annotations

import importlib.util
import multiprocessing
import os
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_load.py"
spec = importlib.util.spec_from_file_location("bench_load", SCRIPT)
bench_load = importlib.util.module_from_spec(spec)
sys.modules["bench_load"] = bench_load
spec.loader.exec_module(bench_load)


def test_shares_are_each_workers_part_of_the_cpu_between_two_readings_busiest_first():
    before = {1: 10.0, 2: 5.0, 3: 0.0}
    after = {1: 13.0, 2: 11.0, 3: 1.0}  # used 3, 6 and 1 seconds
    assert bench_load.shares(before, after) == "60/30/10%"
    assert bench_load.shares({}, {7: 2.0}) == "100%"  # a worker not seen before counts from zero
    assert bench_load.shares({1: 1.0}, {1: 1.0}) == "0%"  # idle: no division by zero


def _spin_then_wait(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    time.sleep(120)  # alive until the test terminates it


def test_worker_cpu_reads_multiprocessing_children_or_the_process_itself():
    alone = bench_load.worker_cpu(os.getpid())
    assert list(alone) == [os.getpid()]  # one worker: the service's process is the worker
    context = multiprocessing.get_context("spawn")  # the way uvicorn starts its workers
    child = context.Process(target=_spin_then_wait, args=(0.5,))
    child.start()
    try:
        deadline = time.monotonic() + 60
        found = bench_load.worker_cpu(os.getpid())
        while found.get(child.pid, 0.0) < 0.5 and time.monotonic() < deadline:
            time.sleep(0.2)  # the spawned interpreter starts, then spins
            found = bench_load.worker_cpu(os.getpid())
        assert child.pid in found and os.getpid() not in found
        assert found[child.pid] >= 0.5
    finally:
        child.terminate()
        child.join(timeout=30)
