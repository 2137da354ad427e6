"""The speed study's sweep: timings -> tidy rows (pandas).

For every backend x shape x dtype x thread setting the sweep times one gradient
step (``propagate``) and one iteration of ``optimize``; for every shape it also
measures the machine's read bandwidth over an array of the same byte size as
``X``; and it runs the course's micro-studies (a dot product and an elementwise
``exp`` as a Python loop, with NumPy, and as a compiled loop).

Method
------
Each *case* (one operation of one backend on one shape, dtype and thread
setting) is:

1. warmed up on a small problem of the same dtype (this is where Numba
   compiles; the time is kept in column ``warmup_s`` but is never part of a
   measurement);
2. estimated: a second small call, scaled by the ratio of work, predicts the
   case's total time; a case predicted to exceed ``budget`` seconds is recorded
   as ``status == "skipped"`` with the reason, and not run;
3. called once on the full problem (warm-up and a better estimate, checked
   against the budget again);
4. calibrated with :meth:`timeit.Timer.autorange` (the loop count is chosen so
   that one timing lasts at least 0.2 s) and timed ``repeats`` times.

Each timing becomes one row (``repeat`` = 0, 1, ...), holding seconds per
step (``propagate``), per iteration (``optimize``), per pass over the array
(``read``) or per call (micro-studies ``dot`` and ``exp``).

Results file
------------
A JSON document ``{"format", "runs", "rows"}``: ``runs`` holds one entry per
sweep (options, the command that reproduces it, machine information); ``rows``
holds the tidy rows of every run (column ``run_id`` says which).  A sweep
appends to an existing file and rewrites it after every case, atomically (a
temporary file in the same directory, then :func:`os.replace`), so an
interrupted sweep keeps every finished case and never leaves a half-written
file.

Conventions
-----------
``X`` is ``(n_x, m)`` C-contiguous, ``w`` is ``(n_x,)``, ``Y`` is ``(m,)``, all
in one dtype; ``bytes_x = n_x * m * itemsize``.  For micro-studies ``n_x = 1``
and ``m`` is the vector length.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.metadata
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import timeit
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from vecstudy import backends
from vecstudy.config import available_cores

#: Identifies the results file layout; bumped when columns change incompatibly.
FORMAT: Final = "vecstudy-bench-results/1"

#: Columns of every row, in order.
COLUMNS: Final = (
    "run_id",
    "kind",  # "kernel", "bandwidth" or "micro"
    "operation",  # "propagate", "optimize", "read", "dot", "exp"
    "backend",  # "python", "numba", "numpy"
    "dtype",
    "threads",  # requested thread count
    "blas_threads",  # BLAS threads in force during the case (None if unknown)
    "numba_threads",  # Numba threads in force during the case (None if numba unused)
    "n_x",
    "m",
    "bytes_x",
    "repeat",
    "seconds",  # per step / iteration / pass / call; None when skipped
    "loops",  # calls per timing, chosen by autorange
    "warmup_s",  # first call on the small problem (includes compilation)
    "status",  # "ok" or "skipped"
    "reason",  # why skipped ("" when ok)
)

#: Keys of the ``[bench]`` config table (and the matching ``vecstudy bench`` options).
VALID_KEYS: Final = (
    "shapes",
    "backends",
    "dtypes",
    "threads",
    "repeats",
    "min_time",
    "budget",
    "iterations",
    "micro",
    "micro_size",
    "output",
)

#: Built-in defaults of ``vecstudy bench`` (after options and the config file).
DEFAULTS: Final[Mapping[str, object]] = {
    "shapes": "10x1000,100x1000,100x10000,1000x10000,1000x100000",
    "backends": "all",
    "dtypes": "float64,float32",
    "threads": "1,all",
    "repeats": 7,
    "min_time": 0.2,
    "budget": 20.0,
    "iterations": 10,
    "micro": True,
    "micro_size": 1_000_000,
    "output": "reports/bench-results.json",
}

#: The grid of ``vecstudy study``: about two minutes on a 2-core machine, compilation included.
STUDY_DEFAULTS: Final[Mapping[str, object]] = {
    "shapes": "10x1000,100x10000,1000x10000,1000x100000",
    "backends": "all",
    "dtypes": "float64,float32",
    "threads": "1,all",
    "repeats": 5,
    "min_time": 0.05,
    "budget": 5.0,
    "iterations": 10,
    "micro": True,
    "micro_size": 1_000_000,
    "output": "reports/study-results.json",
}

LEARNING_RATE: Final = 0.005
RECORD_EVERY: Final = 100
SEED: Final = 0
#: Elements of the small problem used for warm-up and for the time estimate.
SMALL_ELEMENTS: Final = 50_000
#: Length of the small vectors used for the micro-studies' warm-up and estimate.
SMALL_MICRO: Final = 10_000
#: A call on a smaller problem lasting this long predicts the full call's time well.
LADDER_S: Final = 0.05

Array = NDArray[np.floating[Any]]
Row = dict[str, Any]


class BenchOptionError(ValueError):
    """An option of the sweep (command line or config file) has a bad name or value."""


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep; every finished case is already saved.

    Attributes
    ----------
    path : Path
        The results file.
    rows_kept : int
        Rows of this run saved before the interrupt.
    total_rows : int
        Rows in the file (all runs).
    """

    def __init__(self, path: Path, rows_kept: int, total_rows: int) -> None:
        super().__init__(f"interrupted; kept {rows_kept} rows of this run in {path}")
        self.path = path
        self.rows_kept = rows_kept
        self.total_rows = total_rows


