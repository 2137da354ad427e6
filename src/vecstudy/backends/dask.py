"""Dask backend: the same batch gradient descent on a dask.distributed cluster.

The samples are split into chunks of whole columns of ``X``, ``X[:, j0:j1]`` with
their labels, and the chunks live on the workers.  One gradient step is one task per
chunk: each runs a compiled per-chunk kernel, the numba backend's fused
``gradient_sums`` (NumPy's where Numba is not installed), on data already in the
worker's memory, and returns the small sums::

    dw_c = X_c (a_c - y_c)      (n_x,)
    db_c = sum(a_c - y_c)       float
    J_c  = sum_j log1p(exp(-|z_j|)) + max(z_j, 0) - y_j z_j      (when the cost is recorded)

Chunks add up to the whole batch, so the client adds the sums in chunk order (the
result does not depend on which worker ran what), divides by ``m`` and updates
``w -= lr * dw``, ``b -= lr * db`` exactly as the numpy backend does.  ``w`` and ``b``
travel to the tasks with each step (``n_x + 1`` numbers); ``X`` never travels again.

Data placement, once per call:

* a NumPy ``X`` is cut into chunks of ``[dask] chunk`` bytes (128 MiB by default) and
  scattered over the workers;
* a ``dask.array`` ``X`` (chunked along the samples; for instance read from Zarr) is
  persisted on the workers when it takes at most :data:`PERSIST_FRACTION` of their
  total memory limit, else it is *streamed*: every step's task per chunk reads its
  chunk from the source (Zarr, ``.npy`` files, ...), uses it and drops it, so a
  worker holds a few chunks at a time (about three: the scheduler reads ahead)
  however large ``X`` is.

Each step submits the same ``n_chunks`` tasks and releases them when their sums are
back, so the task graph does not grow with the iterations, and the scheduler's work
per step is a few milliseconds whatever the data size.  With a single chunk the
whole descent (in slices of a few hundred iterations) runs as one task on the worker
holding it.

Why one pass where dask-glm makes two: dask-glm's ``gradient_descent`` (behind
dask-ml's ``LogisticRegression(solver="gradient_descent")``) writes a step as
dask.array expressions on ``X`` with shape ``(m, n_x)``: the gradient
``X.T @ (sigmoid(X beta) - y)`` (one pass over ``X``, reusing a persisted ``X beta``),
then ``X @ grad`` for its backtracking line search, a second pass over ``X`` that
cannot start before the first one's reduction is complete, then ``persist`` and
``compute`` calls for the step size and the loss: two dependent passes over ``X`` and
several round trips through the scheduler per iteration, with graphs rebuilt from
the expressions every time.  Here the forward and backward passes are fused in one
kernel that reads each chunk once per step, and one round trip returns everything
the update needs.

Non-finite values: a dask ``X`` is never scanned up front (that would read it all),
but a NaN or infinity in it makes the sums, or ``z`` in ``predict``, non-finite.  Only
then is ``X`` scanned, one task per chunk, to tell a non-finite ``X`` (raised as
:class:`NonFiniteInputError`, naming the first such value and its index, as the
numpy path's input check does) from an overflow of finite values (left to the API,
which reports it as :class:`vecstudy.NumericalError`).

Faults: if workers die and take scattered chunks with them, the chunks are
scattered again from the client's copy and the step is repeated (persisted dask
chunks are recomputed by the scheduler from their source); after
:data:`MAX_RETRIES` failed attempts of one step the call raises
:class:`vecstudy.cluster.ClusterError`.  Ctrl-C while a step runs cancels the
step's tasks and raises ``KeyboardInterrupt`` in the client.

Which cluster: see :mod:`vecstudy.cluster` (an active client, else the
configured scheduler address, else a local cluster started once per process).
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import uuid
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

import distributed  # noqa: F401  (a missing extra must fail at load(), not at first call)
import numpy as np
from numpy.typing import NDArray

from vecstudy.cluster import (
    chunk_bytes,
    columns_per_chunk,
    get_client,
    is_dask_array,
    lazy_inputs,
)
from vecstudy.errors import ClusterError, NumericalError
from vecstudy.errors import NonFiniteInputError as NonFiniteInputError

Array = NDArray[np.floating[Any]]

#: A dask X is persisted when it takes at most this fraction of the workers' memory limit.
PERSIST_FRACTION = 0.5
#: Attempts of one step after losing data to dead workers, before giving up.
MAX_RETRIES = 3
#: A NumPy X smaller than this stays in one chunk (when it fits in one): a step over it
#: takes less than the scheduler's round trip, so splitting it over workers only adds
#: round trips; larger ones are cut into a multiple of the number of workers.
SPLIT_MIN_BYTES = 16 * 2**20
#: With a single chunk, one task runs about this many multiply-adds of descent (~0.1 s).
SLICE_WORK = 100_000_000


# --------------------------------------------------------------------------- on the workers
_kernel_module: ModuleType | None = None


def chunk_kernel() -> ModuleType:
    """The per-chunk kernel in this process: the numba backend, else the numpy backend.

    Numba runs single-threaded inside a task: the cluster's workers (one per core)
    are the parallelism.
    """
    global _kernel_module
    from vecstudy import backends

    if _kernel_module is None:
        try:
            _kernel_module = backends.load("numba")
        except ImportError:
            _kernel_module = backends.load("numpy")
    if _kernel_module.__name__.endswith(".numba") and _kernel_module.get_threads() != 1:
        _kernel_module.set_threads(1)  # numba's thread count is per calling thread
    return _kernel_module


def _part(X: Any, Y: Any) -> tuple[Array, Array | None]:
    """A chunk as the kernel takes it: C-contiguous ``X`` (n_x, c) and 1-D ``Y`` (c,)."""
    Xc = np.ascontiguousarray(X)
    return Xc, None if Y is None else np.ascontiguousarray(np.reshape(Y, (-1,)), dtype=Xc.dtype)


def _part_task(part: tuple[Any, Any]) -> tuple[Array, Array | None]:
    return _part(*part)


def _sums_task(
    part: tuple[Any, Any], w: Array, b: float, with_cost: bool
) -> tuple[Array, float, float]:
    X, Y = _part(*part)  # a no-op on placed parts; streamed ones arrive as read
    return chunk_kernel().gradient_sums(w, b, X, Y, with_cost)  # type: ignore[no-any-return]


def _optimize_task(
    part: tuple[Array, Array], w: Array, b: float, n: int, lr: float, record_every: int
) -> tuple[Array, float, Array, float, Array, int]:
    X, Y = part
    return chunk_kernel().optimize(w, b, X, Y, n, lr, record_every)  # type: ignore[no-any-return]


def _first_non_finite(X: Array) -> tuple[int, int, float] | None:
    """``(i, j, value)`` of the first NaN or infinity of a chunk, or None.

    A finite sum proves every element finite (one read, no mask); only a non-finite
    sum, which finite values can also give by overflowing, needs the elementwise test.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(X.sum()):
            return None
    bad = np.argwhere(~np.isfinite(X))
    if not bad.size:
        return None
    i, j = (int(k) for k in bad[0])
    return i, j, float(X[i, j])


