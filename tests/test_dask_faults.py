"""Faults on the dask side: non-finite X, damaged Zarr stores, overwrite, dead scheduler
addresses, the embedded cluster's start, and the distributed study's memory check and
interruptions."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("zarr")

import dask.array as da
import zarr
from distributed import Client, LocalCluster

import vecstudy
from vecstudy import cluster as vcluster
from vecstudy.backends import dask as dk
from vecstudy.cli import EXIT_INTERRUPTED, main
from vecstudy.cluster import client as vclient
from vecstudy.report import dask_study as dask_report
from vecstudy.study import dask_study


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with vcluster.local_cluster(n_workers=2, processes=False) as c:
        yield c


@pytest.fixture
def client(cluster: LocalCluster) -> Iterator[Client]:
    with Client(cluster) as cl:
        yield cl


# --------------------------------------------------------------------------- 1. non-finite X
def _numpy_message(call: Any, X: np.ndarray) -> str:
    with pytest.raises(ValueError, match=r"^X must be finite") as ref:
        call(X, "numpy")
    return str(ref.value)


CALLS = {
    "predict": lambda X, be: vecstudy.predict(np.ones(2), 0.0, X, backend=be),
    "propagate": lambda X, be: vecstudy.propagate(np.ones(2), 0.0, X, np.ones(10), backend=be),
    "optimize": lambda X, be: vecstudy.optimize(
        np.ones(2), 0.0, X, np.ones(10), 5, 0.1, backend=be
    ),
}


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("what", sorted(CALLS))
@pytest.mark.parametrize("chunks", [3, 10])  # several chunks; one chunk (descent in one task)
def test_non_finite_dask_x_is_named_as_numpy_does(
    client: Client, bad: float, what: str, chunks: int
) -> None:
    X = np.ones((2, 10))
    X[1, 7] = bad
    expected = _numpy_message(CALLS[what], X)
    with pytest.raises(dk.NonFiniteInputError) as got:
        CALLS[what](da.from_array(X, chunks=(2, chunks)), "dask")
    assert str(got.value) == expected == f"X must be finite; found {bad} at index (1, 7)"
    assert isinstance(got.value, ValueError)  # bad input, as on the numpy path
    assert not isinstance(got.value, vecstudy.NumericalError)
    assert "overflow" not in str(got.value)


def test_non_finite_streamed_x_is_named(client: Client) -> None:
    X = np.ones((3, 40))
    X[2, 33] = np.nan
    with dk.placed(da.from_array(X, chunks=(3, 10)), np.ones(40), persist=False) as data:
        assert data.streamed
        with pytest.raises(dk.NonFiniteInputError, match=r"found nan at index \(2, 33\)"):
            data.sums(np.ones(3), 0.0, True)


def test_overflow_of_finite_dask_x_stays_overflow(client: Client) -> None:
    X = np.full((2, 10), 1e308)
    Xd = da.from_array(X, chunks=(2, 3))
    for what in ("predict", "propagate"):
        with pytest.raises(vecstudy.NumericalError, match=r"overflowed") as got:
            CALLS[what](Xd, "dask")
        assert not isinstance(got.value, dk.NonFiniteInputError)
    with pytest.raises(vecstudy.NumericalError) as ref:
        CALLS["predict"](X, "numpy")
    with pytest.raises(vecstudy.NumericalError) as got:
        CALLS["predict"](Xd, "dask")
    assert str(got.value) == str(ref.value)  # same count, first sample and advice


def test_dask_x_too_large_for_float32_is_named_as_numpy_does(client: Client) -> None:
    X = np.ones((2, 10))
    X[0, 4] = 1e39
    with pytest.raises(ValueError, match=r"^X has values too large for dtype float32$") as ref:
        vecstudy.propagate(np.ones(2), 0.0, X, np.ones(10), backend="numpy", dtype="float32")
    with pytest.raises(ValueError, match=r"too large") as got:
        vecstudy.propagate(
            np.ones(2), 0.0, da.from_array(X, chunks=(2, 5)), np.ones(10), backend="dask",
            dtype="float32",
        )  # fmt: skip
    assert str(got.value) == str(ref.value)


# --------------------------------------------------------------------------- 2. damaged Zarr
@pytest.fixture
def store(tmp_path: Path) -> Path:
    """4 chunks of 25 samples; X's second chunk all zeros, Y's first chunk all zeros."""
    X = np.arange(300.0).reshape(3, 100)
    X[:, 25:50] = 0.0
    Y = np.ones(100)
    Y[:25] = 0.0
    return vcluster.write_zarr(tmp_path / "d.zarr", X, Y, chunk=3 * 8 * 25)


def test_chunks_of_zeros_are_stored_and_read(store: Path) -> None:
    X, Y = vcluster.open_zarr(store)
    assert X.numblocks == (1, 4)
    assert float(Y.sum().compute()) == 75.0
    assert float(X[:, 25:50].sum().compute()) == 0.0


@pytest.mark.parametrize(("array", "key"), [("Y", "c/2"), ("X", "c/0/1")])
def test_missing_chunk_is_refused(store: Path, array: str, key: str) -> None:
    (store / array / key).unlink()
    with pytest.raises(
        vcluster.DamagedStoreError,
        match=rf"1 of 4 chunk files of array {array} are missing \(the first: {array}/{key}\); "
        r"a missing chunk would be read as zeros",
    ):
        vcluster.open_zarr(store)


def test_truncated_chunk_is_refused(store: Path) -> None:
    with (store / "X" / "c" / "0" / "3").open("r+b") as fh:
        fh.truncate(100)
    with pytest.raises(
        vcluster.DamagedStoreError,
        match=r"array X have the wrong size \(the first: X/c/0/3, 100 bytes instead of 600\)",
    ):
        vcluster.open_zarr(store)


def test_undecodable_chunk_names_array_and_chunk(tmp_path: Path, client: Client) -> None:
    """A compressed store (written elsewhere) whose chunk is damaged: named when read."""
    group = zarr.open_group(str(tmp_path / "z.zarr"), mode="w")
    group.create_array("X", shape=(2, 10), chunks=(2, 5), dtype="f8")[:] = np.ones((2, 10))
    group.create_array("Y", shape=(10,), chunks=(5,), dtype="f8")[:] = np.ones(10)
    path = tmp_path / "z.zarr" / "X" / "c" / "0" / "1"
    path.write_bytes(path.read_bytes()[:10])
    X, Y = vcluster.open_zarr(tmp_path / "z.zarr")  # sizes of compressed chunks vary
    match = r"cannot read chunk X/c/0/1 of array X, samples 5:10 \(is the file damaged\?\)"
    with pytest.raises(vcluster.DamagedStoreError, match=match):
        X.compute(scheduler="sync")
    with pytest.raises(vcluster.DamagedStoreError, match=match):  # on the cluster too
        vecstudy.propagate(np.zeros(2), 0.0, X, Y, backend="dask")


# --------------------------------------------------------------------------- 3. overwrite
def test_overwrite_refuses_a_directory_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_path = tmp_path / "here"
    data = tmp_path / "data"
    data.mkdir(parents=True)
    np.save(data / "X.npy", np.ones((2, 4)))
    np.save(data / "Y.npy", np.array([[0, 1, 1, 0]]))
    (data / "notes.txt").write_text("keep me")
    before = sorted(p.name for p in data.iterdir())
    args = ["to-zarr", str(data), "--X", str(data / "X.npy"), "--Y", str(data / "Y.npy")]
    assert main([*args, "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "data exists and is a directory, not a Zarr store written by vecstudy" in err
    assert sorted(p.name for p in data.iterdir()) == before
    assert (data / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no temporary left


def test_overwrite_refuses_a_file_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_path = tmp_path / "here"
    tmp_path.mkdir()
    target = tmp_path / "out.zarr"
    target.write_text("not a store")
    assert main(["to-zarr", str(target), "--synthetic", "2x10", "--overwrite"]) == 2
    assert "out.zarr exists and is a file, not a Zarr store" in capsys.readouterr().err
    assert target.read_text() == "not a store"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]


def test_overwrite_refuses_a_foreign_zarr_store(tmp_path: Path) -> None:
    group = zarr.open_group(str(tmp_path / "z.zarr"), mode="w")
    group.create_array("X", shape=(2, 4), chunks=(2, 4), dtype="f8")[:] = 1.0
    with pytest.raises(FileExistsError, match=r"no 'vecstudy' attribute in its zarr.json"):
        vcluster.write_zarr(tmp_path / "z.zarr", shape=(2, 4), overwrite=True)
    assert zarr.open_group(str(tmp_path / "z.zarr"), mode="r")["X"].shape == (2, 4)


def test_overwrite_replaces_its_own_store_leaving_nothing(tmp_path: Path) -> None:
    tmp_path = tmp_path / "here"
    path = vcluster.write_zarr(tmp_path / "s.zarr", shape=(2, 10))
    assert vcluster.is_vecstudy_store(path)
    vcluster.write_zarr(path, shape=(3, 7), overwrite=True)
    assert vcluster.open_zarr(path)[0].shape == (3, 7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]


# --------------------------------------------------------------------------- 4. bad addresses
@contextlib.contextmanager
def listener(mode: str) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts and says nothing, or sends garbage."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.05)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conns.append(conn)
            if mode == "garbage":
                with contextlib.suppress(OSError):
                    conn.sendall(b"\xff" * 4096)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        srv.close()
        for conn in conns:
            conn.close()


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        (
            "silent",
            # distributed's sync() raises "timed out after 1 s." or, when asyncio's
            # wait_for inside the loop fires first, a TimeoutError without text
            r"no answer in time \(TimeoutError(: .*)?\); is a Dask scheduler listening there\?",
        ),
        ("garbage", r"the answer was not a Dask scheduler's \(\w+: "),
    ],
)
def test_listener_that_is_no_scheduler_is_unreachable_in_time(
    monkeypatch: pytest.MonkeyPatch, mode: str, why: str
) -> None:
    Path("vecstudy.toml").write_text("[dask]\ntimeout = 1\n")
    with listener(mode) as address:
        monkeypatch.setenv("VECSTUDY_DASK_ADDRESS", address)
        t0 = time.monotonic()
        with pytest.raises(
            vcluster.ClusterUnreachableError,
            match=rf"cannot reach the Dask scheduler at '{address}' \(from environment "
            rf"variable VECSTUDY_DASK_ADDRESS\) within 1 s \(\[dask\] timeout\): .*{why}",
        ):
            vecstudy.propagate(np.zeros(1), 0.0, np.ones((1, 3)), np.ones(3), backend="dask")
        assert time.monotonic() - t0 < 4


@pytest.mark.slow
def test_failed_connections_print_nothing_at_exit(tmp_path: Path) -> None:
    code = (
        "import contextlib, os, sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_dask_faults import listener\n"
        "import numpy as np, vecstudy\n"
        "from vecstudy import cluster\n"
        "open('vecstudy.toml', 'w').write('[dask]\\ntimeout = 1\\n')\n"
        "for mode in ('silent', 'garbage'):\n"
        "    with listener(mode) as address:\n"
        "        os.environ['VECSTUDY_DASK_ADDRESS'] = address\n"
        "        try:\n"
        "            vecstudy.propagate(np.zeros(1), 0.0, np.ones((1, 3)), np.ones(3), backend='dask')\n"
        "        except cluster.ClusterUnreachableError:\n"
        "            print(mode, 'unreachable')\n"
        "t_exit = time.monotonic()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECSTUDY_")}
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["silent", "unreachable", "garbage", "unreachable"]
    assert done.stderr == ""  # no "Exception ignored ... TimeoutError" at exit
    assert time.monotonic() - t0 < 60  # no 20 s wait per failed client at exit


# --------------------------------------------------------------------------- 6. main guard
def _run_as_main(monkeypatch: pytest.MonkeyPatch, path: Path, source: str) -> list[Any]:
    """Run ``source`` as if it were the ``__main__`` script ``path``; what it recorded."""
    import types

    path.write_text(source)
    module = types.ModuleType("__main__")
    module.__file__ = str(path)
    found: list[Any] = []
    module.__dict__["record"] = lambda: found.append(vcluster.unguarded_main_call())
    monkeypatch.setitem(sys.modules, "__main__", module)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return found


def test_unguarded_script_call_is_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    script = tmp_path / "fit.py"
    source = (
        "def fit():\n"
        "    record()\n"
        "\n"
        "record()\n"
        "fit()\n"
        'if __name__ == "__main__":\n'
        "    record()\n"
        "    fit()\n"
        "if '__main__' == __name__:\n"
        "    fit()\n"
    )
    found = _run_as_main(monkeypatch, script, source)
    assert found == [(str(script), 4), (str(script), 5), None, None, None]


def test_unguarded_script_is_refused_before_any_worker_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_cluster(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a cluster was started")

    monkeypatch.setattr(vclient, "_start_local_once", no_cluster)
    source = "record()\ncluster._start_local()\n"
    script = tmp_path / "fit.py"
    script.write_text(source)
    import types

    module = types.ModuleType("__main__")
    module.__file__ = str(script)
    module.__dict__.update(record=lambda: None, cluster=vclient)
    monkeypatch.setitem(sys.modules, "__main__", module)
    with pytest.raises(
        vcluster.ClusterStartError,
        match=r"cannot start its local cluster from fit.py, line 2: worker processes re-import "
        r'the script .*put the script\'s work under `if __name__ == "__main__":`, or run on an '
        r"in-process cluster: `from distributed import Client; client = Client\(processes=False\)`",
    ):
        exec(compile(source, str(script), "exec"), module.__dict__)


def test_worker_importing_the_script_refuses_to_start_a_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import multiprocessing

    monkeypatch.setattr(multiprocessing.current_process(), "_inheriting", True, raising=False)
    with pytest.raises(vcluster.ClusterStartError, match=r"worker process was importing"):
        vclient._start_local()


@pytest.mark.slow
def test_unguarded_script_gets_a_one_line_error(tmp_path: Path) -> None:
    script = tmp_path / "plain.py"
    script.write_text(
        "import numpy as np, vecstudy\n"
        "X, Y = np.ones((2, 5)), np.ones(5)\n"
        "vecstudy.optimize(np.zeros(2), 0.0, X, Y, 3, 0.1, backend='dask')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECSTUDY_")}
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("vecstudy.errors.ClusterStartError: the dask backend cannot")
    assert "plain.py, line 3" in last
    assert "Nanny" not in done.stderr
    # refused before dask started anything: no frame of the distributed package
    assert f"{os.sep}distributed{os.sep}" not in done.stderr


# --------------------------------------------------------------------------- 7. slow start
class _Fake:
    def close(self) -> None:
        pass


def test_local_start_is_retried_once_with_a_generous_timeout(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    Path("vecstudy.toml").write_text("[dask]\ntimeout = 20\n")
    calls: list[float] = []

    def start(workers: int, start_timeout: float) -> tuple[Any, Any]:
        calls.append(start_timeout)
        if len(calls) == 1:
            raise TimeoutError("Nanny start timed out after 60s.")
        return _Fake(), _Fake()

    monkeypatch.setattr(vclient, "_start_local_once", start)
    monkeypatch.setattr(vclient.atexit, "register", lambda *args: None)
    made = vclient._start_local(20.0, "config file")
    assert isinstance(made.client, _Fake)
    assert calls == [120.0, 120.0]  # 6 x [dask] timeout, more than the 60 s floor
    assert "failed to start (attempt 1 of 2): TimeoutError" in caplog.text


def test_local_start_failing_twice_names_the_timeout_and_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []

    def cluster(**options: Any) -> Any:
        import dask

        seen.append(dask.config.get("distributed.comm.timeouts.connect"))
        raise TimeoutError("Nanny start timed out")

    monkeypatch.setattr(vclient, "local_cluster", cluster)
    with pytest.raises(
        vcluster.ClusterStartError,
        match=r"failed to start twice, each attempt allowed 60 s \(max\(60 s, 6 x \[dask\] "
        r"timeout = 10 s from default\)\); last error: TimeoutError: Nanny start timed out. "
        r"On a slow or loaded machine raise \[dask\] timeout",
    ):
        vclient._start_local(10.0, "default")
    assert seen == ["60.0s", "60.0s"]  # connections made during the start wait as long


# --------------------------------------------------------------------------- 5, 8. the study
def test_worker_memory_too_small_for_the_chunks() -> None:
    with pytest.raises(ValueError, match=r"at least --worker-memory (\d+)MiB") as got:
        dask_study.check_worker_memory("250MiB", "32 MiB")
    msg = str(got.value)
    assert msg.startswith("--worker-memory 250MiB is too small for the out-of-core run's chunks")
    assert "chunks of 32 MiB" in msg
    least = int(msg.rsplit("--worker-memory ", 1)[1].removesuffix("MiB"))
    assert dask_study.check_worker_memory(f"{least}MiB", "32 MiB") == least * 2**20
    with pytest.raises(ValueError, match=r"too small"):
        dask_study.check_worker_memory(f"{least - 1}MiB", "32 MiB")
    assert dask_study.check_worker_memory("400 MiB", "32 MiB") == 400 * 2**20  # the default
    with pytest.raises(ValueError, match=r"--worker-memory must be bytes such as '400 MiB'"):
        dask_study.check_worker_memory("lots", "32 MiB")


@pytest.fixture
def fake_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    """The study without clusters: the stages are replaced in each test."""
    monkeypatch.setattr(dask_study, "_cluster", lambda *a, **k: contextlib.nullcontext())
    from vecstudy.records import machine

    monkeypatch.setattr(machine, "machine_info", lambda: {"cpu": "test"})
    # figures of partial results: test_partial_results_make_a_report
    monkeypatch.setattr(dask_report, "figure", lambda results, path: path.write_bytes(b"png"))


def _row(name: str = "numba") -> dict[str, Any]:
    return {
        "study": "in-memory",
        "contender": name,
        "mb": 1,
        "shape": "100x1250",
        "chunks": 2,
        "iterations": 2,
        "samples_s": [0.01],
        "per_iteration_s": 0.005,
    }


def test_too_small_worker_memory_is_refused_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dask_study, "_cluster", None)  # would fail if called
    with pytest.raises(ValueError, match=r"--worker-memory 100MiB is too small"):
        dask_study.run(tmp_path / "out", worker_memory="100MiB")
    assert not (tmp_path / "out").exists()


def _temporaries(out: Path) -> list[str]:
    return [p.name for p in out.iterdir() if p.name.startswith(dask_study.TMP_PREFIX)]


def test_temporary_data_removed_on_error_and_stale_ones_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_stages: None
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    stale = out / f"{dask_study.TMP_PREFIX}{int(gone.stdout)}-abc"
    (stale / "x.zarr").mkdir(parents=True)
    alive = out / f"{dask_study.TMP_PREFIX}{os.getpid()}-def"  # a run going on: kept
    alive.mkdir()

    def failing(client: Any, root: Path, *args: Any) -> None:
        (root / "big.bin").write_bytes(b"0" * 1000)
        raise RuntimeError("boom")

    monkeypatch.setattr(dask_study, "in_memory", failing)
    with pytest.raises(RuntimeError, match="boom"):
        dask_study.run(out, ooc_iterations=0, log=lambda *a: None)
    assert _temporaries(out) == [alive.name]
    assert not (out / "dask-study.json").exists()


def _sigterm_stage(
    client: Any, root: Path, sizes: Any, it: Any, rounds: Any, log: Any, rows: list[Any]
) -> None:
    (root / "x.zarr").mkdir()
    rows.append(_row())
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(10)  # the handler raises here
    rows.append(_row("numpy"))


def test_sigterm_is_handled_like_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_stages: None
) -> None:
    previous = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(dask_study, "in_memory", _sigterm_stage)
    out = tmp_path / "out"
    with pytest.raises(dask_study.StudyInterrupted) as got:
        dask_study.run(out, ooc_iterations=0, log=lambda *a: None)
    assert (got.value.signal_name, got.value.rows_kept) == ("SIGTERM", 1)
    saved = json.loads((out / "dask-study.json").read_text())
    assert saved["interrupted"] == {"signal": "SIGTERM", "rows_kept": 1}
    assert saved["rows"] == [_row()]  # the stage stopped at the signal
    assert "Interrupted (SIGTERM)" in (out / "dask-study.md").read_text()
    assert (out / "dask-study.png").exists()
    assert _temporaries(out) == []
    assert signal.getsignal(signal.SIGTERM) is previous


def test_partial_results_make_a_report(tmp_path: Path) -> None:
    results = {
        "machine": {"cpu": "test"},
        "versions": {},
        "rows": [_row(), {**_row("dask"), "mb": 2}],
        "interrupted": {"signal": "SIGINT", "rows_kept": 2},
    }
    text = dask_report.to_markdown(results)
    assert "**Interrupted (SIGINT): only the 2 measurements finished before it are shown.**" in (
        text
    )
    assert "| 1 MB (100x1250) | 2 | 5.0 ms | n/a | n/a |" in text
    dask_report.figure(results, tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 0


def test_sigterm_during_a_dask_descent_stops_it_between_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_stages: None, client: Client
) -> None:
    def stage(client_: Any, root: Path, *args: Any) -> None:
        rng = np.random.default_rng(3)
        X, Y = rng.normal(size=(3, 4000)), (rng.random(4000) < 0.5).astype(float)
        timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
        with dk.placed(X, Y, chunk=3 * 8 * 1000) as data:
            timer.start()
            try:
                dk.descend(data, np.zeros(3), 0.0, 10**6, 0.1, 100)
            finally:
                timer.cancel()

    monkeypatch.setattr(dask_study, "in_memory", stage)
    with pytest.raises(dask_study.StudyInterrupted) as got:
        dask_study.run(tmp_path, ooc_iterations=0, log=lambda *a: None)
    assert (got.value.signal_name, got.value.rows_kept, got.value.paths) == ("SIGTERM", 0, {})
    assert not (tmp_path / "dask-study.json").exists()  # nothing finished: nothing written
    assert _temporaries(tmp_path) == []


def test_cli_reports_an_interrupted_study(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_stages: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(dask_study, "in_memory", _sigterm_stage)
    out = tmp_path / "out"
    assert main(["dask-study", "--output-dir", str(out), "--ooc-iterations", "0"]) == (
        EXIT_INTERRUPTED
    )
    err = capsys.readouterr().err
    assert (
        f"vecstudy dask-study: interrupted (SIGTERM); kept 1 finished measurements, marked "
        f"interrupted, in {out / 'dask-study.json'}" in err
    )


@pytest.mark.slow
def test_dask_study_sigterm_end_to_end(tmp_path: Path) -> None:
    """The command with worker processes: SIGTERM after the first size keeps it, cleans up."""
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECSTUDY_")}
    args = ["--sizes", "1,2", "--rounds", "1", "--iterations", "2", "--ooc-iterations", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "vecstudy", "dask-study", "--output-dir", str(out), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("1 MB dask:"):
                proc.send_signal(signal.SIGTERM)
                break
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "interrupted (SIGTERM); kept" in err
    saved = json.loads((out / "dask-study.json").read_text())
    assert saved["interrupted"]["signal"] == "SIGTERM"
    assert {r["contender"] for r in saved["rows"] if r["mb"] == 1} >= {"numba", "numpy", "dask"}
    assert _temporaries(out) == []


@pytest.mark.parametrize("bad", ["X", "Y"])
def test_to_zarr_refuses_complex_input_leaving_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    tmp_path = tmp_path / "here"
    tmp_path.mkdir()
    X = np.ones((2, 10))
    Y = np.zeros(10)
    arrays = {
        "X": X.astype(complex) if bad == "X" else X,
        "Y": Y.astype(complex) if bad == "Y" else Y,
    }
    for name, arr in arrays.items():
        np.save(tmp_path / f"{name}.npy", arr)
    out = tmp_path / "out.zarr"
    argv = ["to-zarr", str(out), "--X", str(tmp_path / "X.npy"), "--Y", str(tmp_path / "Y.npy")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{bad} must hold real numbers" in err
    assert "imaginary part" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X.npy", "Y.npy"]
