"""Every pair of backends computes the same thing (the slow loop is the oracle)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vecstudy import backends

BACKENDS = backends.available_backends()

PAIRS = list(itertools.combinations(BACKENDS, 2))
RTOL64 = 1e-10


def scales(
    w: np.ndarray, b: float, X: np.ndarray, Y: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """Magnitude of the terms summed in dw, db and the cost.

    Rounding errors are relative to these, not to the (possibly cancelling) sums, so
    comparing with ``rtol * scale`` is exact-arithmetic honest without ever being loose:
    the bound is 1e-10 of the largest term, against rounding errors of ~1e-16 of it.
    """
    zeta = np.abs(b) + np.abs(w) @ np.abs(X)  # bound on |z_j| and on the error-carrying size of z
    z = w @ X + b
    a = 0.5 * (1.0 + np.tanh(0.5 * z))
    dmag = np.abs(a - Y) + 0.25 * zeta
    m = X.shape[1]
    return (
        np.abs(X) @ dmag / m,
        float(dmag.mean()),
        float((zeta + np.abs(np.log1p(np.exp(-np.abs(z))))).mean()),
    )


def assert_agree(
    r1: tuple[Any, ...], r2: tuple[Any, ...], s: tuple[np.ndarray, float, float], rtol: float
) -> None:
    dw1, db1, c1 = r1
    dw2, db2, c2 = r2
    sdw, sdb, sc = s
    assert np.all(np.abs(np.asarray(dw1) - np.asarray(dw2)) <= rtol * np.maximum(sdw, 1e-300)), (
        dw1,
        dw2,
    )
    assert abs(db1 - db2) <= rtol * max(sdb, 1e-300), (db1, db2)
    assert abs(c1 - c2) <= rtol * max(sc, 1e-300), (c1, c2)


@st.composite
def problems(
    draw: st.DrawFn, max_nx: int = 6, max_m: int = 40
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    n_x = draw(st.integers(1, max_nx))
    m = draw(st.integers(1, max_m))
    scale = draw(st.sampled_from([1e-3, 1.0, 30.0, 1e3]))
    values = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False, width=64)
    X = draw(hnp.arrays(np.float64, (n_x, m), elements=values)) * scale
    w = draw(hnp.arrays(np.float64, (n_x,), elements=values)) * draw(
        st.sampled_from([0.0, 0.1, 1.0, 10.0])
    )
    b = draw(st.floats(-5.0, 5.0, allow_nan=False))
    Y = draw(hnp.arrays(np.float64, (m,), elements=st.sampled_from([0.0, 1.0])))
    return np.ascontiguousarray(w), b, np.ascontiguousarray(X), Y


@pytest.mark.parametrize(("first", "second"), PAIRS)
@given(problem=problems())
def test_propagate_pairs_agree(first: str, second: str, problem: tuple[Any, ...]) -> None:
    w, b, X, Y = problem
    r1 = backends.load(first).propagate(w, b, X, Y)
    r2 = backends.load(second).propagate(w, b, X, Y)
    assert_agree(r1, r2, scales(w, b, X, Y), RTOL64)


@pytest.mark.parametrize(("first", "second"), PAIRS)
@given(
    problem=problems(max_nx=4, max_m=25),
    iterations=st.integers(0, 230),
    lr=st.sampled_from([1e-3, 0.1, 1.0]),
)
def test_optimize_pairs_agree(
    first: str, second: str, problem: tuple[Any, ...], iterations: int, lr: float
) -> None:
    w, b, X, Y = problem
    X = X / max(1.0, float(np.abs(X).max()))  # keep the descent well-conditioned
    o1 = backends.load(first).optimize(w, b, X, Y, iterations, lr, 100)
    o2 = backends.load(second).optimize(w, b, X, Y, iterations, lr, 100)
    assert o1[5] == o2[5] == iterations
    assert len(o1[4]) == len(o2[4]) == (iterations + 99) // 100
    # Differences grow with the number of steps; 1e-10 relative still is ~1e6 ulp of headroom.
    np.testing.assert_allclose(o1[0], o2[0], rtol=RTOL64, atol=RTOL64 * (1 + np.abs(o1[0]).max()))
    assert o1[1] == pytest.approx(o2[1], rel=RTOL64, abs=RTOL64 * (1 + abs(o1[1])))
    np.testing.assert_allclose(o1[4], o2[4], rtol=RTOL64)


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_sizes_across_blocks_agree(first: str, second: str, rng: np.random.Generator) -> None:
    """Shapes large enough that a blocked or parallel kernel splits the samples."""
    limit = 30_000 if "python" in (first, second) else 300_000
    for n_x, m in [(1, limit), (7, limit // 7 + 3), (300, limit // 300 + 1)]:
        X = rng.normal(size=(n_x, m))
        Y = (rng.random(m) < 0.5).astype(float)
        w = rng.normal(size=n_x) / np.sqrt(n_x)
        r1 = backends.load(first).propagate(w, 0.3, X, Y)
        r2 = backends.load(second).propagate(w, 0.3, X, Y)
        assert_agree(r1, r2, scales(w, 0.3, X, Y), RTOL64)


@pytest.mark.parametrize(("first", "second"), PAIRS)
@given(problem=problems())
def test_predict_and_sigmoid_pairs_agree(first: str, second: str, problem: tuple[Any, ...]) -> None:
    w, b, X, _ = problem
    z = w @ X + b
    clear = np.abs(z) > 1e-9 * (
        1 + np.abs(w) @ np.abs(X)
    )  # labels are only defined away from z = 0
    p1 = backends.load(first).predict(w, b, X)
    p2 = backends.load(second).predict(w, b, X)
    np.testing.assert_array_equal(p1[clear], p2[clear])
    zz = np.concatenate([z, [0.0, -0.0, 1e-300, -745.0, 745.0, 1e4, -1e4, 36.7, -36.7]])
    np.testing.assert_allclose(
        backends.load(first).sigmoid(zz), backends.load(second).sigmoid(zz), rtol=1e-14, atol=1e-300
    )
    np.testing.assert_allclose(
        backends.load(first).sigmoid_derivative(zz),
        backends.load(second).sigmoid_derivative(zz),
        rtol=1e-13,
        atol=1e-300,
    )


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_float32_pairs_agree(first: str, second: str, rng: np.random.Generator) -> None:
    n_x, m = 5, 2000
    X = rng.normal(size=(n_x, m)).astype(np.float32)
    Y = (rng.random(m) < 0.5).astype(np.float32)
    w = (rng.normal(size=n_x) / 3).astype(np.float32)
    r1 = backends.load(first).propagate(w, 0.25, X, Y)
    r2 = backends.load(second).propagate(w, 0.25, X, Y)
    assert np.asarray(r1[0]).dtype == np.asarray(r2[0]).dtype == np.float32
    s = scales(w.astype(float), 0.25, X.astype(float), Y.astype(float))
    assert_agree(r1, r2, s, 1e-5)  # float32 has eps 1.2e-7
