"""What drives the numbers: CPU, governor, load, affinity, BLAS kernel, threads, environment.

Everything here is read, never set, and never raises: a value the OS does not
tell is ``None``.  :func:`machine_info` is stored with every run;
:func:`machine_differences` says which of the keys that change timings differ
between two runs (``vecstudy compare`` warns about them).
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from vecstudy.escape import short
from vecstudy.runtime.cores import available_cores

#: Environment variables that change what a timing measures (threads, BLAS kernels, JIT).
ENV_VARS: Final = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "NUMBA_THREADING_LAYER",
    "NUMBA_DISABLE_JIT",
    "NUMBA_OPT",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "MKL_DEBUG_CPU_TYPE",
    "VECSTUDY_THREADS",
    "VECSTUDY_BACKEND",
    "VECSTUDY_DTYPE",
)

#: Machine keys whose difference makes two runs' timings incomparable.
COMPARABLE_KEYS: Final = (
    "cpu",
    "cores",
    "cores_available",
    "governor",
    "python",
    "numpy",
    "numba",
    "blas_kernel",
    "env",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_commit(where: Path | None = None) -> str | None:
    """The git commit (with ``-dirty`` if modified) of the checkout holding ``where``, or None."""
    where = where or Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=40", "--match=NOTATAG"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


def thread_state() -> dict[str, Any]:
    """:func:`vecstudy.runtime.threads.thread_info`, or the error it raised (never raises)."""
    try:
        from vecstudy.runtime.threads import thread_info

        return dict(thread_info())
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def _load_average() -> float | None:
    """The 1-minute load average (other processes competing for the cores), or None."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):  # pragma: no cover - not on Unix
        return None


def machine_info() -> dict[str, Any]:
    """What the reader needs to judge the timings.

    Keys: ``cpu``, ``cores``, ``cores_available`` (affinity), ``memory_gib``,
    ``os``, ``hostname``, ``python``, ``numpy``, ``numba``, ``pandas``,
    ``vecstudy``, ``git_commit``, ``timestamp``, ``load_average`` (1 min),
    ``governor`` (cpufreq scaling governor, None where the OS hides it),
    ``affinity`` (the CPUs this process may use), ``memory_available_gib``,
    ``env`` (the set variables of :data:`ENV_VARS`), ``threads``
    (:func:`thread_state`) and ``blas_kernel`` (BLAS library, internal API and
    architecture, e.g. ``"openblas/openblas Haswell"``).
    """
    threads = thread_state()
    from vecstudy._version import __version__ as version

    try:
        mem: float | None = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        mem = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_available": available_cores(),
        "memory_gib": None if mem is None else round(mem, 1),
        "os": platform.platform(),
        "hostname": platform.node(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": _version("numpy"),
        "numba": _version("numba"),
        "pandas": _version("pandas"),
        "vecstudy": version,
        "git_commit": git_commit(),
        "timestamp": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "load_average": _load_average(),
        "governor": governor(),
        "affinity": affinity(),
        "memory_available_gib": _gib(available_memory()),
        "env": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
        "threads": threads,
        "blas_kernel": blas_kernel(threads),
    }


def _gib(n: int | None) -> float | None:
    return None if n is None else round(n / 2**30, 1)


def governor() -> str | None:
    """The cpufreq scaling governor of CPU 0 (``performance``, ``powersave``...), or None."""
    try:
        return Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").read_text().strip()
    except OSError:
        return None


def affinity() -> list[int] | None:
    """The CPUs this process may run on, or None where the OS does not say."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return None


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (``MemAvailable``), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def blas_kernel(threads: Mapping[str, Any]) -> str | None:
    """``"library/internal_api architecture"`` of each BLAS loaded, joined by ``; ``."""
    libs = [
        f"{b.get('library')} {b.get('version')} {b.get('architecture')}"
        for b in threads.get("blas", [])
        if isinstance(b, dict) and b.get("user_api") == "blas"
    ]
    return "; ".join(sorted(libs)) or None


def threads_in_force() -> tuple[int | None, int | None]:
    """(BLAS threads, Numba threads) in force now; None where unknown.

    Read from :func:`vecstudy.runtime.threads.thread_info` at the moment of the call, so
    that rows record what actually ran (the most threads any BLAS allows).
    """
    info = thread_state()
    blas = [
        lib.get("threads")
        for lib in info.get("blas", [])
        if isinstance(lib, dict) and lib.get("user_api", "blas") == "blas"
    ]
    blas_n = max((b for b in blas if isinstance(b, int)), default=None)
    numba_n = info.get("numba_threads")
    return blas_n, numba_n if isinstance(numba_n, int) else None


def load_average() -> float | None:
    """The 1-minute load average (other processes competing for the cores), or None."""
    return _load_average()


def machine_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """``"key: A != B"`` for each of :data:`COMPARABLE_KEYS` that differs between two machines."""
    out = []
    for key in COMPARABLE_KEYS:
        va, vb = a.get(key), b.get(key)
        if va != vb:
            out.append(f"{key}: {short(va)} != {short(vb)}")
    return out
