"""From a data file to a trained model: the workflow behind ``vecstudy train``.

Reads a table (CSV or Parquet with pandas, or NPZ), checks it, splits it into a
training and a test part with a seed, standardizes the features with the
statistics of the training part only, runs the course's batch gradient descent
with each chosen backend (and learning rate), and reports accuracy, final cost and
time per run, a figure of the cost against the iteration and the fitted model as
JSON.  scikit-learn is not needed here.

The course's images (``train_catvnoncat.h5``, or arrays of images in NPZ) are
flattened to one row per image and divided by 255 when ``uint8``, as the course
does, and are *not* standardized: the course only scales its pixels, and a pixel
that is the same in every training image (a border) would have a scale of 0.
:func:`read_data` finds the course's keys, its class names and its test file.
Before training, each backend's runs are estimated from one timed iteration
(:func:`fit_runs`: a budget refuses, a slow python run warns).

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
SUFFIXES: Final = (".csv", ".parquet", ".pq", ".npz", ".h5", ".hdf5")
#: HDF5 suffixes (the course's ``train_catvnoncat.h5``), read with h5py.
H5_SUFFIXES: Final = (".h5", ".hdf5")
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


#: With a progress callback, :func:`descend` sizes its slices to take about this long,
#: from the speed it measures (a slice is one iteration at the least).
PROGRESS_SECONDS: Final = 1.0
#: The clock :func:`descend` sizes its slices by (tests replace it).
_clock: Callable[[], float] = time.perf_counter


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
    compiled loop (numba backend).  Without ``progress``, when ``record_every`` is a
    multiple of 100 (the API's recording interval) the whole descent is one call,
    otherwise one call per record.  With ``progress``, the descent runs in slices
    sized from the speed measured on the ones before to take about
    :data:`PROGRESS_SECONDS` each (the first slice is one iteration), so that a
    progress bar moves at least every second or two whatever the backend; a slice
    never runs past a record it would not record.  ``X`` is converted to the
    working dtype and, where the backend gains by it, copied into its preferred
    layout once for the whole run (the log line says the whole run's iterations).

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
        Called with the number of iterations of each slice, after it ran.

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
    XT = _laid_out(XT, name, dt, n_iter, threads)
    # The API records the cost every RECORD_EVERY iterations of a call, from the
    # call's first.  When record_every is a multiple of that, a call that starts on a
    # record may span many records; any other call ends on the next record at the
    # latest, and keeps the cost of its start only if that is a record.
    stride = every // api.RECORD_EVERY if every % api.RECORD_EVERY == 0 else 0
    costs: list[float] = []
    done = 0
    want = 1  # the next slice's length, with progress
    start = time.perf_counter()
    watch = contextlib.nullcontext() if progress is None else api._no_slow_run_check()
    with config.one_lookup(), watch:
        while done < n_iter:
            on_record = done % every == 0
            to_record = every - done % every  # iterations up to the next record
            if progress is None:
                chunk = n_iter - done if stride else every
            else:
                chunk = want if stride and on_record else min(want, to_record)
            chunk = min(chunk, n_iter - done)
            began = _clock()
            try:
                params, _, recorded = api.optimize(
                    w, b, XT, y, chunk, lr, backend=name, dtype=dt, threads=threads
                )
            except api.DivergenceError as exc:
                kept = _kept(exc.costs, on_record, stride)
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
            took = _clock() - began
            costs.extend(_kept(recorded, on_record, stride))
            w, b = params["w"], params["b"]
            done += chunk
            if progress is not None:
                progress(chunk)
                fits = int(chunk * PROGRESS_SECONDS / took) if took > 0 else 10 * want
                want = max(1, min(fits, 10 * want))
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


def _kept(recorded: Sequence[float], on_record: bool, stride: int) -> list[float]:
    """The costs of a call that are records: see :func:`descend`."""
    if not on_record:
        return []
    return list(recorded[::stride] if stride else recorded[:1])


def _laid_out(XT: NDArray[Any], name: str, dt: str, n_iter: int, threads: Any) -> NDArray[Any]:
    """``XT`` in dtype ``dt`` and the layout backend ``name`` prefers for ``n_iter`` iterations.

    Done once for a run that :func:`descend` makes in several calls (each call would
    otherwise convert, or copy for only its own iterations).  A narrowing conversion
    (float64 to float32) is left to each call, whose checks name a value too large.
    """
    from vecstudy import backends

    if XT.ndim != 2 or XT.dtype.kind != "f" or XT.size == 0:
        return XT  # the API's checks say what is wrong
    if np.dtype(dt).itemsize < XT.dtype.itemsize:
        return XT
    try:
        module = backends.load(name)
    except ImportError:
        return XT  # the API's call says so
    Xc = api._as_kernel_array(XT, dt)
    with api._threads(threads, name):
        return api._relayout(module, Xc, n_iter)


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


@dataclass
class ReadInfo:
    """What reading a file found besides the table (see :func:`read_data`)."""

    #: The target the key names give: ``train_set_y`` beside ``train_set_x`` (HDF5, NPZ).
    target: str | None = None
    #: The features are the pixels of images, flattened (and scaled by 1/255 if uint8).
    images: bool = False
    #: ``list_classes``, decoded: the name of label 0, then of label 1.
    class_names: list[str] | None = None
    #: What was done to the data on the way, in words (printed by ``vecstudy train``).
    notes: list[str] = field(default_factory=list)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, Parquet, NPZ or HDF5 file into a DataFrame (one column per feature and target).

    NPZ: each 1-D array is a column named by its key; a 2-D array ``K`` of shape
    ``(n, k)`` gives the columns ``K[0]`` ... ``K[k-1]``; an array of images
    ``(n, h, w, c)`` (any array of 3 or more dimensions) is flattened to ``(n, h*w*c)``
    first, one row per image, and divided by 255 if it is ``uint8`` (as the course
    does).  Every array needs the same number of rows; two arrays that give one
    column name (``x`` of shape (n, 2) beside a 1-D ``x[0]``) and complex arrays are
    errors naming the arrays.  An ``X`` saved in the course's ``(n_x, m)`` layout
    (its columns, not its rows, match the other arrays) is an error saying to save
    ``X.T``.  ``list_classes`` (the course's class names) is not a column.

    HDF5 (the course's ``train_catvnoncat.h5``, read by
    :func:`vecstudy.datasets.load_h5`): the images of ``<name>_x`` flattened as
    above, then the labels ``<name>_y``.

    Raises
    ------
    FileNotFoundError
        If nothing is at ``path``.
    DataError
        If ``path`` is not a regular file (a directory, a FIFO, a device), or the
        file cannot be read as its suffix says.
    """
    return _read(Path(path))[0]


