"""Kernel benchmarks: one gradient step and a fixed-length optimize, every backend.

Parametrized over backend (the registry) x shape (n_x x m) x dtype.  Data are
seeded and built in ``setup``; every kernel is called once in ``setup`` so that
Numba's compilation is never inside a ``time_`` benchmark (its cost is tracked
separately in ``bench_compile.py``).
"""

from __future__ import annotations

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
    ThreadSetting,
    load,
    problem,
    problem_in_order,
    skip_unless_fits,
)


class Propagate:
    """``propagate(w, b, X, Y)``: one forward and backward pass over X."""

    params = (BACKENDS, SHAPES, DTYPES)
    param_names = ("backend", "shape", "dtype")

    def setup(self, backend: str, shape: str, dtype: str) -> None:
        self.threads = ThreadSetting()  # before any skip: asv calls teardown after one
        skip_unless_fits(backend, shape, 1)
        self.threads.enter()
        self.mod: Any = load(backend)
        self.w, self.b, self.X, self.Y = problem(shape, dtype)
        self.mod.propagate(self.w, self.b, self.X, self.Y)  # compile / warm up

    def teardown(self, backend: str, shape: str, dtype: str) -> None:
        self.threads.exit()

    def time_propagate(self, backend: str, shape: str, dtype: str) -> None:
        self.mod.propagate(self.w, self.b, self.X, self.Y)


class Optimize:
    """``optimize`` for ITERATIONS (100) iterations of batch gradient descent."""

    params = (BACKENDS, SHAPES, DTYPES)
    param_names = ("backend", "shape", "dtype")
    timeout = 300

    def setup(self, backend: str, shape: str, dtype: str) -> None:
        self.threads = ThreadSetting()  # before any skip: asv calls teardown after one
        skip_unless_fits(backend, shape, ITERATIONS)
        self.threads.enter()
        self.mod: Any = load(backend)
        self.w, self.b, self.X, self.Y = problem(shape, dtype)
        self.args = (ITERATIONS, LEARNING_RATE, RECORD_EVERY)
        self.mod.optimize(self.w, self.b, self.X, self.Y, 1, LEARNING_RATE, RECORD_EVERY)

    def teardown(self, backend: str, shape: str, dtype: str) -> None:
        self.threads.exit()

    def time_optimize(self, backend: str, shape: str, dtype: str) -> None:
        self.mod.optimize(self.w, self.b, self.X, self.Y, *self.args)

    def peakmem_optimize(self, backend: str, shape: str, dtype: str) -> None:
        self.mod.optimize(self.w, self.b, self.X, self.Y, *self.args)


class PropagateLayout:
    """``propagate`` on wide and tall X, C-ordered and F-ordered (sample-major), float64."""

    params = (FAST_BACKENDS, LAYOUT_SHAPES, ORDERS)
    param_names = ("backend", "shape", "order")
    timeout = 300

    def setup(self, backend: str, shape: str, order: str) -> None:
        self.threads = ThreadSetting()
        self.threads.enter()
        self.mod: Any = load(backend)
        self.w, self.b, self.X, self.Y = problem_in_order(shape, order)
        self.mod.propagate(self.w, self.b, self.X, self.Y)  # compile / warm up

    def teardown(self, backend: str, shape: str, order: str) -> None:
        self.threads.exit()

    def time_propagate(self, backend: str, shape: str, order: str) -> None:
        self.mod.propagate(self.w, self.b, self.X, self.Y)


class OptimizeLayout:
    """Public ``vecstudy.optimize``, 25 iterations, C and F order.

    Through the public API, so that a one-time relayout of ``X`` (numba, when the
    iterations pay for it) is inside the timing; divide by 25 for a time per iteration.
    """

    params = (FAST_BACKENDS, LAYOUT_SHAPES, ORDERS)
    param_names = ("backend", "shape", "order")
    timeout = 600

    def setup(self, backend: str, shape: str, order: str) -> None:
        import vecstudy

        self.threads = ThreadSetting()
        self.threads.enter()
        load(backend)
        w, self.b, self.X, Y = problem_in_order(shape, order)
        self.w, self.Y = w.reshape(-1, 1), Y.reshape(1, -1)
        self.optimize = vecstudy.optimize
        self.optimize(self.w, self.b, self.X, self.Y, 1, LEARNING_RATE, backend=backend)

    def teardown(self, backend: str, shape: str, order: str) -> None:
        self.threads.exit()

    def time_optimize(self, backend: str, shape: str, order: str) -> None:
        self.optimize(self.w, self.b, self.X, self.Y, 25, LEARNING_RATE, backend=backend)
