"""Reading a data file for training: CSV, Parquet, NPZ and the course's HDF5 files.

:func:`read_table` reads a file into a DataFrame (one column per feature and the
target); :func:`read_data` also finds the target by the file's key names
(``train_set_x`` / ``train_set_y``), the course's class names and its test file.
The course's images are flattened to one row per image and divided by 255 when
``uint8``, as the course does.  Every error is a :class:`~vecstudy.errors.DataError`
naming the file and what to do; text from the file is bounded
(:mod:`vecstudy.learn.text`).  pandas is imported on first use.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import numpy as np
from numpy.typing import NDArray

from vecstudy.errors import DataError as DataError
from vecstudy.learn.text import _bounded_path, _clip, _names, _path, _short

if TYPE_CHECKING:
    import pandas as pd

#: File suffixes :func:`read_table` understands.
SUFFIXES: Final = (".csv", ".parquet", ".pq", ".npz", ".h5", ".hdf5")
#: HDF5 suffixes (the course's ``train_catvnoncat.h5``), read with h5py.
H5_SUFFIXES: Final = (".h5", ".hdf5")
#: The bundled example: a CSV copy of the Wisconsin diagnostic breast-cancer data.
EXAMPLE_FILE: Final = "breast_cancer.csv"
EXAMPLE_TARGET: Final = "diagnosis"


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
                f"by name){flat}; the columns that could be it: "
                f"{_names(plain) if plain else 'none'}"
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
