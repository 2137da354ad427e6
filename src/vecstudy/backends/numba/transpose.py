"""``X`` copied into the other layout (C to F or F to C) by a cache-blocked transpose.

:func:`relayout` is what ``vecstudy.optimize`` calls when
:func:`~vecstudy.backends.numba.relayout_order` says a descent pays for the copy.
(Named ``transpose`` so that the module and its function :func:`relayout` do not share
one name in the package.)
"""

from __future__ import annotations

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


def relayout(X: Array, order: str) -> Array:
    """A copy of ``X`` in ``order`` ("C" or "F"), by a parallel cache-blocked transpose.

    About 2 to 4 reads of ``X``; NumPy's own transposing copy is single-threaded and
    walks one side with a large stride, over 20 times one read of ``X`` (see the design
    page).

    >>> import numpy as np
    >>> X = np.arange(6.0).reshape(2, 3)
    >>> F = relayout(X, "F")
    >>> bool(F.flags.f_contiguous and (F == X).all())
    True
    """
    n_x, m = X.shape
    if order == "F":
        dst = np.empty((m, n_x), X.dtype)
        _transpose(np.ascontiguousarray(X), dst)
        return dst.T
    out = np.empty((n_x, m), X.dtype)
    _transpose(np.asfortranarray(X).T, out)
    return out


__all__ = ["relayout"]
