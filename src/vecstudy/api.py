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
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from types import ModuleType
from typing import Any, ParamSpec, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from vecstudy import backends, config
from vecstudy.cluster import is_dask_array as _lazy
from vecstudy.errors import DivergenceError as DivergenceError
from vecstudy.errors import DivergenceWarning as DivergenceWarning
from vecstudy.errors import NumericalError as NumericalError
from vecstudy.errors import SlowRunWarning as SlowRunWarning
from vecstudy.errors import _rebuild_divergence as _rebuild_divergence
from vecstudy.runtime.announce import announce_compile as announce_compile
from vecstudy.runtime.threads import limit_threads
from vecstudy.validation import COST_RISE_FACTOR as COST_RISE_FACTOR
from vecstudy.validation import COST_RISE_MARGIN as COST_RISE_MARGIN
from vecstudy.validation import MAX_ITERATIONS as MAX_ITERATIONS
from vecstudy.validation import (
    Array,
    Grads,
    _check_descent,
    _check_finite,
    _check_flag,
    _check_gradients,
    _check_int,
    _check_labels,
    _check_learning_rate,
    _check_lr_for_dtype,
    _check_same_features,
    _converted,
    _describe,
    _elementwise_input,
    _prepare,
    _raise_if_nonfinite,
    _warn_if_rising,
)
from vecstudy.validation import _check_X as _check_X  # the checks study.face makes too
from vecstudy.validation import _check_Y as _check_Y
from vecstudy.validation import _transposed_hint as _transposed_hint  # the advice in X's errors

logger = logging.getLogger("vecstudy")

#: The course records the cost every 100 iterations.
RECORD_EVERY = 100

#: A python-backend run estimated above this many seconds warns (:class:`SlowRunWarning`).
SLOW_RUN_SECONDS = 60.0
#: Shorter python-backend runs are not timed: the timing costs one more conversion of
#: ``X`` to lists (about a tenth of an iteration), under 1% of a run from this length.
SLOW_RUN_MIN_ITERATIONS = 20


