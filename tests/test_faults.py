"""Odd inputs an adversarial user tries: each gives a right answer or a clear error."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import vecstudy
from vecstudy import api

rng = np.random.default_rng(11)
X = rng.normal(size=(3, 7))
Y = (rng.random((1, 7)) > 0.5).astype(float)
W = rng.normal(size=(3, 1))


def _reference() -> tuple[dict[str, object], float]:
    return vecstudy.propagate(W, 0.1, X, Y, backend="python")


# --------------------------------------------------------------------------- layout
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_contiguous_X_is_passed_without_a_copy(order: str, dtype: str) -> None:
    Xo = np.asarray(X, dtype=dtype, order=order)  # type: ignore[call-overload]
    _, _, Xc, _, _ = api._prepare(W, 0.0, Xo, Y, None)
    assert Xc is Xo or np.shares_memory(Xc, Xo)
    assert Xc.flags.c_contiguous if order == "C" else Xc.flags.f_contiguous


def test_other_layouts_become_contiguous() -> None:
    for Xo in (np.repeat(X, 2, axis=1)[:, ::2], X[:, ::-1], X.astype(">f8")):
        _, _, Xc, _, _ = api._prepare(W, 0.0, Xo, Y, None)
        assert Xc.flags.c_contiguous or Xc.flags.f_contiguous
        assert Xc.dtype == np.float64
        assert Xc.dtype.isnative
        np.testing.assert_array_equal(Xc, Xo)


@pytest.mark.parametrize(
    "make",
    [
        np.asfortranarray,
        lambda a: np.repeat(a, 2, axis=1)[:, ::2],
        lambda a: a.astype(">f8"),
        lambda a: a.astype(np.float16).astype(np.float64),
    ],
    ids=["fortran", "strided", "big-endian", "float16-values"],
)
def test_layouts_agree_with_c_order(backend: str, make: object) -> None:
    Xo = make(X)  # type: ignore[operator]
    Xref = np.ascontiguousarray(Xo, dtype=np.float64)
    g, cost = vecstudy.propagate(W, 0.1, Xo, Y, backend=backend)
    g_ref, cost_ref = vecstudy.propagate(W, 0.1, Xref, Y, backend=backend)
    np.testing.assert_allclose(g["dw"], g_ref["dw"], rtol=1e-12)
    assert cost == pytest.approx(cost_ref, rel=1e-12)
    p, _, costs = vecstudy.optimize(W, 0.1, Xo, Y, 5, 0.1, backend=backend)
    p_ref, _, costs_ref = vecstudy.optimize(W, 0.1, Xref, Y, 5, 0.1, backend=backend)
    np.testing.assert_allclose(p["w"], p_ref["w"], rtol=1e-12)
    np.testing.assert_allclose(costs, costs_ref, rtol=1e-12)
    np.testing.assert_array_equal(
        vecstudy.predict(W, 0.1, Xo, backend=backend),
        vecstudy.predict(W, 0.1, Xref, backend=backend),
    )


def test_read_only_inputs(backend: str) -> None:
    Xr, Yr, Wr = X.copy(), Y.copy(), W.copy()
    for a in (Xr, Yr, Wr):
        a.flags.writeable = False
    _, cost_ref = _reference()
    _, cost = vecstudy.propagate(Wr, 0.1, Xr, Yr, backend=backend)
    assert cost == pytest.approx(cost_ref, rel=1e-12)
    vecstudy.optimize(Wr, 0.1, Xr, Yr, 3, 0.1, backend=backend)
    vecstudy.predict(Wr, 0.1, Xr, backend=backend)


def test_bool_and_integer_inputs(backend: str) -> None:
    Xb = X > 0
    _, cost = vecstudy.propagate(W, 0.1, Xb, Y.astype(bool), backend=backend)
    _, cost_ref = vecstudy.propagate(W, 0.1, Xb.astype(float), Y, backend="python")
    assert cost == pytest.approx(cost_ref, rel=1e-12)
    Xu = np.full((3, 7), 2**64 - 1, dtype=np.uint64)  # exact in no float; no wraparound
    g, _ = vecstudy.propagate(W * 0, 0.0, Xu, Y, backend=backend)
    assert np.all(np.sign(g["dw"]) == np.sign(0.5 - Y.mean()))


# --------------------------------------------------------------------------- refused input
def test_masked_arrays_are_refused() -> None:
    masked = np.ma.masked_array(X, mask=X > 1)
    with pytest.raises(TypeError, match=r"X is a masked array; vecstudy does not honour masks"):
        vecstudy.propagate(W, 0.1, masked, Y)
    with pytest.raises(TypeError, match=r"Y is a masked array"):
        vecstudy.optimize(W, 0.1, X, np.ma.masked_array(Y), 1)
    with pytest.raises(TypeError, match=r"w is a masked array"):
        vecstudy.predict(np.ma.masked_array(W), 0.1, X)
    with pytest.raises(TypeError, match=r"X_train is a masked array"):
        vecstudy.model(masked, Y, X, Y, 1)


def test_samples_by_features_layout_is_named() -> None:
    hint = r"X looks like \(samples, features\) with shape \(7, 3\).*pass X\.T"
    with pytest.raises(ValueError, match=r"w must have shape.*; " + hint):
        vecstudy.propagate(W, 0.1, X.T, Y)
    with pytest.raises(ValueError, match=hint):
        vecstudy.predict(W, 0.1, X.T)
    with pytest.raises(ValueError, match=hint):
        vecstudy.propagate(np.zeros((7, 1)), 0.1, X.T, Y)  # w fits X.T: Y tells
    with pytest.raises(ValueError, match=r"X_train looks like \(samples, features\)"):
        vecstudy.model(X.T, Y, X.T, Y, 1)
    with pytest.raises(
        ValueError, match=r"Y must have shape \(1, 7\); got shape \(7, 1\): pass Y\.T"
    ):
        vecstudy.propagate(W, 0.1, X, Y.T)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: vecstudy.propagate(W, 10**400, X, Y), ValueError, r"b = int about 10\*\*400"),
        (
            lambda: vecstudy.propagate(W, -(10**5000), X, Y),
            ValueError,
            r"b = int about -10\*\*5000",
        ),
        (
            lambda: vecstudy.propagate(W, Fraction(10**400, 3), X, Y),
            ValueError,
            r"b = Fraction .* too large for a float64",
        ),
        (
            lambda: vecstudy.propagate(W, np.longdouble("1e400"), X, Y),
            ValueError,
            r"b = longdouble .* too large for a float64",
        ),
        (
            lambda: vecstudy.optimize(W, 0.0, X, Y, 1, 10**400),
            ValueError,
            r"learning_rate = int about 10\*\*400 is too large",
        ),
        (
            lambda: vecstudy.optimize(W, 0.0, X, Y, 10**5000),
            ValueError,
            r"num_iterations must be <= 2147483647; got about 10\*\*5000",
        ),
        (
            lambda: vecstudy.initialize_with_zeros(10**400),
            ValueError,
            r"dim = int about 10\*\*400 is too large for any array",
        ),
        (
            lambda: vecstudy.propagate(W, 0.0, X, Y, threads=-(10**5000)),
            ValueError,
            r"bad threads about -10\*\*5000 from argument threads=",
        ),
        (
            lambda: vecstudy.propagate(W, 0.0, np.array([[10**400] * 7] * 3, dtype=object), Y),
            ValueError,
            r"X holds a number too large for float64",
        ),
        (
            lambda: vecstudy.propagate(W, 0.0, np.full((3, 7), np.longdouble("1e400")), Y),
            ValueError,
            r"X has values too large for dtype float64",
        ),
        (lambda: vecstudy.propagate(W, 0.0, np.float64(3), Y), ValueError, r"got 0-D shape"),
        (
            lambda: vecstudy.propagate(W, 0.0, np.ones((3, 0)), np.ones((1, 0))),
            ValueError,
            r"X has zero samples",
        ),
        (lambda: vecstudy.propagate(W, 0.0, X + 0j, Y), TypeError, r"found dtype complex128"),
        (lambda: vecstudy.propagate(W, 1j, X, Y), TypeError, r"b must be a real number"),
        (lambda: vecstudy.sigmoid(10**400), ValueError, r"z holds a number too large"),
    ],
)
def test_out_of_range_numbers_name_the_argument(call, error: type[Exception], match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        call()


def test_huge_dim_that_cannot_be_allocated() -> None:
    with pytest.raises(MemoryError, match=r"dim = 10000000000000000 is too large: .* need"):
        vecstudy.initialize_with_zeros(10**16)


# --------------------------------------------------------------------------- odd but fine
@pytest.mark.parametrize("z", [[], np.zeros((0, 3)), np.zeros((2, 0, 4))])
def test_sigmoid_of_empty_arrays(backend: str, z: object) -> None:
    out = vecstudy.sigmoid(z, backend=backend)  # type: ignore[arg-type]
    assert out.shape == np.shape(z)
    assert vecstudy.sigmoid_derivative(z, backend=backend).shape == np.shape(z)  # type: ignore[arg-type]


def test_sigmoid_of_odd_layouts(backend: str) -> None:
    z = np.linspace(-800, 800, 24).reshape(4, 6)
    for view in (np.asfortranarray(z), z[::2, ::3], z.astype(">f8")):
        expected = vecstudy.sigmoid(np.ascontiguousarray(view, dtype=float), backend="python")
        np.testing.assert_allclose(vecstudy.sigmoid(view, backend=backend), expected, rtol=1e-15)
    half = vecstudy.sigmoid([[Fraction(1, 2)]], backend=backend)
    assert half[0, 0] == pytest.approx(0.6224593312018546, rel=1e-15)
    np.testing.assert_array_equal(vecstudy.sigmoid([np.inf, -np.inf], backend=backend), [1, 0])


def test_one_sample_one_feature(backend: str) -> None:
    _, _, costs = vecstudy.optimize([[0.0]], 0.0, [[1.0]], [[1]], 3, 0.1, backend=backend)
    assert costs == [pytest.approx(np.log(2))]


@pytest.mark.parametrize("m", [3, 5000])  # small arrays take another path
def test_finite_values_whose_sum_overflows_are_accepted(backend: str, m: int) -> None:
    X_big = np.full((1, m), 1.7e308)
    X_big[0, -1] = -1.0
    out = vecstudy.predict([[1e-300]], 0.0, X_big, backend=backend)
    assert out[0, -1] == 0.0
    assert out[0, :-1].all()
    X_big[0, -1] = np.inf
    with pytest.raises(ValueError, match=rf"X must be finite; found inf at index \(0, {m - 1}\)"):
        vecstudy.predict([[1.0]], 0.0, X_big, backend=backend)
    X_big[0, -1] = np.nan
    with pytest.raises(ValueError, match=rf"X must be finite; found nan at index \(0, {m - 1}\)"):
        vecstudy.predict([[1.0]], 0.0, X_big, backend=backend)
