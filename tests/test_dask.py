"""The dask backend on an in-process LocalCluster: agreement, dask arrays, Zarr, the graph."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("zarr")

import dask
import dask.array as da
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin

import vecstudy
from vecstudy import backends
from vecstudy import cluster as vcluster
from vecstudy.backends import dask as dk

RTOL = 1e-10


class _PeakTasks(SchedulerPlugin):
    """Largest number of tasks the scheduler knew of, and largest bytes held by one worker."""

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self.max_tasks = 0
        self.max_worker_bytes = 0

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        s = self.scheduler
        self.max_tasks = max(self.max_tasks, len(s.tasks))
        self.max_worker_bytes = max(
            self.max_worker_bytes, *(ws.nbytes for ws in s.workers.values())
        )


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with vcluster.local_cluster(n_workers=2, processes=False) as c:
        yield c


@pytest.fixture
def client(cluster: LocalCluster) -> Iterator[Client]:
    with Client(cluster) as cl:
        yield cl


def problem(
    rng: np.random.Generator, n_x: int, m: int, dtype: str = "float64"
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    X = rng.normal(size=(n_x, m)).astype(dtype)
    Y = (rng.random(m) < 0.5).astype(dtype)
    w = (rng.normal(size=n_x) / np.sqrt(n_x)).astype(dtype)
    return w, 0.25, X, Y


def same(r1: tuple[Any, ...], r2: tuple[Any, ...], rtol: float = RTOL) -> None:
    np.testing.assert_allclose(r1[0], r2[0], rtol=rtol, atol=rtol * np.abs(r2[0]).max())
    assert r1[1] == pytest.approx(r2[1], rel=rtol, abs=rtol)


def test_uses_the_active_client(client: Client) -> None:
    c, where = vcluster.get_client()
    assert c is client
    assert where.startswith("active client")
    assert vcluster.describe().startswith("active client")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_many_chunks_agree_with_numpy(client: Client, rng: np.random.Generator, dtype: str) -> None:
    w, b, X, Y = problem(rng, 7, 5003, dtype)
    numpy = backends.load("numpy")
    rtol = RTOL if dtype == "float64" else 1e-5
    with dk.placed(X, Y, chunk=7 * X.itemsize * 1000) as data:
        assert data.n_chunks == 6
        assert [p.dtype for p in client.gather(data.parts)[0] if p is not None] == [X.dtype] * 2
        dw, db, cost = data.sums(w, b, True)
        assert dw.dtype == X.dtype
        same((dw, db), numpy.gradient_sums(w, b, X, Y, True)[:2], rtol)
        assert cost == pytest.approx(numpy.gradient_sums(w, b, X, Y, True)[2], rel=rtol)
        got = dk.descend(data, w, b, 40, 0.5, 10)
    ref = numpy.optimize(w, b, X, Y, 40, 0.5, 10)
    assert got[5] == ref[5] == 40
    same(got, ref, rtol)
    np.testing.assert_allclose(got[4], ref[4], rtol=rtol)


def test_dask_array_through_the_api(client: Client, rng: np.random.Generator) -> None:
    w, b, X, Y = problem(rng, 5, 4000)
    Xd = da.from_array(X, chunks=(2, 2000))  # split along the features too: rechunked
    Yd = da.from_array(Y.reshape(1, -1), chunks=(1, 1500))
    p1, _, c1 = vecstudy.optimize(w.reshape(-1, 1), b, Xd, Yd, 101, 0.3, backend="dask")
    p2, _, c2 = vecstudy.optimize(w.reshape(-1, 1), b, X, Y, 101, 0.3, backend="numpy")
    np.testing.assert_allclose(p1["w"], p2["w"], rtol=RTOL)
    assert p1["b"] == pytest.approx(p2["b"], rel=RTOL)
    np.testing.assert_allclose(c1, c2, rtol=RTOL)
    grads, cost = vecstudy.propagate(w, b, Xd, Y, backend="dask")
    ref, ref_cost = vecstudy.propagate(w, b, X, Y, backend="numpy")
    np.testing.assert_allclose(grads["dw"], ref["dw"], rtol=RTOL)
    assert cost == pytest.approx(ref_cost, rel=RTOL)
    np.testing.assert_array_equal(
        vecstudy.predict(p1["w"], p1["b"], Xd, backend="dask"),
        vecstudy.predict(p1["w"], p1["b"], X, backend="numpy"),
    )
    with vecstudy.use_backend("auto"):  # auto picks dask for a dask X
        np.testing.assert_allclose(vecstudy.propagate(w, b, Xd, Y)[0]["dw"], ref["dw"], rtol=RTOL)


def test_dask_x_with_another_backend_is_refused(client: Client) -> None:
    Xd = da.ones((2, 10), chunks=(2, 5))
    with pytest.raises(TypeError, match=r"X is a dask array, which only backend 'dask' takes"):
        vecstudy.propagate(np.zeros(2), 0.0, Xd, np.ones(10), backend="numba")


def test_dask_inputs_are_checked(client: Client) -> None:
    Xd = da.ones((2, 10), chunks=(2, 5))
    with pytest.raises(ValueError, match=r"Y must hold labels 0 and 1 only"):
        vecstudy.propagate(np.zeros(2), 0.0, Xd, da.full(10, 2.0), backend="dask")
    with pytest.raises(ValueError, match=r"Y has 9 samples but X has 10"):
        vecstudy.propagate(np.zeros(2), 0.0, Xd, np.ones(9), backend="dask")
    with pytest.raises(ValueError, match=r"X must be 2-D with shape \(n_x, m\); got 1-D"):
        vecstudy.propagate(np.zeros(2), 0.0, da.ones(10), np.ones(10), backend="dask")
    with pytest.raises(ValueError, match=r"w must have shape \(n_x, 1\) = \(2, 1\)"):
        vecstudy.propagate(np.zeros(3), 0.0, Xd, np.ones(10), backend="dask")


def test_graph_does_not_grow(
    cluster: LocalCluster, client: Client, rng: np.random.Generator
) -> None:
    w, b, X, Y = problem(rng, 3, 4000)
    plugin = _PeakTasks(cluster.scheduler)
    cluster.scheduler.add_plugin(plugin, name="peak-tasks")
    try:
        with dk.placed(X, Y, chunk=3 * 8 * 1000) as data:
            dk.descend(data, w, b, 60, 0.1, 100)
    finally:
        cluster.scheduler.remove_plugin(name="peak-tasks")
    # 4 chunks held + 4 tasks of a step (+ 4 of the step before, being released);
    # a graph growing with the iterations would hold hundreds.
    assert 0 < plugin.max_tasks <= 12


def test_non_finite_gradient_stops_the_descent(client: Client) -> None:
    X = np.full((2, 6), 1e308)
    Y = np.zeros(6)
    w = np.zeros(2)
    with dk.placed(X, Y, chunk=2 * 8 * 2) as data:
        out = dk.descend(data, w, 0.0, 10, 1.0, 100)
    assert out[5] == 0  # dw = sum of 1e308 * 0.5 overflows at the first step
    np.testing.assert_array_equal(out[0], w)
    with pytest.raises(FloatingPointError):
        vecstudy.optimize(w, 0.0, da.from_array(X, chunks=(2, 2)), Y, 10, 1.0, backend="dask")


def test_divergence_keeps_last_finite_parameters(client: Client) -> None:
    X = np.array([[1e154, -1e154, 1e154, 1e154]])
    Y = np.array([0.0, 1.0, 0.0, 1.0])
    with dk.placed(X, Y, chunk=8 * 2) as data:
        out = dk.descend(data, np.zeros(1), 0.0, 50, 1e160, 100)
    ref = backends.load("numpy").optimize(np.zeros(1), 0.0, X, Y, 50, 1e160, 100)
    assert out[5] == ref[5] < 50
    same(out, ref)


def test_interrupt_cancels_the_step(client: Client, rng: np.random.Generator) -> None:
    w, b, X, Y = problem(rng, 3, 4000)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    with dk.placed(X, Y, chunk=3 * 8 * 1000) as data:
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                dk.descend(data, w, b, 10**6, 0.1, 100)
        finally:
            timer.cancel()
        # the cluster still works, and the data are still there
        same(data.sums(w, b, False)[:2], backends.load("numpy").gradient_sums(w, b, X, Y, False))


@pytest.mark.slow
def test_zarr_round_trip_and_streaming(
    cluster: LocalCluster, tmp_path: Path, rng: np.random.Generator
) -> None:
    """X in Zarr, 4x larger than the workers' memory limit: read chunk by chunk at each step."""
    w, b, X, Y = problem(rng, 20, 1600)  # 256 kB of X
    path = vcluster.write_zarr(tmp_path / "d.zarr", X, Y.reshape(1, -1), chunk="16 kB")
    Xz, Yz = vcluster.open_zarr(path)
    assert Xz.chunks[1][0] == 100  # 16 kB / (20 x 8 bytes)
    np.testing.assert_array_equal(Xz.compute(), X)
    np.testing.assert_array_equal(Yz.compute(), Y)
    settings = {f"distributed.worker.memory.{k}": False for k in ("target", "spill", "pause")}
    settings["distributed.worker.memory.terminate"] = False
    with (
        dask.config.set(settings),
        vcluster.local_cluster(n_workers=1, processes=False, memory_limit="64 kB") as small,
        Client(small),
    ):
        plugin = _PeakTasks(small.scheduler)
        small.scheduler.add_plugin(plugin, name="peak")
        with dk.placed(Xz, Yz) as data:
            assert data.streamed
            assert data.n_chunks == 16
            got = dk.descend(data, w, b, 4, 0.5, 3)
        # each worker holds a few (about three) chunks of X at a time, never all of X
        assert 0 < plugin.max_worker_bytes <= 64_000
    with dk.placed(X, Y, chunk="16 kB") as data:  # same chunks, in memory
        assert not data.streamed
        ref = dk.descend(data, w, b, 4, 0.5, 3)
    same(got, ref)
    np.testing.assert_allclose(got[4], ref[4], rtol=RTOL)
    same(got, backends.load("numpy").optimize(w, b, X, Y, 4, 0.5, 3))


