"""The course's micro-studies and the read-bandwidth probe: the functions that are timed.

Each micro-study is one operation on ``float64`` vectors of length ``n`` (dot
product, ``exp``) or on a ``(3, n)`` table (the calories table's percentages, the
quiz's ``a + b.T``): the course's explicit Python loop, NumPy, and (in the numba
backend) a compiled loop.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating[Any]]


def dot_loop_python(a: Array, b: Array) -> float:
    """Dot product as the course's explicit loop over NumPy arrays (``c += a[i] * b[i]``)."""
    c = 0.0
    for i in range(len(a)):
        c += a[i] * b[i]
    return float(c)


def exp_loop_python(v: Array) -> Array:
    """Elementwise exp as the course's loop: ``u[i] = math.exp(v[i])``."""
    u = np.zeros(len(v))
    for i in range(len(v)):
        u[i] = math.exp(v[i])
    return u


def dot_numpy(a: Array, b: Array) -> float:
    """Dot product with :func:`numpy.dot`."""
    return float(np.dot(a, b))


def exp_numpy(v: Array) -> Array:
    """Elementwise exp with :func:`numpy.exp`."""
    return np.exp(v)


def read_numpy(a: Array) -> float:
    """Read every element once with :func:`numpy.sum` (single-threaded)."""
    return float(np.sum(a))


# The course's broadcasting examples.  Both work on a table of TABLE_ROWS rows (the
# course's 3 x 4 calories table: carbohydrate, protein, fat per 100 g of 4 foods),
# widened to many columns so that the loop and the broadcast are measurable.
#: Rows of the broadcasting studies' tables (the course's 3).
TABLE_ROWS = 3


def table_columns(micro_size: int) -> int:
    """Columns of the broadcasting studies' ``(3, n)`` tables for a ``micro_size``.

    A tenth of the vector studies' length: ``3 x 100,000`` at the default
    ``1,000,000``.  The double loops do about ten times the Python work per element
    of the dot product's loop, so this keeps each loop call near the dot loop's
    time while NumPy's broadcast still takes a measurable millisecond or so.
    """
    return max(1, micro_size // 10)


def percent_loop_python(A: Array) -> Array:
    """Each column as a percentage of its total, as explicit loops over a ``(3, n)`` table.

    The course's calories example written without broadcasting: for each column
    ``j``, ``cal = sum_i A[i, j]``, then ``percentage[i, j] = 100 * A[i, j] / cal``.
    """
    rows, cols = A.shape
    percentage = np.zeros((rows, cols))
    for j in range(cols):
        cal = 0.0
        for i in range(rows):
            cal += A[i, j]
        for i in range(rows):
            percentage[i, j] = 100 * A[i, j] / cal
    return percentage


def percent_numpy(A: Array) -> Array:
    """The course's broadcast: ``cal = A.sum(axis=0)``; ``100 * A / cal.reshape(1, n)``."""
    cal = A.sum(axis=0)
    percentage: Array = 100 * A / cal.reshape(1, A.shape[1])
    return percentage


def add_row_loop_python(a: Array, b: Array) -> Array:
    """The quiz's double loop ``c[i][j] = a[i][j] + b[j]`` for ``a`` ``(3, n)``, ``b`` ``(n, 1)``.

    ``b`` is a column, so ``b[j]`` is a 1-element array: its element ``b[j][0]`` is
    added (adding the array itself makes NumPy convert a 1-element array to a scalar
    on assignment, which it deprecates).
    """
    c = np.zeros(a.shape)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            c[i][j] = a[i][j] + b[j][0]
    return c


def add_row_numpy(a: Array, b: Array) -> Array:
    """The quiz's answer: ``c = a + b.T`` (``b.T`` is ``(1, n)``, broadcast over the rows)."""
    return a + b.T
