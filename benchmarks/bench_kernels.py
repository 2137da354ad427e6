"""Kernel benchmarks: one gradient step and a fixed-length optimize, every backend.

Parametrized over backend (the registry) x shape (n_x x m) x dtype x threads.
Data are seeded and built in ``setup``; every kernel is called once in
``setup`` so that Numba's compilation is never inside a ``time_`` benchmark (its
cost is tracked separately in ``bench_compile.py``).  The thread count is a
parameter, pinned for Numba and the BLAS alike.

Sampling: asv collects ``repeat`` samples in each of ``rounds`` rounds (run
``asv run --interleave-rounds`` so that the rounds of different benchmarks
alternate); cases over 100 ms (the Python loop's optimize) still get at least
3 x 4 = 12 samples, enough for asv's Mann-Whitney test to see a change.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from .common import (
    BACKENDS,
    DTYPES,
    FAST_BACKENDS,
    ITERATIONS,
    LAYOUT_SHAPES,
    LEARNING_RATE,
    ORDERS,
    RECORD_EVERY,
    SHAPES,
    THREADS,
    ThreadSetting,
    load,
    problem,
    problem_in_order,
    skip_unless_fits,
)

#: asv sampling shared by the timing benchmarks.
REPEAT = (3, 10, 20.0)
ROUNDS = 4


class Propagate:
    """``propagate(w, b, X, Y)``: one forward and backward pass over X."""

    params = (BACKENDS, SHAPES, DTYPES, THREADS)
    param_names = ("backend", "shape", "dtype", "threads")
    repeat = REPEAT
    rounds = ROUNDS

    def setup(self, backend: str, shape: str, dtype: str, threads: int) -> None:
        self.threads = ThreadSetting()  # before any skip: asv calls teardown after one
        skip_unless_fits(backend, shape, 1, threads)
        self.threads.enter(threads)
        self.mod: Any = load(backend)
        self.w, self.b, self.X, self.Y = problem(shape, dtype)
        self.mod.propagate(self.w, self.b, self.X, self.Y)  # compile / warm up

    def teardown(self, backend: str, shape: str, dtype: str, threads: int) -> None:
        self.threads.exit()

    def time_propagate(self, backend: str, shape: str, dtype: str, threads: int) -> None:
        self.mod.propagate(self.w, self.b, self.X, self.Y)


class Optimize:
    """``optimize`` for ITERATIONS (100) iterations of batch gradient descent."""

    params = (BACKENDS, SHAPES, DTYPES, THREADS)
    param_names = ("backend", "shape", "dtype", "threads")
    repeat = REPEAT
    rounds = ROUNDS
    timeout = 300

    def setup(self, backend: str, shape: str, dtype: str, threads: int) -> None:
        self.threads = ThreadSetting()  # before any skip: asv calls teardown after one
        skip_unless_fits(backend, shape, ITERATIONS, threads)
        self.threads.enter(threads)
        self.mod: Any = load(backend)
        self.w, self.b, self.X, self.Y = problem(shape, dtype)
        self.args = (ITERATIONS, LEARNING_RATE, RECORD_EVERY)
        self.mod.optimize(self.w, self.b, self.X, self.Y, 1, LEARNING_RATE, RECORD_EVERY)

    def teardown(self, backend: str, shape: str, dtype: str, threads: int) -> None:
        self.threads.exit()

    def time_optimize(self, backend: str, shape: str, dtype: str, threads: int) -> None:
        self.mod.optimize(self.w, self.b, self.X, self.Y, *self.args)


#: Runs in a fresh process: prints the peak memory (bytes) that one optimize call adds.
_ADDED_MEMORY = """
import resource, sys
import numpy as np
from vecstudy import backends
from vecstudy.runtime.threads import limit_threads
backend, shape, dtype = sys.argv[1:4]
n_x, m = map(int, shape.split("x"))
mod = backends.load(backend)
rng = np.random.default_rng(0)
X = rng.standard_normal((n_x, m), dtype=np.dtype(dtype))
Y = (rng.random(m) < 0.5).astype(dtype)
w = np.zeros(n_x, dtype=dtype)
with limit_threads(1, numba=backend == "numba"):
    mod.optimize(w, 0.0, X[:, :64].copy(), Y[:64].copy(), 2, 0.01, 1)  # imports, compiles
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mod.optimize(w, 0.0, X, Y, {iterations}, 0.01, 100)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024)
"""


class OptimizeMemory:
    """Peak memory that one ``optimize`` call adds beyond its inputs, imports and JIT.

    asv's ``peakmem_`` measures the whole process (numba's import alone is
    about 150 MB), so a copy of X inside optimize would barely move it.  This
    runs a fresh process that builds the data and warms the kernel up on a slice
    of it, reads the peak resident set size (``ru_maxrss``), calls ``optimize``
    on the full problem and reads it again: the difference is what ``optimize``
    itself allocated at its peak (0 when it works in place).
    """

    params = (BACKENDS, ["1000x10000"], DTYPES)
    param_names = ("backend", "shape", "dtype")
    unit = "bytes"
    repeat = 1
    number = 1
    rounds = 2
    timeout = 300

    def setup(self, backend: str, shape: str, dtype: str) -> None:
        skip_unless_fits(backend, shape, 2)
        load(backend)

    def track_optimize_added_memory(self, backend: str, shape: str, dtype: str) -> int:
        out = subprocess.run(
            [sys.executable, "-c", _ADDED_MEMORY.format(iterations=2), backend, shape, dtype],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
            env=dict(os.environ),
        )
        return int(out.stdout.strip().splitlines()[-1])

    track_optimize_added_memory.unit = "bytes"  # type: ignore[attr-defined]


class PropagateLayout:
    """``propagate`` on wide and tall X, C-ordered and F-ordered (sample-major), float64."""

    params = (FAST_BACKENDS, LAYOUT_SHAPES, ORDERS, THREADS)
    param_names = ("backend", "shape", "order", "threads")
    timeout = 300

    def setup(self, backend: str, shape: str, order: str, threads: int) -> None:
        self.threads = ThreadSetting()
        self.threads.enter(threads)
        self.mod: Any = load(backend)
        self.w, self.b, self.X, self.Y = problem_in_order(shape, order)
        self.mod.propagate(self.w, self.b, self.X, self.Y)  # compile / warm up

    def teardown(self, backend: str, shape: str, order: str, threads: int) -> None:
        self.threads.exit()

    def time_propagate(self, backend: str, shape: str, order: str, threads: int) -> None:
        self.mod.propagate(self.w, self.b, self.X, self.Y)


class OptimizeLayout:
    """Public ``vecstudy.optimize``, 25 iterations, C and F order.

    Through the public API, so that a one-time relayout of ``X`` (numba, when the
    iterations pay for it) is inside the timing; divide by 25 for a time per iteration.
    """

    params = (FAST_BACKENDS, LAYOUT_SHAPES, ORDERS, THREADS)
    param_names = ("backend", "shape", "order", "threads")
    timeout = 600

    def setup(self, backend: str, shape: str, order: str, threads: int) -> None:
        import vecstudy

        self.threads = ThreadSetting()
        self.threads.enter(threads)
        load(backend)
        w, self.b, self.X, Y = problem_in_order(shape, order)
        self.w, self.Y = w.reshape(-1, 1), Y.reshape(1, -1)
        self.optimize = vecstudy.optimize
        self.optimize(self.w, self.b, self.X, self.Y, 1, LEARNING_RATE, backend=backend)

    def teardown(self, backend: str, shape: str, order: str, threads: int) -> None:
        self.threads.exit()

    def time_optimize(self, backend: str, shape: str, order: str, threads: int) -> None:
        self.optimize(self.w, self.b, self.X, self.Y, 25, LEARNING_RATE, backend=backend)
