"""Plans measured where they run: the numba backend's wisdom, as FFTW keeps it.

:func:`vecstudy.backends.numba.plan` sizes its walk over ``X`` from a model of the
caches, measured on one machine (Ice Lake).  Elsewhere it can miss: on 2 AMD EPYC (Zen 3)
cores two threads ran the wide split C path slower than one.  This module times the
candidates on the machine itself and keeps the winners:

- :func:`candidates`: the plans worth timing for a shape: the model's own, its tiles
  (``B``) and panels (``P``) halved and doubled (and, outside the small neighbourhood,
  quartered and quadrupled), the other C walk (fused or split), fewer larger chunks.
- :func:`measure`: each candidate's gradient step, with the backend's real kernel,
  serial and parallel at each thread count asked for, in interleaved rounds (median of
  three or more) within a time budget; the winner and its margin over the model's plan.
- the wisdom file (:func:`wisdom_path`): JSON in the user's cache directory
  (``platformdirs.user_cache_dir("vecstudy")``, or ``VECSTUDY_TUNE_DIR``), one section
  per CPU (model name and LLVM's feature set), vecstudy version and numba version;
  written under a file lock, atomically, after every shape (:func:`save`).
- :func:`lookup`: the stored plan of the nearest tuned shape (by log-distance, within
  a factor :data:`BUCKET_FACTOR` in each dimension) of the same dtype and order.
- :func:`planned`: the hook :func:`~vecstudy.backends.numba.plan` calls first, by the
  ``[numba] tune`` setting (:func:`vecstudy.config.resolve_tune`): ``"off"`` (the
  model only), ``"cached"`` (the default: stored wisdom, never measuring on its own)
  or ``"first-use"`` (a shape with no stored plan nearby is tuned for about
  :data:`FIRST_USE_BUDGET_S` on its first call, and stored).

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

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from vecstudy import config
from vecstudy.errors import TuningWarning as TuningWarning

if TYPE_CHECKING:
    from vecstudy.backends.numba.planning import Plan

log = logging.getLogger("vecstudy")

ENV_TUNE_DIR: Final = "VECSTUDY_TUNE_DIR"
WISDOM_NAME: Final = "numba-wisdom.json"
#: Version of the wisdom file's layout; a file of another version is ignored.
FORMAT: Final = 1
#: A stored plan serves shapes within this factor of its own, in each dimension.
BUCKET_FACTOR: Final = 2.0
#: A candidate replaces the model's tiles and chunks only when faster by this fraction
#: on geometric average over the thread counts tuned, and nowhere slower by more.
MIN_GAIN: Final = 0.03
#: Seconds of measuring for a shape tuned on first use (``[numba] tune = "first-use"``).
FIRST_USE_BUDGET_S: Final = 0.3
#: Largest ``X`` (bytes) tuned on first use (the tuner builds one of the same size).
FIRST_USE_MAX_BYTES: Final = 64 << 20
#: Each timed sample repeats the step until it lasts about this long.
SAMPLE_SECONDS: Final = 2e-3
MIN_ROUNDS: Final = 3
MAX_ROUNDS: Final = 25
#: After :data:`MIN_ROUNDS`, a configuration whose fastest sample is this much slower
#: than the best median at its thread count is timed no more.
PRUNE_FACTOR: Final = 1.5
#: How often (seconds) the wisdom file and the ``[numba] tune`` setting of the config
#: file are looked at again by :func:`planned` (a step may take microseconds).
RECHECK_SECONDS: Final = 1.0
DTYPES: Final = {8: "float64", 4: "float32"}
_MAX_B: Final = 1 << 16
_MAX_T: Final = 1 << 30


_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    """One :class:`TuningWarning` per ``key`` and process."""
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(TuningWarning(message), stacklevel=config.external_stacklevel())


def _short(text: object, limit: int = 200) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


# --------------------------------------------------------------------------- where, and for what
def wisdom_dir() -> Path:
    """``VECSTUDY_TUNE_DIR`` if set, else ``platformdirs.user_cache_dir("vecstudy")``."""
    env = os.environ.get(ENV_TUNE_DIR)
    if env is not None and env.strip():
        return Path(env.strip()).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("vecstudy"))


_paths: dict[str, Path] = {}


def wisdom_path() -> Path:
    """The wisdom file (it may not exist yet)."""
    env = os.environ.get(ENV_TUNE_DIR, "")
    path = _paths.get(env)
    if path is None:  # this runs on every step: remember the answer for this variable
        path = _paths[env] = wisdom_dir() / WISDOM_NAME
    return path


_machine: dict[str, str] | None = None


def machine() -> dict[str, str]:
    """What a plan was measured for: ``key`` (a hash of the rest), ``cpu`` (model name),
    ``llvm_cpu`` and ``features`` (a hash of LLVM's host feature set: what numba
    compiles for), ``vecstudy`` and ``numba`` versions."""
    global _machine
    if _machine is None:
        import llvmlite.binding as ll  # type: ignore[import-untyped]
        import numba

        from vecstudy._version import __version__
        from vecstudy.records.machine import _cpu_model

        features = ll.get_host_cpu_features().flatten()
        info = {
            "cpu": _cpu_model(),
            "llvm_cpu": str(ll.get_host_cpu_name()),
            "features": hashlib.sha256(features.encode()).hexdigest()[:16],
            "vecstudy": __version__,
            "numba": numba.__version__,
        }
        key = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:16]
        _machine = {"key": key, **info}
    return _machine


# --------------------------------------------------------------------------- plans
def _cdiv(a: int, b: int) -> int:
    """``ceil(a / b)`` for positive integers."""
    return -(-a // b)


def _tiles(mode: int, B: int, T: int, m: int, parallel: bool = False) -> Plan:
    """Tiles of ``B`` samples, ``T`` per chunk (more where there would be too many chunks)."""
    from vecstudy.backends import numba as nb

    n_tiles = max(1, _cdiv(m, B))
    T = max(1, T, _cdiv(n_tiles, nb.MAX_CHUNKS))
    return nb.Plan(mode, B, T, _cdiv(n_tiles, T), 0, parallel)


def _panels(n_x: int, n_panels: int, parallel: bool = False) -> Plan:
    """About ``n_panels`` panels of rows, each a multiple of 8 rows (as the model's)."""
    from vecstudy.backends import numba as nb

    n_panels = max(1, min(n_panels, nb.MAX_CHUNKS))
    P = max(8, _cdiv(_cdiv(n_x, n_panels), 8) * 8)
    return nb.Plan(nb.SPLIT, 0, 0, _cdiv(n_x, P), P, parallel)


def _align_b(B: int, low: int) -> int:
    """``B`` rounded down to a multiple of 16 (of 4 below 16), at least ``low``."""
    B = B - B % 16 if B >= 16 else B - B % 4
    return max(low, B)


def describe_plan(pl: Plan) -> str:
    """``"split C: 12 panels of 1024 rows, serial"`` and the like.

    >>> from vecstudy.backends.numba import Plan
    >>> describe_plan(Plan(0, 512, 1, 20, 0, True))
    'fused C: tiles of 512, 20 chunks of 1, parallel'
    """
    from vecstudy.backends import numba as nb

    if pl.mode == nb.SPLIT:
        what = f"{pl.n_chunks} panels of {pl.P} rows"
    else:
        what = f"tiles of {pl.B}, {pl.n_chunks} chunks of {pl.T}"
    return f"{nb.MODE_NAMES[pl.mode]}: {what}, {'parallel' if pl.parallel else 'serial'}"


def candidates(
    n_x: int, m: int, itemsize: int, order: str = "C", *, neighbourhood: bool = False
) -> list[Plan]:
    """Decompositions worth timing for a shape, the model's first, then by closeness.

    All with ``parallel=False``: :func:`measure` times each serial and parallel.  F
    order: sample-major tiles only (the other walks need C rows).  C order: fused tiles
    and split panels.  ``neighbourhood``: the model's plan with its tiles or panels
    halved and doubled only (for :data:`FIRST_USE_BUDGET_S`).

    >>> [p.mode for p in candidates(12288, 300, 8, "C", neighbourhood=True)]
    [2, 2, 2]
    """
    from vecstudy.backends import numba as nb
    from vecstudy.runtime.caches import cache_sizes

    model = nb.plan(n_x, m, itemsize, order, cache_sizes())
    out: list[Plan] = []
    seen: set[tuple[int, ...]] = set()

    def add(pl: Plan) -> None:
        pl = pl._replace(parallel=False)
        # tiles of B >= m are all one tile: the same walk
        key = (pl.mode, min(pl.B, m), pl.T if pl.n_chunks > 1 else 0, pl.n_chunks, pl.P)
        if key not in seen:
            seen.add(key)
            out.append(pl)

    add(model)
    low = 4 if order == "F" else 16
    t_min = max(1, _cdiv(nb.CHUNK_MIN_SAMPLES, max(model.B, 1)))

    def tiles(B: int, T: int | None = None) -> Plan:
        B = _align_b(min(B, 4 * nb.B_MAX), low)
        return _tiles(model.mode, B, T if T is not None else _cdiv(nb.CHUNK_MIN_SAMPLES, B), m)

    near = (0.5, 2.0)
    far = (0.25, 4.0)
    if model.mode == nb.SPLIT:
        n_p = model.n_chunks
        for f in near if neighbourhood else (*near, *far, 0.75, 1.5):
            add(_panels(n_x, max(1, round(n_p * f))))
        if not neighbourhood:
            for B in (64, 128, 256):
                add(_tiles(nb.FUSED, B, _cdiv(nb.CHUNK_MIN_SAMPLES, B), m))
        return out
    for f in near if neighbourhood else (*near, *far):
        add(tiles(round(model.B * f)))
    if not neighbourhood:
        n_tiles = max(1, _cdiv(m, model.B))
        add(tiles(model.B, max(t_min, _cdiv(n_tiles, 16))))  # about 16 larger chunks
        if order == "C" and n_x >= 64:
            add(_panels(n_x, 16))
            add(_panels(n_x, 8))
    return out


# --------------------------------------------------------------------------- measuring
@dataclass(frozen=True)
class Tuned:
    """The result of :func:`measure` for one shape, dtype and order.

    ``plan`` is the winning decomposition (``parallel=False``; see :meth:`plan_for`);
    ``parallel``, ``tuned_s`` and ``model_s`` are keyed by thread count: the flag
    chosen, and the median seconds per step of the winner and of the model's own plan.
    """

    n_x: int
    m: int
    dtype: str
    order: str
    model: Plan
    plan: Plan
    parallel: dict[int, bool]
    tuned_s: dict[int, float]
    model_s: dict[int, float]
    n_candidates: int
    rounds: int
    seconds: float
    #: The 1-minute load average when measuring began (None where the OS hides it):
    #: parallel plans lose when other processes hold the cores.
    load: float | None = None
    when: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat("T", "seconds"))

    def margin(self, threads: int) -> float:
        """Model time / tuned time at ``threads`` (1.0: the model's plan kept as it is)."""
        return self.model_s[threads] / self.tuned_s[threads]

    def plan_for(self, threads: int) -> Plan:
        """The plan stored for ``threads``."""
        return self.plan._replace(parallel=self.parallel.get(threads, False))

    def to_entry(self) -> dict[str, Any]:
        """The JSON object stored in the wisdom file."""
        fields = ("mode", "B", "T", "n_chunks", "P")
        return {
            "n_x": self.n_x,
            "m": self.m,
            "dtype": self.dtype,
            "order": self.order,
            "plan": {k: int(getattr(self.plan, k)) for k in fields},
            "model": {
                **{k: int(getattr(self.model, k)) for k in fields},
                "parallel": bool(self.model.parallel),
            },
            "threads": {
                str(t): {
                    "parallel": bool(self.parallel[t]),
                    "ms": round(self.tuned_s[t] * 1e3, 6),
                    "model_ms": round(self.model_s[t] * 1e3, 6),
                }
                for t in sorted(self.parallel)
            },
            "candidates": self.n_candidates,
            "rounds": self.rounds,
            "seconds": round(self.seconds, 3),
            "load": self.load,
            "when": self.when,
        }


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):  # not on Unix
        return None


