"""The speed study's report: rows -> figures (matplotlib) and Markdown.  No timing here.

Reads a results file written by :func:`vecstudy.study.sweep.run_sweep` (and,
optionally, airspeed velocity's results directory) and writes, into one
directory:

``headline.png/.svg``
    One gradient step at the course's 12288x209, one thread: the Python loop,
    NumPy and Numba as bars (milliseconds, log scale), each with its speedup.
``time.png/.svg``
    Time per gradient step against the size of ``X``.
``speedup.png/.svg``
    Speedup over the Python loop and over NumPy, with 95% intervals.
``bandwidth.png/.svg``
    Effective bandwidth ``bytes(X) / time per step`` against the measured read bandwidth.
``timings.png/.svg``
    The distribution of the raw timings of every kernel case (box plots).
``micro.png/.svg``
    The course's micro-studies (dot product, exp loop): loop vs NumPy vs Numba.
``asv.png/.svg``
    Airspeed velocity's ``time_*`` results, when given.
``report.md``
    The plain-words headline, the figures, tables with intervals and
    stability flags, skipped cases, machine information and the commands.

Figures show one thread setting, the headline's (one thread when it was run);
other thread settings have their own headline line and table section.

Modules: :mod:`~vecstudy.report.tables` (speedups), :mod:`~vecstudy.report.figures`,
:mod:`~vecstudy.report.markdown` (formats, escaped tables), :mod:`~vecstudy.report.plain_words`,
:mod:`~vecstudy.report.document` (``report.md``), :mod:`~vecstudy.report.asv`; the other
commands' renderers: :mod:`~vecstudy.report.compare`, :mod:`~vecstudy.report.roofline`,
:mod:`~vecstudy.report.dask_study`.  Every file is written atomically.
"""

from __future__ import annotations

import importlib
import os
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vecstudy.escape import one_line, plain

if TYPE_CHECKING:
    from vecstudy.records.results import Results
    from vecstudy.records.stats import summarize
    from vecstudy.report.asv import (
        asv_history,
        commit_check,
        latest_asv,
        load_asv,
    )
    from vecstudy.report.markdown import (
        format_bytes,
        format_ratio,
        format_ratio_ci,
        format_seconds,
        markdown_table,
    )
    from vecstudy.report.tables import kernel_table

