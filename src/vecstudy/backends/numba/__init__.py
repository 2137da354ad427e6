"""Numba backend: one fused, cache-blocked, parallel pass over ``X`` per gradient step.

The same loops as :mod:`vecstudy.backends.python`, compiled, and arranged so that one
step reads ``X`` from memory once where the layout allows it (the NumPy backend reads
it twice: ``w @ X`` then ``X @ (a - y)``).

Algorithm
---------
:func:`plan` picks one of four walks over ``X`` from its shape, dtype, order and the
cache sizes the OS reports (:func:`vecstudy.runtime.caches.cache_sizes`):

*fused C* (C-ordered ``X``, up to ~850 features on a 1.25 MiB L2): the samples are
cut into tiles of ``B`` columns (128 to 1024) that stay in L2.  For the tile ``j0 <= j
< j1``::

    z_j    = b + sum_i w_i X_ij          forward: eight rows at a time, each over a
                                          contiguous segment X[i, j0:j1] (vectorized)
    e_j    = exp(-|z_j|)                  never overflows
    a_j    = 1 / (1 + e_j)  if z_j >= 0 else e_j / (1 + e_j)
    d_j    = a_j - y_j + 0 * z_j          NaN where z_j is not finite
    dW_ki += sum_j X_ij d_j               backward: dot products, four rows at a time,
                                          re-reading the tile from cache
    db_k  += sum_j d_j
    c_k   += sum_j log1p(e_j) + max(z_j, 0) - y_j z_j   (only when the cost is wanted)

*sample-major F* (F-ordered ``X``, used as it is, without a copy): each sample is a
contiguous column; four samples at a time, ``z_j`` is a dot product with ``w`` and the
backward pass an axpy into ``dW_k``, re-reading the samples from L1 (or L2 for very
wide ``X``).  Samples of 384 bytes to 4 KiB take their forward dot products one sample
after the other (*sample-major F, one by one*): ``X`` then streams from memory in one
sequential run, which the hardware prefetcher follows better than four samples side by
side.

*split C* (C-ordered ``X`` too wide for a tile of 1 KiB per row to stay in L2, or too
few samples to share among threads): two passes by panels of rows, both parallel over
features and eight rows at a time: partial ``z`` per panel, added in panel order, then
``dw_i = X_i . d`` per row.  A descent makes one pass per iteration instead: each group
of eight rows goes through one iteration's backward pass and the next iteration's
forward while it is in the cache (:func:`_fuses`).

Tiles are grouped in chunks; chunks run in parallel (``prange``), each writing only its
own row ``dW[k]`` of a ``(n_chunks, n_x)`` array of partial sums, which are then added
in chunk order.  The decomposition depends on the shape, dtype, order and caches only,
never on the thread count, and the serial path (used for small problems, where starting
threads costs more than it saves) walks the same chunks in the same order, so results
are bitwise identical for any thread count and on every run.

``optimize`` runs the whole descent compiled, in slices of about 30 ms between which
Python sees Ctrl-C, each slice serial or parallel, whichever is faster per iteration
now (:mod:`~vecstudy.backends.numba.adaptive`: a descent does not wait for a core that
another program took); ``vecstudy.optimize`` may first copy ``X`` once into the faster
layout for its shape (:func:`relayout_order`).

``exp`` and ``log1p`` are written in plain arithmetic (range reduction, polynomial,
``2**n`` by building the exponent bits) so that the loops vectorize without SVML;
over the range used here ``exp`` (of ``x <= 0``) is within 1 ulp, ``log1p`` (of ``0 <=
e <= 1``) within 2.  Everything stays in the dtype of ``X``: float32 inputs are
computed in float32 (constants come from the dtype), about twice as fast as float64.

Fast-math flags are ``reassoc, contract, arcp, nsz, afn`` (never ``nnan``/``ninf``, so
non-finite values stay detectable).  Every function is compiled lazily, on first use
for each dtype, and cached on disk (``cache=True, error_model="numpy"``); where no cache
directory is writable they compile without one (:class:`NumbaCacheWarning`), and with
``NUMBA_DISABLE_JIT=1`` they run as plain Python.  Each ``parallel=True`` kernel is
called from Python only, never from another cached kernel (see
:func:`vecstudy.backends.numba.jit._jit`): the step and the descent are inline helpers
compiled into a serial and a parallel kernel each.

Modules
-------
This module is the backend's contract (the kernel functions of :mod:`vecstudy.backends`,
threads, probes); the rest lives beside it, the lower ones first:

- :mod:`~vecstudy.backends.numba.jit`: the ``_jit`` decorator, fast-math flags, the
  disk-cache fallback;
- :mod:`~vecstudy.backends.numba._math`: ``exp`` and ``log1p`` in plain arithmetic;
- :mod:`~vecstudy.backends.numba.planning`: :class:`Plan`, the cache model
  (:func:`vecstudy.backends.numba.planning.plan`), its constants, :func:`relayout_order`;
- :mod:`~vecstudy.backends.numba.kernels`: the compiled step, descent, ``predict`` and
  ``read_sum`` kernels;
- :mod:`~vecstudy.backends.numba.transpose`: :func:`relayout`, the cache-blocked copy;
- :mod:`~vecstudy.backends.numba.micro`: the course's micro-studies, compiled;
- :mod:`~vecstudy.backends.numba.wisdom`: the plans measured on this machine, stored
  (the wisdom file, lookup);
- :mod:`~vecstudy.backends.numba.tuning`: measuring them (``vecstudy tune``, first-use
  tuning).

:func:`plan` (here) picks the plan of each call: a measured one first
(:func:`vecstudy.backends.numba.tuning.planned`), else the cache model.

The measurements behind the plan's rules are on the design page
``docs/design/numba-plan.md``.

Conventions
-----------
``w`` : (n_x,) ; ``b`` : Python float ; ``X`` : (n_x, m) C- or F-contiguous ;
``Y`` : (m,) ; all arrays one dtype, float32 or float64.  See :mod:`vecstudy.backends`.
"""

