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
``seconds`` is the median of the raw timings: per gradient step for
``propagate``, per iteration for ``optimize``, per call for the micro-studies.
``seconds_lo``/``seconds_hi`` is the 95% percentile-bootstrap interval of that
median (:func:`scipy.stats.bootstrap`, the settings of
:mod:`vecstudy.records.stats`).  ``vs_python`` and ``vs_numpy`` are speedups
(``median(base) / median(this)``, above 1 is faster) with their bootstrap
intervals (:func:`vecstudy.records.stats.ratio_ci`).  Where the Python loop was
over the time budget it was timed on a smaller problem and scaled by the ratio of
elements (:func:`vecstudy.report.tables.python_samples`): its row has
``status == "estimated"`` and the flag ``estimated``, and so has every speedup
computed from it.  That interval covers the timing noise only, not the error of
scaling (fixed costs, caches).
"""

from __future__ import annotations

import html
import math
import os
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from vecstudy.escape import plain

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from vecstudy.records.results import Results
    from vecstudy.report import ReportFiles

#: Columns of :attr:`StudyResult.frame`, in order.
FRAME_COLUMNS: Final = (
    "kind",  # "kernel" (propagate, optimize) or "micro" (the course's micro-studies)
    "backend",
    "operation",
    "shape",  # "n_xxm", e.g. "12288x209"
    "n_x",
    "m",
    "dtype",
    "threads",
    "seconds",  # median: per step (propagate), per iteration (optimize), per call (micro)
    "seconds_lo",  # 95% bootstrap interval of the median
    "seconds_hi",
    "n",  # raw timings (interleaved rounds)
    "vs_python",  # speedup over the Python loop: median(loop) / median(this)
    "vs_python_lo",
    "vs_python_hi",
    "vs_numpy",  # speedup over NumPy with the same threads: median(numpy) / median(this)
    "vs_numpy_lo",
    "vs_numpy_hi",
    "status",  # "measured", "estimated" (scaled from a smaller X) or "skipped"
    "flags",  # comma-separated: estimated, cv, outlier, short, load (stats.FLAG_TEXT)
    "note",  # why a case was skipped, or where an estimate comes from
)

_OPERATIONS: Final = {
    "propagate": "gradient step (propagate)",
    "optimize": "optimize, per iteration",
    "dot": "dot product",
    "exp": "exp loop",
    "percent": "percent of row sums",
    "add_row": "add a row (broadcast)",
}
_ORDER: Final = ("propagate", "optimize", "dot", "exp", "percent", "add_row")
#: Rows shown by ``repr`` (the frame holds them all).
REPR_ROWS: Final = 40
NOTE_LIMIT: Final = 200
ESTIMATE_FOOTNOTE: Final = (
    "* estimated: the Python loop was over the time budget, so it was timed on fewer "
    "columns of X and scaled by the ratio of elements"
)


def median_ci(samples: Any) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the median of ``samples`` (NaN for fewer than 2).

    >>> lo, hi = median_ci([1.0, 1.1, 0.9, 1.0, 1.05])
    >>> bool(0.9 <= lo <= 1.0 <= hi <= 1.1)
    True
    """
    from scipy import stats as sps

    from vecstudy.records.stats import CONFIDENCE, N_RESAMPLES, SEED

    x = np.asarray(samples, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return math.nan, math.nan
    if float(x.min()) == float(x.max()):
        return float(x[0]), float(x[0])
    res = sps.bootstrap(
        (x,),
        np.median,
        vectorized=True,
        confidence_level=CONFIDENCE,
        n_resamples=N_RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(SEED),
    )
    med = float(np.median(x))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return min(lo, med), max(hi, med)


def _shape(n_x: Any, m: Any) -> str:
    return f"{int(n_x)}x{int(m)}"


def _ratio(base: Any, samples: Any) -> tuple[float, float, float]:
    from vecstudy.records.stats import ratio_ci

    if base is None:
        return math.nan, math.nan, math.nan
    return ratio_ci(base, samples)


def tidy_frame(
    rows: pd.DataFrame,
    shapes: Sequence[tuple[int, int]] | None = None,
    *,
    cores: int | None = None,
) -> pd.DataFrame:
    """One row per backend x operation x shape x dtype x threads (:data:`FRAME_COLUMNS`).

    Parameters
    ----------
    rows : DataFrame
        Raw rows of one run (:data:`vecstudy.records.results.COLUMNS`).
    shapes : sequence of (n_x, m), optional
        The kernel shapes asked for; rows of other kernel shapes (a smaller ``X``
        the Python loop was timed on to estimate it) are left out.  None: all.
    cores : int, optional
        The machine's cores, for the ``load`` flag (see
        :func:`vecstudy.records.stats.summarize`).
    """
    import pandas as pd

    from vecstudy.records.stats import flag_bandwidth, summarize
    from vecstudy.report.tables import kernel_table, python_samples

    summary = flag_bandwidth(summarize(rows, cores=cores))
    kern = kernel_table(summary)
    out: list[dict[str, Any]] = []

    def add(r: Any, samples: Any, status: str, flags: Sequence[str], note: str, **vs: Any) -> None:
        lo, hi = median_ci(samples)
        out.append(
            {
                "kind": str(r["kind"]),
                "backend": str(r["backend"]),
                "operation": str(r["operation"]),
                "shape": _shape(r["n_x"], r["m"]),
                "n_x": int(r["n_x"]),
                "m": int(r["m"]),
                "dtype": str(r["dtype"]),
                "threads": int(r["threads"]),
                "seconds": float(np.median(samples)) if len(samples) else math.nan,
                "seconds_lo": lo,
                "seconds_hi": hi,
                "n": len(samples),
                **vs,
                "status": status,
                "flags": ", ".join(dict.fromkeys(flags)),
                "note": note,
            }
        )

    def speedups(vp: tuple[float, float, float], vn: tuple[float, float, float]) -> dict[str, Any]:
        return {
            "vs_python": vp[0],
            "vs_python_lo": vp[1],
            "vs_python_hi": vp[2],
            "vs_numpy": vn[0],
            "vs_numpy_lo": vn[1],
            "vs_numpy_hi": vn[2],
        }

    # measured kernel cases (kernel_table has their speedups)
    for _, r in kern.iterrows():
        est = bool(r["vs_python_est"])
        flags = [*(["estimated"] if est else []), *r["flags"]]
        note = "speedup over the Python loop estimated (see the loop's row)" if est else ""
        vp = (r["vs_python"], r["vs_python_lo"], r["vs_python_hi"])
        vn = (r["vs_numpy"], r["vs_numpy_lo"], r["vs_numpy_hi"])
        add(r, r["samples"], "measured", flags, note, **speedups(vp, vn))

    # the Python loop where it was skipped: estimated from a smaller X, or skipped
    pys = python_samples(summary)
    timed_py = summary[(summary["kind"] == "kernel") & (summary["backend"] == "python")]
    numpy_kern = kern[kern["backend"] == "numpy"]
    skipped = rows[(rows["status"] == "skipped") & (rows["kind"] == "kernel")]
    for _, r in skipped.drop_duplicates(
        ["operation", "backend", "dtype", "threads", "n_x", "m"]
    ).iterrows():
        key = (str(r["operation"]), str(r["dtype"]), int(r["n_x"]), int(r["m"]))
        found = pys.get(key) if r["backend"] == "python" else None
        if found is None or not found[1]:
            add(
                r,
                [],
                "skipped",
                ["skipped"],
                plain(r["reason"], NOTE_LIMIT),
                **speedups((math.nan,) * 3, (math.nan,) * 3),
            )
            continue
        samples = np.asarray(found[0], dtype=float)
        same = timed_py[(timed_py["operation"] == key[0]) & (timed_py["dtype"] == key[1])]
        ref = same.iloc[int(np.argmax((same["n_x"] * same["m"]).to_numpy()))]
        base = numpy_kern[
            (numpy_kern["operation"] == key[0])
            & (numpy_kern["dtype"] == key[1])
            & (numpy_kern["n_x"] == key[2])
            & (numpy_kern["m"] == key[3])
            & (numpy_kern["threads"] == r["threads"])
        ]
        vn = _ratio(None if base.empty else base.iloc[0]["samples"], samples)
        note = (
            f"estimated: timed on X {_shape(ref['n_x'], ref['m'])}, scaled by the ratio of elements"
        )
        add(r, samples, "estimated", ["estimated"], note, **speedups((1.0, math.nan, math.nan), vn))

    # the micro-studies: loop, NumPy and Numba on the same vectors
    micro = summary[summary["kind"] == "micro"]
    for _, r in micro.iterrows():
        same = micro[(micro["operation"] == r["operation"]) & (micro["m"] == r["m"])]
        py = same[same["backend"] == "python"]
        npy = same[(same["backend"] == "numpy") & (same["threads"] == r["threads"])]
        vp = (
            (1.0, math.nan, math.nan)
            if r["backend"] == "python"
            else _ratio(None if py.empty else py.iloc[0]["samples"], r["samples"])
        )
        vn = _ratio(None if npy.empty else npy.iloc[0]["samples"], r["samples"])
        add(r, r["samples"], "measured", list(r["flags"]), "", **speedups(vp, vn))

    frame = pd.DataFrame(out, columns=list(FRAME_COLUMNS))
    if shapes is not None:
        wanted = {_shape(n_x, m) for n_x, m in shapes}
        frame = frame[(frame["kind"] != "kernel") | frame["shape"].isin(wanted)]
    if frame.empty:
        return frame.reset_index(drop=True)
    from vecstudy.backends import available_backends

    registry = list(available_backends())
    order = frame.assign(
        _op=frame["operation"].map(lambda o: _ORDER.index(o) if o in _ORDER else len(_ORDER)),
        _size=frame["n_x"] * frame["m"],
        _be=frame["backend"].map(lambda b: registry.index(b) if b in registry else len(registry)),
    ).sort_values(["kind", "_size", "dtype", "threads", "_op", "_be"], kind="stable")
    return order.drop(columns=["_op", "_size", "_be"]).reset_index(drop=True)


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


# --------------------------------------------------------------------------- display
def _label(backend: str) -> str:
    from vecstudy.report.figures import LABELS

    return LABELS.get(backend, backend)


def _interval(lo: float, hi: float) -> str:
    from vecstudy.report.markdown import format_seconds

    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "-"
    return f"[{format_seconds(lo)}, {format_seconds(hi)}]"


def display_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The frame as short strings for a table, and the columns that hold one value only.

    Returns ``(table, constant)``: ``constant`` maps ``"shape"``, ``"dtype"`` or
    ``"threads"`` to its value when every row shares it (the caption says it
    once instead of a column repeating it).
    """
    import pandas as pd

    from vecstudy.report.markdown import format_ratio_ci, format_seconds

    constant: dict[str, str] = {}
    for col in ("shape", "dtype", "threads"):
        values = frame[col].unique()
        if len(values) == 1:
            constant[col] = str(values[0])
    rows = []
    for _, r in frame.iterrows():
        est = r["status"] == "estimated"
        est_vs = "estimated" in str(r["flags"]).split(", ")
        row = {
            "backend": plain(_label(str(r["backend"])), 40),
            "operation": _OPERATIONS.get(str(r["operation"]), plain(r["operation"], 40)),
            "shape": str(r["shape"]),
            "dtype": str(r["dtype"]),
            "threads": str(r["threads"]),
            "time": (
                "skipped"
                if r["status"] == "skipped"
                else ("~" if est else "") + format_seconds(r["seconds"]) + ("*" if est else "")
            ),
            "95% interval": _interval(r["seconds_lo"], r["seconds_hi"]),
            "vs Python loop": format_ratio_ci(
                r["vs_python"], r["vs_python_lo"], r["vs_python_hi"], est_vs and not est
            )
            if r["backend"] != "python"
            else "1x (baseline)",
            "vs NumPy": format_ratio_ci(r["vs_numpy"], r["vs_numpy_lo"], r["vs_numpy_hi"], est)
            if r["backend"] != "numpy"
            else "1x (baseline)",
            "flags": ", ".join(f for f in str(r["flags"]).split(", ") if f and f != "skipped"),
            "note": plain(r["note"], 60) if r["status"] == "skipped" else "",
        }
        rows.append(row)
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.drop(columns=[c for c in constant if c in table.columns])
        for col in ("flags", "note"):
            if not table[col].astype(bool).any():
                table = table.drop(columns=[col])
    return table, constant


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
    def _caption(self, constant: dict[str, str]) -> str:
        parts = [self.title]
        if "shape" in constant:
            parts.append(f"X {constant['shape']}")
        if "dtype" in constant:
            parts.append(constant["dtype"])
        if "threads" in constant:
            n = constant["threads"]
            parts.append(f"{n} thread" + ("s" if n != "1" else ""))
        rounds = self.frame["n"].max() if not self.frame.empty else 0
        parts.append(f"{rounds} interleaved rounds; median time per step, lower is better")
        if self.status != "complete":
            parts.append(f"run {self.status}: finished timings only")
        return ", ".join(str(p) for p in parts)

    def _table(self) -> tuple[pd.DataFrame, str, list[str]]:
        table, constant = display_frame(self.frame)
        notes = []
        if (self.frame["status"] == "estimated").any() or self.frame["flags"].str.contains(
            "estimated"
        ).any():
            notes.append(ESTIMATE_FOOTNOTE)
        if (table.get("flags", None) is not None) and table["flags"].astype(bool).any():
            from vecstudy.records.stats import FLAG_TEXT

            used = {f for cell in table["flags"] for f in cell.split(", ") if f in FLAG_TEXT}
            notes.append("flags: " + "; ".join(f"{f}: {FLAG_TEXT[f]}" for f in sorted(used)))
        return table, self._caption(constant), notes

    def __repr__(self) -> str:
        if self.frame.empty:
            return f"<StudyResult {self.kind}: no timings ({self.status})>"
        table, caption, notes = self._table()
        shown = table.head(REPR_ROWS)
        text = shown.to_string(index=False)
        more = len(table) - len(shown)
        lines = [caption, text]
        if more > 0:
            lines.append(f"... {more} more rows in .frame")
        return "\n".join([*lines, *notes])

    def _repr_html_(self) -> str:
        if self.frame.empty:
            return f"<p>{html.escape(repr(self))}</p>"
        table, caption, notes = self._table()
        body = table.to_html(escape=True, index=False, border=0, classes="vecstudy-result")
        foot = "".join(f"<p><small>{html.escape(n)}</small></p>" for n in notes)
        return f"<div><p><b>{html.escape(caption)}</b></p>{body}{foot}</div>"

    # ---------------------------------------------------------------- figure
    def plot(self) -> Figure:
        """A figure of the timings (matplotlib, no pyplot state).

        A comparison: bars of the median milliseconds per step (and per
        optimize iteration) of each backend on a log scale, whiskers the 95%
        interval, estimates hatched.  A study: the report's time-per-step figure
        against the size of ``X`` (:func:`vecstudy.report.figures.figure_time`).
        """
        from vecstudy.report import figures as fg

        with fg.plain_text():
            if self.kind == "compare":
                return figure_steps(self.frame, self.title)
            from vecstudy.records.stats import flag_bandwidth, summarize
            from vecstudy.report.tables import kernel_table

            kern = kernel_table(flag_bandwidth(summarize(self.rows, cores=self._cores())))
            if kern.empty:
                raise ValueError("no kernel case was timed; nothing to plot")
            skipped = self.rows[self.rows["status"] == "skipped"]
            return fg.figure_time(kern, int(kern["threads"].max()), skipped)

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


# --------------------------------------------------------------------------- figure
def figure_steps(frame: pd.DataFrame, title: str = "") -> Figure:
    """Bars: median milliseconds per gradient step and per optimize iteration, by backend.

    One panel per shape, dtype and thread setting; log y axis in milliseconds;
    whiskers are the 95% bootstrap interval of the median; a hatched bar is an
    estimate (the Python loop timed on fewer columns and scaled).  Each bar is
    labelled with its time and, for the fast backends, the speedup over the loop.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from vecstudy.report import figures as fg
    from vecstudy.report.markdown import format_ratio, format_seconds

    cases = frame[frame["kind"] == "kernel"]
    kern = cases[cases["status"] != "skipped"]
    if kern.empty:
        raise ValueError("no gradient step was timed; nothing to plot")
    panels = kern.drop_duplicates(["shape", "dtype", "threads"])[["shape", "dtype", "threads"]]
    ops = [o for o in ("propagate", "optimize") if o in set(cases["operation"])]
    backends = list(dict.fromkeys(cases["backend"]))
    n = len(panels)
    fig = Figure(figsize=(max(7.0, 2.0 + 3.6 * n), 5.0), layout="constrained")
    axes = fig.subplots(1, n, sharey=True, squeeze=False)[0]
    width = 0.8 / len(backends)
    any_est = False
    top = float((kern["seconds_hi"].fillna(kern["seconds"])).max()) * 1e3
    bottom = float(kern["seconds_lo"].fillna(kern["seconds"]).min()) * 1e3
    for ax, (_, p) in zip(axes, panels.iterrows(), strict=True):
        here = cases[
            (cases["shape"] == p["shape"])
            & (cases["dtype"] == p["dtype"])
            & (cases["threads"] == p["threads"])
        ]
        for i, be in enumerate(backends):
            for k, op in enumerate(ops):
                sel = here[(here["backend"] == be) & (here["operation"] == op)]
                if sel.empty:
                    continue
                r = sel.iloc[0]
                x = k + (i - (len(backends) - 1) / 2) * width
                if r["status"] == "skipped":
                    ax.text(
                        x,
                        0.02,
                        f"{fg.LABELS.get(be, be)}:\nskipped,\nover the\nbudget",
                        transform=ax.get_xaxis_transform(),
                        ha="center",
                        va="bottom",
                        fontsize=7,
                        color="0.3",
                    )
                    continue
                est = r["status"] == "estimated"
                any_est = any_est or est
                ms = float(r["seconds"]) * 1e3
                ax.bar(
                    x,
                    ms,
                    width * 0.9,
                    color=fg.color(be),
                    alpha=0.5 if est else 0.9,
                    hatch="//" if est else None,
                    edgecolor="0.2",
                    linewidth=0.6,
                )
                lo, hi = float(r["seconds_lo"]) * 1e3, float(r["seconds_hi"]) * 1e3
                if math.isfinite(lo) and math.isfinite(hi):
                    ax.errorbar(
                        x,
                        ms,
                        yerr=[[ms - lo], [hi - ms]],
                        fmt="none",
                        ecolor="0.1",
                        capsize=3,
                        linewidth=1,
                    )
                label = ("~" if est else "") + format_seconds(r["seconds"])
                if be != "python" and math.isfinite(r["vs_python"]):
                    label += f"\n{format_ratio(r['vs_python'])} vs loop"
                ax.annotate(
                    label,
                    (x, max(ms, hi if math.isfinite(hi) else ms)),
                    xytext=(0, 3),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
        ax.set_xticks(
            range(len(ops)),
            [
                "one gradient step\n(propagate)" if o == "propagate" else "one optimize\niteration"
                for o in ops
            ],
        )
        ax.set_xlim(-0.6, len(ops) - 0.4)
        t = int(p["threads"])
        ax.set_title(
            f"X {p['shape']}, {p['dtype']}, {t} thread" + ("s" if t != 1 else ""), fontsize=10
        )
        fg.log_y(ax)
    axes[0].set_ylabel("time per step (milliseconds, log scale)")
    axes[0].set_ylim(bottom / 2, top * 4)  # room for the labels above the bars
    handles: list[Any] = [
        Patch(facecolor=fg.color(b), edgecolor="0.2", label=fg.LABELS.get(b, b)) for b in backends
    ]
    handles.append(
        Line2D(
            [],
            [],
            color="0.1",
            marker="|",
            markersize=10,
            linestyle="none",
            label="whiskers: 95% interval of the median",
        )
    )
    if any_est:
        handles.append(
            Patch(
                facecolor="white",
                edgecolor="0.2",
                hatch="//",
                label="estimated: loop timed on fewer columns",
            )
        )
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False, fontsize=8)
    fig.suptitle(
        (f"{title}: " if title else "") + "time per step by backend (lower is better)",
        fontsize=11,
    )
    return fig
