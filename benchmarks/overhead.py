"""The cost of the public API over the kernel alone: validation, conversion, dispatch.

Prints, for each shape, order and thread count, the median time of the public
``vecstudy.propagate`` (and ``vecstudy.predict``) beside the numba kernel alone on the
same prepared arrays (``vecstudy.backends.numba.propagate`` / ``.predict``), measured
in interleaved rounds (A B, B A, ...: :func:`vecstudy.runtime.timing.interleaved`), with
the ratio of medians and its 95% bootstrap interval (:func:`vecstudy.records.stats.ratio_ci`).
The target: public propagate within 1.15x of the kernel for X of 20 MB and more.

This is a benchmark, not a test: nothing here asserts on a time.  Run it as::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/overhead.py [--rounds N]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
from functools import partial

import numpy as np

#: (n_x, m) and orders: 240 MB tall-ish and the course's 12288x209 (20.5 MB).
CASES: list[tuple[tuple[int, int], str]] = [
    ((300, 100_000), "C"),
    ((12288, 209), "C"),
    ((12288, 209), "F"),
]
TARGET = 1.15
#: Seconds one timing lasts at least (its loop count: autorange).
MIN_TIME = 0.02


def _data(n_x: int, m: int, order: str) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240601)
    X = rng.standard_normal((n_x, m))
    X = X if order == "C" else np.asfortranarray(X)
    Y = (rng.random(m) < 0.5).astype(np.float64)
    w = rng.standard_normal(n_x) / np.sqrt(n_x)
    return w, 0.1, X, Y


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timings of each call (15)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)

    import vecstudy
    from vecstudy.backends import load
    from vecstudy.records.stats import ratio_ci
    from vecstudy.runtime.threads import limit_threads
    from vecstudy.runtime.timing import interleaved

    nb = load("numba")
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    print(f"vecstudy {vecstudy.__version__}, numpy {np.__version__}, {platform.processor()}")
    print(f"environment: {env}; rounds = {args.rounds}; ratio = public / kernel, 95% bootstrap")
    head = (
        f"{'call':<10}{'shape':>11} {'ord':<4}{'thr':>3} {'public ms':>10} {'kernel ms':>10} "
        f"{'ratio':>6}  {'95% interval':<15} goal"
    )
    print(head)
    for (n_x, m), order in CASES:
        w, b, X, Y = _data(n_x, m, order)
        W, Y2 = w.reshape(-1, 1), Y.reshape(1, -1)
        mb = X.nbytes / 1e6
        for t in args.threads:
            with limit_threads(t, numba=True):
                calls = {
                    "propagate": (
                        partial(vecstudy.propagate, W, b, X, Y2, backend="numba", threads=t),
                        partial(nb.propagate, w, b, X, Y),
                    ),
                    "predict": (
                        partial(vecstudy.predict, W, b, X, backend="numba", threads=t),
                        partial(nb.predict, w, b, X),
                    ),
                }
                for name, (public, kernel) in calls.items():
                    a, k = (
                        np.asarray(s)
                        for s in interleaved([public, kernel], args.rounds, min_time=MIN_TIME)
                    )
                    r, lo, hi = ratio_ci(a, k)
                    goal = ""
                    if name == "propagate" and mb >= 20:
                        goal = f"<={TARGET} {'PASS' if r <= TARGET else 'MISS'}"
                    print(
                        f"{name:<10}{f'{n_x}x{m}':>11} {order:<4}{t:>3} "
                        f"{np.median(a) * 1e3:>10.3f} {np.median(k) * 1e3:>10.3f} "
                        f"{r:>6.3f}  [{lo:.3f}, {hi:.3f}]  {goal}",
                        flush=True,
                    )
        del w, X, Y, W, Y2
        gc.collect()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
