"""The backend registry: the one list that tests, benchmarks, config and the CLI iterate.

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
    1.0 where ``sigmoid(z) > 0.5``.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Final

from vecstudy.errors import BackendUnavailable as BackendUnavailable

#: Interface every backend module must provide.
KERNEL_FUNCTIONS: Final = (
    "sigmoid",
    "sigmoid_derivative",
    "gradient_sums",
    "propagate",
    "optimize",
    "predict",
)

_REGISTRY: dict[str, str] = {}
#: The pip extra that provides a backend's optional dependencies.
_EXTRAS: dict[str, str] = {}
_LOADED: dict[str, ModuleType] = {}


def register(name: str, module: str, *, extra: str | None = None) -> None:
    """Register backend ``name`` implemented by importable ``module``.

    The module is imported lazily, on first use.  Registering a name twice is
    an error.  ``extra`` names the pip extra holding the backend's optional
    dependencies: when importing the module fails for want of one, :func:`load`
    raises :class:`BackendUnavailable` naming it.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"backend name must be an identifier, got {name!r}")
    if name in _REGISTRY:
        raise ValueError(f"backend {name!r} is already registered (module {_REGISTRY[name]!r})")
    _REGISTRY[name] = module
    if extra is not None:
        _EXTRAS[name] = extra


def available_backends() -> tuple[str, ...]:
    """Names of the registered backends, in registration order."""
    return tuple(_REGISTRY)


def unknown_backend_message(name: object, source: str) -> str:
    """The error text for an unknown backend name coming from ``source``."""
    valid = ", ".join(repr(n) for n in (*available_backends(), "auto"))
    return f"unknown backend {name!r} from {source}; valid backends are {valid}"


def load(name: str) -> ModuleType:
    """Import (once) and return the module of backend ``name``."""
    try:
        return _LOADED[name]
    except KeyError:
        pass
    if name not in _REGISTRY:
        raise ValueError(unknown_backend_message(name, "the registry"))
    try:
        module = importlib.import_module(_REGISTRY[name])
    except ImportError as exc:
        own = (exc.name or "").startswith("vecstudy")
        if name not in _EXTRAS or own or isinstance(exc, BackendUnavailable):
            raise
        dependency = exc.name or str(exc)
        raise BackendUnavailable(
            f"backend {name!r} needs {dependency}, which is not installed; "
            f"install it with: pip install 'vecstudy[{_EXTRAS[name]}]' "
            f"(from a clone: pip install '.[{_EXTRAS[name]}]')"
        ) from exc
    missing = [f for f in KERNEL_FUNCTIONS if not callable(getattr(module, f, None))]
    if missing:
        raise TypeError(f"backend {name!r} ({module.__name__}) lacks {', '.join(missing)}")
    _LOADED[name] = module
    return module


register("python", "vecstudy.backends.python")
register("numba", "vecstudy.backends.numba")
register("numpy", "vecstudy.backends.numpy")
register("dask", "vecstudy.backends.dask", extra="dask")
