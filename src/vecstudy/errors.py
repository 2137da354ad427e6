"""Every exception and warning class of vecstudy, in one place.

This module imports nothing of the package, so that any module may import it.  The
modules that raise these re-export them under their old names (``vecstudy.config.ConfigError``
is :class:`ConfigError`), so code written against those names keeps working.
It also holds :func:`external_stacklevel`, which aims every warning of the package at
the caller's line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "BackendUnavailable",
    "BenchOptionError",
    "BudgetError",
    "ClusterError",
    "ClusterStartError",
    "ClusterUnreachableError",
    "ConfigError",
    "ConfigWarning",
    "DamagedStoreError",
    "DataError",
    "DivergenceError",
    "DivergenceWarning",
    "ModelFileError",
    "NonFiniteInputError",
    "NumbaCacheWarning",
    "NumericalError",
    "ResultsFileError",
    "ResultsFileWarning",
    "SlowRunWarning",
    "StudyInterrupted",
    "SweepInterrupted",
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


# --------------------------------------------------------------------------- numerics
class NumericalError(FloatingPointError):
    """z, the gradient or the cost came out non-finite (overflow).

    Raised by :func:`vecstudy.propagate`, :func:`vecstudy.predict` and
    :func:`vecstudy.optimize` (as its subclass :class:`DivergenceError`) instead of
    returning NaN, infinity, or a result computed from them.  The inputs were finite:
    the values overflowed the dtype in the sum ``z = w^T X + b`` or in the gradient
    ``X (A - Y)^T / m``.  Scaling (standardizing) ``X``, or smaller weights, avoids it.
    """


class DivergenceError(NumericalError):
    """Gradient descent produced non-finite parameters (or a non-finite gradient).

    Attributes
    ----------
    iteration : int
        The iteration whose gradient or update came out non-finite (or, when only a
        recorded cost did, the iteration of that cost).
    params : dict
        The last finite ``{"w", "b"}``.
    grads : dict
        The gradients computed at that iteration.
    costs : list of float
        The costs recorded before it.

    It pickles with its attributes (to cross process boundaries, e.g. from a worker).
    """

    def __init__(
        self,
        message: str,
        *,
        iteration: int,
        params: dict[str, Any],
        grads: dict[str, Any],
        costs: list[float],
    ) -> None:
        super().__init__(message)
        self.iteration = iteration
        self.params = params
        self.grads = grads
        self.costs = costs

    def __reduce__(self) -> tuple[Any, ...]:
        details = {
            "iteration": self.iteration,
            "params": self.params,
            "grads": self.grads,
            "costs": self.costs,
        }
        return (_rebuild_divergence, (str(self), details))


def _rebuild_divergence(message: str, details: dict[str, Any]) -> DivergenceError:
    return DivergenceError(message, **details)


class DivergenceWarning(RuntimeWarning):
    """Gradient descent is diverging although every number stayed finite.

    Issued by :func:`vecstudy.optimize` (and :func:`vecstudy.model`) when a recorded
    cost rises *well* above the first one: ``J_k > 2 J_0`` and ``J_k > J_0 + 1`` (the
    first condition ignores small oscillations around a good fit; the second keeps a
    tiny ``J_0`` from making noise look like divergence).  A cost that grows instead
    of falling means the learning rate is too large for the scale of ``X``.
    """


class SlowRunWarning(UserWarning):
    """A python-backend descent is estimated to take more than ``vecstudy.api.SLOW_RUN_SECONDS``.

    :func:`vecstudy.optimize` (and so :func:`vecstudy.model`) times the first iteration
    of a descent of at least ``vecstudy.api.SLOW_RUN_MIN_ITERATIONS`` iterations on the
    python backend, keeps it, and extrapolates to ``num_iterations``; the warning gives
    that estimate.  The python backend is the course's double loop, there to be read
    and to check the others against: ``backend="numpy"`` or ``backend="numba"`` runs
    the same descent (to rounding) in a small fraction of the time.  ``vecstudy train``
    makes the same estimate before it trains, and refuses a run over its ``--budget``.
    """


# --------------------------------------------------------------------------- learning from tables
class DataError(ValueError):
    """The data cannot be trained on as it is (the message says why and what to do)."""


class ModelFileError(DataError):
    """A model document lacks a field, or holds a value a model cannot have (the field is named)."""


class BudgetError(DataError):
    """The runs are estimated to take longer than the budget allows; nothing was trained."""


# --------------------------------------------------------------------------- backends
class BackendUnavailable(ImportError):  # noqa: N818 (the name is the documented contract)
    """A registered backend cannot be loaded because an optional dependency is missing.

    The message is one line naming the pip extra that installs it, e.g.
    ``pip install 'vecstudy[dask]'``.
    """


class TuningWarning(RuntimeWarning):
    """The wisdom file cannot be read or written; the cache model is used instead."""


class NumbaCacheWarning(RuntimeWarning):
    """Numba cannot cache compiled kernels on disk here: every new process compiles again."""


class NonFiniteInputError(ValueError):
    """``X`` holds NaN or infinity (found because a result came out non-finite).

    A ``ValueError``, as on the numpy path, which names a non-finite ``X`` in the same
    words; here it is found after the fact, from a non-finite result, so that a finite
    ``X`` costs no extra pass.  Not a :class:`vecstudy.NumericalError`: the input is
    wrong, nothing overflowed.
    """


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


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep; every finished timing is already saved.

    Attributes
    ----------
    path : Path
        The results file.
    rows_kept : int
        Rows of this run saved before the interrupt.
    total_rows : int
        Rows in the file (all runs).
    """

    def __init__(self, path: Path, rows_kept: int, total_rows: int) -> None:
        super().__init__(f"interrupted; kept {rows_kept} rows of this run in {path}")
        self.path = path
        self.rows_kept = rows_kept
        self.total_rows = total_rows