def busy_note(results: Sequence[dict[str, Any]]) -> str | None:
    """A warning line when the machine was busy while ``results`` were measured."""
    loads = [r["load"] for r in results if isinstance(r.get("load"), int | float)]
    cores = config.available_cores()
    if not loads or max(loads) < cores:
        return None
    return (
        f"note: load average up to {max(loads):.1f} on {cores} cores while measuring: other "
        "processes held the cores, which makes parallel plans lose and every figure noisy; "
        "tune again on a quiet machine"
    )


def _check_args(
    shape: object, dtype: object, order: object, threads: object, budget_s: object
) -> tuple[int, int, Any, str, list[int], float]:
    import numpy as np

    from vecstudy.backends import numba as nb

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
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' or 'F'; got {_short(order, 80)}")
    counts = [nb.get_threads()] if threads is None else threads
    if isinstance(counts, int):
        counts = [counts]
    if (
        not isinstance(counts, Sequence)
        or not counts
        or not all(isinstance(t, int) and not isinstance(t, bool) and t >= 1 for t in counts)
    ):
        raise ValueError(
            f"threads must be a positive integer or a list of them; got {_short(threads, 80)}"
        )
    ts = sorted({min(int(t), nb.max_threads()) for t in counts})
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

    Each step is ``vecstudy.backends.numba._sums_serial`` (or ``_sums_parallel``) on
    seeded data, without the cost (as most descent steps); each sample repeats it for
    about :data:`SAMPLE_SECONDS`.
    Rounds time every configuration (candidate x serial/parallel x thread count) once,
    in a rotating order, until the budget is spent (at least :data:`MIN_ROUNDS`, at most
    :data:`MAX_ROUNDS`); the medians decide.  The winner keeps the model's tiles and
    chunks unless another candidate is :data:`MIN_GAIN` faster on geometric average and
    nowhere slower by more; at each thread count it runs parallel only where that is
    faster than serial.
    """
    import numpy as np

    from vecstudy.backends import numba as nb
    from vecstudy.runtime.caches import cache_sizes

    n_x, m, dt, order, ts, budget = _check_args(shape, dtype, order, threads, budget_s)
    if nb.JIT_DISABLED:
        raise RuntimeError("tuning needs compiled kernels; NUMBA_DISABLE_JIT is set")
    t_start = time.perf_counter()
    load = _load_average()
    model = nb.plan(n_x, m, dt.itemsize, order, cache_sizes())
    cands = candidates(n_x, m, dt.itemsize, order, neighbourhood=neighbourhood)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_x, m)).astype(dt, copy=False)
    if order == "F":
        X = np.asfortranarray(X)
    Y = (rng.random(m) < 0.5).astype(dt)
    w = (rng.standard_normal(n_x) / math.sqrt(n_x)).astype(dt)
    b = dt.type(0.1)
    dw = np.empty(n_x, dt)
    # scratch sized for the parallel walk (the serial one uses its first row)
    prepared = [nb._prepare(X, c._replace(parallel=True)) for c in cands]

    def step(ci: int, par: bool, number: int) -> float:
        Xs, ints, (zbuf, dwp, dbp, cp) = prepared[ci]
        pl = (*ints[:5], int(par))
        sums = nb._sums_parallel if par else nb._sums_serial
        t0 = time.perf_counter()
        for _ in range(number):
            sums(w, b, Xs, Y, False, pl, zbuf, dwp, dbp, cp, dw)
        return (time.perf_counter() - t0) / number

    # configurations: (threads, candidate, parallel); the reference is the model's plan
    # as the backend runs it (parallel only on more than one thread)
    configs = [
        (t, ci, par)
        for t in ts
        for ci, c in enumerate(cands)
        for par in ((False, True) if t > 1 and c.n_chunks > 1 else (False,))
    ]
    ref = {t: (t, 0, bool(model.parallel and t > 1)) for t in ts}
    before = nb.get_threads()
    samples: dict[tuple[int, int, bool], list[float]] = {c: [] for c in configs}
    number: dict[tuple[int, int, bool], int] = {}
    rounds = 0
    try:
        for t in ts:  # compile (or load) the kernels, first touch of the scratch
            nb.set_threads(t)
            step(0, ref[t][2], 1)
            step(0, ref[t][2], 1)
        t_budget = time.perf_counter()
        est: dict[tuple[int, int, bool], float] = {}
        for t in ts:
            nb.set_threads(t)
            for cfg in configs:
                if cfg[0] == t:
                    est[cfg] = max(step(cfg[1], cfg[2], 1), 1e-7)
        for cfg in configs:
            number[cfg] = max(1, min(100_000, round(SAMPLE_SECONDS / est[cfg])))
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
            for t in ts:
                nb.set_threads(t)
                mine = [c for c in active if c[0] == t]
                k = rounds % len(mine)
                for cfg in mine[k:] + mine[:k]:
                    samples[cfg].append(step(cfg[1], cfg[2], number[cfg]))
            rounds += 1
            if rounds >= MIN_ROUNDS:
                best = {
                    t: min(float(np.median(samples[c])) for c in active if c[0] == t) for t in ts
                }
                active = [
                    c for c in active if c[1] == 0 or min(samples[c]) <= PRUNE_FACTOR * best[c[0]]
                ]
    finally:
        nb.set_threads(before)

    med = {c: float(np.median(s)) for c, s in samples.items() if s}
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
    )


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


# --------------------------------------------------------------------------- the store
@dataclass(frozen=True)
class _Entry:
    """A stored plan, checked (see :func:`_parse_entry`)."""

    name: str
    n_x: int
    m: int
    dtype: str
    order: str
    mode: int
    B: int
    T: int
    n_chunks: int
    P: int
    parallel: dict[int, bool]

    def fit(self, n_x: int, m: int, threads: int) -> Plan:
        """This entry's plan carried over to ``(n_x, m)`` at ``threads``.

        Tiles keep ``B`` and ``T`` (chunks follow ``m``); panels keep ``P`` for the same
        ``n_x``, else their number.  ``parallel``: the flag stored for ``threads``, else
        the model's rule (see :data:`~vecstudy.backends.numba.PARALLEL_MIN_ELEMENTS`).
        """
        from vecstudy.backends import numba as nb

        if self.mode == nb.SPLIT:
            P = self.P if n_x == self.n_x else _panels(n_x, self.n_chunks).P
            P = max(P, _cdiv(n_x, nb.MAX_CHUNKS))
            pl = nb.Plan(nb.SPLIT, 0, 0, _cdiv(n_x, P), P, False)
        else:
            pl = _tiles(self.mode, self.B, self.T, m)
        par = self.parallel.get(threads)
        if par is None:
            par = n_x * m >= nb.PARALLEL_MIN_ELEMENTS
        return pl._replace(parallel=bool(par) and pl.n_chunks > 1)


def _int(value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{_short(value, 40)} is not an integer in [{low}, {high}]")
    return value


def _parse_entry(name: str, raw: object) -> _Entry:
    """A stored entry as a valid :class:`_Entry`, or ValueError saying what is wrong.

    Only plans the kernels accept pass: the walk must fit the order (sample-major for
    F, fused or split for C), tiles and chunks positive and bounded.
    """
    from vecstudy.backends import numba as nb

    if not isinstance(raw, dict):
        raise ValueError("not an object")
    order, dtype, pl = raw.get("order"), raw.get("dtype"), raw.get("plan")
    if order not in ("C", "F") or dtype not in DTYPES.values() or not isinstance(pl, dict):
        raise ValueError("no valid order, dtype or plan")
    mode = _int(pl.get("mode"), 0, 2)
    if (order == "F") != (mode == nb.SAMPLE):
        raise ValueError(f"walk {mode} does not fit order {order}")
    n_x, m = _int(raw.get("n_x"), 1, 1 << 40), _int(raw.get("m"), 1, 1 << 40)
    if mode == nb.SPLIT:
        B = T = 0
        P = _int(pl.get("P"), 1, 1 << 40)
        n_chunks = _int(pl.get("n_chunks"), 1, nb.MAX_CHUNKS)
    else:
        B, T, P = _int(pl.get("B"), 1, _MAX_B), _int(pl.get("T"), 1, _MAX_T), 0
        n_chunks = _int(pl.get("n_chunks"), 1, 1 << 40)
    threads = raw.get("threads", {})
    if not isinstance(threads, dict):
        raise ValueError("'threads' is not an object")
    parallel = {}
    for key, value in threads.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) >= 1):
            raise ValueError(f"bad thread count {_short(key, 20)}")
        flag = value.get("parallel") if isinstance(value, dict) else None
        if not isinstance(flag, bool):
            raise ValueError(f"no parallel flag for {key} threads")
        parallel[int(key)] = flag
    return _Entry(name, n_x, m, str(dtype), str(order), mode, B, T, n_chunks, P, parallel)


def _read_doc(path: Path) -> dict[str, Any] | None:
    """The whole wisdom file, None when absent; one warning (and None) when unreadable."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        why = f"it cannot be read ({_short(exc, 120)})"
    else:
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            why = f"it is not valid JSON ({_short(exc, 120)})"
        else:
            if (
                isinstance(doc, dict)
                and doc.get("format") == FORMAT
                and isinstance(doc.get("machines"), dict)
            ):
                return doc
            why = f"it is not a vecstudy wisdom file of format {FORMAT}"
    _warn_once(
        f"file:{path}",
        f"ignoring the numba wisdom file {_short(path, 300)}: {why}; the cache model plans "
        "instead (rewrite it with 'vecstudy tune', or remove it with 'vecstudy tune --clear')",
    )
    return None


