"""The friendly layer: the course's functions, validated once, then handed to a lean kernel.

Conventions (as in the course)
------------------------------
``X`` : (n_x, m) array, one column per sample
``Y`` : (1, m) array of labels 0 or 1 (a 1-D (m,) array is accepted too)
``w`` : (n_x, 1) weights (a 1-D (n_x,) array is accepted too)
``b`` : real number

The model is ``A = sigmoid(w^T X + b)``; the cost is the mean cross-entropy
``J = -1/m sum_j [y_j log a_j + (1 - y_j) log(1 - a_j)]``, computed in the stable form
``log1p(exp(-|z|)) + max(z, 0) - y z``; the gradients are
``dw = X (A - Y)^T / m`` and ``db = mean(A - Y)``.

Every function takes keyword-only ``backend=``, ``dtype=`` and ``threads=`` where they
matter; when left out, :mod:`vecstudy.config` resolves them per call.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import math
import numbers
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from types import ModuleType
from typing import Any, ParamSpec, TypeAlias, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vecstudy import backends, config
from vecstudy.cluster import is_dask_array as _lazy
from vecstudy.runtime.threads import limit_threads

Array: TypeAlias = NDArray[np.floating[Any]]
Grads: TypeAlias = dict[str, Any]

logger = logging.getLogger("vecstudy")

#: The course records the cost every 100 iterations.
RECORD_EVERY = 100
#: Largest num_iterations accepted: kernels count in int64 and keep one cost per 100.
MAX_ITERATIONS = 2**31 - 1


class NumericalError(FloatingPointError):
    """z, the gradient or the cost came out non-finite (overflow).

    Raised by :func:`propagate`, :func:`predict` and :func:`optimize` (as its subclass
    :class:`DivergenceError`) instead of returning NaN, infinity, or a result computed
    from them.  The inputs were finite: the values overflowed the dtype in the sum
    ``z = w^T X + b`` or in the gradient ``X (A - Y)^T / m``.  Scaling (standardizing)
    ``X``, or smaller weights, avoids it.
    """


class DivergenceError(NumericalError):
    """Gradient descent produced non-finite parameters (or a non-finite gradient).

    Attributes
    ----------
    iteration : int
        The iteration whose gradient or update came out non-finite (or, when only a
        recorded cost did, the iteration of that cost).
    params : dict
        The last finite ``{"w", "b"}``.
    grads : dict
        The gradients computed at that iteration.
    costs : list of float
        The costs recorded before it.

    It pickles with its attributes (to cross process boundaries, e.g. from a worker).
    """

    def __init__(
        self,
        message: str,
        *,
        iteration: int,
        params: dict[str, Any],
        grads: Grads,
        costs: list[float],
    ) -> None:
        super().__init__(message)
        self.iteration = iteration
        self.params = params
        self.grads = grads
        self.costs = costs

    def __reduce__(self) -> tuple[Any, ...]:
        details = {
            "iteration": self.iteration,
            "params": self.params,
            "grads": self.grads,
            "costs": self.costs,
        }
        return (_rebuild_divergence, (str(self), details))


def _rebuild_divergence(message: str, details: dict[str, Any]) -> DivergenceError:
    return DivergenceError(message, **details)


class DivergenceWarning(RuntimeWarning):
    """Gradient descent is diverging although every number stayed finite.

    Issued by :func:`optimize` (and :func:`model`) when a recorded cost rises *well*
    above the first one: ``J_k > 2 J_0`` and ``J_k > J_0 + 1`` (the first condition
    ignores small oscillations around a good fit; the second keeps a tiny ``J_0``
    from making noise look like divergence).  A cost that grows instead of falling
    means the learning rate is too large for the scale of ``X``.
    """


#: A recorded cost above both ``COST_RISE_FACTOR * J_0`` and ``J_0 + COST_RISE_MARGIN``
#: triggers :class:`DivergenceWarning`.
COST_RISE_FACTOR = 2.0
COST_RISE_MARGIN = 1.0


class SlowRunWarning(UserWarning):
    """A python-backend descent is estimated to take more than :data:`SLOW_RUN_SECONDS`.

    :func:`optimize` (and so :func:`model`) times the first iteration of a descent of
    at least :data:`SLOW_RUN_MIN_ITERATIONS` iterations on the python backend, keeps
    it, and extrapolates to ``num_iterations``; the warning gives that estimate.  The
    python backend is the course's double loop, there to be read and to check the
    others against: ``backend="numpy"`` or ``backend="numba"`` runs the same descent
    (to rounding) in a small fraction of the time.  ``vecstudy train`` makes the same
    estimate before it trains, and refuses a run over its ``--budget``.
    """


#: A python-backend run estimated above this many seconds warns (:class:`SlowRunWarning`).
SLOW_RUN_SECONDS = 60.0
#: Shorter python-backend runs are not timed: the timing costs one more conversion of
#: ``X`` to lists (about a tenth of an iteration), under 1% of a run from this length.
SLOW_RUN_MIN_ITERATIONS = 20


# --------------------------------------------------------------------------- validation
def _int_text(value: int) -> str:
    """``str(value)``, or ``about 10**k`` for a huge one (whose str is long, or raises)."""
    if value.bit_length() > 64:
        return f"about {'-' if value < 0 else ''}10**{int(value.bit_length() * 0.30103)}"
    return str(value)


def _describe(value: object) -> str:
    """A short description of a bad value for an error message: its type and repr."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"int {_int_text(value)}"  # repr of a huge int is long, or raises
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _as_real_array(value: object, name: str) -> NDArray[Any]:
    """``value`` as an ndarray of real numbers, or a TypeError naming ``name``."""
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
    _check_finite(arr, name)
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        found = np.unique(arr[bad]).astype(float)[:5]
        raise ValueError(f"{name} must hold labels 0 and 1 only; found {found.tolist()}")
    return arr