#: Names this package gives from its modules, imported on first use: pandas and
#: matplotlib load only for what needs them (``vecstudy tune`` imports
#: :mod:`vecstudy.report.tune`, and with it this package, and needs neither).
_LAZY: dict[str, str] = {
    "summarize": "vecstudy.records.stats",
    "asv_history": "vecstudy.report.asv",
    "commit_check": "vecstudy.report.asv",
    "latest_asv": "vecstudy.report.asv",
    "load_asv": "vecstudy.report.asv",
    "format_bytes": "vecstudy.report.markdown",
    "format_ratio": "vecstudy.report.markdown",
    "format_ratio_ci": "vecstudy.report.markdown",
    "format_seconds": "vecstudy.report.markdown",
    "markdown_table": "vecstudy.report.markdown",
    "kernel_table": "vecstudy.report.tables",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once
    return value


__all__ = [
    "ReportFiles",
    "asv_history",
    "commit_check",
    "format_bytes",
    "format_ratio",
    "format_ratio_ci",
    "format_seconds",
    "kernel_table",
    "latest_asv",
    "load_asv",
    "markdown_table",
    "summarize",
    "write_report",
]


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by :func:`write_report`: ``markdown``, every figure file, the headline."""

    markdown: Path
    figures: tuple[Path, ...]
    headline: tuple[str, ...] = ()
    incomplete: tuple[str, ...] = ()


def latest_run_ids(results: Results) -> list[str]:
    """The ``run_id`` of the most recent run that has timed rows (all runs share no median)."""
    ok = results.rows[results.rows["status"] == "ok"]
    with_rows = [r for r in results.runs if r.get("run_id") in set(ok["run_id"])]
    if not with_rows:
        return []
    latest = max(with_rows, key=lambda r: str(r.get("started") or ""))
    return [str(latest["run_id"])]


def micro_ratios(summary: Any) -> dict[str, tuple[float, float, float, int]]:
    """Dot product over the Python loop: ``{"numpy": (ratio, low, high, n), "numba": ...}``,
    each with its fewest threads (one, when it was run)."""
    from vecstudy.records.stats import ratio_ci

    dot = summary[(summary["kind"] == "micro") & (summary["operation"] == "dot")]
    py = dot[dot["backend"] == "python"]
    out: dict[str, tuple[float, float, float, int]] = {}
    if py.empty:
        return out
    for be in ("numpy", "numba"):
        here = dot[dot["backend"] == be]
        if here.empty:
            continue
        # one thread, as the headline's other lines (the loop runs on one)
        best = here.loc[here["threads"].idxmin()]
        r, lo, hi = ratio_ci(py.iloc[0]["samples"], best["samples"])
        out[be] = (r, lo, hi, int(best["m"]))
    return out


def write_report(
    results_file: str | os.PathLike[str],
    *,
    output_dir: str | os.PathLike[str] = "reports",
    asv_dir: str | os.PathLike[str] | None = None,
    note: str | None = None,
    formats: Sequence[str] = ("png", "svg"),
) -> ReportFiles:
    """Write the figures and ``report.md`` for a results file into ``output_dir``.

    Parameters
    ----------
    results_file : path
        Written by ``vecstudy bench`` or ``vecstudy study``.  When it holds
        several runs, the latest one with timings is reported (medians are never
        pooled across runs); ``vecstudy compare`` compares runs.
    output_dir : path
        Created if missing; existing report files are replaced atomically.
    asv_dir : path, optional
        Airspeed velocity's results directory (e.g. ``.asv/results``).
    note : str, optional
        A line shown at the top of ``report.md`` (e.g. where the results come from).
    formats : sequence of str
        Figure file formats; empty: no figures (``report.md`` alone).

    Returns
    -------
    ReportFiles

    Raises
    ------
    FileNotFoundError, ValueError
        If the results file (or the asv directory) is missing or malformed, with a
        one-line message naming it; ValueError too if it holds no timed case.
    """
    from vecstudy.records.results import Results, atomic_write_text, load_results
    from vecstudy.records.stats import flag_bandwidth, machine_cores, summarize
    from vecstudy.report import figures as fg
    from vecstudy.report.asv import asv_markdown, latest_asv, load_asv
    from vecstudy.report.document import build_markdown
    from vecstudy.report.plain_words import headline, stability_lines
    from vecstudy.report.tables import kernel_table

    if note is not None:
        note = one_line(note)  # one line in report.md and in the command that repeats it

    asv = None if asv_dir is None else load_asv(asv_dir)
    results = load_results(results_file)
    run_ids = latest_run_ids(results)
    rows = results.rows[results.rows["run_id"].isin(run_ids)]
    summary = flag_bandwidth(summarize(rows, cores=machine_cores(results, run_ids)))
    if summary.empty:
        raise ValueError(f"results file {results.path} holds no timed case (all skipped or empty)")
    shown = Results(results.path, rows, results.runs)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    kern = kernel_table(summary)
    all_threads = int(summary["threads"].max())
    figures: list[str] = []
    paths: list[Path] = []

    def add(stem: str, make: Callable[[], Any]) -> None:
        if formats:
            with fg.plain_text():
                paths.extend(fg.save(make(), out / stem, formats))
            figures.append(stem)

    if not kern.empty:
        skipped = rows[rows["status"] == "skipped"]
        head_fig = fg.figure_headline(kern) if formats else None
        if head_fig is not None:
            add("headline", lambda: head_fig)
        add("time", lambda: fg.figure_time(kern, all_threads, skipped))
        add("speedup", lambda: fg.figure_speedup(kern, all_threads))
        if (summary["kind"] == "bandwidth").any():
            add("bandwidth", lambda: fg.figure_bandwidth(kern, summary, all_threads))
        add("timings", lambda: fg.figure_timings(summary))
    micro = summary[summary["kind"] == "micro"]
    if not micro.empty:
        skipped_micro = rows[(rows["status"] == "skipped") & (rows["kind"] == "micro")]
        add("micro", lambda: fg.figure_micro(micro, all_threads, skipped=skipped_micro))
    asv_lines: list[str] = []
    if asv is not None:
        latest = latest_asv(asv)
        if (latest["benchmark"].str.contains(r"\.time_") & latest["value"].notna()).any():
            from vecstudy.report.asv import figure_asv

            add("asv", lambda: figure_asv(latest))
        run = next((r for r in results.runs if r.get("run_id") in run_ids), {})
        commit = run.get("machine", {}).get("git_commit")
        asv_lines = asv_markdown(str(asv_dir), asv, commit if isinstance(commit, str) else None)
    args = ["vecstudy", "report", str(results.path), "--output-dir", str(out)]
    if asv_dir is not None:
        args += ["--asv", str(asv_dir)]
    if note:
        args += ["--note", note]
    roof = out / "roofline.md"
    head = headline(summary, kern, micro_ratios(summary), bool(rows["order"].notna().any()))
    text = build_markdown(
        shown,
        summary,
        kern,
        figures,
        head=head,
        report_command=shlex.join(args),
        asv_lines=asv_lines,
        roofline=roof.read_text(encoding="utf-8") if roof.is_file() else None,
        note=note,
        run_ids=run_ids,
    )
    md = out / "report.md"
    atomic_write_text(md, text)
    incomplete = tuple(
        f"run {plain(r.get('run_id'), 40)} is {plain(r.get('status'), 20)} "
        f"({plain(r.get('rows'), 20)} rows kept)"
        for r in results.runs
        if r.get("status") != "complete"
    )
    return ReportFiles(
        markdown=md,
        figures=tuple(paths),
        headline=(*head, *stability_lines(summary)),
        incomplete=incomplete,
    )
