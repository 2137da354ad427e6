"""Serial or parallel, slice by slice: a descent that does not wait for a descheduled core.

A parallel descent meets its threads at a barrier in every iteration.  When another
program takes one of the cores, the thread that shares it is descheduled for whole
time slices of the OS scheduler (milliseconds), and every iteration of a short step
(a fraction of a millisecond) then waits that long: a 1000-iteration fit of 20 x 10000
took ten times longer on two threads than on one with one other CPU-bound process
running.  A serial loop only needs one core, and the OS gives it the free one.

The descent already runs in slices of about 30 ms (between which Python looks for
Ctrl-C).  :class:`SliceChooser` uses them as measurements: the first slice runs
parallel; the second is a short serial probe; the faster way, per iteration, runs
the following slices.  A parallel way that becomes :data:`DEGRADED` times slower
than its best is probed against the serial one again, and a serial way re-probes
the parallel one every :data:`RECHECK_S` seconds, so a descent goes back to both
cores when the other program ends.  The serial and parallel kernels walk the same
chunks in the same order, so the result has the same bits whichever way a slice runs.
"""

from __future__ import annotations

import math
import time
from typing import Final

#: A probe slice runs this fraction of the iterations of a normal slice.
PROBE_FRACTION: Final = 0.25
#: A parallel slice this many times slower per iteration than the best parallel slice
#: of the descent is checked against a serial probe (at most every RECHECK_S).
DEGRADED: Final = 1.25
#: Seconds between two probes of the way not in use.
RECHECK_S: Final = 0.5
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
        self.last_probe = -math.inf
        self.switches = 0

    def next(self, length: int) -> tuple[bool, int]:
        """``(parallel, iterations)`` for the next slice, of at most ``length`` iterations."""
        if not self.enabled:
            return False, length
        current = self.per_iteration[self.parallel]
        if current is None:  # the way in use not measured yet
            return self.parallel, length
        other = not self.parallel
        now = time.perf_counter()
        due = now - self.last_probe >= RECHECK_S
        if self.parallel:
            probe = self.per_iteration[False] is None or (
                due and current > DEGRADED * self.best_parallel
            )
        else:
            probe = due
        if probe and length >= 2:
            return other, max(1, int(length * PROBE_FRACTION))
        return self.parallel, length

    def record(self, parallel: bool, iterations: int, seconds: float, compiled: bool) -> None:
        """Note a finished slice; after a probe, keep the faster way."""
        if not self.enabled or iterations < 1 or compiled:
            return
        per = seconds / iterations
        self.per_iteration[parallel] = per
        if parallel:
            self.best_parallel = min(self.best_parallel, per)
        if parallel == self.parallel:
            return
        self.last_probe = time.perf_counter()
        current = self.per_iteration[self.parallel]
        if current is None or per < current * (1.0 - MARGIN):
            self.parallel = parallel
            self.switches += 1