def _non_finite_task(part: tuple[Any, Any]) -> tuple[int, int, float] | None:
    return _first_non_finite(_part(*part)[0])


def _predict_task(
    part: tuple[Any, None], w: Array, b: float
) -> tuple[Array, tuple[str, int, int, float] | None]:
    """Labels of a chunk, and what made ``z`` non-finite there, if it did.

    ``("X", i, j, value)``: ``X`` holds a NaN or infinity at ``(i, j)`` of the chunk;
    ``("z", count, j, 0.0)``: ``z`` overflowed for ``count`` samples, the first ``j``.
    """
    X = _part(*part)[0]
    labels = chunk_kernel().predict(w, b, X)
    with np.errstate(over="ignore", invalid="ignore"):
        z = w.astype(X.dtype, copy=False) @ X
        z += X.dtype.type(b)
    bad = np.flatnonzero(~np.isfinite(z))
    if not bad.size:
        return labels, None
    found = _first_non_finite(X)
    if found is not None:
        return labels, ("X", *found)
    return labels, ("z", int(bad.size), int(bad[0]), 0.0)


# --------------------------------------------------------------------------- on the client
def _lost_data_errors() -> tuple[type[BaseException], ...]:
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    return (FutureCancelledError, KilledWorker, CommClosedError)


