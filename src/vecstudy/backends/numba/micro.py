"""The course's micro-studies, as compiled loops.

The pure-Python and NumPy versions live in :mod:`vecstudy.study.micro`, which times the
three side by side.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecstudy.backends.numba.jit import _jit

Array = NDArray[np.floating[Any]]


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


__all__ = ["add_row_loop", "dot_loop", "exp_loop", "percent_loop"]