# Numba internals are untyped (numba.config attributes):
# mypy: disable-error-code="attr-defined"

from __future__ import annotations

import time
from typing import Any, Final

import numba
import numpy as np
from numpy.typing import NDArray

# The kernels are re-exported under their own names: the test that no kernel calls a
# parallel one looks them up here, and callers (tuning, benchmarks) use some of them.
from vecstudy.backends.numba._math import _exp_nonpos as _exp_nonpos
from vecstudy.backends.numba._math import _exp_nonpos_32 as _exp_nonpos_32
from vecstudy.backends.numba._math import _exp_nonpos_64 as _exp_nonpos_64
from vecstudy.backends.numba._math import _log1p_unit as _log1p_unit
from vecstudy.backends.numba._math import _log1p_unit_32 as _log1p_unit_32
from vecstudy.backends.numba._math import _log1p_unit_64 as _log1p_unit_64
from vecstudy.backends.numba.adaptive import SliceChooser
from vecstudy.backends.numba.jit import FASTMATH as FASTMATH
from vecstudy.backends.numba.jit import JIT_DISABLED as JIT_DISABLED
from vecstudy.backends.numba.jit import NumbaCacheWarning as NumbaCacheWarning
from vecstudy.backends.numba.kernels import _READ_BLOCK
from vecstudy.backends.numba.kernels import _block as _block
from vecstudy.backends.numba.kernels import _block_sm as _block_sm
from vecstudy.backends.numba.kernels import _chunk as _chunk
from vecstudy.backends.numba.kernels import _descend_body as _descend_body
from vecstudy.backends.numba.kernels import _descend_parallel as _descend_parallel
from vecstudy.backends.numba.kernels import _descend_serial as _descend_serial
from vecstudy.backends.numba.kernels import _link as _link
from vecstudy.backends.numba.kernels import _panel_backward as _panel_backward
from vecstudy.backends.numba.kernels import _panel_forward as _panel_forward
from vecstudy.backends.numba.kernels import _predict as _predict
from vecstudy.backends.numba.kernels import _read_sum as _read_sum
from vecstudy.backends.numba.kernels import _sigmoid_flat as _sigmoid_flat
from vecstudy.backends.numba.kernels import _sum_range as _sum_range
from vecstudy.backends.numba.kernels import _sums_body as _sums_body
from vecstudy.backends.numba.kernels import _sums_parallel as _sums_parallel
from vecstudy.backends.numba.kernels import _sums_serial as _sums_serial
from vecstudy.backends.numba.micro import _add_row_loop as _add_row_loop
from vecstudy.backends.numba.micro import _dot_loop as _dot_loop
from vecstudy.backends.numba.micro import _exp_loop as _exp_loop
from vecstudy.backends.numba.micro import _percent_loop as _percent_loop
from vecstudy.backends.numba.micro import add_row_loop as add_row_loop
from vecstudy.backends.numba.micro import dot_loop as dot_loop
from vecstudy.backends.numba.micro import exp_loop as exp_loop
from vecstudy.backends.numba.micro import percent_loop as percent_loop
from vecstudy.backends.numba.planning import B_L2_MIN_BYTES as B_L2_MIN_BYTES
from vecstudy.backends.numba.planning import B_MAX as B_MAX
from vecstudy.backends.numba.planning import B_MIN as B_MIN
from vecstudy.backends.numba.planning import CHUNK_MIN_SAMPLES as CHUNK_MIN_SAMPLES
from vecstudy.backends.numba.planning import FUSE_ROWS as FUSE_ROWS
from vecstudy.backends.numba.planning import FUSED as FUSED
from vecstudy.backends.numba.planning import MAX_CHUNKS as MAX_CHUNKS
from vecstudy.backends.numba.planning import MODE_NAMES as MODE_NAMES
from vecstudy.backends.numba.planning import PARALLEL_MIN_ELEMENTS as PARALLEL_MIN_ELEMENTS
from vecstudy.backends.numba.planning import (
    RELAYOUT_MIN_ITERATIONS as RELAYOUT_MIN_ITERATIONS,
)
from vecstudy.backends.numba.planning import (
    RELAYOUT_MIN_ITERATIONS_SMALL_GAIN as RELAYOUT_MIN_ITERATIONS_SMALL_GAIN,
)
from vecstudy.backends.numba.planning import SAMPLE as SAMPLE
from vecstudy.backends.numba.planning import SAMPLE_MAJOR_MIN_BYTES as SAMPLE_MAJOR_MIN_BYTES
from vecstudy.backends.numba.planning import SAMPLE_SEQ as SAMPLE_SEQ
from vecstudy.backends.numba.planning import SPLIT as SPLIT
from vecstudy.backends.numba.planning import STREAM_SEGMENT_BYTES as STREAM_SEGMENT_BYTES
from vecstudy.backends.numba.planning import Plan as Plan
from vecstudy.backends.numba.planning import _layout as _layout
from vecstudy.backends.numba.planning import _prepare as _prepare_plan
from vecstudy.backends.numba.planning import describe_plan
from vecstudy.backends.numba.planning import fuses as _fuses_mode
from vecstudy.backends.numba.planning import plan as _model_plan
from vecstudy.backends.numba.planning import relayout_order as _relayout_order
from vecstudy.backends.numba.transpose import _transpose as _transpose
from vecstudy.backends.numba.transpose import recycle as recycle
from vecstudy.backends.numba.transpose import relayout as relayout
from vecstudy.backends.numba.tuning import planned as _planned
from vecstudy.backends.numba.wisdom import relayout_after as _relayout_after
from vecstudy.backends.numba.wisdom import settings as _tune_setting