def _check_w(w: ArrayLike, n_x: int, x_shape: tuple[int, ...] | None = None) -> NDArray[Any]:
    arr = _as_real_array(w, "w")
    if arr.shape not in ((n_x, 1), (n_x,)):
        hint = ""
        if x_shape is not None and arr.size == x_shape[1] and arr.ndim in (1, 2):
            hint = "; " + _transposed_hint(x_shape)
        raise ValueError(
            f"w must have shape (n_x, 1) = ({n_x}, 1) to match X; got shape {arr.shape}{hint}"
        )
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


# --------------------------------------------------------------------------- dispatch
def _kernel(
    backend: str | None, n_x: int, m: int, dtype: str, lazy: bool = False
) -> tuple[ModuleType, str]:
    """The backend module for a call, resolving ``"auto"`` by the problem's shape.

    ``lazy``: X is a dask array, which only the dask backend takes (``"auto"`` picks it).
    """
    choice = config.resolve_backend(backend)
    name = str(choice.value)
    if lazy and name not in ("dask", config.AUTO):
        raise TypeError(
            f"X is a dask array, which only backend 'dask' takes; backend {name!r} is in force "
            f"(from {choice.source}): pass backend='dask', or a NumPy array (X.compute())"
        )
    if lazy and name == config.AUTO:
        name = "dask"
    elif name == config.AUTO:
        from vecstudy.auto import choose_backend

        picked = choose_backend(n_x, m, dtype=dtype)
        logger.info("backend 'auto' picked %r: %s", picked.value, picked.source)
        name = str(picked.value)
    return backends.load(name), name


def _threads(threads: int | str | None, name: str) -> AbstractContextManager[None]:
    n = config.resolve_threads(threads).value
    if n is None:
        return nullcontext()
    return limit_threads(n, numba=True if name == "numba" else None)


#: (kernel, dtype, layout) of numba kernels already called in this process.
_numba_seen: set[tuple[str, str, str]] = set()
_numba_seen_lock = threading.Lock()


