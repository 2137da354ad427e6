"""Shared, seeded, cached data and settings for the asv benchmarks.

The benchmarks time the *kernel layer* (``vecstudy.backends.load(name)``) on
prepared C-contiguous arrays; ``benchmarks/overhead.py`` prints what the public
API adds to a kernel call (validation, conversion, dispatch).

Thread counts are pinned by the suite, never left to the machine: every kernel
benchmark has a ``threads`` parameter (:data:`THREADS`) and runs under exactly
that many Numba and BLAS threads (:class:`ThreadSetting`), so that asv records
the count with each result and two machines or commits compare like with like.
``VECSTUDY_THREADS`` is ignored here.
"""

from __future__ import annotations

import contextlib
import functools
import math
from typing import Any

import numpy as np

from vecstudy import backends

BACKENDS: list[str] = list(backends.available_backends())
#: (n_x, m) as "n_xxm" strings: 80 kB, 8 MB and 80 MB of float64.
SHAPES: list[str] = ["10x1000", "100x10000", "1000x10000"]
DTYPES: list[str] = ["float64", "float32"]
#: Thread counts every kernel benchmark runs under (a parameter: recorded by asv).
THREADS: list[int] = [1, 2]
#: Shapes users have beyond the grid above, each in C order (the course's (n_x, m)) and
#: F order (sample-major: ``data.T`` of an (m, n_x) array): the course's own cat/non-cat
#: set (64x64x3 images, 209 samples), other wide ones, and very tall ones.
LAYOUT_SHAPES: list[str] = ["12288x209", "12288x1000", "4096x2000", "2x5000000", "30x1000000"]
ORDERS: list[str] = ["C", "F"]
#: The compiled and vectorized backends (the Python loop is far too slow at these sizes).
FAST_BACKENDS: list[str] = [b for b in BACKENDS if b != "python"]
#: Length of the timed optimize call.
ITERATIONS = 100
LEARNING_RATE = 0.005
RECORD_EVERY = 100
#: The pure-Python loop runs only where one timed call does at most this many
#: multiply-adds over X (about 0.1-0.3 s here); asv's skip idiom elsewhere.
PYTHON_MAX_WORK = 2_000_000


def parse_shape(shape: str) -> tuple[int, int]:
    """``"100x10000"`` -> ``(100, 10000)``."""
    n_x, m = shape.split("x")
    return int(n_x), int(m)


@functools.lru_cache(maxsize=4)
def problem(shape: str, dtype: str) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Seeded ``(w, b, X, Y)``: ``X ~ N(0, 1)`` C-contiguous, labels from a logistic model."""
    n_x, m = parse_shape(shape)
    rng = np.random.default_rng(20240601)
    X = rng.standard_normal((n_x, m)).astype(dtype)
    w_true = rng.standard_normal(n_x) / math.sqrt(n_x)
    p = 1.0 / (1.0 + np.exp(-np.clip(w_true @ X, -30.0, 30.0)))
    Y = (rng.random(m) < p).astype(dtype)
    return np.zeros(n_x, dtype=dtype), 0.0, np.ascontiguousarray(X), Y


def problem_in_order(shape: str, order: str) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """:func:`problem` in float64 with ``X`` C- or F-contiguous (``order`` "C" or "F")."""
    w, b, X, Y = problem(shape, "float64")
    return w, b, (X if order == "C" else np.asfortranarray(X)), Y


def skip_unless_fits(backend: str, shape: str, calls_per_sample: int, threads: int = 1) -> None:
    """Raise NotImplementedError (asv: skip) where the Python loop would take too long.

    The pure-Python loop runs on one thread whatever the setting: it is timed at
    ``threads == 1`` only.
    """
    n_x, m = parse_shape(shape)
    if backend == "python" and threads != 1:
        raise NotImplementedError("the python backend runs on one thread; timed at threads=1")
    if backend == "python" and n_x * m * calls_per_sample > PYTHON_MAX_WORK:
        raise NotImplementedError(f"python backend too slow for {shape} x {calls_per_sample}")


def load(backend: str) -> Any:
    """The backend module; NotImplementedError (asv: skip) if it cannot be imported."""
    try:
        return backends.load(backend)
    except ImportError as exc:  # e.g. numba not installed in this environment
        raise NotImplementedError(str(exc)) from exc


class ThreadSetting:
    """Enter ``vecstudy.runtime.threads.limit_threads(n)`` in setup and leave it in teardown."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()

    def enter(self, threads: int) -> None:
        from vecstudy.runtime.threads import limit_threads

        # numba too, even before its first use, so that its pool is pinned from the start
        self._stack.enter_context(limit_threads(threads, numba=True))

    def exit(self) -> None:
        self._stack.close()


def threads_in_force() -> dict[str, Any]:
    """Thread information (BLAS, Numba) as :func:`vecstudy.runtime.threads.thread_info` gives it."""
    from vecstudy.runtime.threads import thread_info

    return thread_info()
