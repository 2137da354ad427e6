"""Rows -> the tables the report shows: kernel cases with speedups and their intervals.

Every speedup is a ratio of medians with its 95% bootstrap interval
(:func:`vecstudy.records.stats.ratio_ci`).  Where the Python loop was skipped as
too slow, its time is **estimated** from its measured cost per element of ``X``
at the largest shape it was timed on (same operation and dtype), the raw
timings scaled by the ratio of elements; such speedups carry ``*_est = True``
and are marked as estimates wherever they are shown.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from vecstudy.records.stats import ratio_ci

_NAN3 = (math.nan, math.nan, math.nan)


def python_samples(summary: pd.DataFrame) -> dict[tuple[str, str, int, int], tuple[Any, bool]]:
    """Python-loop timings per ``(operation, dtype, n_x, m)`` of every kernel shape.

    Returns ``{key: (samples, estimated)}``: measured samples where the loop was
    timed, else the samples of the largest timed shape scaled by the ratio of
    elements (``estimated`` True).
    """
    return {k: (v[0], v[1]) for k, v in _python_samples(summary).items()}


def _python_samples(
    summary: pd.DataFrame,
) -> dict[tuple[str, str, int, int], tuple[Any, bool, str]]:
    """:func:`python_samples`, each with the shape the loop was timed at (``"NxM"``)."""
    kern = summary[summary["kind"] == "kernel"]
    py = kern[kern["backend"] == "python"]
    out: dict[tuple[str, str, int, int], tuple[Any, bool, str]] = {}
    shapes = kern.drop_duplicates(["operation", "dtype", "n_x", "m"])
    for op, dt, n_x, m in zip(
        shapes["operation"], shapes["dtype"], shapes["n_x"], shapes["m"], strict=True
    ):
        here = py[(py["operation"] == op) & (py["dtype"] == dt)]
        key = (str(op), str(dt), int(n_x), int(m))
        same = here[(here["n_x"] == n_x) & (here["m"] == m)]
        if not same.empty:
            out[key] = (same.iloc[0]["samples"], False, f"{n_x}x{m}")
        elif not here.empty:
            ref = here.iloc[int(np.argmax((here["n_x"] * here["m"]).to_numpy()))]
            scale = (n_x * m) / (ref["n_x"] * ref["m"])
            out[key] = (np.asarray(ref["samples"]) * scale, True, f"{ref['n_x']}x{ref['m']}")
    return out


def kernel_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Kernel cases with speedups (and intervals), bandwidths and the read limit.

    Adds ``vs_python`` with ``vs_python_lo``/``_hi`` and ``vs_python_est``
    (the Python loop, one thread, over this case; estimated where the loop was
    skipped), ``vs_numpy`` with ``vs_numpy_lo``/``_hi`` (NumPy with the same
    thread setting over this case), ``gbps`` (``bytes_x / median / 1e9``),
    ``limit_s`` (``bytes_x`` over the measured read bandwidth of the same size
    and threads: the time to read ``X`` once) and ``limit_flagged`` (that
    bandwidth measurement was slower than a step, so it bounds nothing), ``loop_s``
    (the median of the Python loop's timings ``vs_python`` is taken over, estimated
    where ``vs_python_est``) and ``loop_from`` (the shape the loop was timed at).
    """
    kern = summary[summary["kind"] == "kernel"].copy()
    extra = [
        "vs_python",
        "vs_python_lo",
        "vs_python_hi",
        "vs_python_est",
        "vs_numpy",
        "vs_numpy_lo",
        "vs_numpy_hi",
        "gbps",
        "limit_s",
        "limit_flagged",
        "loop_s",
        "loop_from",
    ]
    if kern.empty:
        return kern.assign(**{c: [] for c in extra})
    pys = _python_samples(summary)
    npy = {
        (r["operation"], r["dtype"], r["n_x"], r["m"], r["threads"]): r["samples"]
        for _, r in kern[kern["backend"] == "numpy"].iterrows()
    }
    read = summary[summary["kind"] == "bandwidth"]
    reads = {(r["dtype"], r["n_x"], r["m"], r["threads"]): r for _, r in read.iterrows()}
    values: dict[str, list[Any]] = {c: [] for c in extra}
    for _, r in kern.iterrows():
        key = (r["operation"], r["dtype"], r["n_x"], r["m"])
        py, est, loop_from = pys.get(key, (None, False, ""))
        if r["backend"] == "python":
            vp = (1.0, math.nan, math.nan)
        elif py is not None:
            vp = ratio_ci(py, r["samples"])
        else:
            vp = _NAN3
        base = npy.get((*key, r["threads"]))
        vn = _NAN3 if base is None else ratio_ci(base, r["samples"])
        rd = reads.get((r["dtype"], r["n_x"], r["m"], r["threads"]))
        for name, triple in (("vs_python", vp), ("vs_numpy", vn)):
            values[name].append(triple[0])
            values[f"{name}_lo"].append(triple[1])
            values[f"{name}_hi"].append(triple[2])
        values["vs_python_est"].append(bool(est and r["backend"] != "python"))
        values["gbps"].append(r["bytes_x"] / r["median"] / 1e9)
        values["limit_s"].append(math.nan if rd is None else rd["median"])
        values["limit_flagged"].append(bool(rd is not None and "bandwidth" in rd["flags"]))
        values["loop_s"].append(math.nan if py is None else float(np.median(py)))
        values["loop_from"].append(loop_from)
    return kern.assign(**values)
