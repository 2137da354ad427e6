"""Thread limits: clamped with a word, restored in order, seen by every loaded pool."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import vecstudy
from vecstudy import backends
from vecstudy.runtime import threads
from vecstudy.runtime.cores import available_cores

X = np.random.default_rng(3).normal(size=(4, 300))
Y = (X[0] > 0).astype(float).reshape(1, -1)
W = np.zeros((4, 1))


def _blas() -> set[int]:
    return {lib["threads"] for lib in threads.blas_threads() if lib["user_api"] == "blas"}


@pytest.mark.parametrize("asked", [64, 10**6, 2**70])
def test_more_threads_than_cores_are_clamped_with_a_warning(asked: int) -> None:
    cores = available_cores()
    with (  # noqa: PT031 - the warning comes from entering the block
        pytest.warns(vecstudy.ThreadCountWarning, match=r"threads=.* is more than the"),
        threads.limit_threads(asked),
    ):
        ran = threads.running_threads()["blas_threads"]
        seen = _blas()
    assert ran == cores
    assert seen == {cores}


def test_api_call_with_absurd_threads(backend: str) -> None:
    before = _blas()
    with pytest.warns(vecstudy.ThreadCountWarning, match=rf"using {available_cores()}"):
        _, cost = vecstudy.propagate(W, 0.0, X, Y, backend=backend, threads=2**70)
    assert np.isfinite(cost)
    assert _blas() == before


def test_numba_cap_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """NUMBA_NUM_THREADS below the count asked: numba runs fewer threads, and says so."""
    if available_cores() < 2:
        pytest.skip("needs 2 cores")
    nb = backends.load("numba")
    monkeypatch.setattr(nb, "max_threads", lambda: 1)
    with (  # noqa: PT031 - the warning comes from entering the block
        pytest.warns(vecstudy.ThreadCountWarning, match=r"NUMBA_NUM_THREADS=1\), not the 2"),
        threads.limit_threads(2, numba=True),
    ):
        numba_threads = nb.get_threads()
        ran = threads.running_threads()
        seen = _blas()
    assert numba_threads == 1
    assert ran["numba_threads"] == 1
    assert seen == {2}


def test_concurrent_limits_restore_the_process_setting() -> None:
    """Four threads with different limits at once: each sees its own, the process's survives."""
    before = _blas()
    errors: list[str] = []
    start = threading.Barrier(4)

    def work(n: int) -> None:
        start.wait()
        for _ in range(25):
            with threads.limit_threads(n):
                seen = _blas()
                if seen != {n} or threads.running_threads()["blas_threads"] != n:
                    errors.append(f"limit {n} but BLAS ran {seen}")
            vecstudy.propagate(W, 0.0, X, Y, threads=n)

    workers = [threading.Thread(target=work, args=(1 + i % 2,)) for i in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert errors == []
    assert _blas() == before


def test_nested_limits_in_one_thread() -> None:
    with threads.limit_threads(1):
        assert _blas() == {1}
        inner = 2 if available_cores() >= 2 else 1
        with threads.limit_threads(inner):
            assert _blas() == {inner}
        assert _blas() == {1}


def test_numba_alone_limits_set_and_restore_numbas_count() -> None:
    """The API's limit (numba alone, no BLAS): set inside, restored after, also on an error."""
    nb = backends.load("numba")
    nb.propagate(W[:, 0], 0.0, X, Y[0])  # numba's layer started, as after any first call
    with threads.limit_threads(1, numba=True, blas=False):
        pass
    top = nb.max_threads()
    nb.set_threads(top)
    try:
        with threads.limit_threads(1, numba=True, blas=False):
            assert nb.get_threads() == 1
            with threads.limit_threads(1, numba=True, blas=False):  # already 1: nothing to do
                assert nb.get_threads() == 1
            assert nb.get_threads() == 1
        assert nb.get_threads() == top
        seen = []

        def fail() -> None:
            with threads.limit_threads(1, numba=True, blas=False):
                seen.append(nb.get_threads())
                raise RuntimeError

        with pytest.raises(RuntimeError):
            fail()
        assert seen == [1]
        assert nb.get_threads() == top
    finally:
        nb.set_threads(top)


@pytest.mark.slow
def test_pools_loaded_by_numba_after_the_first_limit_are_limited() -> None:
    """numba's first call loads another OpenBLAS and OpenMP: the limit must reach them."""
    code = textwrap.dedent(
        """
        import numpy as np, vecstudy
        from vecstudy import backends
        from vecstudy.runtime import threads
        backends.load("numba")  # imported, but its first call has not run yet
        with threads.limit_threads(1):  # builds the controller now
            pass
        vecstudy.propagate(np.ones((2, 1)), 0.0, np.ones((2, 3)), [[0, 1, 1]], backend="numba")
        with threads.limit_threads(1):
            pools = threads.blas_threads()
        print(len(pools), sorted({p["threads"] for p in pools}))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECSTUDY_")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    assert int(out[0]) >= 2  # numpy's OpenBLAS and at least one pool numba brought
    assert out[1:] == ["[1]"]


def test_refresh_rebuilds_the_controller() -> None:
    first = threads._pools()
    assert threads._pools() is first
    threads.refresh()
    assert threads._pools() is not first


@pytest.mark.slow
def test_numba_first_call_inside_a_limit_runs_limited() -> None:
    """The pools numba's first parallel call loads are limited within that very block."""
    code = textwrap.dedent(
        """
        import numpy as np
        from vecstudy.runtime import threads
        with threads.limit_threads(1, numba=True):
            from vecstudy import backends
            backends.load("numba").read_sum(np.ones(10))  # a parallel function
            pools = threads.blas_threads()
            from threadpoolctl import threadpool_info
            fresh = threadpool_info()
        print(len(pools), len(fresh), sorted({p["num_threads"] for p in fresh}))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECSTUDY_")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    assert int(out[0]) == int(out[1]) >= 2
    assert out[2:] == ["[1]"]


def test_thread_warning_points_at_the_caller() -> None:
    with pytest.warns(vecstudy.ThreadCountWarning) as record:
        vecstudy.propagate(W, 0.0, X, Y, threads=10**6)
    assert record[0].filename == __file__


@pytest.mark.slow
def test_limit_with_numba_jit_disabled() -> None:
    code = textwrap.dedent(
        """
        from vecstudy.runtime import threads
        with threads.limit_threads(1, numba=True):
            print(threads.running_threads()["numba_threads"])
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECSTUDY_")}
    env["NUMBA_DISABLE_JIT"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.split() == ["1"]


def test_numpy_integer_thread_counts() -> None:
    with threads.limit_threads(np.int64(1)):  # type: ignore[arg-type]
        assert _blas() == {1}
    with pytest.raises(ValueError, match="threads must be a positive integer, got 0"):
        threads.limit_threads(np.int64(0)).__enter__()  # type: ignore[arg-type]
