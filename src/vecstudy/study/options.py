"""Options of a sweep: names, parsing and validation, defaults, the config file's ``[bench]`` table.

Every value is resolved in this order: the command line (``overrides``), the
``[bench]`` table of the config file, the built-in defaults.  The study and
``vecstudy bench`` share one set of timing defaults (:data:`TIMING_DEFAULTS`);
they differ only in the grid and the output file.
"""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from vecstudy import backends, config
from vecstudy.errors import BenchOptionError as BenchOptionError
from vecstudy.escape import short
from vecstudy.runtime import cores

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

#: Timing settings shared by ``vecstudy bench`` and ``vecstudy study``: 7 interleaved
#: rounds per case, each timing at least 30 ms, at most 5 s per case.
TIMING_DEFAULTS: Final[Mapping[str, object]] = {
    "repeats": 7,
    "min_time": 0.03,
    "budget": 5.0,
    "iterations": 10,
}

#: Why the study runs on one thread unless asked for more (shown in ``--help`` and docs).
ONE_THREAD_WHY: Final = (
    "one thread by default: the question is what vectorization and compilation buy, not "
    "cores; two threads on a shared 2-core machine give noisy timings, and NumPy's BLAS "
    "threads and Numba's threads are not the same thing (run --threads 1,all to see them "
    "apart, in a section of their own)"
)

#: The grid of ``vecstudy study``: about two minutes on a 2-core machine, compilation
#: included.  12288x209 is the course's training set (209 images of 64x64x3); the
#: backends are those that load here (``installed``), on one thread (:data:`ONE_THREAD_WHY`).
STUDY_DEFAULTS: Final[Mapping[str, object]] = {
    "shapes": "10x1000,12288x209,100x10000,1000x10000,1000x100000",
    "backends": "installed",
    "dtypes": "float64,float32",
    "threads": "1",
    **TIMING_DEFAULTS,
    "micro": True,
    "micro_size": 1_000_000,
    "output": "reports/study-results.json",
}

#: Built-in defaults of ``vecstudy bench`` (after options and the config file): the
#: study's grid and timing, appended to ``reports/runs/bench-results.json``.
DEFAULTS: Final[Mapping[str, object]] = {
    **STUDY_DEFAULTS,
    "output": "reports/runs/bench-results.json",
}

#: What one timing is made of; bigger is steadier, slower.
HELP: Final[Mapping[str, str]] = {
    "shapes": "shapes of X, n_x by m, e.g. 10x1000,100x10000",
    "backends": "backends to time; 'installed' = every backend whose dependencies are "
    "installed here ('vecstudy info' lists them), 'all' = every registered one",
    "dtypes": "float64 and/or float32",
    "threads": "thread counts (Numba and BLAS); 'all' = every available core; " + ONE_THREAD_WHY,
    "repeats": "interleaved rounds per case (each gives one raw timing; 'vecstudy compare' "
    "needs 4 or more to call a change significant)",
    "min_time": "seconds one timing lasts at least; sets the loop count (timeit uses 0.2)",
    "budget": "seconds a case may take, estimated before its first call; slower cases "
    "are skipped and recorded",
    "iterations": "length of the timed optimize call",
    "micro": "run the course's micro-studies (dot product, exp loop, broadcasting)",
    "micro_size": "vector length of the micro-studies",
    "output": "results file, appended to if it exists",
}


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
            f"{source}: expected {what} as a comma-separated string or a list, got {short(value)}"
        )
    if not items:
        raise BenchOptionError(
            f"{source}: expected at least one value ({what}), got {short(value)}"
        )
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
                f"{source}: bad shape {short(item)}; expected N_XxM with positive integers, "
                "e.g. '100x10000'"
            )
        shapes.append((dims[0], dims[1]))
    return _dedupe(shapes)


def missing_backends() -> list[tuple[str, str]]:
    """Registered backends whose optional dependencies are not installed: ``(name, extra)``.

    A backend that needs no extra is part of every install; one that does is
    loaded (:func:`vecstudy.backends.load`) to find out.
    """
    missing = []
    for name in backends.available_backends():
        extra = backends.backend_extra(name)
        if extra is None:
            continue
        try:
            backends.load(name)
        except backends.BackendUnavailable:
            missing.append((name, extra))
    return missing