Array = NDArray[np.floating[Any]]


def plan(
    n_x: int,
    m: int,
    itemsize: int,
    order: str = "C",
    caches: Any = None,
    threads: int | None = None,
    kind: str = "step",
) -> Plan:
    """The walk over ``X`` a step of this shape, dtype and order follows.

    With ``caches=None`` (this machine), a plan measured here by ``vecstudy tune`` for a
    shape near ``(n_x, m)`` comes first (:func:`vecstudy.backends.numba.tuning.planned`;
    not with the ``[numba] tune`` setting ``"off"``): its tiles and chunks do not depend
    on the thread count either, only its ``parallel`` flag.  Otherwise, and with
    explicit ``caches``, the cache model :func:`vecstudy.backends.numba.planning.plan`.
    ``threads``: Numba's thread count now, when the caller has it (a measured plan is
    looked up at it; else it is asked for).  ``kind="descent"``: the walk of an
    iteration of ``optimize``, measured for descents where ``vecstudy tune`` did.

    >>> from vecstudy.runtime.caches import CacheSizes
    >>> c = CacheSizes(48 << 10, 1280 << 10, 24 << 20, "example")
    >>> plan(20, 10000, 8, "C", c)
    Plan(mode=0, B=1024, T=1, n_chunks=10, P=0, parallel=True)
    """
    if caches is None:
        tuned = _planned(n_x, m, itemsize, order, threads, kind)
        if tuned is not None:
            return tuned
    return _model_plan(n_x, m, itemsize, order, caches, kind)


