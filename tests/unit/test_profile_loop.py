"""scripts/profile_loop.py reads py-spy's raw profiles: shares of the event loop's samples, by part
of the work and by function."""
from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "profile_loop.py"
spec = importlib.util.spec_from_file_location("profile_loop", SCRIPT)
profile_loop = importlib.util.module_from_spec(spec)
spec.loader.exec_module(profile_loop)

LOOP = "asyncio_run (uvicorn/_compat.py:60)"
RAW = [
    f"{LOOP};handle_message (rasa/core/agent.py:1);_rasa_predict (rasa/nlu/diet.py:9) 6",
    f"{LOOP};handle_message (rasa/core/agent.py:1);save_tracker (rasa/core/processor.py:2) 2",
    f"{LOOP};emit (logging/__init__.py:1103) 2",
    "_bootstrap (threading.py:1);predict (cskh/sentiment.py:498) 5",
    "garbage without a count",
]


def test_parts_are_shares_of_the_loop_samples():
    total, found = profile_loop.shares(RAW)
    assert total == 10
    assert found["handling a message (Rasa's handle_message)"] == 0.8
    assert found["NLU: DIET inference alone"] == 0.6
    assert found["tracker save"] == 0.2


def test_top_functions_overall_outside_a_frame_and_in_other_threads():
    total, top = profile_loop.top_frames(RAW, 10)
    assert total == 10 and dict(top)["handle_message (agent.py)"] == 0.8 and dict(top)["emit (__init__.py)"] == 0.2
    _, outside = profile_loop.top_frames(RAW, 10, outside="handle_message")
    assert dict(outside) == {"asyncio_run (_compat.py)": 0.2, "emit (__init__.py)": 0.2}
    _, threads = profile_loop.top_frames(RAW, 10, threads=True)
    assert dict(threads) == {"_bootstrap (threading.py)": 0.5, "predict (sentiment.py)": 0.5}