def _section(doc: dict[str, Any] | None) -> dict[str, Any]:
    """This machine's entries (raw JSON objects by name) in ``doc``."""
    if doc is None:
        return {}
    sec = doc["machines"].get(machine()["key"])
    entries = sec.get("entries") if isinstance(sec, dict) else None
    return entries if isinstance(entries, dict) else {}


def entries(path: Path | None = None) -> list[_Entry]:
    """This machine's valid stored entries (invalid ones: one warning, then ignored)."""
    path = wisdom_path() if path is None else path
    out = []
    for name, raw in sorted(_section(_read_doc(path)).items()):
        try:
            out.append(_parse_entry(name, raw))
        except ValueError as exc:
            _warn_once(
                f"entry:{path}:{name}",
                f"ignoring entry {_short(name, 60)} of the numba wisdom file "
                f"{_short(path, 300)}: {_short(exc, 120)}",
            )
    return out


def stored_entries() -> list[dict[str, Any]]:
    """This machine's valid stored entries as the JSON objects of the file."""
    out = []
    for name, raw in _section(_read_doc(wisdom_path())).items():
        with contextlib.suppress(ValueError):
            e = _parse_entry(name, raw)
            out.append(((e.dtype, e.order, e.n_x, e.m), raw))
    return [raw for _, raw in sorted(out, key=lambda x: x[0])]


