"""The numba backend's own ``exp`` and ``log1p``: within 1 and 2 ulp of NumPy's, as documented."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from vecstudy.backends.numba._math import _exp_nonpos, _log1p_unit


@njit(cache=False)
def _exp_all(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.shape[0]):
        out[i] = _exp_nonpos(x[i])


@njit(cache=False)
def _log1p_all(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.shape[0]):
        out[i] = _log1p_unit(x[i])


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want| in units of the last place of ``want`` (of the smallest normal below it)."""
    dt = want.dtype
    spacing = np.spacing(np.maximum(np.abs(want), np.finfo(dt).tiny).astype(dt))
    return np.abs(got.astype(np.float64) - want.astype(np.float64)) / spacing.astype(np.float64)


@pytest.mark.parametrize(("dtype", "low"), [("float64", -745.2), ("float32", -104.0)])
def test_exp_of_nonpositive_x_within_one_ulp(dtype: str, low: float) -> None:
    """Over the whole range, into the subnormals, where the result underflows to 0, and NaN."""
    rng = np.random.default_rng(5)
    edges = [0.0, -1e-300, -1e-30, -0.5, -0.34657359, -0.34657360, -1.0, -708.39, -709.0]
    x = np.concatenate(
        [-rng.random(200_000) * -low, -rng.random(100_000) * 2.0, np.array(edges), [low * 0.999]]
    ).astype(dtype)
    x = x[x >= low]
    got = np.empty_like(x)
    _exp_all(x, got)
    want = np.exp(x.astype(np.float64)).astype(dtype)  # correctly rounded to 1 ulp at worst
    assert _ulps(got, want).max() <= 1.0
    under = np.array([low - 0.01, low * 1.5, -1e6, -np.inf], dtype)
    out = np.empty_like(under)
    _exp_all(under, out)
    assert (out == 0.0).all()
    nan = np.array([np.nan], dtype)
    _exp_all(nan, nan)
    assert np.isnan(nan).all()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_log1p_of_the_unit_interval_within_two_ulp(dtype: str) -> None:
    """``log1p`` (of the cost only) is within 2 ulp: the last addition, of ``ln 2`` or of
    ``2 s``, rounds once more than ``exp``'s."""
    rng = np.random.default_rng(6)
    e = np.concatenate([rng.random(200_000), [0.0, 1e-300, 0.41421356, 0.41421357, 1.0]])
    e = e.astype(dtype)
    got = np.empty_like(e)
    _log1p_all(e, got)
    want = np.log1p(e.astype(np.float64)).astype(dtype)
    assert _ulps(got, want).max() <= 2.0
