"""The check for NaN and infinity in X rides along with the kernel.

``propagate`` and ``optimize`` do not scan X before the kernel: a NaN or an infinity
in X makes z, and so the kernel's outputs, non-finite, and only then is X scanned to
name the culprit.  These tests pin down that a non-finite X is still reported naming X
and the position of its first NaN or infinity (the index ``np.argwhere`` gives), that
finite data give bitwise the kernel's own results, and that no mask of X's size is
allocated on the way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import vecstudy
from vecstudy import backends, validation

N_X, M = 6, 9
POSITIONS = {"first": (0, 0), "last": (N_X - 1, M - 1), "middle": (3, 4), "row0-end": (0, M - 1)}


def _problem(dtype: str = "float64", order: str = "C") -> tuple[Any, float, Any, Any]:
    rng = np.random.default_rng(5)
    X = np.asarray(rng.normal(size=(N_X, M)), dtype=dtype, order=order)  # type: ignore[call-overload]
    Y = (rng.random((1, M)) > 0.5).astype(dtype)
    w = rng.normal(size=(N_X, 1)).astype(dtype)
    return w, 0.2, X, Y


def _calls(backend: str) -> dict[str, Callable[..., object]]:
    return {
        "propagate": lambda w, b, X, Y: vecstudy.propagate(w, b, X, Y, backend=backend),
        "optimize": lambda w, b, X, Y: vecstudy.optimize(w, b, X, Y, 30, 0.1, backend=backend),
        "predict": lambda w, b, X, Y: vecstudy.predict(w, b, X, backend=backend),
    }


@pytest.fixture(params=[4, validation._SCAN_BLOCK], ids=["tiny-blocks", "blocks"])
def block(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """The scan's block size: tiny blocks walk the many-block paths on small arrays."""
    monkeypatch.setattr(validation, "_SCAN_BLOCK", request.param)
    return int(request.param)


def _assert_named(
    call: Callable[..., object], value: float, dtype: str, order: str, where: str
) -> None:
    w, b, X, Y = _problem(dtype, order)
    idx = POSITIONS[where]
    X[idx] = value
    with pytest.raises(
        ValueError, match=rf"^X must be finite; found {value} at index \({idx[0]}, {idx[1]}\)$"
    ):
        call(w, b, X, Y)


@pytest.mark.parametrize("where", POSITIONS)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("call", ["propagate", "optimize", "predict"])
def test_nonfinite_X_is_named_with_its_position(
    backend: str, call: str, value: float, dtype: str, order: str, where: str
) -> None:
    _assert_named(_calls(backend)[call], value, dtype, order, where)


@pytest.mark.usefixtures("block")
@pytest.mark.parametrize("where", POSITIONS)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("value", [np.nan, -np.inf])
@pytest.mark.parametrize("call", ["propagate", "optimize", "predict"])
def test_position_with_many_blocks(call: str, value: float, order: str, where: str) -> None:
    _assert_named(_calls("numba")[call], value, "float32", order, where)


@pytest.mark.usefixtures("block")
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("call", ["propagate", "optimize", "predict"])
def test_the_first_of_several_is_named_in_row_major_order(
    backend: str, call: str, order: str
) -> None:
    """The index named is the first in row-major order, whatever X's layout."""
    w, b, X, Y = _problem(order=order)
    X[4, 1] = np.inf  # first in column-major order
    X[2, 7] = np.nan  # first in row-major order
    X[5, 0] = -np.inf
    with pytest.raises(ValueError, match=r"found nan at index \(2, 7\)"):
        _calls(backend)[call](w, b, X, Y)


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("call", ["propagate", "optimize", "predict"])
def test_nonfinite_X_times_zero_weights_is_still_found(
    backend: str, call: str, value: float
) -> None:
    """From zero weights (the usual start) 0 * NaN and 0 * inf are NaN: z shows it."""
    _, _, X, Y = _problem()
    X[2, 5] = value
    w, b = vecstudy.initialize_with_zeros(N_X)
    with pytest.raises(ValueError, match=rf"X must be finite; found {value} at index \(2, 5\)"):
        _calls(backend)[call](w, b, X, Y)


