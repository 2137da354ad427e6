"""The ``[numba]`` table of the config file: ``tune``, whether numba uses measured plans.

:func:`resolve_tune` gives the mode in force (argument > :func:`use_tune` >
``VECSTUDY_TUNE`` > ``[numba] tune`` > :data:`DEFAULT_TUNE`); the plans themselves are
:mod:`vecstudy.backends.numba.tuning`'s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Final

from vecstudy.config.file import FileTable, file_section
from vecstudy.config.ladder import Choice, resolve_setting
from vecstudy.errors import ConfigError
from vecstudy.escape import short

ENV_TUNE: Final = "VECSTUDY_TUNE"
#: ``off``: the numba backend's cache model only; ``cached``: measured plans stored by
#: ``vecstudy tune`` where there are some, never measuring on its own; ``first-use``: as
#: ``cached``, and a shape with no stored plan nearby is tuned briefly on first use.
TUNE_MODES: Final = ("off", "cached", "first-use")
DEFAULT_TUNE: Final = "cached"
_context_tune: ContextVar[str | None] = ContextVar("vecstudy_tune", default=None)


def check_tune(value: object, source: str) -> str:
    """Return ``value`` if it is one of :data:`TUNE_MODES`, else raise."""
    if isinstance(value, str) and value.strip() in TUNE_MODES:
        return value.strip()
    valid = ", ".join(repr(v) for v in TUNE_MODES)
    raise ConfigError(f"bad numba tune {short(value)} from {source}; valid values are {valid}")


@contextlib.contextmanager
def use_tune(mode: str) -> Iterator[str]:
    """Use the numba tuning ``mode`` (see :data:`TUNE_MODES`) inside a ``with`` block."""
    token = _context_tune.set(check_tune(mode, "use_tune()"))
    try:
        yield mode
    finally:
        _context_tune.reset(token)


def resolve_tune(tune: str | None = None) -> Choice:
    """Whether the numba backend uses measured plans (see :mod:`vecstudy.backends.numba.tuning`).

    The argument, then :func:`use_tune`, then ``VECSTUDY_TUNE``, then ``tune`` in the
    ``[numba]`` table of the config file, then :data:`DEFAULT_TUNE`.
    """
    ctx = _context_tune.get()
    return resolve_setting(
        check=check_tune,
        default=Choice(DEFAULT_TUNE, "default"),
        argument=tune,
        argument_source="argument tune=",
        context=None if ctx is None else Choice(ctx, "use_tune()"),
        env_name=ENV_TUNE,
        file=numba_table,
        file_key="tune",
    )


def numba_table() -> FileTable | None:
    """The config file's ``[numba]`` table, checked for unknown keys, or None."""
    table, path = file_section("numba")
    unknown = sorted(set(table) - {"tune"})
    if unknown:
        raise ConfigError(
            f"config file {path}, table [numba]: unknown key {short(unknown[0])}; "
            "valid keys are tune"
        )
    return FileTable(table, lambda key: f"config file {path}, key 'numba.{key}'")
