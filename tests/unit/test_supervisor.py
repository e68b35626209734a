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
