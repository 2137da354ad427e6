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

import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final

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
    number of rows; two arrays that give one column name (``x`` of shape (n, 2)
    beside a 1-D ``x[0]``) and complex arrays are errors naming the arrays.

    Raises
    ------
    FileNotFoundError
        If nothing is at ``path``.
    DataError
        If ``path`` is not a regular file (a directory, a FIFO, a device), or the
        file cannot be read as its suffix says.
    """
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(
            f"DATA {_path(path)}: unknown file type {_short(path.suffix or '(no suffix)')}; "
            f"expected one of {', '.join(SUFFIXES)}"
        )
    with _open_regular(path) as fh:
        if suffix == ".csv":
            _check_csv_header(fh, path)
            try:
                return pd.read_csv(fh)
            except pd.errors.EmptyDataError:
                raise DataError(
                    f"DATA {_path(path)}: the file is empty (no header, no rows)"
                ) from None
            except (pd.errors.ParserError, UnicodeDecodeError) as exc:
                raise DataError(
                    f"DATA {_path(path)}: not a readable CSV file: {_clip(str(exc))}"
                ) from None
        if suffix in (".parquet", ".pq"):
            try:
                return pd.read_parquet(fh)
            except ImportError as exc:
                raise ImportError(
                    f"reading Parquet needs pyarrow ({exc}); install it with: "
                    "pip install 'vecstudy[learn]' (from a clone: pip install '.[learn]')"
                ) from None
        return _read_npz(fh, path)


#: A CSV header line longer than this is refused before pandas reads it: pandas takes
#: about 8 bytes of memory per byte of a header field (a 1 GB name took 8 GB).
MAX_HEADER_BYTES: Final = 16 * 2**20


def _describe_mode(mode: int) -> str:
    """What a non-regular file is, in words (for the error)."""
    import stat

    for test, what in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return what
    return "not a regular file"


@contextlib.contextmanager
def _open_regular(path: Path) -> Iterator[BinaryIO]:
    """``path`` opened for reading, after checking (on the open file) that it is a regular file.

    Opened without blocking, so that a FIFO with no writer is refused at once
    instead of hanging; the check is made on the open file (``fstat``), so a path
    swapped between a check and the open cannot slip through.
    """
    import stat

    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        if stat.S_ISDIR(os.stat(path).st_mode):  # open() of a directory fails on some systems
            raise DataError(
                f"DATA {_path(path)} is a directory, not a regular file; give a data file"
            )
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(2, "No such file", _bounded_path(path)) from None
    except OSError as exc:  # permission, a parent that is a file, a name too long: bounded
        raise type(exc)(exc.errno, exc.strerror, _bounded_path(path)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            link = " (through a symbolic link)" if path.is_symlink() else ""
            raise DataError(
                f"DATA {_path(path)}{link} is {_describe_mode(mode)}, not a regular "
                "file; give a data file (copy a stream to a file first)"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh


def _check_csv_header(fh: BinaryIO, path: Path) -> None:
    """Refuse a header line longer than :data:`MAX_HEADER_BYTES`, reading no more than that."""
    line = fh.readline(MAX_HEADER_BYTES + 1)
    fh.seek(0)
    if len(line) > MAX_HEADER_BYTES and not line.endswith(b"\n"):
        raise DataError(
            f"DATA {_path(path)}: the first line (the header) is longer than "
            f"{MAX_HEADER_BYTES // 2**20} MiB; a CSV header names the columns, and no column "
            "name needs to be that long: is this a CSV file?"
        )


def _read_npz(fh: BinaryIO, path: Path) -> pd.DataFrame:
    import zipfile

    import pandas as pd

    columns: dict[str, NDArray[Any]] = {}
    origin: dict[str, str] = {}  # column name -> where it came from, for collisions
    try:
        npz = np.load(fh, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        # NumPy takes bytes it cannot place for a pickle: say what the file is not
        why = "not a zip archive of .npy arrays" if "pickle" in str(exc) else _clip(str(exc))
        raise DataError(f"DATA {_path(path)}: not a readable NPZ file ({why})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DataError(f"DATA {_path(path)}: holds a single array, not an NPZ archive of columns")
    where = f"DATA {_path(path)}"
    with npz:
        for key in npz.files:
            try:
                arr = npz[key]
            except ValueError:  # an object array: reading it would unpickle
                raise DataError(
                    f"{where}: array {_short(key)} holds Python objects; "
                    "expected numeric arrays (save strings as numbers or leave them out)"
                ) from None
            if arr.dtype.kind == "c":
                raise DataError(
                    f"{where}: array {_short(key)} holds complex numbers ({arr.dtype}); "
                    "features and targets must be real: save the real and imaginary parts "
                    "as two arrays"
                )
            if arr.dtype.kind == "V":
                raise DataError(
                    f"{where}: array {_short(key)} is a structured array "
                    f"({_clip(str(arr.dtype))}); save each field as its own array"
                )
            if arr.ndim == 1:
                parts = [(key, arr, f"array {_short(key)}")]
            elif arr.ndim == 2:
                parts = [
                    (f"{key}[{i}]", arr[:, i], f"column {i} of 2-D array {_short(key)}")
                    for i in range(arr.shape[1])
                ]
            else:
                raise DataError(
                    f"{where}: array {_short(key)} has shape {arr.shape}; "
                    "expected 1-D columns or a 2-D (rows, columns) array"
                )
            for name, col, what in parts:
                if name in columns:
                    raise DataError(
                        f"{where}: {origin[name]} and {what} both give the column "
                        f"{_short(name)}; rename one of the arrays"
                    )
                columns[name], origin[name] = col, what
    lengths = {key: len(col) for key, col in columns.items()}
    if len(set(lengths.values())) > 1:
        shown = list(lengths.items())
        raise DataError(
            f"{where}: arrays have different numbers of rows: "
            + ", ".join(f"{_clip(k, 40)}: {n}" for k, n in shown[:8])
            + (f" and {len(shown) - 8} more" if len(shown) > 8 else "")
        )
    return pd.DataFrame(columns)


# --------------------------------------------------------------------------- checks
def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (``0``, not ``np.int64(0)``)."""
    return value.item() if isinstance(value, np.generic) else value


