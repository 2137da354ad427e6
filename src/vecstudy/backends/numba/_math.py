"""``exp`` and ``log1p`` in plain arithmetic, so that the kernels' loops vectorize.

Range reduction, a polynomial, and ``2**n`` built from the exponent bits: no call to a
vector math library (SVML), so LLVM vectorizes the loops that use them.  Over the range
the kernels need, ``exp`` of ``x <= 0`` is within 1 ulp of NumPy's and ``log1p`` of
``0 <= e <= 1`` within 2 ulp (``tests/test_math.py``), in the dtype of the argument:
float32 stays float32.

Kernels call :func:`_exp_nonpos` and :func:`_log1p_unit`; numba picks the float32 or
float64 version by the overloads below.  The module is named ``_math`` so that it does
not stand in for the standard library's ``math`` as an attribute of the package.
"""

# Numba internals are untyped (intrinsics):
# mypy: disable-error-code="misc,import-untyped,call-arg,unreachable,var-annotated"

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

from vecstudy.backends.numba.jit import _FASTMATH_SAFE, JIT_DISABLED, _jit


@intrinsic
def _i64_as_f64(typingctx: Any, x: Any) -> Any:
    """Reinterpret the bits of an int64 as a float64 (an LLVM ``bitcast``)."""
    sig = types.float64(types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def _f64_as_i64(typingctx: Any, x: Any) -> Any:
    """Reinterpret the bits of a float64 as an int64 (an LLVM ``bitcast``)."""
    sig = types.int64(types.float64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.IntType(64))

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

    def _f64_as_i64(x: Any) -> Any:
        return np.float64(x).view(np.int64)

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
#
# Written for machines without AVX-512 as much as with it (measured on an AVX2 AMD EPYC:
# 2.73 to 1.85 ns per element, still within 1 ulp):
# - the float64 polynomial's terms from r**3 on are summed by Estrin's scheme, the last
#   three by Horner's (for accuracy): 7 dependent steps instead of 14, since with 16
#   vector registers few iterations of the loop overlap;
# - 2**k is built without converting a double to an int64, which AVX2 has no vector
#   instruction for (the loop converted lane by lane): k + 2**52 + 1023, an integer
#   below 2**53, is exact as a double, and its low mantissa bits are k + 1023, which
#   shifted left by 52 become the exponent field of 2**k.
_EXP_BIAS_SHIFTER_64 = 4503599627371519.0  # 2**52 + 1023
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
    r2 = r * r
    r4 = r2 * r2
    a0 = 1.0 / 6.0 + r * (1.0 / 24.0)
    a1 = 1.0 / 120.0 + r * (1.0 / 720.0)
    a2 = 1.0 / 5040.0 + r * (1.0 / 40320.0)
    a3 = 1.0 / 362880.0 + r * (1.0 / 3628800.0)
    a4 = 1.0 / 39916800.0 + r * (1.0 / 479001600.0)
    b0 = a0 + r2 * a1
    b1 = a2 + r2 * a3
    b2 = a4 + r2 * (1.0 / 6227020800.0)
    tail = (b0 + r4 * b1) + (r4 * r4) * b2  # sum of r**k / (k + 3)! for k = 0..10
    p = ((tail * r + 0.5) * r + 1.0) * r + 1.0
    t1 = np.floor(t * 0.5)  # n // 2 as a double: -538 <= t1 <= 0 for x >= -745.2
    s1 = _i64_as_f64(_f64_as_i64(t1 + _EXP_BIAS_SHIFTER_64) << 52)
    s2 = _i64_as_f64(_f64_as_i64((t - t1) + _EXP_BIAS_SHIFTER_64) << 52)
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
