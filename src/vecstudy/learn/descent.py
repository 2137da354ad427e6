"""Batch gradient descent from zero weights, for the estimator and ``vecstudy train``.

:func:`descend` runs the course's ``optimize`` through the API's checked entry
(:func:`vecstudy.api._optimize_checked`): ``X`` and ``y`` are validated and
converted once for the whole descent, then run in as few calls of the backend's
loop as the recording interval and a progress callback allow.

Conventions
-----------
``XT`` is ``(n_x, m)``, one column per sample (the transpose of a scikit-learn
``X``); ``y`` holds the labels 0 and 1, one per sample.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from vecstudy import api, backends, config
from vecstudy.cluster import is_dask_array
from vecstudy.errors import DivergenceError
from vecstudy.validation import (
    MAX_ITERATIONS,
    _check_int,
    _check_learning_rate,
    _check_lr_for_dtype,
    _check_X,
    _check_Y,
    _converted,
)

Array = NDArray[np.floating[Any]]


@dataclass(frozen=True)
class Descent:
    """The result of :func:`descend`.

    Attributes
    ----------
    w : ndarray, shape (n_features,)
    b : float
    costs : ndarray, shape (ceil(n_iter / record_every),)
        The cost before the updates number 0, record_every, 2 * record_every, ...
    n_iter : int
        Updates applied.
    seconds : float
        Wall time of the descent (the backend's first-call compilation included,
        if any: warm it up first to time the descent alone).
    dtype : str
    backend : str
        The backend that ran (``"auto"`` resolved).
    """

    w: Array
    b: float
    costs: Array
    n_iter: int
    seconds: float
    dtype: str
    backend: str


def resolve_backend_name(backend: str | None, n_x: int, m: int, dtype: str) -> str:
    """The backend a call with ``backend`` runs on: the argument, else the config.

    ``"auto"`` is resolved by the problem's shape, by the API's own rule
    (:func:`vecstudy.api._backend_name`).
    """
    return api._backend_name(backend, n_x, m, dtype)


#: With a progress callback, :func:`descend` sizes its slices to take about this long,
#: from the speed it measures (a slice is one iteration at the least).
PROGRESS_SECONDS: Final = 1.0
#: The clock :func:`descend` sizes its slices by (tests replace it).
_clock: Callable[[], float] = time.perf_counter


def descend(
    XT: Any,
    y: Any,
    *,
    max_iter: int,
    learning_rate: float,
    record_every: int = api.RECORD_EVERY,
    backend: str | None = None,
    dtype: str | None = None,
    threads: int | str | None = None,
    progress: Callable[[int], object] | None = None,
) -> Descent:
    """Batch gradient descent from zero weights, as :func:`vecstudy.optimize` runs it.

    Runs ``max_iter`` updates ``w -= learning_rate * dw``, ``b -= learning_rate * db``
    and records the cost before updates 0, ``record_every``, ``2 * record_every``,
    ...  ``XT`` and ``y`` are validated and converted to the working dtype once;
    each call of the API's checked entry then runs one compiled loop (numba
    backend).  Without ``progress``, when ``record_every`` is a multiple of 100 (the
    API's recording interval) the whole descent is one call, otherwise one call per
    record.  With ``progress``, the descent runs in slices sized from the speed
    measured on the ones before to take about :data:`PROGRESS_SECONDS` each (the
    first slice is one iteration), so that a progress bar moves at least every
    second or two whatever the backend; a slice never runs past a record it would
    not record.  Where the backend gains by it, ``X`` is copied into its preferred
    layout once for the whole run (the log line says the whole run's iterations).

    Parameters
    ----------
    XT : array, shape (n_x, m)
        Features, one column per sample (the transpose of a scikit-learn ``X``).
    y : array, shape (m,)
        Labels 0 and 1.
    max_iter, learning_rate, record_every
        As in the course's ``optimize`` (``num_iterations``, ``learning_rate``; the
        course records every 100 iterations).
    backend, dtype, threads
        As in :func:`vecstudy.optimize`; ``None`` lets the config decide.
    progress : callable, optional
        Called with the number of iterations of each slice, after it ran.

    Raises
    ------
    vecstudy.DivergenceError
        If an update would make the parameters non-finite; ``iteration`` counts
        from the start of the descent and ``costs`` holds every recorded cost.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
    >>> d = descend(X, np.array([1.0, 0.0, 1.0]), max_iter=100, learning_rate=0.009,
    ...             backend="numpy")
    >>> d.n_iter, d.costs.shape
    (100, (1,))
    """
    n_iter = _check_int(max_iter, "max_iter", 1, MAX_ITERATIONS)
    every = _check_int(record_every, "record_every", 1, MAX_ITERATIONS)
    lr = _check_learning_rate(learning_rate)
    return _descend(
        XT, y, n_iter, every, lr, backend=backend, dtype=dtype, threads=threads, progress=progress
    )


def _descend(
    XT: Any,
    y: Any,
    n_iter: int,
    every: int,
    lr: float,
    *,
    backend: str | None,
    dtype: str | None,
    threads: int | str | None,
    progress: Callable[[int], object] | None = None,
) -> Descent:
    """:func:`descend` with ``max_iter``, ``record_every`` and ``learning_rate`` checked.

    ``XT`` and ``y`` are validated and converted here, once for every call of the
    descent (the estimator checks its parameters itself, before its data).
    """
    with config.one_lookup():
        Xa = _check_X(XT, finite=False)  # a NaN in X shows in the descent's outputs
        n_x, m = Xa.shape
        ya = _check_Y(y, m, x_shape=Xa.shape)
        dt = str(config.resolve_dtype(dtype, Xa.dtype).value)
        name = api._backend_name(backend, n_x, m, dt, is_dask_array(Xa))  # a dask X: backend dask
        w, b, Xc, yc, _ = _converted(np.zeros(n_x, dtype=dt), 0.0, Xa, ya, dt)
        assert yc is not None
        _check_lr_for_dtype(lr, dt)
        Xc = _laid_out(Xc, name, n_iter, threads)
        return _run(w, b, Xc, yc, n_iter, every, lr, name, dt, threads, progress)


def _run(
    w: Array,
    b: float,
    Xc: Array,
    yc: Array,
    n_iter: int,
    every: int,
    lr: float,
    name: str,
    dt: str,
    threads: int | str | None,
    progress: Callable[[int], object] | None,
) -> Descent:
    """The calls of the descent on checked, converted arrays (see :func:`descend`)."""
    # The API records the cost every RECORD_EVERY iterations of a call, from the
    # call's first.  When record_every is a multiple of that, a call that starts on a
    # record may span many records; any other call ends on the next record at the
    # latest, and keeps the cost of its start only if that is a record.
    stride = every // api.RECORD_EVERY if every % api.RECORD_EVERY == 0 else 0
    costs: list[float] = []
    done = 0
    want = 1  # the next slice's length, with progress
    start = time.perf_counter()
    watch = contextlib.nullcontext() if progress is None else api._no_slow_run_check()
    with watch:
        while done < n_iter:
            on_record = done % every == 0
            to_record = every - done % every  # iterations up to the next record
            if progress is None:
                chunk = n_iter - done if stride else every
            else:
                chunk = want if stride and on_record else min(want, to_record)
            chunk = min(chunk, n_iter - done)
            began = _clock()
            try:
                params, _, recorded = api._optimize_checked(
                    w, b, Xc, yc, chunk, lr, backend=name, dtype=dt, threads=threads
                )
            except DivergenceError as exc:
                kept = _kept(exc.costs, on_record, stride)
                raise DivergenceError(
                    f"gradient descent diverged at iteration {done + exc.iteration} "
                    f"(backend {name!r}): the update would make w or b non-finite; "
                    f"learning_rate={lr!r} is too large for this data (standardize the "
                    "features, or try a smaller learning rate)",
                    iteration=done + exc.iteration,
                    params=exc.params,
                    grads=exc.grads,
                    costs=[*costs, *kept],
                ) from None
            took = _clock() - began
            costs.extend(_kept(recorded, on_record, stride))
            w, b = np.ascontiguousarray(np.reshape(params["w"], -1), dtype=dt), params["b"]
            done += chunk
            if progress is not None:
                progress(chunk)
                fits = int(chunk * PROGRESS_SECONDS / took) if took > 0 else 10 * want
                want = max(1, min(fits, 10 * want))
    seconds = time.perf_counter() - start
    return Descent(
        w=np.asarray(w).reshape(-1),
        b=float(b),
        costs=np.asarray(costs, dtype=dt),
        n_iter=done,
        seconds=seconds,
        dtype=dt,
        backend=name,
    )


def _kept(recorded: Sequence[float], on_record: bool, stride: int) -> list[float]:
    """The costs of a call that are records: see :func:`descend`."""
    if not on_record:
        return []
    return list(recorded[::stride] if stride else recorded[:1])


def _laid_out(Xc: Array, name: str, n_iter: int, threads: Any) -> Array:
    """``Xc`` in the layout backend ``name`` prefers for ``n_iter`` iterations.

    Done once for a run that :func:`descend` makes in several calls (each call would
    otherwise copy for only its own iterations).
    """
    if is_dask_array(Xc):
        return Xc
    try:
        module = backends.load(name)
    except ImportError:
        return Xc  # the API's call says so
    with api._threads(threads, name):
        return api._relayout(module, Xc, n_iter)
