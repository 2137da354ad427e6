"""The sweep's data: seeded problems, and the memory each shape of a sweep needs.

Conventions
-----------
``X`` is ``(n_x, m)`` C-contiguous, ``w`` is ``(n_x,)``, ``Y`` is ``(m,)``, all in one
dtype, as in :mod:`vecstudy.study.sweep`.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from vecstudy.records import machine
from vecstudy.study.options import BenchOptionError, BenchOptions

SEED: Final = 0
#: Memory a sweep keeps free beyond its arrays (bytes).
MEMORY_MARGIN: Final = 256 * 2**20

Array = NDArray[np.floating[Any]]


def make_data(n_x: int, m: int, dtype: str, seed: int = SEED) -> tuple[Array, float, Array, Array]:
    """Seeded problem ``(w, b, X, Y)``: ``X ~ N(0, 1)``, labels drawn from a logistic model.

    ``w`` is zero and ``b`` is 0.0, as the course initializes them; ``X`` is
    C-contiguous ``(n_x, m)`` and ``Y`` is ``(m,)`` of 0.0 / 1.0, all in
    ``dtype``.  ``X`` is generated in ``dtype`` directly (a float32 ``X`` never
    exists as float64 first).
    """
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    X: Array = rng.standard_normal((n_x, m), dtype=dt)
    w_true: Array = (rng.standard_normal(n_x, dtype=dt) / dt.type(math.sqrt(n_x))).astype(dt)
    z = w_true @ X
    p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
    Y = (rng.random(m, dtype=dt) < p).astype(dt)
    return np.zeros(n_x, dtype=dt), 0.0, X, Y


def memory_needed(options: BenchOptions) -> list[tuple[str, int]]:
    """Bytes each shape of the sweep holds at once: ``[("NxM", bytes), ...]``.

    The sweep keeps one shape's data in every dtype at a time (``X``, plus up to
    an eighth of it in the small problems of the estimate, plus ``Y``, ``w``
    and a few ``m``-vectors of temporaries).
    """
    out = []
    for n_x, m in options.shapes:
        need = 0
        for dt in options.dtypes:
            size = np.dtype(dt).itemsize
            need += int(n_x * m * size * 1.125) + 8 * m * size + n_x * size
        out.append((f"{n_x}x{m}", need))
    if options.micro:
        out.append((f"micro-size {options.micro_size}", 4 * 8 * options.micro_size))
    return out


def check_memory(options: BenchOptions, available: int | None = None) -> None:
    """Refuse, before allocating anything, a shape whose data would not fit in memory.

    Raises
    ------
    BenchOptionError
        Naming the shape, what it needs and what is available.
    """
    available = machine.available_memory() if available is None else available
    if available is None:
        return
    for what, need in memory_needed(options):
        if need + MEMORY_MARGIN > available:
            raise BenchOptionError(
                f"{options.sources.get('shapes', 'option --shapes')}: {what} needs "
                f"{need / 2**30:.3g} GiB for its data but {available / 2**30:.3g} GiB of "
                "memory is available; choose a smaller shape"
            )
