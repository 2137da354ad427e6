"""One line before a numba kernel's first call, so that a cold compile does not look frozen.

Used by :mod:`vecstudy.api` before each kernel call and by the study's sweep before it
times one; it lives here, below both, so that neither imports the other for it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

from numpy.typing import NDArray

logger = logging.getLogger("vecstudy")

#: (kernel, dtype, layout) of numba kernels already called in this process.
_numba_seen: set[tuple[str, Any, str]] = set()
_numba_seen_lock = threading.Lock()


def announce_compile(name: str, kernel: str, X: NDArray[Any]) -> None:
    """Log one INFO line before the first call of a numba kernel for a dtype and layout.

    Numba compiles on first use (a cold compile takes about 10 s) or loads its cache;
    without a word the first call looks frozen.  The CLI shows these lines on stderr.
    In a Jupyter kernel where logging would not show the line (nothing set up for
    INFO), it is printed on stderr instead, so that a notebook shows it too.
    """
    if name != "numba":
        return
    layout = "F" if X.ndim == 2 and X.flags.f_contiguous and not X.flags.c_contiguous else "C"
    key = (kernel, X.dtype, layout)  # the dtype itself: str() of it takes microseconds
    with _numba_seen_lock:
        if key in _numba_seen:
            return
        _numba_seen.add(key)
    order = ", Fortran-ordered X" if layout == "F" else ""
    text = (
        "compiling or loading cached numba kernels for %s, %s%s "
        "(first use in this process; a cold compile takes about 10 s)..."
    )
    if not (logger.isEnabledFor(logging.INFO) and logger.hasHandlers()) and _in_kernel():
        print("vecstudy: " + text % (kernel, X.dtype, order), file=sys.stderr)  # noqa: T201 - a notebook shows no INFO log
        return
    logger.info(text, kernel, X.dtype, order)


def _in_kernel() -> bool:
    """Whether this process is a Jupyter (IPython) kernel, where INFO logs show nowhere."""
    shell = sys.modules.get("ipykernel.zmqshell")
    ipython = sys.modules.get("IPython")
    if shell is None or ipython is None:
        return False
    return isinstance(ipython.get_ipython(), shell.ZMQInteractiveShell)


@contextlib.contextmanager
def info_to_stderr() -> Iterator[None]:
    """Within: logger ``vecstudy``'s INFO lines (numba compiling) also go to stderr.

    One handler ``"vecstudy: <message>"``; the logger's level is lowered to INFO if it
    was higher, and both come back as they were on leaving.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("vecstudy: %(message)s"))
    handler.setLevel(logging.INFO)
    level = logger.level
    logger.addHandler(handler)
    if level == logging.NOTSET or level > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
