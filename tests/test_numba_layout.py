"""The numba backend's layouts: C and F order, wide and tall X, one relayout per descent."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import vecstudy
from vecstudy import backends
from vecstudy.runtime.caches import CacheSizes, cache_sizes, parse_size, read_sysfs
from vecstudy.runtime.threads import limit_threads

#: fused C, sample-major F (four samples side by side: 30, 3000 and 5 features; one by
#: one: 300), feature-split C (wide, and too few sample blocks for threads)
SHAPES = [(30, 40_000), (3000, 40), (300, 700), (5, 20_000)]


def _problem(
    n_x: int, m: int, dtype: str, order: str, seed: int = 11
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.asarray(rng.normal(size=(n_x, m)).astype(dtype), order=order)
    Y = (rng.random(m) < 0.5).astype(dtype)
    w = (rng.normal(size=n_x) / np.sqrt(n_x)).astype(dtype)
    return w, -0.2, X, Y


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", SHAPES)
def test_numba_agrees_with_numpy_in_both_orders(shape: tuple[int, int], order: str) -> None:
    nb, ref = backends.load("numba"), backends.load("numpy")
    w, b, X, Y = _problem(*shape, "float64", order)
    got, want = nb.propagate(w, b, X, Y), ref.propagate(w, b, X, Y)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10, atol=1e-13)
    assert got[1] == pytest.approx(want[1], rel=1e-10, abs=1e-13)
    assert got[2] == pytest.approx(want[2], rel=1e-12)
    np.testing.assert_array_equal(nb.predict(w, b, X), ref.predict(w, b, X))
    w1, _b1, _, _, c1, done = nb.optimize(w, b, X, Y, 5, 0.1, 2)
    w2, _b2, _, _, c2, _ = ref.optimize(w, b, X, Y, 5, 0.1, 2)
    assert done == 5
    np.testing.assert_allclose(w1, w2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c1, c2, rtol=1e-10)


def test_each_layout_is_planned() -> None:
    """The shapes above cover the four walks over X (so the tests above test all four)."""
    nb = backends.load("numba")
    seen = {nb.describe(np.zeros(s, order=o)).split(":")[0] for s in SHAPES for o in "CF"}
    assert seen == {"fused C", "sample-major F", "sample-major F, one by one", "split C"}


def test_scratch_rows_hold_z_and_the_links_exp() -> None:
    """The kernels index their scratch without bounds checks: a tile's row must hold
    ``z`` and the link's ``exp`` (2 B), and the split path's panel rows ``m`` samples."""
    from vecstudy.backends.numba.planning import _prepare as prepare_plan

    nb = backends.load("numba")
    caches = [CacheSizes(32 << 10, 512 << 10, 16 << 20, "test"), cache_sizes()]
    for (n_x, m), order, c in (
        (s, o, c) for s in [*SHAPES, (3, 5), (12288, 209)] for o in "CF" for c in caches
    ):
        X = np.zeros((n_x, m), order=order)
        pl = nb.plan(n_x, m, 8, order, c)
        _, ints, (zbuf, dwp, _, _) = prepare_plan(X, pl)
        if pl.mode == nb.SPLIT:
            assert zbuf.shape == (pl.n_chunks + 1, m)
        else:
            assert zbuf.shape[1] >= 2 * pl.B, (n_x, m, order, pl)
            assert dwp.shape == (pl.n_chunks, n_x)
        assert ints[:5] == (pl.mode, pl.B, pl.T, pl.n_chunks, pl.P)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_x", [4, 48, 96, 500, 1024, 3000])
def test_short_samples_take_the_one_by_one_walk(n_x: int, dtype: str) -> None:
    """F samples of 384 bytes to 4 KiB: forward dot products one sample at a time, the
    same tiles and chunks as four side by side; the same sums either way."""
    nb = backends.load("numba")
    from vecstudy.backends.numba.planning import SEQ_MAX_BYTES, SEQ_MIN_BYTES, plan

    caches = CacheSizes(32 << 10, 512 << 10, 16 << 20, "t")
    size = np.dtype(dtype).itemsize
    pl = plan(n_x, 5000, size, "F", caches)
    seq = SEQ_MIN_BYTES <= n_x * size < SEQ_MAX_BYTES
    assert pl.mode == (nb.SAMPLE_SEQ if seq else nb.SAMPLE)
    assert plan(n_x, 5000, size, "C", caches).mode != nb.SAMPLE_SEQ
    w, b, X, Y = _problem(n_x, 5000, dtype, "F")
    other = pl._replace(mode=nb.SAMPLE if seq else nb.SAMPLE_SEQ)
    sums = []
    for p in (pl, other):
        Xs, ints, (zbuf, dwp, dbp, cp) = nb._prepare(X, p)
        dw = np.empty(n_x, X.dtype)
        kernel = nb._sums_parallel if ints[5] else nb._sums_serial
        dbs, cost = kernel(w, X.dtype.type(b), Xs, Y, True, ints, zbuf, dwp, dbp, cp, dw)
        sums.append((dw, dbs, cost))
    # sums of m terms in another order: rounding bounded by eps * (sum of |terms|),
    # with |d_j| <= 1 and |z_j| <= sum_i |w_i X_ij|
    eps = float(np.finfo(X.dtype).eps)
    terms = np.abs(X.astype(np.float64)).sum(axis=1)
    z_terms = float((np.abs(w.astype(np.float64)) @ np.abs(X.astype(np.float64))).sum())
    want = backends.load("numpy").gradient_sums(
        w.astype(np.float64), b, X.astype(np.float64), Y.astype(np.float64), True
    )
    for got in sums:
        np.testing.assert_array_less(np.abs(got[0] - want[0]), 16 * eps * terms)
        assert abs(got[1] - want[1]) <= 16 * eps * X.shape[1]
        assert abs(got[2] - want[2]) <= 16 * eps * (z_terms + X.shape[1])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(3000, 40), (300, 700), (300, 2100), (12, 30_000)])
def test_bitwise_the_same_for_any_thread_count(
    shape: tuple[int, int], order: str, dtype: str
) -> None:
    """Wide and F-ordered X too: partial sums in a fixed order, whatever the threads."""
    nb = backends.load("numba")
    if nb.max_threads() < 2:
        pytest.skip("needs 2 Numba threads")
    w, b, X, Y = _problem(*shape, dtype, order)
    assert "parallel" in nb.describe(X)
    results = []
    for threads in (1, 2, 1, 2):
        with limit_threads(threads, numba=True):
            results.append((nb.propagate(w, b, X, Y), nb.optimize(w, b, X, Y, 3, 0.1, 1)))
    (step0, opt0) = results[0]
    for step, opt in results[1:]:
        np.testing.assert_array_equal(step[0], step0[0])
        assert step[1:] == step0[1:]
        np.testing.assert_array_equal(opt[0], opt0[0])
        np.testing.assert_array_equal(opt[4], opt0[4])
        assert (opt[1], opt[3]) == (opt0[1], opt0[3])


def test_optimize_relays_out_once_within_the_bound(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wide C-ordered X: copied once into F order (logged), unless over relayout_max_mb
    (120 iterations: a split plan's descent reads X once, and is copied only for 100)."""
    from vecstudy import api

    monkeypatch.setattr(api, "_relayout_seen", set())  # INFO on the first call of a shape
    w, b, X, Y = _problem(1100, 50, "float64", "C")
    expected = vecstudy.optimize(w, b, X, Y[None, :], 120, 0.1, backend="numpy")
    with caplog.at_level(logging.INFO, logger="vecstudy"):
        got = vecstudy.optimize(w, b, X, Y[None, :], 120, 0.1, backend="numba")
    assert "copied once into F order" in caplog.text
    np.testing.assert_allclose(got[0]["w"], expected[0]["w"], rtol=1e-9)
    caplog.clear()
    monkeypatch.setenv("VECSTUDY_RELAYOUT_MAX_MB", "0.1")  # X is 0.44 MB
    with caplog.at_level(logging.INFO, logger="vecstudy"):
        kept = vecstudy.optimize(w, b, X, Y[None, :], 120, 0.1, backend="numba")
    assert "kept in its layout" in caplog.text
    assert "VECSTUDY_RELAYOUT_MAX_MB" in caplog.text
    np.testing.assert_allclose(kept[0]["w"], expected[0]["w"], rtol=1e-9)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="vecstudy"):
        vecstudy.optimize(w, b, X, Y[None, :], 3, 0.1, backend="numba")  # too few to pay
    assert "copied" not in caplog.text


