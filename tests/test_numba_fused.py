"""A descent by a split plan reads X once per iteration: the backward pass of one
iteration and the forward pass of the next go together (``kernels._descend_body``, ``fused``).

It must give what the two-pass descent gives: the same sums in the same order, through
the same functions (bitwise the same on the machines it was measured on; the test allows
the last bits, which a compiler vectorising the inlined loops another way could change),
the same bits whatever the threads and however the descent is sliced, and stop where the
two-pass descent stops.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from vecstudy import backends, config
from vecstudy.backends.numba import planning
from vecstudy.runtime.caches import cache_sizes
from vecstudy.runtime.threads import limit_threads

#: A model of the caches that makes these shapes split plans on any machine.
CACHES = "32K,512K,2M"
#: Wide C-ordered X: split plans (panels of rows), with and without a remainder of
#: fewer than eight rows in the last panel; the last two of short rows (kernels.
#: SHORT_ROW_BYTES), walked in blocks of rows.
SHAPES = [(4096, 300), (1501, 257), (3003, 40), (997, 20)]


def _forget_caches() -> None:
    cache_sizes.cache_clear()  # read once per process
    planning._model.cache_clear()


@pytest.fixture
def nb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("VECSTUDY_CACHE_SIZES", CACHES)
    _forget_caches()
    with config.use_tune("off"):  # the cache model's plan, not one measured here
        yield backends.load("numba")
    monkeypatch.undo()
    _forget_caches()


def _problem(n_x: int, m: int, dtype: str, seed: int = 5) -> tuple[Any, float, Any, Any]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_x, m)).astype(dtype)
    Y = (rng.random(m) < 0.5).astype(dtype)
    w = (rng.normal(size=n_x) / np.sqrt(n_x)).astype(dtype)
    return w, 0.3, X, Y


def _plan(nb: Any, X: Any) -> tuple[int, ...]:
    return nb._prepare(X)[1]  # type: ignore[no-any-return]


@pytest.mark.parametrize("shape", SHAPES)
def test_split_descents_take_the_one_pass_walk(nb: Any, shape: tuple[int, int]) -> None:
    _, _, X, _ = _problem(*shape, "float64")
    pl = _plan(nb, X)
    assert pl[0] == planning.SPLIT
    assert nb._fuses(pl, X)
    assert not nb._fuses(_plan(nb, np.asfortranarray(X)), X)  # sample-major: one pass already


def test_rows_too_long_for_the_caches_keep_two_passes(
    nb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight rows beyond this core's share of L3 would be read from memory twice anyway."""
    _, _, X, _ = _problem(2048, 300, "float64")
    pl = _plan(nb, X)
    assert nb._fuses(pl, X)
    monkeypatch.setenv("VECSTUDY_CACHE_SIZES", "32K,512K,16K")  # 8 rows: 19 KB > 16 KB
    cache_sizes.cache_clear()
    assert not nb._fuses(pl, X)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", SHAPES)
def test_one_pass_gives_the_two_pass_descent(
    nb: Any, monkeypatch: pytest.MonkeyPatch, shape: tuple[int, int], dtype: str
) -> None:
    w, b, X, Y = _problem(*shape, dtype)
    fused = nb.optimize(w, b, X, Y, 9, 0.5, 2)
    monkeypatch.setattr(nb, "_fuses", lambda pl, X: False)
    two = nb.optimize(w, b, X, Y, 9, 0.5, 2)
    rtol = 1e-12 if dtype == "float64" else 2e-4
    atol = 1e-15 if dtype == "float64" else 1e-7
    np.testing.assert_allclose(fused[0], two[0], rtol=rtol, atol=atol)  # w
    np.testing.assert_allclose(fused[1], two[1], rtol=rtol, atol=atol)  # b
    np.testing.assert_allclose(fused[2], two[2], rtol=rtol, atol=atol)  # dw
    np.testing.assert_allclose(fused[3], two[3], rtol=rtol, atol=atol)  # db
    np.testing.assert_allclose(fused[4], two[4], rtol=rtol, atol=atol)  # costs
    assert fused[5] == two[5] == 9
    assert len(fused[4]) == 5
    assert not np.array_equal(fused[0], w)  # it moved


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(1501, 257), (997, 20)])
def test_one_pass_is_bitwise_the_same_in_slices_and_on_any_thread_count(
    nb: Any, monkeypatch: pytest.MonkeyPatch, dtype: str, shape: tuple[int, int]
) -> None:
    """The forward carried from slice to slice is the one the unsliced loop computes."""
    w, b, X, Y = _problem(*shape, dtype)
    runs = []
    for threads in (1, 2):
        for slice_s in (1e9, 1e-12):  # one slice; one iteration a slice
            monkeypatch.setattr(nb, "SLICE_SECONDS", slice_s)
            with limit_threads(threads, numba=True):
                runs.append(nb.optimize(w, b, X, Y, 23, 0.5, 3))
    first = runs[0]
    for run in runs[1:]:
        for got, want in zip(run, first, strict=True):
            np.testing.assert_array_equal(got, want)


