"""The action server's supervisor starts it again whenever it exits, and stops for good on stop()."""
import sys
import time

from cskh.supervisor import Supervised


def test_a_process_that_dies_is_started_again_until_stopped():
    pids = []
    supervised = Supervised([sys.executable, "-c", "pass"], env={}, backoff=0.05, max_backoff=0.1,
                            started=lambda process: pids.append(process.pid))
    supervised.start()
    deadline = time.monotonic() + 20
    while supervised.restarts < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    supervised.stop()
    assert supervised.restarts >= 3 and len(set(pids)) == len(pids) == supervised.restarts + 1
    settled = supervised.restarts
    time.sleep(0.5)
    assert supervised.restarts == settled  # stopped: nothing restarts it


def test_stop_ends_a_running_process():
    supervised = Supervised([sys.executable, "-c", "import time; time.sleep(60)"], env={}, backoff=0.05)
    process = supervised.start()
    supervised.stop(timeout=5)
    assert process.poll() is not None and supervised.restarts == 0


def test_the_action_server_ends_with_the_process_that_started_it(tmp_path):
    """uvicorn re-raises SIGTERM after its shutdown, so `cskh run` never reaches its clean-up (and a
    SIGKILLed gateway has none): the action server asks the kernel to end it with its parent."""
    import os
    import signal
    import subprocess

    child_pid = tmp_path / "child.pid"
    parent_code = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'from cskh.action_server import die_with_parent; "
        "import time; die_with_parent(); time.sleep(60)'], env=dict(os.environ, CSKH_PARENT_PID=str(os.getpid())))\n"
        f"open({str(child_pid)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    deadline = time.monotonic() + 30
    while not child_pid.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(child_pid.read_text())
    time.sleep(1.0)  # the child has made its request
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:  # reaped by init, or a zombie of ours? (it is not our child: init reaps it)
            if open(f"/proc/{pid}/stat").read().split()[2] == "Z":
                return
        except FileNotFoundError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError("the child outlived its parent")