def _prepare(
    X: Array, pl: Plan | None = None, kind: str = "step"
) -> tuple[Array, tuple[int, ...], tuple[Array, ...]]:
    """``(Xs, plan as ints, scratch arrays)`` for one step or descent over ``X``, by
    ``pl`` or else :func:`plan` for ``kind`` (see
    :func:`vecstudy.backends.numba.planning._prepare`)."""
    threads = int(numba.get_num_threads())  # asked once: it costs about a microsecond
    if pl is None:
        n_x, m = X.shape
        pl = plan(n_x, m, X.dtype.itemsize, _layout(X)[1], threads=threads, kind=kind)
    return _prepare_plan(X, pl, threads)


def block_size(n_x: int, itemsize: int) -> int:
    """Samples per tile of the fused C path (``plan(n_x, B_MAX, itemsize).B``).

    >>> block_size(100, 8) in range(B_MIN, B_MAX + 1)
    True
    """
    return plan(n_x, B_MAX, itemsize).B or B_MIN


def describe(X: Array) -> str:
    """How a step walks over ``X``: layout, tile and chunk sizes (for logs and benchmarks).

    >>> import numpy as np
    >>> describe(np.zeros((4, 100))).split(":")[0]
    'fused C'
    """
    n_x, m = X.shape
    return describe_plan(plan(n_x, m, X.dtype.itemsize, _layout(X)[1]))


def _elementwise(z: Array, derivative: bool) -> Array:
    z = np.asarray(z)
    if z.dtype not in (np.float32, np.float64):
        z = z.astype(np.float64)
    flat = np.ascontiguousarray(z).reshape(-1)
    out = np.empty_like(flat)
    _sigmoid_flat(flat, out, derivative)
    return out.reshape(z.shape)


def sigmoid(z: Array) -> Array:
    """Elementwise stable sigmoid ``1 / (1 + exp(-z))``, same shape and dtype as ``z``.

    Computed as ``1 / (1 + e)`` for ``z >= 0`` and ``e / (1 + e)`` otherwise, with
    ``e = exp(-|z|)`` (never overflows).

    Examples
    --------
    >>> import numpy as np
    >>> sigmoid(np.array([-1e4, 0.0, 1e4])).tolist()
    [0.0, 0.5, 1.0]
    """
    return _elementwise(z, False)


def sigmoid_derivative(x: Array) -> Array:
    """Elementwise ``s (1 - s)`` with ``s = sigmoid(x)``, same shape and dtype as ``x``."""
    return _elementwise(x, True)


