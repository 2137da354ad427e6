"""Serial or parallel, slice by slice: a descent that does not wait for a descheduled core.

A parallel descent meets its threads at a barrier in every iteration.  When another
program takes one of the cores, the thread that shares it is descheduled for whole
time slices of the OS scheduler (milliseconds), and every iteration of a short step
(a fraction of a millisecond) then waits that long: a 1000-iteration fit of 20 x 10000
took ten times longer on two threads than on one with one other CPU-bound process
running.  A serial loop only needs one core, and the OS gives it the free one.

The descent already runs in slices of about 30 ms (between which Python looks for
Ctrl-C).  :class:`SliceChooser` uses them as measurements: the first two slices run
parallel (the first also wakes the thread pool); the third is a short serial probe;
the faster way, per iteration, runs the following slices.  A parallel way that
becomes :data:`DEGRADED` times slower than its best is probed against the serial one
again, and a serial way re-probes the parallel one every :data:`SERIAL_SLICES`
slices, so a descent goes back to both cores when the other program ends.  The serial
and parallel kernels walk the same chunks in the same order, so the result has the same
bits whichever way a slice runs.
"""

from __future__ import annotations

import math
import time
from typing import Final

#: A probe slice runs this fraction of the iterations of a normal slice.
PROBE_FRACTION: Final = 0.25
#: Parallel slices measured before the first serial probe: the first one also pays for
#: waking the thread pool and a cold cache, and alone would favour the serial way.
WARM_SLICES: Final = 2
#: A parallel slice this many times slower per iteration than the best parallel slice
#: of the descent is checked against a serial probe (at most every RECHECK_S).
DEGRADED: Final = 1.25
#: Seconds between two serial probes of a degraded parallel way.
RECHECK_S: Final = 0.5
#: Serial slices between two probes of the parallel way (about 0.1 s of work): a
#: descent returns to both cores soon after the other program ends, or after a
#: probe that noise decided.
SERIAL_SLICES: Final = 4
#: The way not in use is taken only when it is faster per iteration by this fraction.
MARGIN: Final = 0.05


class SliceChooser:
    """Which kernel, serial or parallel, runs the next slice of one descent.

    Parameters
    ----------
    parallel : bool
        Whether the plan runs in parallel (at more than one thread).  When false every
        slice is serial and nothing is measured.

    Use: ``par, n = chooser.next(length)`` before a slice of at most ``length``
    iterations, then ``chooser.record(par, done, seconds, compiled)`` after it
    (``compiled``: the slice included a compilation, so its time is not a measurement).

    >>> c = SliceChooser(True)
    >>> c.next(100)
    (True, 100)
    >>> c.record(True, 100, 0.120, False)   # the first slice wakes the threads
    >>> c.record(True, 100, 0.100, False)   # 1 ms per iteration on two threads
    >>> c.next(100)                          # a serial probe of a quarter slice
    (False, 25)
    >>> c.record(False, 25, 0.0125, False)  # 0.5 ms per iteration on one
    >>> c.next(100)
    (False, 100)
    """

    def __init__(self, parallel: bool) -> None:
        self.enabled = bool(parallel)
        self.parallel = self.enabled  # the way in use
        self.per_iteration: dict[bool, float | None] = {True: None, False: None}
        self.best_parallel = math.inf
        self.parallel_slices = 0
        self.serial_slices = 0  # slices run serially since the way became serial
        self.last_probe = -math.inf
        self.switches = 0

    def next(self, length: int) -> tuple[bool, int]:
        """``(parallel, iterations)`` for the next slice, of at most ``length`` iterations."""
        if not self.enabled or length < 2:
            return self.parallel if self.enabled else False, length
        if self.parallel:
            current = self.per_iteration[True]
            if current is None or self.parallel_slices < WARM_SLICES:
                return True, length
            probe = self.per_iteration[False] is None or (
                time.perf_counter() - self.last_probe >= RECHECK_S
                and current > DEGRADED * self.best_parallel
            )
        else:
            probe = self.serial_slices >= SERIAL_SLICES
        if probe:
            return not self.parallel, max(1, int(length * PROBE_FRACTION))
        return self.parallel, length

    def record(self, parallel: bool, iterations: int, seconds: float, compiled: bool) -> None:
        """Note a finished slice; after a probe, keep the faster way."""
        if not self.enabled or iterations < 1 or compiled:
            return
        per = seconds / iterations
        self.per_iteration[parallel] = per
        if parallel:
            self.parallel_slices += 1
            if self.parallel_slices >= WARM_SLICES:  # not the slice that woke the threads
                self.best_parallel = min(self.best_parallel, per)
        if parallel == self.parallel:
            if not parallel:
                self.serial_slices += 1
            return
        # a probe: against the latest slice of the way in use (warm, by then)
        self.last_probe = time.perf_counter()
        self.serial_slices = 0
        reference = self.per_iteration[self.parallel]
        if reference is None or per < reference * (1.0 - MARGIN):
            self.parallel = parallel
            self.switches += 1