@pytest.mark.parametrize("x_too", [False, True], ids=["w-only", "w-and-X"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("call", ["propagate", "optimize", "predict"])
def test_nonfinite_w_rides_along_and_is_named_first(
    backend: str, call: str, value: float, x_too: bool
) -> None:
    """w is not scanned before the kernel either: a NaN or infinity in it makes every z
    non-finite (inf * 0 is NaN too), and w is then named, before X, with its index."""
    w, b, X, Y = _problem()
    w[4, 0] = value
    X[:, 3] = 0.0  # inf * 0 in z
    if x_too:
        X[1, 2] = np.nan
    with pytest.raises(ValueError, match=rf"w must be finite; found {value} at index \(4, 0\)"):
        _calls(backend)[call](w, b, X, Y)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_optimize_names_X_not_divergence(backend: str, value: float) -> None:
    """A non-finite X stops the descent at once; it is reported as X, not as divergence."""
    w, b, X, Y = _problem()
    X[1, 3] = value
    with pytest.raises(ValueError, match=r"X must be finite") as info:
        vecstudy.optimize(w, b, X, Y, 200, 1e6, backend=backend)
    assert not isinstance(info.value, vecstudy.NumericalError)


@pytest.mark.parametrize("extra", [{"num_iterations": 0}, {"print_cost": True}])
def test_optimize_scans_X_when_the_kernel_cannot_show_it(
    extra: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Zero iterations read nothing, and printed costs would show NaN first: scan up front."""
    w, b, X, Y = _problem()
    X[5, 8] = np.nan
    with pytest.raises(ValueError, match=r"X must be finite; found nan at index \(5, 8\)"):
        vecstudy.optimize(w, b, X, Y, **{"num_iterations": 5, **extra})
    assert capsys.readouterr().out == ""


def test_overflow_is_still_numerical_not_X(backend: str) -> None:
    """A finite X whose z overflows keeps its NumericalError (the scan finds nothing)."""
    X = np.full((3, 2), 1e308)
    with pytest.raises(vecstudy.NumericalError, match=r"z = w\^T X \+ b overflowed"):
        vecstudy.propagate([[10.0], [-10.0], [-10.0]], 0.0, X, [[0, 1]], backend=backend)


@pytest.mark.usefixtures("block")
@pytest.mark.parametrize("order", ["C", "F"])
def test_narrowing_cast(order: str) -> None:
    """float64 -> float32: a NaN of X wins over a value that only the cast makes infinite."""
    w, b, X, Y = _problem(order=order)
    X[0, 2] = 1e39
    with pytest.raises(ValueError, match=r"^X has values too large for dtype float32$"):
        vecstudy.propagate(w, b, X, Y, dtype="float32")
    X[4, 6] = np.nan
    with pytest.raises(ValueError, match=r"X must be finite; found nan at index \(4, 6\)"):
        vecstudy.propagate(w, b, X, Y, dtype="float32")


@pytest.mark.usefixtures("block")
@pytest.mark.parametrize(
    "make",
    [
        lambda a: a,
        np.asfortranarray,
        lambda a: a[:, ::2],
        lambda a: np.asfortranarray(a)[::-1, 1:],
        lambda a: a.astype(">f8"),
        lambda a: a.astype(np.longdouble),
    ],
    ids=["C", "F", "strided", "F-view", "big-endian", "longdouble"],
)
@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_conversion_is_the_plain_cast(make: Callable[[Any], Any], dt: str) -> None:
    """The blocked conversion gives the bits and the layout of one ``np.asarray`` cast."""
    rng = np.random.default_rng(3)
    Xo = make(rng.normal(size=(7, 11)) * 1e30)
    Xc = validation._as_kernel_array(Xo, dt)
    expected = np.asarray(Xo, dtype=dt)
    if not (expected.flags.c_contiguous or expected.flags.f_contiguous):
        expected = np.ascontiguousarray(expected)
    assert Xc.dtype == np.dtype(dt)
    np.testing.assert_array_equal(Xc, expected, strict=True)
    assert (Xc.flags.c_contiguous, Xc.flags.f_contiguous) == (
        expected.flags.c_contiguous,
        expected.flags.f_contiguous,
    )


# --------------------------------------------------------------------------- the scan
@st.composite
def _arrays_with_holes(draw: st.DrawFn) -> tuple[Any, int]:
    n = draw(st.integers(1, 9))
    m = draw(st.integers(1, 9))
    X = np.arange(n * m, dtype=np.float64).reshape(n, m)
    flat = draw(st.lists(st.integers(0, n * m - 1), max_size=4))
    values = draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf]), min_size=len(flat),
                           max_size=len(flat)))  # fmt: skip
    for k, v in zip(flat, values, strict=True):
        X[divmod(k, m)] = v
    layout = draw(st.sampled_from(["C", "F", "strided", "reversed"]))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        X = np.repeat(X, 2, axis=1)[:, ::2]
    elif layout == "reversed":
        X = np.asfortranarray(X[::-1, ::-1])[::-1, ::-1]
    return X, draw(st.integers(1, 20))


@given(_arrays_with_holes())
def test_first_nonfinite_is_argwhere(case: tuple[Any, int]) -> None:
    X, block_size = case
    saved = validation._SCAN_BLOCK
    validation._SCAN_BLOCK = block_size
    try:
        found = validation._first_nonfinite(X)
    finally:
        validation._SCAN_BLOCK = saved
    bad = np.argwhere(~np.isfinite(X))
    assert found == (None if bad.size == 0 else tuple(int(i) for i in bad[0]))
    assert validation._first_nonfinite(X[0]) == (
        None if np.isfinite(X[0]).all() else (int(np.argwhere(~np.isfinite(X[0]))[0, 0]),)
    )


# --------------------------------------------------------------------------- finite data
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_finite_results_are_the_kernels_bits(backend: str, dtype: str, order: str) -> None:
    """The public functions return exactly what the kernel computes on the same arrays."""
    mod = backends.load(backend)
    w, b, X, Y = _problem(dtype, order)
    w1, y1 = w.ravel(), Y.ravel()
    grads, cost = vecstudy.propagate(w, b, X, Y, backend=backend)
    dw, db, c = mod.propagate(w1, b, X, y1)
    np.testing.assert_array_equal(grads["dw"].ravel(), dw, strict=True)
    assert (grads["db"], cost) == (float(db), float(c))
    params, g2, costs = vecstudy.optimize(w, b, X, Y, 15, 0.1, backend=backend)  # no relayout
    w_k, b_k, dw_k, db_k, costs_k, done = mod.optimize(w1, b, X, y1, 15, 0.1, 100)
    assert done == 15
    np.testing.assert_array_equal(params["w"].ravel(), w_k, strict=True)
    np.testing.assert_array_equal(g2["dw"].ravel(), dw_k, strict=True)
    assert (params["b"], g2["db"], costs) == (float(b_k), float(db_k), [float(x) for x in costs_k])
    labels = vecstudy.predict(w, b, X, backend=backend)
    np.testing.assert_array_equal(labels[0], mod.predict(w1, b, X), strict=True)


# --------------------------------------------------------------------------- memory
#: Run in a fresh interpreter: tracemalloc counts every thread's allocations, and a
#: dask cluster left running by another test allocates in the background.
_PEAKS = """
import json, sys, tracemalloc
import numpy as np
import vecstudy
from vecstudy import validation

def peak(fn):
    def run():
        try:
            fn()
        except ValueError:
            pass
    run()  # warm-up
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

rng = np.random.default_rng(1)
out = {}
for order in "CF":
    for bad in (False, True):
        X = np.asarray(rng.normal(size=(1000, 1000)), order=order)
        if bad:
            X[999, 999] = np.nan
        Y = (rng.random((1, 1000)) > 0.5).astype(float)
        w = rng.normal(size=(1000, 1)) / 30
        for name, fn in (
            ("propagate", lambda: vecstudy.propagate(w, 0.0, X, Y, backend="numpy")),
            ("optimize", lambda: vecstudy.optimize(w, 0.0, X, Y, 2, 0.1, backend="numpy")),
            ("predict", lambda: vecstudy.predict(w, 0.0, X, backend="numpy")),
            ("to float32", lambda: validation._prepare(w, 0.0, X, Y, "float32", scan_X=False)),
        ):
            out[f"{name} {order} {'nan' if bad else 'finite'}"] = peak(fn)
json.dump(out, sys.stdout)
"""


def test_no_temporary_of_the_size_of_X() -> None:
    """Validation allocates no mask of X's size (X.size bytes), finite or not.

    X is 1000 x 1000 float64 (8 MB); the numpy backend's own temporaries are length-m
    vectors.  The narrowing cast allocates its float32 result (4 MB) and blocks only.
    """
    done = subprocess.run(
        [sys.executable, "-c", _PEAKS], capture_output=True, text=True, check=True, timeout=120
    )
    peaks = json.loads(done.stdout)
    assert len(peaks) == 16
    size = 1000 * 1000
    for case, peak in peaks.items():
        limit = size * 4 + size // 4 if case.startswith("to float32") else size // 4
        assert peak < limit, f"{case}: peak {peak} bytes"
