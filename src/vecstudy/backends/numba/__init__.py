"""Numba backend: one fused, cache-blocked, parallel pass over ``X`` per gradient step.

The same loops as :mod:`vecstudy.backends.python`, compiled, and arranged so that one
step reads ``X`` from memory once where the layout allows it (the NumPy backend reads
it twice: ``w @ X`` then ``X @ (a - y)``).

Algorithm
---------
:func:`plan` picks one of three walks over ``X`` from its shape, dtype, order and the
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
wide ``X``).

*split C* (C-ordered ``X`` too wide for a tile of 1 KiB per row to stay in L2, or too
few samples to share among threads): two passes by panels of rows, both parallel over
features and eight rows at a time: partial ``z`` per panel, added in panel order, then
``dw_i = X_i . d`` per row.

Tiles are grouped in chunks; chunks run in parallel (``prange``), each writing only its
own row ``dW[k]`` of a ``(n_chunks, n_x)`` array of partial sums, which are then added
in chunk order.  The decomposition depends on the shape, dtype, order and caches only,
never on the thread count, and the serial path (used for small problems, where starting
threads costs more than it saves) walks the same chunks in the same order, so results
are bitwise identical for any thread count and on every run.

``optimize`` runs the whole descent compiled, in slices of about 30 ms between which
Python sees Ctrl-C; ``vecstudy.optimize`` may first copy ``X`` once into the faster
layout for its shape (:func:`relayout_order`).

``exp`` and ``log1p`` are written in plain arithmetic (range reduction, polynomial,
``2**n`` by building the exponent bits) so that the loops vectorize without SVML; they
are accurate to about 1 ulp over the range used here (``exp`` of ``x <= 0``, ``log1p``
of ``0 <= e <= 1``).  Everything stays in the dtype of ``X``: float32 inputs are
computed in float32 (constants come from the dtype), about twice as fast as float64.

Fast-math flags are ``reassoc, contract, arcp, nsz, afn`` (never ``nnan``/``ninf``, so
non-finite values stay detectable).  Every function is compiled lazily, on first use
for each dtype, and cached on disk (``cache=True, error_model="numpy"``); where no cache
directory is writable they compile without one (:class:`NumbaCacheWarning`), and with
``NUMBA_DISABLE_JIT=1`` they run as plain Python.  Each ``parallel=True`` kernel is
called from Python only, never from another cached kernel (see :func:`_jit`): the step
and the descent are inline helpers compiled into a serial and a parallel kernel each.

Conventions
-----------
``w`` : (n_x,) ; ``b`` : Python float ; ``X`` : (n_x, m) C- or F-contiguous ;
``Y`` : (m,) ; all arrays one dtype, float32 or float64.  See :mod:`vecstudy.backends`.
"""

# Numba internals are untyped (decorated kernels, intrinsics, numba.config attributes):
# mypy: disable-error-code="misc,untyped-decorator,no-any-return,no-untyped-call"
# mypy: disable-error-code="import-untyped,call-arg,var-annotated,unreachable,attr-defined"

from __future__ import annotations

import math
import time
import warnings
from typing import Any, Final, NamedTuple

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
# error_model="numpy": no ZeroDivisionError checks, which would stop vectorization.

#: True under ``NUMBA_DISABLE_JIT=1``: every function below then runs as plain Python
#: (slowly, but with the same loops, so they can be stepped through in a debugger).
JIT_DISABLED: Final = bool(numba.config.DISABLE_JIT)


class NumbaCacheWarning(RuntimeWarning):
    """Numba cannot cache compiled kernels on disk here: every new process compiles again."""


_cache_warned = False


class _FlagSet(set):  # type: ignore[type-arg]
    """A set of fast-math flags that prints in sorted order.

    Numba names each compiled function with an ABI tag built from ``str()`` of its
    options, and ``str()`` of a plain set of strings follows the hash seed: each process
    would name the same kernel differently.  Sorted, the names are the same in every
    process.
    """

    def __repr__(self) -> str:
        return "{" + ", ".join(repr(f) for f in sorted(self)) + "}"

    __str__ = __repr__


def _jit(
    *, parallel: bool = False, fastmath: frozenset[str] = FASTMATH, inline: bool = False
) -> Any:
    """``njit`` with this module's flags and ``cache=True``.

    Where numba finds no writable cache directory (a read-only install, a read-only
    ``NUMBA_CACHE_DIR``) it refuses ``cache=True`` with "cannot cache function ... no
    locator available": the function is then compiled without a disk cache, and one
    :class:`NumbaCacheWarning` says so.

    No cached function may call a ``parallel=True`` one (numba #8578, #9938): when the
    callee comes from the disk cache, the caller is compiled and cached without the
    hook that starts numba's thread pool on load, and a later process that loads the
    caller first calls a null pointer (SIGSEGV).  Loops in ``prange`` shared by a
    serial and a parallel kernel live in ``inline=True`` helpers, inlined into each
    caller before it is compiled, so that each ``parallel=True`` kernel is called from
    Python only.
    """

    def compile_(fn: Any, cache: bool) -> Any:
        return njit(
            fn,
            cache=cache,
            fastmath=_FlagSet(fastmath),
            error_model="numpy",
            parallel=parallel,
            inline="always" if inline else "never",
        )

    def decorate(fn: Any) -> Any:
        global _cache_warned  # one warning per process
        try:
            return compile_(fn, True)
        except RuntimeError as exc:
            if "cannot cache" not in str(exc):
                raise
            if not _cache_warned:
                _cache_warned = True
                warnings.warn(
                    f"numba cannot cache compiled kernels here ({exc}); compiling without "
                    "a disk cache, so each new process compiles again (set NUMBA_CACHE_DIR "
                    "to a writable directory to keep them)",
                    NumbaCacheWarning,
                    stacklevel=2,
                )
            return compile_(fn, False)

    return decorate


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