def test_one_pass_stops_where_the_two_pass_descent_stops(
    nb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update that overflows stops the descent: w and b are the last finite ones."""
    w, b, X, Y = _problem(1501, 257, "float64")
    X[7, :] *= 1e300  # the gradient of row 7 overflows the update at once
    fused = nb.optimize(w, b, X, Y, 5, 1e10, 1)
    monkeypatch.setattr(nb, "_fuses", lambda pl, X: False)
    two = nb.optimize(w, b, X, Y, 5, 1e10, 1)
    assert fused[5] == two[5] < 5
    np.testing.assert_array_equal(fused[0], two[0])
    assert fused[1] == two[1]
    assert np.isfinite(fused[0]).all()


def test_a_descent_that_reads_x_once_is_copied_to_f_only_for_long_runs(nb: Any) -> None:
    """The sample-major walk saves less over one pass than over two: the copy pays later."""
    _, _, X, _ = _problem(4096, 600, "float64")  # rows of 4.8 KB
    assert planning.relayout_order(X, 40) == "F"  # against two passes, 20 iterations pay
    assert nb.relayout_order(X, 40) is None
    assert nb.relayout_order(X, planning.RELAYOUT_MIN_ITERATIONS_SMALL_GAIN) == "F"
    assert nb.relayout_order(np.asfortranarray(X), 40) is None  # F already
    _, _, short, _ = _problem(4096, 100, "float64")  # rows of 800 bytes: F still pays
    assert nb._fuses(_plan(nb, short), short)
    assert nb.relayout_order(short, 40) == "F"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_forward_segment_changes_no_bits(nb: Any, dtype: str) -> None:
    """A split plan's ``B``, the segment of its forward pass, changes the order of the
    memory accesses only: each ``z_j`` adds the same terms in the same order."""
    w, b, X, Y = _problem(1501, 257, dtype)
    base = nb.plan(*X.shape, X.dtype.itemsize, "C")
    assert base.mode == nb.SPLIT
    assert base.B == 0  # the model's: planning.SEGMENT_BYTES
    steps, descents = [], []
    for seg in (0, 1, 7, 64, 256, 257, 10**6):
        pl = base._replace(B=seg)
        Xs, ints, scratch = nb._prepare(X, pl)
        dw = np.empty(X.shape[0], X.dtype)
        sums = nb._sums_serial(w, X.dtype.type(b), Xs, Y, True, ints, *scratch, dw)
        steps.append((dw.tobytes(), sums))
        w_d = w.copy()
        out = nb._descend_serial(
            w_d, X.dtype.type(b), Xs, Y, 0, 3, X.dtype.type(0.1), 1, X.dtype.type(1e30),
            ints, *scratch, np.empty_like(w), np.empty_like(w), np.empty(3, X.dtype), 0,
            np.empty_like(w), 1,
        )  # fmt: skip
        descents.append((w_d.tobytes(), out))
    assert all(s == steps[0] for s in steps[1:])
    assert all(d == descents[0] for d in descents[1:])
    assert "in segments of 64" in planning.describe_plan(base._replace(B=64))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_short_rows_give_the_same_forward_in_blocks_as_by_panel(nb: Any, dtype: str) -> None:
    """The one-pass step over short rows (blocks of rows) adds the same sums as the
    panel's forward pass, bitwise: the same function over the same groups of eight."""
    from vecstudy.backends.numba import kernels

    w, _, X, Y = _problem(203, 24, dtype)  # 203 rows: blocks of 64 and a remainder
    assert X.shape[1] * X.itemsize <= kernels.SHORT_ROW_BYTES
    d = (Y - 0.5).astype(dtype)
    dt = X.dtype.type
    dw_sum, dw, w_next = (np.zeros(203, dtype) for _ in range(3))
    zp = np.zeros(24, dtype)
    kernels._panel_step(X, d, 0, 203, w, dt(0.1), dt(1 / 24), dw_sum, dw, w_next, zp)
    want = np.zeros(24, dtype)
    kernels._panel_forward(w_next, X, 0, 203, want, 0)
    np.testing.assert_array_equal(zp, want)
    tol = {"rtol": 1e-4, "atol": 1e-7} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-15}
    np.testing.assert_allclose(w_next, w - 0.1 * (X.astype(float) @ d) / 24, **tol)
