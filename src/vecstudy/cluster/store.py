"""The Zarr store of a dataset: written chunk by chunk, replaced atomically, checked on opening.

:func:`write_zarr` writes ``X`` (n_x, m) and ``Y`` (m,) in chunks of whole columns
into a temporary directory renamed into place, marked with :data:`ZARR_MARKER`;
:func:`open_zarr` gives them as lazy dask arrays after :func:`check_zarr_chunks` has
found every chunk file, of the right size; a chunk that fails to decode later raises
:class:`DamagedStoreError` naming it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from vecstudy import config
from vecstudy.cluster.lazy import chunk_bytes, columns_per_chunk
from vecstudy.errors import DamagedStoreError
from vecstudy.escape import error_line

#: Chunk of a synthetic or converted dataset when none is asked for.
DEFAULT_CHUNK = "128 MiB"
#: Group attribute that marks a Zarr store written by :func:`write_zarr`; only such a
#: store may be replaced with ``overwrite=True``.
ZARR_MARKER = "vecstudy"


def is_vecstudy_store(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a Zarr group written by :func:`write_zarr` (its marker attribute).

    Reads only the group's metadata file (``zarr.json``): a directory, with a Zarr v3
    group whose attributes hold ``vecstudy`` (:data:`ZARR_MARKER`) with its ``layout``.
    """
    meta = Path(path) / "zarr.json"
    if not Path(path).is_dir() or Path(path).is_symlink() or not meta.is_file():
        return False
    try:
        doc = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(doc, dict) or doc.get("node_type") != "group":
        return False
    attrs = doc.get("attributes")
    marker = attrs.get(ZARR_MARKER) if isinstance(attrs, dict) else None
    return isinstance(marker, dict) and "layout" in marker


def _check_replaceable(target: Path, overwrite: bool) -> None:
    """Refuse to replace anything but a store :func:`write_zarr` wrote, and only if asked."""
    if not (target.exists() or target.is_symlink()):
        return
    if not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True (--overwrite) to replace it")
    if not is_vecstudy_store(target):
        what = (
            "a symbolic link"
            if target.is_symlink()
            else "a directory"
            if target.is_dir()
            else "a file"
        )
        raise FileExistsError(
            f"{target} exists and is {what}, not a Zarr store written by vecstudy (no "
            f"'{ZARR_MARKER}' attribute in its zarr.json); overwrite replaces only such "
            "stores: remove it yourself or choose another path"
        )


