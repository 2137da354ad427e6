"""One thread setting for every library that runs a step: Numba and the BLAS under NumPy.

Comparisons between backends are only fair when they may use the same number of
cores.  :func:`limit_threads` sets both, for the duration of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from threadpoolctl import ThreadpoolController, threadpool_info

#: Modules whose import may load another thread pool (BLAS, OpenMP) into the process.
_POOL_MODULES = ("numpy", "scipy", "numba", "sklearn", "torch")
_controller: tuple[frozenset[str], ThreadpoolController] | None = None


def _pools() -> ThreadpoolController:
    """A cached threadpoolctl controller, rebuilt when a pool-loading module appears.

    Building one inspects every loaded shared library (about a millisecond); limiting
    threads through a cached one costs microseconds.
    """
    global _controller
    loaded = frozenset(m for m in _POOL_MODULES if m in sys.modules)
    if _controller is None or _controller[0] != loaded:
        _controller = (loaded, ThreadpoolController())
    return _controller[1]


def _numba_module() -> Any:
    """The numba backend module if numba is already in use, else None (never imports it)."""
    if "numba" not in sys.modules:
        return None
    from vecstudy import backends

    try:
        return backends.load("numba")
    except ImportError:
        return None


@contextlib.contextmanager
def limit_threads(n: int | None, *, numba: bool | None = None) -> Iterator[None]:
    """Limit Numba and BLAS (and OpenMP) to ``n`` threads inside the block.

    Parameters
    ----------
    n : int or None
        Thread count; ``None`` changes nothing.
    numba : bool, optional
        Whether to set Numba's thread count too.  By default it is set when numba is
        already imported (so that limiting threads never pays numba's import).
    """
    if n is None:
        yield
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be a positive integer, got {n!r}")
    nb = None
    if numba or (numba is None and "numba" in sys.modules):
        from vecstudy import backends

        nb = backends.load("numba")
    previous = None
    if nb is not None:
        previous = nb.get_threads()
        nb.set_threads(n)
    try:
        with _pools().limit(limits=n):
            yield
    finally:
        if nb is not None and previous is not None:
            nb.set_threads(previous)


def thread_info() -> dict[str, Any]:
    """The thread-related state of this process, for reports.

    Keys: ``cores``, ``blas`` (list of dicts from threadpoolctl: library, version,
    threads, internal API, architecture), and, when numba is in use,
    ``numba_threads`` and ``numba_threading_layer``.
    """
    info: dict[str, Any] = {"cores": os.cpu_count()}
    info["blas"] = [
        {
            "library": lib.get("internal_api"),
            "prefix": lib.get("prefix"),
            "version": lib.get("version"),
            "threads": lib.get("num_threads"),
            "architecture": lib.get("architecture"),
            "user_api": lib.get("user_api"),
        }
        for lib in threadpool_info()
    ]
    nb = _numba_module()
    if nb is not None:
        info["numba_threads"] = nb.get_threads()
        info["numba_threading_layer"] = nb.threading_layer()
    return info
