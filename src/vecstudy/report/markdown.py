"""Tables -> Markdown: number formats, the plain-words headline, and ``report.md``.

The headline comes first (in ``report.md`` and on the console): at the course's
dot-product size and at one or two training shapes, how many times faster
NumPy and Numba are than the Python loop, with 95% intervals; times of a loop
that was skipped as too slow are estimated (and marked as estimates).
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Iterable, Sequence
from typing import Any, Final

import pandas as pd

from vecstudy.escape import Markup, bounded, md_code, md_fence, md_text, md_unescape, one_line
from vecstudy.records.results import Results
from vecstudy.study.stats import FLAG_TEXT

#: The course's training set: 209 images of 64x64x3 (12,288 features).
COURSE_SHAPE: Final = (12288, 209)
#: Longest ``--note`` shown, longest command shown under *Reproduce*, most lines of
#: ``roofline.md`` embedded.
NOTE_LIMIT: Final = 500
COMMAND_LIMIT: Final = 2000
ROOFLINE_LINES: Final = 200


# --------------------------------------------------------------------------- formatting
def format_seconds(s: float | None) -> str:
    """``0.00123`` -> ``"1.23 ms"``; NaN -> ``"-"``."""
    if s is None or not math.isfinite(s):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(s) >= scale or unit == "ns":
            return f"{s / scale:.3g} {unit}"
    return f"{s:.3g} s"  # pragma: no cover - loop always returns


def format_bytes(n: float) -> str:
    """``8e6`` -> ``"8 MB"`` (decimal units, as bandwidths are quoted)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def format_ratio(x: float | None) -> str:
    """``363.2`` -> ``"363x"``; NaN -> ``"-"``."""
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.0f}x" if x >= 100 else f"{x:.3g}x"


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def format_ratio_ci(ratio: float, low: float, high: float, estimated: bool = False) -> str:
    """``"250x [230-270]"``; an estimate is marked ``"~250x* [...]"``; NaN -> ``"-"``."""
    if not math.isfinite(ratio):
        return "-"
    text = ("~" if estimated else "") + format_ratio(ratio) + ("*" if estimated else "")
    if math.isfinite(low) and math.isfinite(high):
        text += f" [{_num(low)}-{_num(high)}]"
    return text


def _relation(ratio: float, low: float, high: float) -> str:
    """``"faster"``, ``"slower"`` or ``"same"`` (the interval holds 1x), for ``ratio``
    = the loop's time over this one's."""
    if math.isfinite(low) and math.isfinite(high) and low <= 1 <= high:
        return "same"
    return "faster" if ratio >= 1 else "slower"


def versus_loop(parts: Sequence[tuple[str, float, float, float, bool]]) -> str:
    """Plain words for speedups over the Python loop: ``(name, ratio, low, high, estimated)``.

    When every one is faster: ``"NumPy 29x [22-38] and Numba 47x [34-78] faster than
    the Python loop"``; otherwise each says its own: a ratio below 1 is turned into
    "N times slower", one whose interval holds 1x is "about as fast as".

    >>> text = versus_loop([("NumPy", 0.25, 0.2, 0.5, False), ("Numba", 1.1, 0.9, 1.3, False)])
    >>> for part in text.split("; "):
    ...     print(part)
    NumPy 4x [2-5] slower than the Python loop
    Numba 1.1x [0.9-1.3]: about as fast as the Python loop
    """
    relations = [_relation(r, lo, hi) for _, r, lo, hi, _ in parts]
    if all(rel == "faster" for rel in relations):
        return (
            " and ".join(f"{n} {format_ratio_ci(r, lo, hi, e)}" for n, r, lo, hi, e in parts)
            + " faster than the Python loop"
        )
    words = []
    for (name, r, lo, hi, est), rel in zip(parts, relations, strict=True):
        if rel == "slower":
            words.append(f"{name} {format_ratio_ci(1 / r, 1 / hi, 1 / lo, est)} slower than")
        elif rel == "same":
            words.append(f"{name} {format_ratio_ci(r, lo, hi, est)}: about as fast as")
        else:
            words.append(f"{name} {format_ratio_ci(r, lo, hi, est)} faster than")
    return "; ".join(w + " the Python loop" for w in words)


