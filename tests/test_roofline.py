"""The roofline's measurements on tiny shapes: which targets, their ratios and goals, the read probe.

The timing itself (``_medians``: ``timeit`` autorange, a fifth of a second per
figure) is replaced by one timed call, so that the study's plumbing runs in seconds;
every kernel is still called on real data.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from vecstudy import backends
from vecstudy.report import roofline as report_roofline
from vecstudy.runtime.cores import available_cores
from vecstudy.study import roofline

#: 20x10000 float64 is 1.6 MB: both memory orders, and (with the bounds lowered) the
#: float32, iteration and iteration/mem targets apply to it.
WIDE = (20, 10_000)
ALL = min(2, available_cores())
#: A short descent of wide C-ordered X (3 iterations a call): the split plan's one pass.
SHORT = (96, 500)


def _one_call(fns: Sequence[Callable[[], object]], repeat: int) -> list[float]:
    """One warm-up call and one timed call of each (the real one takes medians of
    autoranged interleaved rounds)."""
    assert repeat >= 1
    out = []
    for fn in fns:
        fn()
        t0 = time.perf_counter()
        fn()
        out.append(max(time.perf_counter() - t0, 1e-9))
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pd.DataFrame]:
    """The quick study on two small shapes, without the optional peers (measured once)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("VECSTUDY_")]:
            mp.delenv(name)  # as the per-test config fixture does, which runs after this one
        mp.setenv("VECSTUDY_TUNE_DIR", str(tmp_path_factory.mktemp("tune")))
        mp.setattr(roofline, "_medians", _one_call)
        mp.setattr(roofline, "GRID_QUICK", [(2, 100), WIDE])
        mp.setattr(roofline, "ITER_SHAPES_QUICK", [WIDE])
        mp.setattr(roofline, "SHORT_SHAPES_QUICK", [(*SHORT, 3)])
        mp.setattr(roofline, "OPT_SHAPES", [(2, 100)])
        mp.setattr(roofline, "PY_SHAPES_QUICK", [(2, 100)])
        mp.setattr(roofline, "ITERATIONS", 2)
        for bound in ("BIG_BYTES", "ITER_BYTES", "MEM_BYTES"):
            mp.setattr(roofline, bound, 1e6)
        mp.setattr(roofline.JaxDescent, "load", classmethod(lambda _cls: None))
        yield roofline.measure_targets(threads=ALL, quick=True, progress=False)


def test_every_target_is_measured_on_each_shape_order_and_thread_count(
    tiny: pd.DataFrame,
) -> None:
    seen = {(r["target"], r["shape"], r["order"], r["threads"]) for r in tiny.to_dict("records")}
    counts = sorted({1, ALL})
    expected = {("step", "2x100", "C", t) for t in counts}  # under 1 MB: C order only
    expected |= {("step", "20x10000", o, t) for o in "CF" for t in counts}
    expected |= {("float32", "20x10000", "C", t) for t in counts}  # C order only
    expected |= {(target, "20x10000", o, t) for target in ("iteration", "iteration/mem")
                 for o in "CF" for t in counts}  # fmt: skip
    expected |= {("iteration", "96x500", "C", t) for t in counts}
    expected |= {("whole fit", "2x100", "C", t) for t in counts}
    expected |= {("step vs python", "2x100", "C", 1), ("fit vs python", "2x100", "C", 1)}
    assert seen == expected
    assert len(tiny) == len(expected)  # one row each
    f32 = tiny[tiny["target"] == "float32"]
    assert set(f32["dtype"]) == {"float32"}
    assert set(f32["baseline"]) == {"numba f64"}
    assert set(tiny.loc[tiny["target"] != "float32", "dtype"]) == {"float64"}


