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

import functools
import logging
import math
import numbers
import sys
import threading
import warnings
from collections.abc import Callable
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


def _check_finite(arr: NDArray[Any], name: str) -> None:
    """Raise a ValueError naming the first NaN or infinity of ``arr``.

    A finite sum proves every element finite, and a sum reads the array once without
    allocating a mask; only a non-finite sum (which finite values can also give, by
    overflowing) needs the elementwise test.
    """
    if arr.dtype.kind != "f":
        return
    if arr.size > 4096:  # below, the mask is cheaper than np.errstate
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(arr.sum()):
                return
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(f"{name} must be finite; found {float(arr[where])} at index {where}")


def _check_X(X: ArrayLike, name: str = "X") -> NDArray[Any]:
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
    logger.info(
        "compiling or loading cached numba kernels for %s, %s%s "
        "(first use in this process; a cold compile takes about 10 s)...",
        kernel,
        X.dtype,
        order,
    )


def _as_kernel_array(arr: NDArray[Any], dt: str) -> Array:
    """``arr`` in dtype ``dt``, C- or F-contiguous; copied only when needed.

    An array that already is C- or F-contiguous keeps its layout (no copy when the
    dtype matches, too); anything else (a strided view, a non-native byte order that
    needs converting anyway) becomes C-contiguous.
    """
    out = np.asarray(arr, dtype=dt)
    if not (out.flags.c_contiguous or out.flags.f_contiguous):
        out = np.ascontiguousarray(out)
    return out


def _prepare(
    w: ArrayLike, b: object, X: ArrayLike, Y: ArrayLike | None, dtype: str | None
) -> tuple[Array, float, Array, Array | None, str]:
    """Validate once and convert to arrays of one dtype (see :func:`_as_kernel_array`)."""
    Xa = _check_X(X)
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
        Xc = _as_kernel_array(Xa, dt)
        wc = np.ascontiguousarray(wa, dtype=dt)
    Yc = None if Ya is None else np.ascontiguousarray(Ya, dtype=dt)
    if np.dtype(dt).itemsize < Xa.dtype.itemsize or np.dtype(dt).itemsize < wa.dtype.itemsize:
        # values finite in float64 may overflow float32
        for arr, name in ((Xc, "X"), (wc, "w")):
            if not np.isfinite(arr).all():
                raise ValueError(f"{name} has values too large for dtype {dt}")
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


def _check_z(wc: Array, bf: float, Xc: Array) -> None:
    """Raise :class:`NumericalError` if ``z = w^T X + b`` is non-finite for some sample.

    Cheap in the usual case: ``|z_j| <= |b| + sum_i |w_i| max|X|`` proves that no
    ``z_j`` can overflow; only when that bound fails is ``z`` computed to check.
    """
    big = float(np.finfo(Xc.dtype).max)
    with np.errstate(over="ignore", invalid="ignore"):
        x_max = max(abs(float(Xc.max())), abs(float(Xc.min())))
        bound = abs(bf) + float(np.abs(wc).sum(dtype=np.float64)) * x_max
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
    wc, bf, Xc, Yc, dt = _prepare(w, b, X, Y, dtype)
    assert Yc is not None
    module, name = _kernel(backend, Xc.shape[0], Xc.shape[1], dt, _lazy(Xc))
    announce_compile(name, "propagate", Xc)
    with _threads(threads, name):
        dw, db, cost = module.propagate(wc, bf, Xc, Yc)
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
    wc, bf, Xc, Yc, dt = _prepare(w, b, X, Y, dtype)
    assert Yc is not None
    _check_lr_for_dtype(lr, dt)
    module, name = _kernel(backend, Xc.shape[0], Xc.shape[1], dt, _lazy(Xc))
    announce_compile(name, "optimize", Xc)
    with _threads(threads, name):
        Xc = _relayout(module, Xc, n_iter)  # the copy, if any, runs on the same threads
        if verbose:
            result = _optimize_printing(module.optimize, wc, bf, Xc, Yc, n_iter, lr)
        else:
            result = module.optimize(wc, bf, Xc, Yc, n_iter, lr, RECORD_EVERY)
    w_out, b_out, dw, db, costs, done = result
    params = {"w": np.asarray(w_out).reshape(-1, 1), "b": float(b_out)}
    grads = {"dw": np.asarray(dw).reshape(-1, 1), "db": float(db)}
    cost_list = [float(c) for c in costs]
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
    wc, bf, Xc, _, dt = _prepare(w, b, X, None, dtype)
    lazy = _lazy(Xc)
    if not lazy:  # a dask X is never read here; its kernel reports a non-finite z
        _check_z(wc, bf, Xc)
    module, name = _kernel(backend, Xc.shape[0], Xc.shape[1], dt, lazy)
    announce_compile(name, "predict", Xc)
    with _threads(threads, name):
        out = module.predict(wc, bf, Xc)
    return np.asarray(out).reshape(1, -1)


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
    if Xte.shape[0] != Xtr.shape[0]:
        raise ValueError(
            f"X_test has {Xte.shape[0]} features but X_train has {Xtr.shape[0]}; they must match"
        )
    Ytr = _check_Y(Y_train, Xtr.shape[1], "Y_train", x_shape=Xtr.shape)
    Yte = _check_Y(Y_test, Xte.shape[1], "Y_test", x_shape=Xte.shape)
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