def gradient_sums(
    w: Array, b: float, X: Array, Y: Array, with_cost: bool
) -> tuple[Array, float, float]:
    """Sums over the samples of ``X``: ``(X (a - y), sum(a - y), sum(cost_j))``.

    Parameters
    ----------
    w : (n_x,) array
    b : float
    X : (n_x, m) array, C- or F-contiguous (F is used as it is: sample-major), same
        dtype as ``w``
    Y : (m,) array of 0.0 / 1.0, same dtype
    with_cost : bool
        When false the cost is skipped and ``cost_sum`` is 0.0.

    Returns
    -------
    dw_sum : (n_x,) array, dtype of ``X``
    db_sum, cost_sum : float
        ``db_sum`` is NaN when some ``z_j`` is not finite (overflow of ``w X``).
    """
    dt = X.dtype.type
    Xs, pl, (zbuf, dwp, dbp, cp) = _prepare(X)
    dw = np.empty(X.shape[0], X.dtype)
    sums = _sums_parallel if pl[5] else _sums_serial
    db, cost = sums(w, dt(b), Xs, Y, bool(with_cost), pl, zbuf, dwp, dbp, cp, dw)
    return dw, float(db), float(cost) if with_cost else 0.0


def propagate(w: Array, b: float, X: Array, Y: Array) -> tuple[Array, float, float]:
    """Mean gradients and cost of one batch.

    ``dw = X (a - y) / m`` (n_x,), ``db = mean(a - y)``,
    ``cost = mean(log1p(exp(-|z|)) + max(z, 0) - y z)`` with ``z = w X + b``.
    """
    m = X.shape[1]
    dw, db, cost = gradient_sums(w, b, X, Y, True)
    dw /= X.dtype.type(m)
    return dw, db / m, cost / m


#: Bytes per row of C-ordered ``X`` from which a one-pass descent is not copied into F
#: order for fewer than ``RELAYOUT_MIN_ITERATIONS_SMALL_GAIN`` iterations (see
#: :func:`relayout_order`).
FUSED_ROW_MIN_BYTES: Final = 4096

#: Target seconds of compiled work between two checks for Ctrl-C (see :func:`optimize`).
SLICE_SECONDS: Final = 0.03
#: Target seconds of the first slice, at an estimated 1 ns per element.  Short
#: iterations meet a busy machine in the chooser's quick check first
#: (:data:`~vecstudy.backends.numba.adaptive.QUICK_MAX_S`); longer slices at the start
#: would cost a short descent its speed (25 iterations of 12288x209: 0.44 ms per
#: iteration from a first slice of 10 ms, 0.49 from 0.5 ms, in more, shorter slices).
FIRST_SLICE_SECONDS: Final = 0.01


