"""From a data file to a trained model: the workflow behind ``vecstudy train``.

Reads a table (CSV or Parquet with pandas, or NPZ: :mod:`vecstudy.learn.data`),
checks it, splits it into a training and a test part with a seed, standardizes the
features with the statistics of the training part only (:mod:`vecstudy.learn.table`),
runs the course's batch gradient descent with each chosen backend (and learning
rate: :mod:`vecstudy.learn.descent`), and reports accuracy, final cost and time per
run, a figure of the cost against the iteration and the fitted model as JSON
(:mod:`vecstudy.learn.model_file`).  scikit-learn is not needed here.

The course's images (``train_catvnoncat.h5``, or arrays of images in NPZ) are
flattened to one row per image and divided by 255 when ``uint8``, as the course
does, and are *not* standardized: the course only scales its pixels, and a pixel
that is the same in every training image (a border) would have a scale of 0.
:func:`vecstudy.learn.data.read_data` finds the course's keys, its class names and
its test file.  Before training, each backend's runs are estimated from one timed
iteration (:func:`fit_runs`: a budget refuses, a slow python run warns).

The steps that live beside it are re-exported here under the names
``vecstudy.train`` had: ``vecstudy.learn.train.X`` for every public
``vecstudy.train.X`` (:mod:`vecstudy.learn` re-exports them all too).

Conventions
-----------
The table has ``n`` rows (samples) and one column per feature plus the target.
``X`` is ``(n_samples, n_features)`` as in scikit-learn; the kernels get its
transpose ``X.T``, ``(n_x, m)`` with one column per sample, as in the course.
Standardization: ``x' = (x - mean) / scale``, with ``mean`` and ``scale`` (the
population standard deviation, ``ddof=0``, as scikit-learn's ``StandardScaler``)
computed on the training rows.  The positive class (label 1 for the kernels) is
the larger of the two target values in sorted order, as in scikit-learn.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

from vecstudy import api, config
from vecstudy.errors import BudgetError as BudgetError
from vecstudy.errors import DataError as DataError
from vecstudy.errors import ModelFileError as ModelFileError
from vecstudy.learn import descent as _descent
from vecstudy.learn.data import EXAMPLE_FILE as EXAMPLE_FILE
from vecstudy.learn.data import EXAMPLE_TARGET as EXAMPLE_TARGET
from vecstudy.learn.data import Data as Data
from vecstudy.learn.data import ReadInfo as ReadInfo
from vecstudy.learn.data import example_path as example_path
from vecstudy.learn.data import read_data as read_data
from vecstudy.learn.data import read_table as read_table
from vecstudy.learn.descent import Descent as Descent
from vecstudy.learn.descent import descend as descend
from vecstudy.learn.model_file import MODEL_FORMAT as MODEL_FORMAT
from vecstudy.learn.model_file import Model as Model
from vecstudy.learn.model_file import check_model as check_model
from vecstudy.learn.model_file import model_document as model_document
from vecstudy.learn.model_file import model_text
from vecstudy.learn.model_file import predict_with_model as predict_with_model
from vecstudy.learn.model_file import write_model as write_model
from vecstudy.learn.outputs import _directory_locked, _signals_deferred, render_costs
from vecstudy.learn.outputs import output_paths as output_paths
from vecstudy.learn.outputs import plot_costs as plot_costs
from vecstudy.learn.runs import Run as Run
from vecstudy.learn.runs import Training as Training
from vecstudy.learn.table import Scaler as Scaler
from vecstudy.learn.table import Table as Table
from vecstudy.learn.table import check_table as check_table
from vecstudy.learn.table import constant_columns as constant_columns
from vecstudy.learn.table import split as split
from vecstudy.learn.text import _bounded_path, _joined, _label, _names
from vecstudy.learn.text import _short as _short  # bounds the CLI's messages too

if TYPE_CHECKING:
    import pandas as pd

Array = NDArray[np.floating[Any]]


# --------------------------------------------------------------------------- workflow
def _accuracy(w: Array, b: float, X: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    pred = (X @ np.asarray(w, dtype=np.float64) + b) > 0
    return float(np.mean(pred == (y == 1)))


def prepare(
    df: pd.DataFrame,
    target: str,
    *,
    source: str = "data",
    drop: Sequence[str] = (),
    drop_constant: bool = False,
    test_size: float = 0.2,
    seed: int = 0,
    test: pd.DataFrame | None = None,
    test_source: str | None = None,
    class_names: Sequence[str] | None = None,
    standardize: bool = True,
) -> Training:
    """Check, split and standardize: a :class:`Training` ready for :func:`fit_runs`.

    A feature that is constant over the training rows cannot be standardized
    (its scale is 0) and carries no information: it is an error naming the
    columns, unless ``drop_constant`` is true, in which case those columns are
    left out and listed in ``Training.dropped``.

    ``test``: a table with the columns of ``df`` whose rows are the test part (the
    course's ``test_catvnoncat.h5``); ``df`` is then all training rows, and
    ``test_size`` and ``seed`` are not used.  ``class_names``: the names of labels
    0 and 1 (the course's ``list_classes``), when the target holds 0 and 1.
    ``standardize=False`` keeps the features as they are (the scaler is the
    identity, and constant columns are kept: they cannot hurt without a division
    by their scale); :func:`~vecstudy.learn.data.read_data` asks for it for images,
    whose pixels the course only divides by 255.
    """
    if test is None:
        table = check_table(df, target, drop=drop)
        train_rows, test_rows = split(table.y, test_size=test_size, seed=seed)
        settings: dict[str, Any] = {"test_size": test_size, "seed": seed}
    else:
        import pandas as pd

        table = check_table(pd.concat([df, test], ignore_index=True), target, drop=drop)
        train_rows, test_rows = np.arange(len(df)), np.arange(len(df), len(df) + len(test))
        if len(test_rows) == 0 or np.unique(table.y[train_rows]).size < 2:
            raise DataError(
                f"the test data has no rows, or the training data ({len(train_rows)} rows) "
                "lacks one of the two classes"
            )
        settings = {"test_data": test_source or "a separate table"}
    if class_names is not None:
        table = _named_classes(table, class_names, target)
    constant = constant_columns(table.X[train_rows], table.features) if standardize else []
    if constant and not drop_constant:
        everywhere = set(constant_columns(table.X, table.features))
        detail = ", ".join(
            _short(c) + ("" if c in everywhere else " (in the training part)") for c in constant[:8]
        ) + (f" and {len(constant) - 8} more" if len(constant) > 8 else "")
        raise DataError(
            f"constant feature columns: {detail}; they carry no information and cannot be "
            "standardized (scale 0): pass --drop-constant to leave them out, or --drop-columns "
            + _joined(constant)
        )
    if constant:
        keep = [i for i, f in enumerate(table.features) if f not in constant]
        if not keep:
            raise DataError("every feature column is constant; nothing to train on")
        table = Table(
            features=[table.features[i] for i in keep],
            X=np.ascontiguousarray(table.X[:, keep]),
            labels=table.labels,
            classes=table.classes,
            y=table.y,
        )
    if standardize:
        scaler = Scaler.fit(table.X[train_rows])
    else:
        n = len(table.features)
        scaler = Scaler(mean=np.zeros(n), scale=np.ones(n))
        settings["standardized"] = False
    return Training(
        source=source,
        target=target,
        table=table,
        scaler=scaler,
        train_rows=train_rows,
        test_rows=test_rows,
        dropped=constant,
        settings=settings,
    )


def _named_classes(table: Table, names: Sequence[str], target: str) -> Table:
    """Labels 0 and 1 replaced by their names (``names[1]`` stays the positive class)."""
    if sorted(table.classes) != [0, 1] or len(names) != 2:
        raise DataError(
            f"the class names {_names(list(names))} name labels 0 and 1, but --target "
            f"{_short(target)} holds {_names(table.classes)}"
        )
    labels = np.where(table.y == 1, names[1], names[0]).astype(object)
    return Table(features=table.features, X=table.X, labels=labels, classes=list(names), y=table.y)


#: ``vecstudy train`` refuses runs estimated to take longer than this (``--budget``).
DEFAULT_BUDGET: Final = 600.0
#: A run estimated to take at least this many seconds has its estimate shown.
ESTIMATE_SHOWN: Final = 10.0


@dataclass(frozen=True)
class Estimate:
    """How long one backend's runs should take, from one timed iteration."""

    backend: str  # as resolved ("auto" and the config's default named)
    seconds_per_iteration: float
    iterations: int  # per run
    runs: int  # one per learning rate

    @property
    def seconds(self) -> float:
        """The whole estimate: every run of this backend."""
        return self.seconds_per_iteration * self.iterations * self.runs

    def __str__(self) -> str:
        rates = "learning rate" if self.runs == 1 else "learning rates"
        return (
            f"{self.backend}: {self.seconds_per_iteration:.3g} s per iteration x "
            f"{self.iterations} iterations x {self.runs} {rates}"
        )


def fit_runs(
    training: Training,
    *,
    backends: Sequence[str | None],
    learning_rates: Sequence[float],
    max_iter: int = 2000,
    record_every: int = api.RECORD_EVERY,
    dtype: str | None = None,
    threads: int | str | None = None,
    progress: bool = False,
    budget: float | None = None,
) -> Training:
    """Train one model per backend x learning rate on the standardized training rows.

    ``None`` in ``backends`` means the configured backend.  ``progress`` shows a
    tqdm bar per run (on stderr, only when it is a terminal) that counts
    iterations, moves every second or so and shows the time left; log lines of
    logger ``vecstudy`` are written above the bar.

    Before any run, each backend makes one update from zero weights (which also
    compiles numba's kernels and warms the caches, so that ``fit_s`` times the
    descent alone); its time x the iterations of the runs is the estimate (when that
    is over a minute or over the budget, a second, warm, update is timed instead, so
    that a compilation does not count: at most one iteration in 50 of the runs).

    Raises
    ------
    BudgetError
        If ``budget`` (seconds) is given and the runs are estimated to take longer;
        raised before any run, with the estimate.

    Warns
    -----
    vecstudy.SlowRunWarning
        If the runs of the python backend are estimated over a minute (and within
        the budget).
    """
    Xs = training.scaler.transform(training.table.X)
    X_train, X_test = Xs[training.train_rows], Xs[training.test_rows]
    y_train, y_test = training.table.y[training.train_rows], training.table.y[training.test_rows]
    XT = X_train.T
    training.settings.update(
        {"max_iter": max_iter, "record_every": record_every, "dtype": dtype, "threads": threads}
    )
    common: dict[str, Any] = {"record_every": record_every, "dtype": dtype, "threads": threads}
    if budget is not None and not budget > 0:
        raise ValueError(f"budget must be a number of seconds > 0; got {_short(budget)}")
    with api._no_slow_run_check(), _logging_above_bars(progress):
        estimates = [
            _warm_up(XT, y_train, b, learning_rates, max_iter, budget, common) for b in backends
        ]
        _check_budget(estimates, budget)
        _warn_if_slow(estimates, XT.shape)
        for backend, estimate in zip(backends, estimates, strict=True):
            for lr in learning_rates:
                bar = None
                if progress:
                    label = backend if backend is not None else "the configured backend"
                    run_s = estimate.seconds / estimate.runs  # shown where it matters
                    print(
                        f"training {label}, learning rate {lr:g}: {max_iter} iterations on "
                        f"{XT.shape[1]} samples x {XT.shape[0]} features"
                        + (f" (about {api._duration(run_s)})" if run_s >= ESTIMATE_SHOWN else ""),
                        file=sys.stderr,
                        flush=True,
                    )
                    bar = _progress_bar(backend, lr, max_iter)
                try:
                    descent = descend(
                        XT,
                        y_train,
                        max_iter=max_iter,
                        learning_rate=lr,
                        backend=backend,
                        progress=None if bar is None else bar.update,
                        **common,
                    )
                finally:
                    if bar is not None:
                        bar.close()
                _, final_cost = api.propagate(
                    descent.w, descent.b, XT, y_train, backend="numpy", dtype=descent.dtype
                )
                training.runs.append(
                    Run(
                        backend=descent.backend,
                        learning_rate=float(lr),
                        descent=descent,
                        train_accuracy=_accuracy(descent.w, descent.b, X_train, y_train),
                        test_accuracy=_accuracy(descent.w, descent.b, X_test, y_test),
                        final_cost=float(final_cost),
                    )
                )
    return training


#: The warm-up is timed again (warm) only when the runs make at least this many
#: iterations: the extra one is then at most 2% of them.
_RETIME_MIN_ITERATIONS: Final = 50


def _warm_up(
    XT: NDArray[Any],
    y: NDArray[Any],
    backend: str | None,
    learning_rates: Sequence[float],
    max_iter: int,
    budget: float | None,
    common: Mapping[str, Any],
) -> Estimate:
    """One update (compiles, warms caches), timed: the estimate of the backend's runs."""
    runs = len(learning_rates)

    def timed() -> tuple[str, float]:
        began = _descent._clock()  # the clock descend sizes its slices by
        d = descend(XT, y, max_iter=1, learning_rate=learning_rates[0], backend=backend, **common)
        return d.backend, _descent._clock() - began

    name, seconds = timed()
    limit = api.SLOW_RUN_SECONDS if budget is None else min(api.SLOW_RUN_SECONDS, budget)
    if seconds * max_iter * runs > limit and max_iter * runs >= _RETIME_MIN_ITERATIONS:
        name, seconds = timed()  # the first call may have compiled (numba) or loaded modules
    return Estimate(backend=name, seconds_per_iteration=seconds, iterations=max_iter, runs=runs)


def _check_budget(estimates: Sequence[Estimate], budget: float | None) -> None:
    total = sum(e.seconds for e in estimates)
    if budget is None or total <= budget:
        return
    python = any(e.backend == "python" for e in estimates)
    raise BudgetError(
        f"the runs would take about {api._duration(total)} ("
        + "; ".join(str(e) for e in estimates)
        + f"; timed on one iteration), over the budget of {budget:g} s: nothing was trained; "
        + (
            "the python backend is the course's readable double loop: --backends numpy or "
            "numba runs the same descent in a small fraction of the time; or "
            if python
            else ""
        )
        + "train fewer --iterations, or allow more with --budget SECONDS"
    )


def _warn_if_slow(estimates: Sequence[Estimate], shape: tuple[int, ...]) -> None:
    import warnings

    for e in estimates:
        if e.backend == "python" and e.seconds > api.SLOW_RUN_SECONDS:
            warnings.warn(
                api.SlowRunWarning(
                    f"backend 'python' would take about {api._duration(e.seconds)} ({e}) on "
                    f"{shape[1]} samples x {shape[0]} features; --backends numpy or numba runs "
                    "the same descent in a small fraction of that time"
                ),
                stacklevel=3,
            )


@contextlib.contextmanager
def _logging_above_bars(progress: bool) -> Iterator[None]:
    """Within: lines of logger ``vecstudy`` go to the console above tqdm's bars, not into them."""
    if not progress:
        yield
        return
    import logging

    from tqdm.auto import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm(loggers=[logging.getLogger("vecstudy")], tqdm_class=tqdm):
        yield


def _progress_bar(backend: str | None, lr: float, total: int) -> Any:
    """A bar counting iterations, with the rate and the time left (tqdm's ETA)."""
    from tqdm.auto import tqdm

    label = backend if backend is not None else str(config.resolve_backend(None).value)
    return tqdm(total=total, desc=f"{label} lr={lr:g}", unit="it", leave=False, disable=None)


# --------------------------------------------------------------------------- outputs
def describe(training: Training) -> str:
    """Two lines on the data: rows, features, classes, split, dropped columns."""
    t = training.table
    counts = {c: int(np.sum(t.labels == c)) for c in t.classes}
    shown = ", ".join(f"{_label(c)} ({n} rows)" for c, n in counts.items())
    lines = [
        f"{_bounded_path(training.source)}"
        + (" with its test file" if "test_data" in training.settings else "")
        + f": {len(t.y)} rows, {len(t.features)} features, "
        f"target {_short(training.target)}: {shown} (positive class: {_label(t.classes[1])})",
        f"split: {len(training.train_rows)} training / {len(training.test_rows)} test rows "
        + (
            f"(the test rows from {_bounded_path(Path(str(training.settings['test_data'])).name)})"
            if "test_data" in training.settings
            else f"(stratified, seed {training.settings['seed']})"
        )
        + (
            "; features not standardized (image pixels: the course only divides them by 255)"
            if training.settings.get("standardized") is False
            else "; features standardized with the training rows' mean and standard deviation"
        ),
    ]
    if training.dropped:
        lines.append(f"left out constant columns: {_names(training.dropped)}")
    return "\n".join(lines)


def results_table(training: Training) -> pd.DataFrame:
    """One row per run: backend, learning rate, accuracies (%), final cost, fit time (s)."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "backend": r.backend,
                "learning_rate": r.learning_rate,
                "dtype": r.descent.dtype,
                "iterations": r.descent.n_iter,
                "train_accuracy_%": 100 * r.train_accuracy,
                "test_accuracy_%": 100 * r.test_accuracy,
                "final_cost": r.final_cost,
                "fit_s": r.descent.seconds,
            }
            for r in training.runs
        ]
    )


def format_table(training: Training) -> str:
    """The results table as aligned text."""
    df = results_table(training)
    return df.to_string(
        index=False,
        formatters={
            "learning_rate": "{:g}".format,
            "train_accuracy_%": "{:.2f}".format,
            "test_accuracy_%": "{:.2f}".format,
            "final_cost": "{:.6g}".format,
            "fit_s": "{:.4f}".format,
        },
    )


def check_writable(training: Training, paths: Sequence[Path] = ()) -> None:
    """Fail now, not after the training, if the model or the ``paths`` could not be written.

    Serializes the model document without its runs (labels, feature names, the
    scaler, the settings) and checks that each path is not a read-only file.
    """
    from vecstudy.records.results import check_writable as writable

    skeleton = Training(
        source=training.source,
        target=training.target,
        table=training.table,
        scaler=training.scaler,
        train_rows=training.train_rows,
        test_rows=training.test_rows,
        dropped=training.dropped,
        settings=dict(training.settings),
    )
    model_text(skeleton)
    for path in paths:
        writable(path)


def write_outputs(training: Training, figure: Path, model: Path) -> bool:
    """Write the figure and the model as one pair; return whether an earlier pair was replaced.

    Both are rendered and written to temporary files beside their targets first;
    then, under an exclusive lock on the output directory (two ``vecstudy train``
    runs at once take turns) and with SIGINT and SIGTERM held back, both are
    renamed into place.  Readers see the earlier pair or the new one, never a
    figure of one run beside the model of another; on any error or interrupt
    before the renames, the temporary files are removed and nothing changed.
    A symbolic link's target is written; an existing file keeps its mode.
    """
    import secrets
    import stat

    from vecstudy.records.results import atomic_write_bytes
    from vecstudy.records.results import check_writable as writable

    targets = [writable(figure), writable(model)]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    temps = [t.with_name(f".{t.name}.{tag}.tmp") for t in targets]
    try:
        atomic_write_bytes(temps[0], render_costs(training, figure.suffix.lstrip(".") or "png"))
        write_model(training, temps[1])
        with _directory_locked(targets[1].parent), _signals_deferred():
            replaced = any(t.exists() for t in targets)
            for tmp, target in zip(temps, targets, strict=True):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
            for tmp, target in zip(temps, targets, strict=True):
                os.replace(tmp, target)
    except BaseException:
        for tmp in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    return replaced


#: ``vecstudy train``'s learning rate for standardized tables, and for images (the course's).
DEFAULT_LEARNING_RATE: Final = "0.5"
IMAGE_LEARNING_RATE: Final = "0.005"


def parse_learning_rates(value: str, source: str = "--learning-rates") -> list[float]:
    """``"0.01,0.001"`` -> ``[0.01, 0.001]``; each finite and > 0.

    >>> parse_learning_rates("0.01, 1e-3")
    [0.01, 0.001]
    """
    rates = []
    for item in (s.strip() for s in value.split(",")):
        if not item:
            continue
        try:
            rate = float(item)
        except ValueError:
            raise ValueError(f"{source}: {_short(item)} is not a number") from None
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"{source}: learning rates must be finite and > 0; got {_short(item)}")
        rates.append(rate)
    if not rates:
        raise ValueError(f"{source}: expected numbers separated by commas, got {_short(value)}")
    return list(dict.fromkeys(rates))


def choose_learning_rates(
    learning_rate: str | None, learning_rates: str | None, *, images: bool
) -> tuple[list[float], str | None]:
    """The learning rates of ``vecstudy train``, and a note when the images' default was taken.

    ``learning_rates`` (``--learning-rates``) if given, else ``learning_rate``
    (``--learning-rate``), else :data:`IMAGE_LEARNING_RATE` for images (the course's:
    its pixels are scaled, not standardized) or :data:`DEFAULT_LEARNING_RATE` for a
    standardized table.

    >>> choose_learning_rates(None, None, images=False)
    ([0.5], None)
    >>> choose_learning_rates(None, None, images=True)
    ([0.005], "learning rate 0.005 (the course's for its images)")
    >>> choose_learning_rates("0.1", None, images=True)
    ([0.1], None)
    """
    if learning_rates is not None:
        return parse_learning_rates(learning_rates), None
    default = IMAGE_LEARNING_RATE if images else DEFAULT_LEARNING_RATE
    rates = parse_learning_rates(learning_rate or default, "--learning-rate")
    if images and learning_rate is None:
        return rates, f"learning rate {IMAGE_LEARNING_RATE} (the course's for its images)"
    return rates, None