def announce_compile(name: str, kernel: str, X: NDArray[Any]) -> None:
    """Log one INFO line before the first call of a numba kernel for a dtype and layout.

    Numba compiles on first use (a cold compile takes about 10 s) or loads its cache;
    without a word the first call looks frozen.  The CLI shows these lines on stderr.
    In a Jupyter kernel where logging would not show the line (nothing set up for
    INFO), it is printed on stderr instead, so that a notebook shows it too.
    """
    if name != "numba":
        return
    layout = "F" if X.ndim == 2 and X.flags.f_contiguous and not X.flags.c_contiguous else "C"
    key = (kernel, str(X.dtype), layout)
    with _numba_seen_lock:
        if key in _numba_seen:
            return
        _numba_seen.add(key)
    order = ", Fortran-ordered X" if layout == "F" else ""
    text = (
        "compiling or loading cached numba kernels for %s, %s%s "
        "(first use in this process; a cold compile takes about 10 s)..."
    )
    if not (logger.isEnabledFor(logging.INFO) and logger.hasHandlers()) and _in_kernel():
        print("vecstudy: " + text % (kernel, X.dtype, order), file=sys.stderr)
        return
    logger.info(text, kernel, X.dtype, order)


def _in_kernel() -> bool:
    """Whether this process is a Jupyter (IPython) kernel, where INFO logs show nowhere."""
    shell = sys.modules.get("ipykernel.zmqshell")
    ipython = sys.modules.get("IPython")
    if shell is None or ipython is None:
        return False
    return isinstance(ipython.get_ipython(), shell.ZMQInteractiveShell)


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
    """Validate once and convert to arrays of one dtype (see :func:`_as_kernel_array`).

    ``scan_X=False``: the values of ``X`` are not scanned for NaN or infinity (the
    caller checks the kernel's outputs and calls :func:`_raise_if_nonfinite` when they
    are not finite); every other check is made.
    """
    Xa = _check_X(X, finite=scan_X)
    n_x, m = Xa.shape
    wa = _check_w(w, n_x, Xa.shape)
    bf = _check_b(b)
    Ya = None if Y is None else _check_Y(Y, m, x_shape=Xa.shape)
    dt = str(config.resolve_dtype(dtype, Xa.dtype).value)
    if _lazy(Xa) or _lazy(Ya):  # dask arrays: converted lazily, never read here
        from vecstudy.cluster import lazy_inputs

        Xl, Yl = lazy_inputs(Xa, Ya, dt)
        return np.ascontiguousarray(wa, dtype=dt), bf, Xl, Yl, dt
    with np.errstate(over="ignore"):  # overflow in a cast to float32 is reported below
        Xc = _as_kernel_array(Xa, dt)  # checks a narrowing cast of X itself
        wc = np.ascontiguousarray(wa, dtype=dt)
    Yc = None if Ya is None else np.ascontiguousarray(Ya, dtype=dt)
    if np.dtype(dt).itemsize < wa.dtype.itemsize and not np.isfinite(wc).all():
        raise ValueError(f"w has values too large for dtype {dt}")  # finite in float64
    if abs(bf) > float(np.finfo(dt).max):
        raise ValueError(f"b = {bf!r} is too large for dtype {dt}")
    return wc, bf, Xc, Yc, dt


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


def _extremes(Xc: Array) -> tuple[float, float]:
    """``(min(X), max(X))`` in one blocked pass (NaN when ``X`` holds a NaN).

    Each block is read from memory once, its minimum then taken from the cache.
    """
    lows, highs = [], []
    for rows, cols in _blocks(Xc.shape, _is_f_order(Xc)):
        block = Xc[rows, cols]
        lows.append(block.min())
        highs.append(block.max())
    return float(np.min(lows)), float(np.max(highs))  # np.min and np.max propagate NaN


def _check_z(wc: Array, bf: float, Xc: Array) -> None:
    """Raise if ``X`` holds a NaN or infinity, or ``z = w^T X + b`` overflows for a sample.

    Cheap in the usual case: ``|z_j| <= |b| + sum_i |w_i| max|X|`` proves that no
    ``z_j`` can overflow (in any order of summation); it takes one blocked pass over
    ``X`` (:func:`_extremes`) that also sees a NaN or an infinity, named then by
    :func:`_raise_if_nonfinite` (a ValueError).  Only when the bound fails is ``z``
    computed to check (a :class:`NumericalError`).
    """
    big = float(np.finfo(Xc.dtype).max)
    x_min, x_max = _extremes(Xc)
    if not (math.isfinite(x_min) and math.isfinite(x_max)):
        _raise_if_nonfinite(Xc, "X")
    with np.errstate(over="ignore", invalid="ignore"):
        bound = abs(bf) + float(np.abs(wc).sum(dtype=np.float64)) * max(abs(x_min), abs(x_max))
        if bound < 0.5 * big:
            return
        z = wc @ Xc
        z += Xc.dtype.type(bf)
    bad = np.flatnonzero(~np.isfinite(z))
    if bad.size:
        raise NumericalError(
            f"z = w^T X + b overflowed (came out non-finite in {Xc.dtype}) for "
            f"{bad.size} of {z.size} samples (the first is sample {int(bad[0])}); "
            f"a prediction from it would be meaningless; {_SCALE_ADVICE}"
        )


