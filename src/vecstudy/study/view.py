"""The study's Python face: :class:`StudyResult`, a tidy frame, a text and an HTML table, a figure.

:func:`vecstudy.compare_backends` and :func:`vecstudy.study` return a
:class:`StudyResult`.  It reads the raw timings of its run (a results file, as
``vecstudy bench`` writes it) and shows them the way perfplot and benchit do:

``.frame``
    A tidy :class:`pandas.DataFrame`, one row per backend x operation x shape x
    dtype x threads (:data:`FRAME_COLUMNS`).
``repr(result)`` / ``result._repr_html_()``
    A small table: plain text in a console, escaped HTML in a notebook.
``.plot()``
    A :class:`matplotlib.figure.Figure` (no pyplot state): bars of milliseconds
    per step by backend for a comparison, the report's time figure for a study.
``.save(directory)``
    The results file, ``report.md`` and the figures, as ``vecstudy study`` writes them.

Numbers
-------
The columns and how each number is computed: :mod:`vecstudy.study.frame`.  The tables
are drawn by :mod:`vecstudy.report.result_table`, the comparison's figure by
:mod:`vecstudy.report.steps_figure`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vecstudy.study.frame import FRAME_COLUMNS as FRAME_COLUMNS
from vecstudy.study.frame import median_ci as median_ci
from vecstudy.study.frame import tidy_frame

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from vecstudy.records.results import Results
    from vecstudy.report import ReportFiles


class Scratch:
    """A private temporary directory, removed when this object is (or at exit).

    Holds the results file of a comparison or a study run without ``output_dir``.
    """

    def __init__(self, prefix: str) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        self._remove = weakref.finalize(self, shutil.rmtree, self.path, ignore_errors=True)

    def remove(self) -> None:
        """Remove the directory now."""
        self._remove()


class StudyResult:
    """Timings of a comparison or a study: frame, tables, figure, files.

    Made by :func:`vecstudy.compare_backends` and :func:`vecstudy.study`, never by
    hand.  Raw timings are read from the results file on first use.

    Attributes
    ----------
    path : Path
        The results file (in a private temporary directory, removed with this
        object, unless the study was given ``output_dir``).
    kind : str
        ``"compare"`` (one X, the caller's) or ``"study"`` (a grid of shapes).
    shapes : tuple of (n_x, m)
        The shapes asked for.
    run_id : str or None
        The run this result reports (the file may hold earlier ones).
    sweep : SweepResult or None
        What the sweep wrote (rows, skipped cases).
    report : ReportFiles or None
        The report written with the study (``output_dir``), or by :meth:`save`.
    status : str
        ``"complete"`` or ``"interrupted"`` (Ctrl-C: the finished timings only).
    """

    def __init__(
        self,
        path: Path,
        *,
        kind: str,
        shapes: Sequence[tuple[int, int]],
        run_id: str | None,
        title: str,
        sweep: Any = None,
        report: ReportFiles | None = None,
        status: str = "complete",
        scratch: Scratch | None = None,
        asv_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.kind = kind
        self.shapes = tuple(shapes)
        self.run_id = run_id
        self.title = title
        self.sweep = sweep
        self.report = report
        self.status = status
        self._scratch = scratch  # removed with this object
        self._asv_dir = asv_dir

    # ---------------------------------------------------------------- data
    @cached_property
    def results(self) -> Results:
        """The whole results file (every run in it)."""
        from vecstudy.records.results import load_results

        return load_results(self.path)

    def _cores(self) -> int | None:
        """The cores this run's machine offered (for the ``load`` flag), or None."""
        from vecstudy.records.stats import machine_cores

        ids = [self.run_id] if self.run_id is not None else list(self.rows["run_id"].unique())
        return machine_cores(self.results, ids)

    @cached_property
    def rows(self) -> pd.DataFrame:
        """Raw timings of this run, one row per timing (see ``records.results.COLUMNS``)."""
        rows = self.results.rows
        if self.run_id is not None:
            rows = rows[rows["run_id"] == self.run_id]
        return rows.reset_index(drop=True)

    @cached_property
    def frame(self) -> pd.DataFrame:
        """Tidy summary: one row per backend x operation x shape x dtype x threads.

        Columns :data:`FRAME_COLUMNS`; see the module docstring for what each means.
        """
        return tidy_frame(self.rows, self.shapes, cores=self._cores())

    # ---------------------------------------------------------------- display
    def __repr__(self) -> str:
        from vecstudy.report.result_table import result_text

        return result_text(self.frame, kind=self.kind, title=self.title, status=self.status)

    def _repr_html_(self) -> str:
        from vecstudy.report.result_table import result_html

        return result_html(self.frame, kind=self.kind, title=self.title, status=self.status)

    # ---------------------------------------------------------------- figure
    def plot(self) -> Figure:
        """A figure of the timings (matplotlib, no pyplot state).

        A comparison: bars of the median milliseconds per step (and per
        optimize iteration) of each backend on a log scale, whiskers the 95%
        interval, estimates hatched.  A study: the report's time-per-step figure
        against the size of ``X`` (:func:`vecstudy.report.sweep_figures.figure_time`).
        """
        from vecstudy.report.axes import plain_text

        with plain_text():
            if self.kind == "compare":
                from vecstudy.report.steps_figure import figure_steps

                return figure_steps(self.frame, self.title)
            from vecstudy.records.stats import flag_bandwidth, summarize
            from vecstudy.report.sweep_figures import figure_time
            from vecstudy.report.tables import kernel_table

            kern = kernel_table(flag_bandwidth(summarize(self.rows, cores=self._cores())))
            if kern.empty:
                raise ValueError("no kernel case was timed; nothing to plot")
            skipped = self.rows[self.rows["status"] == "skipped"]
            return figure_time(kern, int(kern["threads"].max()), skipped)

    # ---------------------------------------------------------------- files
    def save(self, directory: str | os.PathLike[str]) -> ReportFiles:
        """Write ``study-results.json``, ``report.md`` and the figures into ``directory``.

        The same files ``vecstudy study --output-dir DIR`` writes, each atomically
        (:func:`vecstudy.report.write_report`); ``vecstudy report DIR/study-results.json``
        writes the report again.  A directory holding the committed reference
        report is refused.

        Returns
        -------
        ReportFiles
        """
        from vecstudy import report
        from vecstudy.records.results import atomic_write_bytes, check_writable, lock_for

        out = Path(directory)
        for parent in (out, *out.parents):
            if parent.exists() and not parent.is_dir():
                raise ValueError(f"directory {str(out)!r}: {str(parent)!r} is not a directory")
        if _is_reference(out / "report.md"):
            raise ValueError(
                f"{out / 'report.md'} is the committed reference report; save elsewhere"
            )
        out.mkdir(parents=True, exist_ok=True)
        target = out / "study-results.json"
        if not (target.exists() and target.resolve() == self.path.resolve()):
            data = self.path.read_bytes()
            with lock_for(target):  # one writer at a time, as every results-file writer
                check_writable(target)
                atomic_write_bytes(target, data)
        note = None
        if self.kind == "compare":
            shapes = ", ".join(f"{n_x}x{m}" for n_x, m in self.shapes)
            note = (
                f"vecstudy.compare_backends on the caller's own X ({shapes}), run from Python; "
                "the run's options are in the results file"
            )
        files = report.write_report(target, output_dir=out, asv_dir=self._asv_dir, note=note)
        self.report = files
        return files


def _is_reference(path: Path) -> bool:
    from vecstudy.records.reference import is_reference_report

    return is_reference_report(path)
