"""Bad input gets a clear error naming the argument and what was found."""

from __future__ import annotations

import numpy as np
import pytest

import vecstudy

W = np.array([[1.0], [2.0]])
X = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
Y = np.array([[1, 0, 1]])


def _with(**changes: object) -> dict[str, object]:
    args: dict[str, object] = {"w": W, "b": 2.0, "X": X, "Y": Y}
    args.update(changes)
    return args


CASES = [
    pytest.param(
        _with(X=np.array([[1.0, np.nan, 0.0], [0.0, 1.0, 2.0]])),
        ValueError,
        r"X must be finite; found nan at index \(0, 1\)",
        id="nan-in-X",
    ),
    pytest.param(
        _with(X=np.array([[1.0, np.inf, 0.0], [0.0, 1.0, 2.0]])),
        ValueError,
        r"X must be finite.*inf",
        id="inf-in-X",
    ),
    pytest.param(
        _with(Y=np.array([[1.0, np.nan, 0.0]])), ValueError, r"Y must be finite", id="nan-in-Y"
    ),
    pytest.param(
        _with(X=np.array([1.0, 2.0, 3.0])),
        ValueError,
        r"X must be 2-D.*1-D shape \(3,\)",
        id="X-1d",
    ),
    pytest.param(_with(X=np.ones((2, 3, 1))), ValueError, r"X must be 2-D.*3-D", id="X-3d"),
    pytest.param(
        _with(w=np.ones((3, 1))),
        ValueError,
        r"w must have shape \(n_x, 1\) = \(2, 1\).*\(3, 1\)",
        id="w-shape",
    ),
    pytest.param(_with(w=np.ones((1, 2))), ValueError, r"w must have shape .*\(1, 2\)", id="w-row"),
    pytest.param(
        _with(Y=np.array([[1, 0]])), ValueError, r"Y has 2 samples but X has 3", id="m-mismatch"
    ),
    pytest.param(
        _with(Y=np.array([[1, 0, 2]])),
        ValueError,
        r"labels 0 and 1 only; found \[2\.0\]",
        id="labels",
    ),
    pytest.param(
        _with(Y=np.array([[1, 0, -1]])), ValueError, r"labels 0 and 1 only", id="labels-negative"
    ),
    pytest.param(
        _with(Y=np.array([[1, 0, 0.5]])),
        ValueError,
        r"labels 0 and 1 only; found \[0\.5\]",
        id="labels-fraction",
    ),
    pytest.param(
        _with(X=np.ones((2, 0)), Y=np.ones((1, 0))),
        ValueError,
        r"X has zero samples",
        id="no-samples",
    ),
    pytest.param(
        _with(X=np.ones((0, 3)), w=np.ones((0, 1))),
        ValueError,
        r"X has zero features",
        id="no-features",
    ),
    pytest.param(
        _with(X=[["a", "b", "c"], ["d", "e", "f"]]),
        TypeError,
        r"X must hold real numbers.*<U1",
        id="X-strings",
    ),
    pytest.param(
        _with(X=np.array([[1, None, 2], [1, 2, 3]], dtype=object)),
        TypeError,
        r"X must hold real numbers",
        id="X-object",
    ),
    pytest.param(
        _with(X=[[1.0, 2.0], [1.0]]), TypeError, r"X must be a numeric array", id="X-ragged"
    ),
    pytest.param(_with(X="abc"), TypeError, r"X must be a numeric array, got str", id="X-str"),
    pytest.param(
        _with(X=X.astype(complex)),
        TypeError,
        r"X must hold real numbers; found dtype complex128",
        id="X-complex",
    ),
    pytest.param(_with(b="2"), TypeError, r"b must be a real number; got str", id="b-str"),
    pytest.param(_with(b=float("nan")), ValueError, r"b must be finite", id="b-nan"),
    pytest.param(_with(w=np.array([[np.inf], [1.0]])), ValueError, r"w must be finite", id="w-inf"),
]


