"""Lazy inputs: dask arrays checked without computing them, and how data are cut into chunks.

:func:`is_dask_array` tells a dask array from the rest without importing dask;
:func:`check_lazy_X` and :func:`check_lazy_Y` check shapes and dtypes (one pass over
``Y`` for its labels); :func:`lazy_inputs` casts and chunks both alike along the
samples.  :func:`chunk_bytes` and :func:`columns_per_chunk` size the chunks, for the
dask backend and for :func:`vecstudy.cluster.write_zarr`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vecstudy import config


def chunk_bytes(value: object = None) -> int:
    """Bytes per chunk: ``value`` (int or ``"64 MiB"``), else the configured ``[dask] chunk``."""
    from dask.utils import parse_bytes

    source = "argument chunk="
    if value is None:
        choice = config.resolve_dask()["chunk"]
        value, source = choice.value, choice.source
    try:
        n = int(value) if isinstance(value, int) else int(parse_bytes(str(value)))
    except (ValueError, TypeError):
        raise ValueError(
            f"bad chunk size {value!r} from {source}; expected bytes, e.g. 67108864 or '64 MiB'"
        ) from None
    if n < 1:
        raise ValueError(f"chunk size from {source} must be positive; got {value!r}")
    return n


def columns_per_chunk(n_x: int, itemsize: int, nbytes: int, m: int, multiple: int = 1) -> int:
    """Samples (columns of ``X``) per chunk: chunks of at most ``nbytes``, of equal size.

    The ``m`` samples are cut into the fewest chunks of at most ``nbytes`` (at least
    one sample each), rounded up to a multiple of ``multiple`` (the number of workers,
    so that every worker gets as much), then made as equal as possible.
    """
    widest = max(1, nbytes // (n_x * itemsize))
    n = -(-m // widest)
    n = min(m, -(-n // multiple) * multiple)
    return max(1, -(-m // n))


# --------------------------------------------------------------------------- lazy inputs
def is_dask_array(value: object) -> bool:
    """Whether ``value`` is a ``dask.array.Array`` (without importing dask)."""
    kind = type(value)
    if kind is np.ndarray:  # the common case, asked several times in every API call
        return False
    module = str(kind.__module__)
    return (module == "dask" or module.startswith("dask.")) and hasattr(value, "chunks")


def check_lazy_X(X: Any, name: str = "X") -> Any:
    """Shape and dtype checks of a dask ``X`` (n_x, m); nothing is computed.

    Its values are not scanned for NaN or infinity here (that would read all of
    ``X``); a non-finite value makes the results non-finite, and only then does the
    dask backend scan ``X`` to name it (``NonFiniteInputError``, a ``ValueError``).
    """
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; found dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (n_x, m); got {X.ndim}-D shape {X.shape}")
    if any(math.isnan(s) for s in X.shape):
        raise ValueError(f"{name} has unknown chunk sizes {X.shape}; call .compute_chunk_sizes()")
    n_x, m = X.shape
    if n_x == 0 or m == 0:
        raise ValueError(f"{name} must have n_x >= 1 features and m >= 1 samples; got {X.shape}")
    return X


def check_lazy_Y(Y: Any, m: int, name: str = "Y") -> Any:
    """Shape check of a dask ``Y`` ((1, m) or (m,)) and one pass over it for the labels."""
    if Y.ndim == 2 and Y.shape[0] == 1:
        Y = Y[0]
    elif Y.ndim != 1:
        raise ValueError(f"{name} must have shape (1, m); got shape {Y.shape}")
    if Y.shape[0] != m:
        raise ValueError(
            f"{name} has {Y.shape[0]} samples but X has {m}: Y must have shape (1, {m})"
        )
    if Y.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; found dtype {Y.dtype}")
    if bool(((Y != 0) & (Y != 1)).any().compute()):
        raise ValueError(f"{name} must hold labels 0 and 1 only; found other values")
    return Y


def _narrow(block: Any, dtype: np.dtype[Any], name: str) -> Any:
    """``block`` cast to the narrower float ``dtype``; ValueError if a finite value overflows."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = block.astype(dtype)
        if np.isfinite(out.sum()):
            return out
    if (np.isinf(out) & np.isfinite(block)).any():
        raise ValueError(f"{name} has values too large for dtype {dtype}")
    return out


def lazy_inputs(X: Any, Y: Any, dtype: str) -> tuple[Any, Any]:
    """``X`` and ``Y`` as dask arrays of ``dtype``, chunked alike along the samples.

    ``X`` keeps its chunks along the samples and becomes one chunk along the features;
    ``Y`` (NumPy or dask, ``(m,)``) takes the same sample chunks.  Nothing is computed.
    A cast to a narrower float (float64 ``X`` as float32) checks each chunk as it is
    read: a finite value too large for ``dtype`` raises ``ValueError``, as the numpy
    path does, instead of turning into infinity.
    """
    import dask.array as da

    Xd = X if is_dask_array(X) else da.from_array(np.asarray(X))
    target = np.dtype(dtype)
    if Xd.dtype.kind == "f" and target.kind == "f" and Xd.dtype.itemsize > target.itemsize:
        Xd = Xd.map_blocks(_narrow, target, "X", dtype=target)
    Xd = Xd.astype(dtype).rechunk({0: -1})
    if Y is None:
        return Xd, None
    Yd = Y if is_dask_array(Y) else da.from_array(np.asarray(Y))
    Yd = Yd.reshape(-1).astype(dtype).rechunk((Xd.chunks[1],))
    return Xd, Yd
