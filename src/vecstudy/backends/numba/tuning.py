"""Plans measured where they run: the numba backend's tuner, as FFTW plans.

:func:`vecstudy.backends.numba.plan` sizes its walk over ``X`` from a model of the
caches (:mod:`vecstudy.backends.numba.planning`), measured on one machine (Ice Lake).
Elsewhere it can miss: on 2 AMD EPYC (Zen 3) cores two threads ran the wide split C path
slower than one.  This module times the candidates on the machine itself; the winners
are kept by :mod:`vecstudy.backends.numba.wisdom`:

- :func:`candidates`: the plans worth timing for a shape: the model's own, its tiles
  (``B``) and panels (``P``) halved and doubled (and, outside the small neighbourhood,
  quartered and quadrupled), the other C walk (fused or split), fewer larger chunks.
- :func:`measure`: each candidate's gradient step, with the backend's real kernel,
  serial and parallel at each thread count asked for, in interleaved rounds (median of
  three or more) within a time budget, timed by the harness of
  :mod:`vecstudy.runtime.timing`; the winner (:func:`_choose`) and its margin over the
  model's plan.
- :func:`tune_all`: measure and store shape after shape (``vecstudy tune``), the
  wisdom file written after each.
- :func:`planned`: what :func:`~vecstudy.backends.numba.plan` asks first, by the
  ``[numba] tune`` setting (:func:`vecstudy.config.resolve_tune`): ``"off"`` (the
  model only), ``"cached"`` (the default: stored wisdom, never measuring on its own)
  or ``"first-use"`` (a shape with no stored plan nearby is tuned for about
  :data:`FIRST_USE_BUDGET_S` on its first call, and stored).
- :data:`GRID_FULL`: the shapes ``vecstudy tune`` and ``vecstudy roofline`` measure.

Bits
----
A plan fixes the order of every sum (tiles, chunks, panels), so two plans may give
results that differ in the last bits; which plan wins depends on timings, that is on
noise.  The tiles and chunks of a stored plan depend on the shape, dtype and order only,
never on the thread count (one decomposition per shape is chosen for all the thread
counts tuned together: the one fastest on geometric average); only the ``parallel``
flag is stored per thread count, and it picks ``prange`` or a serial loop over the
same chunks.  So the same wisdom file gives the same bits for any thread count and on
every run; a new ``vecstudy tune`` may change them.  Results stay correct for any plan.

Two threads never lose to one by design: at each thread count the tuner times the
chosen decomposition serial and parallel and stores serial where parallel is slower.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import timeit
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any, Final

import numba
import numpy as np

from vecstudy.backends.numba.jit import JIT_DISABLED
from vecstudy.backends.numba.kernels import (
    _descend_parallel,
    _descend_serial,
    _sums_parallel,
    _sums_serial,
)
from vecstudy.backends.numba.planning import (
    B_MAX,
    CHUNK_MIN_SAMPLES,
    FUSED,
    SAMPLE,
    SAMPLE_SEQ,
    SEGMENT_BYTES,
    SPLIT,
    STREAM_SEGMENT_BYTES,
    Plan,
    _cdiv,
    _l2_tile,
    _panels,
    _prepare,
    _tiles,
    fuses,
)
from vecstudy.backends.numba.planning import describe_plan as describe_plan
from vecstudy.backends.numba.planning import plan as model_plan
from vecstudy.backends.numba.transpose import recycle, relayout
from vecstudy.backends.numba.wisdom import BUCKET_FACTOR as BUCKET_FACTOR
from vecstudy.backends.numba.wisdom import (
    DTYPES,
    KINDS,
    _current,
    _lookup,
    _short,
    _warn_once,
    settings,
)
from vecstudy.backends.numba.wisdom import Tuned as Tuned
from vecstudy.backends.numba.wisdom import TuningWarning as TuningWarning
from vecstudy.backends.numba.wisdom import clear as clear
from vecstudy.backends.numba.wisdom import entries as entries
from vecstudy.backends.numba.wisdom import lookup as lookup
from vecstudy.backends.numba.wisdom import machine as machine
from vecstudy.backends.numba.wisdom import save as save
from vecstudy.backends.numba.wisdom import stored_entries as stored_entries
from vecstudy.backends.numba.wisdom import wisdom_path as wisdom_path
from vecstudy.runtime.caches import cache_sizes
from vecstudy.runtime.timing import calibrate, median, rotated, time_round

log = logging.getLogger("vecstudy")

#: A candidate replaces the model's tiles and chunks only when faster by this fraction
#: on geometric average over the thread counts tuned, and nowhere slower by more.
MIN_GAIN: Final = 0.03
#: Seconds of measuring for a shape tuned on first use (``[numba] tune = "first-use"``).
FIRST_USE_BUDGET_S: Final = 0.3
#: Largest ``X`` (bytes) tuned on first use (the tuner builds one of the same size).
FIRST_USE_MAX_BYTES: Final = 64 << 20
#: Each timed sample repeats the step until it lasts about this long (the loop count:
#: :func:`vecstudy.runtime.timing.calibrate`).
SAMPLE_SECONDS: Final = 2e-3
MIN_ROUNDS: Final = 3
MAX_ROUNDS: Final = 25
#: After :data:`MIN_ROUNDS`, a configuration whose fastest sample is this much slower
#: than the best median at its thread count is timed no more.
PRUNE_FACTOR: Final = 1.5
#: Iterations in each timed call of a descent (``kind="descent"``): one, so that a call
#: of a large shape lasts no longer than a step and as many candidates fit in the budget
#: (each sample repeats the call, as for steps).
DESCENT_ITERATIONS: Final = 1
#: Timed copies of ``X`` into the other order, per thread count (a descent's tuning).
COPY_REPEATS: Final = 3


# --------------------------------------------------------------------------- candidates
def _align_b(B: int, low: int) -> int:
    """``B`` rounded down to a multiple of 16 (of 4 below 16), at least ``low``."""
    B = B - B % 16 if B >= 16 else B - B % 4
    return max(low, B)


def candidates(
    n_x: int,
    m: int,
    itemsize: int,
    order: str = "C",
    *,
    neighbourhood: bool = False,
    kind: str = "step",
) -> list[Plan]:
    """Decompositions worth timing for a shape, the model's first, then by closeness.

    All with ``parallel=False``: :func:`measure` times each serial and parallel.  F
    order: sample-major tiles only (the other walks need C rows), with both forward walks
    (four samples side by side, and one by one).  C order: fused tiles and split panels.
    ``neighbourhood``: the model's plan with its tiles or panels halved and doubled, and
    the other forward walk at the model's tiles (for :data:`FIRST_USE_BUDGET_S`).
    ``kind="descent"`` where the model's descent walks by panels and its step by tiles
    (:data:`~vecstudy.backends.numba.planning.SPLIT_DESCENT_MIN_ROWS`): those panels,
    halved and doubled, then the step's candidates.

    >>> [p.mode for p in candidates(12288, 300, 8, "C", neighbourhood=True)]
    [2, 2, 2]
    """
    caches = cache_sizes()
    model = model_plan(n_x, m, itemsize, order, caches)
    descent = model_plan(n_x, m, itemsize, order, caches, kind)
    if descent != model:  # a descent by panels: first, then its neighbours, then the step's
        near_panels = [_panels(n_x, max(1, round(descent.n_chunks * f))) for f in (0.5, 2.0)]
        head = [p._replace(parallel=False) for p in (descent, *near_panels)]
        rest = candidates(n_x, m, itemsize, order, neighbourhood=neighbourhood)
        return [*dict.fromkeys([*head, *rest])]
    out: list[Plan] = []
    seen: set[tuple[int, ...]] = set()

    def add(pl: Plan) -> None:
        pl = pl._replace(parallel=False)
        # tiles of B >= m are all one tile, segments of B >= m whole rows: the same walk
        B = (pl.B or SEGMENT_BYTES // itemsize) if pl.mode == SPLIT else pl.B
        key = (pl.mode, min(B, m), pl.T if pl.n_chunks > 1 else 0, pl.n_chunks, pl.P)
        if key not in seen:
            seen.add(key)
            out.append(pl)

    add(model)
    low = 4 if order == "F" else 16
    t_min = max(1, _cdiv(CHUNK_MIN_SAMPLES, max(model.B, 1)))

    def tiles(B: int, T: int | None = None) -> Plan:
        B = _align_b(min(B, 4 * B_MAX), low)
        return _tiles(model.mode, B, T if T is not None else _cdiv(CHUNK_MIN_SAMPLES, B), m)

    near = (0.5, 2.0)
    far = (0.25, 4.0)
    if model.mode == SPLIT:
        n_p = model.n_chunks
        for f in near if neighbourhood else (*near, *far, 0.75, 1.5):
            add(_panels(n_x, max(1, round(n_p * f))))
        if not neighbourhood:  # the forward's segment: shorter, longer, whole rows
            for seg_bytes in (8 << 10, 128 << 10):
                add(_panels(n_x, n_p, segment=max(1, min(m, seg_bytes // itemsize))))
            add(_panels(n_x, n_p, segment=m))
        if not neighbourhood:
            for B in (64, 128, 256):
                add(_tiles(FUSED, B, _cdiv(CHUNK_MIN_SAMPLES, B), m))
        return out
    for f in near if neighbourhood else (*near, *far):
        add(tiles(round(model.B * f)))
    if model.mode == FUSED:  # both tile rules of the model: sized to L2, long rows
        add(tiles(_l2_tile(n_x * itemsize, itemsize, caches)))
        add(tiles(STREAM_SEGMENT_BYTES // itemsize))
    if order == "F":  # the other forward walk (four side by side, or one by one)
        other = SAMPLE if model.mode == SAMPLE_SEQ else SAMPLE_SEQ
        for f in (1.0,) if neighbourhood else (1.0, *near):
            add(tiles(round(model.B * f))._replace(mode=other))
    if not neighbourhood:
        n_tiles = max(1, _cdiv(m, model.B))
        add(tiles(model.B, max(t_min, _cdiv(n_tiles, 16))))  # about 16 larger chunks
        # a few chunks: fewer partial sums of dw, each kept in L2 over more tiles (wide
        # samples), or more of them, which threads share more evenly
        for target in (2, 4, 8, 16):
            if n_tiles >= target:
                add(tiles(model.B, _cdiv(n_tiles, target)))
        if order == "C" and n_x >= 64:
            add(_panels(n_x, 16))
            add(_panels(n_x, 8))
    return out


# --------------------------------------------------------------------------- measuring
def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):  # not on Unix
        return None


def _check_args(
    shape: object,
    dtype: object,
    order: object,
    threads: object,
    budget_s: object,
    kind: object = "step",
) -> tuple[int, int, Any, str, list[int], float]:
    if (
        not isinstance(shape, Sequence)
        or len(shape) != 2
        or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in shape)
        or min(shape) < 1
    ):
        raise ValueError(f"shape must be two positive integers (n_x, m); got {_short(shape, 80)}")
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        dt = None
    if dt is None or dt.name not in ("float64", "float32"):
        raise ValueError(f"dtype must be float64 or float32; got {_short(dtype, 80)}")
    if int(shape[0]) * int(shape[1]) * dt.itemsize > np.iinfo(np.intp).max:
        raise ValueError(
            f"shape {int(shape[0])}x{int(shape[1])} is too large for any array of {dt.name}"
        )
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' or 'F'; got {_short(order, 80)}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {_short(kind, 80)}")
    counts = [int(numba.get_num_threads())] if threads is None else threads
    if isinstance(counts, int | np.integer):
        counts = [counts]
    if (
        not isinstance(counts, Sequence)
        or not counts
        or not all(
            isinstance(t, int | np.integer) and not isinstance(t, bool) and t >= 1 for t in counts
        )
    ):
        raise ValueError(
            f"threads must be a positive integer or a list of them; got {_short(threads, 80)}"
        )
    most = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined,unused-ignore]
    ts = sorted({min(int(t), most) for t in counts})
    if (
        isinstance(budget_s, bool)
        or not isinstance(budget_s, int | float)
        or not math.isfinite(budget_s)
        or budget_s <= 0
    ):
        raise ValueError(f"budget_s must be a positive number of seconds; got {_short(budget_s)}")
    return int(shape[0]), int(shape[1]), dt, str(order), ts, float(budget_s)


def measure(
    shape: Sequence[int],
    dtype: Any = "float64",
    order: str = "C",
    threads: int | Sequence[int] | None = None,
    budget_s: float = 1.0,
    *,
    neighbourhood: bool = False,
    seed: int = 0,
    kind: str = "step",
) -> Tuned:
    """Time the :func:`candidates` of a shape with the real kernel; the winner.

    Parameters
    ----------
    shape : (n_x, m)
    dtype : float64 or float32
    order : "C" or "F", the layout of ``X`` (F: sample-major)
    threads : int or list of int
        Thread counts to tune for (default: the count in force); more than numba may
        use count as its maximum.  The decomposition chosen is one for all of them.
    budget_s : float
        Seconds for one warm-up call of each configuration and the timed rounds
        (compilation, or loading compiled kernels, excluded).  Candidates far from the
        model are left out when three rounds would not fit; the model's own are always
        timed three times, even past the budget.
    neighbourhood : bool
        Only the model's plan with its tiles or panels halved and doubled.
    kind : "step" or "descent"
        What is timed: one gradient step, or iterations of a descent (see below).

    Each step is ``vecstudy.backends.numba._sums_serial`` (or ``_sums_parallel``) on
    seeded data, without the cost (as most descent steps); each sample repeats it for
    about :data:`SAMPLE_SECONDS` (the loop count of
    :func:`vecstudy.runtime.timing.calibrate`).  With ``kind="descent"`` each call is
    :data:`DESCENT_ITERATIONS` iterations of ``_descend_serial`` (or ``_parallel``),
    each candidate carrying its own descent on from call to call as ``optimize`` does
    from slice to slice (the plan stored for steps of a nearby shape, which descents
    use until one is stored for them, is timed second; a split plan in one pass per
    iteration where it :func:`~vecstudy.backends.numba.planning.fuses`), and the times
    are per iteration; then the copy of ``X`` into the other order (``relayout``, its
    memory recycled as ``vecstudy.optimize`` does) is timed :data:`COPY_REPEATS` times
    at each thread count (``Tuned.copy_s``), for
    :func:`~vecstudy.backends.numba.wisdom.relayout_after`.
    Rounds time every configuration (candidate x serial/parallel x thread count) once,
    in a rotating order (:func:`vecstudy.runtime.timing.rotated`), until the budget is
    spent (at least :data:`MIN_ROUNDS`, at most :data:`MAX_ROUNDS`); the medians decide.
    The winner keeps the model's tiles and chunks unless another candidate is
    :data:`MIN_GAIN` faster on geometric average and nowhere slower by more; at each
    thread count it runs parallel only where that is faster than serial.
    """
    n_x, m, dt, order, ts, budget = _check_args(shape, dtype, order, threads, budget_s, kind)
    if JIT_DISABLED:
        raise RuntimeError("tuning needs compiled kernels; NUMBA_DISABLE_JIT is set")
    t_start = time.perf_counter()
    load = _load_average()
    model = model_plan(n_x, m, dt.itemsize, order, cache_sizes(), kind)
    cands = candidates(n_x, m, dt.itemsize, order, neighbourhood=neighbourhood, kind=kind)
    if kind == "descent":  # second (left out last): the step's plan, which descents use
        step_plan = _lookup(_current(), n_x, m, dt.itemsize, order, ts[0])  # until now
        if step_plan is not None:
            step_plan = step_plan._replace(parallel=False)
            cands = [cands[0], step_plan, *(c for c in cands[1:] if c != step_plan)]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_x, m)).astype(dt, copy=False)
    if order == "F":
        X = np.asfortranarray(X)
    Y = (rng.random(m) < 0.5).astype(dt)
    w = (rng.standard_normal(n_x) / math.sqrt(n_x)).astype(dt)
    b = dt.type(0.1)
    dw = np.empty(n_x, dt)
    # scratch sized for the parallel walk (the serial one uses its first row)
    prepared = [_prepare(X, c._replace(parallel=True)) for c in cands]

    descent = kind == "descent"
    lr = dt.type(1e-3)
    big = dt.type(np.finfo(dt).max)
    # a descent per candidate: its own weights, and (split plans) the forward its
    # scratch carries from one call to the next; serial and parallel share it (the
    # same chunks in the same order)
    states = [
        (w.copy(), np.empty(n_x, dt), np.zeros(n_x, dt), np.empty(1, dt), np.empty(n_x, dt))
        for _ in cands
    ]
    one_pass = [fuses(c.mode, m, dt.itemsize) for c in cands]

    def step(ci: int, par: bool, first: bool = False) -> Callable[[], object]:
        """One gradient step of candidate ``ci``, serial or parallel (or iterations of
        its descent; ``first``: the call that starts it)."""
        Xs, ints, (zbuf, dwp, dbp, cp) = prepared[ci]
        pl = (*ints[:5], int(par))
        if not descent:
            sums = _sums_parallel if par else _sums_serial
            return partial(sums, w, b, Xs, Y, False, pl, zbuf, dwp, dbp, cp, dw)
        w_c, dw_sum, dw_c, costs, w_next = states[ci]
        fused = (1 if first else 2) if one_pass[ci] else 0
        run = _descend_parallel if par else _descend_serial
        k1 = 1 + DESCENT_ITERATIONS  # iterations 1 to k1 - 1: no cost is recorded
        return partial(
            run, w_c, b, Xs, Y, 1, k1, lr, 1 << 30, big, pl, zbuf, dwp, dbp, cp, dw_sum, dw_c,
            costs, 0, w_next, fused,
        )  # fmt: skip

    # configurations: (threads, candidate, parallel); the reference is the model's plan
    # as the backend runs it (parallel only on more than one thread)
    configs = [
        (t, ci, par)
        for t in ts
        for ci, c in enumerate(cands)
        for par in ((False, True) if t > 1 and c.n_chunks > 1 else (False,))
    ]
    calls = {cfg: step(cfg[1], cfg[2]) for cfg in configs}
    ref = {t: (t, 0, bool(model.parallel and t > 1)) for t in ts}
    before = int(numba.get_num_threads())
    samples: dict[tuple[int, int, bool], list[float]] = {c: [] for c in configs}
    number: dict[tuple[int, int, bool], int] = {}
    rounds = 0
    try:
        if descent:  # start every candidate's descent (the forward of a one-pass walk)
            for ci in range(len(cands)):
                step(ci, False, first=True)()
        for t in ts:  # compile (or load) the kernels, first touch of the scratch
            numba.set_num_threads(t)
            calls[ref[t]]()
            calls[ref[t]]()
        t_budget = time.perf_counter()
        est: dict[tuple[int, int, bool], float] = {}  # seconds per step
        for t in ts:
            numba.set_num_threads(t)
            for cfg in configs:
                if cfg[0] == t:
                    number[cfg], seconds = calibrate(timeit.Timer(calls[cfg]), SAMPLE_SECONDS)
                    est[cfg] = max(seconds / number[cfg], 1e-9)
        # leave out the farthest candidates while three rounds would not fit
        active = list(configs)
        left = budget - (time.perf_counter() - t_budget)

        def cost(cfgs: list[tuple[int, int, bool]]) -> float:
            return MIN_ROUNDS * sum(est[c] * number[c] for c in cfgs)

        while cost(active) > left and active[-1][1] != 0:
            last = max(c[1] for c in active)
            active = [c for c in active if c[1] != last]
        while rounds < MAX_ROUNDS and (
            rounds < MIN_ROUNDS or time.perf_counter() - t_budget < budget
        ):
            for t in ts:  # one interleaved round per thread count
                numba.set_num_threads(t)
                for cfg in rotated([c for c in active if c[0] == t], rounds):
                    samples[cfg].append(time_round(calls[cfg], number[cfg]) / number[cfg])
            rounds += 1
            if rounds >= MIN_ROUNDS:
                best = {t: min(median(samples[c]) for c in active if c[0] == t) for t in ts}
                active = [
                    c for c in active if c[1] == 0 or min(samples[c]) <= PRUNE_FACTOR * best[c[0]]
                ]
        copy_s = _time_copies(X, ts) if descent else {}
    finally:
        numba.set_num_threads(before)

    per = DESCENT_ITERATIONS if descent else 1
    med = {c: median(s) / per for c, s in samples.items() if s}
    chosen, win = _choose(med, ts, len(cands))
    return Tuned(
        n_x=n_x,
        m=m,
        dtype=dt.name,
        order=order,
        model=model,
        plan=cands[chosen],
        parallel={t: win[t][1] for t in ts},
        tuned_s={t: win[t][0] for t in ts},
        model_s={t: med[ref[t]] for t in ts},
        n_candidates=len(cands),
        rounds=rounds,
        seconds=time.perf_counter() - t_start,
        load=load,
        kind=kind,
        copy_s=copy_s,
    )


def _time_copies(X: np.ndarray[Any, Any], ts: Sequence[int]) -> dict[int, float]:
    """Median seconds of copying ``X`` into the other order, at each thread count in
    ``ts`` (one copy first, untimed; each copy's memory recycled as ``optimize`` does)."""
    other = "C" if X.flags.f_contiguous and not X.flags.c_contiguous else "F"
    out = {}
    for t in ts:
        numba.set_num_threads(t)
        recycle(relayout(X, other))
        times = []
        for _ in range(COPY_REPEATS):
            t0 = time.perf_counter()
            copy = relayout(X, other)
            times.append(time.perf_counter() - t0)
            recycle(copy)
        out[t] = median(times)
    return out


def _choose(
    med: dict[tuple[int, int, bool], float], ts: Sequence[int], n_cands: int
) -> tuple[int, dict[int, tuple[float, bool]]]:
    """The winning candidate and, per thread count, its time and ``parallel`` flag.

    ``med[(threads, candidate, parallel)]``: median seconds per step; candidate 0 is
    the model's decomposition (timed at every thread count).  Another candidate wins
    when it is :data:`MIN_GAIN` faster than candidate 0 on geometric average over
    ``ts`` and nowhere slower by more than that; at each thread count the faster of
    serial and parallel (serial on a tie) is kept.

    >>> med = {(1, 0, False): 1.0, (2, 0, False): 0.9, (2, 0, True): 1.2}
    >>> _choose(med, [1, 2], 1)
    (0, {1: (1.0, False), 2: (0.9, False)})
    """

    def fastest(ci: int, t: int) -> tuple[float, bool] | None:
        opts = [(med[(t, ci, p)], p) for p in (False, True) if (t, ci, p) in med]
        return min(opts) if opts else None  # a tie goes to serial (False sorts first)

    base: dict[int, tuple[float, bool]] = {}
    for t in ts:
        b0 = fastest(0, t)
        if b0 is None:
            raise ValueError(f"the model's plan was not timed at {t} threads")
        base[t] = b0
    chosen, win = 0, base
    best_score = math.log1p(-MIN_GAIN)
    for ci in range(1, n_cands):
        times = {t: fastest(ci, t) for t in ts}
        got = {t: v for t, v in times.items() if v is not None}
        if len(got) < len(ts):
            continue
        ratios = [got[t][0] / base[t][0] for t in ts]
        if max(ratios) > 1 + MIN_GAIN:
            continue
        score = sum(math.log(r) for r in ratios) / len(ratios)
        if score < best_score:
            chosen, best_score, win = ci, score, got
    return chosen, win


# --------------------------------------------------------------------------- the hook
_first_use_lock = threading.Lock()
_first_use_done: dict[tuple[str, int, int, str, str], Plan | None] = {}


def planned(
    n_x: int,
    m: int,
    itemsize: int,
    order: str,
    threads: int | None = None,
    kind: str = "step",
) -> Plan | None:
    """The measured plan :func:`vecstudy.backends.numba.plan` uses, or None (the model).

    ``[numba] tune = "off"``: None.  ``"cached"``: :func:`lookup` at the thread count
    in force; for ``kind="descent"`` a plan measured for descents first, else the
    step's.  ``"first-use"``: the same, and where nothing is stored nearby, the shape
    is tuned for about :data:`FIRST_USE_BUDGET_S` (the model's neighbourhood, at the
    thread count in force, on seeded data of the same shape, for ``X`` up to
    :data:`FIRST_USE_MAX_BYTES`) once per process, and stored.  ``threads``: Numba's
    thread count now, when the caller has it (else it is asked for).
    """
    mode, path = settings()
    if mode == "off":
        return None
    rec = _current(path)
    if not rec.entries and mode != "first-use":  # the usual case: nothing tuned here
        return None
    if threads is None:
        import numba

        threads = int(numba.get_num_threads())
    found = None
    if kind == "descent":
        found = _lookup(rec, n_x, m, itemsize, order, threads, "descent")
    if found is None:
        found = _lookup(rec, n_x, m, itemsize, order, threads, walk=kind)
    if found is not None or mode != "first-use":
        return found
    return _first_use(n_x, m, itemsize, order, threads)


def _first_use(n_x: int, m: int, itemsize: int, order: str, threads: int) -> Plan | None:
    dtype = DTYPES.get(itemsize)
    if dtype is None or JIT_DISABLED or n_x * m * itemsize > FIRST_USE_MAX_BYTES:
        return None
    key = (str(wisdom_path()), n_x, m, dtype, order)
    with _first_use_lock:
        if key in _first_use_done:
            done = _first_use_done[key]
            return None if done is None else lookup(n_x, m, itemsize, order, threads) or done
        try:
            tuned = measure((n_x, m), dtype, order, threads, FIRST_USE_BUDGET_S, neighbourhood=True)
        except MemoryError:
            _first_use_done[key] = None
            return None
        log.info(
            "tuned numba plan for %dx%d %s %s on first use in %.2f s: %s (%.2fx the model)",
            n_x, m, dtype, order, tuned.seconds, describe_plan(tuned.plan_for(threads)),
            tuned.margin(threads),
        )  # fmt: skip
        try:
            save([tuned], timeout=10.0)
        except Exception as exc:  # a step must not fail for want of a cache
            _warn_once(
                f"save:{key[0]}",
                f"cannot store tuned numba plans in {_short(key[0], 300)} "
                f"({type(exc).__name__}: {_short(exc, 120)}); they last for this process only",
            )
        _first_use_done[key] = tuned.plan_for(threads)
        return lookup(n_x, m, itemsize, order, threads) or tuned.plan_for(threads)


# --------------------------------------------------------------------------- vecstudy tune
#: (n_x, m) of the step grid, small to large, each in C and F order: tall, square-ish,
#: the course's own 12288x209 (64x64x3 images) and other wide ones.  The shapes
#: ``vecstudy tune`` tunes by default and ``vecstudy roofline`` measures
#: (:mod:`vecstudy.study.roofline` imports it from here).
GRID_FULL: Final = [
    (2, 100),
    (4, 1000),
    (20, 10000),
    (100, 10000),
    (500, 2000),
    (10, 1_000_000),
    (1000, 10000),
    (100, 100_000),
    (12288, 209),
    (4096, 2000),
    (12288, 1000),
    (2, 5_000_000),
    (30, 1_000_000),
]
#: ``vecstudy tune``'s default shapes: those of :data:`GRID_FULL` with ``X`` up to this
#: many bytes in float64.  It takes in the 80 to 98 MB shapes, whose ``X`` streams from
#: memory: there the cache model's tiles carry worst from one machine to another (on an
#: AVX2 AMD EPYC with 512 KiB of L2, 100x100000 C ran 1.17x faster on one thread and
#: 1.37x on two with the tuned tiles; about 15 s more of tuning).  Not the 240 MB ones.
DEFAULT_MAX_BYTES: Final = 100_000_000


def default_shapes() -> list[tuple[int, int]]:
    """The shapes of :data:`GRID_FULL` up to :data:`DEFAULT_MAX_BYTES` (float64)."""
    return [s for s in GRID_FULL if s[0] * s[1] * 8 <= DEFAULT_MAX_BYTES]


Job = tuple[tuple[int, int], str, str, str]


def jobs(
    shapes: Iterable[tuple[int, int]],
    dtypes: Iterable[str],
    orders: Iterable[str],
    kinds: Iterable[str] = ("step",),
) -> list[Job]:
    """Every ``(shape, dtype, order, kind)`` to tune, shape by shape (a value given
    twice once).

    >>> jobs([(2, 100)], ["float64"], ["C", "F", "C"])
    [((2, 100), 'float64', 'C', 'step'), ((2, 100), 'float64', 'F', 'step')]
    """
    dts, ords, kds = list(dtypes), list(dict.fromkeys(orders)), list(dict.fromkeys(kinds))
    return [(s, d, o, k) for s in shapes for d in dts for k in kds for o in ords]


def tune_all(
    todo: Iterable[Job],
    threads: int | Sequence[int] | None,
    budget_s: float,
    *,
    on_start: Callable[[Job], object] | None = None,
) -> Iterator[Tuned]:
    """:func:`measure` each ``(shape, dtype, order, kind)`` of ``todo`` and :func:`save` it.

    Yields each result once it is stored: the wisdom file is written after every
    shape, so that an interrupted run (Ctrl-C) keeps every finished one.  ``on_start``
    is called with each job before it is measured (a progress bar).
    """
    for job in todo:
        if on_start is not None:
            on_start(job)
        shape, dtype, order, kind = job
        result = measure(shape, dtype, order, threads, budget_s, kind=kind)
        save([result])
        yield result


__all__ = [
    "BUCKET_FACTOR",
    "FIRST_USE_BUDGET_S",
    "GRID_FULL",
    "Tuned",
    "TuningWarning",
    "candidates",
    "clear",
    "default_shapes",
    "describe_plan",
    "entries",
    "jobs",
    "lookup",
    "machine",
    "measure",
    "planned",
    "save",
    "stored_entries",
    "tune_all",
    "wisdom_path",
]
