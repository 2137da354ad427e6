"""The JAX peer of ``vecstudy roofline``: a jitted whole descent that agrees with NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from vecstudy import backends
from vecstudy.study.roofline import JaxDescent

jax = pytest.importorskip("jax")


@pytest.fixture(scope="module")
def peer() -> JaxDescent:
    loaded = JaxDescent.load()
    assert loaded is not None
    return loaded


def _problem() -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(17)
    X = rng.normal(size=(5, 40)) * 3
    Y = (rng.random(40) > 0.5).astype(np.float64)
    return rng.normal(size=5), -0.4, X, Y


@pytest.mark.parametrize("order", ["C", "F"])
def test_gradient_agrees_with_numpy(peer: JaxDescent, order: str) -> None:
    """One iteration: dw, db (the gradient at the start) and the cost are NumPy's to 1e-12."""
    w, b, X, Y = _problem()
    XX = X if order == "C" else np.asfortranarray(X)
    x64_before = bool(jax.config.jax_enable_x64)
    run, compile_s = peer.prepare(w, b, XX, Y, 1, 0.1)
    w1, b1, dw, db, costs = run()
    dw_ref, db_ref, cost_ref = backends.load("numpy").propagate(w, b, X, Y)
    assert dw.dtype == np.float64
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-12, atol=1e-15)
    assert db == pytest.approx(db_ref, rel=1e-12, abs=1e-15)
    assert costs.tolist() == [pytest.approx(cost_ref, rel=1e-12)]
    np.testing.assert_allclose(w1, w - 0.1 * dw_ref, rtol=1e-12)
    assert b1 == pytest.approx(b - 0.1 * db_ref, rel=1e-12)
    assert compile_s > 0
    if peer.x64_scoped:  # float64 was switched on for the peer's calls only
        assert bool(jax.config.jax_enable_x64) == x64_before


def test_descent_agrees_with_numpy(peer: JaxDescent) -> None:
    """Five iterations, a cost recorded every second one: NumPy's descent to 1e-12."""
    w, b, X, Y = _problem()
    run, _ = peer.prepare(w, b, X, Y, 5, 0.05, record_every=2)
    w_j, b_j, dw_j, db_j, costs_j = run()
    w_n, b_n, dw_n, db_n, costs_n, done = backends.load("numpy").optimize(w, b, X, Y, 5, 0.05, 2)
    assert done == 5
    np.testing.assert_allclose(w_j, w_n, rtol=1e-12)
    np.testing.assert_allclose(dw_j, dw_n, rtol=1e-12, atol=1e-15)
    assert (b_j, db_j) == (pytest.approx(b_n, rel=1e-12), pytest.approx(db_n, rel=1e-12))
    np.testing.assert_allclose(costs_j, costs_n, rtol=1e-12)