def entry_name(n_x: int, m: int, dtype: str, order: str) -> str:
    """The key of a shape's entry: ``"float64/C/12288x300"``."""
    return f"{dtype}/{order}/{n_x}x{m}"


def _lock(path: Path, timeout: float) -> Any:
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path.parent / f".{path.name}.lock"), timeout=timeout)


def save(results: Sequence[Tuned], *, timeout: float = 120.0) -> Path:
    """Add (or replace) the entries of ``results`` in this machine's section; the path.

    Under the file's lock, the file is read again, merged and replaced atomically, so
    that processes tuning at once keep each other's entries.  An unreadable file is
    replaced (after its warning).
    """
    from vecstudy.records.results import atomic_write_text, remove_stale_temporaries

    path = wisdom_path()
    with _lock(path, timeout):
        remove_stale_temporaries(path)
        doc = _read_doc(path) or {"format": FORMAT, "machines": {}}
        mach = machine()
        sec = doc["machines"].get(mach["key"])
        if not isinstance(sec, dict) or not isinstance(sec.get("entries"), dict):
            sec = {**{k: v for k, v in mach.items() if k != "key"}, "entries": {}}
            doc["machines"][mach["key"]] = sec
        for r in results:
            sec["entries"][entry_name(r.n_x, r.m, r.dtype, r.order)] = r.to_entry()
        atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    _forget()
    return path