def test_ratios_are_bigger_is_better_and_statuses_follow_the_goals(tiny: pd.DataFrame) -> None:
    assert (tiny["numba_s"] > 0).all()
    assert (tiny["baseline_s"] > 0).all()
    # every ratio is baseline / numba: above 1 where numba is faster
    np.testing.assert_allclose(tiny["ratio"], tiny["baseline_s"] / tiny["numba_s"], rtol=1e-12)
    for r in tiny.to_dict("records"):
        goal = r["goal"]
        if goal is None or pd.isna(goal):
            assert r["status"] == "info", r
        else:
            assert r["status"] == ("PASS" if r["ratio"] >= goal else "MISS"), r
    goals = {(r["target"], r["order"], r["threads"]): r["goal"] for r in tiny.to_dict("records")}
    assert goals["step", "C", 1] == 1.0
    assert goals["float32", "C", 1] == 1.7
    assert goals["iteration", "F", 1] == 1.3  # X >= ITER_BYTES (lowered here)
    assert pd.isna(goals["whole fit", "C", 1])  # scored at 20x10000 only
    assert goals["step vs python", "C", 1] == 100.0
    # the memory bound is scored with all threads only
    assert goals["iteration/mem", "F", ALL] == pytest.approx(1 / 1.5)
    if ALL > 1:
        assert pd.isna(goals["iteration/mem", "F", 1])


def test_the_read_probe_gives_the_memory_bound(tiny: pd.DataFrame) -> None:
    """bytes(X) / bandwidth is the read time of X itself, in the same run and threads."""
    nbytes = WIDE[0] * WIDE[1] * 8
    mem = tiny[tiny["target"] == "iteration/mem"]
    assert set(mem["baseline"]) == {"bytes/bw"}
    for r in mem.to_dict("records"):
        read = float(re.search(r"read ([\d.]+) GB/s", r["note"]).group(1))  # type: ignore[union-attr]
        assert read == pytest.approx(nbytes / r["baseline_s"] / 1e9, abs=0.051)
    steps = tiny[tiny["target"] == "step"]
    assert steps["note"].str.contains(r"^X [\d.]+ MB, read [\d.]+ GB/s, step/read [\d.]+").all()


def test_read_sum_reads_every_element_once(rng: np.random.Generator) -> None:
    nb = backends.load("numba")
    for shape in ((3, 7), (20, 10_001), (1, 1)):
        X = rng.standard_normal(shape)
        for a in (X, np.asfortranarray(X), X.astype(np.float32)):
            tol = 1e-4 if a.dtype == np.float32 else 1e-10
            assert nb.read_sum(a) == pytest.approx(float(X.sum()), rel=tol, abs=tol * X.size)


def test_attrs_and_the_summary_table(tiny: pd.DataFrame) -> None:
    attrs: dict[str, Any] = tiny.attrs
    assert attrs["numba_threads"] == ALL
    assert attrs["quick"] is True
    assert "jax not installed (its rows skipped)" in attrs["peers"]
    for key in ("blas", "threading_layer", "svml", "fastmath", "caches"):
        assert key in attrs
    text = report_roofline.format_targets(tiny)
    scored = tiny[tiny["status"] != "info"]
    passed = int((scored["status"] == "PASS").sum())
    assert f"\n{passed} of {len(scored)} targets PASS" in text
    assert text.count("\n  MISS ") == len(scored) - passed
    assert "starts once no thread of the process spins" in text  # how it was timed
    assert len(text.splitlines()) == 9 + len(tiny) + 2 + len(scored) - passed


def test_progress_lines_go_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(roofline, "_medians", _one_call)
    for name in (
        "GRID_QUICK",
        "ITER_SHAPES_QUICK",
        "SHORT_SHAPES_QUICK",
        "OPT_SHAPES",
        "PY_SHAPES_QUICK",
    ):
        monkeypatch.setattr(roofline, name, [])
    monkeypatch.setattr(roofline, "GRID_QUICK", [(2, 100)])
    monkeypatch.setattr(roofline.JaxDescent, "load", classmethod(lambda _cls: None))
    df = roofline.measure_targets(threads=1, quick=True, progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert len(df) == 1
    assert re.fullmatch(r"  step +2x100 C float64 t=1 numba +[\d.]+ ms  numpy +[\d.]+ ms  "
                        r"ratio [\d.]+ (PASS|MISS)\n", err)  # fmt: skip
    roofline.measure_targets(threads=1, quick=True, progress=False)
    assert capsys.readouterr() == ("", "")
