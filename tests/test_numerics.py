"""Overflow is never silent: one documented error, the same on every backend."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import vecstudy
from vecstudy import backends

Z_OVERFLOW = r"z = w\^T X \+ b overflowed"


def test_error_classes() -> None:
    assert issubclass(vecstudy.NumericalError, FloatingPointError)
    assert issubclass(vecstudy.DivergenceError, vecstudy.NumericalError)
    assert issubclass(vecstudy.DivergenceWarning, RuntimeWarning)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_z_that_overflows_to_minus_inf_is_reported(backend: str, dtype: str) -> None:
    """z_0 = -10 * 1e308 is -inf: the gradient alone (d = a - y = 0) would look converged."""
    if backend == "python" and dtype == "float32":
        pytest.skip("python computes in doubles, where this z (-1.7e39) is finite")
    big = float(np.finfo(dtype).max) / 2
    X = np.array([[big, 1.0]], dtype=dtype)
    with pytest.raises(vecstudy.NumericalError, match=Z_OVERFLOW + ".*scale X"):
        vecstudy.propagate([[-10.0]], 0.0, X, [[0, 0]], backend=backend)


def test_z_that_overflows_to_nan_is_reported(backend: str) -> None:
    w = [[10.0], [-10.0], [-10.0]]  # true z = -1e309 for every sample
    X = np.full((3, 2), 1e308)
    with pytest.raises(vecstudy.NumericalError, match=Z_OVERFLOW):
        vecstudy.propagate(w, 0.0, X, [[0, 1]], backend=backend)


def test_predict_refuses_an_overflowed_z(backend: str) -> None:
    """The true z is -1e309 (label 0): neither 1 nor any other label may come back."""
    w = [[10.0], [-10.0], [-10.0]]
    X = np.full((3, 2), 1e308)
    with pytest.raises(vecstudy.NumericalError, match=Z_OVERFLOW + r".*2 of 2 samples"):
        vecstudy.predict(w, 0.0, X, backend=backend)
    X[:, 1] = 1.0  # only sample 0 overflows
    with pytest.raises(vecstudy.NumericalError, match=r"1 of 2 samples \(the first is sample 0\)"):
        vecstudy.predict(w, 0.0, X, backend=backend)


def test_predict_near_the_limit_without_overflow(backend: str) -> None:
    """Large but finite z: the bound check must not raise; the labels are exact."""
    X = np.array([[1e308, -1e308, 1.0]])
    out = vecstudy.predict([[1.0]], 0.0, X, backend=backend)
    np.testing.assert_array_equal(out, [[1.0, 0.0, 1.0]])


def test_large_finite_z_keeps_an_exact_cost(backend: str) -> None:
    grads, cost = vecstudy.propagate([[1.0]], 0.0, [[1e308, -1e308]], [[1, 0]], backend=backend)
    assert cost == 0.0
    assert grads["db"] == 0.0
    assert grads["dw"][0, 0] == 0.0


def test_gradient_overflow_is_reported(backend: str) -> None:
    """Each term x_j (a_j - y_j) = 1e308 is finite, their sum is not."""
    X = np.array([[1e308, -1e308]])
    with pytest.raises(vecstudy.NumericalError, match=r"the gradient dw .* overflowed"):
        vecstudy.propagate([[1.0]], 0.0, X, [[0, 1]], backend=backend)


def test_optimize_on_huge_X_raises_divergence(backend: str) -> None:
    X = np.array([[1.0, -2.0, 3.0]]) * 1e300
    with pytest.raises(vecstudy.DivergenceError, match=r"diverged at iteration \d+") as info:
        vecstudy.optimize([[0.0]], 0.0, X, [[1, 0, 1]], 100, 0.1, backend=backend)
    err = info.value
    assert isinstance(err, vecstudy.NumericalError)
    assert np.isfinite(err.params["w"]).all()
    assert np.isfinite(err.params["b"])
    assert err.iteration < 100


def test_optimize_from_an_overflowing_start_raises(backend: str) -> None:
    """The very first gradient is non-finite (z = -inf): no update may be applied."""
    X = np.array([[1e308, 1.0]])
    with pytest.raises(vecstudy.DivergenceError, match="gradient came out non-finite") as info:
        vecstudy.optimize([[-10.0]], 0.0, X, [[0, 0]], 5, 0.1, backend=backend)
    assert info.value.iteration == 0
    assert info.value.params["w"][0, 0] == -10.0


def _rising_problem() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(5, 200)) * 100  # unstandardized
    Y = (rng.random((1, 200)) > 0.5).astype(float)
    return X, Y


def test_rising_cost_warns(backend: str) -> None:
    X, Y = _rising_problem()
    iterations = 300 if backend != "python" else 201
    with pytest.warns(vecstudy.DivergenceWarning, match=r"cost rose from 0.693147.*learning_rate"):
        _, _, costs = vecstudy.optimize(
            np.zeros((5, 1)), 0.0, X, Y, iterations, 1e6, backend=backend
        )
    assert max(costs) > 2 * costs[0] + 1


def test_falling_cost_does_not_warn(backend: str) -> None:
    X, Y = _rising_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error", vecstudy.DivergenceWarning)
        _, _, costs = vecstudy.optimize(
            np.zeros((5, 1)), 0.0, X / 100, Y, 201, 0.01, backend=backend
        )
    assert costs[-1] <= costs[0]


def test_rising_cost_warns_with_print_cost(capsys: pytest.CaptureFixture[str]) -> None:
    X, Y = _rising_problem()
    with pytest.warns(vecstudy.DivergenceWarning):
        vecstudy.optimize(np.zeros((5, 1)), 0.0, X, Y, 201, 1e6, True, backend="numpy")
    assert "Cost after iteration 100" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["b", "learning_rate"])
def test_huge_python_ints_name_the_parameter(name: str) -> None:
    args: dict[str, object] = {"b": 0.0, "learning_rate": 0.1}
    args[name] = 10**400
    with pytest.raises(ValueError, match=rf"{name} = int .* too large for a float64"):
        vecstudy.optimize(
            [[1.0]],
            args["b"],
            [[1.0, 2.0]],
            [[0, 1]],
            1,  # type: ignore[arg-type]
            args["learning_rate"],
        )  # type: ignore[arg-type]


def test_learning_rate_that_does_not_fit_float32() -> None:
    X32 = np.ones((1, 2), dtype=np.float32)
    with pytest.raises(ValueError, match=r"learning_rate = 1e\+39 is too large for dtype float32"):
        vecstudy.optimize([[1.0]], 0.0, X32, [[0, 1]], 1, 1e39)
    with pytest.raises(ValueError, match=r"learning_rate = 1e-50 rounds to 0 in dtype float32"):
        vecstudy.optimize([[1.0]], 0.0, X32, [[0, 1]], 1, 1e-50)


def test_python_float32_parameters_stay_finite_in_float32() -> None:
    """The python backend computes in doubles; parameters that only fit a double diverge."""
    X = np.array([[1e30, -1e30]], dtype=np.float32)
    with pytest.raises(vecstudy.DivergenceError):
        vecstudy.optimize([[0.0]], 0.0, X, [[1, 0]], 3, 1e10, backend="python")


def test_every_backend_is_covered() -> None:
    """The tests above iterate the registry (the ``backend`` fixture)."""
    assert set(backends.available_backends()) >= {"python", "numpy", "numba"}


def test_unstandardized_breast_cancer_warns() -> None:
    """The issue's case: real data, unscaled features, a learning rate far too large."""
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_breast_cancer(return_X_y=True)
    with pytest.warns(vecstudy.DivergenceWarning, match=r"standardize the features of X"):
        vecstudy.optimize(np.zeros((30, 1)), 0.0, X.T, y, 101, 1e6)
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", vecstudy.DivergenceWarning)
        _, _, costs = vecstudy.optimize(np.zeros((30, 1)), 0.0, Xs.T, y, 301, 0.5)
    assert costs[-1] < costs[0]


def test_warning_points_at_the_caller() -> None:
    X, Y = _rising_problem()
    with pytest.warns(vecstudy.DivergenceWarning) as record:
        vecstudy.model(X, Y, X, Y, 201, 1e6)
    assert record[0].filename == __file__


def test_divergence_error_pickles() -> None:
    import pickle

    X = np.array([[1.0, -2.0, 3.0]]) * 1e300
    with pytest.raises(vecstudy.DivergenceError) as info:
        vecstudy.optimize([[0.0]], 0.0, X, [[1, 0, 1]], 100, 0.1, backend="numpy")
    copy = pickle.loads(pickle.dumps(info.value))
    assert isinstance(copy, vecstudy.DivergenceError)
    assert str(copy) == str(info.value)
    assert copy.iteration == info.value.iteration
    np.testing.assert_array_equal(copy.params["w"], info.value.params["w"])
    assert copy.costs == info.value.costs