def _warn_if_rising(costs: list[float], lr: float) -> None:
    """Issue :class:`DivergenceWarning` when a recorded cost rises well above the first."""
    if len(costs) < 2:
        return
    first = costs[0]
    for k, cost in enumerate(costs[1:], start=1):
        if cost > COST_RISE_FACTOR * first and cost > first + COST_RISE_MARGIN:
            warnings.warn(
                DivergenceWarning(
                    f"gradient descent is diverging: the cost rose from {first:.6g} at "
                    f"iteration 0 to {cost:.6g} at iteration {k * RECORD_EVERY}; use a "
                    f"smaller learning_rate (now {lr!r}) or standardize the features of X"
                ),
                stacklevel=config.external_stacklevel(),
            )
            return


def _check_lr_for_dtype(lr: float, dt: str) -> None:
    info = np.finfo(dt)
    if lr > float(info.max):
        raise ValueError(f"learning_rate = {lr!r} is too large for dtype {dt}")
    if lr < float(info.smallest_subnormal):
        raise ValueError(f"learning_rate = {lr!r} rounds to 0 in dtype {dt}")


# --------------------------------------------------------------------------- public API
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _one_lookup(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``fn`` with the config file looked up at most once (see ``config.one_lookup``)."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with config.one_lookup():
            return fn(*args, **kwargs)

    return wrapper


@_one_lookup
def sigmoid(z: ArrayLike, *, backend: str | None = None) -> Any:
    """Numerically stable logistic function ``1 / (1 + exp(-z))``, elementwise.

    Parameters
    ----------
    z : array_like of real numbers (a scalar gives a 0-d array)
    backend : str, optional

    Returns
    -------
    ndarray of the shape of ``z``, float64 unless ``z`` is float32.

    Examples
    --------
    >>> import vecstudy
    >>> vecstudy.sigmoid([0.0, 2.0])
    array([0.5       , 0.88079708])
    """
    arr = _elementwise_input(z, "z")
    module, name = _kernel(backend, 1, max(arr.size, 1), str(arr.dtype))
    announce_compile(name, "sigmoid", arr)
    return np.asarray(module.sigmoid(arr))


@_one_lookup
def sigmoid_derivative(x: ArrayLike, *, backend: str | None = None) -> Any:
    """``sigmoid(x) * (1 - sigmoid(x))``, elementwise.

    >>> import vecstudy
    >>> vecstudy.sigmoid_derivative([1.0, 2.0, 3.0])
    array([0.19661193, 0.10499359, 0.04517666])
    """
    arr = _elementwise_input(x, "x")
    module, name = _kernel(backend, 1, max(arr.size, 1), str(arr.dtype))
    announce_compile(name, "sigmoid", arr)
    return np.asarray(module.sigmoid_derivative(arr))


def _elementwise_input(z: ArrayLike, name: str) -> Array:
    arr = _as_real_array(z, name)
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ValueError(f"{name} must not contain NaN")
    dtype = np.float32 if arr.dtype == np.float32 else np.float64
    return np.asarray(arr, dtype=dtype, order="C")  # keeps a 0-d input 0-d


@_one_lookup
def initialize_with_zeros(dim: int, *, dtype: str | None = None) -> tuple[Array, float]:
    """Zero weights of shape ``(dim, 1)`` and bias ``0.0`` (a Python float).

    >>> import vecstudy
    >>> w, b = vecstudy.initialize_with_zeros(2)
    >>> w.shape, b
    ((2, 1), 0.0)
    """
    n_x = _check_int(dim, "dim", 1)
    dt = str(config.resolve_dtype(dtype, None).value)
    itemsize = np.dtype(dt).itemsize
    if n_x > np.iinfo(np.intp).max // itemsize:
        raise ValueError(f"dim = {_describe(n_x)} is too large for any array of {dt}")
    try:
        return np.zeros((n_x, 1), dtype=dt), 0.0
    except MemoryError:
        raise MemoryError(
            f"dim = {n_x} is too large: {n_x} weights of {dt} need {n_x * itemsize:.3g} bytes"
        ) from None


@_one_lookup
def propagate(
    w: ArrayLike,
    b: float,
    X: ArrayLike,
    Y: ArrayLike,
    *,
    backend: str | None = None,
    dtype: str | None = None,
    threads: int | str | None = None,
) -> tuple[Grads, float]:
    """Cost and gradients of one batch (forward and backward propagation).

    Returns
    -------
    grads : dict
        ``{"dw": (n_x, 1) array, "db": float}``
    cost : float

    Raises
    ------
    NumericalError
        If ``z = w^T X + b``, the gradient or the cost comes out non-finite (overflow).

    Examples
    --------
    >>> import numpy as np, vecstudy
    >>> w, b = np.array([[1.0], [2.0]]), 2.0
    >>> X, Y = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]]), np.array([[1, 0, 1]])
    >>> grads, cost = vecstudy.propagate(w, b, X, Y)
    >>> grads["dw"].ravel(), round(grads["db"], 14), round(cost, 14)
    (array([0.99845601, 2.39507239]), 0.00145557813678, 5.80154531939415)
    """
    wc, bf, Xc, Yc, dt = _prepare(w, b, X, Y, dtype, scan_X=False)
    assert Yc is not None
    module, name = _kernel(backend, Xc.shape[0], Xc.shape[1], dt, _lazy(Xc))
    announce_compile(name, "propagate", Xc)
    with _threads(threads, name):
        dw, db, cost = module.propagate(wc, bf, Xc, Yc)
    # a NaN or infinity in X makes z, and so db, non-finite: X is scanned only then
    if not (math.isfinite(db) and math.isfinite(cost) and np.isfinite(dw).all()):
        if not _lazy(Xc):
            _raise_if_nonfinite(Xc, "X")
        _check_gradients(dw, float(db), float(cost), dt)
    return {"dw": np.asarray(dw).reshape(-1, 1), "db": float(db)}, float(cost)


@_one_lookup
def optimize(
    w: ArrayLike,
    b: float,
    X: ArrayLike,
    Y: ArrayLike,
    num_iterations: int = 100,
    learning_rate: float = 0.009,
    print_cost: bool = False,
    *,
    backend: str | None = None,
    dtype: str | None = None,
    threads: int | str | None = None,
) -> tuple[dict[str, Any], Grads, list[float]]:
    """Batch gradient descent: ``num_iterations`` updates ``w -= lr*dw``, ``b -= lr*db``.

    Returns
    -------
    params : dict
        ``{"w": (n_x, 1) array, "b": float}`` after the last update.
    grads : dict
        The last gradients computed (before the last update).
    costs : list of float
        The cost at iterations 0, 100, 200, ...

    Raises
    ------
    DivergenceError
        If the gradient at an iteration, an update of ``w`` or ``b``, or a recorded
        cost comes out non-finite.  A subclass of :class:`NumericalError`.

    Warns
    -----
    DivergenceWarning
        If a recorded cost rises well above the first one (see its definition).

    The caller's arrays are never modified.  With ``print_cost=True`` the cost is
    printed every 100 iterations, as it is recorded.

    Examples
    --------
    >>> import numpy as np, vecstudy
    >>> X = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
    >>> params, grads, costs = vecstudy.optimize(np.array([[1.0], [2.0]]), 2.0, X, [[1, 0, 1]])
    >>> params["w"].ravel(), round(params["b"], 11)
    (array([0.19033591, 0.12259159]), 1.92535983008)
    """
    n_iter = _check_int(num_iterations, "num_iterations", 0, MAX_ITERATIONS)
    lr = _check_learning_rate(learning_rate)
    verbose = _check_flag(print_cost, "print_cost")
    # X is scanned up front only when the kernel will not read it, or prints costs
    # that a NaN in X would make NaN; otherwise the descent's outputs show it
    wc, bf, Xc, Yc, dt = _prepare(w, b, X, Y, dtype, scan_X=n_iter == 0 or verbose)
    assert Yc is not None
    _check_lr_for_dtype(lr, dt)
    module, name = _kernel(backend, Xc.shape[0], Xc.shape[1], dt, _lazy(Xc))
    announce_compile(name, "optimize", Xc)
    with _threads(threads, name):
        Xc = _relayout(module, Xc, n_iter)  # the copy, if any, runs on the same threads
        kernel = _watch_slow_run(module.optimize, name, Xc.shape, n_iter)
        if verbose:
            result = _optimize_printing(kernel, wc, bf, Xc, Yc, n_iter, lr)
        else:
            result = kernel(wc, bf, Xc, Yc, n_iter, lr, RECORD_EVERY)
    w_out, b_out, dw, db, costs, done = result
    w_arr, b_val = np.asarray(w_out).reshape(-1, 1), float(b_out)
    params = {"w": w_arr, "b": b_val}
    grads = {"dw": np.asarray(dw).reshape(-1, 1), "db": float(db)}
    cost_list = [float(c) for c in costs]
    finite = (
        int(done) == n_iter
        and math.isfinite(b_val)
        and bool(np.isfinite(w_arr).all())
        and all(math.isfinite(c) for c in cost_list)
    )
    if not finite and not _lazy(Xc):  # a non-finite X is named as such, not as divergence
        _raise_if_nonfinite(Xc, "X")
    _check_descent(int(done), n_iter, lr, params, grads, cost_list, dt)
    _warn_if_rising(cost_list, lr)
    return params, grads, cost_list


def _check_descent(
    done: int,
    n_iter: int,
    lr: float,
    params: dict[str, Any],
    grads: Grads,
    costs: list[float],
    dt: str,
) -> None:
    """Raise :class:`DivergenceError` if the kernel stopped early or reported a non-finite cost."""
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
                f"optimize diverged at iteration {k * RECORD_EVERY}: the cost came out "
                f"non-finite in {dt} (z = w^T X + b is too large for some samples); {advice}",
                iteration=k * RECORD_EVERY,
                **details,
            )


