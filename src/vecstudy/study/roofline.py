"""How close the Numba backend comes to NumPy and to the machine's limits: measured targets.

Every figure is a median of repeated :class:`timeit.Timer` runs, measured after a
warm-up call (compilation excluded), with the harness of :mod:`vecstudy.runtime.timing`
(``autorange`` picks the loop count); numba and its baseline are timed side by side in
interleaved rounds (A B, B A, ...): the machine may be shared and noisy, so only ratios
measured together mean anything.  Each measurement is taken with one thread and with all threads
(Numba's threads and, through :func:`threadpoolctl.threadpool_limits`, the BLAS threads
NumPy uses), for C-ordered ``X`` (the course's layout, one column per sample) and for
F-ordered ``X`` (sample-major: ``data.T`` of the ``(m, n_x)`` arrays files give).

The physical limit of one gradient step is reading ``X`` once:
``t_min = bytes(X) / read_bandwidth``, the bandwidth measured by
:func:`vecstudy.backends.numba.read_sum` over ``X`` itself, in the same run and with the
same threads.  A bandwidth slower than the step it bounds means a busy machine.

Targets (``ratio`` is always "bigger is better")::

    step            numpy_time / numba_time, one propagate (kernels)   >= 1.0  every shape
    iteration       numpy / numba per optimize iteration (public API,  >= 1.3  X >= 20 MB
                    relayout included; 25 iterations per call, and
                    3 or 6 for short descents of wide C-ordered X)
    iteration/mem   (bytes(X) / bandwidth) / numba time per iteration  >= 1/1.5
                    (all threads, X >= 50 MB, n_x >= 10; C order only up to n_x = 1000)
    float32         numba_time(float64) / numba_time(float32)          >= 1.7  X >= 80 MB
    descent vs jax  jax_time / numba_time per iteration of a whole      >= 1.0
                    descent (JAX: jax.jit of lax.fori_loop, float64;
                    numba: the public optimize), 25 iterations of the
                    iteration shapes, 1000 of the whole-fit shapes
    whole fit       numpy / numba, public optimize, 1000 iterations    >= 5 (all), 3 (one)
                    of 20x10000
    vs python       python_time / numba_time                           >= 100

Peers (optional, ``pip install 'vecstudy[peers]'``; each is skipped with a note where it
is not installed): PyTorch and scikit-learn time one step; JAX times a whole descent,
jitted (:class:`JaxDescent`), its compile time excluded from the figure and reported
beside it.  JAX runs on XLA's own CPU thread pool, which no threadpoolctl limit
reaches: its row is measured once, with all threads.

This is a benchmark, not a test: nothing here asserts on a time.  Run it with
``vecstudy roofline [--quick] [--threads N]`` (unset ``OPENBLAS_CORETYPE`` and
``OPENBLAS_L2_SIZE`` in that command: they slow NumPy's BLAS down).  The table it
prints is :func:`vecstudy.report.roofline.format_targets`.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_info

from vecstudy.backends.numba.tuning import GRID_FULL as GRID_FULL
from vecstudy.runtime.threads import limit_threads
from vecstudy.runtime.timing import interleaved, median

_MB = 1e6
BIG_BYTES = 80 * _MB
ITER_BYTES = 20 * _MB
MEM_BYTES = 50 * _MB

GRID_QUICK = [(2, 100), (20, 10000), (12288, 209), (100, 100_000)]
#: Shapes of the per-iteration optimize targets (X >= 20 MB) and their iteration counts.
#: (2 x 5e6 is in the step grid only: NumPy takes ~0.1-0.3 s per iteration there, 7x numba.)
ITER_SHAPES_FULL = [(12288, 209), (4096, 2000), (12288, 1000), (100, 100_000), (30, 1_000_000)]
ITER_SHAPES_QUICK = [(12288, 209)]
ITERATIONS = 25
#: Short descents of wide C-ordered ``X``, ``(n_x, m, iterations per call)``: too few
#: iterations for a relayout, as a training loop that calls ``optimize`` often makes.
SHORT_SHAPES_FULL = [(12288, 300, 6), (8192, 1500, 3)]
SHORT_SHAPES_QUICK: list[tuple[int, int, int]] = []
OPT_SHAPES = [(2, 100), (4, 1000), (20, 10000)]
#: Iterations of a whole fit (numba, NumPy and JAX).
FIT_ITERATIONS = 1000
#: Python backend comparisons.  At (2, 100) one numba step is ~3 us of Python-level dispatch
#: and allocation, so the 100x goal (a 0.5 us call) is missed there; the whole compiled
#: descent ("optimize vs python") shows what the loop itself gains.
PY_SHAPES_FULL = [(2, 100), (4, 1000), (20, 1000), (100, 1000)]
PY_SHAPES_QUICK = [(2, 100), (20, 1000)]


#: Seconds a timing lasts at least (:meth:`timeit.Timer.autorange`'s own target).
MIN_TIME = 0.2


def _medians(fns: Sequence[Callable[[], object]], repeat: int) -> list[float]:
    """Median seconds per call of each of ``fns``, timed together.

    :func:`vecstudy.runtime.timing.interleaved`: one warm-up call of each (compilation,
    first touch of memory), a loop count lasting :data:`MIN_TIME`, then ``repeat``
    interleaved rounds (A B, B A, ...), each timing started once the threads the other
    left spinning are idle (:func:`~vecstudy.runtime.timing.quiesce`).
    """
    return [median(s) for s in interleaved(fns, repeat, min_time=MIN_TIME, quiet=True)]


def _threads(n: int) -> AbstractContextManager[None]:
    """Numba and BLAS/OpenMP pools limited to ``n`` threads inside the block."""
    return limit_threads(n, numba=True)


Arr = Any  # a float ndarray


def _data(n_x: int, m: int, dtype: Any, seed: int = 0) -> tuple[Arr, float, Arr, Arr]:
    """Seeded ``w, b, X, Y``: standard normal features, w of norm ~1, balanced labels."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_x, m), dtype=np.float64).astype(dtype, copy=False)
    Y = (rng.random(m) < 0.5).astype(dtype)
    w = (rng.standard_normal(n_x) / np.sqrt(n_x)).astype(dtype)
    return w, 0.1, X, Y


