"""The sweep: backends x shapes x dtypes x thread settings -> raw timings -> the results file.

For every shape, dtype and thread setting the sweep forms a *group*: a
read-bandwidth probe over an array as large as ``X`` and, for every backend,
one gradient step (``propagate``) and one iteration of ``optimize``.  The
micro-studies (the course's dot product, ``exp`` loop and broadcasting) form groups of their
own.  Each case of a group is prepared (:func:`vecstudy.study.timing.prepare`:
warm-up, budget, calibration); then the group is timed in ``repeats``
*interleaved rounds*: each round times every case once (``loops`` calls), in an
order rotated by one from round to round (A B C, B C A, C A B, ...), so that
a slow spell of a shared machine hits every backend of the comparison.  Every
timing is one row, with its round, its position in the round, its loop count
and the load average, and the file is saved after every round: Ctrl-C keeps
every finished timing and marks the run ``"interrupted"``.

The pure-Python loop runs on one thread whatever the setting, so it is timed
with the first thread setting only.

Conventions
-----------
``X`` is ``(n_x, m)`` C-contiguous, ``w`` is ``(n_x,)``, ``Y`` is ``(m,)``, all
in one dtype; ``bytes_x = n_x * m * itemsize``.  For the vector micro-studies
``n_x = 1`` and ``m`` is the vector length; the broadcasting ones work on tables
of ``n_x = 3`` rows and ``m = micro_size // 10`` columns.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import numpy as np

from vecstudy import backends
from vecstudy.course import COURSE_SHAPE as COURSE_SHAPE
from vecstudy.errors import SweepInterrupted as SweepInterrupted
from vecstudy.records import machine
from vecstudy.records.results import ResultsWriter, Row
from vecstudy.runtime.announce import announce_compile
from vecstudy.runtime.timing import quiesce, rotated, time_round
from vecstudy.study import micro
from vecstudy.study.options import BenchOptions
from vecstudy.study.problem import SEED, Array, check_memory, make_data
from vecstudy.study.progress import grow, log_above_bar, progress_bar
from vecstudy.study.timing import (
    SMALL_ELEMENTS,
    SMALL_ITERATIONS,
    SMALL_MICRO,
    Prepared,
    prepare,
)

LEARNING_RATE: Final = 0.005
#: The course's shape's one gradient step of the Python loop, and the Python loops of
#: the micro-studies (the course's own demos), are the headline's references: they are
#: timed with a budget of at least :data:`COURSE_LOOP_BUDGET` seconds (about 2.5 s a
#: call at 12288x209 on an idle 2-core EPYC, 5.8 s on a busy one, so 7 repeats and the
#: warm-up take 25 to 55 s), so that the learner's headline quotes measured loops.
COURSE_LOOP_BUDGET: Final = 60.0
RECORD_EVERY: Final = 100


# --------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
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


_MICRO: Final[Mapping[tuple[str, str], Callable[..., object]]] = {
    ("python", "dot"): micro.dot_loop_python,
    ("python", "exp"): micro.exp_loop_python,
    ("python", "percent"): micro.percent_loop_python,
    ("python", "add_row"): micro.add_row_loop_python,
    ("numpy", "dot"): micro.dot_numpy,
    ("numpy", "exp"): micro.exp_numpy,
    ("numpy", "percent"): micro.percent_numpy,
    ("numpy", "add_row"): micro.add_row_numpy,
}
#: The numba backend's compiled loop of each micro-study.
_MICRO_NUMBA: Final[Mapping[str, str]] = {
    "dot": "dot_loop",
    "exp": "exp_loop",
    "percent": "percent_loop",
    "add_row": "add_row_loop",
}


def _micro_args(op: str, n_x: int, m: int) -> list[tuple[tuple[int, ...], int]]:
    """Shape of each argument of a micro-study, and its axis of length ``m``.

    ``dot`` and ``exp``: vectors of ``m``; ``percent``: the ``(n_x, m)`` table;
    ``add_row``: ``a`` ``(n_x, m)`` and the column ``b`` ``(m, 1)``.
    """
    if op == "dot":
        return [((m,), 0), ((m,), 0)]
    if op == "exp":
        return [((m,), 0)]
    if op == "percent":
        return [((n_x, m), 1)]
    return [((n_x, m), 1), ((m, 1), 0)]


class Sweep:
    """Plans the groups of a sweep, prepares their cases and times them in rounds."""

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

    def plan(self) -> list[list[Case]]:
        """Groups of cases timed together, shape by shape (one shape's data built once)."""
        o = self.options
        first_threads = o.threads[0]
        groups: list[list[Case]] = []
        for n_x, m in o.shapes:
            for dtype in o.dtypes:
                for threads in o.threads:
                    group = [
                        Case("bandwidth", "read", self._read_backend(), dtype, threads, n_x, m)
                    ]
                    for name in o.backends:
                        if name == "python" and threads != first_threads:
                            continue  # pure Python runs on one thread: timed once
                        for op in ("propagate", "optimize"):
                            group.append(Case("kernel", op, name, dtype, threads, n_x, m))
                    groups.append(group)
        if o.micro:
            for threads in o.threads:
                for op in _MICRO_NUMBA:
                    n_x, m = (
                        (1, o.micro_size)
                        if op in ("dot", "exp")
                        else (
                            micro.TABLE_ROWS,
                            micro.table_columns(o.micro_size),
                        )
                    )
                    group = []
                    for name in ("python", "numpy", "numba"):
                        if name == "python" and threads != first_threads:
                            continue
                        group.append(Case("micro", op, name, "float64", threads, n_x, m))
                    groups.append(group)
        return groups

    def follow_up(self) -> list[list[Case]]:
        """Groups to time after the group just timed; none here.

        A subclass may answer a case skipped over the budget with a smaller one
        (see :attr:`Prepared.estimate_s <vecstudy.study.timing.Prepared>`), e.g.
        :func:`vecstudy.compare_backends` times the Python loop on fewer columns
        of the caller's ``X`` and estimates the full problem from it.
        """
        return []

    def _read_backend(self) -> str:
        mod = self.modules.get("numba")
        return "numba" if isinstance(mod, ModuleType) and hasattr(mod, "read_sum") else "numpy"

    def _problem(self, n_x: int, m: int, dtype: str) -> tuple[Array, float, Array, Array]:
        key = (n_x, m, dtype)
        if key not in self.data:
            self.data = {k: v for k, v in self.data.items() if k[:2] == (n_x, m)}
            self.data[key] = make_data(n_x, m, dtype)
        return self.data[key]

    def prepare(self, case: Case) -> Prepared:
        """Warm up, check the budget and calibrate one case (inside its thread setting)."""
        if case.kind == "kernel":
            return self._kernel(case)
        if case.kind == "bandwidth":
            return self._bandwidth(case)
        return self._micro(case)

    def _timing(self, case: Case | None = None) -> dict[str, Any]:
        o = self.options
        budget = o.budget
        if (
            case is not None
            and case.backend == "python"
            and (
                case.kind == "micro"  # the course's own demos: their loops are the point
                or (case.operation == "propagate" and (case.n_x, case.m) == COURSE_SHAPE)
            )
        ):
            budget = max(budget, COURSE_LOOP_BUDGET)  # the headline's loops: timed, not guessed
        return {"repeats": o.repeats, "min_time": o.min_time, "budget": budget}

    def _kernel(self, case: Case) -> Prepared:
        mod = self.modules[case.backend]
        if isinstance(mod, str):
            return Prepared(None, None, 1, None, mod)
        w, b, X, Y = self._problem(case.n_x, case.m, case.dtype)
        announce_compile(case.backend, case.operation, X)  # the warm-up may compile for 10 s
        o = self.options
        m_small = max(4, SMALL_ELEMENTS // case.n_x)
        if case.operation == "propagate":

            def small(m: int) -> Callable[[], object]:
                sX, sY = np.ascontiguousarray(X[:, :m]), Y[:m].copy()
                return lambda: mod.propagate(w, b, sX, sY)

            full: Callable[[], object] = lambda: mod.propagate(w, b, X, Y)  # noqa: E731
            return prepare(
                full, small, case.m, m_small, per_call=1, work_scale=1.0, **self._timing(case)
            )
        args = (o.iterations, LEARNING_RATE, RECORD_EVERY)
        few = min(o.iterations, SMALL_ITERATIONS)

        def small_opt(m: int) -> Callable[[], object]:
            sX, sY = np.ascontiguousarray(X[:, :m]), Y[:m].copy()
            return lambda: mod.optimize(w, b, sX, sY, few, LEARNING_RATE, RECORD_EVERY)

        full = lambda: mod.optimize(w, b, X, Y, *args)  # noqa: E731
        return prepare(
            full,
            small_opt,
            case.m,
            m_small,
            per_call=o.iterations,
            work_scale=o.iterations / few,
            **self._timing(),
        )

    def _bandwidth(self, case: Case) -> Prepared:
        mod = self.modules["numba"]
        read: Callable[[Array], object]
        if case.backend == "numba" and isinstance(mod, ModuleType):
            read = mod.read_sum
            announce_compile("numba", "read_sum", self._problem(case.n_x, case.m, case.dtype)[2])
        else:
            read = micro.read_numpy
        _, _, X, _ = self._problem(case.n_x, case.m, case.dtype)
        flat = X.reshape(-1)

        def small(n: int) -> Callable[[], object]:
            part = np.ascontiguousarray(flat[:n])
            return lambda: read(part)

        return prepare(
            lambda: read(flat),
            small,
            flat.size,
            SMALL_MICRO,
            per_call=1,
            work_scale=1.0,
            **self._timing(),
        )

    def _micro(self, case: Case) -> Prepared:
        fn: Callable[..., object]
        if case.backend in ("python", "numpy"):
            fn = _MICRO[case.backend, case.operation]
        else:
            mod = self.modules["numba"]
            attr = _MICRO_NUMBA[case.operation]
            if isinstance(mod, str):
                return Prepared(None, None, 1, None, mod)
            if not callable(getattr(mod, attr, None)):
                return Prepared(None, None, 1, None, f"the numba backend has no {attr}()")
            fn = getattr(mod, attr)
        rng = np.random.default_rng(SEED)
        specs = _micro_args(case.operation, case.n_x, case.m)
        args = [rng.random(shape) for shape, _ in specs]

        def small(n: int) -> Callable[[], object]:
            part = [
                np.ascontiguousarray(a[(slice(None),) * axis + (slice(n),)])
                for a, (_, axis) in zip(args, specs, strict=True)
            ]
            return lambda: fn(*part)

        full = lambda: fn(*args)  # noqa: E731
        return prepare(
            full, small, case.m, SMALL_MICRO, per_call=1, work_scale=1.0, **self._timing(case)
        )


def _row(
    case: Case, prep: Prepared, run_id: str, in_force: tuple[int | None, int | None], **values: Any
) -> Row:
    itemsize = np.dtype(case.dtype).itemsize
    blas_n, numba_n = in_force
    return {
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
        "loops": prep.loops,
        "per_call": prep.per_call,
        "warmup_s": prep.warmup_s,
        "reason": prep.reason,
        **values,
    }


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


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _time_group(sweep: Sweep, group: list[Case], writer: ResultsWriter, bar: Any) -> int:
    """Prepare and time one group in interleaved rounds; return the number of skipped cases."""
    from vecstudy.runtime.threads import limit_threads

    o = sweep.options
    with limit_threads(group[0].threads):
        prepared: list[tuple[Case, Prepared]] = []
        for case in group:
            bar.set_postfix_str(case.label, refresh=False)
            prepared.append((case, sweep.prepare(case)))
            bar.update(1)
        # what actually runs, read after the warm-ups loaded every library (numba's BLAS too)
        in_force = machine.threads_in_force()
        skipped = [
            _row(
                c,
                p,
                sweep.run_id,
                in_force,
                round=0,
                order=None,
                seconds=None,
                load=None,
                status="skipped",
            )
            for c, p in prepared
            if p.call is None
        ]
        if skipped:
            writer.add(skipped)
        timed = [(c, p) for c, p in prepared if p.call is not None]
        for rnd in range(o.repeats if timed else 0):
            load = machine.load_average()
            rows: list[Row] = []
            try:
                for order, (case, prep) in enumerate(rotated(timed, rnd)):
                    assert prep.call is not None
                    assert prep.loops is not None
                    if len(timed) > 1:
                        # the backend before may have left threads spinning (NumPy's
                        # OpenBLAS: ~0.1 s), on the cores this one needs
                        quiesce()
                    total = time_round(prep.call, prep.loops)
                    rows.append(
                        _row(
                            case,
                            prep,
                            sweep.run_id,
                            in_force,
                            round=rnd,
                            order=order,
                            seconds=total / prep.loops / prep.per_call,
                            load=load,
                            status="ok",
                        )
                    )
            finally:
                # save this round's timings even when Ctrl-C cut it short
                interrupted = False
                if rows:
                    try:
                        writer.add(rows)  # the rows are kept in memory before the write
                    except KeyboardInterrupt:
                        interrupted = True  # Ctrl-C during the save: stop after it
            if interrupted:
                raise KeyboardInterrupt
    return len(skipped)


def run_sweep(
    options: BenchOptions,
    *,
    progress: bool = True,
    append: bool = True,
    command: str | None = None,
    make_sweep: Callable[[BenchOptions, str], Sweep] = Sweep,
    desc: str = "vecstudy bench",
) -> SweepResult:
    """Run the sweep described by ``options``, saving the results file after every round.

    Parameters
    ----------
    options : BenchOptions
        From :func:`vecstudy.study.options.resolve_options`.
    progress : bool
        Show a progress bar (tqdm, on stderr).
    append : bool
        Append to ``options.output`` if it exists (it must be a results file);
        otherwise start a new file.
    command : str, optional
        The command that reproduces the sweep, stored with the run; defaults to
        :meth:`BenchOptions.command`.
    make_sweep : callable
        ``make_sweep(options, run_id)`` builds the :class:`Sweep` (a subclass
        times the caller's data: :func:`vecstudy.compare_backends`).
    desc : str
        The progress bar's label.

    Returns
    -------
    SweepResult

    Raises
    ------
    SweepInterrupted
        On Ctrl-C; the file then holds every timing finished before it, and the
        run is marked ``"interrupted"``.
    BenchOptionError
        If a shape's data would not fit in the available memory (checked before
        anything is allocated).
    ValueError, PermissionError
        If ``options.output`` exists and is not a results file, or is read-only.
    """
    check_memory(options)
    run_id = uuid.uuid4().hex[:12]
    run: dict[str, Any] = {
        "run_id": run_id,
        "command": command or options.command(),
        "options": options.as_dict(),
        "sources": dict(options.sources),
        "machine": machine.machine_info(),
        "started": _now(),
        "finished": None,
        "status": "running",
        "rows": 0,
    }
    writer = ResultsWriter(options.output, run, append=append)
    sweep = make_sweep(options, run_id)
    groups = sweep.plan()
    writer.save()
    skipped = 0
    bar = progress_bar(sum(len(g) for g in groups), progress, desc)
    try:
        with log_above_bar():
            pending = list(groups)
            while pending:
                skipped += _time_group(sweep, pending.pop(0), writer, bar)
                more = sweep.follow_up()
                grow(bar, sum(len(g) for g in more))
                pending[:0] = more
    except KeyboardInterrupt:
        bar.close()
        run["status"] = "interrupted"
        run["finished"] = _now()
        with contextlib.suppress(KeyboardInterrupt):
            writer.save()
        raise SweepInterrupted(options.output, writer.rows_this_run, writer.total_rows) from None
    bar.close()
    run["status"] = "complete"
    run["finished"] = _now()
    run["load_average_end"] = machine.load_average()
    run["machine"]["threads"] = machine.thread_state()  # numba's threading layer is known now
    run["machine"]["blas_kernel"] = machine.blas_kernel(run["machine"]["threads"])
    writer.save()
    return SweepResult(options.output, run_id, writer.rows_this_run, skipped, writer.total_rows)