# --------------------------------------------------------------------------- options
@dataclass(frozen=True)
class BenchOptions:
    """Resolved, validated options of one sweep.

    Attributes
    ----------
    shapes : tuple of (n_x, m)
        Problem shapes; ``X`` is ``(n_x, m)``.
    backends : tuple of str
        Backend names from :func:`vecstudy.backends.available_backends`.
    dtypes : tuple of str
        ``"float64"`` and/or ``"float32"``.
    threads : tuple of int
        Thread counts (Numba and BLAS) to run each case under.
    repeats : int
        Timings per case.
    min_time : float
        Seconds one timing lasts at least: the loop count is the first of
        1, 2, 5, 10, 20, 50, ... calls that takes this long (0.2 s is what
        :meth:`timeit.Timer.autorange` uses).
    budget : float
        Seconds a case may take; longer cases are skipped and recorded.
    iterations : int
        Length of the timed ``optimize`` call (time is reported per iteration).
    micro : bool
        Whether to run the course's micro-studies (dot product, exp loop).
    micro_size : int
        Vector length of the micro-studies (the course used 1,000,000).
    output : Path
        The results file (JSON); appended to if it exists.
    sources : dict
        Where each value came from (option, config file or default).
    """

    shapes: tuple[tuple[int, int], ...]
    backends: tuple[str, ...]
    dtypes: tuple[str, ...]
    threads: tuple[int, ...]
    repeats: int
    min_time: float
    budget: float
    iterations: int
    micro: bool
    micro_size: int
    output: Path
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    def command(self) -> str:
        """The ``vecstudy bench`` command line that repeats this sweep, every option spelled out."""
        args = [
            "vecstudy",
            "bench",
            "--shapes",
            ",".join(f"{n}x{m}" for n, m in self.shapes),
            "--backends",
            ",".join(self.backends),
            "--dtypes",
            ",".join(self.dtypes),
            "--threads",
            ",".join(str(t) for t in self.threads),
            "--repeats",
            str(self.repeats),
            "--min-time",
            f"{self.min_time:g}",
            "--budget",
            f"{self.budget:g}",
            "--iterations",
            str(self.iterations),
            "--micro" if self.micro else "--no-micro",
            "--micro-size",
            str(self.micro_size),
            "--output",
            str(self.output),
        ]
        return shlex.join(args)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view of the options."""
        d = asdict(self)
        d["shapes"] = [f"{n}x{m}" for n, m in self.shapes]
        d["output"] = str(self.output)
        for key in ("backends", "dtypes", "threads"):
            d[key] = list(d[key])
        return d


def option_name(key: str) -> str:
    """The command-line spelling of config key ``key`` (``micro_size`` -> ``--micro-size``)."""
    return "--" + key.replace("_", "-")


def _items(value: object, source: str, what: str) -> list[object]:
    """Split a comma-separated string, or accept a list/tuple; else raise."""
    if isinstance(value, str):
        items: list[object] = [s.strip() for s in value.split(",") if s.strip()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise BenchOptionError(
            f"{source}: expected {what} as a comma-separated string or a list, got {value!r}"
        )
    if not items:
        raise BenchOptionError(f"{source}: expected at least one value ({what}), got {value!r}")
    return items


def _dedupe(values: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(values))


def _positive_int(item: object) -> int | None:
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return item if item >= 1 else None
    if isinstance(item, str) and item.strip().isdigit():
        n = int(item.strip())
        return n if n >= 1 else None
    return None


def parse_shapes(value: object, source: str) -> tuple[tuple[int, int], ...]:
    """Parse ``"10x1000,100x10000"`` (or a list of such strings or of ``[n_x, m]`` pairs)."""
    shapes = []
    for item in _items(value, source, "shapes like '10x1000'"):
        parts: Sequence[object]
        if isinstance(item, str):
            parts = item.lower().split("x")
        elif isinstance(item, list | tuple):
            parts = item
        else:
            parts = []
        dims = [_positive_int(p) for p in parts]
        if len(dims) != 2 or dims[0] is None or dims[1] is None:
            raise BenchOptionError(
                f"{source}: bad shape {item!r}; expected N_XxM with positive integers, "
                "e.g. '100x10000'"
            )
        shapes.append((dims[0], dims[1]))
    return _dedupe(shapes)


def parse_backends(value: object, source: str) -> tuple[str, ...]:
    """Parse backend names (comma-separated or a list); ``"all"`` means every registered one."""
    valid = backends.available_backends()
    names: list[str] = []
    for item in _items(value, source, "backend names"):
        if item == "all":
            names.extend(valid)
        elif isinstance(item, str) and item in valid:
            names.append(item)
        else:
            choices = ", ".join(repr(v) for v in (*valid, "all"))
            raise BenchOptionError(
                f"{source}: unknown backend {item!r}; valid backends are {choices}"
            )
    return _dedupe(names)


def parse_dtypes(value: object, source: str) -> tuple[str, ...]:
    """Parse dtype names: ``float64`` and/or ``float32``."""
    valid = ("float64", "float32")
    names = []
    for item in _items(value, source, "dtypes"):
        if item not in valid:
            raise BenchOptionError(
                f"{source}: unknown dtype {item!r}; valid dtypes are 'float64', 'float32'"
            )
        names.append(str(item))
    return _dedupe(names)


def all_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    return available_cores()


def parse_threads(value: object, source: str) -> tuple[int, ...]:
    """Parse thread counts: positive integers and/or ``"all"`` (every available core)."""
    counts = []
    for item in _items(value if not isinstance(value, int) else [value], source, "thread counts"):
        n = all_cores() if item == "all" else _positive_int(item)
        if n is None:
            raise BenchOptionError(
                f"{source}: bad thread count {item!r}; expected a positive integer or 'all'"
            )
        counts.append(n)
    return _dedupe(counts)


def _parse_int(value: object, source: str) -> int:
    n = _positive_int(value)
    if n is None:
        raise BenchOptionError(f"{source}: expected a positive integer, got {value!r}")
    return n


def _parse_float(value: object, source: str) -> float:
    if isinstance(value, bool):
        x = math.nan
    else:
        try:
            x = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            x = math.nan
    if not (math.isfinite(x) and x > 0):
        raise BenchOptionError(f"{source}: expected a positive number of seconds, got {value!r}")
    return x


def _parse_bool(value: object, source: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "yes", "1", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"false", "no", "0", "off"}:
        return False
    raise BenchOptionError(f"{source}: expected true or false, got {value!r}")


def _parse_output(value: object, source: str) -> Path:
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        raise BenchOptionError(f"{source}: expected a file path, got {value!r}")
    return Path(value)


_PARSERS: Final[Mapping[str, Callable[[object, str], Any]]] = {
    "shapes": parse_shapes,
    "backends": parse_backends,
    "dtypes": parse_dtypes,
    "threads": parse_threads,
    "repeats": _parse_int,
    "min_time": _parse_float,
    "budget": _parse_float,
    "iterations": _parse_int,
    "micro": _parse_bool,
    "micro_size": _parse_int,
    "output": _parse_output,
}


def _file_table(use_file: bool) -> tuple[dict[str, Any], str | None, str]:
    """The ``[bench]`` table of the config file, its path, and how to name the table."""
    if not use_file:
        return {}, None, ""
    from vecstudy import config

    table, path = config.file_section("bench")
    name = "[tool.vecstudy.bench]" if path and Path(path).name == "pyproject.toml" else "[bench]"
    unknown = sorted(set(table) - set(VALID_KEYS))
    if unknown:
        raise BenchOptionError(
            f"config file {path}: unknown key {unknown[0]!r} in table {name}; "
            f"valid keys are {', '.join(VALID_KEYS)}"
        )
    return table, path, name


def resolve_options(
    overrides: Mapping[str, object] | None = None,
    *,
    defaults: Mapping[str, object] = DEFAULTS,
    use_file: bool = True,
) -> BenchOptions:
    """Resolve every sweep option: ``overrides`` (command line), then config file, then defaults.

    Parameters
    ----------
    overrides : mapping, optional
        Values given on the command line, keyed like :data:`VALID_KEYS`; ``None``
        values are ignored.
    defaults : mapping
        Built-in defaults (:data:`DEFAULTS` or :data:`STUDY_DEFAULTS`).
    use_file : bool
        Whether to read the ``[bench]`` table of the config file.

    Raises
    ------
    BenchOptionError
        For an unknown key or a bad value; the message names the option (or the
        file and key) and what was expected.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(VALID_KEYS))
    if unknown:
        raise BenchOptionError(
            f"unknown option {unknown[0]!r}; valid options are {', '.join(VALID_KEYS)}"
        )
    table, path, table_name = _file_table(use_file)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in VALID_KEYS:
        if overrides.get(key) is not None:
            raw, source = overrides[key], f"option {option_name(key)}"
        elif key in table:
            raw, source = table[key], f"config file {path}, key {key!r} of {table_name}"
        else:
            raw, source = defaults[key], f"default {option_name(key)}"
        values[key] = _PARSERS[key](raw, source)
        sources[key] = source
    return BenchOptions(**values, sources=sources)


