"""One thread setting for every library that runs a step: Numba and the BLAS under NumPy.

Comparisons between backends are only fair when they may use the same number of
cores.  :func:`limit_threads` sets both, for the duration of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

from threadpoolctl import ThreadpoolController, threadpool_info

from vecstudy.errors import ThreadCountWarning as ThreadCountWarning
from vecstudy.errors import external_stacklevel
from vecstudy.escape import short
from vecstudy.runtime import cores as _cores

#: (number of modules in sys.modules when built, controller).
_controller: tuple[int, ThreadpoolController] | None = None
#: Held for the whole of a :func:`limit_threads` block: BLAS limits are process-wide,
#: so two threads setting and restoring them at once would restore them out of order.
_limit_lock = threading.RLock()


def _pools() -> ThreadpoolController:
    """A cached threadpoolctl controller, rebuilt whenever modules were imported since.

    Building one inspects every loaded shared library (about a millisecond); limiting
    threads through a cached one costs microseconds.  A library that brings its own
    thread pool (numba's first call loads SciPy's OpenBLAS and an OpenMP runtime) is
    loaded by an import, which changes the size of ``sys.modules``: the controller is
    then rebuilt, so that it sees every pool.
    """
    global _controller
    stamp = len(sys.modules)
    if _controller is None or _controller[0] != stamp:
        controller = ThreadpoolController()
        _controller = (len(sys.modules), controller)  # its own imports count as seen
    return _controller[1]


def refresh() -> None:
    """Forget the cached controller (after loading a library by hand, e.g. via ctypes)."""
    global _controller
    _controller = None


_numba_backend: Any = None


def _numba_module() -> Any:
    """The numba backend module if numba is already in use, else None (never imports it)."""
    global _numba_backend
    if _numba_backend is not None:
        return _numba_backend
    if "numba" not in sys.modules:
        return None
    from vecstudy import registry

    try:
        _numba_backend = registry.load("numba")
    except ImportError:
        return None
    return _numba_backend


_numba_pools_loaded = False


def _load_numba_pools(nb: Any) -> None:
    """Start numba's threading layer once, so that the pools it loads get the limit too.

    Numba's first parallel call loads its OpenMP (or TBB) layer and, with it, another
    OpenBLAS; a limit applied before that would miss them (and a benchmark row would
    record their default thread count).
    """
    global _numba_pools_loaded
    if not _numba_pools_loaded:
        # with the JIT off (NUMBA_DISABLE_JIT=1) no layer ever starts: nothing to load
        with contextlib.suppress(ValueError):
            nb.threading_layer()  # runs a tiny parallel function when none has run yet
        refresh()
        _numba_pools_loaded = True


def effective_threads(n: int) -> int:
    """``n`` clamped to the cores this process may use, with a :class:`ThreadCountWarning`.

    More threads than cores only oversubscribe them (and absurd counts such as
    ``2**70`` overflow the C integers of the libraries).
    """
    cores = _cores.available_cores()
    if n > cores:
        warnings.warn(
            ThreadCountWarning(
                f"threads={short(n, 60)} is more than the {cores} cores available to this process; "
                f"using {cores}"
            ),
            stacklevel=external_stacklevel(),
        )
        return cores
    return n


def limit_threads(
    n: int | None, *, numba: bool | None = None, blas: bool = True
) -> contextlib.AbstractContextManager[None]:
    """Limit Numba and BLAS (and OpenMP) to ``n`` threads inside the block.

    Parameters
    ----------
    n : int or None
        Thread count; ``None`` changes nothing.  More than the available cores is
        clamped to them with a :class:`ThreadCountWarning`; so is more than Numba may
        start (``NUMBA_NUM_THREADS``), for Numba.
    numba : bool, optional
        Whether to set Numba's thread count too.  By default it is set when numba is
        already imported (so that limiting threads never pays numba's import).
    blas : bool
        Whether to limit the BLAS and OpenMP pools (through threadpoolctl, tens of
        microseconds).  A numba kernel calls no BLAS: the API limits Numba alone for
        it (``numba=True, blas=False``), which is thread-local and takes no lock.

    What ran is reported inside the block by :func:`running_threads`.

    Blocks in different Python threads run one at a time (a process-wide lock): the
    BLAS limit is a property of the process, and concurrent blocks would restore it
    out of order.  Calls without a limit are not held back, and run under whatever
    limit is in force.
    """
    if n is None:
        return contextlib.nullcontext()
    count: object = n  # typed int, but NumPy integers come too
    if type(count) is int and count >= 1:
        pass  # the usual case, without the ABC checks below
    elif isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 1:
        raise ValueError(f"threads must be a positive integer, got {count}")
    n = effective_threads(int(count))
    if numba and not blas and _numba_pools_loaded:
        # numba alone (the API's case): no lock, no generator; at the count already in
        # force nothing to set or restore (each saves ~10 us a call)
        nb = _numba_module()
        if nb is not None and n <= nb.max_threads():
            previous = nb.get_threads()
            return contextlib.nullcontext() if previous == n else _NumbaCount(nb, n, previous)
    return _limited(n, numba, blas)


class _NumbaCount:
    """Numba's (thread-local) count set to ``n`` inside the block, ``previous`` after."""

    __slots__ = ("n", "nb", "previous")

    def __init__(self, nb: Any, n: int, previous: int) -> None:
        self.nb, self.n, self.previous = nb, n, previous

    def __enter__(self) -> None:
        self.nb.set_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        self.nb.set_threads(self.previous)


@contextlib.contextmanager
def _limited(n: int, numba: bool | None, blas: bool) -> Iterator[None]:
    """:func:`limit_threads` for a checked count ``n``."""
    nb = None
    if numba or (numba is None and "numba" in sys.modules):
        from vecstudy import registry

        nb = registry.load("numba")
    with _limit_lock if blas else contextlib.nullcontext():
        previous = None
        if nb is not None:
            _load_numba_pools(nb)
            cap = int(nb.max_threads())
            if n > cap:
                warnings.warn(
                    ThreadCountWarning(
                        f"numba runs at most {cap} threads (NUMBA_NUM_THREADS={cap}), "
                        f"not the {n} asked for"
                    ),
                    stacklevel=external_stacklevel(),
                )
            previous = nb.get_threads()
            if previous != min(n, cap):
                nb.set_threads(min(n, cap))
            else:
                previous = None  # nothing to restore
        try:
            with _pools().limit(limits=n) if blas else contextlib.nullcontext():
                yield
        finally:
            if nb is not None and previous is not None:
                nb.set_threads(previous)


def blas_threads() -> list[dict[str, Any]]:
    """The thread pools loaded now and their thread counts: what a call would run with.

    One dict per library: ``library`` (internal API: openblas, mkl, blis, openmp),
    ``prefix`` (the shared object's name), ``user_api`` (blas or openmp) and
    ``threads``.  Inside :func:`limit_threads` it shows the limit actually in force on
    every pool, including pools loaded after the controller was first built.
    """
    return [
        {
            "library": lib.internal_api,
            "prefix": lib.prefix,
            "user_api": lib.user_api,
            "threads": lib.num_threads,
        }
        for lib in _pools().lib_controllers
    ]


def running_threads() -> dict[str, Any]:
    """What a call made now would run with, for the record of a benchmark row.

    Keys: ``blas`` (:func:`blas_threads`), ``blas_threads`` (the largest count among
    the BLAS pools, or None when none is loaded) and ``numba_threads`` (None when numba
    is not in use).
    """
    pools = blas_threads()
    counts = [p["threads"] for p in pools if p["user_api"] == "blas"]
    nb = _numba_module()
    return {
        "blas": pools,
        "blas_threads": max(counts) if counts else None,
        "numba_threads": None if nb is None else int(nb.get_threads()),
    }


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
