"""The data-cache sizes of this machine, as the operating system reports them.

The compiled kernels size their tiles from these numbers (see
:func:`vecstudy.backends.numba.plan`), so that the same rule fits a CPU with a 48 KiB
L1d and a 1.25 MiB L2 as well as one with 32 KiB and 1 MiB.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from vecstudy.runtime import environ as _environ

_SYSFS: Final = Path("/sys/devices/system/cpu/cpu0/cache")

#: Used for a level the OS does not report: a common x86-64 server core.
FALLBACK_L1D: Final = 32 * 1024
FALLBACK_L2: Final = 1024 * 1024
FALLBACK_L3_PER_CORE: Final = 2 * 1024 * 1024


@dataclass(frozen=True)
class CacheSizes:
    """Bytes of data cache available to one core.

    Attributes
    ----------
    l1d, l2 : int
        The core's L1 data cache and L2 (unified) cache.
    l3_per_core : int
        The L3 divided by the number of CPUs sharing it.
    source : str
        ``"sysfs"`` when read from the OS, ``"fallback"`` for the defaults (or a mix,
        ``"sysfs+fallback"``, when some levels were missing).
    """

    l1d: int
    l2: int
    l3_per_core: int
    source: str


def parse_size(text: str) -> int:
    """``"48K"`` -> 49152, ``"1280K"`` -> 1310720, ``"32M"`` -> 33554432, ``"512"`` -> 512.

    >>> parse_size("48K"), parse_size("2M"), parse_size("64")
    (49152, 2097152, 64)
    """
    t = text.strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    digits = t[:-1] if t[-1:] in "KMG" and t else t
    return int(digits) * scale


def _cpu_count(cpu_list: str) -> int:
    """Number of CPUs in a sysfs list such as ``"0-3,8"``."""
    n = 0
    for part in cpu_list.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        n += int(hi or lo) - int(lo) + 1
    return max(n, 1)


def read_sysfs(root: Path = _SYSFS) -> dict[int, int]:
    """``{level: bytes per core}`` of the data and unified caches under ``root``.

    Missing or unreadable entries are left out (an empty dict where there is no sysfs).
    """
    found: dict[int, int] = {}
    try:
        entries = sorted(root.glob("index*"))
    except OSError:
        return found
    for entry in entries:
        try:
            kind = (entry / "type").read_text().strip()
            level = int((entry / "level").read_text())
            size = parse_size((entry / "size").read_text())
            sharing = (entry / "shared_cpu_list").read_text()
        except (OSError, ValueError):
            continue
        if kind in ("Data", "Unified") and size > 0:
            found[level] = size // _cpu_count(sharing) if level >= 3 else size
    return found


@functools.cache
def cache_sizes() -> CacheSizes:
    """The data caches of one core of this machine (read once per process).

    Read from ``/sys/devices/system/cpu/cpu0/cache/index*/{level,type,size,
    shared_cpu_list}``; a level that is missing falls back to :data:`FALLBACK_L1D`,
    :data:`FALLBACK_L2` or :data:`FALLBACK_L3_PER_CORE`.  The environment variable
    ``VECSTUDY_CACHE_SIZES="l1d,l2,l3_per_core"`` (bytes, or with K/M suffixes)
    overrides all three, for experiments.
    """
    override = _environ.get("VECSTUDY_CACHE_SIZES")
    if override:
        try:
            l1, l2, l3 = (parse_size(v) for v in override.split(","))
        except ValueError as exc:
            msg = (
                f"VECSTUDY_CACHE_SIZES must be three sizes 'l1d,l2,l3_per_core' "
                f"(e.g. '48K,1280K,2M'), got {override!r}"
            )
            raise ValueError(msg) from exc
        return CacheSizes(l1, l2, l3, "VECSTUDY_CACHE_SIZES")
    found = read_sysfs()
    levels = (found.get(1), found.get(2), found.get(3))
    source = "sysfs" if all(levels) else ("sysfs+fallback" if any(levels) else "fallback")
    return CacheSizes(
        levels[0] or FALLBACK_L1D,
        levels[1] or FALLBACK_L2,
        levels[2] or FALLBACK_L3_PER_CORE,
        source,
    )