# --------------------------------------------------------------------------- data
def make_data(n_x: int, m: int, dtype: str, seed: int = SEED) -> tuple[Array, float, Array, Array]:
    """Seeded problem ``(w, b, X, Y)``: ``X ~ N(0, 1)``, labels drawn from a logistic model.

    ``w`` is zero and ``b`` is 0.0, as the course initializes them; ``X`` is
    C-contiguous ``(n_x, m)`` and ``Y`` is ``(m,)`` of 0.0 / 1.0, all in ``dtype``.
    """
    rng = np.random.default_rng(seed)
    X: Array = rng.standard_normal((n_x, m)).astype(dtype)
    w_true: Array = (rng.standard_normal(n_x) / math.sqrt(n_x)).astype(dtype)
    z = w_true @ X
    p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
    Y = (rng.random(m) < p).astype(X.dtype)
    return np.zeros(n_x, dtype=X.dtype), 0.0, np.ascontiguousarray(X), Y


# --------------------------------------------------------------------------- micro-studies
def dot_loop_python(a: Array, b: Array) -> float:
    """Dot product as the course's explicit loop over NumPy arrays (``c += a[i] * b[i]``)."""
    c = 0.0
    for i in range(len(a)):
        c += a[i] * b[i]
    return float(c)


def exp_loop_python(v: Array) -> Array:
    """Elementwise exp as the course's loop: ``u[i] = math.exp(v[i])``."""
    u = np.zeros(len(v))
    for i in range(len(v)):
        u[i] = math.exp(v[i])
    return u


