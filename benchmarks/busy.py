"""Two threads on a busy machine: a whole fit with another CPU-bound program running.

Times ``vecstudy.optimize`` on the numba backend with ``threads=1`` and with
``threads="all"``, interleaved, and prints the medians and their ratio: on the idle
machine, beside one CPU-bound process (a busy loop pinned to the last core, where the
OS allows pinning), and beside one such process per core, unpinned.  The goal: with
the other programs running, ``threads="all"`` costs at most about as much as
``threads=1`` (a descent runs each slice serial or parallel, whichever is faster now:
:mod:`vecstudy.backends.numba.adaptive`).

This is a benchmark, not a test: nothing here asserts on a time.  Run it as::

    python benchmarks/busy.py [--shape 20 10000] [--iterations 1000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
from functools import partial

import numpy as np


def _spin(cpu: int | None) -> None:  # pragma: no cover - runs in the busy process
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    x = 0
    while True:
        x += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=2, default=[20, 10_000], metavar=("N_X", "M"))
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7, help="timings of each call (7)")
    args = parser.parse_args(argv)

    import vecstudy
    from vecstudy.records.stats import ratio_ci
    from vecstudy.runtime.cores import available_cores
    from vecstudy.runtime.timing import interleaved, median

    n_x, m = args.shape
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n_x, m))
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    w = np.zeros((n_x, 1))
    fit = partial(vecstudy.optimize, w, 0.0, X, Y, args.iterations, 0.01, backend="numba")
    one, every = partial(fit, threads=1), partial(fit, threads="all")
    cores = available_cores()
    print(f"vecstudy {vecstudy.__version__}, {platform.processor() or platform.machine()}, "
          f"{cores} cores; whole fit {n_x}x{m}, {args.iterations} iterations, numba; "
          f"medians of {args.rounds} interleaved rounds; ratio = all / one thread")  # fmt: skip
    print(f"{'machine':<34}{'threads=1 ms':>13}{'threads=all ms':>15}{'ratio':>7}  95% interval")
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    # the other programs: none; one pinned to the last core; one per core, unpinned (a
    # shared machine where every core is taken, and each thread gets part of one)
    scenarios = [
        ("idle", []),
        ("one other CPU-bound process", [cpus[-1] if cpus else None]),
        (f"{cores} others, one per core", [None] * cores),
    ]
    for label, pins in scenarios:
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=_spin, args=(pin,), daemon=True) for pin in pins]
        for proc in procs:
            proc.start()
        try:
            a, b = interleaved([one, every], args.rounds, min_time=0.05)
        finally:
            for proc in procs:
                proc.terminate()
                proc.join()
        r, lo, hi = ratio_ci(np.asarray(b), np.asarray(a))
        print(f"{label:<34}{median(a) * 1e3:>13.2f}{median(b) * 1e3:>15.2f}{r:>7.2f}  "
              f"[{lo:.2f}, {hi:.2f}]", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