_relayout_seen: set[tuple[tuple[int, ...], str, str, str]] = set()


def _relayout_log(X: Array, what: str, *args: object) -> None:
    """Log a relayout decision at INFO once per shape, dtype and order, then at DEBUG.

    A loop of short ``optimize`` calls on one ``X`` would otherwise repeat the same line.
    """
    key = (X.shape, str(X.dtype), "F" if X.flags.f_contiguous else "C", what)
    with _numba_seen_lock:
        first = key not in _relayout_seen
        _relayout_seen.add(key)
    logger.log(logging.INFO if first else logging.DEBUG, what, *args)


def _relayout(module: ModuleType, X: Array, n_iter: int) -> Array:
    """``X`` copied once into the layout the kernel prefers for a descent, when that pays.

    The kernel says which order (``relayout_order``) is worth it for ``n_iter``
    iterations; the copy is made only when ``X`` fits in ``relayout_max_mb`` (config).
    """
    choose = getattr(module, "relayout_order", None)
    order = None if choose is None else choose(X, n_iter)
    if order is None:
        return X
    bound = config.resolve_relayout_max_mb()
    mb = X.nbytes / 1e6
    if mb > bound.value:
        _relayout_log(
            X,
            "optimize: X (%.1f MB) kept in its layout; %s order would be faster but the "
            "copy exceeds relayout_max_mb = %g (from %s)",
            mb, order, bound.value, bound.source,
        )  # fmt: skip
        return X
    _relayout_log(
        X,
        "optimize: X (%.1f MB) copied once into %s order, faster for %d iterations "
        "(relayout_max_mb = %g from %s)",
        mb, order, n_iter, bound.value, bound.source,
    )  # fmt: skip
    copy = getattr(module, "relayout", None)
    if copy is not None:
        return np.asarray(copy(X, order))
    return np.asfortranarray(X) if order == "F" else np.ascontiguousarray(X)


