"""The short path of the common case (``validation._plain``) agrees with the full checks.

Whatever it takes, ``_prepare`` must return what the full checks return (the same
values, dtypes and layouts); whatever it leaves, the full checks run and name the fault.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from vecstudy import config, validation


def _full(monkeypatch: pytest.MonkeyPatch, *args: Any, **kwargs: Any) -> Any:
    """``_prepare`` with the short path switched off: the full checks alone."""
    with monkeypatch.context() as mp:
        mp.setattr(validation, "_plain", lambda *a: None)
        return validation._prepare(*args, **kwargs)


def _outcome(fn: Any) -> Any:
    try:
        return fn()
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)


def _same(got: Any, want: Any) -> None:
    if isinstance(want, tuple) and len(want) == 2 and isinstance(want[0], type):
        assert got == want  # the same error, word for word
        return
    assert len(got) == len(want) == 5
    for g, w in zip(got, want, strict=True):
        if isinstance(w, np.ndarray):
            assert isinstance(g, np.ndarray)
            assert (g.dtype, g.shape) == (w.dtype, w.shape)
            assert (g.flags.c_contiguous, g.flags.f_contiguous) == (
                w.flags.c_contiguous,
                w.flags.f_contiguous,
            )
            np.testing.assert_array_equal(g, w)
        else:
            assert type(g) is type(w)
            assert g == w


def _data(n_x: int, m: int, dtype: str, order: str) -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(n_x * 1000 + m)
    X = np.asarray(rng.standard_normal((n_x, m)), dtype=dtype, order=order)  # type: ignore[call-overload]
    Y = (rng.random((1, m)) < 0.5).astype(dtype)
    w = rng.standard_normal((n_x, 1)).astype(dtype)
    return w, X, Y


PLAIN = list(
    itertools.product(
        [(3, 7), (1, 1), (5, 1), (1, 9)],
        ["float64", "float32"],
        ["C", "F"],
        [None, "float64", "float32"],
        ["column", "flat"],
        [0.25, 3, np.float64(0.5)],
    )
)


@pytest.mark.parametrize(("shape", "dtype", "order", "asked", "w_form", "b"), PLAIN)
def test_the_short_path_returns_what_the_full_checks_return(
    monkeypatch: pytest.MonkeyPatch,
    shape: tuple[int, int],
    dtype: str,
    order: str,
    asked: str | None,
    w_form: str,
    b: Any,
) -> None:
    w, X, Y = _data(*shape, dtype, order)
    w = w if w_form == "column" else w.reshape(-1)
    for y in (Y, Y.reshape(-1)):
        want = _full(monkeypatch, w, b, X, y, asked, scan_X=False)
        got = validation._prepare(w, b, X, y, asked, scan_X=False)
        _same(got, want)
        _same(validation._prepare(w, b, X, None, asked), _full(monkeypatch, w, b, X, None, asked))


def test_the_common_case_takes_the_short_path_and_copies_nothing() -> None:
    """Plain arrays in the call's dtype: no conversion, no copy (views of the inputs)."""
    w, X, Y = _data(6, 11, "float64", "F")
    got = validation._plain(w, 0.5, X, Y, None)
    assert got is not None
    wc, bf, Xc, Yc, dt = got
    assert Xc is X
    assert (dt, bf) == ("float64", 0.5)
    assert Yc is not None
    assert np.shares_memory(wc, w)
    assert np.shares_memory(Yc, Y)
    assert (wc.shape, Yc.shape) == ((6,), (11,))


def test_the_dtype_from_the_config_sends_a_call_to_the_full_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """float32 asked for (here by the environment) and float64 given: converted, as before."""
    w, X, Y = _data(4, 9, "float64", "C")
    monkeypatch.setenv("VECSTUDY_DTYPE", "float32")
    assert validation._plain(w, 0.5, X, Y, None) is None
    got = validation._prepare(w, 0.5, X, Y, None, scan_X=False)
    assert (got[2].dtype, got[4]) == (np.float32, "float32")
    _same(got, _full(monkeypatch, w, 0.5, X, Y, None, scan_X=False))


