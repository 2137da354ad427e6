"""Pure-Python backend: the course's non-vectorized double for-loop.

The readable reference every other backend is checked against.  Arrays are turned
into lists of plain Python floats once at the entry of each function; the loops
then use only floats and the :mod:`math` module, with no NumPy in the hot path.
Arithmetic is in Python floats (IEEE double) whatever the input dtype; results are
returned in the dtype of ``X``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]


def _sigmoid1(z: float) -> float:
    """Stable sigmoid of one float."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _sums(
    w: list[float], b: float, rows: list[list[float]], y: list[float], with_cost: bool
) -> tuple[list[float], float, float]:
    """The double loop: sums over samples of ``x_j (a_j - y_j)``, ``a_j - y_j`` and the cost."""
    n_x = len(rows)
    m = len(y)
    dw = [0.0] * n_x
    db = 0.0
    cost = 0.0
    for j in range(m):
        z = b
        for i in range(n_x):
            z += w[i] * rows[i][j]
        e = math.exp(-abs(z))
        a = 1.0 / (1.0 + e) if z >= 0.0 else e / (1.0 + e)
        d = a - y[j]
        for i in range(n_x):
            dw[i] += rows[i][j] * d
        db += d + 0.0 * z  # NaN when z overflowed: the contract's report of it
        if with_cost:
            cost += math.log1p(e) + max(z, 0.0) - y[j] * z
    return dw, db, cost


def _lists(w: Array, X: Array, Y: Array) -> tuple[list[float], list[list[float]], list[float]]:
    # tolist() reads C- and F-ordered arrays alike (row i of X is feature i)
    return [float(v) for v in w.tolist()], X.tolist(), [float(v) for v in Y.tolist()]


def _array(values: list[float], dtype: np.dtype[np.floating]) -> Array:
    """``values`` as an array of ``dtype``; a value too large for it becomes infinity."""
    with np.errstate(over="ignore"):
        return np.asarray(values, dtype=dtype)


def sigmoid(z: Array) -> Array:
    """Elementwise stable sigmoid, one Python float at a time."""
    z = np.asarray(z)
    flat = [_sigmoid1(float(v)) for v in z.ravel().tolist()]
    return np.asarray(flat, dtype=z.dtype).reshape(z.shape)


def sigmoid_derivative(x: Array) -> Array:
    """Elementwise ``s (1 - s)`` with ``s = sigmoid(x)``."""
    x = np.asarray(x)
    flat = [s * (1.0 - s) for s in (_sigmoid1(float(v)) for v in x.ravel().tolist())]
    return np.asarray(flat, dtype=x.dtype).reshape(x.shape)


def gradient_sums(
    w: Array, b: float, X: Array, Y: Array, with_cost: bool
) -> tuple[Array, float, float]:
    """Sums over the samples of ``X``; see :mod:`vecstudy.backends`."""
    wl, rows, yl = _lists(w, X, Y)
    dw, db, cost = _sums(wl, float(b), rows, yl, with_cost)
    return _array(dw, X.dtype), db, cost


def propagate(w: Array, b: float, X: Array, Y: Array) -> tuple[Array, float, float]:
    """Mean gradients and cost of one batch."""
    m = X.shape[1]
    wl, rows, yl = _lists(w, X, Y)
    dw, db, cost = _sums(wl, float(b), rows, yl, True)
    return _array([v / m for v in dw], X.dtype), db / m, cost / m


def optimize(
    w: Array,
    b: float,
    X: Array,
    Y: Array,
    num_iterations: int,
    learning_rate: float,
    record_every: int,
) -> tuple[Array, float, Array, float, Array, int]:
    """Batch gradient descent in plain Python floats; see :mod:`vecstudy.backends`."""
    m = X.shape[1]
    wl, rows, yl = _lists(w, X, Y)
    bb = float(b)
    lr = float(learning_rate)
    dw = [0.0] * len(wl)
    db = 0.0
    costs: list[float] = []
    done = num_iterations
    # the parameters are returned in X's dtype: they must stay finite there too
    limit = float(np.finfo(X.dtype).max)
    for k in range(num_iterations):
        record = k % record_every == 0
        dw_sum, db_sum, cost_sum = _sums(wl, bb, rows, yl, record)
        dw = [v / m for v in dw_sum]
        db = db_sum / m
        if record:
            costs.append(cost_sum / m)
        new_w = [wi - lr * gi for wi, gi in zip(wl, dw, strict=True)]
        new_b = bb - lr * db
        # a non-finite gradient (db is NaN when z overflowed) makes the update non-finite
        if not (abs(new_b) <= limit and all(abs(v) <= limit for v in new_w)):
            done = k
            break
        wl, bb = new_w, new_b
    dtype = X.dtype
    return (_array(wl, dtype), bb, _array(dw, dtype), db, _array(costs, dtype), done)


def predict(w: Array, b: float, X: Array) -> Array:
    """1.0 where ``z = w . x_j + b > 0`` (the exact form of ``sigmoid(z) > 0.5``), else 0.0.

    NaN where ``z`` is not finite (see :mod:`vecstudy.backends`).
    """
    wl, rows, _ = _lists(w, X, X[0])
    n_x = len(rows)
    out = []
    for j in range(X.shape[1]):
        z = float(b)
        for i in range(n_x):
            z += wl[i] * rows[i][j]
        out.append(math.nan if not math.isfinite(z) else 1.0 if z > 0.0 else 0.0)
    return np.asarray(out, dtype=X.dtype)
