"""From a data file to a trained model: the workflow behind ``vecstudy train``.

Reads a table (CSV or Parquet with pandas, or NPZ), checks it, splits it into a
training and a test part with a seed, standardizes the features with the
statistics of the training part only, runs the course's batch gradient descent
with each chosen backend (and learning rate), and reports accuracy, final cost and
time per run, a figure of the cost against the iteration and the fitted model as
JSON.  scikit-learn is not needed here.

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

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

from vecstudy import api, config

if TYPE_CHECKING:
    import pandas as pd

Array = NDArray[np.floating[Any]]

#: Layout of the model file written by :func:`write_model`.
MODEL_FORMAT: Final = "vecstudy-logistic-regression-1"
#: File suffixes :func:`read_table` understands.
SUFFIXES: Final = (".csv", ".parquet", ".pq", ".npz")
#: The bundled example: a CSV copy of the Wisconsin diagnostic breast-cancer data.
EXAMPLE_FILE: Final = "breast_cancer.csv"
EXAMPLE_TARGET: Final = "diagnosis"


class DataError(ValueError):
    """The data cannot be trained on as it is (the message says why and what to do)."""


# --------------------------------------------------------------------------- descent
@dataclass(frozen=True)
class Descent:
    """The result of :func:`descend`.

    Attributes
    ----------
    w : ndarray, shape (n_features,)
    b : float
    costs : ndarray, shape (ceil(n_iter / record_every),)
        The cost before the updates number 0, record_every, 2 * record_every, ...
    n_iter : int
        Updates applied.
    seconds : float
        Wall time of the descent (the backend's first-call compilation included,
        if any: warm it up first to time the descent alone).
    dtype : str
    backend : str
        The backend that ran (``"auto"`` resolved).
    """

    w: Array
    b: float
    costs: Array
    n_iter: int
    seconds: float
    dtype: str
    backend: str


def resolve_backend_name(backend: str | None, n_x: int, m: int, dtype: str) -> str:
    """The backend a call with ``backend`` runs on: the argument, else the config.

    ``"auto"`` is resolved by the problem's shape, as the API does.
    """
    name = str(config.resolve_backend(backend).value)
    if name == config.AUTO:
        from vecstudy.auto import choose_backend

        name = str(choose_backend(n_x, m, dtype=dtype).value)
    return name


def descend(
    XT: Any,
    y: Any,
    *,
    max_iter: int,
    learning_rate: float,
    record_every: int = api.RECORD_EVERY,
    backend: str | None = None,
    dtype: str | None = None,
    threads: int | str | None = None,
    progress: Callable[[int], object] | None = None,
) -> Descent:
    """Batch gradient descent from zero weights, through :func:`vecstudy.optimize`.

    Runs ``max_iter`` updates ``w -= learning_rate * dw``, ``b -= learning_rate * db``
    through the public API, and records the cost before updates 0, ``record_every``,
    ``2 * record_every``, ...  Each API call validates ``X`` once and runs one
    compiled loop (numba backend); when ``record_every`` is a multiple of 100 (the
    API's recording interval) the whole descent is one call (about 20 calls with
    ``progress``), otherwise one call per record.

    Parameters
    ----------
    XT : array, shape (n_x, m)
        Features, one column per sample (the transpose of a scikit-learn ``X``).
    y : array, shape (m,)
        Labels 0 and 1.
    max_iter, learning_rate, record_every
        As in the course's ``optimize`` (``num_iterations``, ``learning_rate``; the
        course records every 100 iterations).
    backend, dtype, threads
        As in :func:`vecstudy.optimize`; ``None`` lets the config decide.
    progress : callable, optional
        Called with the number of iterations done after each slice.

    Raises
    ------
    vecstudy.DivergenceError
        If an update would make the parameters non-finite; ``iteration`` counts
        from the start of the descent and ``costs`` holds every recorded cost.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
    >>> d = descend(X, np.array([1.0, 0.0, 1.0]), max_iter=100, learning_rate=0.009,
    ...             backend="numpy")
    >>> d.n_iter, d.costs.shape
    (100, (1,))
    """
    n_iter = api._check_int(max_iter, "max_iter", 1, api.MAX_ITERATIONS)
    every = api._check_int(record_every, "record_every", 1, api.MAX_ITERATIONS)
    lr = api._check_learning_rate(learning_rate)
    XT = np.asarray(XT)
    dt = str(config.resolve_dtype(dtype, XT.dtype).value)
    n_x, m = XT.shape if XT.ndim == 2 else (1, 1)
    name = resolve_backend_name(backend, n_x, m, dt)
    w, b = api.initialize_with_zeros(max(n_x, 1), dtype=dt)
    # The API records the cost every RECORD_EVERY iterations of a call.  When
    # record_every is a multiple of that, a call may span many records (one call
    # when nobody watches the progress); otherwise each call is one record long.
    if every % api.RECORD_EVERY == 0:
        stride = every // api.RECORD_EVERY
        span = n_iter if progress is None else every * max(1, math.ceil(n_iter / every / 20))
    else:
        stride, span = 0, every
    costs: list[float] = []
    done = 0
    start = time.perf_counter()
    with config.one_lookup():
        while done < n_iter:
            chunk = min(span, n_iter - done)
            try:
                params, _, recorded = api.optimize(
                    w, b, XT, y, chunk, lr, backend=name, dtype=dt, threads=threads
                )
            except api.DivergenceError as exc:
                kept = exc.costs[::stride] if stride else exc.costs[:1]
                raise api.DivergenceError(
                    f"gradient descent diverged at iteration {done + exc.iteration} "
                    f"(backend {name!r}): the update would make w or b non-finite; "
                    f"learning_rate={lr!r} is too large for this data (standardize the "
                    "features, or try a smaller learning rate)",
                    iteration=done + exc.iteration,
                    params=exc.params,
                    grads=exc.grads,
                    costs=[*costs, *kept],
                ) from None
            costs.extend(recorded[::stride] if stride else recorded[:1])
            w, b = params["w"], params["b"]
            done += chunk
            if progress is not None:
                progress(chunk)
    seconds = time.perf_counter() - start
    return Descent(
        w=np.asarray(w).reshape(-1),
        b=float(b),
        costs=np.asarray(costs, dtype=dt),
        n_iter=done,
        seconds=seconds,
        dtype=dt,
        backend=name,
    )


# --------------------------------------------------------------------------- reading
def example_path() -> Path:
    """Path of the bundled example: 569 breast-cancer samples, 30 features, target ``diagnosis``.

    The Wisconsin diagnostic breast-cancer data (W. H. Wolberg, W. N. Street and
    O. L. Mangasarian, UCI Machine Learning Repository, CC BY 4.0), as scikit-learn's
    ``load_breast_cancer`` ships it, with the target spelled ``benign`` / ``malignant``.

    >>> example_path().name
    'breast_cancer.csv'
    """
    return Path(str(resources.files("vecstudy") / "data" / EXAMPLE_FILE))


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, Parquet or NPZ file into a DataFrame (one column per feature and target).

    NPZ: each 1-D array is a column named by its key; a 2-D array ``K`` of shape
    ``(n, k)`` gives the columns ``K[0]`` ... ``K[k-1]``.  Every array needs the same
    number of rows.
    """
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(
            f"DATA {str(path)!r}: unknown file type {path.suffix or '(no suffix)'!r}; "
            f"expected one of {', '.join(SUFFIXES)}"
        )
    if not path.is_file():
        raise FileNotFoundError(2, "No such file", str(path))
    if suffix == ".csv":
        try:
            return pd.read_csv(path)
        except pd.errors.EmptyDataError:
            raise DataError(f"DATA {str(path)!r}: the file is empty (no header, no rows)") from None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataError(f"DATA {str(path)!r}: not a readable CSV file: {exc}") from None
    if suffix in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except ImportError as exc:
            raise ImportError(
                f"reading Parquet needs pyarrow ({exc}); install it with: "
                "pip install 'vecstudy[learn]' (from a clone: pip install '.[learn]')"
            ) from None
    return _read_npz(path)


