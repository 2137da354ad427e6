"""The one timing harness: autorange calibration, interleaved rounds, medians.

Every figure vecstudy measures (the sweep of ``vecstudy bench`` and ``vecstudy study``,
the roofline, the numba tuner, ``benchmarks/overhead.py``) is timed with these pieces:

- :func:`autorange` (:func:`calibrate`): the loop count :meth:`timeit.Timer.autorange`
  would choose, for a timing of at least ``min_time`` seconds;
- :func:`time_round`: one timing, ``loops`` calls by :class:`timeit.Timer` (GC off);
- :func:`rotated`: the order of one *interleaved round*: every contender once, the
  order rotated by one from round to round (A B C, B C A, C A B, ...), so that a slow
  spell of a shared machine hits every contender alike;
- :func:`interleaved`: warm-up, calibration and ``rounds`` interleaved rounds of a few
  calls, as seconds per call; :func:`median_time` for one call alone;
- :func:`quiesce`: wait until no thread of this process spins any more, before timing
  a contender that follows another: the idle threads of NumPy's OpenBLAS keep spinning
  (about 0.1 s) after each call, on the cores the next contender needs.

What to time and when to stop (the sweep's budget and estimates,
:mod:`vecstudy.study.timing`; the tuner's pruning,
:mod:`vecstudy.backends.numba.tuning`) stays with the caller.
"""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable, Sequence
from typing import Final, Protocol, TypeVar

T = TypeVar("T")


class _Timer(Protocol):
    def timeit(self, number: int = ...) -> float: ...


def calibrate(timer: _Timer, min_time: float) -> tuple[int, float]:
    """``(loops, seconds)``: the first of 1, 2, 5, 10, 20, 50, ... calls whose timing lasts
    at least ``min_time`` seconds, and that timing (:meth:`timeit.Timer.autorange`'s
    method; timeit's own target is 0.2 s).

    >>> class Fake:
    ...     def timeit(self, number: int) -> float:
    ...         return number * 1e-3
    >>> calibrate(Fake(), 0.015)
    (20, 0.02)
    """
    i = 1
    while True:
        for j in (1, 2, 5):
            number = i * j
            seconds = timer.timeit(number)
            if seconds >= min_time:
                return number, seconds
        i *= 10


def autorange(timer: _Timer, min_time: float) -> int:
    """The loop count :meth:`timeit.Timer.autorange` would choose, for a target of ``min_time`` s.

    Tries 1, 2, 5, 10, 20, 50, ... calls and returns the first count whose
    timing lasts at least ``min_time`` seconds (see :func:`calibrate`).
    """
    return calibrate(timer, min_time)[0]


def time_once(fn: Callable[[], object]) -> float:
    """Seconds of one call of ``fn`` (:func:`time.perf_counter`)."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def time_round(call: Callable[[], object], loops: int) -> float:
    """Seconds of ``loops`` calls of ``call``, timed by :class:`timeit.Timer` (GC off)."""
    return timeit.Timer(call).timeit(loops)


#: Longest wait of :func:`quiesce`, in seconds (OpenBLAS's idle threads spin for 2**28
#: clock ticks after each call, 0.1 s at 2.5 GHz; other pools spin for less).
QUIESCE_MAX_S: Final = 0.5
#: The steps :func:`quiesce` sleeps, in seconds.
QUIESCE_STEP_S: Final = 0.01
#: A step in which this process used less CPU time than this fraction of it is quiet.
QUIESCE_BUSY: Final = 0.1


def quiesce(max_s: float = QUIESCE_MAX_S) -> float:
    """Sleep until this process's threads are idle (at most ``max_s``); the seconds slept.

    A thread pool that spin-waits after its work (NumPy's OpenBLAS for about 0.1 s after
    each call on more than one thread, OpenMP pools for less) takes a core from
    whatever runs next in the process: a numba step timed right after a NumPy one on
    two threads took up to twice as long as alone (measured on a 2-core AMD EPYC).  So
    a harness calls this before timing a contender that follows another, and each is
    timed as it runs on its own.  Quiet means one sleep of :data:`QUIESCE_STEP_S` in
    which the process used less than :data:`QUIESCE_BUSY` of it in CPU time.
    """
    start = time.perf_counter()
    while True:
        c0, t0 = time.process_time(), time.perf_counter()
        time.sleep(QUIESCE_STEP_S)
        now = time.perf_counter()
        if time.process_time() - c0 < QUIESCE_BUSY * (now - t0) or now - start >= max_s:
            return now - start


def rotated(items: Sequence[T], rnd: int) -> list[T]:
    """``items`` in the order of interleaved round ``rnd``: rotated left by ``rnd``.

    >>> [rotated("ABC", r) for r in range(4)]
    [['A', 'B', 'C'], ['B', 'C', 'A'], ['C', 'A', 'B'], ['A', 'B', 'C']]
    """
    if not items:
        return []
    k = rnd % len(items)
    return [*items[k:], *items[:k]]


def median(samples: Sequence[float]) -> float:
    """The median of a timing's samples (the middle two averaged, as :func:`numpy.median`).

    >>> median([3.0, 1.0, 2.0]), median([4.0, 1.0, 2.0, 3.0])
    (2.0, 2.5)
    """
    if not samples:
        raise ValueError("median of no samples")
    s = sorted(samples)
    mid = len(s) // 2
    return float(s[mid]) if len(s) % 2 else (s[mid - 1] + s[mid]) / 2.0


def interleaved(
    calls: Sequence[Callable[[], object]],
    rounds: int,
    *,
    min_time: float,
    warmup: bool = True,
    quiet: bool = False,
) -> list[list[float]]:
    """Seconds per call of each of ``calls``, timed in ``rounds`` interleaved rounds.

    One warm-up call of each (compilation, first touch of memory; unless ``warmup`` is
    false), then each call's loop count (:func:`autorange` for ``min_time``), then
    ``rounds`` rounds, each timing every call once (``loops`` calls) in the order of
    :func:`rotated`.  Returns one list of ``rounds`` samples per call, in the order of
    ``calls``.  ``quiet``: each timing of a call that follows another starts once the
    process is idle (:func:`quiesce`), so that no call pays for the spinning threads
    the one before left behind.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1; got {rounds!r}")
    if warmup:
        for call in calls:
            call()
    quiet = quiet and len(calls) > 1
    loops = []
    for call in calls:
        if quiet:
            quiesce()
        loops.append(autorange(timeit.Timer(call), min_time))
    samples: list[list[float]] = [[] for _ in calls]
    previous = None
    for rnd in range(rounds):
        for i in rotated(range(len(calls)), rnd):
            if quiet and i != previous:
                quiesce()
            samples[i].append(time_round(calls[i], loops[i]) / loops[i])
            previous = i
    return samples


def median_time(fn: Callable[[], object], repeat: int, *, min_time: float) -> float:
    """Median seconds per call of ``fn``: :func:`interleaved` of ``fn`` alone, ``repeat`` rounds."""
    return median(interleaved([fn], repeat, min_time=min_time)[0])


__all__ = [
    "autorange",
    "calibrate",
    "interleaved",
    "median",
    "median_time",
    "quiesce",
    "rotated",
    "time_once",
    "time_round",
]
