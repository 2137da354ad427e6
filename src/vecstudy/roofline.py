"""How close the Numba backend comes to the machine's limits: a benchmark that prints figures.

Every figure is a median of repeated :class:`timeit.Timer` runs (``autorange`` picks the
loop count), measured after a warm-up call (compilation excluded), side by side in one
run: the machine is shared and noisy, so only ratios measured together mean anything.
Each measurement is taken with one thread and with all threads (Numba's threads and,
through :func:`threadpoolctl.threadpool_limits`, the BLAS threads NumPy uses).

The physical limit of one gradient step is reading ``X`` once:
``t_min = bytes(X) / read_bandwidth``, the bandwidth measured by
:func:`vecstudy.backends.numba.read_sum` over an array of the same size.

Targets (``ratio`` is always "bigger is better")::

    step >= 80 MB      numpy_time / numba_time          >= 1.3
    step grid          numpy_time / numba_time          >= 0.9   (every shape)
    step vs memory     (bytes(X) / bandwidth) / numba_time >= 1 / 1.25
    float32 speed-up   numba_time(float64) / numba_time(float32) >= 1.7
    optimize small     numpy_time / numba_time (1000 iterations) >= 5
    vs python          python_time / numba_time         >= 100

This is a benchmark, not a test: nothing here asserts on a time.  Run it with
``python -m vecstudy.roofline [--quick] [--threads N]``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import timeit
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_info

from vecstudy.threads import limit_threads

_MB = 1e6
BIG_BYTES = 80 * _MB

#: (n_x, m) of the step grid, small to large; those with X >= 80 MB carry the 1.3x goal.
GRID_FULL = [
    (2, 100),
    (4, 1000),
    (20, 10000),
    (100, 10000),
    (500, 2000),
    (10, 1_000_000),
    (1000, 10000),
    (100, 100_000),
    (12288, 1000),
]
GRID_QUICK = [(2, 100), (20, 10000), (100, 10000), (100, 100_000)]
OPT_SHAPES = [(2, 100), (4, 1000), (20, 10000)]
#: Python backend comparisons.  At (2, 100) one numba step is ~3 us of Python-level dispatch
#: and allocation, so the 100x goal (a 0.5 us call) is missed there; the whole compiled
#: descent ("optimize vs python") shows what the loop itself gains.
PY_SHAPES_FULL = [(2, 100), (4, 1000), (20, 1000), (100, 1000)]
PY_SHAPES_QUICK = [(2, 100), (20, 1000)]


def _median_time(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds per call of ``fn`` (``autorange`` loop count, ``repeat`` repeats)."""
    fn()  # warm-up: compilation, first-touch of memory
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return float(np.median(timer.repeat(repeat=repeat, number=number))) / number


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
) -> dict[str, Any]:
    """One table row; ``times`` is ``(numba_s, baseline_name, baseline_s)``."""
    numba_s, base_name, base_s = times
    status = "info" if goal is None else ("PASS" if ratio >= goal else "MISS")
    return {
        "target": target,
        "shape": f"{shape[0]}x{shape[1]}",
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
        Fewer shapes and repeats (about 30 s instead of a few minutes).
    progress : bool
        Print one line per measurement to stderr.

    Returns
    -------
    pandas.DataFrame
        One row per (target, shape, dtype, threads): ``numba_s``, ``baseline``,
        ``baseline_s``, ``ratio`` (bigger is better), ``goal``, ``status``
        (PASS / MISS / info) and ``note``.  ``df.attrs`` holds the environment
        (BLAS, threading layer, SVML, CPU count).
    """
    from vecstudy.backends import load
    from vecstudy.backends import numba as nb

    npb = load("numpy")
    pyb = load("python")
    all_threads = int(threads) if threads else nb.max_threads()
    thread_counts = sorted({1, all_threads})
    repeat = 3 if quick else 7
    rows: list[dict[str, Any]] = []

    def log(msg: str) -> None:
        if progress:
            print(msg, file=sys.stderr, flush=True)

    def add(row: dict[str, Any]) -> None:
        rows.append(row)
        log(
            f"  {row['target']:<16} {row['shape']:>12} {row['dtype']:<7} t={row['threads']} "
            f"numba {row['numba_s'] * 1e3:9.3f} ms  {row['baseline']} "
            f"{row['baseline_s'] * 1e3:9.3f} ms  ratio {row['ratio']:.2f} {row['status']}"
        )

    def timed(fn: Callable[..., object], *args: object) -> float:
        return _median_time(partial(fn, *args), repeat)

    def torch_maker(_threads: int) -> Callable[..., object] | None:
        return _optional_torch_step()

    extras = [("torch", torch_maker), ("sklearn", _optional_sklearn_step)]

    # --- one step (propagate), float64 grid; memory limit and float32 on the big ones
    for shape in GRID_QUICK if quick else GRID_FULL:
        w, b, X, Y = _data(*shape, np.float64)
        big = X.nbytes >= BIG_BYTES
        f32 = (w.astype(np.float32), b, X.astype(np.float32), Y.astype(np.float32))
        if not big:
            f32 = (w, b, X, Y)  # not used: no float32 copy of the small problems
        for t in thread_counts:
            with _threads(t):
                t_nb = timed(nb.propagate, w, b, X, Y)
                t_np = timed(npb.propagate, w, b, X, Y)
                goal = 1.3 if big else 0.9
                note = f"X {X.nbytes / _MB:.1f} MB"
                add(_row("step vs numpy", shape, "float64", t, (t_nb, "numpy", t_np),
                         t_np / t_nb, goal, note))  # fmt: skip
                if not big:
                    continue
                t_rd = timed(nb.read_sum, X)
                note = f"read {X.nbytes / t_rd / 1e9:.1f} GB/s, step {X.nbytes / t_nb / 1e9:.1f}"
                add(_row("step vs memory", shape, "float64", t, (t_nb, "bytes/bw", t_rd),
                         t_rd / t_nb, 1 / 1.25, note))  # fmt: skip
                t_32 = timed(nb.propagate, *f32)
                t_np32 = timed(npb.propagate, *f32)
                note = f"numpy f32 {t_np32 * 1e3:.2f} ms ({t_np32 / t_32:.2f}x)"
                add(_row("float32 speed-up", shape, "float32", t, (t_32, "numba f64", t_nb),
                         t_nb / t_32, 1.7, note))  # fmt: skip
                for name, maker in [] if quick else extras:
                    other = maker(t)
                    if other is not None:
                        t_o = timed(other, w, b, X, Y)
                        add(_row("step vs " + name, shape, "float64", t, (t_nb, name, t_o),
                                 t_o / t_nb, None))  # fmt: skip
        del w, X, Y, f32
        gc.collect()

    # --- whole optimize, small problems (serial path, no Python per iteration)
    for shape in OPT_SHAPES[::2] if quick else OPT_SHAPES:
        w, b, X, Y = _data(*shape, np.float64, seed=1)
        for t in thread_counts:
            with _threads(t):
                t_nb = timed(nb.optimize, w, b, X, Y, 1000, 0.01, 100)
                t_np = timed(npb.optimize, w, b, X, Y, 1000, 0.01, 100)
                add(_row("optimize 1000 it", shape, "float64", t, (t_nb, "numpy", t_np),
                         t_np / t_nb, 5.0))  # fmt: skip

    # --- against the pure-Python loops (small shapes; Python uses one thread)
    for shape in PY_SHAPES_QUICK if quick else PY_SHAPES_FULL:
        w, b, X, Y = _data(*shape, np.float64, seed=2)
        with _threads(1):
            t_nb = timed(nb.propagate, w, b, X, Y)
            t_py = _median_time(partial(pyb.propagate, w, b, X, Y), 3)
        add(_row("step vs python", shape, "float64", 1, (t_nb, "python", t_py),
                 t_py / t_nb, 100.0))  # fmt: skip
    for shape in OPT_SHAPES[:1] if quick else OPT_SHAPES[:2]:
        w, b, X, Y = _data(*shape, np.float64, seed=3)
        with _threads(1):
            t_nb = _median_time(partial(nb.optimize, w, b, X, Y, 1000, 0.01, 100), 3)
            t_py = _median_time(partial(pyb.optimize, w, b, X, Y, 1000, 0.01, 100), 3)
        add(_row("optimize vs python", shape, "float64", 1, (t_nb, "python", t_py),
                 t_py / t_nb, 100.0))  # fmt: skip

    df = pd.DataFrame(rows)
    df.attrs.update(
        blas=_blas_summary(),
        threading_layer=nb.threading_layer(),
        numba_threads=all_threads,
        svml=nb.using_svml(),
        fastmath=", ".join(sorted(nb.FASTMATH)),
        quick=quick,
    )
    return df


def to_markdown(table: str, *, command: str, machine: str) -> str:
    """The printed table of :func:`format_targets` as a Markdown file body."""
    return f"Measured on {machine} with `{command}`.\n\n```text\n{table.rstrip()}\n```\n"


def format_targets(df: pd.DataFrame) -> str:
    """The rows of :func:`measure_targets` as a fixed-width text table with a header."""
    a = df.attrs
    lines = [
        "vecstudy roofline: numba backend targets (medians; ratio = bigger is better)",
        f"BLAS (threadpoolctl): {a.get('blas', '?')}",
        f"numba threading layer: {a.get('threading_layer', '?')}, all-threads = "
        f"{a.get('numba_threads', '?')}, SVML: {a.get('svml', '?')}, "
        f"fastmath: {a.get('fastmath', '?')}",
        "",
        f"{'target':<17}{'shape':>12} {'dtype':<8}{'thr':>3} {'numba ms':>10} "
        f"{'baseline':<10}{'base ms':>10} {'ratio':>7} {'goal':>6}  result  note",
    ]
    for r in df.to_dict("records"):
        goal_v = r["goal"]
        goal = "" if goal_v is None or pd.isna(goal_v) else f">={float(goal_v):.2f}"
        lines.append(
            f"{r['target']!s:<17}{r['shape']!s:>12} {r['dtype']!s:<8}{r['threads']!s:>3} "
            f"{float(r['numba_s']) * 1e3:>10.3f} {r['baseline']!s:<10}"
            f"{float(r['baseline_s']) * 1e3:>10.3f} {float(r['ratio']):>7.2f} {goal:>6}  "
            f"{r['status']!s:<6}  {r['note']}"
        )
    scored = df[df["status"] != "info"]
    n_pass = int((scored["status"] == "PASS").sum())
    lines += ["", f"{n_pass} of {len(scored)} targets PASS"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m vecstudy.roofline [--quick] [--threads N]``."""
    parser = argparse.ArgumentParser(prog="python -m vecstudy.roofline", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer shapes and repeats")
    parser.add_argument("--threads", type=int, default=None, help="the all-threads count")
    parser.add_argument("--no-progress", action="store_true", help="no per-row log on stderr")
    args = parser.parse_args(argv)
    df = measure_targets(threads=args.threads, quick=args.quick, progress=not args.no_progress)
    print(format_targets(df))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
