"""Which backend, dtype and thread count are in force, and where each choice came from.

Resolved on every call, never frozen at import.  For each setting the first source
that gives a value wins:

1. the keyword argument of the call (``backend=``, ``dtype=``, ``threads=``);
2. :func:`use_backend` (a context manager) or :func:`set_backend` (backend only);
3. the environment variable ``VECSTUDY_BACKEND`` / ``VECSTUDY_DTYPE`` /
   ``VECSTUDY_THREADS``;
4. the config file: the file named by ``VECSTUDY_CONFIG``, else ``vecstudy.toml`` in
   the current directory or its nearest parent, else the ``[tool.vecstudy]`` table of
   the nearest ``pyproject.toml``;
5. the default: backend ``numpy``; dtype: that of ``X`` when it is float32 or float64,
   else float64; threads: leave the libraries' own settings alone.

A config file looks like::

    backend = "numba"     # or "python", "numpy", "auto"
    dtype = "float32"     # or "float64"
    threads = 1           # positive integer, or "all"

    [bench]               # options of `vecstudy bench` (validated there)
    shapes = ["10x1000", "100x10000"]

    [numba]
    tune = "cached"       # or "off", "first-use" (see resolve_tune)

An unknown backend, key or value raises :class:`ConfigError` naming its source (the
argument, the variable, or the file and key) and the valid options.
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
import os
import tomllib
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from vecstudy.errors import ConfigError as ConfigError
from vecstudy.errors import ConfigWarning as ConfigWarning
from vecstudy.errors import external_stacklevel as external_stacklevel
from vecstudy.escape import bounded, one_line, short
from vecstudy.registry import available_backends, unknown_backend_message
from vecstudy.runtime import cores

#: Backend name that defers the choice to the problem's shape (see :mod:`vecstudy.auto`).
AUTO: Final = "auto"
DEFAULT_BACKEND: Final = "numpy"
VALID_DTYPES: Final = ("float64", "float32")
#: Top-level keys a config file may hold; ``bench`` is a table validated by
#: :mod:`vecstudy.study.options`.
FILE_KEYS: Final = ("backend", "dtype", "threads", "bench", "relayout_max_mb", "dask", "numba")
SECTIONS: Final = ("bench", "dask", "numba")

ENV_BACKEND: Final = "VECSTUDY_BACKEND"
ENV_DTYPE: Final = "VECSTUDY_DTYPE"
ENV_THREADS: Final = "VECSTUDY_THREADS"
ENV_CONFIG: Final = "VECSTUDY_CONFIG"


def _short(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters (environment variables can be long)."""
    return short(value, limit)


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
    if isinstance(name, str) and len(name) > 50:
        name = name[:47] + "..."
    raise ConfigError(unknown_backend_message(name, source))


def check_dtype(value: object, source: str) -> str:
    """Return the dtype name if it is one of :data:`VALID_DTYPES`, else raise."""
    if isinstance(value, str) and value in VALID_DTYPES:
        return value
    valid = ", ".join(repr(d) for d in VALID_DTYPES)
    raise ConfigError(f"unknown dtype {_short(value)} from {source}; valid dtypes are {valid}")


def available_cores() -> int:
    """Cores this process may run on: :func:`vecstudy.runtime.cores.available_cores`."""
    return cores.available_cores()


def check_threads(value: object, source: str) -> int | None:
    """Return a positive thread count (``"all"`` -> the cores available), else raise."""
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
        f"bad threads {_short(value)} from {source}; expected a positive integer or 'all'"
    )


# --------------------------------------------------------------------------- config file
@dataclass(frozen=True)
class ConfigFile:
    """The settings table of one config file, already checked for unknown keys."""

    path: Path
    table: Mapping[str, Any]
    prefix: str  # "" for vecstudy.toml, "tool.vecstudy." for pyproject.toml

    def source(self, key: str) -> str:
        """Human-readable source of ``key``, e.g. ``config file /p/vecstudy.toml, key 'dtype'``."""
        return f"config file {self.path}, key '{self.prefix}{key}'"


