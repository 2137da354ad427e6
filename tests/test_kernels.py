"""Kernel-level properties: additive over chunks, deterministic over thread counts, dtype kept."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vecstudy import backends
from vecstudy.runtime.threads import limit_threads


def _problem(
    n_x: int, m: int, dtype: str, seed: int = 7
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_x, m)).astype(dtype)
    Y = (rng.random(m) < 0.5).astype(dtype)
    w = (rng.normal(size=n_x) / np.sqrt(n_x)).astype(dtype)
    return w, -0.2, X, Y


@pytest.mark.parametrize("with_cost", [True, False])
def test_gradient_sums_add_over_chunks(backend: str, with_cost: bool) -> None:
    """The per-step primitive is additive: chunks of samples sum to the whole batch."""
    w, b, X, Y = _problem(5, 3001, "float64")
    kernel = backends.load(backend).gradient_sums
    whole = kernel(w, b, X, Y, with_cost)
    cuts = [0, 1, 700, 2048, 3001]
    parts = [
        kernel(w, b, np.ascontiguousarray(X[:, i:j]), Y[i:j], with_cost)
        for i, j in itertools.pairwise(cuts)
    ]
    np.testing.assert_allclose(sum(p[0] for p in parts), whole[0], rtol=1e-12, atol=1e-12)
    assert sum(p[1] for p in parts) == pytest.approx(whole[1], rel=1e-12, abs=1e-12)
    assert sum(p[2] for p in parts) == pytest.approx(whole[2], rel=1e-12, abs=1e-12)
    if not with_cost:
        assert whole[2] == 0.0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numba_is_deterministic_for_any_thread_count(dtype: str) -> None:
    """Per-block partial sums combined in a fixed order: bitwise the same for 1 and 2 threads."""
    nb = backends.load("numba")
    if nb.max_threads() < 2:
        pytest.skip("needs 2 Numba threads")
    w, b, X, Y = _problem(30, 40_000, dtype)  # above the parallel threshold, many blocks
    results = []
    for threads in (1, 2, 1, 2):
        with limit_threads(threads, numba=True):
            results.append(nb.propagate(w, b, X, Y))
            results.append(nb.optimize(w, b, X, Y, 3, 0.1, 1)[:5])
    first_step, first_opt = results[0], results[1]
    for step, opt in zip(results[2::2], results[3::2], strict=True):
        np.testing.assert_array_equal(step[0], first_step[0])
        assert step[1:] == first_step[1:]
        np.testing.assert_array_equal(opt[0], first_opt[0])
        np.testing.assert_array_equal(opt[4], first_opt[4])
        assert (opt[1], opt[3]) == (first_opt[1], first_opt[3])


def test_float32_stays_float32(backend: str) -> None:
    """float32 in, float32 out, and really computed in float32 by the compiled kernels."""
    w, b, X, Y = _problem(6, 5000, "float32")
    kern = backends.load(backend)
    dw, _, _ = kern.propagate(w, b, X, Y)
    w_out, _, dw_opt, _, costs, _ = kern.optimize(w, b, X, Y, 101, 0.5, 100)
    assert dw.dtype == w_out.dtype == dw_opt.dtype == costs.dtype == np.float32
    assert kern.predict(w, b, X).dtype == np.float32
    assert kern.sigmoid(X[0]).dtype == np.float32
    if backend != "python":  # the reference loop computes in Python floats by design
        exact = backends.load("python").propagate(w, b, X, Y)[0]
        assert not np.array_equal(dw, exact)  # rounding differs: not promoted to float64
        np.testing.assert_allclose(dw, exact, rtol=1e-4, atol=1e-6)