def _read(path: Path) -> tuple[pd.DataFrame, ReadInfo]:
    import pandas as pd

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
                return pd.read_csv(fh), ReadInfo()
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
                return pd.read_parquet(fh), ReadInfo()
            except ImportError as exc:
                raise ImportError(
                    f"reading Parquet needs pyarrow ({exc}); install it with: "
                    "pip install 'vecstudy[learn]' (from a clone: pip install '.[learn]')"
                ) from None
        if suffix == ".npz":
            return _read_npz(fh, path)
    return _read_h5(path)  # checked to be a regular file above; h5py opens it by name


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


def _read_npz(fh: BinaryIO, path: Path) -> tuple[pd.DataFrame, ReadInfo]:
    import zipfile

    try:
        npz = np.load(fh, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        # NumPy takes bytes it cannot place for a pickle: say what the file is not
        why = "not a zip archive of .npy arrays" if "pickle" in str(exc) else _clip(str(exc))
        raise DataError(f"DATA {_path(path)}: not a readable NPZ file ({why})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DataError(f"DATA {_path(path)}: holds a single array, not an NPZ archive of columns")
    where = f"DATA {_path(path)}"
    arrays: dict[str, NDArray[Any]] = {}
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
            if arr.ndim == 0:
                raise DataError(
                    f"{where}: array {_short(key)} is a single value (shape ()); "
                    "expected 1-D columns or a 2-D (rows, columns) array"
                )
            arrays[key] = arr
    info = ReadInfo()
    names = arrays.pop(CLASSES_KEY, None)
    if names is not None:
        info.class_names = _class_names(names, f"{where}: array {CLASSES_KEY!r}")
    pair = _xy_pair(list(arrays))
    if pair is not None:
        x_key, y_key = pair
        info.target = y_key
        y = arrays[y_key]
        if y.ndim == 2 and 1 in y.shape and arrays[x_key].shape[0] == y.size != 1:
            arrays[y_key] = y.reshape(-1)  # the course's (1, m) labels: one per sample
    _check_npz_layout(arrays, where)
    return _frame_of(arrays, where, info), info


#: Key of the class names in the course's files (not a column).
CLASSES_KEY: Final = "list_classes"


def _class_names(names: NDArray[Any], where: str) -> list[str]:
    """``list_classes`` decoded: two names (bytes as UTF-8, as the course's ``b'cat'``)."""
    if names.ndim != 1 or len(names) != 2 or names.dtype.kind not in "SU":
        raise DataError(
            f"{where} must hold the two class names as text (the course's [b'non-cat', "
            f"b'cat']); got shape {names.shape} of {names.dtype}"
        )
    out = []
    for v in names.tolist():
        try:
            out.append(v.decode("utf-8") if isinstance(v, bytes) else str(v))
        except UnicodeDecodeError:
            raise DataError(f"{where}: {_short(v)} is not UTF-8 text") from None
    if out[0] == out[1]:
        raise DataError(f"{where}: the two class names are equal ({_short(out[0])})")
    return out


def _xy_pair(keys: Sequence[str]) -> tuple[str, str] | None:
    """The one ``(<name>_x, <name>_y)`` pair of keys (or ``X``/``Y``, ``X``/``y``, ``x``/``y``).

    >>> _xy_pair(["train_set_x", "train_set_y", "list_classes"])
    ('train_set_x', 'train_set_y')
    >>> _xy_pair(["a", "b"]) is None
    True
    """
    present = set(keys)
    pairs = [(k, k[:-2] + "_y") for k in keys if k.endswith("_x") and k[:-2] + "_y" in present]
    pairs += [(x, y) for x, y in (("X", "Y"), ("X", "y"), ("x", "y")) if {x, y} <= present]
    return pairs[0] if len(pairs) == 1 else None


def _check_npz_layout(arrays: Mapping[str, NDArray[Any]], where: str) -> None:
    """Say what to save instead when arrays do not share their first axis, samples.

    A 2-D ``X`` of shape ``(n_x, m)`` (the course's layout: one column per sample)
    beside labels of length ``m``: save ``X.T``.  Images ``(h, w, c, m)`` with the
    samples last: save ``np.moveaxis(X, -1, 0)``.  Otherwise, the lengths.
    """
    rows = {key: int(arr.shape[0]) for key, arr in arrays.items()}
    if len(set(rows.values())) <= 1:
        return
    vectors = {key: n for key, n in rows.items() if arrays[key].ndim == 1}
    for key, arr in arrays.items():
        if arr.ndim < 2 or arr.shape[-1] == arr.shape[0]:
            continue
        fits = [k for k, n in vectors.items() if n == arr.shape[-1] and k != key]
        if not fits or any(n == arr.shape[0] for n in vectors.values()):
            continue
        labels = f"array {_short(fits[0])} has {arr.shape[-1]} values, one per sample"
        if arr.ndim == 2:
            raise DataError(
                f"{where}: array {_short(key)} looks like (n_x, m) = {arr.shape}, the course's "
                f"layout with one column per sample, and {labels}: save {_clip(key, 40)}.T "
                "(one row per sample, as vecstudy train and scikit-learn take it)"
            )
        raise DataError(
            f"{where}: array {_short(key)} of shape {arr.shape} has the samples on its last "
            f"axis, and {labels}: save np.moveaxis({_clip(key, 40)}, -1, 0) (one image per "
            "row, as the course's (m, 64, 64, 3))"
        )
    shown = list(rows.items())
    raise DataError(
        f"{where}: arrays have different numbers of rows: "
        + ", ".join(f"{_clip(k, 40)}: {n}" for k, n in shown[:8])
        + (f" and {len(shown) - 8} more" if len(shown) > 8 else "")
    )


def _flattened(arr: NDArray[Any], key: str, info: ReadInfo) -> NDArray[Any]:
    """Images ``(m, ...)`` as ``(m, features)``; ``uint8`` divided by 255 (the course's step)."""
    flat = arr.reshape(arr.shape[0], -1)
    scaled = arr.dtype == np.uint8
    if scaled:
        flat = flat / 255
    info.images = True
    info.notes.append(
        f"flattened {_clip(key, 40)} {arr.shape} {arr.dtype} to {flat.shape[0]} samples x "
        f"{flat.shape[1]} features"
        + (", scaled by 1/255 as in the course" if scaled else " (not scaled: not uint8)")
    )
    return flat


def _frame_of(arrays: Mapping[str, NDArray[Any]], where: str, info: ReadInfo) -> pd.DataFrame:
    """One DataFrame: 1-D arrays as columns, 2-D as indexed columns, images flattened."""
    import pandas as pd

    parts: list[pd.DataFrame] = []
    origin: dict[str, str] = {}  # column name -> where it came from, for collisions
    for key, arr in arrays.items():
        if arr.ndim == 1:
            parts.append(pd.DataFrame({key: arr}))
            described = [(key, f"array {_short(key)}")]
        else:
            block = _flattened(arr, key, info) if arr.ndim > 2 else arr
            kind = "flattened array" if arr.ndim > 2 else "2-D array"
            names = [f"{key}[{i}]" for i in range(block.shape[1])]
            parts.append(pd.DataFrame(block, columns=names))
            described = [
                (name, f"column {i} of {kind} {_short(key)}") for i, name in enumerate(names)
            ]
        for name, what in described:
            if name in origin:
                raise DataError(
                    f"{where}: {origin[name]} and {what} both give the column "
                    f"{_short(name)}; rename one of the arrays"
                )
            origin[name] = what
    if not parts:
        return pd.DataFrame()
    return parts[0] if len(parts) == 1 else pd.concat(parts, axis=1)


def _read_h5(path: Path) -> tuple[pd.DataFrame, ReadInfo]:
    """The course's HDF5 file as a table: ``<name>_x`` flattened, then ``<name>_y``."""
    from vecstudy import datasets

    try:
        data = datasets.load_h5(path)
    except ValueError as exc:
        raise DataError(f"DATA {_path(path)}: {_clip(str(exc), 400)}") from None
    x_key, y_key = f"{data.prefix}_x", f"{data.prefix}_y"
    info = ReadInfo(target=y_key)
    if data.classes is not None:
        info.class_names = _class_names(
            np.asarray(data.classes), f"DATA {_path(path)}: {CLASSES_KEY}"
        )
    arrays = {x_key: data.x, y_key: data.y.reshape(-1)}
    return _frame_of(arrays, f"DATA {_path(path)}", info), info


@dataclass(frozen=True)
class Data:
    """A data file read for training (:func:`read_data`)."""

    frame: pd.DataFrame
    target: str
    info: ReadInfo
    #: The test part, when a file came with it (``test_catvnoncat.h5`` beside the
    #: training file), with the columns of ``frame``.
    test: pd.DataFrame | None = None
    test_source: str | None = None


def read_data(path: str | Path, target: str | None = None, *, test_file: bool = True) -> Data:
    """Read ``path`` (:func:`read_table`) and find the target and a test part.

    ``target`` defaults to the one the key names give (``train_set_y`` beside
    ``train_set_x`` in the course's files; ``y`` beside ``X``).  With ``test_file``,
    an HDF5 file whose name starts with ``train`` gets, as its test part, the file
    beside it whose name starts with ``test`` instead (``train_catvnoncat.h5`` and
    ``test_catvnoncat.h5``, as the course splits its data).

    Raises
    ------
    DataError
        No ``target`` given and none found by name (the columns that could be the
        target are listed); a test file that does not match the training file.
    """
    path = Path(path)
    frame, info = _read(path)
    if target is None:
        if info.target is None:
            plain = [str(c) for c in frame.columns if "[" not in str(c)]
            flat = " (images flattened into indexed columns)" if info.images else ""
            raise DataError(
                f"DATA {_path(path)}: give --target COLUMN, the column to predict; the file's "
                f"names do not say which (the course's train_set_x / train_set_y are found "
                f"by name){flat}; the 1-D columns are {_names(plain) if plain else 'none'}"
            )
        target = info.target
    sibling = _test_sibling(path) if test_file and path.suffix.lower() in H5_SUFFIXES else None
    if sibling is None:
        return Data(frame=frame, target=target, info=info)
    test_frame, test_info = _read(sibling)
    test = _matched(test_frame, test_info, frame, target, sibling)
    if info.class_names is None:
        info.class_names = test_info.class_names
    info.notes.append(
        f"test part: {_clip(sibling.name, 80)} beside it ({len(test)} samples), as the course "
        "splits its data (--test-size and --seed are not used)"
    )
    return Data(frame=frame, target=target, info=info, test=test, test_source=str(sibling))


def _test_sibling(path: Path) -> Path | None:
    """``test_x.h5`` beside ``train_x.h5``, if it is there."""
    if not path.name.lower().startswith("train"):
        return None
    sibling = path.with_name("test" + path.name[len("train") :])
    return sibling if sibling.is_file() else None


def _matched(
    test: pd.DataFrame, info: ReadInfo, train: pd.DataFrame, target: str, path: Path
) -> pd.DataFrame:
    """``test`` with the column names of ``train``, feature for feature."""
    features = [c for c in train.columns if c != target]
    test_target = info.target if info.target in test.columns else target
    test_features = [c for c in test.columns if c != test_target]
    if test_target not in test.columns or len(test_features) != len(features):
        raise DataError(
            f"test data {_path(path)}: {len(test_features)} features and target "
            f"{_short(test_target)}, but the training data has {len(features)} features and "
            f"target {_short(target)}; they must match (or move the test file away)"
        )
    out = test[[*test_features, test_target]]
    return out.set_axis([*features, target], axis=1)


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
    dtypes = dict(zip(columns, df.dtypes, strict=True))  # df[c] per column is slow when wide
    for c in [*features, target]:
        if pd.api.types.is_complex_dtype(dtypes[c]):
            raise DataError(
                f"column {_short(c)} holds complex numbers ({dtypes[c]}); features and "
                "targets must be real: split it into its real and imaginary parts"
            )
    non_numeric = [
        c
        for c in features
        if not (pd.api.types.is_numeric_dtype(dtypes[c]) or pd.api.types.is_bool_dtype(dtypes[c]))
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
    by their scale); :func:`read_data` asks for it for images, whose pixels the
    course only divides by 255.
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


class BudgetError(DataError):
    """The runs are estimated to take longer than the budget allows; nothing was trained."""


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
        began = _clock()
        d = descend(XT, y, max_iter=1, learning_rate=learning_rates[0], backend=backend, **common)
        return d.backend, _clock() - began

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
        f"{_bounded_path(training.source)}: {len(t.y)} rows, {len(t.features)} features, "
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
        f"samples x {len(training.table.features)} features"
        + ("" if training.settings.get("standardized") is False else ", standardized")
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
