"""How the numba backend compiles: one decorator, its fast-math flags, the disk cache.

Every kernel of the backend is compiled by :func:`_jit`: ``njit`` with
``error_model="numpy"`` (no ``ZeroDivisionError`` checks, which would stop
vectorization), the fast-math flags :data:`FASTMATH` (never ``nnan``/``ninf``, so
non-finite values stay detectable), lazily on first use for each dtype, and cached on
disk (``cache=True``).  Where no cache directory is writable the kernels compile
without one (one :class:`NumbaCacheWarning`); with ``NUMBA_DISABLE_JIT=1`` they run as
plain Python (:data:`JIT_DISABLED`).

Numba keys a cached kernel by the file it is defined in: a kernel is compiled again
when its own file changes, not when a helper it calls from another file of this package
does (remove the cache, ``__pycache__/*.nbi`` and ``*.nbc``, after editing one).
"""

# Numba internals are untyped (numba.config attributes):
# mypy: disable-error-code="attr-defined"

from __future__ import annotations

import warnings
from typing import Any, Final

import numba
from numba import njit

from vecstudy.errors import NumbaCacheWarning as NumbaCacheWarning

#: Fast-math flags of the kernels: no ``nnan``/``ninf``, so NaN and inf stay meaningful.
FASTMATH: Final = frozenset({"reassoc", "contract", "arcp", "nsz", "afn"})
# The exp/log1p helpers must not be reassociated (Cody-Waite range reduction relies on
# the order of the subtractions); they are inlined by LLVM keeping their own flags.
_FASTMATH_SAFE: Final = frozenset({"contract", "nsz"})
# error_model="numpy": no ZeroDivisionError checks, which would stop vectorization.

#: True under ``NUMBA_DISABLE_JIT=1``: every kernel of the backend then runs as plain Python
#: (slowly, but with the same loops, so they can be stepped through in a debugger).
JIT_DISABLED: Final = bool(numba.config.DISABLE_JIT)

_cache_warned = False


class _FlagSet(set):  # type: ignore[type-arg]
    """A set of fast-math flags that prints in sorted order.

    Numba names each compiled function with an ABI tag built from ``str()`` of its
    options, and ``str()`` of a plain set of strings follows the hash seed: each process
    would name the same kernel differently.  Sorted, the names are the same in every
    process.
    """

    def __repr__(self) -> str:
        return "{" + ", ".join(repr(f) for f in sorted(self)) + "}"

    __str__ = __repr__


def _jit(
    *, parallel: bool = False, fastmath: frozenset[str] = FASTMATH, inline: bool = False
) -> Any:
    """``njit`` with this module's flags and ``cache=True``.

    Where numba finds no writable cache directory (a read-only install, a read-only
    ``NUMBA_CACHE_DIR``) it refuses ``cache=True`` with "cannot cache function ... no
    locator available": the function is then compiled without a disk cache, and one
    :class:`NumbaCacheWarning` says so.

    No cached function may call a ``parallel=True`` one (numba #8578, #9938): when the
    callee comes from the disk cache, the caller is compiled and cached without the
    hook that starts numba's thread pool on load, and a later process that loads the
    caller first calls a null pointer (SIGSEGV).  Loops in ``prange`` shared by a
    serial and a parallel kernel live in ``inline=True`` helpers, inlined into each
    caller before it is compiled, so that each ``parallel=True`` kernel is called from
    Python only.
    """

    def compile_(fn: Any, cache: bool) -> Any:
        return njit(
            fn,
            cache=cache,
            fastmath=_FlagSet(fastmath),
            error_model="numpy",
            parallel=parallel,
            inline="always" if inline else "never",
        )

    def decorate(fn: Any) -> Any:
        global _cache_warned  # one warning per process
        try:
            return compile_(fn, True)
        except RuntimeError as exc:
            if "cannot cache" not in str(exc):
                raise
            if not _cache_warned:
                _cache_warned = True
                warnings.warn(
                    f"numba cannot cache compiled kernels here ({exc}); compiling without "
                    "a disk cache, so each new process compiles again (set NUMBA_CACHE_DIR "
                    "to a writable directory to keep them)",
                    NumbaCacheWarning,
                    stacklevel=2,
                )
            return compile_(fn, False)

    return decorate


__all__ = ["FASTMATH", "JIT_DISABLED", "NumbaCacheWarning"]
