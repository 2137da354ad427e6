"""Gradients match a 4th-order central finite difference of the cost; costs stay finite."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import vecstudy


def fd4(f, x: float, h: float) -> float:  # type: ignore[no-untyped-def]
    """(-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h: error O(h^4)."""
    return (-f(x + 2 * h) + 8 * f(x + h) - 8 * f(x - h) + f(x - 2 * h)) / (12 * h)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_matches_finite_difference(backend: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_x, m = 4, 50
    X = rng.normal(size=(n_x, m)) * 2
    Y = (rng.random((1, m)) < 0.4).astype(float)
    w = rng.normal(size=(n_x, 1))
    b = float(rng.normal())
    grads, _ = vecstudy.propagate(w, b, X, Y, backend=backend)

    def cost_w(i: int):  # type: ignore[no-untyped-def]
        def f(v: float) -> float:
            w2 = w.copy()
            w2[i, 0] = v
            return vecstudy.propagate(w2, b, X, Y, backend=backend)[1]

        return f

    h = 1e-3
    fd_dw = [fd4(cost_w(i), w[i, 0], h) for i in range(n_x)]
    fd_db = fd4(lambda v: vecstudy.propagate(w, v, X, Y, backend=backend)[1], b, h)
    np.testing.assert_allclose(grads["dw"].ravel(), fd_dw, rtol=1e-8, atol=1e-10)
    assert grads["db"] == pytest.approx(fd_db, rel=1e-8, abs=1e-10)


@pytest.mark.parametrize("zmax", [30.0, 800.0, 1e4])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_extreme_z_is_finite_and_warning_free(backend: str, zmax: float, dtype: str) -> None:
    X = np.array([[1.0, -1.0, 0.5, -0.5, 1.0, -1.0]])
    Y = np.array([[1, 0, 1, 0, 0, 1]])  # the last two are confidently wrong
    w = np.array([[zmax]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grads, cost = vecstudy.propagate(w, 0.0, X, Y, backend=backend, dtype=dtype)
        a = vecstudy.sigmoid(np.array([-zmax, zmax], dtype=dtype), backend=backend)
    assert np.isfinite(cost)
    assert np.all(np.isfinite(grads["dw"]))
    assert np.isfinite(grads["db"])
    # two samples with |z| = zmax wrong, two with zmax/2 right: cost = (2 zmax + tiny) / 6
    assert cost == pytest.approx(2 * zmax / 6, rel=1e-6)
    assert grads["dw"][0, 0] == pytest.approx((1 * 1 + (-1) * -1) / 6, rel=1e-6)
    np.testing.assert_allclose(a, [0.0, 1.0], atol=1e-12)
    assert a.dtype == np.dtype(dtype)