def test_write_zarr_synthetic_is_seeded_and_atomic(tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    p1 = vcluster.write_zarr(tmp_path / "a.zarr", shape=(4, 1000), chunk=4 * 8 * 300, seed=3)
    p2 = vcluster.write_zarr(tmp_path / "b.zarr", shape=(4, 1000), chunk=4 * 8 * 700, seed=3)
    X1, Y1 = vcluster.open_zarr(p1)
    X2, _ = vcluster.open_zarr(p2)
    assert X1.chunks == ((4,), (250, 250, 250, 250))  # 4 chunks of <= 300, equal
    assert set(np.unique(Y1.compute())) <= {0.0, 1.0}
    with pytest.raises(FileExistsError, match=r"a.zarr exists; pass overwrite=True"):
        vcluster.write_zarr(p1, shape=(4, 10))
    assert not np.array_equal(X1.compute(), X2.compute())  # chunks are drawn per chunk
    vcluster.write_zarr(p1, shape=(4, 10), overwrite=True)
    assert vcluster.open_zarr(p1)[0].shape == (4, 10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zarr", "b.zarr"]  # no temporary left


def test_write_zarr_rejects_bad_input(tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    with pytest.raises(ValueError, match=r"give either X and Y, or shape"):
        vcluster.write_zarr(tmp_path / "x.zarr")
    with pytest.raises(ValueError, match=r"Y has 3 labels but X has 4 samples"):
        vcluster.write_zarr(tmp_path / "x.zarr", np.ones((2, 4)), np.ones(3))
    with pytest.raises(ValueError, match=r"bad chunk size 'lots'"):
        vcluster.write_zarr(tmp_path / "x.zarr", shape=(2, 4), chunk="lots")
    assert list(tmp_path.iterdir()) == []


def test_persist_rule(client: Client) -> None:
    Xd = da.ones((2, 100), chunks=(2, 10))
    with dk.placed(Xd, da.ones(100, chunks=10)) as data:  # unlimited memory: persisted
        assert not data.streamed
        assert len(data.parts) == 10
    with dk.placed(Xd, da.ones(100, chunks=10), persist=False) as data:
        assert data.streamed
        assert data.parts == []


@pytest.mark.parametrize(
    ("nbytes", "m", "multiple", "cols"),
    [
        (8 * 10 * 300, 1000, 1, 250),  # 4 chunks of at most 300 samples, made equal
        (8 * 10 * 700, 1000, 2, 500),  # 2 chunks, one per worker
        (8 * 10 * 1000, 1000, 2, 500),  # fits in one chunk, but two workers
        (8 * 10 * 1000, 1000, 1, 1000),
        (1, 3, 4, 1),  # never fewer than one sample, never more chunks than samples
    ],
)
def test_columns_per_chunk(nbytes: int, m: int, multiple: int, cols: int) -> None:
    assert vcluster.columns_per_chunk(10, 8, nbytes, m, multiple) == cols


def test_to_zarr_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vecstudy.cli import main

    X = np.arange(12.0).reshape(3, 4)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "Y.npy", np.array([[0, 1, 1, 0]]))
    out = tmp_path / "d.zarr"
    args = ["to-zarr", str(out), "--X", str(tmp_path / "X.npy"), "--Y", str(tmp_path / "Y.npy")]
    assert main([*args, "--chunk", "48"]) == 0
    assert "X (3, 4) float64 in chunks of 2 samples" in capsys.readouterr().out
    Xz, Yz = vcluster.open_zarr(out)
    np.testing.assert_array_equal(Xz.compute(), X)
    np.testing.assert_array_equal(Yz.compute(), [0.0, 1.0, 1.0, 0.0])
    assert main(args) == 2
    assert "d.zarr exists; pass overwrite=True" in capsys.readouterr().err
    assert main(["to-zarr", str(tmp_path / "s.zarr"), "--synthetic", "5x100"]) == 0
    assert vcluster.open_zarr(tmp_path / "s.zarr")[0].shape == (5, 100)


def test_info_names_the_cluster(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    from vecstudy.cli import main

    assert main(["info"]) == 0
    assert "dask cluster: active client (" in capsys.readouterr().out


def test_small_numpy_x_is_one_chunk_large_one_is_split(client: Client) -> None:
    small = np.zeros((2, 100))
    with dk.placed(small, np.zeros(100)) as data:
        assert data.single  # the whole descent runs as one task where the chunk lives
    big = np.zeros((1, dk.SPLIT_MIN_BYTES // 8))
    with dk.placed(big, np.zeros(big.shape[1])) as data:
        assert data.n_chunks == 2  # one per worker, though it would fit in one chunk