if JIT_DISABLED:  # plain-Python equivalents of the bit casts

    def _i64_as_f64(x: Any) -> Any:
        return np.int64(x).view(np.float64)

    def _i32_as_f32(x: Any) -> Any:
        return np.int32(x).view(np.float32)


def _exp_nonpos(x):  # type: ignore[no-untyped-def]
    """``exp(x)`` for ``x <= 0`` (or NaN), in the precision of ``x``.

    Compiled code calls the dtype's version through the overload below; this body runs
    only with the JIT disabled.
    """
    return _exp_nonpos_32(x) if isinstance(x, np.float32) else _exp_nonpos_64(np.float64(x))


def _log1p_unit(e):  # type: ignore[no-untyped-def]
    """``log1p(e)`` for ``0 <= e <= 1`` (or NaN), in the precision of ``e``; see above."""
    return _log1p_unit_32(e) if isinstance(e, np.float32) else _log1p_unit_64(np.float64(e))


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


@_jit(fastmath=_FASTMATH_SAFE)
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


@_jit(fastmath=_FASTMATH_SAFE)
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


@_jit(fastmath=_FASTMATH_SAFE)
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


@_jit(fastmath=_FASTMATH_SAFE)
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


@_jit()
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
# The plan: layout, tile and chunk sizes from the shape and the machine's caches
# --------------------------------------------------------------------------------------

#: Layouts (``Plan.mode``).  ``FUSED``: C-ordered ``X``, one pass per step, tiles of
#: ``n_x x B`` re-read from cache.  ``SAMPLE``: F-ordered ``X`` (each sample contiguous),
#: one pass per step, the forward dot product and the backward axpy of a sample run from
#: L1/L2.  ``SPLIT``: C-ordered wide ``X`` whose tiles do not fit in cache: two passes
#: (``z = w X`` by panels of rows, then ``dw = X d`` by the same panels), both parallel
#: over features.
FUSED: Final = 0
SAMPLE: Final = 1
SPLIT: Final = 2
MODE_NAMES: Final = {FUSED: "fused C", SAMPLE: "sample-major F", SPLIT: "split C"}

#: Smallest and largest block of the fused C path, in samples.  ``B_MIN = 512`` keeps row
#: segments >= 2-4 KiB, long enough for the hardware prefetcher when ``n_x`` is large:
#: float64 on 2 Zen 5 cores, numpy time / numba time with B = 128 / 256 / 512:
#: 1000x10000 0.92 / 1.12 / 1.16, 12288x1000 0.97 / 1.20 / 1.25.  ``B_MAX = 1024`` keeps
#: the block's ``z`` (8 KiB) in L1 for small ``n_x`` and gives small problems enough
#: blocks to split over threads (20x10000 float64, 1000 iterations on 2 threads: 20.4 ms
#: with B = 1024 against 28.1 ms with B = 8192).
B_MIN: Final = 512
#: Smallest row segment, in bytes, of a fused C tile that fits in L2 (128 samples in
#: float64, 256 in float32; shorter segments lose the prefetcher).  While a tile of that
#: many samples fills at most 2/3 of L2 (``n_x`` up to ~850 on a 1.25 MiB L2), ``B =
#: L2 / 4 / r`` samples, at least that, so that the backward pass re-reads the tile from
#: L2 (or L1) rather than L3 (wider C ``X`` takes the split path, see :func:`plan`).
#: On 2 shared Ice Lake cores, one thread, median of 15, numpy time / numba time with
#: B = 128 / 512 / 1024 (float64): 100x100000 2.02 / 1.82 / 1.73, 300x30000 1.70 / 1.47
#: / 1.25, 500x20000 1.52 / 1.10 / 1.02, 800x12000 1.72 / 1.52 / 1.39; B = 128 / 256 /
#: 512 (float32): 600x30000 0.91 / 1.17 / 1.06.
B_L2_MIN_BYTES: Final = 1024
B_MAX: Final = 1024
_B_ALIGN: Final = 16
#: Problems with fewer elements ``n_x * m`` than this run on one thread: a parallel
#: launch costs ~10 us, one thread does ~5e9 elements/s (20x10000: 1000 iterations in
#: 20 ms on two threads against 45 ms on one).
PARALLEL_MIN_ELEMENTS: Final = 1 << 16
#: Samples per chunk (the unit of parallel work with its own partial ``dw``) at least:
#: the partial sums then cost at most 1/32 of the step.
CHUNK_MIN_SAMPLES: Final = 32
#: At most this many chunks (more only add partial sums to add up).
MAX_CHUNKS: Final = 256


class Plan(NamedTuple):
    """How one step walks over ``X`` (all sizes in samples or rows; see :func:`plan`)."""

    mode: int
    B: int  # samples per tile (FUSED, SAMPLE)
    T: int  # tiles per chunk
    n_chunks: int  # chunks (FUSED, SAMPLE) or panels (SPLIT)
    P: int  # rows per panel (SPLIT)
    parallel: bool


def _align(v: int) -> int:
    return v - v % _B_ALIGN if v >= _B_ALIGN else max(v, 1)


