"""How many threads each gateway process lets TensorFlow (DIET) and FAISS (OpenMP) use.

The gateway's parallelism is its processes (CSKH_WORKERS), one per core or so. Left to their
defaults, TensorFlow and OpenMP each keep a pool of one thread per core in every process, and
those threads spin while they wait for the next small job: CPU the other process needed.
`scripts/bench_compute_threads.py` measures both (README, "Measured: load", fix 10).
"""
from __future__ import annotations

import logging
from typing import Dict

log = logging.getLogger(__name__)


def tensorflow_threads(threads: int) -> bool:
    """Run TensorFlow's ops on `threads` inter-op and intra-op threads (0: its defaults). A
    process's TensorFlow takes these once, before its first op; later calls (a second engine in
    one process) change nothing. True when the setting is in effect."""
    if threads <= 0:
        return False
    import tensorflow as tf

    try:
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already ran something in this process
        current = (tf.config.threading.get_inter_op_parallelism_threads(),
                   tf.config.threading.get_intra_op_parallelism_threads())
        log.info("TensorFlow already started with %s inter-op and intra-op threads; keeping them", current)
        return False
    return True


def faiss_threads(threads: int) -> bool:
    """Run FAISS's OpenMP loops on `threads` threads (0: OpenMP's default, one per core). One query
    at a time gains nothing from more: FAISS splits a search by query. True when set."""
    if threads <= 0:
        return False
    import faiss

    faiss.omp_set_num_threads(threads)
    return True


def limit_compute_threads(threads: int) -> Dict[str, bool]:
    """Both of the above, before the gateway loads its model and KB (`CSKH_COMPUTE_THREADS`)."""
    applied = {"tensorflow": tensorflow_threads(threads), "faiss": faiss_threads(threads)}
    log.info("compute threads per process: %s (%s)", threads if threads > 0 else "the libraries' defaults",
             ", ".join(f"{name}: {'set' if done else 'default'}" for name, done in applied.items()))
    return applied