def _odd_inputs() -> list[tuple[str, Any, Any, Any, Any]]:
    w, X, Y = _data(4, 9, "float64", "C")
    nan_Y, two_Y, big_X = Y.copy(), Y.copy(), X.astype(">f8")
    nan_Y[0, 3], two_Y[0, 5] = np.nan, 2.0
    wide = np.zeros((4, 3))
    wide[:, 1] = w[:, 0]
    return [
        ("a NaN label", w, 0.1, X, nan_Y),
        ("a label 2", w, 0.1, X, two_Y),
        ("Y as a column", w, 0.1, X, Y.reshape(-1, 1)),
        ("Y of another length", w, 0.1, X, Y[:, :5]),
        ("Y in int", w, 0.1, X, Y.astype(int)),
        ("Y as a list", w, 0.1, X, Y.tolist()),
        ("w transposed", w.T, 0.1, X, Y),
        ("w of another length", w[:3], 0.1, X, Y),
        ("w a strided column", wide[:, 1:2], 0.1, X, Y),
        ("w in float32", w.astype(np.float32), 0.1, X, Y),
        ("b NaN", w, float("nan"), X, Y),
        ("b infinite", w, float("inf"), X, Y),
        ("b a huge int", w, 10**400, X, Y),
        ("b a bool", w, True, X, Y),
        ("b a string", w, "0.5", X, Y),
        ("b an array", w, np.array([0.5]), X, Y),
        ("X big-endian", w, 0.1, big_X, Y),
        ("X float16", w.astype(np.float16), 0.1, X.astype(np.float16), Y.astype(np.float16)),
        ("X a strided view", w[:2], 0.1, X[::2], Y),
        ("X 1-D", w, 0.1, X[0], Y),
        ("X with no samples", w, 0.1, X[:, :0], Y[:, :0]),
        ("X a list", w, 0.1, X.tolist(), Y),
        ("X holding NaN", w, 0.1, np.where(X > 1, np.nan, X), Y),
    ]


@pytest.mark.parametrize("case", _odd_inputs(), ids=lambda c: c[0])
@pytest.mark.parametrize("scan_X", [False, True])
def test_anything_else_gets_the_full_checks_answer(
    monkeypatch: pytest.MonkeyPatch, case: tuple[str, Any, Any, Any, Any], scan_X: bool
) -> None:
    _, w, b, X, Y = case
    want = _outcome(lambda: _full(monkeypatch, w, b, X, Y, None, scan_X=scan_X))
    got = _outcome(lambda: validation._prepare(w, b, X, Y, None, scan_X=scan_X))
    _same(got, want)


def test_the_short_path_names_a_nan_in_x_or_w_when_asked_to_scan() -> None:
    """``scan_X=True`` (optimize with no iterations, or printing): X first, then w."""
    w, X, Y = _data(3, 5, "float64", "C")
    X[1, 2], w[0, 0] = np.nan, np.inf
    assert validation._plain(w, 0.1, X, Y, None) is not None  # shapes and labels are fine
    with pytest.raises(ValueError, match=r"X must be finite; found nan at index \(1, 2\)"):
        validation._prepare(w, 0.1, X, Y, None, scan_X=True)
    X[1, 2] = 0.0
    with pytest.raises(ValueError, match=r"w must be finite; found inf at index \(0, 0\)"):
        validation._prepare(w, 0.1, X, Y, None, scan_X=True)


def test_a_config_file_dtype_counts_on_the_short_path(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "vecstudy.toml").write_text('dtype = "float32"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VECSTUDY_CONFIG", raising=False)
    config.reload()
    w, X, Y = _data(4, 9, "float64", "C")
    assert validation._prepare(w, 0.5, X, Y, None, scan_X=False)[4] == "float32"
