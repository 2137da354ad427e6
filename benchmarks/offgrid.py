"""Numba against NumPy on shapes off the grid that ``vecstudy tune`` measures.

``vecstudy tune`` stores plans for the roofline's grid; a shape within a factor 2 of a
tuned one takes its plan, any other the cache model's
(:func:`vecstudy.backends.numba.planning.plan`).  This script times the public
``vecstudy.optimize`` per iteration on such shapes (wide and tall C-ordered ``X``,
float32, a few hundred features, from L3 and from memory), numba against NumPy on the
same data, in interleaved rounds (:func:`vecstudy.runtime.timing.interleaved`, each
contender timed once the other's threads are idle), with the ratio of medians and its
95% bootstrap interval (:func:`vecstudy.records.stats.ratio_ci`).  The goals are the
numba backend's: at least 1.0x NumPy, 1.3x for ``X`` of 20 MB and more.  Each row
names the descent's walk and whether it was measured here or is the model's.

This is a benchmark, not a test: nothing here asserts on a time.  Run it as::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/offgrid.py [--rounds N]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
from functools import partial

import numpy as np

#: (n_x, m, order, dtype, iterations per call).
CASES: list[tuple[int, int, str, str, int]] = [
    (300, 100_000, "C", "float64", 6),  # 240 MB, a few hundred features, from memory
    (150, 40_000, "C", "float64", 10),
    (150, 40_000, "C", "float32", 10),
    (257, 12_345, "C", "float64", 10),
    (257, 12_345, "C", "float32", 10),  # 13 MB, in L3
    (200, 8_000, "C", "float64", 10),
    (784, 6_000, "C", "float64", 10),
    (2_000, 2_000, "C", "float32", 10),
    (20_000, 100, "C", "float64", 6),  # tall
    (40_000, 64, "C", "float32", 10),  # tall, few samples
    (100_000, 20, "C", "float64", 10),
]
#: Bytes of X from which the goal is 1.3x.
LARGE_BYTES = 20_000_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timings of each call (7)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)

    import vecstudy
    from common import problem  # benchmarks/common.py: the asv suite's seeded data
    from vecstudy.backends import load
    from vecstudy.backends.numba import planning, tuning
    from vecstudy.records.stats import ratio_ci
    from vecstudy.runtime.threads import limit_threads
    from vecstudy.runtime.timing import interleaved

    nb = load("numba")
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    print(f"vecstudy {vecstudy.__version__}, numpy {np.__version__}, {platform.processor()}")
    print(f"environment: {env}; rounds = {args.rounds}; ratio = NumPy / numba, 95% bootstrap")
    print(
        f"{'shape':>12} {'ord':<4}{'dtype':<8}{'its':>4}{'thr':>4} {'numba ms':>9} "
        f"{'NumPy ms':>9} {'ratio':>6}  {'95% interval':<15} {'goal':<11} walk"
    )
    misses = 0
    for n_x, m, order, dtype, its in CASES:
        w, _, X, Y = problem.__wrapped__(f"{n_x}x{m}", dtype)  # not kept in its cache
        X = X if order == "C" else np.asfortranarray(X)
        w, Y = w.reshape(-1, 1), Y.reshape(1, -1)
        goal = 1.3 if X.nbytes >= LARGE_BYTES else 1.0
        for t in args.threads:
            with limit_threads(t, numba=True):
                fit = (w, 0.0, X, Y, its, 0.01)
                a, b = (
                    np.asarray(s) / its
                    for s in interleaved(
                        [
                            partial(vecstudy.optimize, *fit, backend="numba", threads=t),
                            partial(vecstudy.optimize, *fit, backend="numpy", threads=t),
                        ],
                        args.rounds,
                        min_time=0.05,
                        quiet=True,
                    )
                )
                walk = nb.plan(n_x, m, X.dtype.itemsize, order, threads=t, kind="descent")
                tuned = tuning.planned(n_x, m, X.dtype.itemsize, order, t, "descent")
            r, lo, hi = ratio_ci(b, a)
            misses += r < goal
            print(
                f"{f'{n_x}x{m}':>12} {order:<4}{dtype:<8}{its:>4}{t:>4} "
                f"{np.median(a) * 1e3:>9.3f} {np.median(b) * 1e3:>9.3f} {r:>6.2f}  "
                f"[{lo:.2f}, {hi:.2f}]{'':<4} >={goal:<4} {'PASS' if r >= goal else 'MISS'}  "
                f"{planning.describe_plan(walk)} ({'measured' if tuned else 'model'})",
                flush=True,
            )
        del w, X, Y
        gc.collect()
    print(f"{misses} of {len(CASES) * len(args.threads)} below their goal")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
