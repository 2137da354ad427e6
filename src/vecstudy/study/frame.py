"""The tidy frame of a run: one row per backend x operation x shape x dtype x threads.

:func:`tidy_frame` summarizes the raw timings of one run (a results file's rows) into
:data:`FRAME_COLUMNS`, the frame behind :attr:`vecstudy.study.view.StudyResult.frame`.

Numbers
-------
``seconds`` is the median of the raw timings: per gradient step for
``propagate``, per iteration for ``optimize``, per call for the micro-studies.
``seconds_lo``/``seconds_hi`` is the 95% percentile-bootstrap interval of that
median (:func:`scipy.stats.bootstrap`, the settings of
:mod:`vecstudy.records.stats`).  ``vs_python`` and ``vs_numpy`` are speedups
(``median(base) / median(this)``, above 1 is faster) with their bootstrap
intervals (:func:`vecstudy.records.stats.ratio_ci`).  Where the Python loop was
over the time budget it was timed on a smaller problem and scaled by the ratio of
elements (:func:`vecstudy.report.tables.python_samples`): its row has
``status == "estimated"`` and the flag ``estimated``, and so has every speedup
computed from it.  That interval covers the timing noise only, not the error of
scaling (fixed costs, caches).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from vecstudy.escape import plain

if TYPE_CHECKING:
    import pandas as pd

#: Columns of :attr:`StudyResult.frame`, in order.
FRAME_COLUMNS: Final = (
    "kind",  # "kernel" (propagate, optimize) or "micro" (the course's micro-studies)
    "backend",
    "operation",
    "shape",  # "n_xxm", e.g. "12288x209"
    "n_x",
    "m",
    "dtype",
    "threads",
    "seconds",  # median: per step (propagate), per iteration (optimize), per call (micro)
    "seconds_lo",  # 95% bootstrap interval of the median
    "seconds_hi",
    "n",  # raw timings (interleaved rounds)
    "vs_python",  # speedup over the Python loop: median(loop) / median(this)
    "vs_python_lo",
    "vs_python_hi",
    "vs_numpy",  # speedup over NumPy with the same threads: median(numpy) / median(this)
    "vs_numpy_lo",
    "vs_numpy_hi",
    "status",  # "measured", "estimated" (scaled from a smaller X) or "skipped"
    "flags",  # comma-separated: estimated, cv, outlier, short, load (stats.FLAG_TEXT)
    "note",  # why a case was skipped, or where an estimate comes from
)

_ORDER: Final = ("propagate", "optimize", "dot", "exp", "percent", "add_row")
NOTE_LIMIT: Final = 200


def median_ci(samples: Any) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the median of ``samples`` (NaN for fewer than 2).

    >>> lo, hi = median_ci([1.0, 1.1, 0.9, 1.0, 1.05])
    >>> bool(0.9 <= lo <= 1.0 <= hi <= 1.1)
    True
    """
    from scipy import stats as sps

    from vecstudy.records.stats import CONFIDENCE, N_RESAMPLES, SEED

    x = np.asarray(samples, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return math.nan, math.nan
    if float(x.min()) == float(x.max()):
        return float(x[0]), float(x[0])
    res = sps.bootstrap(
        (x,),
        np.median,
        vectorized=True,
        confidence_level=CONFIDENCE,
        n_resamples=N_RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(SEED),
    )
    med = float(np.median(x))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return min(lo, med), max(hi, med)


def _shape(n_x: Any, m: Any) -> str:
    return f"{int(n_x)}x{int(m)}"


def _ratio(base: Any, samples: Any) -> tuple[float, float, float]:
    from vecstudy.records.stats import ratio_ci

    if base is None:
        return math.nan, math.nan, math.nan
    return ratio_ci(base, samples)


def tidy_frame(
    rows: pd.DataFrame,
    shapes: Sequence[tuple[int, int]] | None = None,
    *,
    cores: int | None = None,
) -> pd.DataFrame:
    """One row per backend x operation x shape x dtype x threads (:data:`FRAME_COLUMNS`).

    Parameters
    ----------
    rows : DataFrame
        Raw rows of one run (:data:`vecstudy.records.results.COLUMNS`).
    shapes : sequence of (n_x, m), optional
        The kernel shapes asked for; rows of other kernel shapes (a smaller ``X``
        the Python loop was timed on to estimate it) are left out.  None: all.
    cores : int, optional
        The machine's cores, for the ``load`` flag (see
        :func:`vecstudy.records.stats.summarize`).
    """
    import pandas as pd

    from vecstudy.records.stats import flag_bandwidth, summarize
    from vecstudy.report.tables import kernel_table, python_samples

    summary = flag_bandwidth(summarize(rows, cores=cores))
    kern = kernel_table(summary)
    out: list[dict[str, Any]] = []

    def add(r: Any, samples: Any, status: str, flags: Sequence[str], note: str, **vs: Any) -> None:
        lo, hi = median_ci(samples)
        out.append(
            {
                "kind": str(r["kind"]),
                "backend": str(r["backend"]),
                "operation": str(r["operation"]),
                "shape": _shape(r["n_x"], r["m"]),
                "n_x": int(r["n_x"]),
                "m": int(r["m"]),
                "dtype": str(r["dtype"]),
                "threads": int(r["threads"]),
                "seconds": float(np.median(samples)) if len(samples) else math.nan,
                "seconds_lo": lo,
                "seconds_hi": hi,
                "n": len(samples),
                **vs,
                "status": status,
                "flags": ", ".join(dict.fromkeys(flags)),
                "note": note,
            }
        )

    def speedups(vp: tuple[float, float, float], vn: tuple[float, float, float]) -> dict[str, Any]:
        return {
            "vs_python": vp[0],
            "vs_python_lo": vp[1],
            "vs_python_hi": vp[2],
            "vs_numpy": vn[0],
            "vs_numpy_lo": vn[1],
            "vs_numpy_hi": vn[2],
        }

    # measured kernel cases (kernel_table has their speedups)
    for _, r in kern.iterrows():
        est = bool(r["vs_python_est"])
        flags = [*(["estimated"] if est else []), *r["flags"]]
        note = "speedup over the Python loop estimated (see the loop's row)" if est else ""
        vp = (r["vs_python"], r["vs_python_lo"], r["vs_python_hi"])
        vn = (r["vs_numpy"], r["vs_numpy_lo"], r["vs_numpy_hi"])
        add(r, r["samples"], "measured", flags, note, **speedups(vp, vn))

    # the Python loop where it was skipped: estimated from a smaller X, or skipped
    pys = python_samples(summary)
    timed_py = summary[(summary["kind"] == "kernel") & (summary["backend"] == "python")]
    numpy_kern = kern[kern["backend"] == "numpy"]
    skipped = rows[(rows["status"] == "skipped") & (rows["kind"] == "kernel")]
    for _, r in skipped.drop_duplicates(
        ["operation", "backend", "dtype", "threads", "n_x", "m"]
    ).iterrows():
        key = (str(r["operation"]), str(r["dtype"]), int(r["n_x"]), int(r["m"]))
        found = pys.get(key) if r["backend"] == "python" else None
        if found is None or not found[1]:
            add(
                r,
                [],
                "skipped",
                ["skipped"],
                plain(r["reason"], NOTE_LIMIT),
                **speedups((math.nan,) * 3, (math.nan,) * 3),
            )
            continue
        samples = np.asarray(found[0], dtype=float)
        same = timed_py[(timed_py["operation"] == key[0]) & (timed_py["dtype"] == key[1])]
        ref = same.iloc[int(np.argmax((same["n_x"] * same["m"]).to_numpy()))]
        base = numpy_kern[
            (numpy_kern["operation"] == key[0])
            & (numpy_kern["dtype"] == key[1])
            & (numpy_kern["n_x"] == key[2])
            & (numpy_kern["m"] == key[3])
            & (numpy_kern["threads"] == r["threads"])
        ]
        vn = _ratio(None if base.empty else base.iloc[0]["samples"], samples)
        note = (
            f"estimated: timed on X {_shape(ref['n_x'], ref['m'])}, scaled by the ratio of elements"
        )
        add(r, samples, "estimated", ["estimated"], note, **speedups((1.0, math.nan, math.nan), vn))

    # the micro-studies: loop, NumPy and Numba on the same vectors
    micro = summary[summary["kind"] == "micro"]
    for _, r in micro.iterrows():
        same = micro[(micro["operation"] == r["operation"]) & (micro["m"] == r["m"])]
        py = same[same["backend"] == "python"]
        npy = same[(same["backend"] == "numpy") & (same["threads"] == r["threads"])]
        vp = (
            (1.0, math.nan, math.nan)
            if r["backend"] == "python"
            else _ratio(None if py.empty else py.iloc[0]["samples"], r["samples"])
        )
        vn = _ratio(None if npy.empty else npy.iloc[0]["samples"], r["samples"])
        add(r, r["samples"], "measured", list(r["flags"]), "", **speedups(vp, vn))

    frame = pd.DataFrame(out, columns=list(FRAME_COLUMNS))
    if shapes is not None:
        wanted = {_shape(n_x, m) for n_x, m in shapes}
        frame = frame[(frame["kind"] != "kernel") | frame["shape"].isin(wanted)]
    if frame.empty:
        return frame.reset_index(drop=True)
    from vecstudy.backends import available_backends

    registry = list(available_backends())
    order = frame.assign(
        _op=frame["operation"].map(lambda o: _ORDER.index(o) if o in _ORDER else len(_ORDER)),
        _size=frame["n_x"] * frame["m"],
        _be=frame["backend"].map(lambda b: registry.index(b) if b in registry else len(registry)),
    ).sort_values(["kind", "_size", "dtype", "threads", "_op", "_be"], kind="stable")
    return order.drop(columns=["_op", "_size", "_be"]).reset_index(drop=True)