# --------------------------------------------------------------------------- dispatch
def _backend_name(backend: str | None, n_x: int, m: int, dtype: str, lazy: bool = False) -> str:
    """The backend a call runs on: ``backend``, else the config's; ``"auto"`` resolved.

    ``"auto"`` is resolved by the problem's shape (:func:`vecstudy.auto.choose_backend`,
    logged at INFO).  ``lazy``: X is a dask array, which only the dask backend takes
    (``"auto"`` picks it).
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
    return name


def _kernel(
    backend: str | None, n_x: int, m: int, dtype: str, lazy: bool = False
) -> tuple[ModuleType, str]:
    """The backend module for a call and its name (see :func:`_backend_name`)."""
    name = _backend_name(backend, n_x, m, dtype, lazy)
    return backends.load(name), name


def _scan_w_for(name: str, w: Array) -> None:
    """Scan ``w`` for NaN and infinity before a dask kernel (the others show it in z).

    The dask backend checks ``X`` chunk by chunk as it reads them and names a
    non-finite one itself, before a non-finite ``w`` could be named from its outputs.
    """
    if name == "dask":
        _check_finite(w.reshape(-1, 1), "w")


def _threads(threads: int | str | None, name: str) -> AbstractContextManager[None]:
    n = config.resolve_threads(threads).value
    if n is None:
        return nullcontext()
    if name == "numba":  # its kernels call no BLAS: numba's own (thread-local) count only
        return limit_threads(n, numba=True, blas=False)
    return limit_threads(n)


def _all_finite(a: Array) -> bool:
    """``np.isfinite(a).all()`` by the ufuncs alone (``.all()`` adds a Python-level call)."""
    return bool(np.logical_and.reduce(np.isfinite(a), axis=None))


# --------------------------------------------------------------------------- public API
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _one_lookup(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``fn`` with the config file looked up at most once, or not at all when it was in
    the last second (see ``config.one_lookup`` and ``config.config_file``)."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            with config.one_lookup(recent=True):
                return fn(*args, **kwargs)
        except config.ConfigError:
            config.reload()  # a file in error is read again by the next call
            raise

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

    Parameters
    ----------
    w : array_like, shape (n_x, 1) or (n_x,)
    b : float
    X : array_like, shape (n_x, m)
        One column per sample, as in the course.
    Y : array_like, shape (1, m) or (m,)
        Labels 0 and 1.
    backend : str, optional
        ``"python"``, ``"numpy"``, ``"numba"``, ``"dask"`` or ``"auto"``; left out, the
        configuration decides (``vecstudy info`` shows it).
    dtype : str, optional
        ``"float64"`` or ``"float32"``; left out, float32 for float32 ``X``, else
        float64 (or the configuration's).
    threads : int or "all", optional
        Threads for the backend's library; left out, the libraries' own settings (or
        the configuration's).  Every function of the course takes these three.

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
    _scan_w_for(name, wc)
    announce_compile(name, "propagate", Xc)
    with _threads(threads, name):
        dw, db, cost = module.propagate(wc, bf, Xc, Yc)
    # a NaN or infinity in w or X makes z, and so db, non-finite: they are scanned only
    # then (w first, as an up-front check would name it)
    if not (math.isfinite(db) and math.isfinite(cost) and _all_finite(dw)):
        _raise_if_nonfinite(wc.reshape(-1, 1), "w")  # indexed as the course's (n_x, 1)
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

    Parameters
    ----------
    w, b, X, Y
        As for :func:`propagate`.
    num_iterations : int
        Updates to make, 0 or more.
    learning_rate : float
        Step size, greater than 0.
    print_cost : bool
        Print the cost every 100 iterations, as it is recorded.
    backend, dtype, threads : optional
        As for :func:`propagate`.

    Returns
    -------
    params : dict
        ``{"w": (n_x, 1) array, "b": float}`` after the last update.
    grads : dict
        The last gradients computed (before the last update).
    costs : list of float
        The cost at iterations 0, 100, 200, ...

    With ``num_iterations=0`` nothing is computed: ``params`` are the inputs, ``costs``
    is empty and ``grads`` holds zeros (no gradient was taken; ``propagate`` gives the
    one at the inputs).

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
    return _optimize_checked(
        wc, bf, Xc, Yc, n_iter, lr, verbose, backend=backend, dtype=dt, threads=threads
    )


def _optimize_checked(
    w: Array,
    b: float,
    X: Array,
    Y: Array,
    num_iterations: int,
    learning_rate: float,
    print_cost: bool = False,
    *,
    backend: str | None,
    dtype: str,
    threads: int | str | None,
) -> tuple[dict[str, Any], Grads, list[float]]:
    """:func:`optimize` on arguments already checked and converted: nothing is validated again.

    ``w``, ``b``, ``X`` and ``Y`` are what :func:`~vecstudy.validation._prepare` returns
    (``w`` 1-D, every array of dtype ``dtype``; ``X`` scanned for NaN and infinity
    when ``num_iterations`` is 0 or ``print_cost`` is true), ``num_iterations``,
    ``learning_rate`` and ``print_cost`` are checked (the learning rate for
    ``dtype`` too).  Used by :func:`optimize`, :func:`model` and
    :func:`vecstudy.learn.descend`, which validate once per public call.  What the
    kernel returns is checked here (a non-finite ``X`` is named, divergence raised,
    a rising cost warned of).
    """
    n_iter, lr, verbose, Xc = num_iterations, learning_rate, print_cost, X
    module, name = _kernel(backend, Xc.shape[0], Xc.shape[1], dtype, _lazy(Xc))
    _scan_w_for(name, w)
    announce_compile(name, "optimize", Xc)
    with _threads(threads, name):
        Xc = _relayout(module, Xc, n_iter)  # the copy, if any, runs on the same threads
        kernel = _watch_slow_run(module.optimize, name, Xc.shape, n_iter)
        try:
            if verbose:
                result = _optimize_printing(kernel, w, b, Xc, Y, n_iter, lr)
            else:
                result = kernel(w, b, Xc, Y, n_iter, lr, RECORD_EVERY)
        finally:
            if Xc is not X:  # the backend's own copy: its memory serves the next one
                recycle = getattr(module, "recycle", None)
                if recycle is not None:
                    recycle(Xc)
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
    if not finite:  # a non-finite w or X is named as such, not as divergence
        _raise_if_nonfinite(w.reshape(-1, 1), "w")  # indexed as the course's (n_x, 1)
        if not _lazy(X):  # the caller's X: a copy went back to the backend
            _raise_if_nonfinite(X, "X")
    _check_descent(int(done), n_iter, lr, params, grads, cost_list, dtype, RECORD_EVERY)
    _warn_if_rising(cost_list, lr, RECORD_EVERY)
    return params, grads, cost_list


_relayout_seen: set[tuple[tuple[int, ...], str, str, str]] = set()
_relayout_seen_lock = threading.Lock()


def _relayout_log(X: Array, what: str, *args: object) -> None:
    """Log a relayout decision at INFO once per shape, dtype and order, then at DEBUG.

    A loop of short ``optimize`` calls on one ``X`` would otherwise repeat the same line.
    """
    key = (X.shape, str(X.dtype), "F" if X.flags.f_contiguous else "C", what)
    with _relayout_seen_lock:
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
    return _predict_checked(wc, bf, Xc, backend=backend, dtype=dt, threads=threads)


def _predict_checked(
    w: Array,
    b: float,
    X: Array,
    *,
    backend: str | None,
    dtype: str,
    threads: int | str | None,
) -> Array:
    """:func:`predict` on arguments already checked and converted (see :func:`_optimize_checked`).

    ``X`` is not read for a check: the backend marks a sample whose ``z = w^T X + b``
    is non-finite with NaN, and only then is ``X`` scanned, to name a NaN or an
    infinity in it (:func:`~vecstudy.validation._check_labels`).  A dask backend
    checks its chunks itself.
    """
    lazy = _lazy(X)
    module, name = _kernel(backend, X.shape[0], X.shape[1], dtype, lazy)
    _scan_w_for(name, w)
    announce_compile(name, "predict", X)
    with _threads(threads, name):
        out = np.asarray(module.predict(w, b, X))
    if not lazy:
        _check_labels(out, X, w)
    return out.reshape(1, -1)


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
    n_iter = _check_int(num_iterations, "num_iterations", 0, MAX_ITERATIONS)
    lr = _check_learning_rate(learning_rate)
    verbose = _check_flag(print_cost, "print_cost")
    # validated once, converted once: the descent and both predictions reuse the arrays
    dt = str(config.resolve_dtype(dtype, Xtr.dtype).value)
    w0, _ = initialize_with_zeros(Xtr.shape[0], dtype=dt)
    wc, bf, Xtr_c, Ytr_c, _ = _converted(w0.reshape(-1), 0.0, Xtr, Ytr, dt)
    assert Ytr_c is not None
    _check_lr_for_dtype(lr, dt)
    opts: dict[str, Any] = {"backend": backend, "threads": threads}
    params, _, costs = _optimize_checked(
        wc, bf, Xtr_c, Ytr_c, n_iter, lr, verbose, dtype=dt, **opts
    )
    w_fit = params["w"].reshape(-1)
    # each set's dtype decides for its prediction, as predict(..., X) would; X_train is
    # not converted again (it has dtype dt already)
    dt_test = str(config.resolve_dtype(dtype, Xte.dtype).value)
    wt, bt, Xte_c, _, _ = _converted(w_fit, params["b"], Xte, None, dt_test)
    pred_test = _predict_checked(wt, bt, Xte_c, dtype=dt_test, **opts)
    wt, bt, Xtr_c, _, _ = _converted(w_fit, params["b"], Xtr_c, None, dt)
    pred_train = _predict_checked(wt, bt, Xtr_c, dtype=dt, **opts)
    if verbose:
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
