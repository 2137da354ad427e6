"""SIGTERM handled like Ctrl-C: long commands stop the same way whichever one ends them.

A batch system, ``timeout``, ``docker stop`` or ``kill PID`` ends a process with
SIGTERM, whose default action kills it on the spot: no ``finally`` block runs, so a
sweep's run stays ``"running"`` in its results file forever.  Inside
:func:`sigterm_as_interrupt` a SIGTERM raises :class:`Terminated` (a
:class:`KeyboardInterrupt`) in the main thread instead, so the code that already
handles Ctrl-C (keep every finished measurement, mark the run ``"interrupted"``,
remove temporary files) handles it too.  The old handler is restored on exit.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

from vecstudy.errors import Terminated as Terminated


@dataclass
class Received:
    """What :func:`sigterm_as_interrupt` yields: ``signum`` is set once SIGTERM arrived."""

    signum: int | None = None

    @property
    def exit_status(self) -> int:
        """The shell's status for the signal (``128 + signum``: 143 for SIGTERM), else 130."""
        return 128 + self.signum if self.signum is not None else 130


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[Received]:
    """Inside the block, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt).

    Only the main thread can set signal handlers; elsewhere, and where SIGTERM is
    ignored (``SIG_IGN``, set by whoever started the process), nothing changes.
    The handler in force before the block is restored when it ends, however it
    ends.  The yielded :class:`Received` says whether SIGTERM arrived.

    >>> with sigterm_as_interrupt() as got:
    ...     pass
    >>> got.signum is None, got.exit_status
    (True, 130)
    """
    got = Received()
    if threading.current_thread() is not threading.main_thread():
        yield got
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_IGN:
        yield got
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        got.signum = signum
        raise Terminated(signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield got
    finally:
        # None: a handler set outside Python, which cannot be put back; the default then
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
