"""``report.md``: the speed study's report, section by section.

:func:`build_markdown` puts the sections together: the plain-words headline
(:mod:`vecstudy.report.plain_words`), the figures, the *Kernels* tables, read bandwidth,
the micro-studies, the first calls, the skipped cases, asv, the roofline, the machine
and the commands that reproduce it all.  Every value that comes from the results
file is escaped (:mod:`vecstudy.escape`) and bounded.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Sequence
from typing import Any, Final

import pandas as pd

from vecstudy.escape import Markup, bounded, md_code, md_fence, md_text, md_unescape, one_line
from vecstudy.records.results import Results
from vecstudy.report.markdown import (
    format_bytes,
    format_flags,
    format_ratio_ci,
    format_seconds,
    joined,
    markdown_table,
)
from vecstudy.report.plain_words import base_threads, stability_lines, threads_words

#: Longest ``--note`` shown, longest command shown under *Reproduce*, most lines of
#: ``roofline.md`` embedded.
NOTE_LIMIT: Final = 500
COMMAND_LIMIT: Final = 2000
ROOFLINE_LINES: Final = 200


def _spread(r: pd.Series) -> str:
    q1, q3 = format_seconds(r["q1"]), format_seconds(r["q3"])
    return f"{format_seconds(r['min'])} / {q1}-{q3} / {format_seconds(r['max'])}"


def _blas_text(b: dict[str, Any]) -> Markup:
    """``"openblas 0.3.27 (blas, 2 threads, Haswell)"``, every part escaped; parts that
    threadpoolctl does not know (an OpenMP runtime's version and architecture) left out."""
    name = joined([p for p in (b.get("library"), b.get("version")) if p is not None], " ")
    threads = b.get("threads")
    what = joined(
        [
            p
            for p in (
                b.get("user_api"),
                None if threads is None else f"{threads} threads",
                b.get("architecture"),
            )
            if p is not None
        ]
    )
    return Markup(f"{name} ({what})")


def machine_section(results: Results) -> list[str]:
    """The ``## Machine`` section: one table per run, busy-machine and mixed-machine notes.

    Every value comes from the results file, which may have been written anywhere:
    each is escaped (:func:`vecstudy.escape.md_text`) and cut to a bounded length.
    """
    lines = ["## Machine", ""]
    for run in results.runs:
        mach = run.get("machine", {})
        threads = mach.get("threads", {}) if isinstance(mach.get("threads"), dict) else {}
        blas_libs = threads.get("blas", [])
        blas = joined(
            (
                _blas_text(b)
                for b in (blas_libs if isinstance(blas_libs, list) else [])
                if isinstance(b, dict)
            ),
            "; ",
        )
        numba_t = (
            Markup(
                f"{md_text(threads.get('numba_threads'), 20)} threads, layer "
                f"{md_text(threads.get('numba_threading_layer'), 40)}"
            )
            if "numba_threads" in threads
            else "not used"
        )
        env = mach.get("env")
        rows: list[tuple[str, object]] = [
            (
                "run",
                Markup(
                    f"{md_code(run.get('run_id'), 40)} ({md_text(run.get('status'), 20)}, "
                    f"{md_text(run.get('rows'), 20)} rows)"
                ),
            ),
            ("started / finished (UTC)", joined([run.get("started"), run.get("finished")], " / ")),
            ("CPU", mach.get("cpu")),
            ("cores (available)", f"{mach.get('cores')} ({mach.get('cores_available')})"),
            ("affinity", mach.get("affinity", "not recorded")),
            ("frequency governor", mach.get("governor") or "not reported by the OS"),
            ("memory", f"{mach.get('memory_gib')} GiB"),
            ("OS", mach.get("os")),
            ("Python", mach.get("python")),
            (
                "NumPy / Numba / pandas",
                joined([mach.get("numpy"), mach.get("numba"), mach.get("pandas")], " / "),
            ),
            ("BLAS (default threads)", blas or "not found"),
            ("Numba (default)", numba_t),
            (
                "environment",
                joined(f"{k}={v}" for k, v in env.items())
                if isinstance(env, dict) and env
                else "no thread/BLAS variable set",
            ),
            (
                "vecstudy",
                f"{mach.get('vecstudy')} (git {mach.get('git_commit') or 'unknown'})",
            ),
        ]
        load = mach.get("load_average")
        if load is not None:
            end = run.get("load_average_end")
            rows.append(("load average (1 min) at start / end", f"{load} / {end}"))
        if "error" in threads:
            rows.append(("thread info", f"unavailable: {threads['error']}"))
        lines += [markdown_table(["", ""], rows), ""]
        cores = mach.get("cores_available") or mach.get("cores") or 1
        if isinstance(load, int | float) and not isinstance(load, bool) and load > 0.5:
            lines += [
                f"**Busy machine:** the load average was {load} on {md_text(cores, 20)} "
                "cores when this run started: other processes competed for the cores. "
                "Timings with more than one thread suffer most (a parallel region waits for "
                "every thread to get a core).",
                "",
            ]
    hosts = {bounded(repr(r.get("machine", {}).get("hostname")), 200) for r in results.runs}
    if len(hosts) > 1:
        lines += ["**Warning:** this file holds runs from more than one machine.", ""]
    return lines


def _kernel_rows(kern: pd.DataFrame) -> list[list[object]]:
    rows = []
    order = kern.sort_values(
        ["operation", "dtype", "bytes_x", "backend", "threads"],
        ascending=[False, False, True, True, True],
    )
    for _, r in order.iterrows():
        rows.append(
            [
                r["operation"],
                f"{r['n_x']}x{r['m']}",
                format_bytes(r["bytes_x"]),
                r["dtype"],
                r["backend"],
                r["threads"],
                Markup(f"**{format_seconds(r['median'])}**"),
                _spread(r),
                int(r["n"]),
                Markup(
                    format_ratio_ci(
                        r["vs_python"],
                        r["vs_python_lo"],
                        r["vs_python_hi"],
                        bool(r["vs_python_est"]),
                    )
                ),
                Markup(format_ratio_ci(r["vs_numpy"], r["vs_numpy_lo"], r["vs_numpy_hi"])),
                f"{r['gbps']:.3g}",
                format_seconds(r["limit_s"]) + (" ⚠" if r["limit_flagged"] else ""),
                format_flags(r["flags"]),
            ]
        )
    return rows


FIG_TEXT: Final = {
    "headline": "One gradient step at the course's size (12288x209, float64), one thread: "
    "the Python loop, NumPy and Numba (log scale: each step of the axis is 10 times longer). "
    "A hatched bar is an estimate (the loop was too slow to time at that size).",
    "time": "Time per gradient step against the size of X, one thread setting per figure "
    "(bars: fastest and slowest timing). The grey band is the memory speed limit, the time "
    "to read the data once: no step can beat it by much (NumPy reads X twice per step). "
    "Cases not timed are listed under the panels.",
    "speedup": "How many times faster than the Python loop (timed on one thread), and than "
    "NumPy with the same threads, per gradient step; bars: 95% bootstrap intervals; hollow "
    "markers: over an estimated loop time.",
    "bandwidth": "How fast each step goes through the data (bytes of X divided by the time "
    "per step), against the memory speed measured by reading an array of the same size "
    "(the limit: black).",
    "timings": "The distribution of the raw timings of every kernel case, relative to its "
    "median: a stable case is a flat box at 1.",
    "micro": "The course's micro-studies. The course measured 530 ms for the loop and "
    "1.46 ms for `np.dot` on 1,000,000 elements (363x): dotted lines.",
    "asv": "Airspeed velocity's `time_*` benchmarks (latest result per machine).",
}


def _title_lines(
    results: Results,
    summary: pd.DataFrame,
    head: Sequence[str],
    note: str | None,
    run_ids: Sequence[str],
) -> list[str]:
    """The title, the note, *In plain words*, and which runs are shown or incomplete."""
    lines = ["# vecstudy speed study", ""]
    if note:
        lines += [f"> {md_text(note, NOTE_LIMIT)}", ""]
    lines += ["## In plain words", "", *head, *stability_lines(summary), ""]
    incomplete = [r for r in results.runs if r.get("status") != "complete"]
    for run in incomplete:
        lines += [
            f"**Incomplete run:** {md_code(run.get('run_id'), 40)} is "
            f"{md_text(run.get('status'), 20)} ({md_text(run.get('rows'), 20)} rows kept): "
            "cases after the interrupt are missing.",
            "",
        ]
    others = [r.get("run_id") for r in results.runs if r.get("run_id") not in run_ids]
    if others:
        lines += [
            f"This file holds {len(results.runs)} runs; this report shows the latest "
            f"({', '.join(md_code(r, 40) for r in run_ids)}). "
            "Compare runs with `vecstudy compare BASE NEW`.",
            "",
        ]
    return lines


def _method_lines(results: Results) -> list[str]:
    """How the cases were timed (interleaved or not), and the results file."""
    rows = results.rows
    interleaved = bool(rows["order"].notna().any())
    how = (
        "Every case was timed in interleaved rounds (each round times every backend of a "
        "shape once, in rotated order)"
        if interleaved
        else "This results file is of an older format: each case was timed in one block, "
        "one backend after the other, not interleaved"
    )
    return [
        "Batch gradient descent for binary logistic regression, three ways: the pure-Python "
        f"double loop, Numba-compiled loops and NumPy vectorized. {how}; times are medians "
        "of the raw timings, compilation excluded (see *First call*); spread is "
        "min / q1-q3 / max; speedups carry 95% bootstrap intervals.",
        "",
        f"Results file: {md_code(results.path, 300)} ({len(rows)} rows, "
        f"{len(results.runs)} run(s)).",
        "",
    ]


def _figure_lines(figures: Sequence[str]) -> list[str]:
    """Each figure (PNG, with a link to its SVG) and its caption."""
    lines: list[str] = []
    for stem in figures:
        lines += [f"![{stem}]({stem}.png)", "", f"{FIG_TEXT.get(stem, '')} ([SVG]({stem}.svg))", ""]
    return lines


#: The columns of the *Kernels* tables (:func:`_kernel_rows`).
KERNEL_HEADER: Final = (
    "op",
    "shape",
    "bytes X",
    "dtype",
    "backend",
    "threads",
    "median",
    "min / IQR / max",
    "n",
    "vs python",
    "vs numpy",
    "GB/s",
    "memory limit",
    "flags",
)


def _kernels_section(kern: pd.DataFrame) -> list[str]:
    """*Kernels*: one table for the headline's thread setting (with the loop), then one
    for each other setting."""
    if kern.empty:
        return []
    lines = [
        "## Kernels",
        "",
        "Time per gradient step (`propagate`) or per iteration (`optimize`). "
        "`vs python`: the Python loop's median (one thread) over this one (same shape "
        "and dtype), `~...*` where the loop's time is an estimate (it was too slow to "
        "time at that size); `vs numpy`: NumPy's median with the same threads over this "
        "one; brackets: 95% intervals; `GB/s`: bytes of X / median; `memory limit`: the "
        "time to read X once from memory at the speed measured here, which no step can "
        "beat by much (⚠: that measurement was slower than a step, so it bounds "
        "nothing); `flags`: stability (⚠, see *In plain words*).",
        "",
    ]
    one = base_threads(kern)
    settings = [one, *sorted({int(t) for t in kern["threads"]} - {one})]
    for t in settings:
        if t == one:
            part = kern[(kern["threads"] == one) | (kern["backend"] == "python")]
        else:
            part = kern[(kern["threads"] == t) & (kern["backend"] != "python")]
        if part.empty:
            continue
        if len(settings) > 1:
            lines += [f"### {threads_words(t).capitalize()}", ""]
            if t != one:
                lines += [
                    "Shown apart: on a shared or busy machine timings with more threads "
                    "are noisy, and NumPy's BLAS threads are not Numba's. `vs python` is "
                    "still over the loop on one thread.",
                    "",
                ]
        lines += [markdown_table(KERNEL_HEADER, _kernel_rows(part)), ""]
    return lines


def _bandwidth_section(summary: pd.DataFrame) -> list[str]:
    """*Read bandwidth*: the probes that bound each step, when they were measured."""
    read = summary[summary["kind"] == "bandwidth"]
    if read.empty:
        return []
    return [
        "## Read bandwidth",
        "",
        "One pass reading every element of an array as large as X "
        "(Numba's parallel `read_sum` when available, else `numpy.sum`).",
        "",
        markdown_table(
            [
                "bytes",
                "dtype",
                "threads",
                "reader",
                "median",
                "GB/s",
                "min / IQR / max",
                "flags",
            ],
            [
                [
                    format_bytes(r["bytes_x"]),
                    r["dtype"],
                    r["threads"],
                    r["backend"],
                    format_seconds(r["median"]),
                    f"{r['bytes_x'] / r['median'] / 1e9:.3g}",
                    _spread(r),
                    format_flags(r["flags"]),
                ]
                for _, r in read.sort_values(["dtype", "bytes_x", "threads"]).iterrows()
            ],
        ),
        "",
    ]


def _micro_section(summary: pd.DataFrame) -> list[str]:
    """*Micro-studies*: the course's dot product and loops, each against the Python loop."""
    micro = summary[summary["kind"] == "micro"]
    if micro.empty:
        return []
    from vecstudy.records.stats import ratio_ci

    mrows = []
    for op, g in micro.groupby("operation", sort=False):
        base = g[g["backend"] == "python"]
        for _, r in g.sort_values(["backend", "threads"]).iterrows():
            vs = (
                ratio_ci(base.iloc[0]["samples"], r["samples"])
                if not base.empty and r["backend"] != "python"
                else (math.nan, math.nan, math.nan)
            )
            mrows.append(
                [
                    op,
                    f"{r['n_x']} x {r['m']:,}" if r["n_x"] > 1 else f"{r['m']:,}",
                    r["backend"],
                    r["threads"],
                    format_seconds(r["median"]),
                    _spread(r),
                    Markup(format_ratio_ci(*vs)),
                    format_flags(r["flags"]),
                ]
            )
    return [
        "## Micro-studies",
        "",
        "The course: dot product of two 1,000,000-element vectors, loop 530 ms vs "
        "`np.dot` 1.46 ms (363x).",
        "",
        markdown_table(
            [
                "study",
                "n",
                "implementation",
                "threads",
                "median",
                "min / IQR / max",
                "vs loop",
                "flags",
            ],
            mrows,
        ),
        "",
    ]


def _first_call_section(rows: pd.DataFrame) -> list[str]:
    """*First call*: the longest first call of each Numba kernel (its compilation)."""
    warm = rows[
        (rows["backend"] == "numba") & rows["warmup_s"].notna() & (rows["kind"] == "kernel")
    ]
    if warm.empty:
        return []
    first = warm.groupby(["dtype", "operation"])["warmup_s"].max().reset_index()
    return [
        "## First call (Numba compilation)",
        "",
        "Longest first call of each Numba kernel on a small problem in this sweep: "
        "compilation, or loading from Numba's on-disk cache when it is warm.",
        "",
        markdown_table(
            ["kernel", "dtype", "first call"],
            [
                [r["operation"], r["dtype"], format_seconds(r["warmup_s"])]
                for _, r in first.iterrows()
            ],
        ),
        "",
    ]


def _skipped_section(rows: pd.DataFrame) -> list[str]:
    """*Skipped cases*, each with its reason (or a line saying there is none)."""
    skipped = rows[rows["status"] == "skipped"]
    lines = ["## Skipped cases", ""]
    if skipped.empty:
        return [*lines, "None: every planned case was timed.", ""]
    return [
        *lines,
        markdown_table(
            ["kind", "op", "backend", "shape", "dtype", "threads", "reason"],
            [
                [
                    r["kind"],
                    r["operation"],
                    r["backend"],
                    f"{r['n_x']}x{r['m']}",
                    r["dtype"],
                    r["threads"],
                    r["reason"],
                ]
                for _, r in skipped.iterrows()
            ],
        ),
        "",
    ]


def _roofline_section(roofline: str | None) -> list[str]:
    """``roofline.md`` embedded (:func:`roofline_lines`), when it lies beside the report."""
    if not roofline:
        return []
    return [
        "## Numba at the memory roofline",
        "",
        "From [roofline.md](roofline.md), written by `vecstudy roofline --output` "
        "(its own run, machine and command are in that file):",
        "",
        *roofline_lines(roofline),
        "",
    ]


def _reproduce_section(results: Results, report_command: str) -> list[str]:
    """*Reproduce*: each run's recorded command (:func:`reproduce_line`), then the report's."""
    commands = [
        reproduce_line(run.get("command"), i, len(results.runs))
        for i, run in enumerate(results.runs)
    ]
    return ["## Reproduce", "", *md_fence([*commands, report_command], "sh"), ""]


def build_markdown(
    results: Results,
    summary: pd.DataFrame,
    kern: pd.DataFrame,
    figures: Sequence[str],
    *,
    head: Sequence[str],
    report_command: str,
    asv_lines: Sequence[str] = (),
    roofline: str | None = None,
    note: str | None = None,
    run_ids: Sequence[str] = (),
) -> str:
    """The text of ``report.md`` (figures are referenced by file name, relative to it)."""
    lines = [
        *_title_lines(results, summary, head, note, run_ids),
        *_method_lines(results),
        *_figure_lines(figures),
        *_kernels_section(kern),
        *_bandwidth_section(summary),
        *_micro_section(summary),
        *_first_call_section(results.rows),
        *_skipped_section(results.rows),
        *asv_lines,
        *_roofline_section(roofline),
        *machine_section(results),
        *_reproduce_section(results, report_command),
    ]
    return "\n".join(lines)


def reproduce_line(command: object, index: int = 0, total: int = 1) -> str:
    """A run's recorded ``command`` as one safe shell line, or a comment saying why not.

    The command comes from the results file: it is split as the shell would and
    joined again with every word quoted (:func:`shlex.join`), so the line is one
    ``vecstudy`` command whatever the file holds; a command with a line break or
    another control character, one that does not parse or does not start with
    ``vecstudy`` is not shown.

    >>> print(reproduce_line("vecstudy bench --shapes 10x100; rm -rf ~"))
    vecstudy bench --shapes '10x100;' rm -rf '~'
    >>> print(reproduce_line("vecstudy bench\\n```\\nrm -rf ~", 1, 2))
    # run 2 of 2: command not shown (it holds a line break or control character)
    """
    why = None
    words: list[str] = []
    if not isinstance(command, str) or not command.strip():
        why = "none recorded"
    elif one_line(command) != command:
        why = "it holds a line break or control character"
    elif len(command) > COMMAND_LIMIT:
        why = f"longer than {COMMAND_LIMIT} characters"
    else:
        try:
            words = shlex.split(command)
        except ValueError:
            why = "it is not a shell command line"
        else:
            if not words or words[0] != "vecstudy":
                why = "it does not start with 'vecstudy'"
    if why is not None:
        return f"# run {index + 1} of {total}: command not shown ({why})"
    return shlex.join(words)


_ROOFLINE: Final = re.compile(
    r"\AMeasured on (?P<machine>[^\n]*?)(?: with (?P<command>[^\n]*))?\.\n\n"
    r"(?P<fence>`{3,})text\n(?P<table>.*?)\n(?P=fence)\s*\Z",
    re.DOTALL,
)


def roofline_lines(text: str) -> list[str]:
    """The text of ``roofline.md`` (written by :func:`vecstudy.report.roofline.to_markdown`) as
    lines to embed: its first line escaped again, its table in a fence it cannot close.

    The file lies beside the report and may have been written by anyone: anything
    that is not in the shape ``to_markdown`` writes is shown as plain text in a fence.
    """
    m = _ROOFLINE.match(text.strip() + "\n")
    if m is None:
        return [
            "(roofline.md is not in the form `vecstudy roofline --output` writes; shown as text)",
            "",
            *md_fence(text.strip().splitlines()[:ROOFLINE_LINES], "text"),
        ]
    machine = md_text(md_unescape(m["machine"]), 300)
    command = m["command"]
    if command is None:
        head = f"Measured on {machine}."
    else:
        if len(command) > 1 and command.startswith("`") and command.endswith("`"):
            command = command.strip("`").strip()  # a code span: its text is literal
        else:
            command = md_unescape(command)
        head = f"Measured on {machine} with {md_code(command, 300)}."
    return [
        head,
        "",
        *md_fence(m["table"].splitlines()[:ROOFLINE_LINES], "text"),
    ]