def clear() -> tuple[Path, int]:
    """Remove this machine's entries (an unreadable file: the file); ``(path, count)``."""
    path = wisdom_path()
    if not path.exists():
        return path, 0
    with _lock(path, 120.0):
        doc = _read_doc(path)
        if doc is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            n = 0
        else:
            sec = doc["machines"].pop(machine()["key"], None)
            n = len(sec.get("entries", {})) if isinstance(sec, dict) else 0
            if doc["machines"]:
                from vecstudy.records.results import atomic_write_text

                atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
            else:
                path.unlink()
    _forget()
    return path, n


# --------------------------------------------------------------------------- lookup
@dataclass
class _Loaded:
    stamp: tuple[int, int] | None
    checked: float
    entries: list[_Entry]
    memo: dict[tuple[int, int, str, str, int], Plan | None] = field(default_factory=dict)


_loaded: dict[str, _Loaded] = {}
_loaded_lock = threading.Lock()


def _forget() -> None:
    """Drop what was read from wisdom files and settings (after this process wrote one)."""
    global _snapshot
    with _loaded_lock:
        _loaded.clear()
        _snapshot = None


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _current(path: Path | None = None) -> _Loaded:
    """This machine's entries of the wisdom file, read again when the file changed
    (looked at no more than every :data:`RECHECK_SECONDS`)."""
    path = wisdom_path() if path is None else path
    key = str(path)
    now = time.monotonic()
    with _loaded_lock:
        rec = _loaded.get(key)
        if rec is not None and now - rec.checked < RECHECK_SECONDS:
            return rec
    stamp = _stamp(path)
    if rec is not None and rec.stamp == stamp:
        rec.checked = now
        return rec
    rec = _Loaded(stamp, now, entries(path) if stamp is not None else [])
    with _loaded_lock:
        _loaded[key] = rec
    return rec