def plan(n_x: int, m: int, itemsize: int, order: str = "C", caches: Any = None) -> Plan:
    """The walk over ``X`` for one gradient step: a function of the shape, dtype, order
    and this machine's caches only, never of the thread count (results are bitwise
    identical for any thread count).

    With ``caches=None`` (this machine), a plan measured here by ``vecstudy tune``
    for a shape near ``(n_x, m)`` comes first (:func:`vecstudy.tuning.planned`; not
    with the ``[numba] tune`` setting ``"off"``): its tiles and chunks do not depend on
    the thread count either, only its ``parallel`` flag.  Otherwise, the model below.

    ``c = vecstudy.runtime.caches.cache_sizes()`` gives ``L1d``, ``L2`` and the L3 share of one
    core.  With ``r = n_x * itemsize`` (bytes of one sample) and ``s = m * itemsize``
    (bytes of one row):

    - F order (``order="F"``): ``SAMPLE``.  ``B = clamp(L1d / 2 / r, 4, 1024)`` samples
      per tile, so that the backward axpy re-reads the tile from L1 (from L2 when one
      sample is larger than L1d/8, as for 64x64x3 images: 96 KiB; four samples at a
      time share each load of ``w`` and each load and store of ``dw``).
    - C order, a tile of ``b = 1024 / itemsize`` samples within 2/3 of L2 (``n_x`` up
      to ~850 on a 1.25 MiB L2): ``FUSED``, ``B = clamp(L2 / 4 / r, b, B_MAX)``
      (:data:`B_L2_MIN_BYTES`): the backward pass re-reads the tile from L2.
    - C order, wider, or fewer than ``4 B_MIN`` samples in a problem large enough for
      threads: ``SPLIT`` (two reads of ``X`` from memory beat one from memory and one
      from L3).  16 panels of ``P = n_x / 16`` rows (a multiple of 8) to share
      among threads; each walks its rows in segments of ``B_MAX`` samples, so that the
      segment of ``z`` partial sums it adds to stays in L1.

    Tiles are grouped into chunks of at least :data:`CHUNK_MIN_SAMPLES` samples and at
    most :data:`MAX_CHUNKS` chunks; chunks (or panels) run in parallel when ``n_x * m >=``
    :data:`PARALLEL_MIN_ELEMENTS` and there are two or more.

    The measurements that chose it (2 shared Xeon Ice Lake cores: 48 KiB L1d, 1.25 MiB
    L2, 24 MiB L3 per core; float64, one thread, min of 7):

    - F against C per step (C time / F time): n_x = 2: 0.50, 10: 0.63, 30: 0.82, 100:
      0.78, 300: 1.13, 1000: 1.75, 4096: 1.68, 12288: 1.87 (hence
      :data:`SAMPLE_MAJOR_MIN_BYTES`, and the relayout in ``optimize``).
    - Sample-major tiles at 12288x209: one sample at a time 1.57 ms, four at a time (L2)
      1.22 ms; NumPy 1.72 ms; one read of X (from L3) 0.70 ms.
    - Split against fused C, numpy time / numba time, one thread, median of 15: where
      the tile of 128 samples outgrows L2, the split path (both passes eight rows at a
      time) beats fused tiles re-read from L3 (B = 512) and from a full L2: float64
      1000x10000 split 1.16, fused B = 128 0.95, B = 512 1.10; 1500x8000 1.11 / 1.03
      (B = 512); 2500x4000 1.09 / 0.99; 3000x4000 1.09 / 0.94; float32 1000x20000 1.12
      / 0.95 (B = 256); 2000x10000 1.12 / 0.96; 4096x4000 1.03 / 0.83.  Below 2/3 of L2
      fused tiles win: float64 500x20000 fused B = 128 1.42, split 1.13; 800x12000 1.17
      / 1.14; float32 600x30000 (B = 256) 1.31 / 1.09.  At 12288x1000 and 4096x2000 the
      split path runs at about NumPy's speed (both read ``X`` twice), the F path at 1.3x
      to 1.6x NumPy.
    - Fused C block sizes: see :data:`B_L2_MIN_BYTES` (Ice Lake: B = 128 rather than
      512 to 1024 from 1.5x to 1.7x NumPy at 300 to 800 features, float64, one thread),
      :data:`B_MIN` and :data:`B_MAX` (Zen 5; on Ice Lake B = 128 to 2048 at 20x10000
      were within the noise of a shared machine).
    - Wide C ``X`` in one pass, tiles of ``n_x x B`` with ``B = 16`` to ``128`` that fit
      in L2 (Ice Lake, float64, one thread, numpy / numba): 4096x2000 0.34 / 0.57 /
      0.78 / 0.84 for B = 16 / 32 / 64 / 128 against 0.95 split; 12288x1000 0.29 to
      0.64 against 1.05 split: short row segments on a new page each defeat the
      prefetcher, so wide ``X`` stays on the split path.

    Examples
    --------
    >>> from vecstudy.runtime.caches import CacheSizes
    >>> c = CacheSizes(48 << 10, 1280 << 10, 24 << 20, "example")
    >>> plan(20, 10000, 8, "C", c)
    Plan(mode=0, B=1024, T=1, n_chunks=10, P=0, parallel=True)
    >>> plan(12288, 209, 8, "F", c)
    Plan(mode=1, B=4, T=8, n_chunks=7, P=0, parallel=True)
    >>> plan(12288, 1000, 8, "C", c).mode == SPLIT
    True
    """
    if caches is None:  # this machine: a measured plan first (vecstudy.tuning), else the model
        from vecstudy import tuning
        from vecstudy.runtime.caches import cache_sizes

        tuned = tuning.planned(n_x, m, itemsize, order)
        if tuned is not None:
            return tuned
        caches = cache_sizes()
    r = max(1, n_x * itemsize)
    par = n_x * m >= PARALLEL_MIN_ELEMENTS
    b_l2 = max(1, B_L2_MIN_BYTES // itemsize)
    if order == "F":
        B = _align(min(max(caches.l1d // 2 // r, 4), B_MAX))
    elif r * b_l2 * 3 <= caches.l2 * 2 and (m >= 4 * B_MIN or not par):
        B = _align(min(max(caches.l2 // 4 // r, b_l2), B_MAX))
    else:  # wide, or too few sample blocks to share among threads
        rows = -(-n_x // 16)
        P = max(8, -(-rows // 8) * 8)
        n_panels = -(-n_x // P)
        return Plan(SPLIT, 0, 0, n_panels, P, par and n_panels > 1)
    n_tiles = max(1, -(-m // B))
    T = max(1, -(-CHUNK_MIN_SAMPLES // B), -(-n_tiles // MAX_CHUNKS))
    n_chunks = -(-n_tiles // T)
    return Plan(FUSED if order != "F" else SAMPLE, B, T, n_chunks, 0, par and n_chunks > 1)


def block_size(n_x: int, itemsize: int) -> int:
    """Samples per tile of the fused C path (``plan(n_x, m, itemsize).B``).

    >>> block_size(100, 8) in range(B_MIN, B_MAX + 1)
    True
    """
    return plan(n_x, B_MAX, itemsize).B or B_MIN


# --------------------------------------------------------------------------------------
# The step
# --------------------------------------------------------------------------------------


@_jit()
def _link(zb, yb, with_cost):  # type: ignore[no-untyped-def]
    """In place ``z -> d = sigmoid(z) - y``; return ``(sum d, sum cost)``.

    ``d`` is NaN where ``z`` is not finite (``+ 0 * z``), so that an overflow in ``w X``
    shows up in ``db`` and ``dw`` instead of passing for a converged model.
    """
    zero = zb.dtype.type(0.0)
    one = zb.dtype.type(1.0)
    db = zero
    cost = zero
    if with_cost:
        for j in range(zb.shape[0]):
            zj = zb[j]
            e = _exp_nonpos(-abs(zj))
            inv = one / (one + e)
            a = inv if zj >= zero else e * inv
            d = (a - yb[j]) + zero * zj
            zb[j] = d
            db += d
            cost += _log1p_unit(e) + (zj if zj > zero else zero) - yb[j] * zj
    else:
        for j in range(zb.shape[0]):
            zj = zb[j]
            e = _exp_nonpos(-abs(zj))
            inv = one / (one + e)
            a = inv if zj >= zero else e * inv
            d = (a - yb[j]) + zero * zj
            zb[j] = d
            db += d
    return db, cost


@_jit()
def _block(w, b, X, Y, j0, j1, with_cost, z, dwk):  # type: ignore[no-untyped-def]
    """C order, columns ``j0:j1``: add ``sum_j X_ij d_j`` to ``dwk[i]``; return (db, cost).

    ``z`` is a scratch vector of at least ``j1 - j0`` elements; ``b`` has the dtype of X.
    """
    zero = X.dtype.type(0.0)
    n_x = X.shape[0]
    nb = j1 - j0
    zb = z[:nb]
    yb = Y[j0:j1]
    for j in range(nb):
        zb[j] = b
    # forward, eight rows at a time (then four): one load/store of z per eight rows
    i = 0
    while i + 8 <= n_x:
        w0 = w[i]
        w1 = w[i + 1]
        w2 = w[i + 2]
        w3 = w[i + 3]
        w4 = w[i + 4]
        w5 = w[i + 5]
        w6 = w[i + 6]
        w7 = w[i + 7]
        x0 = X[i, j0:j1]
        x1 = X[i + 1, j0:j1]
        x2 = X[i + 2, j0:j1]
        x3 = X[i + 3, j0:j1]
        x4 = X[i + 4, j0:j1]
        x5 = X[i + 5, j0:j1]
        x6 = X[i + 6, j0:j1]
        x7 = X[i + 7, j0:j1]
        for j in range(nb):
            zb[j] += ((w0 * x0[j] + w1 * x1[j]) + (w2 * x2[j] + w3 * x3[j])) + (
                (w4 * x4[j] + w5 * x5[j]) + (w6 * x6[j] + w7 * x7[j])
            )
        i += 8
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
    db, cost = _link(zb, yb, with_cost)
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
        dwk[i] += s0
        dwk[i + 1] += s1
        dwk[i + 2] += s2
        dwk[i + 3] += s3
        i += 4
    while i < n_x:
        xi = X[i, j0:j1]
        s = zero
        for j in range(nb):
            s += xi[j] * zb[j]
        dwk[i] += s
        i += 1
    return db, cost


@_jit()
def _block_sm(w, b, XT, Y, j0, j1, with_cost, z, dwk):  # type: ignore[no-untyped-def]
    """F order (``XT = X.T``, rows are samples), samples ``j0:j1``; as :func:`_block`.

    Four samples at a time: one load of ``w`` per four products in the forward dot
    products, one load and store of ``dwk`` per four in the backward axpy.
    """
    zero = XT.dtype.type(0.0)
    n_x = XT.shape[1]
    nb = j1 - j0
    zb = z[:nb]
    j = 0
    while j + 4 <= nb:
        x0 = XT[j0 + j]
        x1 = XT[j0 + j + 1]
        x2 = XT[j0 + j + 2]
        x3 = XT[j0 + j + 3]
        s0 = zero
        s1 = zero
        s2 = zero
        s3 = zero
        for i in range(n_x):
            wi = w[i]
            s0 += wi * x0[i]
            s1 += wi * x1[i]
            s2 += wi * x2[i]
            s3 += wi * x3[i]
        zb[j] = s0 + b
        zb[j + 1] = s1 + b
        zb[j + 2] = s2 + b
        zb[j + 3] = s3 + b
        j += 4
    while j < nb:
        xj = XT[j0 + j]
        s = zero
        for i in range(n_x):
            s += w[i] * xj[i]
        zb[j] = s + b
        j += 1
    db, cost = _link(zb, Y[j0:j1], with_cost)
    j = 0
    while j + 4 <= nb:
        x0 = XT[j0 + j]
        x1 = XT[j0 + j + 1]
        x2 = XT[j0 + j + 2]
        x3 = XT[j0 + j + 3]
        d0 = zb[j]
        d1 = zb[j + 1]
        d2 = zb[j + 2]
        d3 = zb[j + 3]
        for i in range(n_x):
            dwk[i] += (x0[i] * d0 + x1[i] * d1) + (x2[i] * d2 + x3[i] * d3)
        j += 4
    while j < nb:
        xj = XT[j0 + j]
        dj = zb[j]
        for i in range(n_x):
            dwk[i] += xj[i] * dj
        j += 1
    return db, cost


@_jit()
def _chunk(w, b, Xs, Y, with_cost, mode, B, T, k, z, dwk):  # type: ignore[no-untyped-def]
    """Chunk ``k`` (tiles ``k T`` to ``k T + T - 1``) into ``dwk`` (zeroed here)."""
    zero = Xs.dtype.type(0.0)
    m = Y.shape[0]
    for i in range(dwk.shape[0]):
        dwk[i] = zero
    db = zero
    cost = zero
    for t in range(T):
        j0 = (k * T + t) * B
        if j0 >= m:
            break
        j1 = min(j0 + B, m)
        if mode == SAMPLE:
            d, c = _block_sm(w, b, Xs, Y, j0, j1, with_cost, z, dwk)
        else:
            d, c = _block(w, b, Xs, Y, j0, j1, with_cost, z, dwk)
        db += d
        cost += c
    return db, cost


@_jit()
def _panel_forward(w, X, r0, r1, zp):  # type: ignore[no-untyped-def]
    """``zp[j] = sum_{r0 <= i < r1} w_i X_ij``, eight rows at a time.

    Eight rows stream from memory at once, and ``z`` is loaded and stored once per eight
    multiply-adds (one thread, 12288x1000 float64: 11.7 ms against 16.8 ms four rows at
    a time; 4096x2000: 8.5 against 9.6).
    """
    zero = X.dtype.type(0.0)
    m = X.shape[1]
    for j0 in range(0, m, B_MAX):  # a segment of z stays in L1 while the rows pass
        j1 = min(j0 + B_MAX, m)
        zs = zp[j0:j1]
        for j in range(j1 - j0):
            zs[j] = zero
        i = r0
        while i + 8 <= r1:
            w0 = w[i]
            w1 = w[i + 1]
            w2 = w[i + 2]
            w3 = w[i + 3]
            w4 = w[i + 4]
            w5 = w[i + 5]
            w6 = w[i + 6]
            w7 = w[i + 7]
            x0 = X[i, j0:j1]
            x1 = X[i + 1, j0:j1]
            x2 = X[i + 2, j0:j1]
            x3 = X[i + 3, j0:j1]
            x4 = X[i + 4, j0:j1]
            x5 = X[i + 5, j0:j1]
            x6 = X[i + 6, j0:j1]
            x7 = X[i + 7, j0:j1]
            for j in range(j1 - j0):
                zs[j] += ((w0 * x0[j] + w1 * x1[j]) + (w2 * x2[j] + w3 * x3[j])) + (
                    (w4 * x4[j] + w5 * x5[j]) + (w6 * x6[j] + w7 * x7[j])
                )
            i += 8
        while i < r1:
            wi = w[i]
            xi = X[i, j0:j1]
            for j in range(j1 - j0):
                zs[j] += wi * xi[j]
            i += 1


@_jit()
def _panel_backward(X, d, r0, r1, dw):  # type: ignore[no-untyped-def]
    """``dw[i] = sum_j X_ij d_j`` for ``r0 <= i < r1``, eight rows at a time.

    Eight rows stream from memory at once (more memory-level parallelism than four),
    each ``d_j`` loaded once for eight multiply-adds.
    """
    zero = X.dtype.type(0.0)
    m = X.shape[1]
    i = r0
    while i + 8 <= r1:
        x0 = X[i]
        x1 = X[i + 1]
        x2 = X[i + 2]
        x3 = X[i + 3]
        x4 = X[i + 4]
        x5 = X[i + 5]
        x6 = X[i + 6]
        x7 = X[i + 7]
        s0 = zero
        s1 = zero
        s2 = zero
        s3 = zero
        s4 = zero
        s5 = zero
        s6 = zero
        s7 = zero
        for j in range(m):
            dj = d[j]
            s0 += x0[j] * dj
            s1 += x1[j] * dj
            s2 += x2[j] * dj
            s3 += x3[j] * dj
            s4 += x4[j] * dj
            s5 += x5[j] * dj
            s6 += x6[j] * dj
            s7 += x7[j] * dj
        dw[i] = s0
        dw[i + 1] = s1
        dw[i + 2] = s2
        dw[i + 3] = s3
        dw[i + 4] = s4
        dw[i + 5] = s5
        dw[i + 6] = s6
        dw[i + 7] = s7
        i += 8
    while i < r1:
        xi = X[i]
        s = zero
        for j in range(m):
            s += xi[j] * d[j]
        dw[i] = s
        i += 1


@_jit(inline=True)
def _sums_body(w, b, Xs, Y, with_cost, pl, zbuf, dwp, dbp, cp, dw):  # type: ignore[no-untyped-def]
    """Fill ``dw`` with ``sum_j X_ij d_j``; return ``(db_sum, cost_sum)`` in X's dtype.

    ``pl`` is a :class:`Plan` as a tuple of ints; ``Xs`` is ``X`` (C order) or ``X.T``.
    Inlined into its callers: its ``prange`` loops run on threads in the
    ``parallel=True`` ones (:func:`_sums_parallel`, :func:`_descend_parallel`) and as
    plain loops, over the same chunks or panels in the same order, in their serial
    twins.  Partial sums are added in chunk (panel) order after the loop, so the bits
    do not depend on the threads.
    """
    mode, B, T, _, P, _ = pl
    if mode == SPLIT:  # two passes by panels of P rows; the last row of zbuf is z
        n_x = Xs.shape[0]
        n_p = zbuf.shape[0] - 1
        z = zbuf[n_p]
        for p in prange(n_p):
            _panel_forward(w, Xs, p * P, min((p + 1) * P, n_x), zbuf[p])
        for j in range(z.shape[0]):
            z[j] = b
        for p in range(n_p):  # fixed order: panel 0, 1, 2, ...
            row = zbuf[p]
            for j in range(z.shape[0]):
                z[j] += row[j]
        db_split, cost_split = _link(z, Y, with_cost)
        for p in prange(n_p):
            _panel_backward(Xs, z, p * P, min((p + 1) * P, n_x), dw)
        return db_split, cost_split
    n_z = zbuf.shape[0]  # one scratch row per chunk in parallel, one row serially
    for k in prange(dwp.shape[0]):
        dk, ck = _chunk(w, b, Xs, Y, with_cost, mode, B, T, k, zbuf[k % n_z], dwp[k])
        dbp[k] = dk
        cp[k] = ck
    zero = Xs.dtype.type(0.0)
    for i in range(dw.shape[0]):
        dw[i] = zero
    db = zero
    cost = zero
    for k in range(dwp.shape[0]):  # fixed order: chunk 0, 1, 2, ...
        row = dwp[k]
        for i in range(dw.shape[0]):
            dw[i] += row[i]
        db += dbp[k]
        cost += cp[k]
    return db, cost


@_jit()
def _sums_serial(w, b, Xs, Y, with_cost, pl, zbuf, dwp, dbp, cp, dw):  # type: ignore[no-untyped-def]
    return _sums_body(w, b, Xs, Y, with_cost, pl, zbuf, dwp, dbp, cp, dw)


@_jit(parallel=True)
def _sums_parallel(w, b, Xs, Y, with_cost, pl, zbuf, dwp, dbp, cp, dw):  # type: ignore[no-untyped-def]
    return _sums_body(w, b, Xs, Y, with_cost, pl, zbuf, dwp, dbp, cp, dw)


def _layout(X: Array) -> tuple[Array, str]:
    """``(Xs, order)``: ``X`` itself if C-contiguous, else ``X.T`` (C-contiguous) and "F"."""
    if X.flags.c_contiguous or not X.flags.f_contiguous:
        return np.ascontiguousarray(X), "C"
    return X.T, "F"


def _prepare(X: Array, pl: Plan | None = None) -> tuple[Array, tuple[int, ...], tuple[Array, ...]]:
    """``(Xs, plan as ints, scratch arrays)`` for one step or descent over ``X``.

    ``pl``: the plan to follow (``vecstudy.tuning`` times candidates); default :func:`plan`.
    """
    n_x, m = X.shape
    Xs, order = _layout(X)
    if pl is None:
        pl = plan(n_x, m, X.dtype.itemsize, order)
    dt = X.dtype
    if pl.mode == SPLIT:
        zbuf = np.empty((pl.n_chunks + 1, m), dt)
        dwp = np.empty((1, 1), dt)
        dbp = cp = np.empty(1, dt)
    else:
        zbuf = np.empty((pl.n_chunks if pl.parallel else 1, pl.B), dt)
        dwp = np.empty((pl.n_chunks, n_x), dt)
        dbp, cp = np.empty(pl.n_chunks, dt), np.empty(pl.n_chunks, dt)
    # on one thread the serial loops (the same chunks in the same order: the same bits)
    # skip the parallel launch
    ints = (pl.mode, pl.B, pl.T, pl.n_chunks, pl.P, int(pl.parallel and get_threads() > 1))
    return Xs, ints, (zbuf, dwp, dbp, cp)


#: Bytes per sample from which the sample-major (F) path beats the fused C path.
#: Measured on 2 shared Xeon (Ice Lake) cores, float64, one thread, min of 7, C / F time
#: per step: n_x = 2: 0.50, 10: 0.63, 30: 0.82, 100: 0.78, 300: 1.13, 1000: 1.75,
#: 4096: 1.68, 12288: 1.87 (n_x * m = 1e6 to 8e6).
SAMPLE_MAJOR_MIN_BYTES: Final = 2048
#: ``optimize`` re-lays ``X`` out for at least this many iterations where the other
#: layout saves ~40% of a step or more (F for 1024 or more features in float64, C for
#: 16 or fewer), and for at least :data:`RELAYOUT_MIN_ITERATIONS_SMALL_GAIN` elsewhere
#: (~15% saved).  The copy (:func:`relayout`) costs 2 to 4 reads of ``X``.
RELAYOUT_MIN_ITERATIONS: Final = 20
RELAYOUT_MIN_ITERATIONS_SMALL_GAIN: Final = 100


def relayout_order(X: Array, num_iterations: int) -> str | None:
    """The order (``"C"`` or ``"F"``) worth copying ``X`` into for a descent, or None.

    None when ``X`` already has the faster layout for its shape, or when the iterations
    would not pay for the copy (see :data:`RELAYOUT_MIN_ITERATIONS`).  The faster layout
    is F (sample-major) from :data:`SAMPLE_MAJOR_MIN_BYTES` per sample, else C.  The
    caller decides whether the copy fits in memory.

    >>> import numpy as np
    >>> relayout_order(np.zeros((4096, 10)), 100), relayout_order(np.zeros((4096, 10)), 5)
    ('F', None)
    >>> relayout_order(np.zeros((3, 10), order="F"), 100), relayout_order(np.zeros((3, 10)), 100)
    ('C', None)
    """
    row = X.shape[0] * X.dtype.itemsize
    best = "F" if row >= SAMPLE_MAJOR_MIN_BYTES else "C"
    if _layout(X)[1] == best:
        return None
    large_gain = row >= 4 * SAMPLE_MAJOR_MIN_BYTES or row <= 16 * 8
    need = RELAYOUT_MIN_ITERATIONS if large_gain else RELAYOUT_MIN_ITERATIONS_SMALL_GAIN
    return best if num_iterations >= need else None


_TRANSPOSE_TILE: Final = 32


@_jit(parallel=True)
def _transpose(src, dst):  # type: ignore[no-untyped-def]
    """``dst[j, i] = src[i, j]`` (both C-contiguous), by 32 x 32 tiles, rows in parallel."""
    r, c = src.shape
    tb = _TRANSPOSE_TILE
    for bi in prange((r + tb - 1) // tb):
        i0 = bi * tb
        i1 = min(i0 + tb, r)
        for j0 in range(0, c, tb):
            for j in range(j0, min(j0 + tb, c)):
                drow = dst[j]
                for i in range(i0, i1):
                    drow[i] = src[i, j]


def relayout(X: Array, order: str) -> Array:
    """A copy of ``X`` in ``order`` ("C" or "F"), by a parallel cache-blocked transpose.

    About 2 to 4 reads of ``X``; NumPy's own transposing copy is single-threaded and
    walks one side with a large stride (248 ms against 11 ms for one read at 12288x1000).

    >>> import numpy as np
    >>> X = np.arange(6.0).reshape(2, 3)
    >>> F = relayout(X, "F")
    >>> bool(F.flags.f_contiguous and (F == X).all())
    True
    """
    n_x, m = X.shape
    if order == "F":
        dst = np.empty((m, n_x), X.dtype)
        _transpose(np.ascontiguousarray(X), dst)
        return dst.T
    out = np.empty((n_x, m), X.dtype)
    _transpose(np.asfortranarray(X).T, out)
    return out


def describe(X: Array) -> str:
    """How a step walks over ``X``: layout, tile and chunk sizes (for logs and benchmarks).

    >>> import numpy as np
    >>> describe(np.zeros((4, 100))).split(":")[0]
    'fused C'
    """
    n_x, m = X.shape
    _, order = _layout(X)
    pl = plan(n_x, m, X.dtype.itemsize, order)
    if pl.mode == SPLIT:
        what = f"{pl.n_chunks} panels of {pl.P} rows"
    else:
        what = f"{pl.n_chunks} chunks of {pl.T} x {pl.B} samples"
    return f"{MODE_NAMES[pl.mode]}: {what}, {'parallel' if pl.parallel else 'serial'}"


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


@_jit(inline=True)
def _descend_body(  # type: ignore[no-untyped-def]
    w, b, Xs, Y, k0, k1, lr, record_every, big, pl, zbuf, dwp, dbp, cp, dw_sum, dw, costs, n_rec
):
    """Iterations ``k0 <= k < k1`` of the descent, updating ``w`` and ``dw`` in place.

    Returns ``(b, db, n_rec, k)``: ``k < k1`` when iteration ``k`` stopped (non-finite
    gradient or update); ``w, b`` are then the last finite parameters.  Inlined, like
    :func:`_sums_body`, into a serial and a ``parallel=True`` kernel.
    """
    dt = Xs.dtype.type
    n_x = w.shape[0]
    inv_m = dt(1.0) / dt(Y.shape[0])
    db = dt(0.0)
    for k in range(k0, k1):
        record = k % record_every == 0
        db_sum, cost_sum = _sums_body(w, b, Xs, Y, record, pl, zbuf, dwp, dbp, cp, dw_sum)
        finite = True
        for i in range(n_x):
            dw[i] = dw_sum[i] * inv_m
            finite &= abs(w[i] - lr * dw[i]) <= big  # not np.isfinite: folded under reassoc
        db = db_sum * inv_m
        if record:
            costs[n_rec] = cost_sum * inv_m
            n_rec += 1
        new_b = b - lr * db
        if not (finite and abs(new_b) <= big):
            return b, db, n_rec, k
        for i in range(n_x):
            w[i] = w[i] - lr * dw[i]
        b = new_b
    return b, db, n_rec, k1


@_jit()
def _descend_serial(  # type: ignore[no-untyped-def]
    w, b, Xs, Y, k0, k1, lr, record_every, big, pl, zbuf, dwp, dbp, cp, dw_sum, dw, costs, n_rec
):
    return _descend_body(
        w, b, Xs, Y, k0, k1, lr, record_every, big, pl, zbuf, dwp, dbp, cp, dw_sum, dw, costs, n_rec
    )


@_jit(parallel=True)
def _descend_parallel(  # type: ignore[no-untyped-def]
    w, b, Xs, Y, k0, k1, lr, record_every, big, pl, zbuf, dwp, dbp, cp, dw_sum, dw, costs, n_rec
):
    return _descend_body(
        w, b, Xs, Y, k0, k1, lr, record_every, big, pl, zbuf, dwp, dbp, cp, dw_sum, dw, costs, n_rec
    )


#: Target seconds of compiled work between two checks for Ctrl-C (see :func:`optimize`).
SLICE_SECONDS: Final = 0.03


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
    unsliced loop.

    Returns
    -------
    w : (n_x,) ; b : float ; dw : (n_x,) ; db : float ; costs : (n_recorded,) ; done : int
    """
    dt = X.dtype.type
    n = int(num_iterations)
    every = int(record_every)
    Xs, pl, (zbuf, dwp, dbp, cp) = _prepare(X)
    w_cur = np.array(w, dtype=X.dtype, copy=True)
    dw_sum = np.empty_like(w_cur)
    dw = np.zeros_like(w_cur)
    db = dt(0.0)
    bb = dt(b)
    costs = np.empty(max(0, -(-n // every)), X.dtype)
    n_rec = 0
    lr = dt(learning_rate)
    big = dt(np.finfo(X.dtype).max)
    # first slice: ~10 ms at 1e9 elements/s (compilation, if any, then shrinks it)
    per_it = X.shape[0] * X.shape[1] * 1e-9 + 2e-6
    length = max(1, int(0.01 / per_it))
    descend = _descend_parallel if pl[5] else _descend_serial
    k = 0
    while k < n:
        k1 = min(n, k + length)
        t0 = time.perf_counter()
        try:
            b_new, db, n_rec, stop = descend(
                w_cur, bb, Xs, Y, k, k1, lr, every, big, pl, zbuf, dwp, dbp, cp,
                dw_sum, dw, costs, n_rec,
            )  # fmt: skip
        except SystemError as exc:  # a signal that arrived inside the compiled call
            if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
                raise KeyboardInterrupt from None
            raise
        bb = dt(b_new)
        db = dt(db)
        if stop < k1:
            k = stop
            break
        k = k1
        spent = time.perf_counter() - t0
        length = max(1, min(4 * length, int(length * SLICE_SECONDS / max(spent, 1e-6))))
    return w_cur, float(bb), dw, float(db), costs[:n_rec].copy(), int(k)


# --------------------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------------------


@_jit(parallel=True)
def _predict(w, b, Xs, sample_major, B, out):  # type: ignore[no-untyped-def]
    zero = Xs.dtype.type(0.0)
    one = Xs.dtype.type(1.0)
    m = out.shape[0]
    n_x = w.shape[0]
    n_blocks = (m + B - 1) // B
    for k in prange(n_blocks):
        j0 = k * B
        j1 = min(j0 + B, m)
        zb = out[j0:j1]
        if sample_major:
            for j in range(j1 - j0):
                xj = Xs[j0 + j]
                s = zero
                for i in range(n_x):
                    s += w[i] * xj[i]
                zb[j] = s + b
        else:
            for j in range(j1 - j0):
                zb[j] = b
            for i in range(n_x):
                wi = w[i]
                xi = Xs[i, j0:j1]
                for j in range(j1 - j0):
                    zb[j] += wi * xi[j]
        for j in range(j1 - j0):
            zb[j] = one if zb[j] > zero else zero


def predict(w: Array, b: float, X: Array) -> Array:
    """``(m,)`` array, 1.0 where ``sigmoid(w X + b) > 0.5`` (that is ``z > 0``), else 0.0."""
    out = np.empty(X.shape[1], X.dtype)
    Xs, order = _layout(X)
    B = max(B_MIN, block_size(X.shape[0], X.dtype.itemsize))
    _predict(w, X.dtype.type(b), Xs, order == "F", B, out)
    return out


# --------------------------------------------------------------------------------------
# Machine measurements and threads
# --------------------------------------------------------------------------------------

_READ_BLOCK: Final = 1 << 15


@_jit()
def _sum_range(a, j0, j1):  # type: ignore[no-untyped-def]
    s = a.dtype.type(0.0)
    seg = a[j0:j1]  # a slice indexed from 0 vectorizes; a[j0 + j] does not
    for j in range(seg.shape[0]):
        s += seg[j]
    return s


@_jit(parallel=True)
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
    flat = np.ravel(a, order="K")  # a view of a C- or F-contiguous array
    parts = np.empty(max(1, -(-flat.shape[0] // _READ_BLOCK)), flat.dtype)
    return float(_read_sum(flat, parts))


# --------------------------------------------------------------------------------------
# The course's micro-studies, as compiled loops (the pure-Python and NumPy versions
# live in vecstudy.study.micro)
# --------------------------------------------------------------------------------------


@_jit()
def _dot_loop(a, b):  # type: ignore[no-untyped-def]
    s = a.dtype.type(0.0)
    for j in range(a.shape[0]):
        s += a[j] * b[j]
    return s


@_jit(fastmath=frozenset())
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


@_jit()
def _percent_loop(A, out):  # type: ignore[no-untyped-def]
    for j in range(A.shape[1]):
        cal = A.dtype.type(0.0)
        for i in range(A.shape[0]):
            cal += A[i, j]
        for i in range(A.shape[0]):
            out[i, j] = A.dtype.type(100.0) * A[i, j] / cal


@_jit()
def _add_row_loop(a, b, c):  # type: ignore[no-untyped-def]
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            c[i, j] = a[i, j] + b[j, 0]


def percent_loop(A: Array) -> Array:
    """Each column of ``A`` as a percentage of its total, the course's loops, compiled."""
    out = np.empty_like(A)
    _percent_loop(A, out)
    return out


def add_row_loop(a: Array, b: Array) -> Array:
    """The quiz's ``c[i][j] = a[i][j] + b[j]`` (``b`` a column ``(n, 1)``), compiled."""
    c = np.empty_like(a)
    _add_row_loop(a, b, c)
    return c


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
    "relayout",
    "relayout_order",
    "set_threads",
    "sigmoid",
    "sigmoid_derivative",
    "threading_layer",
    "using_svml",
]
