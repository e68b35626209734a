"""cskh/threads.py: the compute threads of TensorFlow and FAISS, each in a fresh interpreter
(both libraries take their thread counts per process)."""
import os
import subprocess
import sys


def test_tensorflow_threads_are_set_before_the_first_op_and_kept_after_it():
    # TensorFlow takes thread counts once per process: a fresh interpreter, not this one.
    script = """
import tensorflow as tf
from cskh.threads import tensorflow_threads
assert tensorflow_threads(0) is False  # 0: TensorFlow's defaults, nothing set
assert tensorflow_threads(1) is True
tf.constant([1.0, 2.0]) * 2.0  # the first op starts TensorFlow's runtime
assert tensorflow_threads(2) is False  # too late: kept at 1, and no error
assert tensorflow_threads(1) is True  # what it already has
assert (tf.config.threading.get_inter_op_parallelism_threads(),
        tf.config.threading.get_intra_op_parallelism_threads()) == (1, 1)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_faiss_threads_set_openmps_count_and_zero_leaves_the_default():
    script = """
import faiss
default = faiss.omp_get_max_threads()
from cskh.threads import faiss_threads
assert faiss_threads(0) is False and faiss.omp_get_max_threads() == default
assert faiss_threads(1) is True and faiss.omp_get_max_threads() == 1
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_limit_compute_threads_sets_both():
    script = """
import faiss, tensorflow as tf
from cskh.threads import limit_compute_threads
assert limit_compute_threads(1) == {"tensorflow": True, "faiss": True}
assert faiss.omp_get_max_threads() == 1 and tf.config.threading.get_intra_op_parallelism_threads() == 1
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