def optimize(
    w: Array,
    b: float,
    X: Array,
    Y: Array,
    num_iterations: int,
    learning_rate: float,
    record_every: int,
) -> tuple[Array, float, Array, float, Array, int]:
    """Batch gradient descent, compiled; see :mod:`vecstudy.backends`.

    At iteration ``k``: gradients (and, when ``k % record_every == 0``, the cost), then
    ``w -= learning_rate * dw``; ``b -= learning_rate * db``.  Stops early (``done <
    num_iterations``) when the gradient or an update would be non-finite.

    The compiled loop runs in slices of about :data:`SLICE_SECONDS` (the slice length
    is re-estimated from the time the previous slice took); Python looks for signals
    between slices, so Ctrl-C raises :class:`KeyboardInterrupt` within a slice.  The
    parameters carry over between slices exactly, so the result is bitwise that of one
    unsliced loop.  With a parallel plan each slice runs on the serial or the parallel
    kernel, whichever is faster now (:class:`~vecstudy.backends.numba.adaptive.SliceChooser`);
    both walk the same chunks in the same order, so the bits do not change either.

    With a split plan (wide C-ordered ``X``) each iteration reads ``X`` once, not
    twice: the backward pass of one iteration and the forward pass of the next go
    together, eight rows at a time (see :func:`_fuses`); the forward each slice leaves
    in the plan's scratch carries over to the next slice.

    Returns
    -------
    w : (n_x,) ; b : float ; dw : (n_x,) ; db : float ; costs : (n_recorded,) ; done : int
    """
    dt = X.dtype.type
    n = int(num_iterations)
    every = int(record_every)
    Xs, pl, (zbuf, dwp, dbp, cp) = _prepare(X, kind="descent")
    w_cur = np.array(w, dtype=X.dtype, copy=True)
    dw_sum = np.empty_like(w_cur)
    dw = np.zeros_like(w_cur)
    db = dt(0.0)
    bb = dt(b)
    costs = np.empty(max(0, -(-n // every)), X.dtype)
    n_rec = 0
    lr = dt(learning_rate)
    big = dt(np.finfo(X.dtype).max)
    # first slice: FIRST_SLICE_SECONDS at 1e9 elements/s (compilation, if any, then
    # shrinks it); the slices after it are sized from its time, growing fourfold a slice
    per_it = X.shape[0] * X.shape[1] * 1e-9 + 2e-6
    length = max(1, int(FIRST_SLICE_SECONDS / per_it))
    chooser = SliceChooser(bool(pl[5]), per_it)  # serial or parallel, slice by slice
    fuse = _fuses(pl, X)
    w_next = np.empty_like(w_cur) if fuse else dw_sum[:0]
    fused = 1 if fuse else 0  # one pass per iteration; the first slice starts with a forward
    k = 0
    while k < n:
        par, todo = chooser.next(length)
        k1 = min(n, k + todo)
        descend = _descend_parallel if par else _descend_serial
        # what the chooser weighs (compilations, CPU time) only where it chooses
        compiled = _compiled_count(descend) if chooser.enabled else 0
        threads = int(numba.get_num_threads()) if par else 1
        c0 = time.process_time() if chooser.enabled else 0.0
        t0 = time.perf_counter()
        try:
            b_new, db, n_rec, stop = descend(
                w_cur, bb, Xs, Y, k, k1, lr, every, big, pl, zbuf, dwp, dbp, cp,
                dw_sum, dw, costs, n_rec, w_next, fused,
            )  # fmt: skip
        except SystemError as exc:  # a signal that arrived inside the compiled call
            if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
                raise KeyboardInterrupt from None
            raise
        spent = time.perf_counter() - t0
        fused = 2 if fused else 0  # zbuf now holds the forward for w_cur
        bb = dt(b_new)
        db = dt(db)
        if stop < k1:
            k = stop
            break
        if chooser.enabled:
            util = (time.process_time() - c0) / (max(spent, 1e-9) * threads)
            chooser.record(par, k1 - k, spent, _compiled_count(descend) != compiled, util)
        per_it = spent / (k1 - k)
        k = k1
        length = max(1, min(4 * length, int(SLICE_SECONDS / max(per_it, 1e-9))))
    return w_cur, float(bb), dw, float(db), costs[:n_rec].copy(), int(k)


def _fuses(pl: tuple[int, ...], X: Array) -> bool:
    """Whether a descent by plan ``pl`` makes one pass over ``X`` per iteration
    (:func:`vecstudy.backends.numba.planning.fuses`)."""
    return _fuses_mode(pl[0], X.shape[1], X.dtype.itemsize)


def relayout_order(X: Array, num_iterations: int) -> str | None:
    """The order worth copying ``X`` into for a descent of ``num_iterations``, or None.

    Where ``vecstudy tune`` measured descents of shapes near this one in both orders,
    and the copy, on this machine (:func:`vecstudy.backends.numba.wisdom.relayout_after`;
    not with the ``[numba] tune`` setting ``"off"``): the other order once the
    iterations pay for the copy.  Else the cache model's rule
    (:func:`vecstudy.backends.numba.planning.relayout_order`), with one change: a
    C-ordered ``X`` whose descent already reads it once per iteration (a split plan,
    :func:`_fuses`) with rows of :data:`FUSED_ROW_MIN_BYTES` or more is copied into F
    order only for :data:`RELAYOUT_MIN_ITERATIONS_SMALL_GAIN` iterations or more: the
    copy costs two to four reads of ``X``, and the sample-major walk saves little of
    such an iteration (25-iteration descents on an AMD EPYC, per iteration without the
    copy and with it: 4096x2000 3.75 against 4.29 ms on one thread, 12288x1000 5.87
    against 7.23 ms).  Shorter rows stream less well: 12288x209 took 1.49 ms in one
    pass and 1.13 ms with the copy, which they keep from :data:`RELAYOUT_MIN_ITERATIONS`.
    """
    n_x, m = X.shape
    order_now = _layout(X)[1]
    if _tune_setting()[0] != "off":
        after = _relayout_after(n_x, m, X.dtype.itemsize, order_now)
        if after is not None:
            return ("F" if order_now == "C" else "C") if num_iterations >= after else None
    order = _relayout_order(X, num_iterations)
    if (
        order == "F"
        and num_iterations < RELAYOUT_MIN_ITERATIONS_SMALL_GAIN
        and m * X.dtype.itemsize >= FUSED_ROW_MIN_BYTES
        and _fuses(plan(n_x, m, X.dtype.itemsize, "C", kind="descent"), X)
    ):
        return None
    return order


def _compiled_count(kernel: Any) -> int:
    """How many compiled versions ``kernel`` holds (0 under ``NUMBA_DISABLE_JIT``)."""
    return len(getattr(kernel, "overloads", ()))


def predict(w: Array, b: float, X: Array) -> Array:
    """``(m,)`` array, 1.0 where ``sigmoid(w X + b) > 0.5`` (that is ``z > 0``), else 0.0.

    NaN where ``z`` is not finite (see :mod:`vecstudy.backends`).
    """
    out = np.empty(X.shape[1], X.dtype)
    Xs, order = _layout(X)
    B = max(B_MIN, block_size(X.shape[0], X.dtype.itemsize))
    dt = X.dtype.type
    _predict(w, dt(b), Xs, order == "F", B, dt(np.finfo(X.dtype).max), out)
    return out


def read_sum(a: Array) -> float:
    """Sum of a contiguous float array by a parallel pure-read pass (one read of ``a``).

    Timing it over an array as large as ``X`` gives the machine's read bandwidth,
    the physical limit of one gradient step: ``bytes(X) / bandwidth``.
    """
    flat = np.ravel(a, order="K")  # a view of a C- or F-contiguous array
    parts = np.empty(max(1, -(-flat.shape[0] // _READ_BLOCK)), flat.dtype)
    return float(_read_sum(flat, parts))


def set_threads(n: int) -> None:
    """Set the threads Numba's parallel loops use, at most :func:`max_threads`."""
    numba.set_num_threads(max(1, min(int(n), max_threads())))


def get_threads() -> int:
    """The number of threads Numba's parallel loops use now."""
    return int(numba.get_num_threads())


def max_threads() -> int:
    """The most threads Numba may use (``numba.config.NUMBA_NUM_THREADS``)."""
    return int(numba.config.NUMBA_NUM_THREADS)


def threading_layer() -> str:
    """Name of Numba's threading layer (``omp``, ``tbb`` or ``workqueue``).

    Known only after a parallel function has run; one is run here if needed.
    """
    try:
        return str(numba.threading_layer())
    except ValueError:
        read_sum(np.zeros(1))
        return str(numba.threading_layer())


def using_svml() -> bool:
    """Whether Numba found Intel SVML (this backend does not need it)."""
    return bool(numba.config.USING_SVML)


__all__ = [
    "FASTMATH",
    "block_size",
    "get_threads",
    "gradient_sums",
    "max_threads",
    "optimize",
    "predict",
    "propagate",
    "read_sum",
    "recycle",
    "relayout",
    "relayout_order",
    "set_threads",
    "sigmoid",
    "sigmoid_derivative",
    "threading_layer",
    "using_svml",
]
