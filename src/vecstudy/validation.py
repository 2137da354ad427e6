"""Validation at the boundary of the course's functions, and the checks of what kernels return.

:mod:`vecstudy.api` validates and converts each argument here once per public call
(:func:`_prepare`), then hands the arrays to a kernel; what the kernel returns is
checked here too (:func:`_check_gradients`, :func:`_check_z`, :func:`_check_descent`,
:func:`_warn_if_rising`).  Every error names the argument, what was found and what
was expected; a message built from a value is bounded in length.

Checks ride along: a NaN or an infinity in ``X`` makes the kernel's outputs
non-finite, so ``X`` is scanned up front only where the kernel would not show it,
and otherwise only to name the culprit (:func:`_raise_if_nonfinite`), by blocks that
stay in the cache (:func:`_blocks`), never with a mask of the whole array.
"""

from __future__ import annotations

import math
import numbers
import sys
import warnings
from collections.abc import Iterator
from typing import Any, Final, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vecstudy import config
from vecstudy.cluster import is_dask_array as _lazy
from vecstudy.errors import DivergenceError, DivergenceWarning, NumericalError, external_stacklevel
from vecstudy.escape import int_text as _int_text

Array: TypeAlias = NDArray[np.floating[Any]]
Grads: TypeAlias = dict[str, Any]

#: Largest num_iterations accepted: kernels count in int64 and keep one cost per 100.
MAX_ITERATIONS = 2**31 - 1
#: A recorded cost above both ``COST_RISE_FACTOR * J_0`` and ``J_0 + COST_RISE_MARGIN``
#: triggers :class:`~vecstudy.errors.DivergenceWarning`.
COST_RISE_FACTOR = 2.0
COST_RISE_MARGIN = 1.0


# --------------------------------------------------------------------------- arguments