def _read_npz(path: Path) -> pd.DataFrame:
    import zipfile

    import pandas as pd

    columns: dict[str, NDArray[Any]] = {}
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        # NumPy takes bytes it cannot place for a pickle: say what the file is not
        why = "not a zip archive of .npy arrays" if "pickle" in str(exc) else str(exc)
        raise DataError(f"DATA {str(path)!r}: not a readable NPZ file ({why})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DataError(f"DATA {str(path)!r}: holds a single array, not an NPZ archive of columns")
    with npz:
        for key in npz.files:
            try:
                arr = npz[key]
            except ValueError:  # an object array: reading it would unpickle
                raise DataError(
                    f"DATA {str(path)!r}: array {key!r} holds Python objects; "
                    "expected numeric arrays (save strings as numbers or leave them out)"
                ) from None
            if arr.ndim == 1:
                columns[key] = arr
            elif arr.ndim == 2:
                for i in range(arr.shape[1]):
                    columns[f"{key}[{i}]"] = arr[:, i]
            else:
                raise DataError(
                    f"DATA {str(path)!r}: array {key!r} has shape {arr.shape}; "
                    "expected 1-D columns or a 2-D (rows, columns) array"
                )
    lengths = {key: len(col) for key, col in columns.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(
            f"DATA {str(path)!r}: arrays have different numbers of rows: "
            + ", ".join(f"{k}: {n}" for k, n in lengths.items())
        )
    return pd.DataFrame(columns)


# --------------------------------------------------------------------------- checks
def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (``0``, not ``np.int64(0)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _names(columns: Sequence[object], limit: int = 8) -> str:
    shown = ", ".join(repr(c) for c in columns[:limit])
    return shown + (f" and {len(columns) - limit} more" if len(columns) > limit else "")


@dataclass(frozen=True)
class Table:
    """Checked data: features as floats, the target as labels 0/1 and its two values."""

    features: list[str]
    X: NDArray[np.float64]  # (n_samples, n_features)
    labels: NDArray[Any]  # (n_samples,) the target as read
    classes: list[Any]  # the two target values, sorted; classes[1] is the positive one
    y: NDArray[np.float64]  # (n_samples,) 1.0 where labels == classes[1]


def check_table(df: pd.DataFrame, target: str, *, drop: Sequence[str] = ()) -> Table:
    """Pick the features and the target, with one clear error for each problem.

    Errors (:class:`DataError`): unknown target or dropped column; no rows; no
    feature left; non-numeric feature columns (named; there is no one-hot
    encoding); missing values (columns named, with counts and the first row); a
    target with other than two distinct values.
    """
    import pandas as pd

    columns = [str(c) for c in df.columns]
    df = df.set_axis(columns, axis=1)
    for name, what in ((target, "--target"), *((d, "--drop-columns") for d in drop)):
        if name not in columns:
            raise DataError(
                f"{what} {name!r} is not a column of the data; the columns are {_names(columns)}"
            )
    if len(df) == 0:
        raise DataError("the data has no rows")
    features = [c for c in columns if c != target and c not in drop]
    if not features:
        raise DataError(f"the data has no feature columns besides the target {target!r}")
    non_numeric = [
        c
        for c in features
        if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))
    ]
    if non_numeric:
        found = ", ".join(
            f"{c!r} ({df[c].dtype}, e.g. {df[c].dropna().iloc[:1].tolist()})"
            for c in non_numeric[:5]
        )
        raise DataError(
            f"non-numeric feature columns: {found}"
            + (f" and {len(non_numeric) - 5} more" if len(non_numeric) > 5 else "")
            + "; vecstudy train uses numeric columns only (no one-hot encoding): encode them "
            "as numbers first or leave them out with --drop-columns " + ",".join(non_numeric)
        )
    missing = df[[*features, target]].isna()
    if missing.to_numpy().any():
        counts = missing.sum()
        bad = [c for c in [*features, target] if counts[c] > 0]
        detail = ", ".join(
            f"{c!r} ({int(counts[c])} rows, first at row {int(np.flatnonzero(missing[c])[0])})"
            for c in bad[:5]
        )
        raise DataError(
            f"missing values in {len(bad)} column(s): {detail}; fill or remove those rows first "
            "(rows count from 0, the header not counted)"
        )
    X = df[features].to_numpy(dtype=np.float64)
    if not np.isfinite(X).all():
        col = features[int(np.argwhere(~np.isfinite(X))[0][1])]
        raise DataError(f"feature column {col!r} holds an infinite value")
    labels = df[target].to_numpy()
    values, per_value = np.unique(labels, return_counts=True)
    if len(values) != 2:
        shown = ", ".join(
            f"{_plain(v)!r} ({n} rows)" for v, n in zip(values[:6], per_value[:6], strict=True)
        )
        raise DataError(
            f"--target {target!r} must have exactly two distinct values (binary "
            f"classification); found {len(values)}: {shown}" + (" ..." if len(values) > 6 else "")
        )
    classes = [_plain(v) for v in values]
    y = (labels == values[1]).astype(np.float64)
    return Table(features=features, X=X, labels=labels, classes=classes, y=y)


def split(
    y: NDArray[Any], *, test_size: float, seed: int
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Row indices of the training and the test part, stratified by class, seeded.

    Each class contributes ``round(test_size * its count)`` rows to the test part,
    drawn with ``numpy.random.default_rng(seed)``; indices come back sorted.

    >>> train, test = split(np.array([0, 0, 0, 0, 1, 1, 1, 1]), test_size=0.25, seed=0)
    >>> len(train), len(test)
    (6, 2)
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1 (exclusive); got {test_size!r}")
    rng = np.random.default_rng(seed)
    test: list[NDArray[np.intp]] = []
    for value in np.unique(y):
        rows = np.flatnonzero(y == value)
        rng.shuffle(rows)
        test.append(rows[: round(float(test_size) * len(rows))])
    test_rows = np.sort(np.concatenate(test))
    train_rows = np.setdiff1d(np.arange(len(y)), test_rows)
    if len(test_rows) == 0 or np.unique(y[train_rows]).size < 2:
        raise DataError(
            f"{len(y)} rows are too few for --test-size {test_size}: the test part would be "
            "empty or the training part would miss a class"
        )
    return train_rows, test_rows


@dataclass(frozen=True)
class Scaler:
    """``x' = (x - mean) / scale``; statistics of the training rows (``ddof=0``)."""

    mean: NDArray[np.float64]
    scale: NDArray[np.float64]

    @classmethod
    def fit(cls, X: NDArray[np.float64]) -> Scaler:
        """Mean and standard deviation of each column, finite for any finite ``X``.

        Each column is divided by its largest magnitude ``s`` first
        (``mean = s mean(X / s)``, ``scale = s std(X / s)``), so values near the
        largest double (1e308) do not overflow the sums.
        """
        s = np.abs(X).max(axis=0, initial=0.0)
        s = np.where(s > 0, s, 1.0)
        Xs = X / s
        return cls(mean=Xs.mean(axis=0) * s, scale=Xs.std(axis=0) * s)

    def transform(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """``(X - mean) / scale``; entries where ``X - mean`` overflows are computed as
        ``X / scale - mean / scale``."""
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.asarray((X - self.mean) / self.scale, dtype=np.float64)
            bad = ~np.isfinite(out)
            if bad.any():
                alt = X / self.scale - self.mean / self.scale
                out[bad] = np.broadcast_to(alt, out.shape)[bad]
        return out


def constant_columns(X: NDArray[np.float64], features: Sequence[str]) -> list[str]:
    """Names of the columns of ``X`` with a single value (they cannot be standardized)."""
    same = X.max(axis=0, initial=-np.inf) == X.min(axis=0, initial=np.inf)  # ptp overflows
    return [f for f, one in zip(features, same, strict=True) if one]


# --------------------------------------------------------------------------- workflow
@dataclass(frozen=True)
class Run:
    """One trained model: a backend and a learning rate, with its scores."""

    backend: str
    learning_rate: float
    descent: Descent
    train_accuracy: float
    test_accuracy: float
    final_cost: float


@dataclass
class Training:
    """Everything :func:`train` computed (nothing written yet)."""

    source: str
    target: str
    table: Table
    scaler: Scaler
    train_rows: NDArray[np.intp]
    test_rows: NDArray[np.intp]
    dropped: list[str]
    settings: dict[str, Any]
    runs: list[Run] = field(default_factory=list)


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
) -> Training:
    """Check, split and standardize: a :class:`Training` ready for :func:`fit_runs`.

    A feature that is constant over the training rows cannot be standardized
    (its scale is 0) and carries no information: it is an error naming the
    columns, unless ``drop_constant`` is true, in which case those columns are
    left out and listed in ``Training.dropped``.
    """
    table = check_table(df, target, drop=drop)
    train_rows, test_rows = split(table.y, test_size=test_size, seed=seed)
    constant = constant_columns(table.X[train_rows], table.features)
    if constant and not drop_constant:
        everywhere = set(constant_columns(table.X, table.features))
        detail = ", ".join(
            f"{c!r}" + ("" if c in everywhere else " (in the training part)") for c in constant
        )
        raise DataError(
            f"constant feature columns: {detail}; they carry no information and cannot be "
            "standardized (scale 0): pass --drop-constant to leave them out, or --drop-columns "
            + ",".join(constant)
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
    scaler = Scaler.fit(table.X[train_rows])
    return Training(
        source=source,
        target=target,
        table=table,
        scaler=scaler,
        train_rows=train_rows,
        test_rows=test_rows,
        dropped=constant,
        settings={"test_size": test_size, "seed": seed},
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
) -> Training:
    """Train one model per backend x learning rate on the standardized training rows.

    ``None`` in ``backends`` means the configured backend.  ``progress`` shows a
    tqdm bar per run (on stderr, only when it is a terminal).
    """
    Xs = training.scaler.transform(training.table.X)
    X_train, X_test = Xs[training.train_rows], Xs[training.test_rows]
    y_train, y_test = training.table.y[training.train_rows], training.table.y[training.test_rows]
    XT = X_train.T
    training.settings.update(
        {"max_iter": max_iter, "record_every": record_every, "dtype": dtype, "threads": threads}
    )
    common: dict[str, Any] = {"record_every": record_every, "dtype": dtype, "threads": threads}
    for backend in backends:
        # one update first: compiles (numba) and warms caches, so fit_s times the descent
        descend(XT, y_train, max_iter=1, learning_rate=learning_rates[0], backend=backend, **common)
        for lr in learning_rates:
            bar = None
            if progress:
                label = backend if backend is not None else "the configured backend"
                print(
                    f"training {label}, learning rate {lr:g}: {max_iter} iterations on "
                    f"{XT.shape[1]} samples x {XT.shape[0]} features",
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


def _progress_bar(backend: str | None, lr: float, total: int) -> Any:
    from tqdm.auto import tqdm

    label = backend if backend is not None else str(config.resolve_backend(None).value)
    return tqdm(total=total, desc=f"{label} lr={lr:g}", unit="it", leave=False, disable=None)


# --------------------------------------------------------------------------- outputs
def describe(training: Training) -> str:
    """Two lines on the data: rows, features, classes, split, dropped columns."""
    t = training.table
    counts = {c: int(np.sum(t.labels == c)) for c in t.classes}
    shown = ", ".join(f"{c} ({n} rows)" for c, n in counts.items())
    lines = [
        f"{training.source}: {len(t.y)} rows, {len(t.features)} features, target "
        f"{training.target!r}: {shown} (positive class: {t.classes[1]})",
        f"split: {len(training.train_rows)} training / {len(training.test_rows)} test rows "
        f"(stratified, seed {training.settings['seed']}); features standardized with the "
        "training rows' mean and standard deviation",
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


def model_document(training: Training) -> dict[str, Any]:
    """The fitted models as a JSON-ready dict (format :data:`MODEL_FORMAT`).

    To predict a new row ``x`` (features in the order of ``features``)::

        z = intercept + sum_i coef_i * (x_i - scaler.mean_i) / scaler.scale_i
        label = classes[1] if z > 0 else classes[0];  P(classes[1]) = 1 / (1 + exp(-z))
    """
    import vecstudy

    t = training.table
    return {
        "format": MODEL_FORMAT,
        "vecstudy": vecstudy.__version__,
        "data": training.source,
        "target": training.target,
        "classes": t.classes,
        "features": t.features,
        "dropped_constant_columns": training.dropped,
        "n_train": len(training.train_rows),
        "n_test": len(training.test_rows),
        "settings": training.settings,
        "scaler": {"mean": training.scaler.mean.tolist(), "scale": training.scaler.scale.tolist()},
        "models": [
            {
                "backend": r.backend,
                "dtype": r.descent.dtype,
                "learning_rate": r.learning_rate,
                "n_iter": r.descent.n_iter,
                "coef": [float(v) for v in r.descent.w],
                "intercept": r.descent.b,
                "train_accuracy": r.train_accuracy,
                "test_accuracy": r.test_accuracy,
                "final_cost": r.final_cost,
                "fit_seconds": r.descent.seconds,
                "costs": [float(c) for c in r.descent.costs],
            }
            for r in training.runs
        ],
    }


def predict_with_model(document: dict[str, Any], X: Any, *, model: int = 0) -> NDArray[Any]:
    """Labels for the rows of ``X`` (n_samples, n_features) from a model document.

    >>> doc = {"classes": ["no", "yes"], "scaler": {"mean": [1.0], "scale": [2.0]},
    ...        "models": [{"coef": [3.0], "intercept": 0.0}]}
    >>> predict_with_model(doc, [[0.0], [4.0]]).tolist()
    ['no', 'yes']
    """
    entry = document["models"][model]
    mean = np.asarray(document["scaler"]["mean"], dtype=np.float64)
    scale = np.asarray(document["scaler"]["scale"], dtype=np.float64)
    Xa = np.asarray(X, dtype=np.float64)
    if Xa.ndim != 2 or Xa.shape[1] != len(mean):
        raise ValueError(
            f"X must have shape (n_samples, {len(mean)}) to match the model; got {Xa.shape}"
        )
    Xs = Scaler(mean=mean, scale=scale).transform(Xa)
    z = Xs @ np.asarray(entry["coef"], dtype=np.float64) + entry["intercept"]
    return np.asarray(np.asarray(document["classes"], dtype=object)[(z > 0).astype(np.intp)])


def write_model(training: Training, path: Path) -> Path:
    """Write :func:`model_document` as JSON, atomically."""
    from vecstudy.bench import atomic_write_text

    atomic_write_text(path, json.dumps(model_document(training), indent=1) + "\n")
    return path


def plot_costs(training: Training, path: Path) -> Path:
    """Cost against iteration for every run, written atomically as PNG (or SVG by suffix).

    Drawn by :func:`vecstudy.plot_costs`: one learning rate, all backends on one
    plot; several (the course's learning-rate study), one curve per learning
    rate, one panel per backend, sharing the y axis.
    """
    import io

    from vecstudy.bench import atomic_write_bytes
    from vecstudy.plots import plot_costs as draw

    every = int(training.settings.get("record_every", api.RECORD_EVERY))
    rates = list(dict.fromkeys(r.learning_rate for r in training.runs))
    data = (
        f"{Path(training.source).name}: {len(training.train_rows)} training samples "
        f"x {len(training.table.features)} features, standardized"
    )
    title = (
        f"Cost during gradient descent, learning rate {rates[0]:g}\n{data}"
        if len(rates) == 1
        else f"Cost for different learning rates: {data}"
    )
    runs = [
        {
            "costs": r.descent.costs,
            "learning_rate": r.learning_rate,
            "num_iterations": r.descent.n_iter,
            "record_every": every,
            "final_cost": r.final_cost,  # the cost after the last update
            "backend": r.backend,
            "dtype": r.descent.dtype,
            "seconds": r.descent.seconds,
        }
        for r in training.runs
    ]
    fig = draw(runs, title=title)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", dpi=120, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    return path


def output_paths(source: str, output_dir: str | Path, *, study: bool = False) -> tuple[Path, Path]:
    """``(figure, model)`` paths: ``<dir>/<data stem>-costs.png`` and ``-model.json``.

    For a learning-rate study (``study``): ``-learning-rates.png`` and
    ``-learning-rates-model.json``, so that it does not replace a plain run's files.
    """
    stem = Path(source).stem or "data"
    out = Path(output_dir)
    if study:
        return out / f"{stem}-learning-rates.png", out / f"{stem}-learning-rates-model.json"
    return out / f"{stem}-costs.png", out / f"{stem}-model.json"


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
            raise ValueError(f"{source}: {item!r} is not a number") from None
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"{source}: learning rates must be finite and > 0; got {item!r}")
        rates.append(rate)
    if not rates:
        raise ValueError(f"{source}: expected numbers separated by commas, got {value!r}")
    return list(dict.fromkeys(rates))
