"""Every setting checked at once, as the commands that read them would: for ``vecstudy info``."""

from __future__ import annotations

from vecstudy.config.dask_table import DASK_DEFAULTS, check_dask, resolve_dask
from vecstudy.config.file import config_file, one_lookup
from vecstudy.config.numba_table import check_tune, numba_table, resolve_tune
from vecstudy.config.settings import (
    check_backend,
    check_dtype,
    check_relayout_max_mb,
    check_threads,
    resolve_backend,
    resolve_dtype,
    resolve_relayout_max_mb,
    resolve_threads,
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
            check_dask(key, value, cfg.source(f"dask.{key}"))
    numba = numba_table()  # checked even where VECSTUDY_TUNE overrides it
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