#: Parsed config files: resolved path -> ((mtime_ns, size), result).
_parsed: dict[str, tuple[tuple[int, int], ConfigFile | None]] = {}


def find_config_file(start: Path | None = None) -> tuple[Path, bool] | None:
    """Locate the config file; return ``(path, is_pyproject)`` or None.

    ``VECSTUDY_CONFIG`` wins (it must name an existing file); otherwise the nearest
    ``vecstudy.toml`` from ``start`` (default: the current directory) upwards, else
    the nearest ``pyproject.toml``.
    """
    env = os.environ.get(ENV_CONFIG)
    if env:
        path = Path(env).expanduser()
        try:
            is_file = path.is_file()
        except (OSError, ValueError):  # symlink loop, name too long, NUL byte
            is_file = False
        if not is_file:
            raise ConfigError(f"{ENV_CONFIG}={_short(env, 300)} does not name an existing file")
        try:
            path = path.resolve()
        except (OSError, RuntimeError) as exc:
            raise ConfigError(f"{ENV_CONFIG}={_short(env, 300)}: {exc}") from None
        return path, path.name == "pyproject.toml"
    # os.path on strings, not pathlib: this runs on every API call (a few microseconds)
    try:
        here = os.path.abspath(start) if start is not None else os.getcwd()  # noqa: PTH100, PTH109
    except OSError:  # the current directory was deleted
        return None
    dirs = [here]
    while (parent := os.path.dirname(dirs[-1])) != dirs[-1]:  # noqa: PTH120
        dirs.append(parent)
    for name, is_pyproject in (("vecstudy.toml", False), ("pyproject.toml", True)):
        for d in dirs:
            candidate = os.path.join(d, name)  # noqa: PTH118
            if os.path.isfile(candidate):  # noqa: PTH113
                return Path(candidate), is_pyproject
            if os.path.lexists(candidate):  # a directory, a broken link, a symlink loop
                if not is_pyproject:
                    raise ConfigError(
                        f"config file {candidate} is not a regular file (a directory or a "
                        "broken symbolic link); remove or rename it"
                    )
                _warn_ignored(candidate, "it is not a regular file")
    return None


#: pyproject.toml files already warned about: path -> version (mtime, size) or None.
_warned: dict[str, tuple[int, int] | None] = {}


def _warn_ignored(path: str | Path, why: str, version: tuple[int, int] | None = None) -> None:
    """Warn once per file (and version of it) that a ``pyproject.toml`` is ignored."""
    key = str(path)
    if key in _warned and _warned[key] == version:
        return
    _warned[key] = version
    warnings.warn(
        ConfigWarning(
            f"ignoring {path}: {why} (vecstudy reads only its [tool.vecstudy] table; "
            "fix the file or put settings in a vecstudy.toml)"
        ),
        stacklevel=external_stacklevel(),
    )


