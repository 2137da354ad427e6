"""The course's micro-studies and the read-bandwidth probe: the functions that are timed.

Each micro-study is one operation on ``float64`` vectors of length ``n``: the
course's explicit Python loop, NumPy, and (in the numba backend) a compiled loop.
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
