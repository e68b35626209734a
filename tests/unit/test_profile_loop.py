"""scripts/profile_loop.py reads py-spy's raw profiles: shares of the event loop's samples, by part
of the work and by function."""
from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "profile_loop.py"
spec = importlib.util.spec_from_file_location("profile_loop", SCRIPT)
profile_loop = importlib.util.module_from_spec(spec)
spec.loader.exec_module(profile_loop)

LOOP = "asyncio_run (/v/uvicorn/_compat.py:60)"
RAW = [
    f"{LOOP};handle_message (/v/rasa/core/agent.py:1);_rasa_predict (/v/rasa/nlu/diet.py:9) 6",
    f"{LOOP};handle_message (/v/rasa/core/agent.py:1);save_tracker (/v/rasa/core/processor.py:2) 2",
    f"{LOOP};emit (/usr/lib/logging/__init__.py:1103) 2",
    "_bootstrap (/usr/lib/threading.py:1);predict (/w/cskh/sentiment.py:498) 5",
    "_bootstrap (/usr/lib/threading.py:1);_worker (/usr/lib/concurrent/futures/thread.py:81) 50",
    "garbage without a count",
]


def test_parts_are_shares_of_the_loop_samples():
    total, found = profile_loop.shares(RAW)
    assert total == 10
    assert found["handling a message (Rasa's handle_message)"] == 0.8
    assert found["NLU: DIET inference alone"] == 0.6
    assert found["tracker save"] == 0.2


def test_self_time_overall_outside_a_frame_and_in_the_other_threads():
    total, top = profile_loop.top_frames(RAW, 10)
    assert total == 10
    assert top == [("_rasa_predict (nlu/diet.py:9)", 0.6), ("save_tracker (core/processor.py:2)", 0.2),
                   ("emit (logging/__init__.py:1103)", 0.2)]
    _, outside = profile_loop.top_frames(RAW, 10, outside="handle_message")
    assert outside == [("emit (logging/__init__.py:1103)", 0.2)]
    _, threads = profile_loop.top_frames(RAW, 10, threads=True)
    assert threads == [("predict (cskh/sentiment.py:498)", 0.5)]  # the idle pool thread is left out
