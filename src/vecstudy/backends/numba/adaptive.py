"""Serial or parallel, slice by slice: a descent that does not wait for a descheduled core.

A parallel descent meets its threads at a barrier in every iteration.  When another
program takes one of the cores, the thread that shares it is descheduled for whole
time slices of the OS scheduler (milliseconds), and every iteration of a short step
(a fraction of a millisecond) then waits that long: a 1000-iteration fit of 20 x 10000
took ten times longer on two threads than on one with one other CPU-bound process
running.  A serial loop only needs one core, and the OS gives it the free one.

The descent already runs in slices of about 30 ms (between which Python looks for
Ctrl-C).  :class:`SliceChooser` uses them as measurements: slices run parallel; when
the threads of a (warm) parallel slice got clearly less CPU time than the wall time
(:data:`BUSY_UTILIZATION`: on an idle machine waiting threads spin, and the ratio is
about one), the next is a short serial probe, and the faster way, per iteration, runs
the following slices.  While the parallel way stays busy and faster, the serial one is
probed again every :data:`RECHECK_S` seconds; a serial way re-probes the parallel one
after :data:`SERIAL_PROBE_S` seconds of serial slices, then, each time the parallel way
loses again, after twice as long (up to :data:`MAX_SERIAL_PROBE_S`): a descent goes back
to both cores soon after the other program ends, and the probes of a way that stays slow
cost little.

Slices of few iterations are probed too: a step that waits at its barrier for a
descheduled thread can take five times the serial step (12288 x 209 on two busy cores:
16 against 3.3 ms), so that a slice of 30 ms holds one to three iterations; a probe is
then one iteration, and a probe of the way last measured slower gets a quarter of a
slice's time rather than of its iterations.  Short iterations (under
:data:`QUICK_MAX_S`) start with a quick check: a serial slice of half a millisecond,
then one parallel iteration, and serial at once where that iteration waited at its
barrier.  The serial and parallel kernels walk the same chunks in the same order, so
the result has the same bits whichever way a slice runs.
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
#: A parallel slice whose threads got less CPU time than this fraction of the wall time
#: (times the thread count) ran beside another program: only then is a serial slice
#: probed (measured on 2 cores: 0.85 to 1.05 idle, 0.55 to 0.75 with one busy program).
BUSY_UTILIZATION: Final = 0.8
#: Seconds between two serial probes while the parallel way stays the faster one.
RECHECK_S: Final = 0.5
#: Seconds of serial slices before the first probe of the parallel way: a descent
#: returns to both cores soon after the other program ends, or after a probe that noise
#: decided.  In seconds, not slices: slices after a slow probe start short again.
SERIAL_PROBE_S: Final = 0.1
#: The longest wait (seconds of serial slices) between two probes of the parallel way:
#: the wait doubles each time the parallel way loses its probe, since a busy parallel
#: iteration can last 30 times a serial one.
MAX_SERIAL_PROBE_S: Final = 2.0
#: The way not in use is taken only when it is faster per iteration by this fraction.
MARGIN: Final = 0.05


#: Short iterations (estimated below this many seconds) get a quick check first: one
#: serial slice, then one parallel iteration, and serial at once where that iteration
#: took :data:`QUICK_FACTOR` times the serial one with its threads short of CPU time.
#: A barrier that waits for a descheduled thread costs a time slice of the OS scheduler
#: (milliseconds); short iterations are where that shows, and where two warm parallel
#: slices would cost most (20 x 10000 beside one other program on two cores: 2 to 7
#: ms per parallel iteration against 0.08 serial).
QUICK_MAX_S: Final = 1e-3
#: See :data:`QUICK_MAX_S`: an idle parallel iteration, pool wake-up included, is not
#: twice as slow as a serial one; a busy one is 25 to 90 times.
QUICK_FACTOR: Final = 4.0
#: Seconds of the quick check's serial slice, at the caller's estimate.
QUICK_SERIAL_S: Final = 5e-4


class SliceChooser:
    """Which kernel, serial or parallel, runs the next slice of one descent.

    Parameters
    ----------
    parallel : bool
        Whether the plan runs in parallel (at more than one thread).  When false every
        slice is serial and nothing is measured.
    expected_s : float, optional
        The caller's estimate of the seconds per iteration: below :data:`QUICK_MAX_S`,
        the quick check comes first.

    Use: ``par, n = chooser.next(length)`` before a slice of at most ``length``
    iterations, then ``chooser.record(par, done, seconds, compiled, utilization)`` after
    it (``compiled``: the slice included a compilation, so its time is not a
    measurement; ``utilization``: see :meth:`record`).

    >>> c = SliceChooser(True)
    >>> c.next(100)
    (True, 100)
    >>> c.record(True, 100, 0.120, False)   # the first slice wakes the threads
    >>> c.record(True, 100, 0.100, False, 0.7)   # 1 ms per iteration; a core is busy
    >>> c.next(100)                          # a serial probe of a quarter slice
    (False, 25)
    >>> c.record(False, 25, 0.0125, False)  # 0.5 ms per iteration on one
    >>> c.next(100)
    (False, 100)
    """

    def __init__(self, parallel: bool, expected_s: float | None = None) -> None:
        self.enabled = bool(parallel)
        self.parallel = self.enabled  # the way in use
        # the quick check: 0 serial slice next, 1 one parallel iteration next, 2 done
        quick = self.enabled and expected_s is not None and expected_s < QUICK_MAX_S
        self.quick_stage = 0 if quick else 2
        self.quick_serial = 1  # iterations of its serial slice
        if quick and expected_s is not None:
            self.quick_serial = max(1, int(QUICK_SERIAL_S / expected_s))
        self.checking = False  # the slice running is the quick check's parallel iteration
        self.per_iteration: dict[bool, float | None] = {True: None, False: None}
        self.utilization = 1.0  # of the latest parallel slice
        self.parallel_slices = 0
        self.serial_s = 0.0  # seconds of serial slices since the last probe
        self.serial_wait = SERIAL_PROBE_S  # ... before the next parallel probe
        self.last_probe = -math.inf
        self.switches = 0

    def next(self, length: int) -> tuple[bool, int]:
        """``(parallel, iterations)`` for the next slice, of at most ``length`` iterations."""
        if not self.enabled:
            return False, length
        if self.quick_stage == 0:  # a short serial slice to measure against
            self.quick_stage = 1
            return False, min(length, self.quick_serial)
        if self.quick_stage == 1:
            self.quick_stage = 2
            self.checking = True
            return True, 1
        if self.parallel:
            if self.parallel_slices < WARM_SLICES:
                return True, length
            # a serial probe only when a core looks taken (the threads got less CPU time
            # than the wall time): an idle machine pays nothing; then at most every RECHECK_S
            probe = self.utilization < BUSY_UTILIZATION and (
                self.per_iteration[False] is None
                or time.perf_counter() - self.last_probe >= RECHECK_S
            )
        else:
            probe = self.serial_s >= self.serial_wait
        if probe:
            n = int(length * PROBE_FRACTION)
            # a way last measured slow gets the same share of time, not of iterations: a
            # busy parallel iteration can last 30 times a serial one (20 x 10000 with two
            # other programs on two cores: 3.9 against 0.12 ms)
            mine, other = self.per_iteration[self.parallel], self.per_iteration[not self.parallel]
            if mine is not None and other is not None and other > mine:
                n = int(length * PROBE_FRACTION * mine / other)
            return not self.parallel, max(1, n)
        return self.parallel, length

    def record(
        self,
        parallel: bool,
        iterations: int,
        seconds: float,
        compiled: bool,
        utilization: float = 1.0,
    ) -> None:
        """Note a finished slice; after a probe, keep the faster way.

        ``utilization``: for a parallel slice, the process's CPU time over ``seconds``
        times the thread count (about 1 on an idle machine, where waiting threads spin;
        0.5 to 0.75 with another program on one of two cores).
        """
        checking, self.checking = self.checking, False
        if not self.enabled or iterations < 1 or compiled:
            return
        per = seconds / iterations
        self.per_iteration[parallel] = per
        if self.quick_stage == 1 and not parallel:  # the quick check's serial slice
            return
        if checking:  # its parallel iteration: serial at once where clearly slower
            serial = self.per_iteration[False]
            if (
                serial is not None
                and utilization < BUSY_UTILIZATION
                and per > QUICK_FACTOR * serial
            ):
                self.parallel = False
                self.switches += 1
                self.serial_s = 0.0
            return  # not a warm slice either way
        if parallel:
            self.utilization = utilization
            self.parallel_slices += 1
        if parallel == self.parallel:
            if not parallel:
                self.serial_s += seconds
                return
            # a busy parallel slice slower than the serial way's last measurement (a probe
            # of a few iterations that caught both cores free, then the other program's
            # turn): back to serial at once, without waiting RECHECK_S for a new probe
            serial = self.per_iteration[False]
            if (
                utilization < BUSY_UTILIZATION
                and serial is not None
                and serial < per * (1.0 - MARGIN)
            ):
                self.parallel = False
                self.switches += 1
                self.serial_s = 0.0
                self.serial_wait = min(2 * self.serial_wait, MAX_SERIAL_PROBE_S)
            return
        # a probe: against the latest slice of the way in use (warm, by then)
        self.last_probe = time.perf_counter()
        self.serial_s = 0.0
        reference = self.per_iteration[self.parallel]
        if reference is None or per < reference * (1.0 - MARGIN):
            self.parallel = parallel
            self.switches += 1
            if not parallel:  # serial from now: the first parallel probe comes soon
                self.serial_wait = SERIAL_PROBE_S
        elif parallel:  # the parallel way lost its probe again: probe it less often
            self.serial_wait = min(2 * self.serial_wait, MAX_SERIAL_PROBE_S)