def _blas_summary() -> str:
    parts = []
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            parts.append(
                f"{info.get('internal_api')} {info.get('version')} "
                f"core={info.get('architecture')} threads={info.get('num_threads')}"
            )
    return "; ".join(parts) or "no BLAS found by threadpoolctl"


def _row(
    target: str,
    shape: tuple[int, int],
    dtype: str,
    threads: int,
    times: tuple[float, str, float],
    ratio: float,
    goal: float | None,
    note: str = "",
    order: str = "C",
) -> dict[str, Any]:
    """One table row; ``times`` is ``(numba_s, baseline_name, baseline_s)``."""
    numba_s, base_name, base_s = times
    status = "info" if goal is None else ("PASS" if ratio >= goal else "MISS")
    return {
        "target": target,
        "shape": f"{shape[0]}x{shape[1]}",
        "order": order,
        "dtype": dtype,
        "threads": threads,
        "numba_s": numba_s,
        "baseline": base_name,
        "baseline_s": base_s,
        "ratio": ratio,
        "goal": goal,
        "status": status,
        "note": note,
    }


def _optional_torch_step() -> Callable[[Any, float, Any, Any], object] | None:
    try:
        import torch
    except ImportError:
        return None

    def step(w: Any, b: float, X: Any, Y: Any) -> object:
        tw, tX, tY = torch.from_numpy(w), torch.from_numpy(X), torch.from_numpy(Y)
        z = tw @ tX + b
        d = torch.sigmoid(z) - tY
        cost = torch.log1p(torch.exp(-z.abs())) + z.clamp(min=0) - tY * z
        return tX @ d / X.shape[1], float(d.mean()), float(cost.mean())

    return step


