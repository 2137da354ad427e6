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

The API's calls look for the config file and read it again at most once a second per
working directory (a search costs a system call per directory, a sizeable part of a
short step): an edit reaches them within a second, or at once after :func:`reload`
or any direct lookup (:func:`get_backend`, the ``resolve_*`` functions).

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

The package, bottom to top (every name is imported from ``vecstudy.config``):

:mod:`~vecstudy.config.file`
    Finding, reading, caching and checking the config file.
:mod:`~vecstudy.config.ladder`
    :func:`resolve_setting`, the one precedence ladder, and :class:`Choice`.
:mod:`~vecstudy.config.settings`
    Backend, dtype, threads and ``relayout_max_mb``.
:mod:`~vecstudy.config.dask_table`, :mod:`~vecstudy.config.numba_table`
    The ``[dask]`` table (with byte sizes) and the ``[numba]`` table.
:mod:`~vecstudy.config.check`
    :func:`check_settings`: everything at once, for ``vecstudy info``.
"""

from __future__ import annotations

from vecstudy.config.check import check_file, check_settings
from vecstudy.config.dask_table import (
    BYTE_UNITS,
    DASK_DEFAULTS,
    ENV_DASK_ADDRESS,
    ENV_DASK_CHUNK,
    byte_size,
    check_dask,
    resolve_dask,
)
from vecstudy.config.file import (
    ENV_CONFIG,
    FILE_KEYS,
    SECTIONS,
    ConfigFile,
    FileTable,
    config_file,
    file_section,
    find_config_file,
    one_lookup,
    reload,
)
from vecstudy.config.ladder import Choice, resolve_setting
from vecstudy.config.numba_table import (
    DEFAULT_TUNE,
    ENV_TUNE,
    TUNE_MODES,
    check_tune,
    resolve_tune,
    use_tune,
)

# the numba backend's tuning reads the tune mode a use_tune() block set, if any
from vecstudy.config.numba_table import _context_tune as _context_tune
from vecstudy.config.settings import (
    AUTO,
    DEFAULT_BACKEND,
    DEFAULT_RELAYOUT_MAX_MB,
    ENV_BACKEND,
    ENV_DTYPE,
    ENV_RELAYOUT_MAX_MB,
    ENV_THREADS,
    VALID_DTYPES,
    available_cores,
    check_backend,
    check_dtype,
    check_relayout_max_mb,
    check_threads,
    get_backend,
    resolve_backend,
    resolve_dtype,
    resolve_relayout_max_mb,
    resolve_threads,
    set_backend,
    use_backend,
)
from vecstudy.errors import ConfigError, ConfigWarning, external_stacklevel

__all__ = [
    "AUTO",
    "BYTE_UNITS",
    "DASK_DEFAULTS",
    "DEFAULT_BACKEND",
    "DEFAULT_RELAYOUT_MAX_MB",
    "DEFAULT_TUNE",
    "ENV_BACKEND",
    "ENV_CONFIG",
    "ENV_DASK_ADDRESS",
    "ENV_DASK_CHUNK",
    "ENV_DTYPE",
    "ENV_RELAYOUT_MAX_MB",
    "ENV_THREADS",
    "ENV_TUNE",
    "FILE_KEYS",
    "SECTIONS",
    "TUNE_MODES",
    "VALID_DTYPES",
    "Choice",
    "ConfigError",
    "ConfigFile",
    "ConfigWarning",
    "FileTable",
    "available_cores",
    "byte_size",
    "check_backend",
    "check_dask",
    "check_dtype",
    "check_file",
    "check_relayout_max_mb",
    "check_settings",
    "check_threads",
    "check_tune",
    "config_file",
    "external_stacklevel",
    "file_section",
    "find_config_file",
    "get_backend",
    "one_lookup",
    "reload",
    "resolve_backend",
    "resolve_dask",
    "resolve_dtype",
    "resolve_relayout_max_mb",
    "resolve_setting",
    "resolve_threads",
    "resolve_tune",
    "set_backend",
    "use_backend",
    "use_tune",
]