def lookup(n_x: int, m: int, itemsize: int, order: str, threads: int) -> Plan | None:
    """The stored plan for a shape, or None.

    From the entry of the same dtype and order nearest to ``(n_x, m)`` by log-distance,
    within a factor :data:`BUCKET_FACTOR` in each dimension (ties: the first by name),
    carried over to this shape (:meth:`_Entry.fit`).
    """
    return _lookup(_current(), n_x, m, itemsize, order, threads)


def _lookup(rec: _Loaded, n_x: int, m: int, itemsize: int, order: str, threads: int) -> Plan | None:
    dtype = DTYPES.get(itemsize)
    if dtype is None or order not in ("C", "F") or n_x < 1 or m < 1:
        return None
    key = (n_x, m, dtype, order, threads)
    if key in rec.memo:
        return rec.memo[key]
    reach = math.log(BUCKET_FACTOR) + 1e-12
    best: tuple[float, str, _Entry] | None = None
    for e in rec.entries:
        if e.dtype != dtype or e.order != order:
            continue
        dx, dy = math.log(n_x / e.n_x), math.log(m / e.m)
        if abs(dx) > reach or abs(dy) > reach:
            continue
        cand = (dx * dx + dy * dy, e.name, e)
        if best is None or cand[:2] < best[:2]:
            best = cand
    found = None if best is None else best[2].fit(n_x, m, threads)
    rec.memo[key] = found
    return found


