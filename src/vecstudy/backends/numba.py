"""Numba backend: one fused, cache-blocked, parallel pass over ``X`` per gradient step.

The same loops as :mod:`vecstudy.backends.python`, compiled, and arranged so that one
step reads ``X`` from memory once (the NumPy backend reads it twice: ``w @ X`` then
``X @ (a - y)``).

Algorithm
---------
The samples (columns of the C-contiguous ``(n_x, m)`` array ``X``) are cut into blocks
of ``B`` columns, ``B = block_size(n_x, itemsize)`` (512 to 1024): the ``n_x x B`` tile
stays in the L2 cache for small ``n_x``, and rows stay long enough to prefetch well for
large ``n_x`` (the tile is then re-read from L3).  For the block ``j0 <= j < j1``::

    z_j    = b + sum_i w_i X_ij          forward: an axpy per row over a contiguous
                                          segment X[i, j0:j1] (vectorized)
    e_j    = exp(-|z_j|)                  never overflows
    a_j    = 1 / (1 + e_j)  if z_j >= 0 else e_j / (1 + e_j)
    d_j    = a_j - y_j
    dW_ki  = sum_j X_ij d_j               backward: dot products, four rows at a time,
                                          re-reading the tile from cache
    db_k   = sum_j d_j
    c_k    = sum_j log1p(e_j) + max(z_j, 0) - y_j z_j   (only when the cost is wanted)

Blocks run in parallel (``prange``); each writes only its own row ``dW[k]`` of a
``(n_blocks, n_x)`` array of partial sums, which are then added in block order.  The
decomposition depends on ``(n_x, m, itemsize)`` only, never on the thread count, and the
serial path (used for small problems, where starting threads costs more than it saves)
uses the same blocks and the same order, so results are bitwise identical for any
thread count and on every run.

``exp`` and ``log1p`` are written in plain arithmetic (range reduction, polynomial,
``2**n`` by building the exponent bits) so that the loops vectorize without SVML; they
are accurate to about 1 ulp over the range used here (``exp`` of ``x <= 0``, ``log1p``
of ``0 <= e <= 1``).  Everything stays in the dtype of ``X``: float32 inputs are
computed in float32 (constants come from the dtype), about twice as fast as float64.

Fast-math flags are ``reassoc, contract, arcp, nsz, afn`` (never ``nnan``/``ninf``, so
non-finite values stay detectable).  Every function is compiled lazily, on first use
for each dtype, and cached on disk (``cache=True, error_model="numpy"``).

Conventions
-----------
``w`` : (n_x,) ; ``b`` : Python float ; ``X`` : (n_x, m) C-contiguous ; ``Y`` : (m,) ;
all arrays one dtype, float32 or float64.  See :mod:`vecstudy.backends`.
"""

# Numba internals are untyped (decorated kernels, intrinsics, numba.config attributes):
# mypy: disable-error-code="misc,untyped-decorator,no-any-return,no-untyped-call"
# mypy: disable-error-code="import-untyped,call-arg,var-annotated,unreachable,attr-defined"

from __future__ import annotations

import math
from typing import Any, Final

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange
from numba.core import types
from numba.extending import intrinsic, overload
from numpy.typing import NDArray

Array = NDArray[np.floating[Any]]

#: Fast-math flags of the kernels: no ``nnan``/``ninf``, so NaN and inf stay meaningful.
FASTMATH: Final = frozenset({"reassoc", "contract", "arcp", "nsz", "afn"})
# The exp/log1p helpers must not be reassociated (Cody-Waite range reduction relies on
# the order of the subtractions); they are inlined by LLVM keeping their own flags.
_FASTMATH_SAFE: Final = frozenset({"contract", "nsz"})
_FM = set(FASTMATH)
_FM_SAFE = set(_FASTMATH_SAFE)
# error_model="numpy": no ZeroDivisionError checks, which would stop vectorization.