def _optional_sklearn_step(threads: int) -> Callable[[Any, float, Any, Any], object] | None:
    try:
        from sklearn._loss.loss import HalfBinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss
    except ImportError:
        return None
    loss = LinearModelLoss(base_loss=HalfBinomialLoss(), fit_intercept=True)

    def step(w: Any, b: float, X: Any, Y: Any) -> object:
        coef = np.append(w, X.dtype.type(b))
        return loss.loss_gradient(coef, X.T, Y, l2_reg_strength=0.0, n_threads=threads)

    return step


class JaxDescent:
    """The course's batch gradient descent as one XLA program: ``jax.jit`` of ``lax.fori_loop``.

    At iteration ``k`` the gradients are computed (and the cost when
    ``k % record_every == 0``), then ``w -= lr * dw; b -= lr * db`` -- the kernels'
    ``optimize`` (see :mod:`vecstudy.backends`) without their early stop on a
    non-finite gradient.  ``X`` is taken in its own memory order: ``(n_x, m)``
    C-ordered, or sample-major (an F-ordered ``X`` is passed to JAX as ``X.T``, the
    same memory), so that no copy is timed.

    64-bit floats are enabled only inside this object's calls, by JAX's scoped switch
    (``jax.enable_x64``, or ``jax.experimental.enable_x64`` in older versions): the
    caller's JAX default (float32) is left as it was.  Only where neither exists is the
    global flag set, and then it stays set for the process (:attr:`x64_scoped` is
    False).

    >>> import numpy as np
    >>> peer = JaxDescent.load()
    >>> if peer is not None:  # jax installed
    ...     X = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
    ...     w0, Y = np.array([1.0, 2.0]), np.array([1.0, 0.0, 1.0])
    ...     run, compile_s = peer.prepare(w0, 2.0, X, Y, 100, 0.009)
    ...     w, b, dw, db, costs = run()
    ...     assert abs(w[0] - 0.19033591) < 1e-8 and costs.shape == (1,)
    """

    def __init__(self, jax: Any) -> None:
        self.jax = jax
        self.version = str(jax.__version__)
        self.x64_scoped = hasattr(jax, "enable_x64") or self._experimental_x64() is not None
        self._jitted: dict[tuple[bool, int], Any] = {}

    @classmethod
    def load(cls) -> JaxDescent | None:
        """The peer, or None when JAX is not installed."""
        try:
            import jax
        except ImportError:
            return None
        return cls(jax)

    @staticmethod
    def _experimental_x64() -> Any:
        try:
            from jax.experimental import enable_x64  # type: ignore[attr-defined,unused-ignore]
        except ImportError:
            return None
        return enable_x64

    def x64(self) -> AbstractContextManager[Any]:
        """A block in which JAX makes float64 arrays (see the class docstring)."""
        scoped = getattr(self.jax, "enable_x64", None)
        if scoped is not None:
            return scoped(True)  # type: ignore[no-any-return]
        experimental = self._experimental_x64()
        if experimental is not None:
            return experimental()  # type: ignore[no-any-return]
        self.jax.config.update("jax_enable_x64", True)  # no scoped switch: it stays set
        return nullcontext()

    def _descent(self, sample_major: bool, record_every: int) -> Any:
        """The jitted descent for one layout and recording interval (built once)."""
        key = (sample_major, record_every)
        if key in self._jitted:
            return self._jitted[key]
        jax = self.jax
        jnp = jax.numpy
        lax = jax.lax

        def grads(w: Any, b: Any, X: Any, Y: Any, with_cost: bool) -> Any:
            z = (X @ w if sample_major else w @ X) + b
            d = jax.nn.sigmoid(z) - Y
            m = Y.shape[0]
            dw = (d @ X if sample_major else X @ d) / m
            if not with_cost:
                return dw, jnp.mean(d), jnp.zeros((), X.dtype)
            cost = jnp.mean(jnp.log1p(jnp.exp(-jnp.abs(z))) + jnp.maximum(z, 0.0) - Y * z)
            return dw, jnp.mean(d), cost

        def descent(w: Any, b: Any, X: Any, Y: Any, lr: Any, n_iter: int) -> Any:
            n_costs = (n_iter + record_every - 1) // record_every

            def step(k: Any, state: Any) -> Any:
                w, b, _, _, costs = state
                dw, db, cost = lax.cond(
                    k % record_every == 0,
                    lambda: grads(w, b, X, Y, True),
                    lambda: grads(w, b, X, Y, False),
                )
                costs = lax.cond(
                    k % record_every == 0,
                    lambda: costs.at[k // record_every].set(cost),
                    lambda: costs,
                )
                return w - lr * dw, b - lr * db, dw, db, costs

            start = (w, b, jnp.zeros_like(w), jnp.zeros((), X.dtype), jnp.zeros(n_costs, X.dtype))
            return lax.fori_loop(0, n_iter, step, start)

        self._jitted[key] = jax.jit(descent, static_argnames=("n_iter",))
        return self._jitted[key]

    def prepare(
        self,
        w: Arr,
        b: float,
        X: Arr,
        Y: Arr,
        num_iterations: int,
        learning_rate: float,
        record_every: int = 100,
    ) -> tuple[Callable[[], tuple[Arr, float, Arr, float, Arr]], float]:
        """``(run, compile_s)``: the compiled descent on these arrays, and its compile time.

        The arrays are copied to JAX once, here; ``run()`` runs the whole descent and
        returns NumPy ``(w, b, dw, db, costs)`` as the kernels' ``optimize`` does
        (``dw, db`` the last gradients computed).  ``compile_s`` is the time of
        ``jax.jit(...).lower(...).compile()``, never part of a ``run()``.
        """
        import time

        jax = self.jax
        sample_major = bool(X.flags.f_contiguous and not X.flags.c_contiguous)
        fn = self._descent(sample_major, int(record_every))
        with self.x64():
            dt = np.dtype(X.dtype)
            args = (
                jax.device_put(np.asarray(w, dt)),
                jax.device_put(np.asarray(b, dt)),
                jax.device_put(X.T if sample_major else X),
                jax.device_put(np.asarray(Y, dt)),
                jax.device_put(np.asarray(learning_rate, dt)),
            )
            # timed by hand, not by time_once: the compiled program is kept
            t0 = time.perf_counter()
            compiled = fn.lower(*args, n_iter=int(num_iterations)).compile()
            compile_s = time.perf_counter() - t0

        def run() -> tuple[Arr, float, Arr, float, Arr]:
            with self.x64():
                out = jax.block_until_ready(compiled(*args))
            w_out, b_out, dw, db, costs = (np.asarray(a) for a in out)
            return w_out, float(b_out), dw, float(db), costs

        return run, compile_s


def _peer_notes(jax_peer: JaxDescent | None) -> str:
    """One line on which optional peers ran, and how to install the missing ones."""
    import importlib.util

    def have(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False

    notes = [
        "torch " + ("yes" if have("torch") else "not installed"),
        "scikit-learn " + ("yes" if have("sklearn") else "not installed"),
    ]
    if jax_peer is None:
        notes.append("jax not installed (its rows skipped)")
    else:
        scope = "float64 in a scoped switch" if jax_peer.x64_scoped else "float64 set process-wide"
        notes.append(f"jax {jax_peer.version} (XLA CPU, its own threads; {scope})")
    missing = (
        ""
        if all("not installed" not in n for n in notes)
        else ("; install the missing with pip install 'vecstudy[peers]'")
    )
    return ", ".join(notes) + missing


def measure_targets(
    *, threads: int | None = None, quick: bool = False, progress: bool = True
) -> pd.DataFrame:
    """Measure the Numba backend's targets against NumPy, Python and the memory limit.

    Parameters
    ----------
    threads : int, optional
        The "all threads" count; default: Numba's maximum (the number of CPUs).  Every
        figure is also measured with one thread.
    quick : bool
        Fewer shapes and repeats (one to two minutes instead of five to eight).
    progress : bool
        Print one line per measurement to stderr.

    Returns
    -------
    pandas.DataFrame
        One row per (target, shape, order, dtype, threads): ``numba_s``, ``baseline``,
        ``baseline_s``, ``ratio`` (bigger is better), ``goal``, ``status``
        (PASS / MISS / info) and ``note``.  ``df.attrs`` holds the environment
        (BLAS, threading layer, SVML, caches, CPU count).
    """
    from vecstudy import api
    from vecstudy.backends import load
    from vecstudy.backends import numba as nb
    from vecstudy.runtime.caches import cache_sizes

    npb = load("numpy")
    pyb = load("python")
    all_threads = int(threads) if threads else nb.max_threads()
    thread_counts = sorted({1, all_threads})
    repeat = 3
    rows: list[dict[str, Any]] = []

    def log(msg: str) -> None:
        if progress:
            print(msg, file=sys.stderr, flush=True)

    def add(row: dict[str, Any]) -> None:
        rows.append(row)
        log(
            f"  {row['target']:<14} {row['shape']:>11} {row['order']} {row['dtype']:<7} "
            f"t={row['threads']} numba {row['numba_s'] * 1e3:9.3f} ms  {row['baseline']} "
            f"{row['baseline_s'] * 1e3:9.3f} ms  ratio {row['ratio']:.2f} {row['status']}"
        )

    def timed(fn: Callable[..., object], *args: object, **kwargs: object) -> float:
        return _medians([partial(fn, *args, **kwargs)], repeat)[0]

    def pair(
        f_nb: Callable[[], object], f_base: Callable[[], object], rounds: int = 2
    ) -> tuple[float, float]:
        """Medians of numba and baseline in ``repeat * rounds`` interleaved rounds
        (A B, B A, ...; ``rounds`` is one when ``quick``)."""
        t_nb, t_base = _medians([f_nb, f_base], repeat * (1 if quick else rounds))
        return t_nb, t_base

    def descents(args: tuple[Any, ...], t: int) -> tuple[float, float]:
        """Seconds of one public ``optimize`` call of numba and of NumPy, on ``t`` threads."""
        return pair(
            partial(api.optimize, *args, backend="numba", threads=t),
            partial(api.optimize, *args, backend="numpy", threads=t),
            rounds=1,
        )

    def torch_maker(_threads: int) -> Callable[..., object] | None:
        return _optional_torch_step()

    extras = [("torch", torch_maker), ("sklearn", _optional_sklearn_step)]
    jax_peer = JaxDescent.load()
    gbs = 1e9

    # --- one step (propagate kernels), float64 grid in C and F order; bandwidth beside it
    for shape in GRID_QUICK if quick else GRID_FULL:
        w, b, X, Y = _data(*shape, np.float64)
        big = X.nbytes >= BIG_BYTES
        orders = ["C"] if X.nbytes < _MB else ["C", "F"]
        for order in orders:
            XX = X if order == "C" else np.asfortranarray(X)
            for t in thread_counts:
                with _threads(t):
                    t_nb, t_np = pair(
                        partial(nb.propagate, w, b, XX, Y), partial(npb.propagate, w, b, XX, Y)
                    )
                    t_rd = timed(nb.read_sum, XX)
                    note = (
                        f"X {X.nbytes / _MB:.1f} MB, read {X.nbytes / t_rd / gbs:.1f} GB/s, "
                        f"step/read {t_nb / t_rd:.2f}; {nb.describe(XX)}"
                    )
                    add(_row("step", shape, "float64", t, (t_nb, "numpy", t_np),
                             t_np / t_nb, 1.0, note, order))  # fmt: skip
                    if not big or order == "F":
                        continue
                    f32 = (w.astype(np.float32), b, X.astype(np.float32), Y.astype(np.float32))
                    t_32 = timed(nb.propagate, *f32)
                    t_np32 = timed(npb.propagate, *f32)
                    note = f"numpy f32 {t_np32 * 1e3:.2f} ms ({t_np32 / t_32:.2f}x numba f32)"
                    add(_row("float32", shape, "float32", t, (t_32, "numba f64", t_nb),
                             t_nb / t_32, 1.7, note, order))  # fmt: skip
                    del f32
                    for name, maker in [] if quick else extras:
                        other = maker(t)
                        if other is not None:
                            t_o = timed(other, w, b, X, Y)
                            add(_row("step vs " + name, shape, "float64", t, (t_nb, name, t_o),
                                     t_o / t_nb, None, "", order))  # fmt: skip
            del XX
            gc.collect()
        del w, X, Y
        gc.collect()

    # --- per optimize iteration through the public API (validation and relayout included)
    for shape in ITER_SHAPES_QUICK if quick else ITER_SHAPES_FULL:
        w, b, X, Y = _data(*shape, np.float64, seed=4)
        W, Y2 = w.reshape(-1, 1), Y.reshape(1, -1)
        for order in ("C", "F"):
            XX = X if order == "C" else np.asfortranarray(X)
            for t in thread_counts:
                with _threads(t):
                    t_nb, t_np = descents((W, b, XX, Y2, ITERATIONS, 1e-3), t)
                    t_rd = timed(nb.read_sum, XX)
                t_nb /= ITERATIONS
                t_np /= ITERATIONS
                note = f"X {X.nbytes / _MB:.1f} MB, {ITERATIONS} iterations per call"
                add(_row("iteration", shape, "float64", t, (t_nb, "numpy", t_np),
                         t_np / t_nb, 1.3 if X.nbytes >= ITER_BYTES else None, note,
                         order))  # fmt: skip
                applies = (
                    t == all_threads
                    and X.nbytes >= MEM_BYTES
                    and shape[0] >= 10
                    and (order == "F" or shape[0] <= 1000)
                )
                note = (
                    f"read {X.nbytes / t_rd / gbs:.1f} GB/s, iteration {X.nbytes / t_nb / gbs:.1f}"
                )
                add(_row("iteration/mem", shape, "float64", t, (t_nb, "bytes/bw", t_rd),
                         t_rd / t_nb, 1 / 1.5 if applies else None, note, order))  # fmt: skip
                if jax_peer is not None and t == all_threads:
                    with _threads(t):  # numba's; XLA keeps its own pool
                        add(_jax_row(jax_peer, (w, b, XX, Y), shape, order, t, pair))
            del XX
            gc.collect()
        del w, X, Y
        gc.collect()

    # --- short descents of wide C-ordered X: no relayout, one pass over X per iteration
    for n_x, m, its in SHORT_SHAPES_QUICK if quick else SHORT_SHAPES_FULL:
        w, b, X, Y = _data(n_x, m, np.float64, seed=5)
        W, Y2 = w.reshape(-1, 1), Y.reshape(1, -1)
        for t in thread_counts:
            with _threads(t):
                t_nb, t_np = descents((W, b, X, Y2, its, 1e-3), t)
            note = f"X {X.nbytes / _MB:.1f} MB, {its} iterations per call (no relayout)"
            add(_row("iteration", (n_x, m), "float64", t, (t_nb / its, "numpy", t_np / its),
                     t_np / t_nb, 1.3 if X.nbytes >= ITER_BYTES else None, note))  # fmt: skip
        del w, X, Y, W, Y2
        gc.collect()

    # --- whole fit, small problems (serial or parallel path, no Python per iteration)
    for shape in OPT_SHAPES[::2] if quick else OPT_SHAPES:
        w, b, X, Y = _data(*shape, np.float64, seed=1)
        for t in thread_counts:
            with _threads(t):
                fit = (w.reshape(-1, 1), b, X, Y.reshape(1, -1), FIT_ITERATIONS, 0.01)
                t_nb, t_np = pair(
                    partial(api.optimize, *fit, backend="numba", threads=t),
                    partial(api.optimize, *fit, backend="numpy", threads=t),
                )
            goal = None if shape != (20, 10000) else (5.0 if t == all_threads else 3.0)
            add(_row("whole fit", shape, "float64", t, (t_nb, "numpy", t_np),
                     t_np / t_nb, goal, "1000 iterations"))  # fmt: skip
            if jax_peer is not None and t == all_threads:
                with _threads(t):
                    add(_jax_row(jax_peer, (w, b, X, Y), shape, "C", t, pair, FIT_ITERATIONS))

    # --- against the pure-Python loops (small shapes; Python uses one thread)
    for shape in PY_SHAPES_QUICK if quick else PY_SHAPES_FULL:
        w, b, X, Y = _data(*shape, np.float64, seed=2)
        with _threads(1):
            t_nb = timed(nb.propagate, w, b, X, Y)
            t_py = timed(pyb.propagate, w, b, X, Y)
        add(_row("step vs python", shape, "float64", 1, (t_nb, "python", t_py),
                 t_py / t_nb, 100.0))  # fmt: skip
    for shape in OPT_SHAPES[:1] if quick else OPT_SHAPES[:2]:
        w, b, X, Y = _data(*shape, np.float64, seed=3)
        with _threads(1):
            t_nb = timed(nb.optimize, w, b, X, Y, 1000, 0.01, 100)
            t_py = timed(pyb.optimize, w, b, X, Y, 1000, 0.01, 100)
        add(_row("fit vs python", shape, "float64", 1, (t_nb, "python", t_py),
                 t_py / t_nb, 100.0, "1000 iterations"))  # fmt: skip

    df = pd.DataFrame(rows)
    c = cache_sizes()
    df.attrs.update(
        blas=_blas_summary(),
        threading_layer=nb.threading_layer(),
        numba_threads=all_threads,
        svml=nb.using_svml(),
        fastmath=", ".join(sorted(nb.FASTMATH)),
        caches=f"L1d {c.l1d >> 10} KiB, L2 {c.l2 >> 10} KiB, L3/core {c.l3_per_core >> 10} "
        f"KiB ({c.source})",
        quick=quick,
        peers=_peer_notes(jax_peer),
    )
    return df


def _jax_row(
    peer: JaxDescent,
    data: tuple[Arr, float, Arr, Arr],
    shape: tuple[int, int],
    order: str,
    threads: int,
    pair: Callable[[Callable[[], object], Callable[[], object]], tuple[float, float]],
    iterations: int = ITERATIONS,
) -> dict[str, Any]:
    """The public ``optimize`` on numba against the jitted JAX descent, per iteration.

    Numba's side is what a user calls (validation and relayout included); JAX's is the
    compiled program on arrays already on its device, its compile time excluded.
    """
    from vecstudy import api

    w, b, X, Y = data
    lr = 1e-3
    run, compile_s = peer.prepare(w, b, X, Y, iterations, lr)
    public = partial(
        api.optimize, w.reshape(-1, 1), b, X, Y.reshape(1, -1), iterations, lr,
        backend="numba", threads=threads,
    )  # fmt: skip
    t_nb, t_jax = pair(public, run)
    note = (
        f"{iterations} iterations per call, compile {compile_s * 1e3:.0f} ms excluded; "
        f"XLA's own threads"
    )
    return _row("descent vs jax", shape, "float64", threads,
                (t_nb / iterations, "jax", t_jax / iterations), t_jax / t_nb, 1.0, note,
                order)  # fmt: skip
