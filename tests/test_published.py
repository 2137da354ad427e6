"""The course's published values, reproduced by every backend."""

from __future__ import annotations

import numpy as np
import pytest

import vecstudy

W = np.array([[1.0], [2.0]])
B = 2.0
X = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
Y = np.array([[1, 0, 1]])

# The course prints 8 decimals for arrays; the scalars to more digits.
ARRAY_ATOL = 5e-9
#: The exact cost (computed with 40-digit arithmetic).  The course's 5.801545319394553
#: comes from the naive log(a), log(1 - a) form and is off in the 13th digit; the stable
#: form used here matches the exact value to the last digit of a double.
EXACT_COST = 5.8015453193941502569


def test_propagate(backend: str) -> None:
    grads, cost = vecstudy.propagate(W, B, X, Y, backend=backend)
    assert grads["dw"].shape == (2, 1)
    np.testing.assert_allclose(grads["dw"], [[0.99845601], [2.39507239]], rtol=0, atol=ARRAY_ATOL)
    assert isinstance(grads["db"], float)
    assert grads["db"] == pytest.approx(0.00145557813678, rel=0, abs=5e-15)
    assert isinstance(cost, float)
    assert cost == pytest.approx(EXACT_COST, rel=4e-16)
    assert cost == pytest.approx(5.801545319394553, rel=1e-12)


def test_optimize(backend: str) -> None:
    w, x, y = W.copy(), X.copy(), Y.copy()
    params, grads, costs = vecstudy.optimize(w, B, x, y, 100, 0.009, backend=backend)
    np.testing.assert_allclose(params["w"], [[0.19033591], [0.12259159]], rtol=0, atol=ARRAY_ATOL)
    assert params["b"] == pytest.approx(1.92535983008, rel=0, abs=5e-12)
    np.testing.assert_allclose(grads["dw"], [[0.67752042], [1.41625495]], rtol=0, atol=ARRAY_ATOL)
    assert grads["db"] == pytest.approx(0.219194504541, rel=0, abs=5e-13)
    assert costs == [pytest.approx(EXACT_COST, rel=4e-16)]
    # the caller's arrays are untouched
    np.testing.assert_array_equal(w, W)
    np.testing.assert_array_equal(x, X)
    np.testing.assert_array_equal(y, Y)


def test_costs_every_100_iterations(backend: str) -> None:
    _, _, costs = vecstudy.optimize(W, B, X, Y, 301, 0.009, backend=backend)
    assert len(costs) == 4  # iterations 0, 100, 200, 300
    assert all(isinstance(c, float) for c in costs)
    assert costs == sorted(costs, reverse=True)


def test_predict(backend: str) -> None:
    w = np.array([[0.1124579], [0.23106775]])
    pred = vecstudy.predict(
        w, -0.3, np.array([[1.0, -1.1, -3.2], [1.2, 2.0, 0.1]]), backend=backend
    )
    assert pred.shape == (1, 3)
    np.testing.assert_array_equal(pred, [[1.0, 1.0, 0.0]])


def test_sigmoid(backend: str) -> None:
    np.testing.assert_allclose(
        vecstudy.sigmoid(np.array([0, 2]), backend=backend), [0.5, 0.88079708], rtol=0, atol=5e-9
    )
    np.testing.assert_allclose(
        vecstudy.sigmoid_derivative(np.array([1.0, 2.0, 3.0]), backend=backend),
        [0.19661193, 0.10499359, 0.04517666],
        rtol=0,
        atol=5e-9,
    )


def test_initialize_with_zeros() -> None:
    w, b = vecstudy.initialize_with_zeros(2)
    assert w.shape == (2, 1)
    assert w.dtype == np.float64
    assert not w.any()
    assert b == 0.0
    assert type(b) is float


def test_model_returns_course_dict(backend: str, rng: np.random.Generator) -> None:
    Xtr = rng.normal(size=(3, 40))
    Ytr = (Xtr[0] + 0.5 * Xtr[1] > 0).astype(float)[None]
    Xte = rng.normal(size=(3, 10))
    Yte = (Xte[0] + 0.5 * Xte[1] > 0).astype(float)[None]
    d = vecstudy.model(Xtr, Ytr, Xte, Yte, num_iterations=200, learning_rate=0.5, backend=backend)
    assert set(d) == {
        "costs",
        "Y_prediction_test",
        "Y_prediction_train",
        "w",
        "b",
        "learning_rate",
        "num_iterations",
    }
    assert d["Y_prediction_test"].shape == (1, 10)
    assert d["Y_prediction_train"].shape == (1, 40)
    assert d["w"].shape == (3, 1)
    assert len(d["costs"]) == 2
    assert (d["Y_prediction_train"] == Ytr).mean() > 0.9
    assert (d["learning_rate"], d["num_iterations"]) == (0.5, 200)


def test_print_cost(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    quiet = vecstudy.optimize(W, B, X, Y, 250, 0.009, backend=backend)
    loud = vecstudy.optimize(W, B, X, Y, 250, 0.009, True, backend=backend)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"Cost after iteration {k}: {c:f}" for k, c in zip((0, 100, 200), quiet[2], strict=True)
    ]
    # printing runs the same arithmetic
    np.testing.assert_array_equal(quiet[0]["w"], loud[0]["w"])
    assert quiet[2] == loud[2]
