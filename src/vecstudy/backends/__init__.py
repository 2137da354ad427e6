"""The backends and the kernel interface they share; the registry is re-exported here.

The registry (:mod:`vecstudy.registry`) is the one list that tests, benchmarks,
config and the CLI iterate; its functions (``load``, ``register``,
``available_backends``...) are importable from here too.

Every backend is a module with the same functions and signatures (the *kernel
interface*).  Kernels are strict and lean: they never validate, never read
config and never print.  The friendly layer in :mod:`vecstudy.api` validates
and converts once, then calls them.

Kernel interface
----------------
All arrays share one floating dtype (float32 or float64); ``X`` is C- or F-contiguous,
``w`` and ``Y`` are 1-D contiguous.  Kernels never raise on overflow; they report it:
``db`` is NaN whenever some ``z_j`` is non-finite, ``dw`` and the cost are non-finite
when they overflow, and ``optimize`` stops early (below).

``w``  : (n_x,) 1-D weights
``b``  : Python float
``X``  : (n_x, m) features, one column per sample (the course's layout)
``Y``  : (m,) 1-D labels, 0.0 or 1.0

``sigmoid(z)`` / ``sigmoid_derivative(x)``
    Elementwise, numerically stable, same shape and dtype as the input.
``gradient_sums(w, b, X, Y, with_cost)`` -> ``(dw_sum, db_sum, cost_sum)``
    Sums (not means) over the samples in ``X``, so the results of column
    chunks add up to the result for the whole batch::

        z_j   = b + sum_i w_i X_ij
        a_j   = sigmoid(z_j)
        dw_i  = sum_j X_ij (a_j - y_j)
        db    = sum_j (a_j - y_j)
        cost  = sum_j log1p(exp(-|z_j|)) + max(z_j, 0) - y_j z_j

    ``cost_sum`` is 0.0 when ``with_cost`` is false (the kernel may skip it).
``propagate(w, b, X, Y)`` -> ``(dw, db, cost)``
    The means: the sums above divided by ``m``.
``optimize(w, b, X, Y, num_iterations, learning_rate, record_every)``
    -> ``(w, b, dw, db, costs, done)``
    Batch gradient descent as in the course: at each iteration ``k`` compute
    the gradients (and the cost when ``k % record_every == 0``), then
    ``w -= learning_rate * dw``; ``b -= learning_rate * db``.  ``dw, db`` are
    the last gradients computed, ``costs`` the recorded costs (1-D, dtype of
    ``X``).  ``done`` is the number of updates applied: it is less than
    ``num_iterations`` only when the gradient at an iteration is non-finite or
    an update would make ``w`` or ``b`` non-finite; the kernel then stops and
    returns the last finite parameters and the gradient (and costs) computed so
    far.  Inputs are never modified.
``predict(w, b, X)`` -> ``(m,)`` array of 0.0 / 1.0 in the dtype of ``X``
    1.0 where ``sigmoid(z) > 0.5``, that is ``z > 0``; NaN where ``z_j`` is not finite
    (overflow, or a NaN or infinity in ``X``), so that the caller checks ``m`` labels
    instead of reading ``X`` again.
"""

from __future__ import annotations

# The registry lives in vecstudy.registry (it imports no backend); its names are
# re-exported here, where they were first defined.
from vecstudy.registry import (
    _LOADED,  # noqa: F401 - the loaded modules, which tests reset
    KERNEL_FUNCTIONS,
    BackendUnavailable,
    available_backends,
    backend_extra,
    load,
    register,
    unknown_backend_message,
)

__all__ = [
    "KERNEL_FUNCTIONS",
    "BackendUnavailable",
    "available_backends",
    "backend_extra",
    "load",
    "register",
    "unknown_backend_message",
]
