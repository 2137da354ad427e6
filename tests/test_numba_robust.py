"""The numba backend under faults: Ctrl-C, no disk cache, the JIT off, overflow."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from vecstudy import backends

SRC = Path(__file__).resolve().parents[1] / "src"


def _child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def _problem(
    n_x: int, m: int, dtype: str = "float64", seed: int = 3
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_x, m)).astype(dtype)
    Y = (rng.random(m) < 0.5).astype(dtype)
    w = (rng.normal(size=n_x) / np.sqrt(n_x)).astype(dtype)
    return w, 0.3, X, Y


@pytest.mark.slow
def test_ctrl_c_stops_a_long_numba_optimize_promptly(tmp_path: Path) -> None:
    """SIGINT during a 5,000,000-iteration descent: KeyboardInterrupt long before its end."""
    script = textwrap.dedent(
        """
        import sys, time, numpy as np, vecstudy
        rng = np.random.default_rng(0)
        X = rng.normal(size=(10, 1000)); Y = (rng.random((1, 1000)) < 0.5).astype(float)
        w = np.zeros((10, 1))
        vecstudy.optimize(w, 0.0, X, Y, 10, backend="numba")  # compile or load the cache
        print("ready", flush=True)
        t0 = time.perf_counter()
        try:
            vecstudy.optimize(w, 0.0, X, Y, 5_000_000, 1e-3, backend="numba")
        except KeyboardInterrupt:
            print(f"interrupted after {time.perf_counter() - t0:.3f} s", flush=True)
            raise
        print("finished", flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_child_env(),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # well inside the descent, which takes many seconds
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert "finished" not in out  # it stopped: it did not run the 5,000,000 iterations
    assert "interrupted after" in out
    assert proc.returncode != 0
    assert err.rstrip().endswith("KeyboardInterrupt"), err
    assert "SystemError" not in err


def test_descent_in_slices_is_bitwise_one_descent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices of one iteration give bitwise the result of slices as long as possible."""
    nb = backends.load("numba")
    for order in "CF":
        for dtype in ("float64", "float32"):
            w, b, X, Y = _problem(13, 3000, dtype)
            X = np.asarray(X, order=order)
            monkeypatch.setattr(nb, "SLICE_SECONDS", 1e9)
            whole = nb.optimize(w, b, X, Y, 57, 0.5, 5)
            monkeypatch.setattr(nb, "SLICE_SECONDS", 1e-12)  # every slice one iteration
            sliced = nb.optimize(w, b, X, Y, 57, 0.5, 5)
            np.testing.assert_array_equal(sliced[0], whole[0])
            np.testing.assert_array_equal(sliced[2], whole[2])
            np.testing.assert_array_equal(sliced[4], whole[4])
            assert (sliced[1], sliced[3], sliced[5]) == (whole[1], whole[3], whole[5])
            assert len(whole[4]) == 12
            assert whole[5] == 57


def _blocked_dir(base: Path, name: str) -> str:
    """A path that cannot become a directory (a regular file is in the way), even for root."""
    blocker = base / name
    blocker.write_text("not a directory\n")
    return str(blocker / "sub")


@pytest.mark.slow
def test_no_writable_cache_compiles_anyway_with_one_warning(tmp_path: Path) -> None:
    """A read-only install and NUMBA_CACHE_DIR: compile without a disk cache, warn once."""
    pkg = tmp_path / "site"
    shutil.copytree(
        SRC / "vecstudy", pkg / "vecstudy", ignore=shutil.ignore_patterns("__pycache__")
    )
    for d in [pkg / "vecstudy", *(p for p in (pkg / "vecstudy").rglob("*") if p.is_dir())]:
        (d / "__pycache__").write_text("in the way\n")  # no in-tree cache either
    for p in pkg.rglob("*"):
        p.chmod(0o444 if p.is_file() else 0o555)
    script = textwrap.dedent(
        """
        import numpy as np, vecstudy
        z = np.linspace(-30.0, 30.0, 101)  # sigmoid: the smallest kernel to compile
        got = vecstudy.sigmoid(z, backend="numba")
        assert np.allclose(got, vecstudy.sigmoid(z, backend="numpy"), rtol=1e-14, atol=0)
        print("ok")
        """
    )
    env = _child_env(
        NUMBA_CACHE_DIR=_blocked_dir(tmp_path, "numba-cache"),
        XDG_CACHE_HOME=_blocked_dir(tmp_path, "xdg-cache"),
        HOME=_blocked_dir(tmp_path, "home"),
    )
    env["PYTHONPATH"] = str(pkg)
    res = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"
    assert res.stderr.count("NumbaCacheWarning") == 1, res.stderr
    assert "NUMBA_CACHE_DIR" in res.stderr


@pytest.mark.slow
def test_numba_backend_is_correct_with_the_jit_disabled() -> None:
    """NUMBA_DISABLE_JIT=1: the same loops run as Python and agree with NumPy."""
    script = textwrap.dedent(
        """
        import numpy as np
        from vecstudy import backends
        nb, ref = backends.load("numba"), backends.load("numpy")
        assert nb.JIT_DISABLED
        rng = np.random.default_rng(1)
        for dtype, tol in (("float64", 1e-12), ("float32", 1e-5)):
            X = rng.normal(size=(3, 7)).astype(dtype); Y = (rng.random(7) < 0.5).astype(dtype)
            w = rng.normal(size=3).astype(dtype)
            z = np.array([-800.0, -3.0, 0.0, 2.5, 800.0], dtype)
            assert np.allclose(nb.sigmoid(z), ref.sigmoid(z), rtol=tol, atol=0)
            assert np.allclose(nb.sigmoid_derivative(z), ref.sigmoid_derivative(z), rtol=tol, atol=1e-30)
            for XX in (X, np.asfortranarray(X)):
                a, b = nb.propagate(w, 0.1, XX, Y), ref.propagate(w, 0.1, X, Y)
                assert np.allclose(a[0], b[0], rtol=tol) and np.allclose(a[1:], b[1:], rtol=tol)
                a, b = nb.optimize(w, 0.1, XX, Y, 30, 0.5, 10), ref.optimize(w, 0.1, X, Y, 30, 0.5, 10)
                assert np.allclose(a[0], b[0], rtol=tol * 100) and a[5] == b[5] == 30
                assert np.allclose(a[4], b[4], rtol=tol * 100)
                assert np.array_equal(nb.predict(w, 0.1, XX), ref.predict(w, 0.1, X))
        print("ok")
        """
    )
    res = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        env=_child_env(NUMBA_DISABLE_JIT="1"),
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(3, 2), (12288, 9), (3, 70_000)])
def test_non_finite_z_gives_nan_db(shape: tuple[int, int], order: str) -> None:
    """w X overflows for one sample: db (and dw) come back NaN, not a converged-looking 0."""
    nb = backends.load("numba")
    n_x, m = shape
    X = np.zeros((n_x, m), order=order)
    X[0, 1] = X[1, 1] = 1e308  # z_1 = 10 * 1e308 + 10 * 1e308 overflows
    Y = np.zeros(m)
    w = np.zeros(n_x)
    w[:2] = 10.0
    dw, db, _ = nb.gradient_sums(w, 0.0, X, Y, True)
    assert np.isnan(db)
    assert np.isnan(nb.propagate(w, 0.0, X, Y)[1])
    assert not np.isfinite(dw[0])


@pytest.mark.parametrize("order", ["C", "F"])
def test_optimize_stops_when_the_gradient_overflows(order: str) -> None:
    """X * 1e300: optimize returns done < n with the last finite parameters."""
    nb = backends.load("numba")
    w, b, X, Y = _problem(4, 500)
    X = np.asarray(X * 1e300, order=order)
    w_out, b_out, _, _, _, done = nb.optimize(w, b, X, Y, 50, 0.01, 1)
    assert done < 50
    assert np.isfinite(w_out).all()
    assert np.isfinite(b_out)