def _cell(value: object) -> str:
    """A table cell: :class:`~vecstudy.escape.Markup` as it is (on one line), else escaped."""
    if isinstance(value, Markup):
        return one_line(value)
    return md_text(value, block_start=False)


def markdown_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; every cell is escaped unless it is ``Markup``.

    Text from a file cannot add a row or a column, a tag or a link: each cell is one
    line of :func:`vecstudy.escape.md_text` (``|``, backticks, ``<``, ``&``, brackets,
    emphasis escaped), cut to :data:`vecstudy.escape.TEXT_LIMIT` characters.

    >>> print(markdown_table(["a"], [["x|y<z>"], [Markup("**1 ms**")]]))
    | a |
    |---|
    | x\\|y&lt;z> |
    | **1 ms** |
    """
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def format_flags(flags: Sequence[str]) -> str:
    """``["cv", "load"]`` -> ``"⚠ cv, load"``; none -> ``""``."""
    return ("⚠ " + ", ".join(flags)) if flags else ""


# --------------------------------------------------------------------------- headline
def headline(
    summary: pd.DataFrame,
    kern: pd.DataFrame,
    micro_ratios: dict[str, Any],
    interleaved: bool = True,
) -> list[str]:
    """The plain-words answer, as Markdown bullet lines (empty when nothing was measured).

    ``micro_ratios`` maps ``"numpy"``/``"numba"`` to ``(ratio, low, high, n)`` of
    the dot product over the Python loop.
    """
    lines: list[str] = []
    if micro_ratios:
        n = next(iter(micro_ratios.values()))[3]
        dot = [
            (
                name,
                float(micro_ratios[key][0]),
                float(micro_ratios[key][1]),
                float(micro_ratios[key][2]),
                False,
            )
            for key, name in (("numpy", "NumPy's `np.dot`"), ("numba", "Numba's compiled loop"))
            if key in micro_ratios
        ]
        lines.append(
            f"- **Dot product of two {n:,}-element vectors** (the course's example): "
            + versus_loop(dot)
            + " (the course measured 363x for `np.dot`)."
        )
    opt = kern[(kern["operation"] == "optimize") & (kern["backend"] != "python")]
    if not opt.empty:
        dtype = "float64" if "float64" in set(opt["dtype"]) else str(opt["dtype"].iloc[0])
        threads = int(opt["threads"].max())
        opt = opt[(opt["dtype"] == dtype) & (opt["threads"] == threads)]
        sizes = opt.drop_duplicates(["n_x", "m"])[["n_x", "m"]]
        target = COURSE_SHAPE[0] * COURSE_SHAPE[1]
        elements = sizes["n_x"] * sizes["m"]
        picks = []
        wanted = [be for be in ("numpy", "numba") if be in set(opt["backend"])]
        finite = opt[opt["vs_python"].astype(float).map(math.isfinite)]
        complete = [
            set(finite[(finite["n_x"] == n) & (finite["m"] == mm)]["backend"]) >= set(wanted)
            for n, mm in zip(sizes["n_x"], sizes["m"], strict=True)
        ]
        if not sizes.empty:
            # the size nearest the course's, among those where every backend was timed
            distance = [
                abs(math.log(e / target)) + (0 if ok else math.inf)
                for e, ok in zip(elements, complete, strict=True)
            ]
            if not any(complete):
                distance = [abs(math.log(e / target)) for e in elements]
            near = sizes.iloc[distance.index(min(distance))]
            picks.append((int(near["n_x"]), int(near["m"])))
            big = sizes.iloc[int(elements.to_numpy().argmax())]
            if (int(big["n_x"]), int(big["m"])) not in picks:
                picks.append((int(big["n_x"]), int(big["m"])))
        any_est = False
        for n_x, m in picks:
            here = opt[(opt["n_x"] == n_x) & (opt["m"] == m)]
            parts: list[tuple[str, float, float, float, bool]] = []
            for be, name in (("numpy", "NumPy"), ("numba", "Numba")):
                r = here[here["backend"] == be]
                if r.empty or not math.isfinite(r.iloc[0]["vs_python"]):
                    continue
                r0 = r.iloc[0]
                any_est |= bool(r0["vs_python_est"])
                parts.append(
                    (
                        name,
                        float(r0["vs_python"]),
                        float(r0["vs_python_lo"]),
                        float(r0["vs_python_hi"]),
                        bool(r0["vs_python_est"]),
                    )
                )
            missing = [
                name
                for be, name in (("numpy", "NumPy"), ("numba", "Numba"))
                if be in wanted
                and not (
                    (finite["backend"] == be) & (finite["n_x"] == n_x) & (finite["m"] == m)
                ).any()
            ]
            note = (
                f" ({' and '.join(missing)}: not timed at this size, see *Skipped cases*)"
                if missing
                else ""
            )
            if parts:
                nbytes = here.iloc[0]["bytes_x"]
                lines.append(
                    f"- **One gradient-descent iteration, X of {n_x}x{m} {md_text(dtype, 20)}** "
                    f"({format_bytes(nbytes)}, {threads} thread{'s' if threads > 1 else ''}): "
                    + versus_loop(parts)
                    + f"{note}."
                )
        if any_est:
            lines.append(
                "- `~...*`: an estimate. The Python loop was skipped at that size as too slow; "
                "its time is its measured cost per element of X at the largest size it was "
                "timed at, times the elements."
            )
    if lines:
        how = "interleaved timings" if interleaved else "timings (not interleaved)"
        lines.append(
            "- Brackets: 95% confidence interval (percentile bootstrap of the ratio of medians "
            f"of the {how} of this run)."
        )
    return lines


def stability_lines(summary: pd.DataFrame) -> list[str]:
    """One line summarizing the stability flags of every case."""
    if summary.empty:
        return []
    flagged = summary[summary["flags"].map(bool)]
    if flagged.empty:
        return [f"- **Stability:** all {len(summary)} cases stable (no pyperf-style flag)."]
    counts: dict[str, int] = {}
    for flags in flagged["flags"]:
        for f in flags:
            counts[f] = counts.get(f, 0) + 1
    detail = "; ".join(f"{k}: {v} ({FLAG_TEXT[k]})" for k, v in sorted(counts.items()))
    return [
        f"- **Stability:** {len(flagged)} of {len(summary)} cases flagged unstable ⚠ "
        f"({detail}). Their numbers are less certain than their intervals say; flagged cases "
        "are marked ⚠ in the tables and circled in the figures."
    ]


# --------------------------------------------------------------------------- report.md
def _spread(r: pd.Series) -> str:
    q1, q3 = format_seconds(r["q1"]), format_seconds(r["q3"])
    return f"{format_seconds(r['min'])} / {q1}-{q3} / {format_seconds(r['max'])}"


def _joined(parts: Iterable[object], sep: str = ", ", limit: int = 12) -> Markup:
    """Escaped ``parts`` joined by ``sep``, at most ``limit`` of them."""
    items = list(parts)
    more = f"{sep}... ({len(items) - limit} more)" if len(items) > limit else ""
    return Markup(
        sep.join(
            _cell(p) if isinstance(p, Markup) else md_text(p, 80, block_start=False)
            for p in items[:limit]
        )
        + more
    )


def _blas_text(b: dict[str, Any]) -> Markup:
    """``"openblas 0.3.27 (blas, 2 threads, Haswell)"``, every part escaped."""
    name = _joined([b.get("library"), b.get("version")], " ")
    what = _joined([b.get("user_api"), f"{b.get('threads')} threads", b.get("architecture")])
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
        blas = _joined(
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
            ("started / finished (UTC)", _joined([run.get("started"), run.get("finished")], " / ")),
            ("CPU", mach.get("cpu")),
            ("cores (available)", f"{mach.get('cores')} ({mach.get('cores_available')})"),
            ("affinity", mach.get("affinity", "not recorded")),
            ("frequency governor", mach.get("governor") or "not reported by the OS"),
            ("memory", f"{mach.get('memory_gib')} GiB"),
            ("OS", mach.get("os")),
            ("Python", mach.get("python")),
            (
                "NumPy / Numba / pandas",
                _joined([mach.get("numpy"), mach.get("numba"), mach.get("pandas")], " / "),
            ),
            ("BLAS (default threads)", blas or "not found"),
            ("Numba (default)", numba_t),
            (
                "environment",
                _joined(f"{k}={v}" for k, v in env.items())
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
    "time": "Time per gradient step and per optimize iteration against the size of X "
    "(bars: min-max of the raw timings). The grey line is the time to read X once at the "
    "measured read bandwidth: no step can beat it by much (NumPy reads X twice per step).",
    "speedup": "Speedup per gradient step and per optimize iteration over the Python loop "
    "(timed on one thread) and over NumPy with the same thread setting; bars: 95% bootstrap "
    "intervals; hollow markers: over an estimated loop time.",
    "bandwidth": "Effective bandwidth, bytes of X divided by the time per step, against "
    "the bandwidth measured by reading an array of the same size (black).",
    "timings": "The distribution of the raw timings of every kernel case, relative to its "
    "median: a stable case is a flat box at 1.",
    "micro": "The course's micro-studies. The course measured 530 ms for the loop and "
    "1.46 ms for `np.dot` on 1,000,000 elements (363x): dotted lines.",
    "asv": "Airspeed velocity's `time_*` benchmarks (latest result per machine).",
}


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
    rows = results.rows
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
    interleaved = bool(rows["order"].notna().any())
    how = (
        "Every case was timed in interleaved rounds (each round times every backend of a "
        "shape once, in rotated order)"
        if interleaved
        else "This results file is of an older format: each case was timed in one block, "
        "one backend after the other, not interleaved"
    )
    lines += [
        "Batch gradient descent for binary logistic regression, three ways: the pure-Python "
        f"double loop, Numba-compiled loops and NumPy vectorized. {how}; times are medians "
        "of the raw timings, compilation excluded (see *First call*); spread is "
        "min / q1-q3 / max; speedups carry 95% bootstrap intervals.",
        "",
        f"Results file: {md_code(results.path, 300)} ({len(rows)} rows, "
        f"{len(results.runs)} run(s)).",
        "",
    ]
    for stem in figures:
        lines += [f"![{stem}]({stem}.png)", "", f"{FIG_TEXT.get(stem, '')} ([SVG]({stem}.svg))", ""]
    if not kern.empty:
        lines += [
            "## Kernels",
            "",
            "Seconds per gradient step (`propagate`) or per iteration (`optimize`). "
            "`vs python`: the Python loop's median over this one (same shape and dtype), "
            "`~...*` where the loop was estimated; `vs numpy`: NumPy's median with the same "
            "threads over this one; brackets: 95% intervals; `GB/s`: bytes of X / median; "
            "`read X`: time to read X once at the measured read bandwidth (⚠: that "
            "measurement was slower than a step, so it bounds nothing); `flags`: stability.",
            "",
            markdown_table(
                [
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
                    "read X",
                    "flags",
                ],
                _kernel_rows(kern),
            ),
            "",
        ]
    read = summary[summary["kind"] == "bandwidth"]
    if not read.empty:
        lines += [
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
    micro = summary[summary["kind"] == "micro"]
    if not micro.empty:
        from vecstudy.study.stats import ratio_ci

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
        lines += [
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
    warm = rows[
        (rows["backend"] == "numba") & rows["warmup_s"].notna() & (rows["kind"] == "kernel")
    ]
    if not warm.empty:
        first = warm.groupby(["dtype", "operation"])["warmup_s"].max().reset_index()
        lines += [
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
    skipped = rows[rows["status"] == "skipped"]
    lines += ["## Skipped cases", ""]
    if skipped.empty:
        lines += ["None: every planned case was timed.", ""]
    else:
        lines += [
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
    lines += list(asv_lines)
    if roofline:
        lines += [
            "## Numba at the memory roofline",
            "",
            "From [roofline.md](roofline.md), written by `vecstudy roofline --output` "
            "(its own run, machine and command are in that file):",
            "",
            *roofline_lines(roofline),
            "",
        ]
    lines += machine_section(results)
    lines += ["## Reproduce", ""]
    commands = [
        reproduce_line(run.get("command"), i, len(results.runs))
        for i, run in enumerate(results.runs)
    ]
    lines += [*md_fence([*commands, report_command], "sh"), ""]
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
    """The text of ``roofline.md`` (written by :func:`vecstudy.roofline.to_markdown`) as
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
