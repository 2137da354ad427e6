"""The statistics of the study: summaries, intervals of speedups, stability flags, tests.

Speedups and their intervals
----------------------------
A speedup is a ratio of medians, ``median(base) / median(other)``, of raw
timings measured in the same run (interleaved rounds).  Its 95% confidence
interval is a **percentile bootstrap of the ratio of medians**
(:func:`scipy.stats.bootstrap`, the two samples resampled independently,
:data:`N_RESAMPLES` resamples, seeded).  Why this and not the Hodges-Lehmann
ratio: the number we quote is the ratio of medians, and the bootstrap gives
the interval of exactly that number; Hodges-Lehmann estimates a different
quantity (the median of all pairwise ratios) and its interval assumes the two
distributions differ only by a shift of log-time, which a shared machine (a
few slow outliers in one backend's rounds, not the other's) does not honour.
The bootstrap assumes nothing about the shape, but with 5 to 10 rounds its
interval is somewhat narrow, and it covers only the noise *within* a run: two
runs can differ by more than their intervals say (``vecstudy compare`` adds
a factor for this).

Comparing two runs
------------------
:func:`compare_samples` tests each case with the two-sided **Mann-Whitney U**
test (:func:`scipy.stats.mannwhitneyu`, as asv does) and calls it *worse*
only when the test is significant at ``alpha`` **and** the whole 95% interval
of ``median(new) / median(base)`` lies above ``factor`` **and** the ratio of the
minimums does too (*better* symmetrically, below ``1 / factor``): a change must
be real, larger than the noise band between runs, and visible in the fastest
timing, which other processes on a shared machine can only delay, not speed
up.  A slower commit moves every timing, the minimum included; a busy spell
moves the slow ones.  The default factor, 1.25, was chosen on the shared
development machine, where unchanged code moved by up to 1.2x between runs
(asv's 1.1 suits a quiet, dedicated machine: pass ``--factor 1.1`` there).

Stability flags (after pyperf)
------------------------------
``cv``
    coefficient of variation (standard deviation / mean) of 10% or more;
``outlier``
    the minimum or the maximum 50% or more away from the mean;
``short``
    one timing (all its loops) shorter than :data:`SHORT_S` (1 ms) or than a
    thousand ticks of the clock;
``load``
    the 1-minute load average during the case above the cores it used
    (other processes competed for them);
``bandwidth``
    (read cases) reading ``X`` once took longer than the gradient step that
    must read it: the bandwidth measurement, not the machine, is the limit.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from typing import Any, Final, cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

#: Columns identifying one case in a summary.
KEYS: Final = ["kind", "operation", "backend", "dtype", "threads", "n_x", "m", "bytes_x"]
CONFIDENCE: Final = 0.95
N_RESAMPLES: Final = 2000
SEED: Final = 0
CV_LIMIT: Final = 0.10
OUTLIER_LIMIT: Final = 0.50
SHORT_S: Final = 1e-3
#: Default significance level and factor of :func:`compare_samples`.  asv uses 1.1 on
#: quiet machines; on the shared 2-core development machine unchanged code moved by up
#: to 1.2x between runs, so the default leaves room for that.
ALPHA: Final = 0.05
FACTOR: Final = 1.25

#: Each flag in words, to follow "N cases" (the report says what to do about them).
FLAG_TEXT: Final = {
    "cv": "whose timings varied by 10% or more",
    "outlier": "with one timing 50% or more away from the mean",
    "short": "with timings shorter than the clock measures well (1 ms)",
    "load": "timed while other programs kept the cores busy (load average above the cores)",
    "bandwidth": "with a memory-speed probe slower than the step it should bound",
}


def _median_ratio(x: np.ndarray, y: np.ndarray, axis: int = -1) -> Any:
    return np.median(x, axis=axis) / np.median(y, axis=axis)


def ratio_ci(
    numerator: ArrayLike, denominator: ArrayLike, confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """``median(numerator) / median(denominator)`` and its bootstrap confidence interval.

    Parameters
    ----------
    numerator, denominator : array_like
        Raw timings (seconds) of two cases; a speedup of B over A is
        ``ratio_ci(times_A, times_B)``.
    confidence : float
        Confidence level of the interval.

    Returns
    -------
    (ratio, low, high)
        ``low`` and ``high`` are NaN when either sample has fewer than 2 values.

    Examples
    --------
    >>> r, lo, hi = ratio_ci([2.0, 2.1, 1.9, 2.0], [1.0, 1.05, 0.95, 1.0])
    >>> round(r, 3), lo <= r <= hi
    (2.0, True)
    """
    a = np.asarray(numerator, dtype=float)
    b = np.asarray(denominator, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return math.nan, math.nan, math.nan
    ratio = float(np.median(a) / np.median(b))
    if a.size < 2 or b.size < 2:
        return ratio, math.nan, math.nan
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate (all-equal) samples: the interval is a point
        res = stats.bootstrap(
            (a, b),
            _median_ratio,
            vectorized=True,
            paired=False,
            confidence_level=confidence,
            n_resamples=N_RESAMPLES,
            method="percentile",
            rng=np.random.default_rng(SEED),
        )
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return ratio, min(lo, ratio), max(hi, ratio)


def timer_floor() -> float:
    """Shortest timing trusted: :data:`SHORT_S`, or 1000 ticks of the clock if coarser."""
    return max(SHORT_S, 1000 * time.get_clock_info("perf_counter").resolution)


def case_flags(
    seconds: Sequence[float] | np.ndarray,
    *,
    timing_s: float | None = None,
    load: float | None = None,
    cores_used: int = 1,
) -> list[str]:
    """Stability flags of one case's raw timings (see the module docstring).

    >>> case_flags([1.0, 1.0, 1.0, 1.0])
    []
    >>> case_flags([1.0, 1.0, 1.0, 3.0])
    ['cv', 'outlier']
    """
    x = np.asarray(seconds, dtype=float)
    flags = []
    if x.size >= 2:
        mean = float(x.mean())
        if mean > 0 and float(x.std(ddof=1)) / mean >= CV_LIMIT:
            flags.append("cv")
        if mean > 0 and max(mean - x.min(), x.max() - mean) / mean >= OUTLIER_LIMIT:
            flags.append("outlier")
    if timing_s is not None and timing_s < timer_floor():
        flags.append("short")
    if load is not None and math.isfinite(load) and load > cores_used:
        flags.append("load")
    return flags


def summarize(rows: pd.DataFrame, *, cores: int | None = None) -> pd.DataFrame:
    """One row per timed case: median, quartiles, min, max, count, CV and stability flags.

    Parameters
    ----------
    rows : DataFrame
        Rows of a results file (:data:`vecstudy.records.results.COLUMNS`).
    cores : int, optional
        The cores the machine offered (``machine["cores_available"]`` of the run).
        Given, a case is flagged ``load`` only when the load average exceeded them
        all: the sweep's own process counts in the load average, and programs on the
        cores a case does not use do not slow it.  None: above the cores it used.

    Returns
    -------
    DataFrame
        Columns :data:`KEYS` plus ``median``, ``q1``, ``q3``, ``min``, ``max``,
        ``n``, ``cv``, ``samples`` (the raw seconds, in round order) and
        ``flags`` (a list of flag names; see :func:`case_flags`); skipped cases
        are left out.  ``bandwidth`` flags are added by :func:`flag_bandwidth`.
    """
    cols = [*KEYS, "median", "q1", "q3", "min", "max", "n", "cv", "samples", "flags"]
    ok = rows[(rows["status"] == "ok") & rows["seconds"].notna()]
    if ok.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for key, group in ok.groupby(KEYS, sort=True):
        g = group.sort_values("round")
        s = g["seconds"].to_numpy(dtype=float)
        loops = pd.to_numeric(g["loops"], errors="coerce")
        per_call = pd.to_numeric(g["per_call"], errors="coerce").fillna(1)
        timing = float((g["seconds"] * loops * per_call).min())
        load = float(pd.to_numeric(g["load"], errors="coerce").max())
        threads = int(cast("int", key[4]))
        mean = float(s.mean())
        out.append(
            {
                **dict(zip(KEYS, key, strict=True)),
                "median": float(np.median(s)),
                "q1": float(np.quantile(s, 0.25)),
                "q3": float(np.quantile(s, 0.75)),
                "min": float(s.min()),
                "max": float(s.max()),
                "n": int(s.size),
                "cv": float(s.std(ddof=1)) / mean if s.size >= 2 and mean > 0 else math.nan,
                "samples": s,
                "flags": case_flags(
                    s,
                    timing_s=None if not math.isfinite(timing) else float(timing),
                    load=None if not math.isfinite(load) else float(load),
                    cores_used=max(
                        threads if key[2] != "python" else 1, int(cores) if cores else 0
                    ),
                ),
            }
        )
    return pd.DataFrame(out, columns=cols)


def flag_bandwidth(summary: pd.DataFrame) -> pd.DataFrame:
    """Add the ``bandwidth`` flag to read cases slower than a gradient step on the same X.

    A step (``propagate``, or one ``optimize`` iteration) reads all of X, so a
    read of X that takes longer measured the call's overhead or a busy machine,
    not the memory: it bounds nothing, and the figures leave it out.
    """
    summary = summary.copy()
    # a gradient step reads X at least once: in propagate and in every optimize iteration
    step = summary[summary["kind"] == "kernel"]
    fastest = step.groupby(["dtype", "n_x", "m", "threads"])["median"].min()
    flags = list(summary["flags"])
    for pos, (_, r) in enumerate(summary.iterrows()):
        if r["kind"] != "bandwidth":
            continue
        best = fastest.get((r["dtype"], r["n_x"], r["m"], r["threads"]))
        if best is not None and r["median"] > best:
            flags[pos] = [*r["flags"], "bandwidth"]
    summary["flags"] = flags
    return summary


def mann_whitney_p(a: ArrayLike, b: ArrayLike) -> float:
    """Two-sided Mann-Whitney U p-value of two samples (NaN when either has < 2 values)."""
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.size < 2 or y.size < 2:
        return math.nan
    from scipy import stats

    return float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)


def smallest_p(n_a: int, n_b: int) -> float:
    """The smallest two-sided p-value the exact Mann-Whitney U test can give for
    samples of ``n_a`` and ``n_b`` values: ``2 / C(n_a + n_b, n_a)`` (at most 1).

    With 3 and 3 timings it is 0.1, so no difference can be significant at 0.05.

    >>> smallest_p(3, 3), round(smallest_p(4, 4), 4)
    (0.1, 0.0286)
    """
    if n_a < 1 or n_b < 1:
        return 1.0
    return min(1.0, 2 / math.comb(n_a + n_b, n_a))


def compare_samples(
    base: ArrayLike, new: ArrayLike, *, factor: float = FACTOR, alpha: float = ALPHA
) -> dict[str, Any]:
    """Verdict on one case: ``new`` timings against ``base`` timings.

    Returns
    -------
    dict
        ``ratio`` (median(new) / median(base): above 1 is slower), ``low`` and
        ``high`` (its 95% bootstrap interval), ``min_ratio`` (min(new) /
        min(base)), ``p`` (Mann-Whitney U, two-sided) and ``verdict``:
        ``"worse"`` when ``p < alpha`` and both ``low`` and ``min_ratio`` exceed
        ``factor``, ``"better"`` when ``p < alpha`` and both ``high`` and
        ``min_ratio`` are below ``1 / factor``, else ``"unchanged"``.

    Examples
    --------
    >>> base = [1.0, 1.01, 0.99, 1.02, 0.98, 1.0, 1.01]
    >>> compare_samples(base, [2 * t for t in base])["verdict"]
    'worse'
    >>> compare_samples(base, base)["verdict"]
    'unchanged'
    """
    ratio, low, high = ratio_ci(new, base)
    p = mann_whitney_p(base, new)
    b, n = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    min_ratio = float(n.min() / b.min()) if b.size and n.size else math.nan
    verdict = "unchanged"
    if math.isfinite(p) and p < alpha:
        if low > factor and min_ratio > factor:
            verdict = "worse"
        elif high < 1 / factor and min_ratio < 1 / factor:
            verdict = "better"
    return {
        "ratio": ratio,
        "low": low,
        "high": high,
        "min_ratio": min_ratio,
        "p": p,
        "verdict": verdict,
    }


def machine_cores(results: Any, run_ids: Sequence[str]) -> int | None:
    """The fewest cores any of ``run_ids`` had (``machine["cores_available"]``), or None."""
    found = [
        int(run["machine"]["cores_available"])
        for run in getattr(results, "runs", [])
        if run.get("run_id") in set(run_ids)
        and isinstance(run.get("machine"), dict)
        and isinstance(run["machine"].get("cores_available"), int)
        and run["machine"]["cores_available"] > 0
    ]
    return min(found) if found else None
