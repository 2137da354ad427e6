"""NumPy backend: the course's vectorized step, with no Python loop over samples or features.

One step reads ``X`` twice (``w @ X`` for the forward pass, ``X @ (a - y)`` for the
backward pass) and allocates a few length-``m`` temporaries.  Every operation keeps the
dtype of ``X`` (float32 stays float32).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]


def _forward(w: Array, b: float, X: Array) -> tuple[Array, Array]:
    """Return ``z = w @ X + b`` and ``e = exp(-|z|)`` (never overflows)."""
    z = w @ X
    z += X.dtype.type(b)
    e = np.exp(-np.abs(z))
    return z, e


def _sigmoid_from(z: Array, e: Array) -> Array:
    """Stable sigmoid given ``e = exp(-|z|)``: ``1/(1+e)`` for z >= 0, ``e/(1+e)`` otherwise."""
    one = e.dtype.type(1.0)
    return np.where(z >= 0, one, e) / (one + e)


def _cost_terms(z: Array, e: Array, Y: Array) -> Array:
    """Per-sample cross-entropy ``log1p(exp(-|z|)) + max(z, 0) - y z``."""
    return np.log1p(e) + np.maximum(z, z.dtype.type(0.0)) - Y * z


def sigmoid(z: Array) -> Array:
    """Elementwise stable sigmoid ``1 / (1 + exp(-z))``."""
    z = np.asarray(z)
    return _sigmoid_from(z, np.exp(-np.abs(z)))


def sigmoid_derivative(x: Array) -> Array:
    """Elementwise ``s (1 - s)`` with ``s = sigmoid(x)``."""
    s = sigmoid(x)
    return s * (s.dtype.type(1.0) - s)


def _sums(w: Array, b: float, X: Array, Y: Array, with_cost: bool) -> tuple[Array, float, float]:
    """:func:`gradient_sums` without its ``np.errstate`` (the caller sets it)."""
    z, e = _forward(w, b, X)
    d = _sigmoid_from(z, e)
    d -= Y
    dw = X @ d
    cost = float(_cost_terms(z, e, Y).sum()) if with_cost else 0.0
    db = float(d.sum())
    if not np.isfinite(z).all():  # report an overflowed z: d alone looks harmless
        db = float("nan")
    return dw, db, cost


def gradient_sums(
    w: Array, b: float, X: Array, Y: Array, with_cost: bool
) -> tuple[Array, float, float]:
    """Sums over the samples of ``X``: ``(X (a - y), sum(a - y), sum(cost_j))``.

    ``db`` is NaN when some ``z_j`` is non-finite (overflow); ``dw`` and the cost are
    non-finite when they overflow.  No warning is issued: the caller checks.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return _sums(w, b, X, Y, with_cost)


def propagate(w: Array, b: float, X: Array, Y: Array) -> tuple[Array, float, float]:
    """Mean gradients and cost of one batch: ``(X (a - y)/m, mean(a - y), mean(cost_j))``."""
    m = X.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):
        dw, db, cost = _sums(w, b, X, Y, True)
        dw /= X.dtype.type(m)
    return dw, db / m, cost / m


def optimize(
    w: Array,
    b: float,
    X: Array,
    Y: Array,
    num_iterations: int,
    learning_rate: float,
    record_every: int,
) -> tuple[Array, float, Array, float, Array, int]:
    """Batch gradient descent; see :mod:`vecstudy.backends` for the contract."""
    dtype = X.dtype.type
    m = X.shape[1]
    inv_m = dtype(1.0) / dtype(m)
    lr = dtype(learning_rate)
    w = w.copy()
    bb = dtype(b)
    dw = np.zeros_like(w)
    db = dtype(0.0)
    costs: list[float] = []
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite values are checked
        for k in range(num_iterations):
            record = k % record_every == 0
            dw_sum, db_sum, cost_sum = _sums(w, float(bb), X, Y, record)
            dw = dw_sum * inv_m
            db = dtype(db_sum) * inv_m
            if record:
                costs.append(cost_sum / m)
            new_w = w - lr * dw
            new_b = bb - lr * db
            # a non-finite gradient (db is NaN when z overflowed) or update stops here
            if not (np.isfinite(new_b) and np.isfinite(new_w).all()):
                return w, float(bb), dw, float(db), np.asarray(costs, dtype=X.dtype), k
            w, bb = new_w, new_b
    return w, float(bb), dw, float(db), np.asarray(costs, dtype=X.dtype), num_iterations


def predict(w: Array, b: float, X: Array) -> Array:
    """1.0 where ``sigmoid(w @ X + b) > 0.5`` (that is, ``z > 0``), else 0.0.

    NaN where ``z`` is not finite (see :mod:`vecstudy.backends`).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        z = w @ X
        z += X.dtype.type(b)
    out = (z > 0).astype(X.dtype)
    out[~np.isfinite(z)] = np.nan
    return out