# --------------------------------------------------------------------------- the hook
_first_use_lock = threading.Lock()
_first_use_done: dict[tuple[str, int, int, str, str], Plan | None] = {}
#: ``(when, tune setting from the environment or config file, wisdom path)``.
_snapshot: tuple[float, str | None, Path] | None = None


def _settings() -> tuple[str, Path]:
    """The ``[numba] tune`` setting in force and the wisdom file.

    :func:`~vecstudy.config.use_tune` counts at once; the environment and the config
    file are looked at again every :data:`RECHECK_SECONDS` at most (a step may take
    microseconds; reading them takes a few).
    """
    global _snapshot
    ctx = config._context_tune.get()
    now = time.monotonic()
    snap = _snapshot
    if snap is None or now - snap[0] >= RECHECK_SECONDS or (ctx is None and snap[1] is None):
        base = None if ctx is not None else str(config.resolve_tune().value)
        snap = _snapshot = (now, base, wisdom_path())
    return (ctx if ctx is not None else str(snap[1])), snap[2]


def planned(n_x: int, m: int, itemsize: int, order: str) -> Plan | None:
    """The measured plan :func:`vecstudy.backends.numba.plan` uses, or None (the model).

    ``[numba] tune = "off"``: None.  ``"cached"``: :func:`lookup` at the thread count
    in force.  ``"first-use"``: the same, and where nothing is stored nearby, the shape
    is tuned for about :data:`FIRST_USE_BUDGET_S` (the model's neighbourhood, at the
    thread count in force, on seeded data of the same shape, for ``X`` up to
    :data:`FIRST_USE_MAX_BYTES`) once per process, and stored.
    """
    mode, path = _settings()
    if mode == "off":
        return None
    rec = _current(path)
    if not rec.entries and mode != "first-use":  # the usual case: nothing tuned here
        return None
    import numba

    threads = int(numba.get_num_threads())
    found = _lookup(rec, n_x, m, itemsize, order, threads)
    if found is not None or mode != "first-use":
        return found
    return _first_use(n_x, m, itemsize, order, threads)