def _describe(value: object) -> str:
    """A short description of a bad value for an error message: its type and repr."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"int {_int_text(value)}"  # repr of a huge int is long, or raises
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _as_real_array(value: object, name: str) -> NDArray[Any]:
    """``value`` as an ndarray of real numbers, or a TypeError naming ``name``."""
    if type(value) is np.ndarray and value.dtype.kind in "biuf":
        return value  # the common case: nothing below would change or refuse it
    if isinstance(value, str | bytes):
        raise TypeError(f"{name} must be a numeric array, got {_describe(value)}")
    _reject_masked(value, name)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists, odd objects
        raise TypeError(
            f"{name} must be a numeric array; it could not be converted: {exc}"
        ) from None
    if arr.dtype == object:
        odd = [v for v in arr.flat if isinstance(v, bool) or not isinstance(v, numbers.Real)][:1]
        if odd:
            bad = odd[0]
            raise TypeError(f"{name} must hold real numbers; found {_describe(bad)} (dtype object)")
        try:
            arr = arr.astype(np.float64)
        except OverflowError:
            raise ValueError(f"{name} holds a number too large for float64") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; found dtype {arr.dtype}")
    return arr


def _reject_masked(value: object, name: str) -> None:
    """Masked arrays are refused: their masked entries would silently enter the sums.

    Honouring a mask would mean dropping samples (a mask on ``X`` or ``Y``) or
    imputing features, a choice that belongs to the caller.
    """
    ma = sys.modules.get("numpy.ma")  # never import numpy.ma just to check
    if ma is not None and isinstance(value, ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array; vecstudy does not honour masks (the masked values "
            f"would be used). Drop the masked samples, e.g. X[:, ~mask], or fill them "
            f"with {name}.filled(value)"
        )


#: Elements per block of the blocked scans below: a block of float64 (256 KiB) stays in
#: the L2 cache, and the mask of one block is the largest temporary they allocate.
_SCAN_BLOCK = 1 << 15
#: The largest finite value of each kernel dtype (a ``b`` beyond it is an error).
_FLOAT_MAX: Final = {d: float(np.finfo(d).max) for d in ("float64", "float32")}


def _is_f_order(arr: NDArray[Any]) -> bool:
    return arr.ndim == 2 and bool(arr.flags.f_contiguous) and not arr.flags.c_contiguous


def _blocks(shape: tuple[int, int], f_order: bool) -> Iterator[tuple[slice, slice]]:
    """``(rows, cols)`` slices tiling a 2-D array in its memory order, ~_SCAN_BLOCK each.

    C order: bands of whole rows, or pieces of one row where a row is longer than a
    block, in row-major order.  F order: the same with columns, in column-major order.
    """
    n, m = shape
    outer, inner = (m, n) if f_order else (n, m)
    if inner >= _SCAN_BLOCK:
        pieces = (
            (slice(k, k + 1), slice(i0, i0 + _SCAN_BLOCK))
            for k in range(outer)
            for i0 in range(0, inner, _SCAN_BLOCK)
        )
    else:
        step = _SCAN_BLOCK // max(inner, 1)
        pieces = ((slice(k0, k0 + step), slice(None)) for k0 in range(0, outer, step))
    for a, b in pieces:
        yield (b, a) if f_order else (a, b)


def _first_nonfinite(arr: NDArray[Any]) -> tuple[int, ...] | None:
    """Index of the first NaN or infinity of a 1-D or 2-D ``arr`` in C order, or None.

    The index is the one ``np.argwhere(~np.isfinite(arr))[0]`` gives, found block by
    block (:func:`_blocks`) without a mask of the whole array.  In C order the first
    block holding one answers; an F-ordered array is read in its own order and the
    smallest (row, column) kept, stopping early only at a row-0 hit.
    """
    if arr.dtype.kind != "f":
        return None
    if arr.ndim == 1:
        where = _first_nonfinite(arr.reshape(1, -1))
        return None if where is None else (where[1],)
    f_order = _is_f_order(arr)
    best: tuple[int, int] | None = None
    for rows, cols in _blocks(arr.shape, f_order):
        bad = ~np.isfinite(arr[rows, cols])
        if not bad.any():
            continue
        i, j = (int(k) for k in np.argwhere(bad)[0])
        found = (i + (rows.start or 0), j + (cols.start or 0))
        if not f_order:
            return found
        best = found if best is None else min(best, found)
        if best[0] == 0:  # nothing later in column-major order comes before (0, j)
            break
    return best


def _nonfinite_error(arr: NDArray[Any], where: tuple[int, ...], name: str) -> ValueError:
    return ValueError(f"{name} must be finite; found {float(arr[where])} at index {where}")


def _raise_if_nonfinite(arr: NDArray[Any], name: str) -> None:
    """The error naming the first NaN or infinity of ``arr``, if it holds one (blocked)."""
    where = _first_nonfinite(arr)
    if where is not None:
        raise _nonfinite_error(arr, where, name)


def _check_finite(arr: NDArray[Any], name: str) -> None:
    """Raise a ValueError naming the first NaN or infinity of ``arr``.

    A 1-D array (``w``, ``Y``) or a small one is tested with a mask of its size, the
    fastest test.  For a larger 2-D array a finite sum proves every element finite,
    and a sum reads the array once without allocating a mask; only a non-finite sum
    (which finite values can also give, by overflowing) needs the elementwise test,
    done block by block.
    """
    if arr.dtype.kind != "f":
        return
    if arr.ndim < 2 or arr.size <= 4096:
        if np.isfinite(arr).all():
            return
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(arr.sum()):
                return
    _raise_if_nonfinite(arr, name)


def _check_X(X: ArrayLike, name: str = "X", *, finite: bool = True) -> NDArray[Any]:
    """``X`` as a 2-D array of real numbers with ``n_x, m >= 1``.

    ``finite=False`` leaves out the scan for NaN and infinity: the caller then checks
    what the kernel returns (a non-finite ``X`` makes it non-finite) and scans ``X``
    only to name the culprit (:func:`_raise_if_nonfinite`).
    """
    if _lazy(X):  # a dask array: checked without reading it
        from vecstudy.cluster import check_lazy_X

        return check_lazy_X(X, name)  # type: ignore[no-any-return]
    arr = _as_real_array(X, name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D with shape (n_x, m); got {arr.ndim}-D shape {arr.shape}"
        )
    n_x, m = arr.shape
    if n_x == 0:
        raise ValueError(f"{name} has zero features (shape {arr.shape}); need n_x >= 1")
    if m == 0:
        raise ValueError(f"{name} has zero samples (shape {arr.shape}); need m >= 1")
    if finite:
        _check_finite(arr, name)
    return arr


def _transposed_hint(shape: tuple[int, ...], x_name: str = "X") -> str:
    """The advice for an ``X`` given in scikit-learn's (samples, features) layout."""
    return (
        f"{x_name} looks like (samples, features) with shape {shape} (its rows match); "
        f"vecstudy takes (features, samples) = (n_x, m), one column per sample: "
        f"pass {x_name}.T"
    )