_slow_run_check = contextvars.ContextVar("vecstudy_slow_run_check", default=True)


class _no_slow_run_check:  # noqa: N801 - used as a function: with _no_slow_run_check():
    """Within: :func:`optimize` does not time python-backend runs (a caller that does)."""

    def __enter__(self) -> None:
        self._token = _slow_run_check.set(False)

    def __exit__(self, *exc: object) -> None:
        _slow_run_check.reset(self._token)


def _duration(seconds: float) -> str:
    """``"45 s"``, ``"17 min"``, ``"3.2 h"``: an estimate in words."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _watch_slow_run(
    kernel: Callable[..., Any], name: str, shape: tuple[int, ...], total: int
) -> Callable[..., Any]:
    """``kernel`` (a backend's ``optimize``), timing its first iteration on the python backend.

    On the python backend, for a run of at least :data:`SLOW_RUN_MIN_ITERATIONS`
    iterations, the first call runs as three: iteration 0 alone (timed; the estimate
    is its time x ``total``, and over :data:`SLOW_RUN_SECONDS` a
    :class:`SlowRunWarning` is issued), then the iterations up to the next record
    (the cost the kernel records at their start is not one the run records, and is
    left out), then the rest.  Nothing is computed twice; with float64 the result has
    the bits of one call (float32 parameters are rounded to float32 between the parts,
    as with ``print_cost``).
    """
    if name != "python" or total < SLOW_RUN_MIN_ITERATIONS or not _slow_run_check.get():
        return kernel
    pending = [True]

    def watched(w: Array, b: float, X: Array, Y: Array, n: int, lr: float, every: int) -> Any:
        if not pending or n < 2:
            return kernel(w, b, X, Y, n, lr, every)
        pending.clear()
        start = time.perf_counter()
        w, b, dw, db, first, done = kernel(w, b, X, Y, 1, lr, every)
        seconds = time.perf_counter() - start
        if seconds * total > SLOW_RUN_SECONDS:
            warnings.warn(
                SlowRunWarning(
                    f"backend 'python' would take about {_duration(seconds * total)} for "
                    f"{total} iterations on X of shape {tuple(shape)} ({seconds:.3g} s for "
                    "the first, timed); backend='numpy' or backend='numba' runs the same "
                    "descent in a small fraction of that time"
                ),
                stacklevel=config.external_stacklevel(),
            )
        costs = [np.asarray(first)]
        done, mid = int(done), min(every, n)
        if done == 1 and mid > 1:  # up to the next record; the cost at iteration 1 is dropped
            w, b, dw, db, _, did = kernel(w, b, X, Y, mid - 1, lr, every)
            done += int(did)
        if done == mid and n > mid:
            w, b, dw, db, recorded, did = kernel(w, b, X, Y, n - mid, lr, every)
            costs.append(np.asarray(recorded))
            done += int(did)
        return w, b, dw, db, np.concatenate(costs), done

    return watched


def _optimize_printing(
    kernel: Callable[..., Any], w: Array, b: float, X: Array, Y: Array, n_iter: int, lr: float
) -> tuple[Array, float, Array, float, Array, int]:
    """Run the kernel 100 iterations at a time, printing each recorded cost as it comes.

    The sequence of floating-point operations is the same as one call (but for the
    python backend with float32 input, whose Python-float parameters are then rounded
    to float32 every 100 iterations).
    """
    dw: Array = np.zeros_like(w)
    db = 0.0
    costs: list[Array] = []
    done = 0
    while done < n_iter:
        chunk = min(RECORD_EVERY, n_iter - done)
        w_new, b_new, dw, db, c, did = kernel(w, b, X, Y, chunk, lr, RECORD_EVERY)
        costs.append(np.asarray(c))
        for value in np.asarray(c):
            print(f"Cost after iteration {done}: {float(value):f}")
        done += did
        w, b = w_new, b_new
        if did < chunk:
            break
    all_costs = np.concatenate(costs) if costs else np.zeros(0, dtype=X.dtype)
    return w, b, dw, db, all_costs, done


@_one_lookup
def predict(
    w: ArrayLike,
    b: float,
    X: ArrayLike,
    *,
    backend: str | None = None,
    dtype: str | None = None,
    threads: int | str | None = None,
) -> Array:
    """Predicted labels: a ``(1, m)`` array, 1.0 where ``sigmoid(w^T X + b) > 0.5``.

    Raises :class:`NumericalError` when ``z = w^T X + b`` is non-finite (overflows the
    dtype) for some sample: its sign, and so the label, would be meaningless.

    >>> import numpy as np, vecstudy
    >>> w, b = np.array([[0.1124579], [0.23106775]]), -0.3
    >>> vecstudy.predict(w, b, np.array([[1.0, -1.1, -3.2], [1.2, 2.0, 0.1]]))
    array([[1., 1., 0.]])
    """
    wc, bf, Xc, _, dt = _prepare(w, b, X, None, dtype, scan_X=False)
    lazy = _lazy(Xc)
    if not lazy:  # a dask X is never read here; its kernel reports a non-finite z
        _check_z(wc, bf, Xc)  # one pass over X, which also finds a NaN or infinity
    module, name = _kernel(backend, Xc.shape[0], Xc.shape[1], dt, lazy)
    announce_compile(name, "predict", Xc)
    with _threads(threads, name):
        out = module.predict(wc, bf, Xc)
    return np.asarray(out).reshape(1, -1)


def _check_same_features(train: tuple[int, ...], test: tuple[int, ...]) -> None:
    """X_train and X_test must have one feature count; say when both look transposed."""
    if test[0] == train[0]:
        return
    hint = ""
    if test[1] == train[1]:  # the same number of columns: features, in (samples, features)
        hint = (
            f"; both have {train[1]} columns: if they are (samples, features), note that "
            "vecstudy takes (features, samples) = (n_x, m): pass X_train.T and X_test.T"
        )
    raise ValueError(
        f"X_test has {test[0]} features but X_train has {train[0]}; they must match{hint}"
    )


@_one_lookup
def model(
    X_train: ArrayLike,
    Y_train: ArrayLike,
    X_test: ArrayLike,
    Y_test: ArrayLike,
    num_iterations: int = 2000,
    learning_rate: float = 0.5,
    print_cost: bool = False,
    *,
    backend: str | None = None,
    dtype: str | None = None,
    threads: int | str | None = None,
) -> dict[str, Any]:
    """Train logistic regression from zero weights and predict on both sets.

    Returns
    -------
    dict with keys ``costs``, ``Y_prediction_test``, ``Y_prediction_train``, ``w``, ``b``,
    ``learning_rate``, ``num_iterations``.  With ``print_cost=True`` it also prints the
    costs and the train and test accuracy.
    """
    Xtr = _check_X(X_train, "X_train")
    Xte = _check_X(X_test, "X_test")
    # each Y first: one with a label per row of its X says that X is (samples, features)
    Ytr = _check_Y(Y_train, Xtr.shape[1], "Y_train", x_shape=Xtr.shape)
    Yte = _check_Y(Y_test, Xte.shape[1], "Y_test", x_shape=Xte.shape)
    _check_same_features(Xtr.shape, Xte.shape)
    opts: dict[str, Any] = {"backend": backend, "dtype": dtype, "threads": threads}
    dt = str(config.resolve_dtype(dtype, Xtr.dtype).value)
    w, b = initialize_with_zeros(Xtr.shape[0], dtype=dt)
    params, _, costs = optimize(w, b, Xtr, Ytr, num_iterations, learning_rate, print_cost, **opts)
    pred_test = predict(params["w"], params["b"], Xte, **opts)
    pred_train = predict(params["w"], params["b"], Xtr, **opts)
    if _check_flag(print_cost, "print_cost"):
        print(f"train accuracy: {100 - np.mean(np.abs(pred_train[0] - Ytr)) * 100} %")
        print(f"test accuracy: {100 - np.mean(np.abs(pred_test[0] - Yte)) * 100} %")
    return {
        "costs": costs,
        "Y_prediction_test": pred_test,
        "Y_prediction_train": pred_train,
        "w": params["w"],
        "b": params["b"],
        "learning_rate": learning_rate,
        "num_iterations": num_iterations,
    }