def _first_use(n_x: int, m: int, itemsize: int, order: str, threads: int) -> Plan | None:
    from vecstudy.backends import numba as nb

    dtype = DTYPES.get(itemsize)
    if dtype is None or nb.JIT_DISABLED or n_x * m * itemsize > FIRST_USE_MAX_BYTES:
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


# --------------------------------------------------------------------------- for the CLI
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
#: many bytes in float64.
DEFAULT_MAX_BYTES: Final = 70_000_000


def default_shapes() -> list[tuple[int, int]]:
    """The shapes of :data:`GRID_FULL` up to :data:`DEFAULT_MAX_BYTES` (float64)."""
    return [s for s in GRID_FULL if s[0] * s[1] * 8 <= DEFAULT_MAX_BYTES]


def rows(entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One table row per thread count of a stored entry (:meth:`Tuned.to_entry`)."""
    from vecstudy.backends import numba as nb

    fields = ("mode", "B", "T", "n_chunks", "P")
    pl = nb.Plan(*(int(entry["plan"][k]) for k in fields), False)  # type: ignore[call-arg,arg-type]
    md = entry.get("model")
    for t, v in sorted(entry.get("threads", {}).items(), key=lambda kv: int(kv[0])):
        row = {
            "shape": f"{entry['n_x']}x{entry['m']}",
            "dtype": entry["dtype"],
            "order": entry["order"],
            "threads": int(t),
            "model": "",
            "model_ms": v.get("model_ms"),
            "tuned": describe_plan(pl._replace(parallel=bool(v["parallel"]))),
            "tuned_ms": v.get("ms"),
        }
        if isinstance(md, dict):
            par = bool(md.get("parallel")) and int(t) > 1
            mp = nb.Plan(*(int(md[k]) for k in fields), par)  # type: ignore[call-arg,arg-type]
            row["model"] = describe_plan(mp)
        yield row


def format_table(entries_: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of stored entries: model plan and time, tuned plan and time,
    and the margin (model time / tuned time)."""
    head = ("shape", "dtype", "order", "threads", "model plan", "ms", "tuned plan", "ms", "gain")
    body = []
    for e in entries_:
        for r in rows(e):
            mm, tm = r["model_ms"], r["tuned_ms"]
            gain = f"{mm / tm:.2f}x" if mm and tm else "-"
            body.append(
                (r["shape"], r["dtype"], r["order"], str(r["threads"]), r["model"],
                 f"{mm:.3f}" if mm else "-", r["tuned"], f"{tm:.3f}" if tm else "-", gain)
            )  # fmt: skip
    widths = [max(len(x[i]) for x in (head, *body)) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)).rstrip()
             for x in (head, *body)]  # fmt: skip
    return "\n".join(lines)


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
    "format_table",
    "lookup",
    "machine",
    "measure",
    "planned",
    "save",
    "stored_entries",
    "wisdom_path",
]
