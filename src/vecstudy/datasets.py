"""The course's HDF5 data sets: ``train_catvnoncat.h5`` and ``test_catvnoncat.h5``.

Week 2 of "Neural Networks and Deep Learning" reads its cat / non-cat images
with ``h5py`` (``load_dataset()`` in the course's ``lr_utils.py``), flattens
each image into a column and divides by 255.  This module does the same, with
errors that say what was wrong:

>>> import numpy as np
>>> from vecstudy.datasets import flatten
>>> x = np.zeros((209, 64, 64, 3), dtype=np.uint8)   # the course's training images
>>> flatten(x).shape                                 # (n_x, m) = (64 * 64 * 3, 209)
(12288, 209)

No data is shipped with vecstudy; the files come with the course.  Reading them
needs ``h5py`` (``pip install 'vecstudy[course]'``, from a clone of the
repository ``pip install '.[course]'``).

Conventions
-----------
The files hold, for a prefix such as ``train_set`` or ``test_set``:

``<prefix>_x``
    ``(m, 64, 64, 3)`` ``uint8``: ``m`` RGB images of 64 x 64 pixels
    (209 training images, 50 test images).
``<prefix>_y``
    ``(m,)`` integer labels, 1 for a cat and 0 for a non-cat.
``list_classes``
    ``(2,)`` byte strings: ``[b'non-cat', b'cat']``.

Any file with one ``*_x`` / ``*_y`` pair of datasets of matching length is read
the same way (``x`` of shape ``(m, ...)``, ``y`` of ``m`` labels).  What is
returned: ``x`` as stored, ``y`` of shape ``(1, m)`` (the course's reshape) and
``classes`` (``None`` when the file has no ``list_classes``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

#: The course's file names, as ``load_dataset()`` opens them.
TRAIN_FILE = "train_catvnoncat.h5"
TEST_FILE = "test_catvnoncat.h5"
#: Key of the class names in the course's files.
CLASSES_KEY = "list_classes"
#: What to run when h5py is missing.
INSTALL_HINT = "pip install 'vecstudy[course]' (from a clone: pip install '.[course]')"
_SHOWN = 8  # keys named in an error message


def _short(text: object, limit: int = 60) -> str:
    s = repr(text)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _path(p: object, limit: int = 100) -> str:
    """A path for a message, its end kept (the file name) when it is long."""
    s = repr(str(p))
    return s if len(s) <= limit else "'..." + s[-(limit - 4) :]


def _names(keys: list[str]) -> str:
    shown = ", ".join(_short(k, 40) for k in keys[:_SHOWN])
    more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return (shown + more) if keys else "none"


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as exc:
        raise ImportError(
            f"reading the course's HDF5 files needs h5py ({exc}); install it with: {INSTALL_HINT}"
        ) from exc
    return h5py


@dataclass(frozen=True)
class H5Set:
    """One ``*_x`` / ``*_y`` pair read from an HDF5 file.

    Attributes
    ----------
    x : ndarray, shape (m, ...)
        As stored: the course's ``(m, 64, 64, 3)`` ``uint8`` images.
    y : ndarray, shape (1, m)
        The labels, reshaped to a row as the course does.
    classes : ndarray of shape (k,), or None
        ``list_classes`` (``[b'non-cat', b'cat']`` in the course), if the file has it.
    prefix : str
        The name the pair shares, e.g. ``"train_set"``.
    path : str
        The file read.
    """

    x: NDArray[Any]
    y: NDArray[Any]
    classes: NDArray[Any] | None
    prefix: str
    path: str

    @property
    def m(self) -> int:
        """Number of examples."""
        return int(self.x.shape[0])


class CourseData(NamedTuple):
    """The course's ``load_dataset()`` result: unpacks into the same five names.

    ``train_set_x_orig, train_set_y, test_set_x_orig, test_set_y, classes = load_course(d)``
    """

    train_set_x_orig: NDArray[Any]
    train_set_y: NDArray[Any]
    test_set_x_orig: NDArray[Any]
    test_set_y: NDArray[Any]
    classes: NDArray[Any] | None


def _pairs(keys: list[str]) -> list[str]:
    """Prefixes ``p`` for which both ``p_x`` and ``p_y`` are keys, in file order."""
    present = set(keys)
    return [k[:-2] for k in keys if k.endswith("_x") and k[:-2] + "_y" in present]


def _dataset(f: Any, key: str, where: str) -> NDArray[Any]:
    h5py = _h5py()
    obj = f[key]
    if not isinstance(obj, h5py.Dataset):
        raise ValueError(f"{where}: {_short(key)} is a group, not a dataset")
    return np.asarray(obj[()])


def _check_x(x: NDArray[Any], where: str) -> None:
    if x.dtype.kind not in "uif":
        raise ValueError(
            f"{where}: x must hold numbers (the course's images are uint8), got dtype {x.dtype}"
        )
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(
            f"{where}: x must have shape (m, ...) with m >= 1 examples, e.g. the course's "
            f"(m, 64, 64, 3), got shape {x.shape}"
        )


def _check_y(y: NDArray[Any], m: int, where: str) -> NDArray[Any]:
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{where}: y must hold numeric labels (0 or 1), got dtype {y.dtype}")
    if y.ndim > 2 or (y.ndim == 2 and 1 not in y.shape) or y.size != m:
        raise ValueError(
            f"{where}: y must hold one label per example of x, shape ({m},) or (1, {m}), "
            f"got shape {y.shape}"
        )
    return y.reshape(1, m)


def load_h5(path: str | os.PathLike[str], *, prefix: str | None = None) -> H5Set:
    """Read one ``<prefix>_x`` / ``<prefix>_y`` pair (and ``list_classes``) from an HDF5 file.

    Parameters
    ----------
    path : str or os.PathLike
        The file, e.g. ``datasets/train_catvnoncat.h5``.
    prefix : str, optional
        Which pair to read (``"train_set"`` reads ``train_set_x`` and
        ``train_set_y``); by default the only pair the file has.

    Returns
    -------
    H5Set
        ``x`` as stored (``(m, 64, 64, 3)`` ``uint8`` in the course), ``y`` of
        shape ``(1, m)``, ``classes`` or ``None``.

    Raises
    ------
    ImportError
        h5py is not installed (the message says how to install it).
    FileNotFoundError
        No file at ``path``.
    ValueError
        Not an HDF5 file; no ``*_x`` / ``*_y`` pair, or several and no ``prefix``
        (the keys found are listed); an ``x`` or ``y`` of the wrong dtype or shape.
    """
    h5py = _h5py()
    p = Path(path)
    where = f"HDF5 file {_path(p)}"
    if not p.exists():
        raise FileNotFoundError(f"{where}: no such file")
    if p.is_dir():
        raise ValueError(
            f"{where} is a directory; give a file, or use load_course() to read "
            f"{TRAIN_FILE} and {TEST_FILE} from a directory"
        )
    if prefix is not None and not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str such as 'train_set', got {_short(prefix)}")
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise ValueError(f"{where}: not a readable HDF5 file ({_short(str(exc), 120)})") from None
    with f:
        keys = [str(k) for k in f]
        pairs = _pairs(keys)
        if prefix is None:
            if len(pairs) != 1:
                found = "no" if not pairs else f"{len(pairs)}"
                raise ValueError(
                    f"{where}: expected one pair of datasets <name>_x and <name>_y (the "
                    f"course's train_set_x and train_set_y), found {found} pairs"
                    + (f" ({_names(pairs)}; choose one with prefix=)" if pairs else "")
                    + f"; keys found: {_names(keys)}"
                )
            prefix = pairs[0]
        elif prefix not in pairs:
            missing = [k for k in (f"{prefix}_x", f"{prefix}_y") if k not in keys]
            raise ValueError(
                f"{where}: no dataset {' or '.join(_short(k) for k in missing)}; "
                f"keys found: {_names(keys)}"
            )
        x = _dataset(f, f"{prefix}_x", where)
        y = _dataset(f, f"{prefix}_y", where)
        classes = _dataset(f, CLASSES_KEY, where) if CLASSES_KEY in keys else None
    _check_x(x, f"{where}, {prefix}_x")
    y = _check_y(y, x.shape[0], f"{where}, {prefix}_y")
    if classes is not None and classes.ndim != 1:
        raise ValueError(
            f"{where}: {CLASSES_KEY} must be a 1-D list of class names, got shape {classes.shape}"
        )
    return H5Set(x=x, y=y, classes=classes, prefix=prefix, path=str(p))


def _find(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / "datasets" / name):
        if candidate.is_file():
            return candidate
    return None


def load_course(directory: str | os.PathLike[str] = ".") -> CourseData:
    """The course's ``load_dataset()``: both files of a directory, as five arrays.

    Looks for ``train_catvnoncat.h5`` and ``test_catvnoncat.h5`` in ``directory``
    or in its ``datasets/`` subdirectory (the course's layout).

    >>> from vecstudy.datasets import load_course
    >>> train_x, train_y, test_x, test_y, classes = load_course("course")  # doctest: +SKIP
    >>> train_x.shape, train_y.shape, test_x.shape, classes                 # doctest: +SKIP
    ((209, 64, 64, 3), (1, 209), (50, 64, 64, 3), array([b'non-cat', b'cat'], dtype='|S7'))

    Raises
    ------
    FileNotFoundError
        ``directory`` does not exist, or a file is missing (the ``.h5`` files
        that are there are listed).
    ImportError, ValueError
        As :func:`load_h5`; the two sets must have the same image shape.
    """
    d = Path(directory)
    if not d.is_dir():
        raise FileNotFoundError(f"course directory {_path(d)}: no such directory")
    found = {name: _find(d, name) for name in (TRAIN_FILE, TEST_FILE)}
    missing = [name for name, p in found.items() if p is None]
    if missing:
        there = sorted(str(p.relative_to(d)) for p in [*d.glob("*.h5"), *d.glob("datasets/*.h5")])
        raise FileNotFoundError(
            f"course directory {_path(d)}: no {' or '.join(missing)} there or in its "
            f"datasets/ subdirectory; .h5 files found: {_names(there)}"
        )
    train_path, test_path = found[TRAIN_FILE], found[TEST_FILE]
    assert train_path is not None
    assert test_path is not None
    train = load_h5(train_path, prefix="train_set")
    test = load_h5(test_path, prefix="test_set")
    if train.x.shape[1:] != test.x.shape[1:]:
        raise ValueError(
            f"the training images have shape {train.x.shape[1:]} but the test images "
            f"{test.x.shape[1:]}; they must match"
        )
    classes = test.classes if test.classes is not None else train.classes
    return CourseData(train.x, train.y, test.x, test.y, classes)


def flatten(x: NDArray[Any]) -> NDArray[np.float64]:
    """Images ``(m, h, w, c)`` to columns ``(h * w * c, m)``, scaled to [0, 1]: float64.

    The course's ``x.reshape(x.shape[0], -1).T / 255``: column ``i`` is image
    ``i``, its pixels in row-major order (row, column, channel).

    Raises
    ------
    TypeError
        ``x`` is not an array of integer pixel values (a float array may be
        scaled already: dividing by 255 again would be silently wrong).
    ValueError
        ``x`` has fewer than 2 dimensions, or values outside 0..255.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a NumPy array of images (m, h, w, c), got {_short(x)}")
    if x.dtype.kind not in "ui":
        raise TypeError(
            f"x must hold integer pixel values 0..255 (the course's uint8), got dtype {x.dtype}; "
            "flatten divides by 255, so an x already scaled would be scaled twice"
        )
    if x.ndim < 2:
        raise ValueError(f"x must have shape (m, ...), one row per image, got shape {x.shape}")
    if x.dtype != np.uint8 and x.size and (x.min() < 0 or x.max() > 255):
        raise ValueError(
            f"x must hold pixel values 0..255, found values from {x.min()} to {x.max()}"
        )
    return x.reshape(x.shape[0], -1).T / 255
