"""``X`` copied into the other layout (C to F or F to C) by a cache-blocked transpose.

:func:`relayout` is what ``vecstudy.optimize`` calls when
:func:`~vecstudy.backends.numba.relayout_order` says a descent pays for the copy.
(Named ``transpose`` so that the module and its function :func:`relayout` do not share
one name in the package.)
"""

from __future__ import annotations

import threading
from typing import Any, Final

import numpy as np
from numba import prange
from numpy.typing import NDArray

from vecstudy.backends.numba.jit import _jit

Array = NDArray[np.floating[Any]]

_TRANSPOSE_TILE: Final = 32


@_jit(parallel=True)
def _transpose(src, dst):  # type: ignore[no-untyped-def]
    """``dst[j, i] = src[i, j]`` (both C-contiguous), by 32 x 32 tiles, rows in parallel."""
    r, c = src.shape
    tb = _TRANSPOSE_TILE
    for bi in prange((r + tb - 1) // tb):
        i0 = bi * tb
        i1 = min(i0 + tb, r)
        for j0 in range(0, c, tb):
            for j in range(j0, min(j0 + tb, c)):
                drow = dst[j]
                for i in range(i0, i1):
                    drow[i] = src[i, j]


#: The largest copy (bytes) kept after a descent for the next :func:`relayout` of the
#: same shape and dtype (see :func:`recycle`).
KEEP_MAX_BYTES: Final = 128 << 20

#: At most one spare copy: ``((rows, cols, dtype), array)`` of the last recycled one.
_spare: list[tuple[tuple[int, int, str], Array]] = []
_spare_lock = threading.Lock()


def _buffer(rows: int, cols: int, dtype: Any) -> Array:
    """A C-contiguous ``(rows, cols)`` array to fill: the spare one if it fits, else new."""
    key = (rows, cols, np.dtype(dtype).str)
    with _spare_lock:
        if _spare and _spare[0][0] == key:
            return _spare.pop()[1]
    return np.empty((rows, cols), dtype)


def recycle(copy: Array | None) -> None:
    """Keep ``copy``, a result of :func:`relayout` no longer in use, for the next one.

    A fresh copy of ``X`` costs as much in page faults (the OS zeroing new memory) as
    the transpose itself: about half of a relayout at 4096x2000 and 12288x1000 (measured
    on a 2-core AMD EPYC VM; see the design page).  ``vecstudy.optimize`` hands its copy
    back when its descent ends, so a loop of descents on one shape (a sweep of learning
    rates, a benchmark) copies into the same memory.  One copy of at most
    :data:`KEEP_MAX_BYTES` is kept; it is overwritten entirely before it is used again,
    so nothing of one call's ``X`` reaches another.  ``recycle(None)`` lets the kept one
    go.
    """
    with _spare_lock:
        _spare.clear()
        if copy is None or copy.nbytes > KEEP_MAX_BYTES:
            return
        base = copy.T if copy.flags.f_contiguous and not copy.flags.c_contiguous else copy
        if base.flags.c_contiguous and base.flags.writeable:
            _spare.append(((base.shape[0], base.shape[1], base.dtype.str), base))


def relayout(X: Array, order: str) -> Array:
    """A copy of ``X`` in ``order`` ("C" or "F"), by a parallel cache-blocked transpose.

    About 2 to 4 reads of ``X``; NumPy's own transposing copy is single-threaded and
    walks one side with a large stride, over 20 times one read of ``X`` (see the design
    page).  The copy goes into the memory of the last one :func:`recycle` kept, when
    shape and dtype match.

    >>> import numpy as np
    >>> X = np.arange(6.0).reshape(2, 3)
    >>> F = relayout(X, "F")
    >>> bool(F.flags.f_contiguous and (F == X).all())
    True
    """
    n_x, m = X.shape
    if order == "F":
        dst = _buffer(m, n_x, X.dtype)
        _transpose(np.ascontiguousarray(X), dst)
        return dst.T
    out = _buffer(n_x, m, X.dtype)
    _transpose(np.asfortranarray(X).T, out)
    return out


__all__ = ["KEEP_MAX_BYTES", "recycle", "relayout"]