@pytest.mark.parametrize(("args", "error", "match"), CASES)
def test_propagate_rejects(
    backend: str, args: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        vecstudy.propagate(args["w"], args["b"], args["X"], args["Y"], backend=backend)  # type: ignore[arg-type]


@pytest.mark.parametrize(("args", "error", "match"), CASES)
def test_optimize_rejects(args: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        vecstudy.optimize(args["w"], args["b"], args["X"], args["Y"], 10, 0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"learning_rate": 0.0}, ValueError, r"learning_rate must be finite and > 0; got 0\.0"),
        ({"learning_rate": -0.1}, ValueError, r"learning_rate must be finite and > 0; got -0\.1"),
        ({"learning_rate": float("inf")}, ValueError, r"learning_rate must be finite"),
        ({"learning_rate": float("nan")}, ValueError, r"learning_rate must be finite"),
        ({"learning_rate": "0.1"}, TypeError, r"learning_rate must be a real number; got str"),
        ({"num_iterations": -1}, ValueError, r"num_iterations must be >= 0; got -1"),
        ({"num_iterations": 10.5}, TypeError, r"num_iterations must be an integer; got float"),
        ({"num_iterations": True}, TypeError, r"num_iterations must be an integer; got bool"),
        ({"print_cost": "yes"}, TypeError, r"print_cost must be True or False"),
        (
            {"backend": "fortran"},
            ValueError,
            r"unknown backend 'fortran' from argument backend=; valid backends are 'python', 'numba', 'numpy', 'dask', 'auto'",
        ),
        (
            {"dtype": "float16"},
            ValueError,
            r"unknown dtype 'float16' from argument dtype=; valid dtypes are 'float64', 'float32'",
        ),
        ({"threads": 0}, ValueError, r"bad threads 0 from argument threads="),
    ],
)
def test_optimize_rejects_options(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        vecstudy.optimize(W, 2.0, X, Y, **kwargs)  # type: ignore[arg-type]


def test_divergence_is_reported(backend: str) -> None:
    Xbig = np.array([[1e300, -1e300, 1e300]])
    with pytest.raises(
        vecstudy.DivergenceError, match=r"diverged at iteration \d+.*learning_rate"
    ) as info:
        vecstudy.optimize(np.zeros((1, 1)), 0.0, Xbig, Y, 50, 1e10, backend=backend)
    err = info.value
    assert 0 <= err.iteration < 50
    assert np.all(np.isfinite(err.params["w"]))
    assert np.isfinite(err.params["b"])


def test_finite_weights_are_not_divergence(backend: str) -> None:
    """Weights near float32's limit whose sum overflows are still finite: no false alarm."""
    w = np.array([[3e38], [3e38]], dtype=np.float32)
    X = np.array([[1e-30, 0.0], [0.0, 1e-30]], dtype=np.float32)
    params, _, _ = vecstudy.optimize(w, 0.0, X, [[1, 1]], 1, 1e-3, backend=backend)
    assert np.all(np.isfinite(params["w"]))


def test_values_that_overflow_float32_are_rejected() -> None:
    X = np.array([[1e38, 1.0], [1e39, 2.0]])
    with pytest.raises(ValueError, match="X has values too large for dtype float32"):
        vecstudy.propagate(np.ones((2, 1)), 0.0, X, [[0, 1]], dtype="float32")
    with pytest.raises(ValueError, match=r"b = 1e\+39 is too large for dtype float32"):
        vecstudy.predict(np.ones((2, 1)), 1e39, np.ones((2, 2)), dtype="float32")


def test_absurd_iteration_counts_are_rejected() -> None:
    with pytest.raises(
        ValueError, match=r"num_iterations must be <= 2147483647; got 9223372036854775808"
    ):
        vecstudy.optimize(W, 2.0, X, Y, 2**63, 0.1, backend="numba")


def test_sigmoid_of_a_scalar_is_0d(backend: str) -> None:
    out = vecstudy.sigmoid(0.5, backend=backend)
    assert isinstance(out, np.ndarray)
    assert out.shape == ()
    assert float(out) == pytest.approx(0.6224593312018546, rel=1e-15)


def test_zero_iterations_returns_inputs(backend: str) -> None:
    params, grads, costs = vecstudy.optimize(W, 2.0, X, Y, 0, 0.1, backend=backend)
    np.testing.assert_array_equal(params["w"], W)
    assert params["b"] == 2.0
    assert costs == []
    assert grads["dw"].shape == (2, 1)


def test_accepts_course_variants(backend: str) -> None:
    """1-D w and Y, integer X, a numpy-scalar b: converted once, same answer."""
    ref, cost = vecstudy.propagate(W, 2.0, X, Y, backend=backend)
    got, cost2 = vecstudy.propagate(
        W.ravel(), np.float32(2.0), X.tolist(), Y.ravel(), backend=backend
    )
    np.testing.assert_allclose(got["dw"], ref["dw"], rtol=1e-15)
    assert cost2 == pytest.approx(cost, rel=1e-15)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: vecstudy.sigmoid("x"), TypeError, r"z must be a numeric array"),
        (lambda: vecstudy.sigmoid([np.nan]), ValueError, r"z must not contain NaN"),
        (lambda: vecstudy.sigmoid_derivative([1j]), TypeError, r"x must hold real numbers"),
        (lambda: vecstudy.initialize_with_zeros(0), ValueError, r"dim must be >= 1; got 0"),
        (
            lambda: vecstudy.initialize_with_zeros(2.0),
            TypeError,
            r"dim must be an integer; got float",
        ),
        (
            lambda: vecstudy.predict(W, 2.0, np.ones((3, 4))),
            ValueError,
            r"w must have shape \(n_x, 1\) = \(3, 1\)",
        ),
        (
            lambda: vecstudy.model(X, Y, np.ones((3, 2)), np.ones((1, 2))),
            ValueError,
            r"X_test has 3 features but X_train has 2",
        ),
        (
            lambda: vecstudy.model(X, [[1, 0]], X, Y),
            ValueError,
            r"Y_train has 2 samples but X_train has 3: X_train looks like \(samples, features\)",
        ),
    ],
)
def test_other_functions_reject(call, error: type[Exception], match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        call()