def _check_Y(
    Y: ArrayLike, m: int, name: str = "Y", x_shape: tuple[int, ...] | None = None
) -> NDArray[Any]:
    if _lazy(Y):
        from vecstudy.cluster import check_lazy_Y

        return check_lazy_Y(Y, m, name)  # type: ignore[no-any-return]
    arr = _as_real_array(Y, name)
    if arr.ndim == 2 and arr.shape[1] == 1 and arr.shape[0] > 1:
        arr = arr[:, 0]  # (m, 1) column: reported below if its length does not fit
        if arr.shape[0] == m:
            raise ValueError(f"{name} must have shape (1, {m}); got shape ({m}, 1): pass {name}.T")
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    elif arr.ndim != 1:
        raise ValueError(f"{name} must have shape (1, m); got shape {arr.shape}")
    if arr.shape[0] != m:
        x_name = "X" if name == "Y" else name.replace("Y", "X")
        if x_shape is not None and arr.shape[0] == x_shape[0]:
            raise ValueError(
                f"{name} has {arr.shape[0]} samples but {x_name} has {m}: "
                + _transposed_hint(x_shape, x_name)
            )
        raise ValueError(
            f"{name} has {arr.shape[0]} samples but X has {m}: Y must have shape (1, {m})"
        )
    bad = (arr != 0) & (arr != 1)  # NaN too: a non-finite label is named first, below
    if bad.any():
        _check_finite(arr, name)
        found = np.unique(arr[bad]).astype(float)[:5]
        raise ValueError(f"{name} must hold labels 0 and 1 only; found {found.tolist()}")
    return arr


def _check_w(
    w: ArrayLike, n_x: int, x_shape: tuple[int, ...] | None = None, *, finite: bool = True
) -> NDArray[Any]:
    """``w`` as a 1-D array of ``n_x`` real numbers (``finite=False``: as for ``X`` in
    :func:`_check_X`, a NaN or infinity in ``w`` makes every ``z`` non-finite, and the
    caller names it then)."""
    arr = _as_real_array(w, "w")
    if arr.shape not in ((n_x, 1), (n_x,)):
        hint = ""
        if x_shape is not None and arr.size == x_shape[1] and arr.ndim in (1, 2):
            hint = "; " + _transposed_hint(x_shape)
        raise ValueError(
            f"w must have shape (n_x, 1) = ({n_x}, 1) to match X; got shape {arr.shape}{hint}"
        )
    if finite:
        _check_finite(arr, "w")
    return arr.reshape(n_x)


def _check_b(b: object) -> float:
    if isinstance(b, np.ndarray) and b.size == 1:
        b = b.reshape(()).item()
    if isinstance(b, bool) or not isinstance(b, numbers.Real):
        raise TypeError(f"b must be a real number; got {_describe(b)}")
    value = _as_float(b, "b")
    if not math.isfinite(value):
        raise ValueError(f"b must be finite; got {value!r}")
    return value