def _workers(client: Any) -> dict[str, Any]:
    """The scheduler's description of every worker (address -> info)."""
    try:
        info = client.scheduler_info(n_workers=-1)  # by default only the first few are listed
    except TypeError:  # older distributed: every worker is listed
        info = client.scheduler_info()
    return dict(info["workers"])


def worker_memory(client: Any) -> float:
    """Total memory limit of the client's workers in bytes (``inf`` when unlimited)."""
    limits = [w.get("memory_limit") or 0 for w in _workers(client).values()]
    if not limits or any(limit <= 0 for limit in limits):
        return math.inf
    return float(sum(limits))


class Chunks:
    """The samples of one call, placed on the cluster; the context manager releases them.

    Parameters
    ----------
    X : (n_x, m) ndarray or dask array
    Y : (m,) ndarray or dask array, or None (predict)
    persist : bool, optional
        For a dask ``X``: keep its chunks in the workers' memory (True) or read them
        from the source at every step (False).  Default: persist when ``X`` takes at
        most :data:`PERSIST_FRACTION` of the workers' total memory limit.  A NumPy
        ``X`` is always scattered.
    chunk : int or str, optional
        Bytes per chunk of a NumPy ``X`` (default: the ``[dask] chunk`` setting).
    """

    def __init__(
        self, X: Any, Y: Any, *, persist: bool | None = None, chunk: object = None
    ) -> None:
        self.client, self.where = get_client()
        self.n_x, self.m = int(X.shape[0]), int(X.shape[1])
        self.dtype = np.dtype(X.dtype)
        self._numpy: tuple[Array, Array | None] | None = None
        self._sources: list[Any] = []
        self.parts: list[Any] = []
        if is_dask_array(X) or is_dask_array(Y):
            from dask.base import optimize

            Xd, Yd = lazy_inputs(X, Y, self.dtype.name)
            # The low-level graph that reads each chunk, built once: a step then only
            # adds one task per chunk (building it from the arrays costs ~10 ms a chunk).
            if Yd is None:
                (Xd,) = optimize(Xd)
                ykeys: list[Any] = [None] * Xd.numblocks[1]
            else:
                Xd, Yd = optimize(Xd, Yd)
                ykeys = list(Yd.__dask_keys__())
            self._graph = dict(Xd.__dask_graph__())
            if Yd is not None:
                self._graph.update(Yd.__dask_graph__())
            self._sources = list(zip(Xd.__dask_keys__()[0], ykeys, strict=True))
            if persist is None:
                persist = Xd.nbytes <= PERSIST_FRACTION * worker_memory(self.client)
            self.streamed = not persist
            self.n_chunks = len(self._sources)
            self.starts = [0, *np.cumsum(Xd.chunks[1][:-1]).tolist()]
        else:
            self._numpy = (X, Y)
            workers = len(_workers(self.client)) if X.nbytes >= SPLIT_MIN_BYTES else 1
            self.cols = columns_per_chunk(
                self.n_x, self.dtype.itemsize, chunk_bytes(chunk), self.m, max(1, workers)
            )
            self.streamed = False
            self.n_chunks = -(-self.m // self.cols)
            self.starts = list(range(0, self.m, self.cols))
        self._place()

    def _place(self) -> None:
        """Put the chunks on the workers (scatter or persist); nothing to do when streamed."""
        if self.streamed:
            return
        if self._numpy is None:
            self.parts = self._submit(_part_task, ())
            return
        X, Y = self._numpy
        n_workers = max(1, len(_workers(self.client)))
        self.parts = []
        starts = list(range(0, self.m, self.cols))
        for i in range(0, len(starts), n_workers):  # a few chunks at a time: bounded copies
            batch = [
                _part(X[:, j0 : j0 + self.cols], None if Y is None else Y[j0 : j0 + self.cols])
                for j0 in starts[i : i + n_workers]
            ]
            self.parts.extend(self.client.scatter(batch, hash=False))

    def release(self) -> None:
        """Drop the chunks from the workers."""
        parts, self.parts = self.parts, []
        if parts:
            with contextlib.suppress(Exception):  # a closed client has nothing to release
                self.client.cancel(parts)

    def __enter__(self) -> Chunks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @property
    def single(self) -> bool:
        """One persisted chunk: the whole descent can run as one task where it lives."""
        return self.n_chunks == 1 and not self.streamed

    def run(self, fn: Any, *args: Any) -> list[Any]:
        """``fn(part, *args)`` for every chunk, as one task each; results in chunk order.

        Repeats the step (after placing the data again) when workers died with it.
        """
        errors = _lost_data_errors()
        for attempt in range(MAX_RETRIES + 1):
            futures: Sequence[Any] = []
            try:
                if self.streamed:  # the tasks that read the chunks go along
                    futures = self._submit(fn, args)
                else:
                    n = len(self.parts)
                    futures = self.client.map(fn, self.parts, *([a] * n for a in args), pure=False)
                return list(self.client.gather(futures))
            except errors as exc:
                if attempt == MAX_RETRIES:
                    raise ClusterError(
                        f"the Dask cluster ({self.where}) failed {attempt + 1} times in a row "
                        f"in one step ({type(exc).__name__}: {exc}); is it losing workers?"
                    ) from exc
                self.release()
                self._place()
            finally:
                pending = [f for f in futures if not f.done()]
                if pending:  # interrupted, or failed: nothing left running
                    with contextlib.suppress(Exception):
                        self.client.cancel(pending)
        raise AssertionError("unreachable")  # pragma: no cover

    def _submit(self, fn: Any, args: tuple[Any, ...]) -> list[Any]:
        """Futures of ``fn((X_c, Y_c), *args)`` over the chunk-reading graph, one per chunk."""
        token = uuid.uuid4().hex
        dsk = dict(self._graph)
        keys = []
        for k, (xk, yk) in enumerate(self._sources):
            key = (f"vecstudy-{fn.__name__.strip('_')}-{token}", k)
            dsk[key] = (fn, (tuple, [xk, yk]), *args)
            keys.append(key)
        return list(self.client.get(dsk, keys, sync=False))

    def sums(self, w: Array, b: float, with_cost: bool) -> tuple[Array, float, float]:
        """Gradient sums over all chunks (added in chunk order).

        Raises :class:`NonFiniteInputError` when they come out non-finite because ``X``
        holds a NaN or infinity; an overflow of finite values is the caller's to see.
        """
        results = self.run(_sums_task, w, b, with_cost)
        dw = np.array(results[0][0], dtype=self.dtype)
        db, cost = float(results[0][1]), float(results[0][2])
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is the caller's to see
            for r in results[1:]:
                dw += r[0]
                db += float(r[1])
                cost += float(r[2])
        if not (math.isfinite(db) and np.isfinite(dw).all() and math.isfinite(cost)):
            self.check_finite()
        return dw, db, cost

    def first_non_finite(self) -> tuple[tuple[int, int], float] | None:
        """Index in ``X`` and value of its first NaN or infinity (one task per chunk)."""
        for start, found in zip(self.starts, self.run(_non_finite_task), strict=True):
            if found is not None:
                i, j, value = found
                return (i, start + j), value
        return None

    def check_finite(self) -> None:
        """Raise :class:`NonFiniteInputError` if ``X`` holds a NaN or infinity."""
        found = self.first_non_finite()
        if found is not None:
            self.raise_non_finite(*found)

    def raise_non_finite(self, index: tuple[int, int], value: float) -> None:
        """Raise :class:`NonFiniteInputError` for ``value`` at ``index`` of ``X``."""
        raise NonFiniteInputError(f"X must be finite; found {value} at index {index}")


@contextlib.contextmanager
def placed(X: Any, Y: Any, **options: Any) -> Iterator[Chunks]:
    """``with placed(X, Y) as data:`` the chunks on the cluster, released at the end."""
    data = Chunks(X, Y, **options)
    try:
        yield data
    finally:
        data.release()


# --------------------------------------------------------------------------- kernel interface
def sigmoid(z: Array) -> Array:
    """Elementwise stable sigmoid, computed here (the data are already in this process)."""
    return chunk_kernel().sigmoid(z)  # type: ignore[no-any-return]


def sigmoid_derivative(x: Array) -> Array:
    """Elementwise ``s (1 - s)`` with ``s = sigmoid(x)``, computed here."""
    return chunk_kernel().sigmoid_derivative(x)  # type: ignore[no-any-return]


def gradient_sums(
    w: Array, b: float, X: Any, Y: Any, with_cost: bool
) -> tuple[Array, float, float]:
    """Sums over the samples of ``X``, one task per chunk; see :mod:`vecstudy.backends`."""
    with placed(X, Y, persist=False) as data:
        return data.sums(w, b, with_cost)


def propagate(w: Array, b: float, X: Any, Y: Any) -> tuple[Array, float, float]:
    """Mean gradients and cost of one batch: ``(X (a - y)/m, mean(a - y), mean(cost_j))``."""
    m = X.shape[1]
    dw, db, cost = gradient_sums(w, b, X, Y, True)
    dw /= dw.dtype.type(m)
    return dw, db / m, cost / m


def optimize(
    w: Array,
    b: float,
    X: Any,
    Y: Any,
    num_iterations: int,
    learning_rate: float,
    record_every: int,
) -> tuple[Array, float, Array, float, Array, int]:
    """Batch gradient descent; see :mod:`vecstudy.backends` for the contract.

    Data are placed on the workers once (see the module docstring), then each
    iteration is one task per chunk and one update here.  Stops early, returning
    ``done < num_iterations`` and the last finite parameters, when the gradient or an
    update comes out non-finite.
    """
    with placed(X, Y) as data:
        return descend(data, w, b, num_iterations, learning_rate, record_every)


class _Interrupts:
    """Ctrl-C during a descent, noticed between steps and never lost.

    A KeyboardInterrupt raised by Python's default handler lands at whatever bytecode
    the main thread runs next; while a step waits on the cluster that is often a
    finalizer of a released future, where the exception is reported and dropped, and
    the descent would go on.  In the main thread the descent therefore installs a
    handler that only records the first Ctrl-C (the loop raises KeyboardInterrupt
    before its next step, at most one step later, about 0.1 s) and lets a second
    Ctrl-C raise at once.  The previous handler is restored afterwards.
    """

    def __init__(self) -> None:
        self.pending = False
        self._previous: Any = None
        self._installed = False

    def _handler(self, signum: int, frame: Any) -> None:
        if self.pending:
            raise KeyboardInterrupt
        self.pending = True

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            with contextlib.suppress(ValueError, TypeError):
                self._previous = signal.signal(signal.SIGINT, self._handler)
                self._installed = True
        return self

    def check(self) -> None:
        """Raise KeyboardInterrupt if Ctrl-C came since the last step."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
        self.check()


def descend(
    data: Chunks, w: Array, b: float, num_iterations: int, learning_rate: float, record_every: int
) -> tuple[Array, float, Array, float, Array, int]:
    """The descent over chunks already placed (``optimize`` without the placement)."""
    with _Interrupts() as interrupts:
        if data.single:
            return _descend_in_one_task(
                data, w, b, num_iterations, learning_rate, record_every, interrupts
            )
        return _descend_steps(data, w, b, num_iterations, learning_rate, record_every, interrupts)


def _descend_steps(
    data: Chunks,
    w: Array,
    b: float,
    num_iterations: int,
    learning_rate: float,
    record_every: int,
    interrupts: _Interrupts,
) -> tuple[Array, float, Array, float, Array, int]:
    """One task per chunk per step; the client adds the sums and updates ``w, b``."""
    dtype = data.dtype.type
    m = data.m
    inv_m = dtype(1.0) / dtype(m)
    lr = dtype(learning_rate)
    w = np.array(w, dtype=data.dtype)
    bb = dtype(b)
    dw = np.zeros_like(w)
    db = dtype(0.0)
    costs: list[float] = []
    for k in range(num_iterations):
        interrupts.check()
        record = k % record_every == 0
        dw_sum, db_sum, cost_sum = data.sums(w, float(bb), record)
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite values checked below
            dw = dw_sum * inv_m
            db = dtype(db_sum) * inv_m
            if record:
                costs.append(cost_sum / m)
            if not (np.isfinite(db) and np.isfinite(dw).all()):
                return w, float(bb), dw, float(db), np.asarray(costs, dtype=data.dtype), k
            new_w = w - lr * dw
            new_b = bb - lr * db
        if not (np.isfinite(new_b) and np.isfinite(new_w).all()):
            return w, float(bb), dw, float(db), np.asarray(costs, dtype=data.dtype), k
        w, bb = new_w, new_b
    return w, float(bb), dw, float(db), np.asarray(costs, dtype=data.dtype), num_iterations


def _descend_in_one_task(
    data: Chunks,
    w: Array,
    b: float,
    num_iterations: int,
    learning_rate: float,
    record_every: int,
    interrupts: _Interrupts,
) -> tuple[Array, float, Array, float, Array, int]:
    """One chunk: the chunk kernel's own descent on its worker, in interruptible slices.

    Slices are whole multiples of ``record_every`` so that costs are recorded at the
    same iterations as in one call.
    """
    per_slice = max(1, SLICE_WORK // max(1, data.n_x * data.m * record_every)) * record_every
    w = np.array(w, dtype=data.dtype)
    dw = np.zeros_like(w)
    db = 0.0
    costs: list[Array] = []
    done = 0
    while done < num_iterations:
        interrupts.check()
        n = min(per_slice, num_iterations - done)
        (result,) = data.run(_optimize_task, w, b, n, learning_rate, record_every)
        w, b, dw, db, c, did = result
        costs.append(np.asarray(c, dtype=data.dtype))
        done += int(did)
        if did < n:  # non-finite gradient or update: is X to blame?
            data.check_finite()
            break
    all_costs = np.concatenate(costs) if costs else np.zeros(0, dtype=data.dtype)
    return np.asarray(w), float(b), np.asarray(dw), float(db), all_costs, done


def predict(w: Array, b: float, X: Any) -> Array:
    """1.0 where ``sigmoid(w @ X + b) > 0.5``, else 0.0; one task per chunk.

    Raises :class:`NonFiniteInputError` when ``X`` holds a NaN or infinity, and
    :class:`vecstudy.NumericalError` when ``z = w^T X + b`` overflows for some sample
    (its label would be meaningless), as the numpy path does.
    """
    with placed(X, None, persist=False) as data:
        results = data.run(_predict_task, w, b)
        overflowed = 0
        first = -1
        for start, (_, problem) in zip(data.starts, results, strict=True):
            if problem is None:
                continue
            kind, a, j, value = problem
            if kind == "X":
                data.raise_non_finite((a, start + j), value)
            if first < 0:
                first = start + j
            overflowed += a
        if overflowed:
            raise NumericalError(
                f"z = w^T X + b overflowed (came out non-finite in {data.dtype}) for "
                f"{overflowed} of {data.m} samples (the first is sample {first}); a "
                "prediction from it would be meaningless; scale X (standardize its "
                "features) or start from smaller w and b"
            )
        return np.concatenate([labels for labels, _ in results])