#: Longest text taken from user data (a name, a value, a path) into a message.
SHORT: Final = 80
#: Paths keep more (their head and their file name both help).
SHORT_PATH: Final = 160


def _short(value: object, limit: int = SHORT) -> str:
    """``repr(value)`` bounded to about ``limit`` characters, without building the whole repr.

    A long string keeps its head and its tail (a path keeps its file name) and says
    how long it was:

    >>> _short("a" * 1000, 20)
    "'aaaaaaaa...aaaaaaaa' (1000 characters)"
    >>> _short(3)
    '3'
    """
    if isinstance(value, str | bytes) and len(value) > limit:
        half = max(1, (limit - 3) // 2)
        dots = "..." if isinstance(value, str) else b"..."
        cut = value[:half] + dots + value[-half:]  # type: ignore[operator]
        unit = "characters" if isinstance(value, str) else "bytes"
        return f"{cut!r} ({len(value)} {unit})"
    text = repr(value)  # scalars here: short, or bounded next
    return text if len(text) <= limit + 2 else text[:limit] + "..."


def _clip(text: str, limit: int = 200) -> str:
    """Plain text (an exception's message) bounded to ``limit`` characters."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _path(path: str | Path) -> str:
    """A path for a message: quoted, bounded, keeping its file name."""
    return _short(str(path), SHORT_PATH)


def _bounded_path(path: str | Path) -> str:
    """A path bounded like :func:`_path`, unquoted (for an exception's ``filename``)."""
    text = str(path)
    if len(text) <= SHORT_PATH:
        return text
    half = (SHORT_PATH - 3) // 2
    return f"{text[:half]}...{text[-half:]} ({len(text)} characters)"


def _label(value: object) -> str:
    """A class label as text, bounded (``str``, not ``repr``: ``benign``, ``1``)."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= SHORT else _short(text)


def _names(columns: Sequence[object], limit: int = 8) -> str:
    shown = ", ".join(_short(c) for c in columns[:limit])
    return shown + (f" and {len(columns) - limit} more" if len(columns) > limit else "")


def _joined(columns: Sequence[str], limit: int = 8) -> str:
    """``a,b,c`` for an option's value (``--drop-columns``), bounded like :func:`_names`."""
    if len(columns) > limit or any(len(c) > SHORT for c in columns):
        return "COLUMN,... (the columns named above)"
    return ",".join(columns)


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

    Errors (:class:`DataError`): two columns with one name; unknown target or
    dropped column; no rows; no feature left; non-numeric or complex feature
    columns (named; there is no one-hot encoding); missing values (columns
    named, with counts and the first row); a target with other than two distinct
    values, or with values the model file (JSON) cannot hold.  A target of bytes
    (``b"yes"``) is decoded as UTF-8.  Every name and value in a message is
    bounded in length.
    """
    import pandas as pd

    columns = [str(c) for c in df.columns]
    if len(set(columns)) < len(columns):
        seen: set[str] = set()
        twice: list[str] = []
        for c in columns:
            if c in seen and c not in twice:
                twice.append(c)
            seen.add(c)
        raise DataError(
            f"two or more columns are named {_names(twice)}; each column needs its own name "
            "(rename them)"
        )
    df = df.set_axis(columns, axis=1)
    for name, what in ((target, "--target"), *((d, "--drop-columns") for d in drop)):
        if name not in columns:
            raise DataError(
                f"{what} {_short(name)} is not a column of the data; "
                f"the columns are {_names(columns)}"
            )
    if len(df) == 0:
        raise DataError("the data has no rows")
    features = [c for c in columns if c != target and c not in drop]
    if not features:
        raise DataError(f"the data has no feature columns besides the target {_short(target)}")
    for c in [*features, target]:
        if pd.api.types.is_complex_dtype(df[c]):
            raise DataError(
                f"column {_short(c)} holds complex numbers ({df[c].dtype}); features and "
                "targets must be real: split it into its real and imaginary parts"
            )
    non_numeric = [
        c
        for c in features
        if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))
    ]
    if non_numeric:
        found = ", ".join(
            f"{_short(c)} ({df[c].dtype}, e.g. {_example(df[c])})" for c in non_numeric[:5]
        )
        raise DataError(
            f"non-numeric feature columns: {found}"
            + (f" and {len(non_numeric) - 5} more" if len(non_numeric) > 5 else "")
            + "; vecstudy train uses numeric columns only (no one-hot encoding): encode them "
            "as numbers first or leave them out with --drop-columns " + _joined(non_numeric)
        )
    missing = df[[*features, target]].isna()
    if missing.to_numpy().any():
        counts = missing.sum()
        bad = [c for c in [*features, target] if counts[c] > 0]
        detail = ", ".join(
            f"{_short(c)} ({int(counts[c])} rows, first at row "
            f"{int(np.flatnonzero(missing[c])[0])})"
            for c in bad[:5]
        )
        raise DataError(
            f"missing values in {len(bad)} column(s): {detail}; fill or remove those rows first "
            "(rows count from 0, the header not counted)"
        )
    X = df[features].to_numpy(dtype=np.float64)
    if not np.isfinite(X).all():
        row, col = (int(i) for i in np.argwhere(~np.isfinite(X))[0])
        raise DataError(
            f"feature column {_short(features[col])} holds an infinite value (first at row {row})"
        )
    labels = _target_labels(df[target].to_numpy(), target)
    try:
        values, per_value = np.unique(labels, return_counts=True)
    except TypeError:  # e.g. strings beside numbers in one column: no order
        kinds = sorted({type(v).__name__ for v in labels})
        raise DataError(
            f"--target {_short(target)} mixes values of types {', '.join(kinds[:5])}; "
            "a target needs one kind of value (strings, or numbers)"
        ) from None
    if len(values) != 2:
        shown = ", ".join(
            f"{_short(_plain(v))} ({n} rows)"
            for v, n in zip(values[:6], per_value[:6], strict=True)
        )
        raise DataError(
            f"--target {_short(target)} must have exactly two distinct values (binary "
            f"classification); found {len(values)}: {shown}" + (" ..." if len(values) > 6 else "")
        )
    classes = [_plain(v) for v in values]
    for v in classes:
        if not _json_label(v):
            raise DataError(
                f"--target {_short(target)}: its values are of type {type(v).__name__} "
                f"(e.g. {_short(v)}), which the model file (JSON) cannot hold; use strings "
                "or finite numbers as labels"
            )
    y = (labels == values[1]).astype(np.float64)
    return Table(features=features, X=X, labels=labels, classes=classes, y=y)


def _example(col: pd.Series[Any]) -> str:
    """The first non-missing value of a column, bounded, for a message."""
    present = col.dropna()
    return _short(_plain(present.iloc[0])) if len(present) else "(all missing)"


def _target_labels(labels: NDArray[Any], target: str) -> NDArray[Any]:
    """The target's values, with bytes decoded as UTF-8 (they are written to JSON as text).

    Dates and durations are refused: the model file would hold them as numbers.
    """
    if labels.dtype.kind in "mM":
        raise DataError(
            f"--target {_short(target)} holds dates or durations ({labels.dtype}); use strings "
            "or numbers as labels"
        )
    if labels.dtype.kind == "S" or (
        labels.dtype == object and any(isinstance(v, bytes) for v in labels)
    ):
        decoded = np.empty(len(labels), dtype=object)
        for i, v in enumerate(labels):
            if not isinstance(v, bytes):
                decoded[i] = v
                continue
            try:
                decoded[i] = v.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(
                    f"--target {_short(target)}: row {i} holds bytes that are not UTF-8 "
                    f"text ({_short(v)}); labels are written to the model file as text"
                ) from None
        return decoded
    return labels


def _json_label(value: object) -> bool:
    """Whether ``value`` is a label JSON writes and reads back as itself."""
    if isinstance(value, str | bool | int):
        return True
    return isinstance(value, float) and math.isfinite(value)


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
        raise ValueError(f"test_size must be between 0 and 1 (exclusive); got {_short(test_size)}")
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
    shown = ", ".join(f"{_label(c)} ({n} rows)" for c, n in counts.items())
    lines = [
        f"{_bounded_path(training.source)}: {len(t.y)} rows, {len(t.features)} features, "
        f"target {_short(training.target)}: {shown} (positive class: {_label(t.classes[1])})",
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


class ModelFileError(DataError):
    """A model document lacks a field, or holds a value a model cannot have (the field is named)."""


@dataclass(frozen=True)
class Model:
    """One checked model of a model document: what :func:`predict_with_model` applies."""

    classes: list[Any]  # two labels; classes[1] where z > 0
    features: list[str] | None  # names of the columns of X, when the document has them
    mean: NDArray[np.float64]  # (n_features,)
    scale: NDArray[np.float64]  # (n_features,), each > 0
    coef: NDArray[np.float64]  # (n_features,)
    intercept: float


def _field(mapping: Any, key: str, where: str) -> Any:
    if key not in mapping:
        raise ModelFileError(f"model file: {where}{key} is missing")
    return mapping[key]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_field(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
    positive: bool = False,
) -> float:
    kind = "an integer" if integer else "a number"
    if not _is_number(value) or (integer and not isinstance(value, int)):
        raise ModelFileError(
            f"model file: {name} must be {kind}; got {type(value).__name__} {_short(value)}"
        )
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the largest double
        number = math.inf
    if not math.isfinite(number):
        raise ModelFileError(f"model file: {name} must be finite; got {_short(value)}")
    if positive and not number > 0:
        raise ModelFileError(f"model file: {name} must be > 0; got {_short(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ModelFileError(
            f"model file: {name} must be between {low} and {high}; got {_short(value)}"
        )
    return number


def _vector_field(value: Any, name: str, *, positive: bool = False) -> NDArray[np.float64]:
    if not isinstance(value, list | tuple):
        raise ModelFileError(
            f"model file: {name} must be a list of numbers; got {type(value).__name__}"
        )
    for i, v in enumerate(value):
        _number_field(v, f"{name}[{i}]", positive=positive)
    return np.asarray(value, dtype=np.float64).reshape(-1)


def _string_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ModelFileError(f"model file: {name} must be a list of strings")
    return list(value)


def check_model(document: Any, *, model: int = 0) -> Model:
    """Check a whole model document (as :func:`model_document` writes it) and pick one model.

    A model file is input from disk: every field a prediction uses is checked
    (``classes``: exactly two distinct labels, strings or finite numbers;
    ``scaler.mean`` and ``scaler.scale``: finite numbers, one per feature, every
    scale > 0; ``models``: a non-empty list whose every entry has a ``coef`` of
    finite numbers, one per feature, and a finite ``intercept``), and so is every
    other field that is present (``format``, ``features``, ``target``, the counts
    and each model's scores and costs).  ``model`` must index ``models``.

    Raises
    ------
    ModelFileError
        Naming the field (``models[1].coef[3]``) and what was wrong.
    """
    if not isinstance(document, Mapping):
        raise ModelFileError(
            f"model file: the document must be a JSON object; got {type(document).__name__}"
        )
    if "format" in document and document["format"] != MODEL_FORMAT:
        raise ModelFileError(
            f"model file: format is {_short(document['format'])}; expected {MODEL_FORMAT!r}"
        )
    classes = _field(document, "classes", "")
    if not isinstance(classes, list | tuple) or len(classes) != 2:
        got = (
            f"{len(classes)} values"
            if isinstance(classes, list | tuple)
            else type(classes).__name__
        )
        raise ModelFileError(
            f"model file: classes must be a list of exactly two labels (binary); got {got}"
        )
    for i, c in enumerate(classes):
        if not _json_label(c):
            raise ModelFileError(
                f"model file: classes[{i}] must be a string or a finite number; "
                f"got {type(c).__name__} {_short(c)}"
            )
    if classes[0] == classes[1]:
        raise ModelFileError(f"model file: the two classes are equal ({_short(classes[0])})")
    scaler = _field(document, "scaler", "")
    if not isinstance(scaler, Mapping):
        raise ModelFileError("model file: scaler must be an object with mean and scale")
    mean = _vector_field(_field(scaler, "mean", "scaler."), "scaler.mean")
    scale = _vector_field(_field(scaler, "scale", "scaler."), "scaler.scale", positive=True)
    n = len(mean)
    if n == 0:
        raise ModelFileError("model file: scaler.mean is empty; a model needs one feature or more")
    if len(scale) != n:
        raise ModelFileError(
            f"model file: scaler.scale has {len(scale)} values but scaler.mean has {n}"
        )
    features = None
    if "features" in document:
        features = _string_list(document["features"], "features")
        if len(features) != n:
            raise ModelFileError(
                f"model file: features has {len(features)} names but the scaler has {n} values"
            )
    if "target" in document and not isinstance(document["target"], str):
        raise ModelFileError("model file: target must be a string")
    if "dropped_constant_columns" in document:
        _string_list(document["dropped_constant_columns"], "dropped_constant_columns")
    for key in ("n_train", "n_test"):
        if key in document:
            _number_field(document[key], key, integer=True, low=0)
    models = _field(document, "models", "")
    if not isinstance(models, list | tuple) or not models:
        raise ModelFileError("model file: models must be a non-empty list of models")
    checked: list[tuple[NDArray[np.float64], float]] = []
    for k, entry in enumerate(models):
        where = f"models[{k}]"
        if not isinstance(entry, Mapping):
            raise ModelFileError(f"model file: {where} must be an object with coef and intercept")
        coef = _vector_field(_field(entry, "coef", f"{where}."), f"{where}.coef")
        if len(coef) != n:
            raise ModelFileError(
                f"model file: {where}.coef has {len(coef)} values but the scaler has {n}"
            )
        intercept = _number_field(_field(entry, "intercept", f"{where}."), f"{where}.intercept")
        for key in ("backend", "dtype"):
            if key in entry and not isinstance(entry[key], str):
                raise ModelFileError(f"model file: {where}.{key} must be a string")
        if "learning_rate" in entry:
            _number_field(entry["learning_rate"], f"{where}.learning_rate", positive=True)
        if "n_iter" in entry:
            _number_field(entry["n_iter"], f"{where}.n_iter", integer=True, low=0)
        for key in ("train_accuracy", "test_accuracy"):
            if key in entry:
                _number_field(entry[key], f"{where}.{key}", low=0, high=1)
        for key in ("final_cost", "fit_seconds"):
            if key in entry:
                _number_field(entry[key], f"{where}.{key}", low=0)
        if "costs" in entry:
            _vector_field(entry["costs"], f"{where}.costs")
        checked.append((coef, intercept))
    if not isinstance(model, int) or isinstance(model, bool) or not 0 <= model < len(models):
        raise ValueError(
            f"model must be an integer from 0 to {len(models) - 1} (the file holds "
            f"{len(models)} models); got {_short(model)}"
        )
    coef, intercept = checked[model]
    return Model(
        classes=list(classes),
        features=features,
        mean=mean,
        scale=scale,
        coef=coef,
        intercept=intercept,
    )


def predict_with_model(document: Any, X: Any, *, model: int = 0) -> NDArray[Any]:
    """Labels for the rows of ``X`` (n_samples, n_features) from a model document.

    The document is checked first (:func:`check_model`); ``X`` must be a 2-D table
    of finite real numbers, one column per feature of the model.

    Raises
    ------
    ModelFileError
        A field of the document is missing or wrong (named).
    ValueError
        ``X`` has the wrong shape, is not numeric, or a row holds NaN or infinity
        (the row and the column are named).
    vecstudy.NumericalError
        ``z`` overflows for some row (its sign, so the label, would be meaningless),
        as :func:`vecstudy.predict` does.

    >>> doc = {"classes": ["no", "yes"], "scaler": {"mean": [1.0], "scale": [2.0]},
    ...        "models": [{"coef": [3.0], "intercept": 0.0}]}
    >>> predict_with_model(doc, [[0.0], [4.0]]).tolist()
    ['no', 'yes']
    """
    m = check_model(document, model=model)
    n = len(m.mean)
    try:
        raw = np.asarray(X)
    except ValueError:  # ragged rows
        raise ValueError(f"X must be a 2-D table (n_samples, {n}) of numbers") from None
    if raw.dtype.kind == "c":
        raise ValueError("X holds complex numbers; the model takes real features")
    try:
        Xa = raw.astype(np.float64)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"X must hold numbers only; converting it to float64 failed: {_clip(str(exc), 120)}"
        ) from None
    if Xa.ndim != 2 or Xa.shape[1] != n:
        raise ValueError(f"X must have shape (n_samples, {n}) to match the model; got {Xa.shape}")
    bad = ~np.isfinite(Xa)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        name = f" ({_short(m.features[col])})" if m.features is not None else ""
        raise ValueError(
            f"X row {row} holds {Xa[row, col]} in column {col}{name} ({int(bad.any(axis=1).sum())} "
            "rows hold NaN or infinity); fill or remove those rows first"
        )
    Xs = Scaler(mean=m.mean, scale=m.scale).transform(Xa)
    with np.errstate(over="ignore", invalid="ignore"):
        z = Xs @ m.coef + m.intercept
    overflow = np.flatnonzero(~np.isfinite(z))
    if overflow.size:
        raise api.NumericalError(
            f"z = intercept + coef . (x - mean) / scale overflowed (came out non-finite in "
            f"float64) for {overflow.size} of {len(z)} rows (the first is row "
            f"{int(overflow[0])}); a label from it would be meaningless"
        )
    return np.asarray(np.asarray(m.classes, dtype=object)[(z > 0).astype(np.intp)])


def model_text(training: Training) -> str:
    """:func:`model_document` as strict JSON text (no NaN or infinity).

    Raises
    ------
    ValueError
        If the document holds a value JSON cannot hold (checked up front by
        :func:`check_writable`, before any training).
    """
    try:
        return json.dumps(model_document(training), indent=1, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the model cannot be written as JSON: {_clip(str(exc))}") from None


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


def write_model(training: Training, path: Path) -> Path:
    """Write :func:`model_document` as JSON, atomically."""
    from vecstudy.records.results import atomic_write_text

    atomic_write_text(path, model_text(training))
    return path


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back within; on leaving, act on the first one that came.

    Python runs signal handlers in the main thread only (so elsewhere nothing can
    interrupt the body).  In the main thread the handlers are swapped for one that
    records the signal; on leaving, the earlier handlers come back and the first
    recorded signal goes to its earlier handler (Ctrl-C: KeyboardInterrupt).
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[tuple[int, Any]] = []

    def record(signum: int, frame: Any) -> None:
        got.append((signum, frame))

    previous = {sig: signal.signal(sig, record) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        if got:
            signum, frame = got[0]
            handler = previous[signal.Signals(signum)]
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL or handler is None:
                if signum == signal.SIGINT:
                    raise KeyboardInterrupt
                signal.raise_signal(signum)  # the default action (SIGTERM: terminate)


@contextlib.contextmanager
def _directory_locked(directory: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``directory`` itself (no lock file left behind)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: writers are not serialized
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


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


def plot_costs(training: Training, path: Path) -> Path:
    """Cost against iteration for every run, written atomically as PNG (or SVG by suffix).

    Drawn by :func:`vecstudy.plot_costs`: one learning rate, all backends on one
    plot; several (the course's learning-rate study), one curve per learning
    rate, one panel per backend, sharing the y axis.
    """
    from vecstudy.records.results import atomic_write_bytes

    atomic_write_bytes(path, render_costs(training, path.suffix.lstrip(".") or "png"))
    return path


def render_costs(training: Training, fmt: str = "png") -> bytes:
    """The figure of :func:`plot_costs` as bytes in format ``fmt`` (``"png"``, ``"svg"``)."""
    import io

    from vecstudy.plots import plot_costs as draw

    every = int(training.settings.get("record_every", api.RECORD_EVERY))
    rates = list(dict.fromkeys(r.learning_rate for r in training.runs))
    data = (
        f"{_bounded_path(Path(training.source).name)}: {len(training.train_rows)} training "
        f"samples x {len(training.table.features)} features, standardized"
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
    fig.savefig(buf, format=fmt, dpi=120, bbox_inches="tight")
    return buf.getvalue()


def output_paths(source: str, output_dir: str | Path, *, study: bool = False) -> tuple[Path, Path]:
    """``(figure, model)`` paths: ``<dir>/<data file name>-costs.png`` and ``-model.json``.

    The data file's whole name, suffix included, names the outputs, so that
    ``big.csv`` and ``big.parquet`` do not replace each other's
    (``big.csv-costs.png``, ``big.parquet-costs.png``).  For a learning-rate study
    (``study``): ``-learning-rates.png`` and ``-learning-rates-model.json``, so that
    it does not replace a plain run's files.  A name too long for a file name is
    cut and given a digest of the whole name.

    >>> [p.name for p in output_paths("data/big.csv", "out")]
    ['big.csv-costs.png', 'big.csv-model.json']
    """
    import hashlib

    name = Path(source).name or "data"
    if len(name.encode("utf-8")) > 120:  # file names are at most 255 bytes
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        head = name.encode("utf-8", "surrogatepass")[:80].decode("utf-8", "ignore")
        name = f"{head}-{digest}"
    out = Path(output_dir)
    if study:
        return out / f"{name}-learning-rates.png", out / f"{name}-learning-rates-model.json"
    return out / f"{name}-costs.png", out / f"{name}-model.json"


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