def _as_float(value: object, name: str) -> float:
    """``float(value)``, or a ValueError naming ``name`` when it does not fit a float64."""
    if isinstance(value, float):  # Python floats and np.float64: nothing can overflow
        return float(value)
    too_large = ValueError(f"{name} = {_describe(value)} is too large for a float64 (max ~1.8e308)")
    try:
        with warnings.catch_warnings(), np.errstate(over="raise"):
            warnings.simplefilter("error", RuntimeWarning)  # numpy scalars warn on overflow
            result = float(value)  # type: ignore[arg-type]
    except (OverflowError, FloatingPointError, RuntimeWarning):
        raise too_large from None
    if math.isinf(result) and isinstance(value, np.floating) and np.isfinite(value):
        raise too_large  # a finite long double beyond float64's range
    return result


def _check_learning_rate(learning_rate: object) -> float:
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
        raise TypeError(f"learning_rate must be a real number; got {_describe(learning_rate)}")
    value = _as_float(learning_rate, "learning_rate")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"learning_rate must be finite and > 0; got {value!r}")
    return value


def _check_int(value: object, name: str, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {_describe(value)}")
    number = int(value)
    if number < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {_int_text(number)}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {_int_text(number)}")
    return number


def _check_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False; got {_describe(value)}")
    return bool(value)


# --------------------------------------------------------------------------- conversion


def _as_kernel_array(arr: NDArray[Any], dt: str, name: str = "X") -> Array:
    """``arr`` in dtype ``dt``, C- or F-contiguous; copied only when needed, at most once.

    An array that already is C- or F-contiguous keeps its layout (no copy when the
    dtype matches, too); anything else (a strided view, a non-native byte order that
    needs converting anyway) becomes C-contiguous.  A narrowing conversion (float64 to
    float32, long double to float64) can overflow finite values to infinity: it is
    done block by block, each block checked while it is in the cache (see
    :func:`_narrowed`).
    """
    if arr.ndim == 2 and arr.dtype.kind == "f" and np.dtype(dt).itemsize < arr.dtype.itemsize:
        return _narrowed(arr, dt, name)
    out = np.asarray(arr, dtype=dt)
    if not (out.flags.c_contiguous or out.flags.f_contiguous):
        out = np.ascontiguousarray(out)
    return out


def _narrowed(arr: NDArray[Any], dt: str, name: str) -> Array:
    """``arr`` cast to the narrower ``dt`` block by block, in the cast's own layout.

    A block whose sum is not finite is looked at element by element: a NaN or an
    infinity already in ``arr`` gives the "must be finite" error (the first of the
    whole array, as the unconverted scan would name it), a value that only the cast
    made infinite gives "has values too large for dtype".  No pass over ``arr`` is
    added to the conversion itself, and no mask larger than a block is allocated.
    """
    out = np.empty_like(arr, dtype=dt)  # order "K": the layout np.asarray(arr, dt) has
    with np.errstate(over="ignore", invalid="ignore"):
        for rows, cols in _blocks(arr.shape, _is_f_order(out)):
            block = out[rows, cols]
            np.copyto(block, arr[rows, cols], casting="unsafe")
            if np.isfinite(block.sum()) or np.isfinite(block).all():
                continue
            _raise_if_nonfinite(arr, name)
            raise ValueError(f"{name} has values too large for dtype {dt}")
    return out


def _prepare(
    w: ArrayLike,
    b: object,
    X: ArrayLike,
    Y: ArrayLike | None,
    dtype: str | None,
    *,
    scan_X: bool = True,
) -> tuple[Array, float, Array, Array | None, str]:
    """Validate once and convert to arrays of one dtype (see :func:`_converted`).

    ``scan_X=False``: the values of ``X`` and ``w`` are not scanned for NaN or infinity
    (the caller checks the kernel's outputs and, when they are not finite, calls
    :func:`_raise_if_nonfinite` on ``w``, then ``X``); every other check is made.

    The common case, plain contiguous arrays already in the call's dtype, is recognised
    in a few steps first (:func:`_plain`); anything else, and any fault, takes the
    full checks, which name what is wrong.
    """
    plain = _plain(w, b, X, Y, dtype)
    if plain is not None:
        if scan_X:  # in the order the full checks name them: X, then w
            _check_finite(plain[2], "X")
            _check_finite(np.asarray(w), "w")  # indexed as given, (n_x, 1) or (n_x,)
        return plain
    Xa = _check_X(X, finite=scan_X)
    n_x, m = Xa.shape
    wa = _check_w(w, n_x, Xa.shape, finite=scan_X)  # the API scans w for dask itself
    bf = _check_b(b)
    Ya = None if Y is None else _check_Y(Y, m, x_shape=Xa.shape)
    dt = str(config.resolve_dtype(dtype, Xa.dtype).value)
    return _converted(wa, bf, Xa, Ya, dt)


_PLAIN_DTYPES: Final = {np.dtype(np.float64): "float64", np.dtype(np.float32): "float32"}
#: Python ints up to this size convert to a float exactly (and never overflow).
_EXACT_INT: Final = 1 << 53


def _plain(
    w: object, b: object, X: object, Y: object, dtype: str | None
) -> tuple[Array, float, Array, Array | None, str] | None:
    """What :func:`_prepare` returns for the common case, or None where it does not hold.

    The common case: ``X`` a C- or F-contiguous 2-D ndarray of native float64 or
    float32 with ``n_x, m >= 1``, the dtype the call resolves to; ``w`` of shape
    ``(n_x, 1)`` or ``(n_x,)`` and ``Y`` of shape ``(1, m)`` or ``(m,)``, contiguous
    ndarrays of that dtype; ``b`` a finite Python float or int; labels 0 and 1 only.
    Nothing is copied or converted then, and the full checks would accept the inputs
    unchanged.  Inside an API call each of the full checks runs cold (after a step that
    streamed ``X`` through the caches) and costs microseconds; this is one short path.
    """
    if type(X) is not np.ndarray or type(w) is not np.ndarray or X.ndim != 2:
        return None
    dt = _PLAIN_DTYPES.get(X.dtype)
    if dt is None or w.dtype != X.dtype or not (X.flags.c_contiguous or X.flags.f_contiguous):
        return None
    n_x, m = X.shape
    if n_x == 0 or m == 0 or w.shape not in ((n_x, 1), (n_x,)) or not w.flags.c_contiguous:
        return None
    if type(b) is float:
        bf = b
    elif type(b) is int and -_EXACT_INT <= b <= _EXACT_INT:
        bf = float(b)
    else:
        return None
    if not (math.isfinite(bf) and abs(bf) <= _FLOAT_MAX[dt]):
        return None
    y = None
    if Y is not None:
        if type(Y) is not np.ndarray or Y.dtype != X.dtype or not Y.flags.c_contiguous:
            return None
        if Y.shape not in ((1, m), (m,)):
            return None
        y = Y.reshape(m)
        # every nonzero label is a 1 (a NaN is nonzero and not 1); no mask kept
        if np.count_nonzero(y) != np.count_nonzero(y == 1):
            return None
    if config.resolve_dtype(dtype, X.dtype).value != dt:
        return None
    return w.reshape(n_x), bf, X, y, dt


def _converted(
    wa: NDArray[Any], bf: float, Xa: NDArray[Any], Ya: NDArray[Any] | None, dt: str
) -> tuple[Array, float, Array, Array | None, str]:
    """Checked arrays converted to dtype ``dt`` for a kernel (see :func:`_as_kernel_array`).

    ``wa``, ``Xa`` and ``Ya`` come from :func:`_check_w`, :func:`_check_X` and
    :func:`_check_Y` (``wa`` 1-D); what a narrowing cast to ``dt`` makes infinite is
    an error here.  Dask arrays are converted lazily, never read.
    """
    if _lazy(Xa) or _lazy(Ya):  # dask arrays: converted lazily, never read here
        from vecstudy.cluster import lazy_inputs

        Xl, Yl = lazy_inputs(Xa, Ya, dt)
        return np.ascontiguousarray(wa, dtype=dt), bf, Xl, Yl, dt
    if abs(bf) > _FLOAT_MAX[dt]:
        raise ValueError(f"b = {bf!r} is too large for dtype {dt}")
    if Xa.dtype == wa.dtype == dt and (Ya is None or Ya.dtype == dt):
        # the common case, every array already in dtype dt: nothing narrows, so nothing
        # can overflow (no errstate, no scan; about 10 us less per call)
        Xc = Xa if Xa.flags.c_contiguous or Xa.flags.f_contiguous else np.ascontiguousarray(Xa)
        Yc = None if Ya is None else np.ascontiguousarray(Ya)
        return np.ascontiguousarray(wa), bf, Xc, Yc, dt
    with np.errstate(over="ignore"):  # overflow in a cast to float32 is reported below
        Xc = _as_kernel_array(Xa, dt)  # checks a narrowing cast of X itself
        wc = np.ascontiguousarray(wa, dtype=dt)
    Yc = None if Ya is None else np.ascontiguousarray(Ya, dtype=dt)
    if np.dtype(dt).itemsize < wa.dtype.itemsize and not np.isfinite(wc).all():
        raise ValueError(f"w has values too large for dtype {dt}")  # finite in float64
    return wc, bf, Xc, Yc, dt


def _check_same_features(train: tuple[int, ...], test: tuple[int, ...]) -> None:
    """X_train and X_test must have one feature count; say when both look transposed.

    They look transposed, (samples, features), when they have the same number of
    columns and more rows than columns each (more samples than features, as most data
    sets have): a slice of the features alone, ``X[:1]``, gets no such hint.
    """
    if test[0] == train[0]:
        return
    hint = ""
    if test[1] == train[1] and train[0] > train[1] and test[0] > test[1]:
        hint = (
            f"; both have {train[1]} columns: if they are (samples, features), note that "
            "vecstudy takes (features, samples) = (n_x, m): pass X_train.T and X_test.T"
        )
    raise ValueError(
        f"X_test has {test[0]} features but X_train has {train[0]}; they must match{hint}"
    )


def _elementwise_input(z: ArrayLike, name: str) -> Array:
    arr = _as_real_array(z, name)
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ValueError(f"{name} must not contain NaN")
    dtype = np.float32 if arr.dtype == np.float32 else np.float64
    return np.asarray(arr, dtype=dtype, order="C")  # keeps a 0-d input 0-d


# --------------------------------------------------------------------------- numerics

_SCALE_ADVICE = "scale X (standardize its features) or start from smaller w and b"


def _check_gradients(dw: NDArray[Any], db: float, cost: float | None, dt: str) -> None:
    """Raise :class:`NumericalError` if a kernel reported a non-finite z, gradient or cost.

    By the kernel contract a non-finite ``db`` means some ``z_j = w^T x_j + b`` was
    non-finite (``db`` itself is a mean of numbers in [-1, 1] and cannot overflow).
    """
    if not math.isfinite(db):
        raise NumericalError(
            f"z = w^T X + b overflowed (came out non-finite in {dt}) for at least one "
            f"sample: the products w_i X_ij are too large; {_SCALE_ADVICE}"
        )
    if not np.isfinite(dw).all():
        raise NumericalError(
            f"the gradient dw = X (A - Y)^T / m overflowed (came out non-finite in {dt}): "
            f"X holds values too large; {_SCALE_ADVICE}"
        )
    if cost is not None and not math.isfinite(cost):
        raise NumericalError(
            f"the cost overflowed (came out non-finite in {dt}): z = w^T X + b is too large "
            f"for some samples; {_SCALE_ADVICE}"
        )


def _check_labels(labels: Array, Xc: Array, w: Array | None = None) -> None:
    """Raise if a backend's ``predict`` marked samples whose ``z = w^T X + b`` is non-finite.

    Backends return NaN for such a sample (see :mod:`vecstudy.backends`), so this check
    reads the ``m`` labels only (one sum: NaN if any label is); ``w`` (when given)
    and ``X`` are scanned only then, to name a NaN or an infinity in them (a
    ValueError), and otherwise the overflow is a :class:`NumericalError` counting the
    samples.
    """
    if not math.isnan(float(np.add.reduce(labels, axis=None))):
        return
    bad = np.flatnonzero(np.isnan(labels))
    if w is not None:
        _raise_if_nonfinite(w.reshape(-1, 1), "w")  # indexed as the course's (n_x, 1)
    _raise_if_nonfinite(Xc, "X")
    raise NumericalError(
        f"z = w^T X + b overflowed (came out non-finite in {Xc.dtype}) for "
        f"{bad.size} of {labels.size} samples (the first is sample {int(bad[0])}); "
        f"a prediction from it would be meaningless; {_SCALE_ADVICE}"
    )


def _warn_if_rising(costs: list[float], lr: float, every: int) -> None:
    """Issue :class:`DivergenceWarning` when a recorded cost rises well above the first.

    ``costs[k]`` is the cost at iteration ``k * every``.
    """
    if len(costs) < 2:
        return
    first = costs[0]
    for k, cost in enumerate(costs[1:], start=1):
        if cost > COST_RISE_FACTOR * first and cost > first + COST_RISE_MARGIN:
            warnings.warn(
                DivergenceWarning(
                    f"gradient descent is diverging: the cost rose from {first:.6g} at "
                    f"iteration 0 to {cost:.6g} at iteration {k * every}; use a "
                    f"smaller learning_rate (now {lr!r}) or standardize the features of X"
                ),
                stacklevel=external_stacklevel(),
            )
            return


def _check_lr_for_dtype(lr: float, dt: str) -> None:
    info = np.finfo(dt)
    if lr > float(info.max):
        raise ValueError(f"learning_rate = {lr!r} is too large for dtype {dt}")
    if lr < float(info.smallest_subnormal):
        raise ValueError(f"learning_rate = {lr!r} rounds to 0 in dtype {dt}")


def _check_descent(
    done: int,
    n_iter: int,
    lr: float,
    params: dict[str, Any],
    grads: Grads,
    costs: list[float],
    dt: str,
    every: int,
) -> None:
    """Raise :class:`DivergenceError` if the kernel stopped early or reported a non-finite cost.

    ``costs[k]`` is the cost at iteration ``k * every``.
    """
    advice = f"try a smaller learning_rate (now {lr!r}) or standardize the features of X"
    details: dict[str, Any] = {"params": params, "grads": grads, "costs": costs}
    params_ok = math.isfinite(params["b"]) and bool(np.isfinite(params["w"]).all())
    if done < n_iter or not params_ok:
        grads_ok = math.isfinite(grads["db"]) and bool(np.isfinite(grads["dw"]).all())
        if not grads_ok:
            reason = (
                f"the gradient came out non-finite in {dt} (z = w^T X + b or X (A - Y)^T "
                "overflowed)"
            )
        else:
            reason = "the update would make w or b non-finite"
        raise DivergenceError(
            f"optimize diverged at iteration {done}: {reason}; {advice}",
            iteration=done,
            **details,
        )
    for k, cost in enumerate(costs):
        if not math.isfinite(cost):
            raise DivergenceError(
                f"optimize diverged at iteration {k * every}: the cost came out "
                f"non-finite in {dt} (z = w^T X + b is too large for some samples); {advice}",
                iteration=k * every,
                **details,
            )
