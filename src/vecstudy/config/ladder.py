"""The precedence ladder of vecstudy: :func:`resolve_setting` and the :class:`Choice` it returns.

Every setting (backend, dtype, threads, the ``[dask]`` and ``[numba]`` tables, the
``[bench]`` options of :mod:`vecstudy.study.options`) is resolved by this one function:
argument > context > environment variable > config file > default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vecstudy.config.file import FileTable
from vecstudy.runtime import environ as _environ


@dataclass(frozen=True)
class Choice:
    """A resolved setting: its ``value`` and the ``source`` it came from."""

    value: Any
    source: str

    @property
    def name(self) -> Any:
        """Alias of :attr:`value`, natural for backends."""
        return self.value

    def __str__(self) -> str:
        return f"{self.value} (from {self.source})"

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:
        """IPython and notebooks show ``numpy (from default)``; ``repr`` is unchanged."""
        printer.text(str(self))


def resolve_setting(
    *,
    check: Callable[[Any, str], Any],
    default: Choice,
    argument: object = None,
    argument_source: str = "",
    context: Choice | None = None,
    env_name: str | None = None,
    env_blank_skipped: bool = True,
    file: Callable[[], FileTable | None] | None = None,
    file_key: str = "",
    check_default: bool = False,
) -> Choice:
    """One setting, from the first source that gives it: the precedence ladder of vecstudy.

    argument > context > environment variable > config file > default.  Each value
    found is passed through ``check(value, source)``, which returns the value to use or
    raises :class:`ConfigError` (or the caller's own error) naming ``source``.

    Parameters
    ----------
    check : callable
        ``check(value, source) -> value``; validates and converts.
    default : Choice
        Used when no source gives a value; checked too when ``check_default``.
    argument, argument_source : object, str
        The call's argument (``None``: not given) and how to name it
        (``"argument backend="``, ``"option --shapes"``).
    context : Choice, optional
        What a ``with`` block or a process-wide setter chose, already checked.
    env_name : str, optional
        The environment variable.  With ``env_blank_skipped`` a value that is blank
        once stripped counts as unset and a value is stripped; without, only an empty
        value counts as unset and the value is passed on as it is.
    file, file_key : callable, str
        ``file()`` gives the table of the config file to look in (called only when the
        sources above gave nothing, so an argument wins over a broken file), and
        ``file_key`` the key in it.

    >>> resolve_setting(check=lambda v, s: int(v), default=Choice(1, "default"))
    Choice(value=1, source='default')
    >>> str(resolve_setting(check=lambda v, s: int(v), default=Choice(1, "default"),
    ...                     argument="3", argument_source="argument n="))
    '3 (from argument n=)'
    """
    if argument is not None:
        return Choice(check(argument, argument_source), argument_source)
    if context is not None:
        return context
    env = None if env_name is None else _environ.get(env_name)
    if env is not None and (env.strip() if env_blank_skipped else env):
        source = f"environment variable {env_name}"
        return Choice(check(env.strip() if env_blank_skipped else env, source), source)
    table = None if file is None else file()
    if table is not None and file_key in table.table:
        source = table.source(file_key)
        return Choice(check(table.table[file_key], source), source)
    if check_default:
        return Choice(check(default.value, default.source), default.source)
    return default