#: Bytes of one ``n_x x B`` tile of ``X``: the L2 cache of one core (1 MiB on Zen 5).
TILE_BYTES: Final = 1 << 20
#: Smallest and largest block, in samples; ``B`` is a multiple of ``_B_ALIGN``.
#: ``B_MIN = 512`` keeps row segments >= 2-4 KiB, long enough for the hardware prefetcher
#: when ``n_x`` is large.  The tile then outgrows L2 and the backward pass re-reads it
#: from L3 (or, for very wide ``X``, from memory), which still measured faster than
#: short, badly prefetched segments: float64 on 2 Zen 5 cores, numpy time / numba time
#: with B = 128 / 256 / 512: 1000x10000 0.92 / 1.12 / 1.16, 12288x1000 0.97 / 1.20 / 1.25.
#: ``B_MAX = 1024`` keeps the block's ``z`` (8 KiB) in L1 for small ``n_x`` and gives
#: small problems enough blocks to split over threads (20x10000 float64, 1000
#: iterations on 2 threads: 20.4 ms with B = 1024 against 28.1 ms with B = 8192).
B_MIN: Final = 512
B_MAX: Final = 1024
_B_ALIGN: Final = 16
#: Problems with fewer elements ``n_x * m`` than this run on one thread.  Measured on 2
#: idle Zen 5 cores: a parallel launch costs ~10 us, one thread does ~5e9 elements/s,
#: so from ~6.5e4 elements two threads win (20x10000: 1000 iterations in 20 ms against
#: 45 ms).  On a machine where another process holds a core a launch can take
#: milliseconds; set ``threads=1`` there.
PARALLEL_MIN_ELEMENTS: Final = 1 << 16


def block_size(n_x: int, itemsize: int) -> int:
    """Samples per block: the ``n_x x B`` tile of ``X`` fills about ``TILE_BYTES``.

    ``B = clamp(TILE_BYTES // (n_x * itemsize), B_MIN, B_MAX)`` rounded down to a multiple
    of 16 (see :data:`B_MIN` and :data:`B_MAX` for why the bounds).  Depends on the shape
    and dtype only, never on the thread count.

    Examples
    --------
    >>> block_size(1000, 8), block_size(100, 8), block_size(12288, 8), block_size(2, 4)
    (512, 1024, 512, 1024)
    """
    b = TILE_BYTES // max(1, n_x * itemsize)
    b = min(max(b, B_MIN), B_MAX)
    return max(B_MIN, b - b % _B_ALIGN)


# --------------------------------------------------------------------------------------
# Bit casts (vectorizable 2**n) and dtype-generic exp / log1p
# --------------------------------------------------------------------------------------


