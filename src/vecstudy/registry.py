"""The backend registry: backend name -> module, imported lazily on first use.

The one list that tests, benchmarks, the configuration and the command line iterate
(the kernel interface every registered module provides is described in
:mod:`vecstudy.backends`).  This module imports nothing of the package but
:mod:`vecstudy.errors`, so that :mod:`vecstudy.config` can check backend names
without importing any backend; the built-in backends are registered here by module
path, as strings.
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


def available_backends(*, installed: bool = False) -> tuple[str, ...]:
    """Names of the registered backends, in registration order.

    Registered is not installed: a backend whose optional dependencies are missing
    (``dask`` without ``pip install 'vecstudy[dask]'``) is named too, and using it
    raises :class:`BackendUnavailable` naming the extra.  ``installed=True`` names only
    the backends that load here (finding out imports those that need an extra);
    ``vecstudy info`` prints both lists.

    >>> import vecstudy
    >>> vecstudy.available_backends()[:3]
    ('python', 'numba', 'numpy')
    """
    if not installed:
        return tuple(_REGISTRY)
    names = []
    for name in _REGISTRY:
        if name in _EXTRAS:
            try:
                load(name)
            except BackendUnavailable:
                continue
        names.append(name)
    return tuple(names)


def backend_extra(name: str) -> str | None:
    """The pip extra that installs backend ``name``'s optional dependencies (None: none needed)."""
    return _EXTRAS.get(name)


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
