"""The config file: where it is, reading and caching it, and checking its keys.

:func:`find_config_file` locates it (``VECSTUDY_CONFIG``, else the nearest
``vecstudy.toml``, else the nearest ``pyproject.toml``); :func:`config_file` parses it
once per version of the file (mtime and size) and checks its keys, and inside API calls
looks again at most every :data:`RECHECK_SECONDS` (:func:`reload` forgets);
:func:`one_lookup` makes the settings of one call come from one reading.  The settings
themselves are checked by the modules that resolve them (see :mod:`vecstudy.config`).
"""

from __future__ import annotations

import os
import time
import tomllib
import warnings
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from vecstudy.errors import ConfigError, ConfigWarning, external_stacklevel
from vecstudy.escape import bounded, one_line, short
from vecstudy.runtime import environ as _environ

#: Top-level keys a config file may hold; ``bench`` is a table validated by
#: :mod:`vecstudy.study.options`.
FILE_KEYS: Final = ("backend", "dtype", "threads", "bench", "relayout_max_mb", "dask", "numba")
SECTIONS: Final = ("bench", "dask", "numba")

ENV_CONFIG: Final = "VECSTUDY_CONFIG"


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
    env = _environ.get(ENV_CONFIG)
    if env:
        path = Path(env).expanduser()
        try:
            is_file = path.is_file()
        except (OSError, ValueError):  # symlink loop, name too long, NUL byte
            is_file = False
        if not is_file:
            raise ConfigError(f"{ENV_CONFIG}={short(env, 300)} does not name an existing file")
        try:
            path = path.resolve()
        except (OSError, RuntimeError) as exc:
            raise ConfigError(f"{ENV_CONFIG}={short(env, 300)}: {exc}") from None
        return path, path.name == "pyproject.toml"
    # os.path on strings, not pathlib: this runs on every API call (a few microseconds)
    try:
        here = os.path.abspath(start) if start is not None else os.getcwd()  # noqa: PTH100, PTH109
    except OSError:  # the current directory was deleted
        return None
    dirs = _ancestors.get(here)
    if dirs is None:
        dirs = [here]
        while (parent := os.path.dirname(dirs[-1])) != dirs[-1]:  # noqa: PTH120
            dirs.append(parent)
        _ancestors[here] = dirs
    stamps = _dir_stamps(dirs)
    cached = _searched.get(here)
    if stamps is not None and cached is not None and cached[0] == stamps:
        return cached[1]
    found = _search(dirs)
    if stamps is not None:
        _searched[here] = (stamps, found)
    return found


#: Each directory searched from, and it and its parents (the directories searched).
_ancestors: dict[str, list[str]] = {}
#: The last search from each directory: its directories' stamps, and what it found.
_searched: dict[str, tuple[tuple[int, ...], tuple[Path, bool] | None]] = {}


def _dir_stamps(dirs: list[str]) -> tuple[int, ...] | None:
    """The modification times of ``dirs``, or None if one cannot be read.

    A file added to, removed from or renamed in a directory changes its modification
    time, so a search is repeated only when one of these changed: the walk of every
    API call then costs one ``stat`` per directory instead of two per directory and
    file name.
    """
    try:
        return tuple([os.stat(d).st_mtime_ns for d in dirs])  # noqa: PTH116
    except OSError:
        return None


def _search(dirs: list[str]) -> tuple[Path, bool] | None:
    """The nearest ``vecstudy.toml`` in ``dirs`` (nearest first), else ``pyproject.toml``."""
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
    key = str(path)
    try:
        st = os.stat(key)  # noqa: PTH116 - pathlib's stat costs microseconds more, per call
    except OSError as exc:
        if is_pyproject:
            _warn_ignored(path, f"it cannot be read ({exc.strerror or exc})")
            return None
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    version = (st.st_mtime_ns, st.st_size)
    cached = _parsed.get(key)
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


class one_lookup:  # noqa: N801 - used as a function: ``with one_lookup():``
    """Inside the block the config file is looked up at most once.

    The API wraps each call in it, so that the settings of one call (backend, dtype,
    threads) come from one reading of the file, and a call pays for one search.  With
    ``recent=True`` (the API's calls) the search of the last :data:`RECHECK_SECONDS`
    from the same directory is used again (see :func:`config_file`).  A class rather
    than a generator: every API call enters one, and a generator-based context manager
    costs several times more.
    """

    __slots__ = ("_recent", "_token", "_token_recent")

    def __init__(self, *, recent: bool = False) -> None:
        self._recent = recent

    def __enter__(self) -> None:
        # nested blocks share the outer block's reading
        if _lookup_scope.get() is not None:
            self._token = self._token_recent = None
            return
        self._token = _lookup_scope.set([])
        self._token_recent = _recent_allowed.set(self._recent)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _lookup_scope.reset(self._token)
        if self._token_recent is not None:
            _recent_allowed.reset(self._token_recent)


#: Seconds during which the API's calls from one working directory (and one
#: ``VECSTUDY_CONFIG``) use the config file found and read last, without looking at
#: the file system again (see :func:`config_file`).
RECHECK_SECONDS: Final = 1.0

#: (VECSTUDY_CONFIG, working directory) -> (time.monotonic() of the search, its result).
_recent: dict[tuple[str | None, str], tuple[float, ConfigFile | None]] = {}
_RECENT_MAX: Final = 64
_recent_allowed: ContextVar[bool] = ContextVar("vecstudy_recent_allowed", default=False)


def reload() -> None:
    """Make the next API call look for the config file and read it again.

    API calls look at the file system at most every :data:`RECHECK_SECONDS` per
    working directory (see :func:`config_file`): a program that writes or edits a
    config file and needs its very next call to see the change calls this first.
    """
    _recent.clear()


def config_file() -> ConfigFile | None:
    """The config file in force (parsed and checked for unknown keys), or None.

    Inside an API call (``one_lookup(recent=True)``) the file found and read in the last
    :data:`RECHECK_SECONDS` from the same working directory and ``VECSTUDY_CONFIG`` is
    used again without touching the file system: the search costs a system call per
    directory up to the root and one for the file, and after a step that streamed a
    large ``X`` through the caches those cost tens of microseconds, a sizeable part of a
    short step.  So an edit of the file reaches API calls within a second (at once after
    :func:`reload`), a new working directory or ``VECSTUDY_CONFIG`` at once.  Everywhere
    else (``get_backend``, the ``resolve_*`` functions, the command line) the file is
    looked up every time, and what is found serves the API calls that follow.  A file in
    error is never remembered: it is read again until it is mended.
    """
    memo = _lookup_scope.get()
    if memo:
        return memo[0]
    try:
        here = os.getcwd()  # noqa: PTH109 - os on strings: this runs on every API call
    except OSError:  # the current directory was deleted (the search finds nothing)
        here = ""
    key = (_environ.get(ENV_CONFIG), here)
    now = time.monotonic()
    recent = _recent.get(key) if _recent_allowed.get() else None
    if recent is not None and now - recent[0] < RECHECK_SECONDS:
        cfg = recent[1]
    else:
        found = find_config_file()
        cfg = None if found is None else _parse(*found)  # a ConfigError is not kept
        if len(_recent) >= _RECENT_MAX:  # a program that visits many directories
            _recent.clear()
        _recent[key] = (now, cfg)
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


def top_table() -> FileTable | None:
    """The top-level table of the config file in force, or None."""
    cfg = config_file()
    return None if cfg is None else FileTable(cfg.table, cfg.source)
