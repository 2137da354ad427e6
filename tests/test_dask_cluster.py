"""Which cluster the dask backend uses, and what happens when it fails."""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

import vecstudy
from vecstudy import backends, config

pytest.importorskip("distributed")

from distributed import Client

from vecstudy import cluster as vcluster
from vecstudy.backends import dask as dk


def closed_port() -> int:
    """A local TCP port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_address_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"tcp://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("VECSTUDY_DASK_ADDRESS", address)
    Path("vecstudy.toml").write_text("[dask]\ntimeout = 1\n")
    assert vcluster.describe().startswith(f"scheduler {address} (from environment variable")
    with pytest.raises(
        vcluster.ClusterUnreachableError,
        match=rf"cannot reach the Dask scheduler at '{address}' \(from environment variable VECSTUDY_DASK_ADDRESS\) within 1 s",
    ):
        vecstudy.propagate(np.zeros(1), 0.0, np.ones((1, 3)), np.ones(3), backend="dask")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "[dask]\nadress = 'x'\n",
            r"table \[dask\]: unknown key 'adress'; valid keys are address, chunk, timeout",
        ),
        ("[dask]\ntimeout = -1\n", r"bad dask timeout -1 from config file .*key 'dask.timeout'"),
        ("[dask]\nchunk = 0\n", r"bad dask chunk 0 from config file .*key 'dask.chunk'"),
        ("[dask]\naddress = 3\n", r"bad dask address 3 from config file .*key 'dask.address'"),
        ("dask = 3\n", r"key 'dask': must be a table"),
    ],
)
def test_bad_dask_settings_name_file_and_key(text: str, match: str) -> None:
    Path("vecstudy.toml").write_text(text)
    with pytest.raises(config.ConfigError, match=match):
        config.resolve_dask()


def test_settings_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.resolve_dask()["chunk"] == config.Choice("128 MiB", "default")
    Path("vecstudy.toml").write_text("[dask]\nchunk = '1 MiB'\naddress = 'tcp://h:1'\n")
    assert vcluster.chunk_bytes() == 2**20
    monkeypatch.setenv("VECSTUDY_DASK_CHUNK", "2 kB")
    assert vcluster.chunk_bytes() == 2000
    got = config.resolve_dask()["address"]
    assert (got.value, got.source.endswith("key 'dask.address'")) == ("tcp://h:1", True)


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "vecstudy.backends.dask")
    monkeypatch.delitem(backends._LOADED, "dask", raising=False)
    with pytest.raises(
        backends.BackendUnavailable,
        match=r"^backend 'dask' needs distributed, which is not installed; install it with: pip install 'vecstudy\[dask\]' \(from a clone: pip install '\.\[dask\]'\)$",
    ):
        backends.load("dask")
    assert issubclass(backends.BackendUnavailable, ImportError)
    grads, _ = vecstudy.propagate(np.zeros(1), 0.0, np.ones((1, 3)), np.ones(3), backend="numpy")
    assert grads["db"] == -0.5


@pytest.mark.slow
def test_worker_killed_mid_descent(rng: np.random.Generator) -> None:
    """Worker processes: one dies with its chunks; the descent re-places them and goes on."""
    X = rng.normal(size=(5, 4000))
    Y = (rng.random(4000) < 0.5).astype(float)
    w = rng.normal(size=5)
    numpy = backends.load("numpy")
    with vcluster.local_cluster(n_workers=2, processes=True) as cluster, Client(cluster) as cl:
        pids = cl.run(os.getpid)
        with dk.placed(X, Y, chunk=5 * 8 * 1000) as data:
            first = dk.descend(data, w, 0.1, 5, 0.5, 100)
            victim = next(iter(cl.who_has(data.parts[:1]).values()))[0]  # holds chunk 0
            os.kill(pids[victim], signal.SIGKILL)
            second = dk.descend(data, first[0], first[1], 5, 0.5, 100)
        ref = numpy.optimize(w, 0.1, X, Y, 10, 0.5, 100)
        assert second[5] == 5
        np.testing.assert_allclose(second[0], ref[0], rtol=1e-12)
        assert second[1] == pytest.approx(ref[1], rel=1e-12)


@pytest.mark.slow
def test_embedded_cluster_closes_at_exit(tmp_path: Path) -> None:
    """With no client and no address, a local cluster is started once and closed at exit."""
    import subprocess

    code = (
        "import numpy as np, vecstudy\n"
        "from vecstudy import cluster\n"
        "X, Y = np.ones((2, 5)), np.ones(5)\n"
        "vecstudy.propagate(np.zeros(2), 0.0, X, Y, backend='dask')\n"
        "first = cluster.get_client()[0]\n"
        "vecstudy.optimize(np.zeros(2), 0.0, X, Y, 3, 0.1, backend='dask')\n"
        "assert cluster.get_client()[0] is first\n"
        "print(cluster.describe())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECSTUDY_")}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    cores = config.available_cores()
    assert done.stdout.strip() == f"local cluster, {cores} workers x 1 thread (started)"
    assert "Warning" not in done.stderr, done.stderr
    assert "leaked" not in done.stderr, done.stderr
