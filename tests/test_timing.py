"""The one timing harness (vecstudy.runtime.timing): calibration, rotated rounds, medians."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial

import pytest

from vecstudy.runtime import timing


class _Timer:
    """Calls of ``per_call`` seconds each, without waiting."""

    def __init__(self, per_call: float) -> None:
        self.per_call = per_call
        self.asked: list[int] = []

    def timeit(self, number: int = 1) -> float:
        self.asked.append(number)
        return self.per_call * number


def test_calibrate_follows_autorange_steps_and_returns_the_timing() -> None:
    t = _Timer(1e-3)
    loops, seconds = timing.calibrate(t, 0.015)
    assert loops == 20
    assert seconds == pytest.approx(0.02)
    assert t.asked == [1, 2, 5, 10, 20]
    assert timing.autorange(_Timer(1.0), 0.2) == 1


def test_interleaved_rotates_the_order_from_round_to_round() -> None:
    seen: list[str] = []
    calls: list[Callable[[], object]] = [partial(seen.append, k) for k in "ABC"]
    samples = timing.interleaved(calls, 4, min_time=0.0)
    # warm-up, calibration (one call each: min_time 0), then A B C, B C A, C A B, A B C
    assert "".join(seen) == "ABC" + "ABC" + "ABCBCACABABC"
    assert [len(s) for s in samples] == [4, 4, 4]
    seen.clear()
    timing.interleaved(calls, 1, min_time=0.0, warmup=False)
    assert "".join(seen) == "ABC" + "ABC"


def test_interleaved_gives_seconds_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timing, "autorange", lambda timer, min_time: 8)
    monkeypatch.setattr(timing, "time_round", lambda call, loops: 0.5 * loops)
    assert timing.interleaved([lambda: None, lambda: None], 3, min_time=1.0) == [[0.5] * 3] * 2
    assert timing.median_time(lambda: None, 3, min_time=1.0) == 0.5
    with pytest.raises(ValueError, match="rounds must be at least 1; got 0"):
        timing.interleaved([lambda: None], 0, min_time=1.0)


def test_rotated_and_median() -> None:
    assert timing.rotated([], 3) == []
    assert timing.rotated([1, 2, 3], 5) == [3, 1, 2]
    assert timing.median([5.0, 1.0, 3.0, 2.0]) == 2.5
    with pytest.raises(ValueError, match="median of no samples"):
        timing.median([])


def test_quiesce_returns_after_one_step_when_idle() -> None:
    waited = timing.quiesce(max_s=2.0)
    assert timing.QUIESCE_STEP_S * 0.9 <= waited < 1.0


def test_quiesce_waits_for_a_spinning_thread_to_stop() -> None:
    """A thread that spins (as OpenBLAS's idle ones do) holds it back until it stops."""
    stop_at = time.perf_counter() + 0.15
    spinning = threading.Event()

    def spin() -> None:
        spinning.set()
        while time.perf_counter() < stop_at:
            pass

    t = threading.Thread(target=spin)
    t.start()
    spinning.wait()
    waited = timing.quiesce(max_s=5.0)
    t.join()
    assert time.perf_counter() >= stop_at
    assert waited >= 0.1  # it did not return while the thread still spun


def test_quiesce_gives_up_after_max_s() -> None:
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    t = threading.Thread(target=spin)
    t.start()
    try:
        waited = timing.quiesce(max_s=0.05)
    finally:
        stop.set()
        t.join()
    assert 0.05 <= waited < 1.0


def test_interleaved_quiet_waits_before_each_change_of_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events: list[str] = []
    monkeypatch.setattr(timing, "quiesce", lambda: events.append("quiet") or 0.0)
    calls = [lambda: events.append("A"), lambda: events.append("B")]
    monkeypatch.setattr(timing, "autorange", lambda timer, min_time: 1)
    timing.interleaved(calls, 2, min_time=0.0, warmup=False, quiet=True)
    # calibration (each after a quiesce), then rounds A B, B A: a wait before each
    # change of call, none before B timed twice in a row
    assert events == ["quiet", "quiet", "quiet", "A", "quiet", "B", "B", "quiet", "A"]
    events.clear()
    timing.interleaved(calls[:1], 2, min_time=0.0, warmup=False, quiet=True)
    assert "quiet" not in events  # one call alone: nothing to wait for
