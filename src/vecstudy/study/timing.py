"""The study's timing rules: warm-up, a budget checked before any full call, calibration.

A case (one operation of one backend on one shape, dtype and thread setting) is
prepared by :func:`prepare`:

1. **warm-up** on a small problem of the same dtype with at most
   :data:`SMALL_ITERATIONS` iterations (this is where Numba compiles; its time
   is kept in ``warmup_s`` and is never part of a measurement).  Its work is
   bounded by :data:`SMALL_ELEMENTS` elements whatever the options, so even
   ``--iterations 100000000`` cannot make it long;
2. **estimate**: calls on problems 8 times larger each, scaled by the ratio of
   work (elements and iterations), predict the full call; a case predicted to
   exceed the budget is skipped (``status == "skipped"``, with the reason)
   *before* its first full call;
3. **one full call** (a better estimate, checked against the budget again);
4. **calibration**: the loop count :meth:`timeit.Timer.autorange` would choose
   for a timing of at least ``min_time`` seconds
   (:func:`vecstudy.runtime.timing.autorange`).

The prepared cases of a group are then timed in interleaved rounds by the sweep
(:mod:`vecstudy.study.sweep`): each round times every case once, ``loops``
calls each, in an order rotated from round to round, so that drift on a
shared machine hits every backend alike.  The harness itself (autorange, one
timing, the rotated order, medians) is :mod:`vecstudy.runtime.timing`, shared
with the roofline and the numba tuner; this module holds the study's own rules.
"""

from __future__ import annotations

import math
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from vecstudy.runtime.timing import autorange, time_once

#: Elements of the small problem used for warm-up and for the time estimate.
SMALL_ELEMENTS: Final = 50_000
#: Length of the small vectors used for the micro-studies' warm-up and estimate.
SMALL_MICRO: Final = 10_000
#: Iterations of the warm-up and estimating calls of ``optimize``.
SMALL_ITERATIONS: Final = 2
#: A call on a smaller problem lasting this long predicts the full call's time well.
LADDER_S: Final = 0.05


def predicted_case_s(call_s: float, repeats: int, min_time: float) -> float:
    """Predicted seconds of calibration plus ``repeats`` timings of a call lasting ``call_s``."""
    return (repeats + 2.5) * max(min_time, call_s)


@dataclass(frozen=True)
class Prepared:
    """A case ready to be timed, or the reason it is skipped.

    Attributes
    ----------
    call : callable or None
        One call of the full problem (None when skipped).
    loops : int or None
        Calls per timing (autorange).
    per_call : int
        Units per call: seconds per unit = timing / loops / per_call.
    warmup_s : float or None
        The first call on the small problem (compilation included).
    reason : str
        Why the case is skipped; ``""`` when it is timed.
    estimate_s : float or None
        Seconds one full call was predicted (or measured) to take when the case
        is skipped over the budget; None otherwise.  A smaller problem that fits
        the budget can be sized from it (:meth:`vecstudy.study.sweep.Sweep.follow_up`).
    """

    call: Callable[[], object] | None
    loops: int | None
    per_call: int
    warmup_s: float | None
    reason: str = ""
    estimate_s: float | None = None


def prepare(
    full: Callable[[], object],
    make_small: Callable[[int], Callable[[], object]],
    full_size: int,
    small_size: int,
    *,
    per_call: int,
    work_scale: float,
    repeats: int,
    min_time: float,
    budget: float,
) -> Prepared:
    """Warm up, check the budget before any full call, run one full call, calibrate.

    Parameters
    ----------
    full : callable
        One call on the full problem (size ``full_size``).
    make_small : callable
        ``make_small(n)`` returns a call on a problem of size ``n``.
    full_size, small_size : int
        Sizes (columns or elements) of the full and the first small problem.
    per_call : int
        Units (iterations) per call of ``full``.
    work_scale : float
        How many times more work one full call does than a small one of the same
        size (e.g. ``iterations / SMALL_ITERATIONS`` for ``optimize``).
    repeats, min_time, budget
        From the sweep's options.

    Notes
    -----
    Scaling a small call's time by the size overestimates while fixed costs
    dominate (waking threads on a busy machine can take milliseconds), so the
    ladder of sizes (8 times larger each) goes on until the prediction fits
    the budget, or the time grows with the size (a call lasting
    :data:`LADDER_S` and 4 times the previous one), or the next problem would be
    the full one.  A case then predicted to take over 1.5 times the budget is
    skipped at once; otherwise a first full call decides.
    """

    def predicted(call_s: float) -> float:
        return predicted_case_s(call_s, repeats, min_time)

    def reason(what: str, call_s: float) -> str:
        return (
            f"predicted {predicted(call_s):.3g} s > budget {budget:g} s "
            f"(one call {what} {call_s:.3g} s)"
        )

    small_size = min(small_size, full_size)
    warmup_s = time_once(make_small(small_size))  # includes compilation
    est_call = warmup_s * work_scale * full_size / small_size
    if small_size < full_size or work_scale > 1:
        size, previous = small_size, math.inf
        while True:
            t = time_once(make_small(size))
            est_call = t * work_scale * full_size / size  # pessimistic: scales fixed costs too
            if predicted(est_call) <= 1.5 * budget:
                break  # fits even so
            if t >= budget / 4 or (t >= LADDER_S and t >= 4 * previous):
                break  # the cost now grows with the size: a trustworthy prediction
            if size * 8 >= full_size:
                break
            previous, size = t, size * 8
        if predicted(est_call) > 1.5 * budget:
            return Prepared(
                None,
                None,
                per_call,
                warmup_s,
                reason("estimated at", est_call) + " from a smaller problem",
                est_call,
            )
    call_s = time_once(full)
    if predicted(call_s) > budget:
        return Prepared(None, None, per_call, warmup_s, reason("took", call_s), call_s)
    loops = autorange(timeit.Timer(full), min_time)
    return Prepared(full, loops, per_call, warmup_s)
