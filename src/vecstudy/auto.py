"""``backend="auto"``: pick the fastest backend for a problem's shape, and say why.

Two sources, in this order:

1. **Measured crossovers.**  The newest sweep results file on hand (``vecstudy bench``'s
   output as set in the config file's ``[bench]`` table, else
   ``reports/runs/bench-results.json``, the newest ``reports/runs/*/study-results.json``
   written by ``vecstudy study``, or the reference ``reports/study-results.json`` under the
   current directory), if it was measured on a machine with this CPU and core count.
   A file that cannot be used (not a results file, negative or non-finite times, ...)
   is skipped with one :class:`ResultsFileWarning` per file version.  Among its timings
   of a gradient-descent iteration in the requested dtype with all threads, the measured
   shape nearest to the problem (distance in log n_x and log m) decides: the backend with
   the smallest median time there wins.  Only backends this install can run take part:
   rows of a backend that is not registered here (the file came from a newer version,
   or names a plugin's backend) or whose optional dependencies are missing are skipped.
2. **A built-in rule**, when no such results exist: ``numba`` whenever numba imports.  Its
   compiled descent has no per-iteration Python overhead, reads ``X`` once per step
   instead of twice, and is cached on disk: on the development machine it was ahead of
   NumPy at almost every shape measured and never below 0.95x of it (see
   docs/howto/performance.md); ``numpy`` otherwise.

The ``python`` backend is never picked, from results or by rule: it exists to be read
and to be beaten.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import warnings
from pathlib import Path

from vecstudy import backends, config
from vecstudy.config import Choice
from vecstudy.errors import ResultsFileWarning as ResultsFileWarning
from vecstudy.errors import external_stacklevel
from vecstudy.escape import bounded

#: Result files looked for under the current directory when the config names none.
DEFAULT_RESULTS = (
    "reports/runs/bench-results.json",
    "reports/bench-results.json",
    "reports/study-results.json",
)
#: Where ``vecstudy study`` writes its runs (one directory each).
STUDY_RUNS = "reports/runs/*/study-results.json"

_warned: set[tuple[str, int]] = set()


def _bench_output() -> Path | None:
    """The results file named by ``output`` in the config file's ``[bench]`` table, if any.

    Read from the raw table (:func:`vecstudy.config.file_section`): the sweep's other
    options do not matter here, and a config file that cannot be read leaves the
    defaults to decide.
    """
    try:
        table, _ = config.file_section("bench")
    except ValueError:  # a config file that cannot be read: use the defaults
        return None
    value = table.get("output")
    if isinstance(value, str | os.PathLike) and str(value).strip():
        return Path(value)
    return None


def _results_candidates() -> list[Path]:
    paths: list[Path] = []
    output = _bench_output()
    if output is not None:
        paths.append(output)
    paths.extend(Path(p) for p in DEFAULT_RESULTS)
    paths.extend(Path().glob(STUDY_RUNS))
    return [p for p in dict.fromkeys(paths) if p.is_file()]


def _ignore(path: Path, mtime_ns: int, why: str) -> None:
    key = (str(path.resolve()), mtime_ns)
    if key not in _warned:
        _warned.add(key)
        warnings.warn(
            f"backend='auto' ignores {os.fspath(path)}: {why}",
            ResultsFileWarning,
            stacklevel=external_stacklevel(),
        )


@functools.lru_cache(maxsize=8)
def _medians(path: str, mtime_ns: int) -> dict[tuple[str, int, int], dict[str, float]]:
    """Median seconds per optimize iteration: ``{(dtype, n_x, m): {backend: seconds}}``.

    Only rows measured on this machine (same CPU model and core count) with the most
    threads the file holds.  Cached per file version.
    """
    from vecstudy.records.machine import machine_info
    from vecstudy.records.results import load_results

    results = load_results(path)
    here = machine_info()
    runs = {
        r.get("run_id")
        for r in results.runs
        if r.get("machine", {}).get("cpu") == here["cpu"]
        and r.get("machine", {}).get("cores") == here["cores"]
    }
    rows = results.rows
    rows = rows[
        (rows["kind"] == "kernel")
        & (rows["operation"] == "optimize")
        & (rows["status"] == "ok")
        & rows["run_id"].isin(runs)
        & (rows["backend"] != "python")
    ]
    if rows.empty:
        return {}
    rows = rows[rows["threads"] == rows["threads"].max()]
    table: dict[tuple[str, int, int], dict[str, float]] = {}
    grouped = rows.groupby(["dtype", "n_x", "m", "backend"])["seconds"].median()
    for (dtype, n_x, m, backend), seconds in grouped.items():
        table.setdefault((str(dtype), int(n_x), int(m)), {})[str(backend)] = float(seconds)
    return table


def _loads(backend: str) -> bool:
    """Whether registered ``backend`` imports here (its optional dependencies are installed)."""
    try:
        backends.load(backend)
    except (ImportError, TypeError):  # a missing extra, or a plugin that lacks a kernel
        return False
    return True


def _from_results(n_x: int, m: int, dtype: str) -> Choice | None:
    for path in sorted(_results_candidates(), key=lambda p: p.stat().st_mtime_ns, reverse=True):
        try:
            mtime_ns = path.stat().st_mtime_ns
            table = _medians(str(path.resolve()), mtime_ns)
        except OSError:
            continue  # vanished or unreadable: try the next, then the rule
        except (ValueError, KeyError, TypeError) as exc:
            why = bounded(" ".join(str(exc).split()), 300) or type(exc).__name__
            _ignore(path, mtime_ns, why)
            continue  # foreign or malformed file: try the next, then the rule
        registered = set(backends.available_backends())
        usable = {
            key: {b: t for b, t in times.items() if b in registered}
            for key, times in table.items()
            if key[0] == dtype
        }
        shapes = [key for key, times in usable.items() if len(times) >= 2]
        if not shapes:
            continue
        _, sx, sm = min(shapes, key=lambda k: math.hypot(math.log(k[1] / n_x), math.log(k[2] / m)))
        times = usable[(dtype, sx, sm)]
        best = next((b for b in sorted(times, key=times.__getitem__) if _loads(b)), None)
        if best is None:
            continue
        others = ", ".join(
            f"{b} {t * 1e3:.3g} ms" for b, t in sorted(times.items(), key=lambda kv: kv[1])
        )
        return Choice(
            best,
            f"fastest per iteration in {os.fspath(path)} at the nearest measured shape "
            f"{sx}x{sm} {dtype} ({others})",
        )
    return None


def choose_backend(n_x: int, m: int, *, dtype: str = "float64") -> Choice:
    """The backend ``"auto"`` resolves to for an ``(n_x, m)`` problem, with the reason.

    >>> choose_backend(2, 3).value in {"numba", "numpy"}
    True
    """
    measured = _from_results(n_x, m, dtype)
    if measured is not None:
        return measured
    if importlib.util.find_spec("numba") is not None:
        return Choice(
            "numba",
            "built-in rule: no sweep results for this machine; the compiled, fused numba "
            "descent is ahead of numpy at almost every measured shape",
        )
    return Choice("numpy", "built-in rule: numba is not installed")