def write_zarr(
    path: str | os.PathLike[str],
    X: Any = None,
    Y: Any = None,
    *,
    shape: tuple[int, int] | None = None,
    dtype: str = "float64",
    chunk: object = DEFAULT_CHUNK,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a dataset to a Zarr group ``path`` with arrays ``X`` (n_x, m) and ``Y`` (m,).

    Either ``X`` and ``Y`` are given (NumPy arrays, memory-mapped ``.npy`` files or
    dask arrays, in the course's layout ``(n_x, m)`` and ``(1, m)`` or ``(m,)``), or
    ``shape = (n_x, m)`` asks for a synthetic, seeded dataset: ``X ~ N(0, 1)`` and
    labels drawn from a logistic model with weights ``N(0, 1/n_x)``.  Either way the
    data are written one chunk at a time (memory: a few chunks), chunks of whole
    columns of at most ``chunk`` bytes, uncompressed (random floats do not compress),
    every chunk stored (also one of zeros, which Zarr would otherwise leave out), so
    that :func:`open_zarr` can tell a missing chunk from a chunk of zeros.

    The group is written into a temporary directory beside ``path`` and renamed into
    place at the end, so an interrupted write leaves nothing half-written.  The group
    carries a ``vecstudy`` attribute (:data:`ZARR_MARKER`); an existing ``path`` is
    replaced only with ``overwrite=True`` and only when it is such a store: any other
    file or directory is refused (:class:`FileExistsError`), never deleted.

    Returns the path written.
    """
    import zarr

    target = Path(path)
    _check_replaceable(target, overwrite)
    if (X is None) != (Y is None) or (X is None) == (shape is None):
        raise ValueError("give either X and Y, or shape=(n_x, m) for a synthetic dataset")
    config.check_dtype(dtype, "argument dtype=")
    if shape is not None:
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"shape must be (n_x, m) with positive sizes; got {shape}")
        n_x, m = int(shape[0]), int(shape[1])
        dt = np.dtype(dtype)
    else:
        if len(X.shape) != 2:
            raise ValueError(f"X must be 2-D with shape (n_x, m); got shape {X.shape}")
        n_x, m = int(X.shape[0]), int(X.shape[1])
        for name, arr in (("X", X), ("Y", Y)):
            kind = np.dtype(getattr(arr, "dtype", np.float64)).kind
            if kind not in "biuf":  # complex would lose its imaginary part; text, objects
                raise TypeError(
                    f"{name} must hold real numbers; got dtype {arr.dtype} "
                    + ("(complex: the imaginary part would be dropped)" if kind == "c" else "")
                )
        ysize = int(np.prod(Y.shape))
        if ysize != m:
            raise ValueError(
                f"Y has {ysize} labels but X has {m} samples: Y must have shape (1, {m})"
            )
        dt = np.dtype(dtype)
    cols = columns_per_chunk(n_x, dt.itemsize, chunk_bytes(chunk), m)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    old: Path | None = None
    try:
        group = zarr.open_group(str(tmp), mode="w")
        every_chunk: Any = {"write_empty_chunks": True}
        zx = group.create_array(
            "X", shape=(n_x, m), chunks=(n_x, cols), dtype=dt, compressors=None, config=every_chunk
        )
        zy = group.create_array(
            "Y", shape=(m,), chunks=(cols,), dtype=dt, compressors=None, config=every_chunk
        )
        if shape is not None:
            w_true = np.random.default_rng([seed, 0]).standard_normal(n_x) / math.sqrt(n_x)
        for k, j0 in enumerate(range(0, m, cols)):
            j1 = min(m, j0 + cols)
            if shape is not None:
                rng = np.random.default_rng([seed, 1, k])
                xs = rng.standard_normal((n_x, j1 - j0))
                p = 1.0 / (1.0 + np.exp(-np.clip(w_true @ xs, -30.0, 30.0)))
                ys = (rng.random(j1 - j0) < p).astype(dt)
                xs = xs.astype(dt)
            else:
                xs = np.asarray(X[:, j0:j1], dtype=dt)
                ys = np.asarray(np.reshape(Y, (-1,))[j0:j1], dtype=dt)
            zx[:, j0:j1] = xs
            zy[j0:j1] = ys
        group.attrs[ZARR_MARKER] = {
            "layout": "X (n_x, m), one column per sample; Y (m,)",
            "synthetic_seed": seed if shape is not None else None,
        }
        if target.exists() or target.is_symlink():
            _check_replaceable(target, overwrite)  # still ours, after the long write
            old = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            os.replace(target, old / "store")
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / "store").exists() and not target.exists():
            os.replace(old / "store", target)  # put the old store back
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old)
    return target


class _ZarrSource:
    """A Zarr array as dask reads it, one chunk per read; a failed read names its chunk.

    Zarr's own errors for a damaged chunk (a codec failing on truncated bytes, ...)
    name neither the array nor the chunk; here they become :class:`DamagedStoreError`
    naming the store, the array, the chunk's key and its samples.
    """

    def __init__(self, array: Any, store: str, name: str) -> None:
        self.array = array
        self.store = store
        self.name = name
        self.shape = tuple(array.shape)
        self.dtype = array.dtype
        self.ndim = len(self.shape)
        self.chunks = tuple(array.chunks)

    def _chunk_keys(self, index: tuple[slice, ...]) -> str:
        grid = self.array.shards or self.array.chunks
        lo = [(s.start or 0) // c for s, c in zip(index, grid, strict=False)]
        hi = [
            max(a, ((s.stop or n) - 1) // c)
            for s, c, n, a in zip(index, grid, self.shape, lo, strict=False)
        ]
        first = f"{self.name}/{self.array.metadata.encode_chunk_key(tuple(lo))}"
        if lo != hi:
            return f"{first} to {self.name}/{self.array.metadata.encode_chunk_key(tuple(hi))}"
        return first

    def __getitem__(self, index: Any) -> Any:
        try:
            return self.array[index]
        except Exception as exc:
            idx = index if isinstance(index, tuple) else (index,)
            where = "?"
            with contextlib.suppress(Exception):
                where = self._chunk_keys(tuple(i for i in idx if isinstance(i, slice)))
            last = idx[-1] if idx and isinstance(idx[-1], slice) else None
            samples = "" if last is None else f", samples {last.start}:{last.stop}"
            raise DamagedStoreError(
                f"Zarr store {_tail(self.store)}: cannot read chunk {where} of array "
                f"{self.name}{samples} (is the file damaged?): {error_line(exc)}"
            ) from exc


def _tail(text: object, limit: int = 160) -> str:
    """``str(text)`` cut to its last ``limit`` characters (of a path, the end names the store)."""
    s = str(text)
    return s if len(s) <= limit else "..." + s[-(limit - 3) :]


def _stored_files(root: Path) -> dict[str, int]:
    """Files under ``root`` (keys relative to it, ``/``-separated) and their sizes."""
    found: dict[str, int] = {}
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=True):
                stack.append(Path(entry.path))
            else:
                rel = Path(entry.path).relative_to(root).as_posix()
                found[rel] = entry.stat(follow_symlinks=True).st_size
    return found


def check_zarr_chunks(path: str | os.PathLike[str], name: str, array: Any) -> None:
    """Raise :class:`DamagedStoreError` if a chunk file of ``array`` is missing or truncated.

    Zarr reads a missing chunk as its fill value (zeros): a lost chunk of ``Y`` would
    turn labels into 0, one of ``X`` would give samples of zeros, and a fit would run
    on.  Cheap: it lists the files and compares their sizes, reading no data.  The
    size is checked where chunks are stored uncompressed (as :func:`write_zarr` does).
    """
    grid = array.shards or array.chunks
    counts = [-(-int(n) // int(c)) for n, c in zip(array.shape, grid, strict=True)]
    files = _stored_files(Path(path) / name)
    expected: int | None = None
    codecs = getattr(array.metadata, "codecs", None)
    plain = codecs is not None and len(codecs) == 1 and type(codecs[0]).__name__ == "BytesCodec"
    if array.shards is None and plain:
        expected = int(np.prod(array.chunks)) * array.dtype.itemsize
    missing: list[str] = []
    wrong: list[tuple[str, int]] = []
    total = int(np.prod(counts))
    for coords in np.ndindex(*counts):
        key = array.metadata.encode_chunk_key(coords)
        size = files.get(key)
        if size is None:
            missing.append(key)
        elif expected is not None and size != expected:
            wrong.append((key, size))
    if missing:
        raise DamagedStoreError(
            f"Zarr store {_tail(path)}: {len(missing)} of {total} chunk files of array "
            f"{name} are missing (the first: {name}/{missing[0]}); a missing chunk would "
            "be read as zeros (the fill value). Write the store again (vecstudy to-zarr)"
        )
    if wrong:
        key, size = wrong[0]
        raise DamagedStoreError(
            f"Zarr store {_tail(path)}: {len(wrong)} of {total} chunk files of array "
            f"{name} have the wrong size (the first: {name}/{key}, {size} bytes instead of "
            f"{expected}): truncated or damaged. Write the store again (vecstudy to-zarr)"
        )


def open_zarr(path: str | os.PathLike[str]) -> tuple[Any, Any]:
    """``(X, Y)`` of a Zarr group written by :func:`write_zarr`, as lazy dask arrays.

    No data are read: each chunk of ``X`` is read by the task that uses it.  The store
    is checked first (:func:`check_zarr_chunks`, which lists files): a chunk file that
    is missing or has the wrong size raises :class:`DamagedStoreError` naming it, and
    so does, later, a chunk that fails to decode when a task reads it.
    """
    import dask.array as da
    import zarr

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no Zarr store at {p}")
    out = []
    token = uuid.uuid4().hex
    for name in ("X", "Y"):
        try:
            array = zarr.open_array(str(p), path=name, mode="r")
        except Exception as exc:
            raise DamagedStoreError(
                f"Zarr store {_tail(p)}: cannot open array {name}: {error_line(exc)}"
            ) from None
        check_zarr_chunks(p, name, array)
        source = _ZarrSource(array, str(p), name)
        out.append(
            da.from_array(
                source,
                chunks=source.chunks,
                name=f"zarr-{name}-{token}",
                meta=np.empty((0,) * source.ndim, dtype=source.dtype),
                asarray=True,
                fancy=False,
            )
        )
    return out[0], out[1]