@intrinsic
def _i64_as_f64(typingctx: Any, x: Any) -> Any:
    """Reinterpret the bits of an int64 as a float64 (an LLVM ``bitcast``)."""
    sig = types.float64(types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def _i32_as_f32(typingctx: Any, x: Any) -> Any:
    """Reinterpret the bits of an int32 as a float32 (an LLVM ``bitcast``)."""
    sig = types.float32(types.int32)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


def _exp_nonpos(x):  # type: ignore[no-untyped-def]
    """``exp(x)`` for ``x <= 0`` (or NaN), in the precision of ``x``; compiled only."""
    raise NotImplementedError  # pragma: no cover - replaced by the overload below


def _log1p_unit(e):  # type: ignore[no-untyped-def]
    """``log1p(e)`` for ``0 <= e <= 1`` (or NaN), in the precision of ``e``; compiled only."""
    raise NotImplementedError  # pragma: no cover - replaced by the overload below


# exp: x = n ln2 + r, |r| <= ln2/2 (Cody-Waite, two-part ln2); exp(r) by its Taylor
# polynomial (degree 13 in float64, 7 in float32: truncation < 0.05 ulp); 2**n applied
# as 2**(n//2) * 2**(n - n//2) so that results down to the subnormals are right; below
# the underflow limit the result is exactly 0.  NaN propagates.
_LOG2E = 1.4426950408889634
_LN2_HI_64 = 6.93147180369123816490e-01  # 32 significant bits: n * _LN2_HI is exact
_LN2_LO_64 = 1.90821492927058770002e-10
_LN2_HI_32 = 0.693359375  # 9 significant bits
_LN2_LO_32 = -2.12194440e-4
_EXP_MIN_64 = -745.2  # exp(x) < 2**-1075 (rounds to 0) below
_EXP_MIN_32 = -104.0  # exp(x) < 2**-150 below


@njit(fastmath=_FM_SAFE, cache=True, error_model="numpy")
def _exp_nonpos_64(x):  # type: ignore[no-untyped-def]
    xc = _EXP_MIN_64 if x < _EXP_MIN_64 else x
    t = np.floor(xc * _LOG2E + 0.5)
    r = (xc - t * _LN2_HI_64) - t * _LN2_LO_64
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    n = np.int64(t)
    n1 = n >> 1
    s1 = _i64_as_f64((n1 + 1023) << 52)
    s2 = _i64_as_f64((n - n1 + 1023) << 52)
    res = (p * s1) * s2
    return 0.0 if x < _EXP_MIN_64 else res


@njit(fastmath=_FM_SAFE, cache=True, error_model="numpy")
def _exp_nonpos_32(x):  # type: ignore[no-untyped-def]
    f = np.float32
    xc = f(_EXP_MIN_32) if x < f(_EXP_MIN_32) else x
    t = np.floor(xc * f(_LOG2E) + f(0.5))
    r = (xc - t * f(_LN2_HI_32)) - t * f(_LN2_LO_32)
    p = f(1.0 / 5040.0)
    p = p * r + f(1.0 / 720.0)
    p = p * r + f(1.0 / 120.0)
    p = p * r + f(1.0 / 24.0)
    p = p * r + f(1.0 / 6.0)
    p = p * r + f(0.5)
    p = p * r + f(1.0)
    p = p * r + f(1.0)
    n = np.int32(t)
    n1 = n >> np.int32(1)
    s1 = _i32_as_f32((n1 + np.int32(127)) << np.int32(23))
    s2 = _i32_as_f32((n - n1 + np.int32(127)) << np.int32(23))
    res = (p * s1) * s2
    return f(0.0) if x < f(_EXP_MIN_32) else res


# log1p(e), 0 <= e <= 1: log(1 + e) = 2 atanh(s) with s = e / (2 + e) when e <= sqrt2 - 1,
# else ln2 + 2 atanh(s) with s = (e - 1) / (e + 3) (that is, log((1 + e) / 2)); |s| <=
# 0.1716 and 2 atanh(s) = 2 s (1 + s^2/3 + s^4/5 + ...), truncated below 0.05 ulp.
_LN2 = 0.6931471805599453
_SQRT2_M1 = 0.41421356237309503


@njit(fastmath=_FM_SAFE, cache=True, error_model="numpy")
def _log1p_unit_64(e):  # type: ignore[no-untyped-def]
    hi = e > _SQRT2_M1
    num = e - 1.0 if hi else e
    den = e + 3.0 if hi else e + 2.0
    s = num / den
    s2 = s * s
    p = 1.0 / 21.0
    p = p * s2 + 1.0 / 19.0
    p = p * s2 + 1.0 / 17.0
    p = p * s2 + 1.0 / 15.0
    p = p * s2 + 1.0 / 13.0
    p = p * s2 + 1.0 / 11.0
    p = p * s2 + 1.0 / 9.0
    p = p * s2 + 1.0 / 7.0
    p = p * s2 + 1.0 / 5.0
    p = p * s2 + 1.0 / 3.0
    q = (s + s) * s2 * p + (s + s)
    return q + _LN2 if hi else q


@njit(fastmath=_FM_SAFE, cache=True, error_model="numpy")
def _log1p_unit_32(e):  # type: ignore[no-untyped-def]
    f = np.float32
    hi = e > f(_SQRT2_M1)
    num = e - f(1.0) if hi else e
    den = e + f(3.0) if hi else e + f(2.0)
    s = num / den
    s2 = s * s
    p = f(1.0 / 11.0)
    p = p * s2 + f(1.0 / 9.0)
    p = p * s2 + f(1.0 / 7.0)
    p = p * s2 + f(1.0 / 5.0)
    p = p * s2 + f(1.0 / 3.0)
    q = (s + s) * s2 * p + (s + s)
    return q + f(_LN2) if hi else q


@overload(_exp_nonpos)
def _ov_exp_nonpos(x):  # type: ignore[no-untyped-def]
    if x == types.float32:
        return lambda x: _exp_nonpos_32(x)  # noqa: PLW0108 (impl must be a plain function)
    if x == types.float64:
        return lambda x: _exp_nonpos_64(x)  # noqa: PLW0108 (impl must be a plain function)
    return None


@overload(_log1p_unit)
def _ov_log1p_unit(e):  # type: ignore[no-untyped-def]
    if e == types.float32:
        return lambda e: _log1p_unit_32(e)  # noqa: PLW0108 (impl must be a plain function)
    if e == types.float64:
        return lambda e: _log1p_unit_64(e)  # noqa: PLW0108 (impl must be a plain function)
    return None


# --------------------------------------------------------------------------------------
# Elementwise kernels
# --------------------------------------------------------------------------------------


@njit(fastmath=_FM, cache=True, error_model="numpy")
def _sigmoid_flat(z, out, derivative):  # type: ignore[no-untyped-def]
    one = out.dtype.type(1.0)
    for j in range(z.shape[0]):
        zj = z[j]
        e = _exp_nonpos(-abs(zj))
        inv = one / (one + e)
        s = inv if zj >= 0 else e * inv
        out[j] = s * (one - s) if derivative else s


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


# --------------------------------------------------------------------------------------
# The fused step
# --------------------------------------------------------------------------------------


@njit(fastmath=_FM, cache=True, error_model="numpy")
def _block(w, b, X, Y, j0, j1, with_cost, z, dwk):  # type: ignore[no-untyped-def]
    """One block of columns ``j0:j1``: write ``dwk[i] = sum_j X_ij d_j``; return (db, cost).

    ``z`` is a scratch vector of at least ``j1 - j0`` elements; ``b`` has the dtype of X.
    """
    zero = X.dtype.type(0.0)
    one = X.dtype.type(1.0)
    n_x = X.shape[0]
    nb = j1 - j0
    zb = z[:nb]
    yb = Y[j0:j1]
    for j in range(nb):
        zb[j] = b
    # forward, four rows at a time: one load/store of z per four rows
    i = 0
    while i + 4 <= n_x:
        w0 = w[i]
        w1 = w[i + 1]
        w2 = w[i + 2]
        w3 = w[i + 3]
        x0 = X[i, j0:j1]
        x1 = X[i + 1, j0:j1]
        x2 = X[i + 2, j0:j1]
        x3 = X[i + 3, j0:j1]
        for j in range(nb):
            zb[j] += (w0 * x0[j] + w1 * x1[j]) + (w2 * x2[j] + w3 * x3[j])
        i += 4
    while i < n_x:
        wi = w[i]
        xi = X[i, j0:j1]
        for j in range(nb):
            zb[j] += wi * xi[j]
        i += 1
    # nonlinearity: z -> d = a - y, in place
    db = zero
    cost = zero
    if with_cost:
        for j in range(nb):
            zj = zb[j]
            e = _exp_nonpos(-abs(zj))
            inv = one / (one + e)
            a = inv if zj >= zero else e * inv
            d = a - yb[j]
            zb[j] = d
            db += d
            cost += _log1p_unit(e) + (zj if zj > zero else zero) - yb[j] * zj
    else:
        for j in range(nb):
            zj = zb[j]
            e = _exp_nonpos(-abs(zj))
            inv = one / (one + e)
            a = inv if zj >= zero else e * inv
            d = a - yb[j]
            zb[j] = d
            db += d
    # backward: re-read the tile (from cache), four rows at a time: one load of d per
    # four multiply-adds, four independent sums
    i = 0
    while i + 4 <= n_x:
        x0 = X[i, j0:j1]
        x1 = X[i + 1, j0:j1]
        x2 = X[i + 2, j0:j1]
        x3 = X[i + 3, j0:j1]
        s0 = zero
        s1 = zero
        s2 = zero
        s3 = zero
        for j in range(nb):
            dj = zb[j]
            s0 += x0[j] * dj
            s1 += x1[j] * dj
            s2 += x2[j] * dj
            s3 += x3[j] * dj
        dwk[i] = s0
        dwk[i + 1] = s1
        dwk[i + 2] = s2
        dwk[i + 3] = s3
        i += 4
    while i < n_x:
        xi = X[i, j0:j1]
        s = zero
        for j in range(nb):
            s += xi[j] * zb[j]
        dwk[i] = s
        i += 1
    return db, cost


@njit(fastmath=_FM, cache=True, error_model="numpy", parallel=True)
def _blocks_parallel(w, b, X, Y, with_cost, B, zbuf, dwp, dbp, cp):  # type: ignore[no-untyped-def]
    m = X.shape[1]
    for k in prange(dwp.shape[0]):
        j0 = k * B
        j1 = min(j0 + B, m)
        db, c = _block(w, b, X, Y, j0, j1, with_cost, zbuf[k], dwp[k])
        dbp[k] = db
        cp[k] = c


@njit(fastmath=_FM, cache=True, error_model="numpy")
def _blocks_serial(w, b, X, Y, with_cost, B, zbuf, dwp, dbp, cp):  # type: ignore[no-untyped-def]
    m = X.shape[1]
    for k in range(dwp.shape[0]):
        j0 = k * B
        j1 = min(j0 + B, m)
        db, c = _block(w, b, X, Y, j0, j1, with_cost, zbuf[0], dwp[k])
        dbp[k] = db
        cp[k] = c


@njit(fastmath=_FM, cache=True, error_model="numpy")
def _sums(w, b, X, Y, with_cost, B, parallel, zbuf, dwp, dbp, cp, dw):  # type: ignore[no-untyped-def]
    """Fill ``dw`` with ``sum_j X_ij d_j``; return ``(db_sum, cost_sum)`` in X's dtype."""
    if parallel:
        _blocks_parallel(w, b, X, Y, with_cost, B, zbuf, dwp, dbp, cp)
    else:
        _blocks_serial(w, b, X, Y, with_cost, B, zbuf, dwp, dbp, cp)
    zero = X.dtype.type(0.0)
    n_x = X.shape[0]
    for i in range(n_x):
        dw[i] = zero
    db = zero
    cost = zero
    for k in range(dwp.shape[0]):  # fixed order: block 0, 1, 2, ...
        row = dwp[k]
        for i in range(n_x):
            dw[i] += row[i]
        db += dbp[k]
        cost += cp[k]
    return db, cost


def _plan(X: Array) -> tuple[int, int, bool]:
    """``(B, n_blocks, parallel)`` for ``X``: a function of its shape and dtype only."""
    n_x, m = X.shape
    B = block_size(n_x, X.dtype.itemsize)
    n_blocks = max(1, -(-m // B))
    return B, n_blocks, n_x * m >= PARALLEL_MIN_ELEMENTS and n_blocks > 1


def _scratch(X: Array, B: int, n_blocks: int, parallel: bool) -> tuple[Array, ...]:
    n_x = X.shape[0]
    dt = X.dtype
    zbuf = np.empty((n_blocks if parallel else 1, B), dtype=dt)
    return zbuf, np.empty((n_blocks, n_x), dt), np.empty(n_blocks, dt), np.empty(n_blocks, dt)


def gradient_sums(
    w: Array, b: float, X: Array, Y: Array, with_cost: bool
) -> tuple[Array, float, float]:
    """Sums over the samples of ``X``: ``(X (a - y), sum(a - y), sum(cost_j))``.

    Parameters
    ----------
    w : (n_x,) array
    b : float
    X : (n_x, m) C-contiguous array, same dtype as ``w``
    Y : (m,) array of 0.0 / 1.0, same dtype
    with_cost : bool
        When false the cost is skipped and ``cost_sum`` is 0.0.

    Returns
    -------
    dw_sum : (n_x,) array, dtype of ``X``
    db_sum, cost_sum : float
    """
    dt = X.dtype.type
    B, n_blocks, parallel = _plan(X)
    zbuf, dwp, dbp, cp = _scratch(X, B, n_blocks, parallel)
    dw = np.empty(X.shape[0], X.dtype)
    db, cost = _sums(w, dt(b), X, Y, bool(with_cost), B, parallel, zbuf, dwp, dbp, cp, dw)
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


@njit(fastmath=_FM, cache=True, error_model="numpy")
def _optimize(w0, b0, X, Y, num_iterations, lr, record_every, big, B, parallel, zbuf, dwp, dbp, cp):  # type: ignore[no-untyped-def]
    dt = X.dtype.type
    n_x = X.shape[0]
    inv_m = dt(1.0) / dt(X.shape[1])
    w = w0.copy()
    b = b0
    dw_sum = np.empty(n_x, X.dtype)
    dw = np.zeros(n_x, X.dtype)
    new_w = np.empty(n_x, X.dtype)
    db = dt(0.0)
    n_rec_max = (num_iterations + record_every - 1) // record_every
    costs = np.empty(max(n_rec_max, 0), X.dtype)
    n_rec = 0
    for k in range(num_iterations):
        record = k % record_every == 0
        db_sum, cost_sum = _sums(w, b, X, Y, record, B, parallel, zbuf, dwp, dbp, cp, dw_sum)
        finite = True
        for i in range(n_x):
            dw[i] = dw_sum[i] * inv_m
            v = w[i] - lr * dw[i]
            new_w[i] = v
            finite &= abs(v) <= big  # not np.isfinite: under reassoc it folds to True
        db = db_sum * inv_m
        if record:
            costs[n_rec] = cost_sum * inv_m
            n_rec += 1
        new_b = b - lr * db
        if not (finite and abs(new_b) <= big):
            return w, b, dw, db, costs[:n_rec], k
        w[:] = new_w
        b = new_b
    return w, b, dw, db, costs[:n_rec], num_iterations


def optimize(
    w: Array,
    b: float,
    X: Array,
    Y: Array,
    num_iterations: int,
    learning_rate: float,
    record_every: int,
) -> tuple[Array, float, Array, float, Array, int]:
    """Batch gradient descent, the whole loop compiled; see :mod:`vecstudy.backends`.

    At iteration ``k``: gradients (and, when ``k % record_every == 0``, the cost), then
    ``w -= learning_rate * dw``; ``b -= learning_rate * db``.  Stops early (``done <
    num_iterations``) when an update would make ``w`` or ``b`` non-finite.

    Returns
    -------
    w : (n_x,) ; b : float ; dw : (n_x,) ; db : float ; costs : (n_recorded,) ; done : int
    """
    dt = X.dtype.type
    B, n_blocks, parallel = _plan(X)
    zbuf, dwp, dbp, cp = _scratch(X, B, n_blocks, parallel)
    w_out, b_out, dw, db, costs, done = _optimize(
        w, dt(b), X, Y, int(num_iterations), dt(learning_rate), int(record_every),
        dt(np.finfo(X.dtype).max), B, parallel, zbuf, dwp, dbp, cp,
    )  # fmt: skip
    return w_out, float(b_out), dw, float(db), costs.copy(), int(done)


# --------------------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------------------


@njit(fastmath=_FM, cache=True, error_model="numpy", parallel=True)
def _predict(w, b, X, B, out):  # type: ignore[no-untyped-def]
    n_x, m = X.shape
    zero = X.dtype.type(0.0)
    one = X.dtype.type(1.0)
    n_blocks = (m + B - 1) // B
    for k in prange(n_blocks):
        j0 = k * B
        j1 = min(j0 + B, m)
        zb = out[j0:j1]
        for j in range(j1 - j0):
            zb[j] = b
        for i in range(n_x):
            wi = w[i]
            xi = X[i, j0:j1]
            for j in range(j1 - j0):
                zb[j] += wi * xi[j]
        for j in range(j1 - j0):
            zb[j] = one if zb[j] > zero else zero


def predict(w: Array, b: float, X: Array) -> Array:
    """``(m,)`` array, 1.0 where ``sigmoid(w X + b) > 0.5`` (that is ``z > 0``), else 0.0."""
    out = np.empty(X.shape[1], X.dtype)
    _predict(w, X.dtype.type(b), X, block_size(X.shape[0], X.dtype.itemsize), out)
    return out


# --------------------------------------------------------------------------------------
# Machine measurements and threads
# --------------------------------------------------------------------------------------

_READ_BLOCK: Final = 1 << 15


@njit(fastmath=_FM, cache=True, error_model="numpy")
def _sum_range(a, j0, j1):  # type: ignore[no-untyped-def]
    s = a.dtype.type(0.0)
    seg = a[j0:j1]  # a slice indexed from 0 vectorizes; a[j0 + j] does not
    for j in range(seg.shape[0]):
        s += seg[j]
    return s


@njit(fastmath=_FM, cache=True, error_model="numpy", parallel=True)
def _read_sum(a, parts):  # type: ignore[no-untyped-def]
    n = a.shape[0]
    for k in prange(parts.shape[0]):
        parts[k] = _sum_range(a, k * _READ_BLOCK, min((k + 1) * _READ_BLOCK, n))
    s = a.dtype.type(0.0)
    for k in range(parts.shape[0]):
        s += parts[k]
    return s


def read_sum(a: Array) -> float:
    """Sum of a contiguous float array by a parallel pure-read pass (one read of ``a``).

    Timing it over an array as large as ``X`` gives the machine's read bandwidth,
    the physical limit of one gradient step: ``bytes(X) / bandwidth``.
    """
    flat = np.ascontiguousarray(a).reshape(-1)
    parts = np.empty(max(1, -(-flat.shape[0] // _READ_BLOCK)), flat.dtype)
    return float(_read_sum(flat, parts))


# --------------------------------------------------------------------------------------
# The course's micro-studies, as compiled loops (the pure-Python and NumPy versions
# live in vecstudy.bench)
# --------------------------------------------------------------------------------------


@njit(fastmath=_FM, cache=True, error_model="numpy")
def _dot_loop(a, b):  # type: ignore[no-untyped-def]
    s = a.dtype.type(0.0)
    for j in range(a.shape[0]):
        s += a[j] * b[j]
    return s


@njit(cache=True, error_model="numpy")
def _exp_loop(v, out):  # type: ignore[no-untyped-def]
    for j in range(v.shape[0]):
        out[j] = math.exp(v[j])


def dot_loop(a: Array, b: Array) -> float:
    """``sum_j a_j b_j`` as the course's for-loop, compiled (1-D arrays of one dtype)."""
    return float(_dot_loop(a, b))


def exp_loop(v: Array) -> Array:
    """``exp`` of each element, as the course's for-loop over ``math.exp``, compiled."""
    out = np.empty_like(v)
    _exp_loop(v, out)
    return out


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
    "set_threads",
    "sigmoid",
    "sigmoid_derivative",
    "threading_layer",
    "using_svml",
]
