"""The study from Python: :func:`compare_backends` on your data, :func:`study` on the grid.

Both reuse the sweep (:mod:`vecstudy.study.sweep`): warm-up outside the timing,
the budget checked before any full call, autorange, interleaved rounds, every raw
timing saved after each round; and both return a
:class:`~vecstudy.study.view.StudyResult` (a tidy frame, a table, a figure,
files).  ``vecstudy study`` on the command line calls :func:`study`.

Progress and notices
--------------------
The progress bar is :mod:`tqdm.auto`'s: a widget in a Jupyter notebook with
ipywidgets, text on stderr otherwise.  Numba compiles on first use (about 10 s
cold) and says so in an INFO line of logger ``vecstudy``
(:func:`vecstudy.api.announce_compile`).  Python shows no INFO line unless
logging is configured, so while these functions run with ``progress=True`` and
nothing handles logger ``vecstudy``'s records, they show its INFO lines
themselves, written on stderr through tqdm (above the bar, never inside it).
Configure logging yourself and they leave it alone.

Ctrl-C
------
Every finished timing is kept: the call raises :class:`StudyInterrupted` (a
``KeyboardInterrupt``), whose ``result`` holds them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from vecstudy.study.sweep import Case, Sweep, SweepInterrupted

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from vecstudy.study.options import BenchOptions
    from vecstudy.study.timing import Prepared
    from vecstudy.study.view import StudyResult

#: Backends that :func:`compare_backends` leaves out unless named: the dask backend
#: scatters X to a cluster on every call, which in-memory data on one machine does
#: not need (it is for data larger than memory, or several machines).
NOT_A_SPEED_PEER: Final = frozenset({"dask"})
#: How often a Python-loop case over the budget is retried on fewer columns.
MAX_PROBES: Final = 3


class StudyInterrupted(SweepInterrupted):
    """Ctrl-C during :func:`compare_backends` or :func:`study`.

    Attributes
    ----------
    result : StudyResult
        The timings finished before the interrupt (``result.status ==
        "interrupted"``); ``path``, ``rows_kept`` and ``total_rows`` as in
        :class:`~vecstudy.study.sweep.SweepInterrupted`.
    """

    def __init__(self, exc: SweepInterrupted, result: StudyResult) -> None:
        super().__init__(exc.path, exc.rows_kept, exc.total_rows)
        self.args = (
            f"interrupted; kept {exc.rows_kept} rows of this run in {exc.path}; "
            "this exception's .result holds them",
        )
        self.result = result


# --------------------------------------------------------------------------- notices
@contextlib.contextmanager
def show_notices(enabled: bool = True) -> Iterator[None]:
    """Within: logger ``vecstudy``'s INFO lines (numba compiling) go to stderr via tqdm.

    Only when ``enabled`` and no handler anywhere would receive them (logging
    not configured: a notebook, a script); otherwise logging is left as it is.
    """
    log = logging.getLogger("vecstudy")
    if not enabled or log.hasHandlers():
        yield
        return
    # a console handler: while a bar is shown, the sweep routes it through tqdm's write
    from vecstudy.runtime.announce import info_to_stderr

    with info_to_stderr():
        yield


# --------------------------------------------------------------------------- arguments
def _argument(key: str, value: object) -> Any:
    """Parse one option given as a Python argument; errors name ``argument key=``."""
    from vecstudy.study import options as opts

    return opts._PARSERS[key](value, f"argument {key}=")


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return bool(value)


def _dtypes(dtype: object, data_dtype: object) -> tuple[str, ...]:
    from vecstudy import config
    from vecstudy.study.options import parse_dtypes

    if dtype is None:
        return (str(config.resolve_dtype(None, data_dtype).value),)
    if isinstance(dtype, list | tuple):
        items: object = [_dtype_name(d) for d in dtype]
    else:
        items = _dtype_name(dtype)
    return tuple(parse_dtypes(items, "argument dtype="))


def _dtype_name(value: object) -> object:
    if isinstance(value, str):
        return value
    try:
        return np.dtype(value).name  # type: ignore[call-overload]
    except TypeError:
        return value


def _default_backends() -> tuple[str, ...]:
    """Every registered backend that loads here, except :data:`NOT_A_SPEED_PEER`."""
    from vecstudy import backends

    names = []
    for name in backends.available_backends():
        if name in NOT_A_SPEED_PEER:
            continue
        try:
            backends.load(name)
        except Exception:  # an optional dependency missing: leave it out
            continue
        names.append(name)
    return tuple(names)


def _chosen_backends(value: object) -> tuple[str, ...]:
    from vecstudy import backends
    from vecstudy.study.options import parse_backends

    if value is None:
        return _default_backends()
    names = tuple(parse_backends(value, "argument backends="))
    for name in names:
        try:
            backends.load(name)
        except ImportError as exc:
            raise ImportError(f"argument backends=: {exc}") from exc
    return names


# --------------------------------------------------------------------------- the sweep
class CallerSweep(Sweep):
    """The sweep on the caller's ``X`` and ``Y`` (the read probe reads that ``X`` too).

    A Python-loop case over the budget is followed by the same case on the first
    columns of ``X``, as many as fit half the budget (at least one; up to
    :data:`MAX_PROBES` times, fewer columns each); the report's tables scale it
    to the whole ``X`` by the ratio of elements and mark it estimated.  That
    ``optimize`` case runs one iteration per call, so that it can keep more
    columns: an iteration's update of ``w`` costs ``n_x`` whatever ``m``, and
    scaled from few columns it would count many times over.
    """

    def __init__(
        self, options: BenchOptions, run_id: str, X: NDArray[Any], Y: NDArray[Any]
    ) -> None:
        super().__init__(options, run_id)
        self._X, self._Y = X, Y
        self._converted: dict[str, tuple[Any, float, Any, Any]] = {}
        self._probes: list[Case] = []
        self._probe_iterations: dict[Case, int] = {}
        self._tries: dict[tuple[str, str], int] = {}

    def _problem(self, n_x: int, m: int, dtype: str) -> tuple[Any, float, Any, Any]:
        if dtype not in self._converted:
            X = np.ascontiguousarray(self._X, dtype=dtype)
            Y = np.ascontiguousarray(self._Y, dtype=dtype)
            self._converted[dtype] = (np.zeros(n_x, dtype=dtype), 0.0, X, Y)
        w, b, X, Y = self._converted[dtype]
        if m == X.shape[1]:
            return w, b, X, Y
        return w, b, np.ascontiguousarray(X[:, :m]), Y[:m].copy()

    def prepare(self, case: Case) -> Prepared:
        options = self.options
        iterations = self._probe_iterations.get(case)
        if iterations is not None:  # a smaller problem standing in for a slow loop
            self.options = dataclasses.replace(options, iterations=iterations)
        try:
            prep = super().prepare(case)
        finally:
            self.options = options
        over_budget = prep.call is None and prep.estimate_s is not None and prep.estimate_s > 0
        if case.kind == "kernel" and case.backend == "python" and over_budget:
            assert prep.estimate_s is not None
            self._probe(case, prep.estimate_s, prep.per_call)
        return prep

    def _probe(self, case: Case, estimate_s: float, per_call: int) -> None:
        """Plan ``case`` on fewer columns of ``X``, its call fitting half the budget."""
        key = (case.operation, case.dtype)
        tries = self._tries.get(key, 0)
        o = self.options
        target = o.budget / 2 / (o.repeats + 2.5)  # a call this long fits half the budget
        per_column = estimate_s / per_call / case.m  # one iteration (or step), one column
        m = max(1, math.floor(min(target / per_column, case.m / 2)))
        if tries < MAX_PROBES and m < case.m:
            self._tries[key] = tries + 1
            probe = dataclasses.replace(case, m=m)
            self._probes.append(probe)
            if case.operation == "optimize":
                self._probe_iterations[probe] = 1

    def follow_up(self) -> list[list[Case]]:
        probes, self._probes = self._probes, []
        return [probes] if probes else []


def _python_call(X: NDArray[Any], names: Sequence[str], **kw: object) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    return (
        f"vecstudy.compare_backends(X, Y, backends={list(names)!r}, {args}) "
        f"in Python, X of shape {X.shape[0]}x{X.shape[1]}"
    )


def compare_backends(
    X: ArrayLike,
    Y: ArrayLike,
    *,
    backends: str | Sequence[str] | None = None,
    threads: int | str | Sequence[int | str] = 1,
    dtype: object = None,
    repeats: int | None = None,
    min_time: float | None = None,
    budget: float | None = None,
    iterations: int | None = None,
    progress: bool = True,
) -> StudyResult:
    """Time one gradient step and one optimize iteration of each backend on your ``X`` and ``Y``.

    Each backend's ``propagate`` (one gradient step: forward and backward pass)
    and ``optimize`` (``iterations`` steps with updates, reported per iteration)
    run on exactly your data, from ``w = 0``, ``b = 0``.  The cases are warmed
    up first (Numba compiles then, outside any timing), checked against
    ``budget`` before their first full call, calibrated (autorange) and timed in
    ``repeats`` interleaved rounds (each round times every backend once, in an
    order rotated from round to round), as ``vecstudy bench`` does.  Where the
    Python loop would exceed the budget it is timed on the first columns of
    ``X`` and scaled by the ratio of elements: its row says ``estimated``.

    Parameters
    ----------
    X : array_like, shape (n_x, m)
        Features, one column per sample, as in the course (e.g. 12288 x 209).
    Y : array_like, shape (1, m)
        Labels 0 and 1.
    backends : str or sequence of str, optional
        Names, e.g. ``["numpy", "numba"]``, or ``"all"``.  Default: every
        registered backend that loads here except ``"dask"``: the dask backend
        scatters ``X`` to a cluster on every call, which in-memory data on one
        machine does not need, so it is no speed peer here (name it to include it).
    threads : int, "all" or a sequence of them
        Thread counts (Numba and BLAS) to time under; 1 by default, so that the
        comparison is per core.  The Python loop is timed once, on one thread.
    dtype : str, dtype or sequence, optional
        ``"float64"`` and/or ``"float32"``; default: the dtype the course
        functions would use for ``X`` (config, then ``X``'s own if floating,
        else float64).
    repeats, min_time, budget, iterations : optional
        Rounds per case (7), seconds one timing lasts at least (0.03), seconds a
        case may take (5; estimated before its first full call), iterations of
        the timed optimize call (10): :data:`vecstudy.study.options.TIMING_DEFAULTS`.
    progress : bool
        Show a progress bar (:mod:`tqdm.auto`) and numba's compile notice.

    Returns
    -------
    StudyResult
        ``.frame`` (tidy DataFrame), a table as its repr (HTML in a notebook),
        ``.plot()`` (bars of milliseconds per step), ``.save(directory)``.

    Raises
    ------
    ValueError, TypeError
        Bad ``X`` or ``Y`` (the message names which and the shape expected), or
        a bad option (the message names the argument, e.g. ``threads=``).
    ImportError
        A backend named in ``backends`` cannot be loaded here.
    StudyInterrupted
        On Ctrl-C; its ``result`` holds the timings finished before it.

    Examples
    --------
    >>> import numpy as np, vecstudy
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((20, 50)); Y = (rng.random((1, 50)) < 0.5).astype(float)
    >>> r = vecstudy.compare_backends(X, Y, backends=["numpy"], repeats=3, min_time=0.001,
    ...                               progress=False)
    >>> sorted(set(r.frame["operation"]))
    ['optimize', 'propagate']
    """
    from vecstudy import api
    from vecstudy.study import sweep as sw
    from vecstudy.study.options import STUDY_DEFAULTS, TIMING_DEFAULTS, BenchOptions

    Xa = api._check_X(X, "X")
    if not isinstance(Xa, np.ndarray):
        raise TypeError(
            f"X must be an in-memory array (NumPy), got {type(X).__name__}; "
            "compare_backends times one machine's backends on data in memory"
        )
    n_x, m = Xa.shape
    Ya = api._check_Y(Y, m, "Y", x_shape=Xa.shape)
    show = _flag(progress, "progress")
    dtypes = _dtypes(dtype, Xa.dtype)
    names = _chosen_backends(backends)
    if not names:
        raise ValueError("argument backends=: no backend loads here")
    counts = tuple(_argument("threads", threads))
    timing = {
        key: TIMING_DEFAULTS[key] if value is None else value
        for key, value in (
            ("repeats", repeats),
            ("min_time", min_time),
            ("budget", budget),
            ("iterations", iterations),
        )
    }
    parsed = {key: _argument(key, value) for key, value in timing.items()}
    sources = {
        "shapes": "argument X",
        "backends": "argument backends=",
        "dtypes": "argument dtype=",
        "threads": "argument threads=",
    }
    sources.update({key: f"argument {key}=" for key in parsed})
    from vecstudy.study.view import Scratch

    scratch = Scratch("vecstudy-compare-")
    options = BenchOptions(
        shapes=((n_x, m),),
        backends=names,
        dtypes=dtypes,
        threads=counts,
        micro=False,
        micro_size=int(str(STUDY_DEFAULTS["micro_size"])),
        output=scratch.path / "study-results.json",
        sources=sources,
        **parsed,
    )
    command = _python_call(Xa, names, threads=list(counts), dtype=list(dtypes), **parsed)
    title = "compare_backends"

    def result(run_id: str | None, status: str, swept: Any = None) -> StudyResult:
        from vecstudy.study.view import StudyResult

        return StudyResult(
            options.output,
            kind="compare",
            shapes=options.shapes,
            run_id=run_id,
            title=title,
            sweep=swept,
            status=status,
            scratch=scratch,
        )

    with show_notices(show):
        try:
            swept = sw.run_sweep(
                options,
                progress=show,
                append=False,
                command=command,
                make_sweep=lambda o, run_id: CallerSweep(o, run_id, Xa, Ya),
                desc="vecstudy compare_backends",
            )
        except SweepInterrupted as exc:
            raise StudyInterrupted(exc, result(_only_run(options.output), "interrupted")) from None
    return result(swept.run_id, "complete", swept)


def _only_run(path: Path) -> str | None:
    """The run id of a results file holding one run (None when it holds no row)."""
    from vecstudy.records.results import load_results

    try:
        runs = load_results(path).runs
    except (OSError, ValueError):
        return None
    return str(runs[-1]["run_id"]) if runs else None


def study(
    shapes: str | Sequence[Any] | None = None,
    backends: str | Sequence[str] | None = None,
    threads: int | str | Sequence[int | str] | None = None,
    dtypes: str | Sequence[str] | None = None,
    repeats: int | None = None,
    min_time: float | None = None,
    budget: float | None = None,
    iterations: int | None = None,
    micro: bool | None = None,
    micro_size: int | None = None,
    *,
    output_dir: str | os.PathLike[str] | None = None,
    asv_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> StudyResult:
    """The speed study's grid from Python: what ``vecstudy study`` runs, same defaults.

    Every option left ``None`` takes the study's built-in value
    (:data:`vecstudy.study.options.STUDY_DEFAULTS`: shapes
    ``10x1000,100x10000,1000x10000,1000x100000``, every backend, float64 and
    float32, threads ``1,all``, 7 rounds, a 5 s budget per case, the
    micro-studies); the config file's ``[bench]`` table is not read, as
    ``vecstudy study`` does not read it (it is ``vecstudy bench``'s).  About two
    minutes on a 2-core machine.

    Parameters
    ----------
    shapes, backends, threads, dtypes, repeats, min_time, budget, iterations, micro, micro_size
        As the ``vecstudy bench`` options of the same names: e.g.
        ``shapes="10x1000,100x10000"`` or ``[(10, 1000), (100, 10000)]``,
        ``threads=[1, "all"]``.
    output_dir : path, optional
        Write ``study-results.json`` (saved after every round), ``report.md``
        and the figures there, as ``vecstudy study --output-dir`` does.  None:
        the results stay in a temporary file until :meth:`StudyResult.save`.
    asv_dir : path, optional
        Airspeed velocity's results directory, reported too.
    progress : bool
        Show a progress bar (:mod:`tqdm.auto`) and numba's compile notice.

    Returns
    -------
    StudyResult

    Raises
    ------
    BenchOptionError
        A bad option; the message names the argument (``argument shapes=``).
    StudyInterrupted
        On Ctrl-C; its ``result`` holds the timings finished before it (and
        ``output_dir``, if given, holds the results file).
    """
    from vecstudy import report
    from vecstudy.study import options as opts
    from vecstudy.study import sweep as sw
    from vecstudy.study.view import Scratch, StudyResult

    given = {
        "shapes": shapes,
        "backends": backends,
        "threads": threads,
        "dtypes": dtypes,
        "repeats": repeats,
        "min_time": min_time,
        "budget": budget,
        "iterations": iterations,
        "micro": micro,
        "micro_size": micro_size,
    }
    overrides: dict[str, object] = {
        key: _argument(key, value) for key, value in given.items() if value is not None
    }
    show = _flag(progress, "progress")
    scratch: Scratch | None = None
    if output_dir is not None:
        out = Path(output_dir)
        for parent in (out, *out.parents):
            if parent.exists() and not parent.is_dir():
                raise ValueError(
                    f"argument output_dir={str(out)!r}: {str(parent)!r} is not a directory"
                )
        results_path = out / "study-results.json"
    else:
        scratch = Scratch("vecstudy-study-")
        results_path = scratch.path / "study-results.json"
    overrides["output"] = str(results_path)
    options = opts.resolve_options(overrides, defaults=opts.STUDY_DEFAULTS, use_file=False)

    def result(run_id: str | None, status: str, swept: Any = None, files: Any = None) -> Any:
        return StudyResult(
            options.output,
            kind="study",
            shapes=options.shapes,
            run_id=run_id,
            title="vecstudy study",
            sweep=swept,
            report=files,
            status=status,
            scratch=scratch,
            asv_dir=asv_dir,
        )

    with show_notices(show):
        try:
            swept = sw.run_sweep(options, progress=show, append=False)
        except SweepInterrupted as exc:
            raise StudyInterrupted(exc, result(_only_run(options.output), "interrupted")) from None
    files = None
    if output_dir is not None:
        files = report.write_report(swept.path, output_dir=Path(output_dir), asv_dir=asv_dir)
    out_result: StudyResult = result(swept.run_id, "complete", swept, files)
    return out_result
