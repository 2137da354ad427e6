"""The settings of every call: backend, dtype, threads, and the relayout bound.

Each is resolved by :func:`vecstudy.config.ladder.resolve_setting` (argument >
:func:`use_backend` / :func:`set_backend` > environment variable > config file >
default) and checked by its ``check_*`` function, which names the source of a bad value.
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Final

from vecstudy.config.file import top_table
from vecstudy.config.ladder import Choice, resolve_setting
from vecstudy.errors import ConfigError
from vecstudy.escape import bounded, short
from vecstudy.registry import available_backends, unknown_backend_message
from vecstudy.runtime import cores

#: Backend name that defers the choice to the problem's shape (see :mod:`vecstudy.auto`).
AUTO: Final = "auto"
DEFAULT_BACKEND: Final = "numpy"
VALID_DTYPES: Final = ("float64", "float32")

ENV_BACKEND: Final = "VECSTUDY_BACKEND"
ENV_DTYPE: Final = "VECSTUDY_DTYPE"
ENV_THREADS: Final = "VECSTUDY_THREADS"

#: The open :func:`use_backend` blocks of this context, innermost last, as
#: ``(entry id, choice)`` pairs.  A block removes its own entry on exit, so blocks
#: closed out of order (generators suspended inside them) restore correctly.
_context_backend: ContextVar[tuple[tuple[object, Choice], ...]] = ContextVar(
    "vecstudy_backend", default=()
)
_global_backend: Choice | None = None


# --------------------------------------------------------------------------- validation
def check_backend(name: object, source: str) -> str:
    """Return ``name`` if it is a registered backend or ``"auto"``, else raise."""
    if isinstance(name, str) and (name in available_backends() or name == AUTO):
        return name
    if isinstance(name, str):
        name = bounded(name, 50)
    raise ConfigError(unknown_backend_message(name, source))


def check_dtype(value: object, source: str) -> str:
    """Return the dtype name if it is one of :data:`VALID_DTYPES`, else raise."""
    if isinstance(value, str) and value in VALID_DTYPES:
        return value
    valid = ", ".join(repr(d) for d in VALID_DTYPES)
    raise ConfigError(f"unknown dtype {short(value)} from {source}; valid dtypes are {valid}")


def available_cores() -> int:
    """Cores this process may run on: :func:`vecstudy.runtime.cores.available_cores`."""
    return cores.available_cores()


def check_threads(value: object, source: str) -> int | None:
    """Return a positive thread count (``"all"`` -> the cores available), else raise."""
    if type(value) is int and value >= 1:  # the usual case, without the ABC checks below
        return value
    given = value
    if isinstance(value, str):
        text = value.strip()
        if text == "all":
            return available_cores()
        with contextlib.suppress(ValueError):
            value = int(text)
    if not isinstance(value, bool) and isinstance(value, numbers.Integral) and int(value) >= 1:
        return int(value)
    value = given
    raise ConfigError(
        f"bad threads {short(value)} from {source}; expected a positive integer or 'all'"
    )


# --------------------------------------------------------------------------- backend
def set_backend(name: str | None) -> None:
    """Set the process-wide backend; ``None`` clears it (back to env/file/default)."""
    global _global_backend
    _global_backend = (
        None if name is None else Choice(check_backend(name, "set_backend()"), "set_backend()")
    )


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Choice]:
    """Use backend ``name`` inside a ``with`` block (thread- and task-local).

    Blocks may close in any order (a generator suspended inside one closes later):
    each removes only its own setting, and the innermost block still open wins.
    """
    choice = Choice(check_backend(name, "use_backend()"), "use_backend()")
    entry = object()
    _context_backend.set((*_context_backend.get(), (entry, choice)))
    try:
        yield choice
    finally:
        # remove this block's entry wherever it is now (not "restore what was before":
        # a block entered later may still be open, e.g. in a suspended generator)
        _context_backend.set(tuple(e for e in _context_backend.get() if e[0] is not entry))


#: The defaults, built once (a Choice is frozen): every API call resolves these.
_DEFAULT_BACKEND: Final = Choice(DEFAULT_BACKEND, "default")
_DEFAULT_DTYPES: Final = {d: Choice(d, "default (dtype of the input)") for d in VALID_DTYPES}
_DEFAULT_FLOAT64: Final = Choice("float64", "default")
_DEFAULT_THREADS: Final = Choice(None, "default")


def resolve_backend(backend: str | None = None) -> Choice:
    """The backend in force for a call with argument ``backend``, and its source."""
    ctx = _context_backend.get()
    return resolve_setting(
        check=check_backend,
        default=_DEFAULT_BACKEND,
        argument=backend,
        argument_source="argument backend=",
        context=ctx[-1][1] if ctx else _global_backend,
        env_name=ENV_BACKEND,
        file=top_table,
        file_key="backend",
    )


def get_backend() -> Choice:
    """Which backend is in force now, and where that choice came from.

    >>> import vecstudy
    >>> with vecstudy.use_backend("python"):
    ...     print(vecstudy.get_backend())
    python (from use_backend())
    """
    return resolve_backend(None)


# --------------------------------------------------------------------------- dtype, threads
def _dtype_name(dtype: object) -> object:
    """``np.float32`` or ``np.dtype("float32")`` -> ``"float32"``; anything else unchanged."""
    import numpy as np

    try:
        return np.dtype(dtype).name  # type: ignore[call-overload]
    except TypeError:
        return dtype


@functools.lru_cache(maxsize=64)
def _dtype_text(dtype: object) -> str:
    """``str(dtype)``, remembered: NumPy builds a dtype's name in Python (microseconds),
    and every API call needs it."""
    return str(dtype)


def resolve_dtype(dtype: object = None, data_dtype: object = None) -> Choice:
    """The floating dtype name for a call (``dtype``: a name, or anything ``np.dtype`` reads).

    ``data_dtype`` is the input's dtype, for the default.
    """
    name = _dtype_text(data_dtype) if data_dtype is not None else ""
    return resolve_setting(
        check=check_dtype,
        default=_DEFAULT_DTYPES.get(name, _DEFAULT_FLOAT64),
        argument=dtype if dtype is None or isinstance(dtype, str) else _dtype_name(dtype),
        argument_source="argument dtype=",
        env_name=ENV_DTYPE,
        file=top_table,
        file_key="dtype",
    )


def resolve_threads(threads: int | str | None = None) -> Choice:
    """The thread count for a call (``None`` value: leave the libraries' settings alone)."""
    return resolve_setting(
        check=check_threads,
        default=_DEFAULT_THREADS,
        argument=threads,
        argument_source="argument threads=",
        env_name=ENV_THREADS,
        file=top_table,
        file_key="threads",
    )


# --------------------------------------------------------------------------- relayout bound
ENV_RELAYOUT_MAX_MB: Final = "VECSTUDY_RELAYOUT_MAX_MB"
#: Largest ``X`` (in MB, 1e6 bytes) that ``optimize`` may copy once into a faster layout.
DEFAULT_RELAYOUT_MAX_MB: Final = 1000.0


def check_relayout_max_mb(value: object, source: str) -> float:
    """Return a size in MB >= 0 (0 turns the relayout off), else raise."""
    given = value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value.strip())
    if (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(float(value))
        and float(value) >= 0
    ):
        return float(value)
    raise ConfigError(
        f"bad relayout_max_mb {short(given)} from {source}; expected a size in MB >= 0 "
        "(0: never copy X into another layout)"
    )


def resolve_relayout_max_mb() -> Choice:
    """How large an ``X`` (MB) ``optimize`` may copy once into the layout its kernel prefers.

    From ``VECSTUDY_RELAYOUT_MAX_MB``, else the config file's ``relayout_max_mb``, else
    :data:`DEFAULT_RELAYOUT_MAX_MB`.
    """
    return resolve_setting(
        check=check_relayout_max_mb,
        default=Choice(DEFAULT_RELAYOUT_MAX_MB, "default"),
        env_name=ENV_RELAYOUT_MAX_MB,
        file=top_table,
        file_key="relayout_max_mb",
    )
