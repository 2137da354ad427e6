"""The cores this process may run on: the one function every count of "all" cores uses."""

from __future__ import annotations

import os
import time
from typing import Final

#: Seconds for which a count of the cores stands (each API call with ``threads=`` asks;
#: asking the OS is a system call, tens of microseconds right after a large step).
RECHECK_SECONDS: Final = 1.0

_last: tuple[float, int] | None = None


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells, else all), at least 1.

    Asked of the OS again after :data:`RECHECK_SECONDS`: a change of the affinity
    (``taskset -p``, ``os.sched_setaffinity``) counts within a second.
    """
    global _last
    now = time.monotonic()
    last = _last
    if last is not None and now - last[0] < RECHECK_SECONDS:
        return last[1]
    try:
        n = len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        n = os.cpu_count() or 1
    _last = (now, n)
    return n