def installed_backends() -> tuple[str, ...]:
    """Registered backends that load here, in registration order (:func:`missing_backends`)."""
    missing = {name for name, _ in missing_backends()}
    return tuple(n for n in backends.available_backends() if n not in missing)


def parse_backends(value: object, source: str) -> tuple[str, ...]:
    """Parse backend names (comma-separated or a list).

    ``"all"`` means every registered backend (one whose dependencies are missing is
    then recorded as skipped, with the command that installs it); ``"installed"``
    every registered backend that loads here (:func:`installed_backends`).
    """
    valid = backends.available_backends()
    names: list[str] = []
    for item in _items(value, source, "backend names"):
        if item == "all":
            names.extend(valid)
        elif item == "installed":
            names.extend(installed_backends())
        elif isinstance(item, str) and item in valid:
            names.append(item)
        else:
            choices = ", ".join(repr(v) for v in (*valid, "all", "installed"))
            raise BenchOptionError(
                f"{source}: unknown backend {short(item)}; valid backends are {choices}"
            )
    return _dedupe(names)


def parse_dtypes(value: object, source: str) -> tuple[str, ...]:
    """Parse dtype names: ``float64`` and/or ``float32``."""
    valid = ("float64", "float32")
    names = []
    for item in _items(value, source, "dtypes"):
        if item not in valid:
            raise BenchOptionError(
                f"{source}: unknown dtype {short(item)}; valid dtypes are 'float64', 'float32'"
            )
        names.append(str(item))
    return _dedupe(names)


def parse_threads(value: object, source: str) -> tuple[int, ...]:
    """Parse thread counts: positive integers and/or ``"all"`` (every available core)."""
    counts = []
    for item in _items(value if not isinstance(value, int) else [value], source, "thread counts"):
        n = cores.available_cores() if item == "all" else _positive_int(item)
        if n is None:
            raise BenchOptionError(
                f"{source}: bad thread count {short(item)}; expected a positive integer or 'all'"
            )
        counts.append(n)
    return _dedupe(counts)


def _parse_int(value: object, source: str) -> int:
    n = _positive_int(value)
    if n is None:
        raise BenchOptionError(f"{source}: expected a positive integer, got {short(value)}")
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
        raise BenchOptionError(
            f"{source}: expected a positive number of seconds, got {short(value)}"
        )
    return x


def _parse_bool(value: object, source: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "yes", "1", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"false", "no", "0", "off"}:
        return False
    raise BenchOptionError(f"{source}: expected true or false, got {short(value)}")


def _parse_output(value: object, source: str) -> Path:
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        raise BenchOptionError(f"{source}: expected a file path, got {short(value)}")
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


def _file_table(use_file: bool) -> config.FileTable | None:
    """The ``[bench]`` table of the config file, checked for unknown keys (None: not read)."""
    if not use_file:
        return None
    table, path = config.file_section("bench")
    name = "[tool.vecstudy.bench]" if path and Path(path).name == "pyproject.toml" else "[bench]"
    unknown = sorted(set(table) - set(VALID_KEYS))
    if unknown:
        raise BenchOptionError(
            f"config file {path}: unknown key {short(unknown[0])} in table {name}; "
            f"valid keys are {', '.join(VALID_KEYS)}"
        )
    return config.FileTable(table, lambda key: f"config file {path}, key {key!r} of {name}")


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
            f"unknown option {short(unknown[0])}; valid options are {', '.join(VALID_KEYS)}"
        )
    table = _file_table(use_file)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in VALID_KEYS:
        choice = config.resolve_setting(
            check=_PARSERS[key],
            default=config.Choice(defaults[key], f"default {option_name(key)}"),
            argument=overrides.get(key),
            argument_source=f"option {option_name(key)}",
            file=lambda: table,
            file_key=key,
            check_default=True,
        )
        values[key], sources[key] = choice.value, choice.source
    return BenchOptions(**values, sources=sources)