def dot_numpy(a: Array, b: Array) -> float:
    """Dot product with :func:`numpy.dot`."""
    return float(np.dot(a, b))


def exp_numpy(v: Array) -> Array:
    """Elementwise exp with :func:`numpy.exp`."""
    return np.exp(v)


def read_numpy(a: Array) -> float:
    """Read every element once with :func:`numpy.sum` (single-threaded)."""
    return float(np.sum(a))


# --------------------------------------------------------------------------- machine
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
    """:func:`vecstudy.threads.thread_info`, or the error it raised (never raises)."""
    try:
        from vecstudy.threads import thread_info

        return dict(thread_info())
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def _threads_in_force() -> tuple[int | None, int | None]:
    """(BLAS threads, Numba threads) in force now; None where unknown."""
    info = thread_state()
    blas = [
        lib.get("threads")
        for lib in info.get("blas", [])
        if isinstance(lib, dict) and lib.get("user_api", "blas") == "blas"
    ]
    blas_n = max((b for b in blas if isinstance(b, int)), default=None)
    numba_n = info.get("numba_threads")
    return blas_n, numba_n if isinstance(numba_n, int) else None


def _load_average() -> float | None:
    """The 1-minute load average (other processes competing for the cores), or None."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):  # pragma: no cover - not on Unix
        return None


def machine_info() -> dict[str, Any]:
    """What the reader needs to judge the timings: CPU, cores, versions, BLAS, threads, OS, time."""
    try:
        import vecstudy

        version = getattr(vecstudy, "__version__", None) or _version("vecstudy")
    except ImportError:  # pragma: no cover - bench is part of vecstudy
        version = None
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        mem = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_available": all_cores(),
        "memory_gib": None if mem is None else round(mem, 1),
        "os": platform.platform(),
        "hostname": platform.node(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": np.__version__,
        "numba": _version("numba"),
        "pandas": pd.__version__,
        "vecstudy": version,
        "git_commit": git_commit(),
        "timestamp": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "load_average": _load_average(),
        "threads": thread_state(),
    }


# --------------------------------------------------------------------------- results file
def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and :func:`os.replace`.

    Readers see the old file or the new one, never a partial one; on any error
    (including Ctrl-C) the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _clean(value: Any) -> Any:
    """JSON-ready scalar: NumPy scalars to Python, NaN to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _read_document(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ValueError(f"results file {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"results file {path} has format {found!r}; expected {FORMAT!r}")
    rows = doc.get("rows")
    if not isinstance(rows, list) or not isinstance(doc.get("runs"), list):
        raise ValueError(f"results file {path} lacks the 'runs' and 'rows' lists")
    for row in rows[:1]:
        if not isinstance(row, dict) or tuple(row) != COLUMNS:
            found_cols = list(row) if isinstance(row, dict) else row
            raise ValueError(
                f"results file {path} has columns {found_cols}; expected {list(COLUMNS)}"
            )
    return doc


@dataclass
class Results:
    """A results file, loaded: ``rows`` (tidy DataFrame with :data:`COLUMNS`) and ``runs``."""

    path: Path
    rows: pd.DataFrame
    runs: list[dict[str, Any]]


def load_results(path: str | os.PathLike[str]) -> Results:
    """Load a results file written by :func:`run_sweep`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If it is not a results file of this format.
    """
    path = Path(path)
    doc = _read_document(path)
    rows = pd.DataFrame.from_records(doc["rows"], columns=list(COLUMNS))
    for col in ("seconds", "warmup_s"):
        rows[col] = pd.to_numeric(rows[col], errors="coerce").astype(float)
    return Results(path=path, rows=rows, runs=list(doc["runs"]))


class _ResultsWriter:
    """Holds the results document in memory and rewrites the file atomically after each case."""

    def __init__(self, path: Path, run: dict[str, Any], *, append: bool) -> None:
        self.path = path
        if append and path.exists():
            self.doc = _read_document(path)
        else:
            self.doc = {"format": FORMAT, "runs": [], "rows": []}
        self.run = run
        self.doc["runs"].append(run)
        self.rows_this_run = 0

    @property
    def total_rows(self) -> int:
        return len(self.doc["rows"])

    def add(self, rows: Sequence[Row]) -> None:
        """Append the rows of one finished case and save."""
        for row in rows:
            self.doc["rows"].append({c: _clean(row.get(c)) for c in COLUMNS})
        self.rows_this_run += len(rows)
        self.save()

    def save(self) -> None:
        self.run["rows"] = self.rows_this_run
        text = json.dumps(self.doc, indent=1, allow_nan=False)
        atomic_write_text(self.path, text + "\n")


# --------------------------------------------------------------------------- timing
def autorange(timer: timeit.Timer, min_time: float) -> int:
    """The loop count :meth:`timeit.Timer.autorange` would choose, for a target of ``min_time`` s.

    Tries 1, 2, 5, 10, 20, 50, ... calls and returns the first count whose
    timing lasts at least ``min_time`` seconds (timeit's own method uses 0.2 s).
    """
    i = 1
    while True:
        for j in (1, 2, 5):
            number = i * j
            if timer.timeit(number) >= min_time:
                return number
        i *= 10


def _measure(fn: Callable[[], object], repeats: int, min_time: float) -> tuple[list[float], int]:
    """Seconds per call of ``fn``, ``repeats`` times, and the loop count autorange chose."""
    timer = timeit.Timer(fn)
    loops = autorange(timer, min_time)
    totals = timer.repeat(repeat=repeats, number=loops)
    return [t / loops for t in totals], loops


def _time_once(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _predicted_case_s(call_s: float, options: BenchOptions) -> float:
    """Predicted duration of calibration plus the timings of a call lasting ``call_s``."""
    return (options.repeats + 2.5) * max(options.min_time, call_s)


@dataclass(frozen=True)
class _Case:
    """One operation of one backend on one shape, dtype and thread setting."""

    kind: str
    operation: str
    backend: str
    dtype: str
    threads: int
    n_x: int
    m: int

    @property
    def label(self) -> str:
        return f"{self.operation} {self.backend} {self.n_x}x{self.m} {self.dtype} t={self.threads}"


@dataclass(frozen=True)
class _Outcome:
    seconds: list[float]
    loops: int | None
    warmup_s: float | None
    reason: str


def _skip_reason(what: str, call_s: float, options: BenchOptions) -> str:
    predicted = _predicted_case_s(call_s, options)
    return (
        f"predicted {predicted:.3g} s > budget {options.budget:g} s "
        f"(one call {what} {call_s:.3g} s)"
    )


def _timed_case(
    full: Callable[[], object],
    make_small: Callable[[int], Callable[[], object]],
    full_size: int,
    small_size: int,
    per_call: int,
    options: BenchOptions,
) -> _Outcome:
    """Warm up, check the budget, then time ``full``; seconds are per ``per_call`` units.

    ``make_small(n)`` returns a call on a problem of size ``n`` (columns or
    elements; ``full`` has ``full_size``).  The first small call is the warm-up
    (compilation).  Then calls on problems 8 times larger each, starting at
    ``small_size``, predict the full call by scaling their time with the size.
    That overestimates while fixed costs dominate (waking threads on a busy
    machine can take milliseconds), so the ladder goes on until the prediction
    fits the budget, or the time grows with the size (a call lasting
    :data:`LADDER_S` and 4 times the previous one), or the next problem would be
    the full one.  A case then predicted to take over 1.5 times the budget is
    skipped at once; otherwise the time of a first full call decides.
    """
    if small_size >= full_size:
        warmup_s = _time_once(full)
        call_s = min(_time_once(full), _time_once(full))
        if _predicted_case_s(call_s, options) > options.budget:
            return _Outcome([], None, warmup_s, _skip_reason("took", call_s, options))
    else:
        warmup_s = _time_once(make_small(small_size))  # includes compilation
        size, est_call, previous = small_size, 0.0, math.inf
        while size < full_size:
            t = _time_once(make_small(size))
            est_call = t * full_size / size  # pessimistic: scales the fixed costs too
            if _predicted_case_s(est_call, options) <= 1.5 * options.budget:
                break  # fits even so
            if t >= options.budget / 4 or (t >= LADDER_S and t >= 4 * previous):
                break  # the cost now grows with the size: a trustworthy prediction
            previous, size = t, size * 8
        if _predicted_case_s(est_call, options) > 1.5 * options.budget:
            reason = _skip_reason("estimated at", est_call, options)
            return _Outcome([], None, warmup_s, f"{reason} from a smaller problem")
        call_s = _time_once(full)
        if _predicted_case_s(call_s, options) > options.budget:
            return _Outcome([], None, warmup_s, _skip_reason("took", call_s, options))
    seconds, loops = _measure(full, options.repeats, options.min_time)
    return _Outcome([s / per_call for s in seconds], loops, warmup_s, "")


def _rows(case: _Case, outcome: _Outcome, run_id: str, itemsize: int) -> list[Row]:
    blas_n, numba_n = _threads_in_force()
    base: Row = {
        "run_id": run_id,
        "kind": case.kind,
        "operation": case.operation,
        "backend": case.backend,
        "dtype": case.dtype,
        "threads": case.threads,
        "blas_threads": blas_n,
        "numba_threads": numba_n,
        "n_x": case.n_x,
        "m": case.m,
        "bytes_x": case.n_x * case.m * itemsize,
        "loops": outcome.loops,
        "warmup_s": outcome.warmup_s,
    }
    if outcome.reason:
        return [
            {**base, "repeat": 0, "seconds": None, "status": "skipped", "reason": outcome.reason}
        ]
    return [
        {**base, "repeat": i, "seconds": s, "status": "ok", "reason": ""}
        for i, s in enumerate(outcome.seconds)
    ]


_MICRO: Final[Mapping[tuple[str, str], Callable[..., object]]] = {
    ("python", "dot"): dot_loop_python,
    ("python", "exp"): exp_loop_python,
    ("numpy", "dot"): dot_numpy,
    ("numpy", "exp"): exp_numpy,
}


class _Sweep:
    """Plans the cases of a sweep and runs them one by one."""

    def __init__(self, options: BenchOptions, run_id: str) -> None:
        self.options = options
        self.run_id = run_id
        self.modules: dict[str, ModuleType | str] = {}
        for name in {*options.backends, "numba", "numpy"}:
            try:
                self.modules[name] = backends.load(name)
            except Exception as exc:
                self.modules[name] = f"backend {name!r} failed to load: {type(exc).__name__}: {exc}"
        self.data: dict[tuple[int, int, str], tuple[Array, float, Array, Array]] = {}

    def _module(self, name: str) -> ModuleType | str:
        return self.modules[name]

    def plan(self) -> list[_Case]:
        """Every case, shape by shape (so that one shape's data is built once and then freed)."""
        o = self.options
        first_threads = o.threads[0]
        cases: list[_Case] = []
        for n_x, m in o.shapes:
            for dtype in o.dtypes:
                for threads in o.threads:
                    cases.append(
                        _Case("bandwidth", "read", self._read_backend(), dtype, threads, n_x, m)
                    )
                    for name in o.backends:
                        if name == "python" and threads != first_threads:
                            continue  # pure Python runs on one thread: timed once
                        for op in ("propagate", "optimize"):
                            cases.append(_Case("kernel", op, name, dtype, threads, n_x, m))
        if o.micro:
            for threads in o.threads:
                for op in ("dot", "exp"):
                    for name in ("python", "numpy", "numba"):
                        if name == "python" and threads != first_threads:
                            continue
                        cases.append(_Case("micro", op, name, "float64", threads, 1, o.micro_size))
        return cases

    def _read_backend(self) -> str:
        mod = self.modules.get("numba")
        return "numba" if isinstance(mod, ModuleType) and hasattr(mod, "read_sum") else "numpy"

    def _problem(self, n_x: int, m: int, dtype: str) -> tuple[Array, float, Array, Array]:
        key = (n_x, m, dtype)
        if key not in self.data:
            self.data = {k: v for k, v in self.data.items() if k[:2] == (n_x, m)}
            self.data[key] = make_data(n_x, m, dtype)
        return self.data[key]

    def run(self, case: _Case) -> list[Row]:
        """Time one case (inside its thread setting) and return its rows."""
        from vecstudy.threads import limit_threads

        itemsize = np.dtype(case.dtype).itemsize
        with limit_threads(case.threads):
            if case.kind == "kernel":
                outcome = self._kernel(case)
            elif case.kind == "bandwidth":
                outcome = self._bandwidth(case)
            else:
                outcome = self._micro(case)
            return _rows(case, outcome, self.run_id, itemsize)

    def _kernel(self, case: _Case) -> _Outcome:
        mod = self._module(case.backend)
        if isinstance(mod, str):
            return _Outcome([], None, None, mod)
        w, b, X, Y = self._problem(case.n_x, case.m, case.dtype)
        o = self.options
        if case.operation == "propagate":

            def small(m: int) -> Callable[[], object]:
                sX, sY = np.ascontiguousarray(X[:, :m]), Y[:m].copy()
                return lambda: mod.propagate(w, b, sX, sY)

            full: Callable[[], object] = lambda: mod.propagate(w, b, X, Y)  # noqa: E731
            per_call = 1
        else:
            args = (o.iterations, LEARNING_RATE, RECORD_EVERY)

            def small(m: int) -> Callable[[], object]:
                sX, sY = np.ascontiguousarray(X[:, :m]), Y[:m].copy()
                return lambda: mod.optimize(w, b, sX, sY, *args)

            full = lambda: mod.optimize(w, b, X, Y, *args)  # noqa: E731
            per_call = o.iterations
        m_small = max(4, SMALL_ELEMENTS // case.n_x)
        return _timed_case(full, small, case.m, m_small, per_call, o)

    def _bandwidth(self, case: _Case) -> _Outcome:
        mod = self._module("numba")
        read: Callable[[Array], object]
        if case.backend == "numba" and isinstance(mod, ModuleType):
            read = mod.read_sum
        else:
            read = read_numpy
        _, _, X, _ = self._problem(case.n_x, case.m, case.dtype)
        flat = X.reshape(-1)

        def small(n: int) -> Callable[[], object]:
            part = np.ascontiguousarray(flat[:n])
            return lambda: read(part)

        return _timed_case(lambda: read(flat), small, flat.size, SMALL_MICRO, 1, self.options)

    def _micro(self, case: _Case) -> _Outcome:
        fn: Callable[..., object]
        dot = case.operation == "dot"
        if case.backend in ("python", "numpy"):
            fn = _MICRO[case.backend, case.operation]
        else:
            mod = self._module("numba")
            attr = "dot_loop" if case.operation == "dot" else "exp_loop"
            if isinstance(mod, str):
                return _Outcome([], None, None, mod)
            if not callable(getattr(mod, attr, None)):
                return _Outcome([], None, None, f"the numba backend has no {attr}()")
            fn = getattr(mod, attr)
        rng = np.random.default_rng(SEED)
        a, c = rng.random(case.m), rng.random(case.m)

        def small(n: int) -> Callable[[], object]:
            sa, sc = a[:n].copy(), c[:n].copy()
            return (lambda: fn(sa, sc)) if dot else (lambda: fn(sa))

        full = (lambda: fn(a, c)) if dot else (lambda: fn(a))
        return _timed_case(full, small, case.m, SMALL_MICRO, 1, self.options)


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total, unit="case", desc="vecstudy bench", disable=not enabled, file=sys.stderr
    )


@dataclass(frozen=True)
class SweepResult:
    """What a finished sweep wrote.

    Attributes
    ----------
    path : Path
        The results file.
    run_id : str
        The ``run_id`` of this sweep's rows.
    rows : int
        Rows this sweep added.
    skipped : int
        Cases of this sweep recorded as skipped.
    total_rows : int
        Rows in the file (every run).
    """

    path: Path
    run_id: str
    rows: int
    skipped: int
    total_rows: int


def run_sweep(
    options: BenchOptions,
    *,
    progress: bool = True,
    append: bool = True,
    command: str | None = None,
) -> SweepResult:
    """Run the sweep described by ``options``, saving the results file after every case.

    Parameters
    ----------
    options : BenchOptions
        From :func:`resolve_options`.
    progress : bool
        Show a progress bar (tqdm, on stderr).
    append : bool
        Append to ``options.output`` if it exists (it must have the same format
        and columns); otherwise start a new file.
    command : str, optional
        The command that reproduces the sweep, stored with the run; defaults to
        :meth:`BenchOptions.command`.

    Returns
    -------
    SweepResult

    Raises
    ------
    SweepInterrupted
        On Ctrl-C; the file then holds every case finished before it.
    ValueError
        If ``options.output`` exists and is not a results file of this format.
    """
    run_id = uuid.uuid4().hex[:12]
    run: dict[str, Any] = {
        "run_id": run_id,
        "command": command or options.command(),
        "options": options.as_dict(),
        "sources": dict(options.sources),
        "machine": machine_info(),
        "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "finished": None,
        "status": "running",
        "rows": 0,
    }
    writer = _ResultsWriter(options.output, run, append=append)
    sweep = _Sweep(options, run_id)
    cases = sweep.plan()
    writer.save()
    skipped = 0
    bar = _progress(len(cases), progress)
    try:
        for case in cases:
            bar.set_postfix_str(case.label, refresh=False)
            rows = sweep.run(case)
            skipped += any(r["status"] == "skipped" for r in rows)
            writer.add(rows)
            bar.update(1)
    except KeyboardInterrupt:
        bar.close()
        run["status"] = "interrupted"
        run["finished"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        with contextlib.suppress(KeyboardInterrupt):
            writer.save()
        raise SweepInterrupted(options.output, writer.rows_this_run, writer.total_rows) from None
    bar.close()
    run["status"] = "complete"
    run["finished"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    run["load_average_end"] = _load_average()
    run["machine"]["threads"] = thread_state()  # numba's threading layer is known only now
    writer.save()
    return SweepResult(options.output, run_id, writer.rows_this_run, skipped, writer.total_rows)
