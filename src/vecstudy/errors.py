"""Every exception and warning class of vecstudy, in one place.

This module imports nothing of the package, so that any module may import it.  The
modules that raise these re-export them under their old names (``vecstudy.config.ConfigError``
is :class:`ConfigError`), so code written against those names keeps working.
It also holds :func:`external_stacklevel`, which aims every warning of the package at
the caller's line.

To move here in stage B of the layers redesign (their modules are being edited
elsewhere; each will then re-import the class from here):

- ``vecstudy.api``: ``NumericalError``, ``DivergenceError`` (with its pickling helper
  ``_rebuild_divergence``), ``DivergenceWarning``;
- ``vecstudy.backends.dask``: ``NonFiniteInputError`` (subclasses ``NumericalError``,
  so it follows it);
- ``vecstudy.train``: ``DataError``, ``ModelFileError``;
- ``vecstudy.backends.numba``: ``NumbaCacheWarning``;
- ``vecstudy.study.sweep``: ``SweepInterrupted``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "BackendUnavailable",
    "BenchOptionError",
    "ClusterError",
    "ClusterStartError",
    "ClusterUnreachableError",
    "ConfigError",
    "ConfigWarning",
    "DamagedStoreError",
    "ResultsFileError",
    "ResultsFileWarning",
    "StudyInterrupted",
    "Terminated",
    "ThreadCountWarning",
    "TuningWarning",
    "external_stacklevel",
]


# --------------------------------------------------------------------------- aiming warnings
def external_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the first frame outside vecstudy.

    Called by the function that issues the warning (level 1); frames of this package
    and of :mod:`contextlib` (``with`` blocks) are skipped.
    """
    package = os.path.dirname(os.path.abspath(__file__))
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and (
        frame.f_code.co_filename.startswith(package)
        or frame.f_code.co_filename == contextlib.__file__
    ):
        frame = frame.f_back
        level += 1
    return level


# ------------------------------------------------------------------------ configuration, threads
class ConfigError(ValueError):
    """A setting has an unknown name or a bad value; the message names its source."""


class ConfigWarning(UserWarning):
    """A ``pyproject.toml`` that is not vecstudy's own could not be read; it is ignored."""


class ThreadCountWarning(RuntimeWarning):
    """Fewer threads run than were asked for (more than the cores, or Numba's own cap)."""


# --------------------------------------------------------------------------- backends
class BackendUnavailable(ImportError):  # noqa: N818 (the name is the documented contract)
    """A registered backend cannot be loaded because an optional dependency is missing.

    The message is one line naming the pip extra that installs it, e.g.
    ``pip install 'vecstudy[dask]'``.
    """


class TuningWarning(RuntimeWarning):
    """The wisdom file cannot be read or written; the cache model is used instead."""


# --------------------------------------------------------------------------- the study
class BenchOptionError(ValueError):
    """An option of the sweep (command line or config file) has a bad name or value."""


# --------------------------------------------------------------------------- the dask cluster
class ClusterUnreachableError(ConnectionError):
    """The configured Dask scheduler could not be reached in time."""


class ClusterError(RuntimeError):
    """The cluster failed in the middle of a computation (for example it lost every worker)."""


class ClusterStartError(ClusterError):
    """The embedded local cluster could not start (or must not, from this script)."""


class DamagedStoreError(ValueError):
    """A Zarr store has chunks missing, of the wrong size, or that do not decode."""


# --------------------------------------------------------------------------- results files
class ResultsFileError(ValueError):
    """A results file is missing its structure, or holds values it cannot hold."""


class ResultsFileWarning(UserWarning):
    """A results file on hand could not be used to pick a backend; it is ignored."""


# --------------------------------------------------------------------------- interruptions
class Terminated(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM inside :func:`vecstudy.signals.sigterm_as_interrupt`."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during the study; the finished measurements are saved.

    Attributes
    ----------
    signal_name : str
        ``"SIGINT"`` or ``"SIGTERM"``.
    rows_kept : int
        Finished measurements (rows) saved.
    paths : dict
        The files written (empty when nothing had finished).
    """

    def __init__(self, signal_name: str, rows_kept: int, paths: dict[str, Path]) -> None:
        where = f" in {paths['json']}" if paths else ""
        super().__init__(
            f"interrupted ({signal_name}); kept {rows_kept} finished measurements{where}"
        )
        self.signal_name = signal_name
        self.rows_kept = rows_kept
        self.paths = paths
