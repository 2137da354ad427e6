"""A descent picks serial or parallel slice by slice: same bits, and the faster way wins."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vecstudy.backends.numba import adaptive
from vecstudy.backends.numba.adaptive import SliceChooser

nb = pytest.importorskip("vecstudy.backends.numba")


def _warm(c: SliceChooser, per_iteration: float, utilization: float = 0.7) -> None:
    """The parallel slices that come before the first probe, at ``per_iteration`` s."""
    for _ in range(adaptive.WARM_SLICES):
        assert c.next(100) == (True, 100)
        c.record(True, 100, 100 * per_iteration, False, utilization)


def test_a_serial_plan_never_measures() -> None:
    c = SliceChooser(False)
    assert c.next(50) == (False, 50)
    c.record(False, 50, 1.0, False)
    assert c.next(50) == (False, 50)
    assert c.per_iteration == {True: None, False: None}


def test_an_idle_machine_never_probes() -> None:
    """Threads that got their CPU time (waiting ones spin): no serial slice is tried."""
    c = SliceChooser(True)
    _warm(c, 1e-4, utilization=0.97)
    for _ in range(20):
        assert c.next(100) == (True, 100)
        c.record(True, 100, 0.010, False, 0.95)


def test_the_faster_way_is_kept_after_a_probe() -> None:
    c = SliceChooser(True)
    _warm(c, 1e-4)  # 0.1 ms per iteration in parallel
    assert c.next(100) == (False, 25)  # the serial probe
    c.record(False, 25, 0.005, False)  # 0.2 ms: slower
    assert c.next(100) == (True, 100)
    assert c.switches == 0


def test_the_first_parallel_slice_does_not_decide() -> None:
    """The slice that wakes the thread pool is slow; the serial probe waits for a warm one."""
    c = SliceChooser(True)
    c.record(True, 100, 0.050, False, 0.5)  # 0.5 ms: waking the threads
    assert c.next(100) == (True, 100)
    c.record(True, 100, 0.010, False, 0.7)  # 0.1 ms warm
    assert c.next(100) == (False, 25)
    c.record(False, 25, 0.005, False)  # 0.2 ms serially: parallel stays
    assert c.parallel is True


def test_a_slice_that_compiled_is_not_a_measurement() -> None:
    c = SliceChooser(True)
    _warm(c, 1e-4)
    c.next(100)
    c.record(False, 25, 5.0, True)  # compiling the serial kernel took 5 s
    assert c.per_iteration[False] is None
    assert c.next(100) == (False, 25)  # probed again


def test_a_busy_core_is_left_and_found_again(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(adaptive.time, "perf_counter", lambda: clock[0])
    c = SliceChooser(True)
    _warm(c, 1e-4, utilization=0.95)
    assert c.next(100) == (True, 100)  # idle: no probe
    c.record(True, 100, 0.100, False, 0.6)  # another program took a core: 10x slower
    assert c.next(100) == (False, 25)
    c.record(False, 25, 0.005, False)
    assert c.parallel is False
    assert c.switches == 1
    for _ in range(4):  # serial slices until the next parallel probe: SERIAL_PROBE_S of them
        assert c.next(100) == (False, 100)
        c.record(False, 100, adaptive.SERIAL_PROBE_S / 4, False)
    # the parallel way was last 4 times slower: its probe gets a quarter slice's time,
    # 6 iterations, not a quarter of its iterations
    assert c.next(100) == (True, 6)
    c.record(True, 6, 0.0006, False, 0.95)  # the other program ended
    assert c.parallel is True
    assert c.switches == 2
    clock[0] = 0.1
    c.record(True, 100, 0.010, False, 0.6)  # busy again, but a probe was 0.1 s ago
    assert c.next(100) == (True, 100)
    clock[0] = 1.0
    assert c.next(100) == (False, 10)  # serial was last 2.5 times slower: 10 iterations


class _Alternate(SliceChooser):
    """Every slice the other way, whatever the timings."""

    def next(self, length: int) -> tuple[bool, int]:
        self.parallel = not self.parallel
        return self.parallel, max(1, length // 3)

    def record(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("order", ["C", "F"])
def test_switching_ways_keeps_the_bits(monkeypatch: pytest.MonkeyPatch, order: str) -> None:
    rng = np.random.default_rng(7)
    X = rng.standard_normal((20, 10_000))
    X = X if order == "C" else np.asfortranarray(X)
    Y = (rng.random(10_000) < 0.5).astype(np.float64)
    w = np.zeros(20)
    pl = nb.plan(20, 10_000, 8, order)
    if not pl.parallel:
        pytest.skip("this machine's plan for the shape is serial")
    nb.set_threads(nb.max_threads())
    one = nb.optimize(w, 0.0, X, Y, 300, 0.1, 100)
    monkeypatch.setattr(nb, "SliceChooser", _Alternate)
    monkeypatch.setattr(nb, "SLICE_SECONDS", 1e-4)  # many short slices
    mixed = nb.optimize(w, 0.0, X, Y, 300, 0.1, 100)
    for a, b in zip(one, mixed, strict=True):
        np.testing.assert_array_equal(a, b, strict=True)


def test_slices_of_a_few_long_busy_iterations_are_probed() -> None:
    """A barrier that waits for a descheduled thread makes parallel iterations so slow that
    a slice holds one to three (12288 x 209 on two busy cores: 16 against 3.3 ms)."""
    c = SliceChooser(True)
    for _ in range(adaptive.WARM_SLICES):
        assert c.next(2) == (True, 2)
        c.record(True, 2, 0.032, False, 0.25)
    assert c.next(2) == (False, 1)  # a probe of one iteration
    c.record(False, 1, 0.0033, False)
    assert c.parallel is False


def test_a_lucky_parallel_probe_is_undone_and_probed_less_often() -> None:
    """A parallel probe that caught both cores free wins; its next busy slice is slower than
    the serial way: back to serial at once, and the next probe waits twice as long."""
    c = SliceChooser(True)
    _warm(c, 0.016, utilization=0.25)
    assert c.next(2) == (False, 1)
    c.record(False, 1, 0.0033, False)  # serial: 3.3 ms
    waits = []
    for _ in range(5):
        spent = 0.0
        while True:
            par, todo = c.next(9)
            if par:
                break
            c.record(False, todo, todo * 0.0033, False)
            spent += todo * 0.0033
        waits.append(spent)
        c.record(True, todo, todo * 0.0012, False, 1.0)  # the probe: both cores free
        assert c.parallel is True
        assert c.next(9) == (True, 9)
        c.record(True, 9, 9 * 0.016, False, 0.25)  # then the other program's turn
        assert c.parallel is False
    # seconds of serial work between probes: 0.1, 0.2, 0.4, ... (to within one slice)
    for k, spent in enumerate(waits):
        assert adaptive.SERIAL_PROBE_S * 2**k <= spent < adaptive.SERIAL_PROBE_S * 2**k + 0.03
    for _ in range(10):  # the wait stops growing at MAX_SERIAL_PROBE_S
        c.record(True, 1, 0.0012, False, 1.0)
        c.record(True, 9, 9 * 0.016, False, 0.25)
    assert c.serial_wait == adaptive.MAX_SERIAL_PROBE_S


def test_short_iterations_get_the_quick_check_first() -> None:
    """One serial slice, then one parallel iteration: serial at once where that iteration
    waited at its barrier (busy), parallel as before where it did not."""
    busy = SliceChooser(True, expected_s=1e-4)
    assert busy.next(5) == (False, 5)
    busy.record(False, 5, 5 * 8e-5, False)
    assert busy.next(20) == (True, 1)
    busy.record(True, 1, 6e-3, False, 0.5)  # a time slice of the OS scheduler
    assert busy.parallel is False
    assert busy.next(20) == (False, 20)
    idle = SliceChooser(True, expected_s=1e-4)
    idle.next(5)
    idle.record(False, 5, 5 * 8e-5, False)
    assert idle.next(20) == (True, 1)
    idle.record(True, 1, 1.5e-4, False, 0.6)  # waking the pool: slower, not 4 times
    assert idle.parallel is True
    assert idle.next(20) == (True, 20)  # and the warm slices come as before
    long_ = SliceChooser(True, expected_s=adaptive.QUICK_MAX_S)
    assert long_.next(5) == (True, 5)  # long iterations: no quick check