def _read_toml(path: Path) -> dict[str, Any]:
    """Parse ``path``; any failure becomes a ConfigError naming the file and the cause."""
    try:
        with path.open("rb") as fh:
            raw = fh.read()
        # utf-8-sig: a byte-order mark (which some Windows editors write) is not an error
        return tomllib.loads(raw.decode("utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from None
    except RecursionError:
        raise ConfigError(f"config file {path} is nested too deeply to parse") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None


def _parse(path: Path, is_pyproject: bool) -> ConfigFile | None:
    """The settings of ``path``, cached while the file's mtime and size stay the same.

    A ``vecstudy.toml`` (or a file named by ``VECSTUDY_CONFIG``) that cannot be read,
    or a bad ``[tool.vecstudy]`` table, raises :class:`ConfigError`.  A
    ``pyproject.toml`` that cannot be read or parsed, or whose ``tool`` is not a
    table, is somebody else's file: one :class:`ConfigWarning`, then it is ignored.
    """
    try:
        st = path.stat()
    except OSError as exc:
        if is_pyproject:
            _warn_ignored(path, f"it cannot be read ({exc.strerror or exc})")
            return None
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    version = (st.st_mtime_ns, st.st_size)
    cached = _parsed.get(str(path))
    if cached is not None and cached[0] == version:
        return cached[1]
    result: ConfigFile | None
    if is_pyproject:
        try:
            data = _read_toml(path)
        except ConfigError as exc:
            _warn_ignored(path, str(exc).removeprefix(f"config file {path} "), version)
            _parsed[str(path)] = (version, None)
            return None
        tool = data.get("tool")
        if tool is not None and not isinstance(tool, dict):
            _warn_ignored(path, f"its 'tool' is a {type(tool).__name__}, not a table", version)
            _parsed[str(path)] = (version, None)
            return None
        table = None if tool is None else tool.get("vecstudy")
        result = None if table is None else ConfigFile(path, table, "tool.vecstudy.")
    else:
        result = ConfigFile(path, _read_toml(path), "")
    if result is not None:
        if not isinstance(result.table, dict):
            raise ConfigError(f"config file {path}: '{result.prefix.rstrip('.')}' must be a table")
        unknown = sorted(set(result.table) - set(FILE_KEYS))
        if unknown:
            valid = ", ".join(FILE_KEYS)
            key = bounded(one_line(str(unknown[0])))
            raise ConfigError(f"{result.source(key)}: unknown key; valid keys are {valid}")
        for section in SECTIONS:
            if section in result.table and not isinstance(result.table[section], dict):
                raise ConfigError(f"{result.source(section)}: must be a table")
    _parsed[str(path)] = (version, result)
    return result


_lookup_scope: ContextVar[list[ConfigFile | None] | None] = ContextVar(
    "vecstudy_lookup_scope", default=None
)


@contextlib.contextmanager
def one_lookup() -> Iterator[None]:
    """Inside the block the config file is looked up at most once.

    The API wraps each call in it, so that the settings of one call (backend, dtype,
    threads) come from one reading of the file, and a call pays for one search.
    """
    if _lookup_scope.get() is not None:
        yield
        return
    token = _lookup_scope.set([])
    try:
        yield
    finally:
        _lookup_scope.reset(token)


def config_file() -> ConfigFile | None:
    """The config file in force (parsed and checked for unknown keys), or None."""
    memo = _lookup_scope.get()
    if memo:
        return memo[0]
    found = find_config_file()
    cfg = None if found is None else _parse(*found)
    if memo is not None:
        memo.append(cfg)
    return cfg


def file_section(name: str) -> tuple[dict[str, Any], str | None]:
    """The raw table ``name`` (e.g. ``"bench"``) of the config file, and the file's path.

    Returns ``({}, None)`` when there is no config file.
    """
    if name not in SECTIONS:
        raise ValueError(f"unknown config section {name!r}; valid sections are {SECTIONS}")
    cfg = config_file()
    if cfg is None:
        return {}, None
    return dict(cfg.table.get(name, {})), str(cfg.path)


@dataclass(frozen=True)
class FileTable:
    """One table of the config file: its keys, and how to name the source of one of them."""

    table: Mapping[str, Any]
    source: Callable[[str], str]


def _top_table() -> FileTable | None:
    """The top-level table of the config file in force, or None."""
    cfg = config_file()
    return None if cfg is None else FileTable(cfg.table, cfg.source)


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
    env = None if env_name is None else os.environ.get(env_name)
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


def resolve_backend(backend: str | None = None) -> Choice:
    """The backend in force for a call with argument ``backend``, and its source."""
    ctx = _context_backend.get()
    return resolve_setting(
        check=check_backend,
        default=Choice(DEFAULT_BACKEND, "default"),
        argument=backend,
        argument_source="argument backend=",
        context=ctx[-1][1] if ctx else _global_backend,
        env_name=ENV_BACKEND,
        file=_top_table,
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


def resolve_dtype(dtype: object = None, data_dtype: object = None) -> Choice:
    """The floating dtype name for a call (``dtype``: a name, or anything ``np.dtype`` reads).

    ``data_dtype`` is the input's dtype, for the default.
    """
    name = str(data_dtype) if data_dtype is not None else ""
    return resolve_setting(
        check=check_dtype,
        default=(
            Choice(name, "default (dtype of the input)")
            if name in VALID_DTYPES
            else Choice("float64", "default")
        ),
        argument=dtype if dtype is None or isinstance(dtype, str) else _dtype_name(dtype),
        argument_source="argument dtype=",
        env_name=ENV_DTYPE,
        file=_top_table,
        file_key="dtype",
    )


def resolve_threads(threads: int | str | None = None) -> Choice:
    """The thread count for a call (``None`` value: leave the libraries' settings alone)."""
    return resolve_setting(
        check=check_threads,
        default=Choice(None, "default"),
        argument=threads,
        argument_source="argument threads=",
        env_name=ENV_THREADS,
        file=_top_table,
        file_key="threads",
    )


def check_file() -> None:
    """Validate every setting of the config file now (used by ``vecstudy info``)."""
    cfg = config_file()
    if cfg is None:
        return
    if "backend" in cfg.table:
        check_backend(cfg.table["backend"], cfg.source("backend"))
    if "dtype" in cfg.table:
        check_dtype(cfg.table["dtype"], cfg.source("dtype"))
    if "threads" in cfg.table:
        check_threads(cfg.table["threads"], cfg.source("threads"))
    if "relayout_max_mb" in cfg.table:
        check_relayout_max_mb(cfg.table["relayout_max_mb"], cfg.source("relayout_max_mb"))
    for key, value in cfg.table.get("dask", {}).items():
        if key in DASK_DEFAULTS:  # unknown keys: resolve_dask names them
            _check_dask(key, value, cfg.source(f"dask.{key}"))
    numba = _numba_table()  # checked even where VECSTUDY_TUNE overrides it
    if numba is not None and "tune" in numba.table:
        check_tune(numba.table["tune"], numba.source("tune"))


def check_settings() -> None:
    """Validate every setting of the config module, as the commands that read it would.

    The environment variables (``VECSTUDY_BACKEND``, ``_DTYPE``, ``_THREADS``,
    ``_CONFIG``, ``_RELAYOUT_MAX_MB``, ``_DASK_ADDRESS``, ``_DASK_CHUNK``, ``_TUNE``) and every
    key of the config file, also those an environment variable overrides.  Raises
    :class:`ConfigError` naming the first bad one.  (The ``[bench]`` table is
    checked by :func:`vecstudy.study.options.resolve_options`.)
    """
    with one_lookup():
        check_file()
        resolve_backend(None)
        resolve_dtype(None, None)
        resolve_threads(None)
        resolve_relayout_max_mb()
        resolve_dask()
        resolve_tune(None)


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
        f"bad relayout_max_mb {_short(given)} from {source}; expected a size in MB >= 0 "
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
        file=_top_table,
        file_key="relayout_max_mb",
    )


# --------------------------------------------------------------------------- [dask]
ENV_DASK_ADDRESS: Final = "VECSTUDY_DASK_ADDRESS"
ENV_DASK_CHUNK: Final = "VECSTUDY_DASK_CHUNK"
#: Keys of the ``[dask]`` table and their defaults (see :func:`resolve_dask`).
DASK_DEFAULTS: Final = {"address": None, "chunk": "128 MiB", "timeout": 10.0}


#: Units of a byte size, as :func:`dask.utils.parse_bytes` reads them (lower case).
BYTE_UNITS: Final = {
    **{u: 1000**k for k, u in enumerate(("b", "kb", "mb", "gb", "tb", "pb"))},
    **{u: 1024**k for k, u in enumerate(("b", "kib", "mib", "gib", "tib", "pib")) if k},
    **{u: 1000**k for k, u in enumerate(("", "k", "m", "g", "t", "p"))},
    **{u: 1024**k for k, u in enumerate(("", "ki", "mi", "gi", "ti", "pi")) if k},
}


def byte_size(text: str) -> int | None:
    """Bytes of ``"64 MiB"``, ``"5kB"``, ``"1e6"`` (dask's ``parse_bytes``), or None.

    The grammar of :func:`dask.utils.parse_bytes`, checked here without importing
    dask, so that a bad ``[dask] chunk`` is refused wherever settings are checked.
    A size that is not finite is None.

    >>> byte_size("64 MiB"), byte_size("5kB"), byte_size("MB"), byte_size("garbage")
    (67108864, 5000, 1000000, None)
    """
    s = text.replace(" ", "")
    if not any(ch.isdigit() for ch in s):
        s = "1" + s
    cut = len(s)
    while cut > 0 and s[cut - 1].isalpha():
        cut -= 1
    try:
        n = float(s[:cut]) * BYTE_UNITS[s[cut:].lower()]
    except (ValueError, KeyError):
        return None
    return int(n) if math.isfinite(n) else None


def _check_dask(key: str, value: object, source: str) -> object:
    """Return ``value`` if it is a valid ``[dask]`` ``key``, else raise :class:`ConfigError`."""
    if key == "address" and value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigError(
            f"bad dask address {_short(value)} from {source}; "
            "expected a string such as 'tcp://host:8786'"
        )
    if key == "chunk" and (
        isinstance(value, bool)
        or not isinstance(value, str | int)
        or (isinstance(value, int) and value < 1)
        or (isinstance(value, str) and (byte_size(value) or 0) < 1)
    ):
        raise ConfigError(
            f"bad dask chunk {_short(value)} from {source}; "
            "expected a positive number of bytes or a string such as '64 MiB'"
        )
    if key == "timeout" and (
        isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e6
    ):
        raise ConfigError(
            f"bad dask timeout {_short(value)} from {source}; expected a positive number of seconds"
        )
    return value


def resolve_dask() -> dict[str, Choice]:
    """The dask backend's settings, each with its source.

    ``address``
        Scheduler to connect to (``"tcp://host:8786"``) when no Dask client is active
        in the process; ``None``: start a local cluster.  ``VECSTUDY_DASK_ADDRESS``,
        then ``[dask] address``.
    ``chunk``
        Bytes of ``X`` per chunk when a NumPy ``X`` is split over the workers: an
        integer or a string such as ``"64 MiB"`` (default ``"128 MiB"``, as dask.array).
        ``VECSTUDY_DASK_CHUNK``, then ``[dask] chunk``.
    ``timeout``
        Seconds to wait for the scheduler at ``address`` (``[dask] timeout``).

    A config file's table looks like::

        [dask]
        address = "tcp://10.0.0.5:8786"
        chunk = "128 MiB"
        timeout = 10
    """
    table, path = file_section("dask")
    unknown = sorted(set(table) - set(DASK_DEFAULTS))
    if unknown:
        valid = ", ".join(DASK_DEFAULTS)
        raise ConfigError(
            f"config file {path}, table [dask]: unknown key {_short(unknown[0])}; "
            f"valid keys are {valid}"
        )
    section = FileTable(table, lambda key: f"config file {path}, key 'dask.{key}'")
    envs = {"address": ENV_DASK_ADDRESS, "chunk": ENV_DASK_CHUNK}
    return {
        key: resolve_setting(
            check=functools.partial(_check_dask, key),
            default=Choice(default, "default"),
            env_name=envs.get(key),
            env_blank_skipped=False,  # a blank address is an error, not "unset"
            file=lambda: section,
            file_key=key,
            check_default=True,
        )
        for key, default in DASK_DEFAULTS.items()
    }


# --------------------------------------------------------------------------- [numba] tune
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
    raise ConfigError(f"bad numba tune {_short(value)} from {source}; valid values are {valid}")


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
        file=_numba_table,
        file_key="tune",
    )


def _numba_table() -> FileTable | None:
    """The config file's ``[numba]`` table, checked for unknown keys, or None."""
    table, path = file_section("numba")
    unknown = sorted(set(table) - {"tune"})
    if unknown:
        raise ConfigError(
            f"config file {path}, table [numba]: unknown key {_short(unknown[0])}; "
            "valid keys are tune"
        )
    return FileTable(table, lambda key: f"config file {path}, key 'numba.{key}'")