def test_relayout_is_logged_at_info_once_per_shape(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop of short descents on one X says "copied once" at INFO once, then at DEBUG."""
    from vecstudy import api

    monkeypatch.setattr(api, "_relayout_seen", set())
    w, b, X, Y = _problem(1100, 50, "float64", "C")
    with caplog.at_level(logging.DEBUG, logger="vecstudy"):
        for _ in range(3):
            vecstudy.optimize(w, b, X, Y[None, :], 120, 0.1, backend="numba")
    levels = [r.levelno for r in caplog.records if "copied once" in r.getMessage()]
    assert levels == [logging.INFO, logging.DEBUG, logging.DEBUG]


def test_bad_relayout_bound_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECSTUDY_RELAYOUT_MAX_MB", "lots")
    w, b, X, Y = _problem(1100, 50, "float64", "C")
    with pytest.raises(
        vecstudy.config.ConfigError,
        match=r"bad relayout_max_mb 'lots' from environment variable VECSTUDY_RELAYOUT_MAX_MB",
    ):
        vecstudy.optimize(w, b, X, Y[None, :], 120, 0.1, backend="numba")


def test_f_ordered_input_is_not_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    """The api passes an F-contiguous X through: the kernel sees the caller's memory."""
    nb = backends.load("numba")
    seen = []
    real = nb.propagate
    monkeypatch.setattr(nb, "propagate", lambda w, b, X, Y: seen.append(X) or real(w, b, X, Y))
    data = np.random.default_rng(0).normal(size=(50, 8))  # (samples, features), as files give
    X = data.T
    vecstudy.propagate(np.zeros((8, 1)), 0.0, X, np.ones((1, 50)), backend="numba")
    assert np.shares_memory(seen[0], data)


def test_cache_sizes_from_sysfs_and_fallback(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for i, (level, kind, size, shared) in enumerate(
        [
            (1, "Data", "48K", "0"),
            (1, "Instruction", "32K", "0"),
            (2, "Unified", "1280K", "0"),
            (3, "Unified", "32M", "0-3"),
        ]
    ):
        d = tmp_path / f"index{i}"
        d.mkdir()
        for name, value in (
            ("level", level),
            ("type", kind),
            ("size", size),
            ("shared_cpu_list", shared),
        ):
            (d / name).write_text(f"{value}\n")
    assert read_sysfs(tmp_path) == {1: 48 << 10, 2: 1280 << 10, 3: 8 << 20}
    assert read_sysfs(tmp_path / "missing") == {}
    assert parse_size("1280K") == 1280 << 10
    c = cache_sizes()
    assert c.l1d > 0
    assert c.l2 >= c.l1d
    monkeypatch.setenv("VECSTUDY_CACHE_SIZES", "32K,1M,2M")
    cache_sizes.cache_clear()
    try:
        assert cache_sizes() == CacheSizes(32 << 10, 1 << 20, 2 << 20, "VECSTUDY_CACHE_SIZES")
        monkeypatch.setenv("VECSTUDY_CACHE_SIZES", "big")
        cache_sizes.cache_clear()
        with pytest.raises(ValueError, match="VECSTUDY_CACHE_SIZES must be three sizes"):
            cache_sizes()
    finally:
        cache_sizes.cache_clear()


def test_plan_follows_the_caches() -> None:
    """A larger L1d gives longer sample-major tiles; a small L3 sends wide C X to the split path."""
    nb = backends.load("numba")
    small = CacheSizes(32 << 10, 1 << 20, 2 << 20, "test")
    large = CacheSizes(64 << 10, 2 << 20, 32 << 20, "test")
    assert nb.plan(100, 10_000, 8, "F", small).B < nb.plan(100, 10_000, 8, "F", large).B
    assert nb.plan(1000, 100_000, 8, "C", small).mode == nb.SPLIT
    assert nb.plan(1000, 100_000, 8, "C", large).mode == nb.FUSED
    # C tiles of a few hundred features are sized to L2, with row segments >= 1 KiB,
    # where X fits in the L3 share (400x5000: 8 or 16 MB) or a long tile would not
    # fit in half of it (the small caches)
    for itemsize in (4, 8):
        tiles = [
            nb.plan(400, 5_000, itemsize, "C", large),
            *(nb.plan(400, m, itemsize, "C", small) for m in (5_000, 100_000)),
        ]
        assert all(t.mode == nb.FUSED and t.B * itemsize >= 1024 for t in tiles)
        assert all(400 * itemsize * t.B <= large.l2 for t in tiles[:1])
        assert all(400 * itemsize * t.B <= small.l2 for t in tiles[1:])
        # X streaming from memory, a long tile in half the L3 share: long row segments
        t = nb.plan(400, 100_000, itemsize, "C", large)
        assert t.mode == nb.FUSED
        assert t.B * itemsize == nb.STREAM_SEGMENT_BYTES
        assert 2 * 400 * itemsize * t.B <= large.l3_per_core
    assert nb.plan(400, 100_000, 4, "C", small).B < nb.plan(400, 100_000, 4, "C", large).B


def test_descents_of_a_few_hundred_features_in_l3_walk_by_panels() -> None:
    """A descent reads X once per iteration by panels where a step takes fused tiles:
    C order, at least SPLIT_DESCENT_MIN_ROWS features, X within the L3 share."""
    from vecstudy.backends.numba import planning, tuning

    nb = backends.load("numba")
    c = CacheSizes(32 << 10, 512 << 10, 16 << 20, "test")
    step = nb.plan(200, 8000, 8, "C", c)
    descent = nb.plan(200, 8000, 8, "C", c, kind="descent")
    assert step.mode == nb.FUSED
    assert descent.mode == nb.SPLIT
    assert descent.n_chunks == planning.SPLIT_DESCENT_PANELS
    assert descent.P % 8 == 0
    assert descent.P * descent.n_chunks >= 200
    assert descent.parallel
    # fewer features, X beyond the L3 share, F order: the step's walk
    for shape, order in (((64, 8000), "C"), ((200, 80_000), "C"), ((200, 8000), "F")):
        assert nb.plan(*shape, 8, order, c, kind="descent") == nb.plan(*shape, 8, order, c)
    # the tuner times the descent's panels first, then the step's tiles
    here = nb.plan(257, 12345, 4, "C", kind="descent")
    if here.mode == nb.SPLIT and nb.plan(257, 12345, 4, "C").mode == nb.FUSED:
        cands = tuning.candidates(257, 12345, 4, "C", kind="descent")
        assert cands[0] == here._replace(parallel=False)
        assert any(p.mode == nb.FUSED for p in cands)
        assert len(set(cands)) == len(cands)


def test_a_descent_by_panels_agrees_with_numpy() -> None:
    """The same descent by the model's panels and by NumPy (float64, 30 iterations)."""
    from vecstudy.backends.numba import planning

    nb = backends.load("numba")
    npb = backends.load("numpy")
    rng = np.random.default_rng(4)
    X = rng.standard_normal((136, 700))
    Y = (rng.random(700) < 0.5).astype(np.float64)
    w = rng.standard_normal(136) * 0.01
    panels = planning._model_split(136, True, planning.SPLIT_DESCENT_PANELS)
    original = nb.plan
    try:
        nb.plan = lambda *a, **k: panels  # type: ignore[assignment]
        got = nb.optimize(w, 0.1, X, Y, 30, 0.05, 10)
    finally:
        nb.plan = original  # type: ignore[assignment]
    want = npb.optimize(w, 0.1, X, Y, 30, 0.05, 10)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got[4], want[4], rtol=1e-12)
    assert got[5] == want[5] == 30


@pytest.mark.slow
@pytest.mark.parametrize("order", ["C", "F"])
def test_layout_benchmarks_run_on_the_course_shape(order: str) -> None:
    """The asv layout classes set up and run on 12288x209 (the smallest of their shapes)."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from benchmarks import bench_kernels

    assert "12288x209" in bench_kernels.PropagateLayout.params[1]
    for cls in (bench_kernels.PropagateLayout, bench_kernels.OptimizeLayout):
        bench = cls()
        params = ("numba", "12288x209", order, 1)
        bench.setup(*params)
        try:
            assert bench.X.flags.f_contiguous == (order == "F")
            for name in dir(bench):
                if name.startswith("time_"):
                    getattr(bench, name)(*params)
        finally:
            bench.teardown(*params)


@pytest.mark.parametrize(
    ("shape", "order"),
    [
        ((12288, 209), "F"),
        ((20, 10_000), "C"),
        ((500, 2000), "F"),
        ((50, 3000), "C"),
        ((8, 700), "C"),
    ],
)
def test_a_few_parallel_chunks_are_an_even_number(shape: tuple[int, int], order: str) -> None:
    """Two or four threads share a handful of chunks evenly (7 chunks: 4 against 3)."""
    from vecstudy.backends.numba.planning import EVEN_CHUNKS_BELOW, SPLIT
    from vecstudy.backends.numba.planning import plan as model

    for caches in (
        CacheSizes(32 << 10, 512 << 10, 16 << 20, "t"),
        CacheSizes(48 << 10, 1280 << 10, 24 << 20, "t"),
    ):
        pl = model(*shape, 8, order, caches)
        assert pl.mode != SPLIT
        n_tiles = -(-shape[1] // pl.B)
        assert pl.n_chunks == -(-n_tiles // pl.T)  # every tile in one chunk
        if pl.parallel and pl.n_chunks < EVEN_CHUNKS_BELOW:
            assert pl.n_chunks % 2 == 0, pl


def test_a_relayout_copy_is_recycled_for_the_next_descent_of_its_shape() -> None:
    """optimize hands its copy back; the next relayout of the same shape and dtype writes
    into that memory, all of it, so the results are bitwise those of a fresh copy."""
    from vecstudy.backends.numba import transpose

    transpose.recycle(None)
    w, b, X, Y = _problem(1100, 50, "float64", "C")
    first = vecstudy.optimize(w, b, X, Y[None, :], 120, 0.1, backend="numba")
    assert len(transpose._spare) == 1
    kept = transpose._spare[0][1].ctypes.data
    assert transpose._spare[0][1].shape == (50, 1100)  # X.T, C-contiguous: the F copy's memory
    X2 = X[::-1].copy()  # other values, same shape: nothing of X may survive in the copy
    want = vecstudy.optimize(w, b, X2, Y[None, :], 120, 0.1, backend="numpy")
    got = vecstudy.optimize(w, b, X2, Y[None, :], 120, 0.1, backend="numba")
    assert transpose._spare[0][1].ctypes.data == kept  # the same memory, used and handed back
    np.testing.assert_allclose(got[0]["w"], want[0]["w"], rtol=1e-9)
    transpose.recycle(None)
    fresh = vecstudy.optimize(w, b, X, Y[None, :], 120, 0.1, backend="numba")
    np.testing.assert_array_equal(fresh[0]["w"], first[0]["w"])
    # another shape takes its own memory and keeps only its own; None lets it go
    vecstudy.optimize(w[:1030], b, X[:1030], Y[None, :], 120, 0.1, backend="numba")
    assert transpose._spare[0][1].shape == (50, 1030)
    transpose.recycle(None)
    assert transpose._spare == []


def test_recycle_keeps_nothing_too_large_or_foreign(monkeypatch: pytest.MonkeyPatch) -> None:
    from vecstudy.backends.numba import transpose

    monkeypatch.setattr(transpose, "KEEP_MAX_BYTES", 1000)
    transpose.recycle(np.zeros((20, 10)))  # 1600 bytes
    assert transpose._spare == []
    transpose.recycle(np.zeros((20, 10))[:, ::2])  # not contiguous: not a copy of ours
    assert transpose._spare == []
    ro = np.zeros((5, 10))
    ro.flags.writeable = False
    transpose.recycle(ro)
    assert transpose._spare == []
    transpose.recycle(np.zeros((10, 5), order="F"))  # an F copy: kept as its C transpose
    assert transpose._spare[0][1].shape == (5, 10)
    transpose.recycle(None)


def test_concurrent_descents_never_share_a_copy() -> None:
    """Two threads relaying out X of one shape at once each get their own memory."""
    import threading

    from vecstudy.backends.numba import transpose

    w, b, X, Y = _problem(1100, 50, "float64", "C")
    Xs = [X, X[::-1].copy(), X * 0.5, X[:, ::-1].copy()]
    want = [vecstudy.optimize(w, b, x, Y[None, :], 120, 0.1, backend="numpy")[0]["w"] for x in Xs]
    got: dict[int, np.ndarray] = {}

    def run(i: int) -> None:
        for _ in range(3):
            got[i] = vecstudy.optimize(w, b, Xs[i], Y[None, :], 120, 0.1, backend="numba")[0]["w"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(Xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(len(Xs)):
        np.testing.assert_allclose(got[i], want[i], rtol=1e-9)
    transpose.recycle(None)


def test_small_scratch_is_kept_per_thread_and_never_carries_values_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thread's next call of the same plan gets the same scratch; another thread its own;
    large scratch is not kept; and what a call leaves there never changes the next result."""
    import threading

    from vecstudy.backends.numba import planning

    nb = backends.load("numba")
    w, b, X, Y = _problem(30, 4000, "float64", "C")
    pl = nb.plan(30, 4000, 8, "C")
    first = planning._prepare(X, pl)[2]
    assert all(a is b for a, b in zip(planning._prepare(X, pl)[2], first, strict=True))
    other: list[tuple[np.ndarray, ...]] = []
    thread = threading.Thread(target=lambda: other.append(planning._prepare(X, pl)[2]))
    thread.start()
    thread.join()
    assert not any(a is b for a, b in zip(other[0], first, strict=True))
    with monkeypatch.context() as mp:  # scratch over the bound is not kept
        mp.setattr(planning, "SCRATCH_KEEP_BYTES", 64)
        _, _, X3, _ = _problem(31, 4000, "float64", "C")
        pl3 = nb.plan(31, 4000, 8, "C")
        assert planning._prepare(X3, pl3)[2][0] is not planning._prepare(X3, pl3)[2][0]
    want = nb.propagate(w, b, X, Y), nb.optimize(w, b, X, Y, 5, 0.1, 1)
    _, _, X2, Y2 = _problem(30, 4000, "float64", "C", seed=12)
    nb.propagate(w, b, X2 * 50.0, Y2)  # leaves other values in the kept scratch
    nb.optimize(w, b, X2, 1.0 - Y2, 5, 0.1, 1)
    got = nb.propagate(w, b, X, Y), nb.optimize(w, b, X, Y, 5, 0.1, 1)
    np.testing.assert_array_equal(got[0][0], want[0][0])
    assert got[0][1:] == want[0][1:]
    for g, e in zip(got[1], want[1], strict=True):
        np.testing.assert_array_equal(g, e)
