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
from vecstudy.study.sweep import COURSE_SHAPE as COURSE_SHAPE  # 209 images of 64x64x3

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
#: The backends the headline sets against the Python loop, with their names in words.
HEAD_BACKENDS: Final = (("numpy", "NumPy"), ("numba", "Numba"))


def base_threads(kern: pd.DataFrame) -> int:
    """The thread setting the headline quotes: one thread when it was run, else the fewest."""
    values = {int(t) for t in kern.loc[kern["backend"] != "python", "threads"]}
    return 1 if 1 in values or not values else min(values)


def headline_op(kern: pd.DataFrame) -> str:
    """``"propagate"`` (one gradient step, where the loop is timed at most sizes) if it was
    run, else ``"optimize"``."""
    ops = set(kern["operation"])
    return "propagate" if "propagate" in ops or not ops else "optimize"


def headline_dtype(kern: pd.DataFrame) -> str:
    """``"float64"`` (what the course uses) if it was run, else the first dtype."""
    dtypes = list(dict.fromkeys(kern["dtype"]))
    return "float64" if "float64" in dtypes or not dtypes else str(dtypes[0])


def headline_shapes(kern: pd.DataFrame) -> list[tuple[int, int]]:
    """The shapes the headline quotes: the course's 12288x209 (or the shape nearest it in
    elements among those where every backend was timed), then the largest shape."""
    op, dtype, threads = headline_op(kern), headline_dtype(kern), base_threads(kern)
    here = kern[(kern["operation"] == op) & (kern["dtype"] == dtype)]
    fast = here[(here["backend"] != "python") & (here["threads"] == threads)]
    sizes = fast.drop_duplicates(["n_x", "m"])[["n_x", "m"]]
    if sizes.empty:
        return []
    wanted = {be for be, _ in HEAD_BACKENDS} & set(fast["backend"])
    finite = fast[fast["vs_python"].astype(float).map(math.isfinite)]
    shapes = [(int(n), int(mm)) for n, mm in zip(sizes["n_x"], sizes["m"], strict=True)]
    complete = [
        set(finite[(finite["n_x"] == n) & (finite["m"] == mm)]["backend"]) >= wanted
        for n, mm in shapes
    ]
    target = COURSE_SHAPE[0] * COURSE_SHAPE[1]
    distance = [
        abs(math.log(n * mm / target)) + (0 if ok or not any(complete) else math.inf)
        for (n, mm), ok in zip(shapes, complete, strict=True)
    ]
    picks = [shapes[distance.index(min(distance))]]
    big = max(shapes, key=lambda nm: nm[0] * nm[1])
    if big not in picks:
        picks.append(big)
    return picks


def _threads_words(threads: int, all_threads: int | None = None) -> str:
    text = "one thread" if threads == 1 else f"{threads} threads"
    return text + (" (all cores)" if threads > 1 and threads == all_threads else "")


def _shape_line(
    kern: pd.DataFrame, n_x: int, m: int, threads: int, *, first: bool, all_threads: int
) -> tuple[str, bool]:
    """One headline line for a shape and thread setting, and whether it holds an estimate."""
    op, dtype = headline_op(kern), headline_dtype(kern)
    here = kern[
        (kern["operation"] == op)
        & (kern["dtype"] == dtype)
        & (kern["n_x"] == n_x)
        & (kern["m"] == m)
    ]
    rows = here[(here["backend"] != "python") & (here["threads"] == threads)]
    parts: list[tuple[str, float, float, float, bool]] = []
    times: list[str] = []
    loop_s, est, loop_from = math.nan, False, ""
    for be, name in HEAD_BACKENDS:
        r = rows[rows["backend"] == be]
        if r.empty:
            continue
        r0 = r.iloc[0]
        times.append(f"{name} {format_seconds(float(r0['median']))}")
        if not math.isfinite(float(r0["vs_python"])):
            continue
        loop_s, est, loop_from = float(r0["loop_s"]), bool(r0["vs_python_est"]), r0["loop_from"]
        parts.append(
            (
                name,
                float(r0["vs_python"]),
                float(r0["vs_python_lo"]),
                float(r0["vs_python_hi"]),
                est,
            )
        )
    what = "One gradient-descent step" if op == "propagate" else "One gradient-descent iteration"
    if first:
        head = f"- **{what}, X of {n_x}x{m} {md_text(dtype, 20)}**"
    else:
        head = f"- **With {_threads_words(threads, all_threads)}**, the same step at {n_x}x{m}"
    nbytes = float(here.iloc[0]["bytes_x"]) if not here.empty else math.nan
    head += f" ({format_bytes(nbytes)}, {_threads_words(threads, all_threads)}): "
    if not parts:
        if not times or not first:
            return "", False
        return (
            f"{head}{', '.join(times)}; the Python loop was too slow to time at every size "
            "(see *Skipped cases*): add a smaller shape or raise --budget to compare with it.",
            False,
        )
    missing = [
        name
        for be, name in HEAD_BACKENDS
        if be in set(kern["backend"]) and name not in {p[0] for p in parts}
    ]
    note = (
        f" ({' and '.join(missing)}: not timed at this size, see *Skipped cases*)"
        if missing
        else ""
    )
    loop = (
        f"Python loop ~{format_seconds(loop_s)} (estimated)"
        if est
        else f"Python loop {format_seconds(loop_s)}"
    )
    text = f"{head}{', '.join([loop, *times])}: {versus_loop(parts)}{note}."
    if est:
        text += (
            f" Estimated: the loop was too slow to time at this size; its time is its time "
            f"per element at {md_text(loop_from, 40)} (where it was timed) times the elements."
        )
    return text, est


def headline(
    summary: pd.DataFrame,
    kern: pd.DataFrame,
    micro_ratios: dict[str, Any],
    interleaved: bool = True,
) -> list[str]:
    """The plain-words answer, as Markdown bullet lines (empty when nothing was measured).

    It quotes one thread (:func:`base_threads`), one gradient step (``propagate``,
    timed for the loop at more sizes than ``optimize``) in float64, at the course's
    12288x209 (or the shape nearest it) and at the largest shape
    (:func:`headline_shapes`): the times, and the speedups over the Python loop
    exactly as the *Kernels* table shows them.  The loop's time is measured wherever
    it was timed at that shape; beyond, it is estimated and the line says so in
    words.  Other thread settings get a line of their own, after.

    ``micro_ratios`` maps ``"numpy"``/``"numba"`` to ``(ratio, low, high, n)`` of
    the dot product over the Python loop (one thread).
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
            f"- **Dot product of two {n:,}-element vectors** (the course's example, one thread): "
            + versus_loop(dot)
            + " (the course measured 363x for `np.dot`)."
        )
    shown = kern[kern["backend"] != "python"]
    any_est = False
    if not shown.empty:
        threads = base_threads(kern)
        all_threads = int(kern["threads"].max())
        picks = headline_shapes(kern)
        for n_x, m in picks:
            text, est = _shape_line(kern, n_x, m, threads, first=True, all_threads=all_threads)
            if text:
                lines.append(text)
                any_est |= est
        others = sorted({int(t) for t in shown["threads"]} - {threads})
        for t in others:
            for n_x, m in picks[:1]:
                text, est = _shape_line(kern, n_x, m, t, first=False, all_threads=all_threads)
                if text:
                    lines.append(
                        text + " The loop itself runs on one thread. Timings with more threads "
                        "are noisy on a shared or busy machine, and NumPy's BLAS threads are "
                        f"not Numba's: see *{_threads_words(t).capitalize()}* under *Kernels*."
                    )
                    any_est |= est
    if any_est:
        lines.append(
            "- `~...*`: an estimate (the Python loop was not timed at that size; see above)."
        )
    if lines:
        how = "interleaved timings" if interleaved else "timings (not interleaved)"
        lines.append(
            "- Brackets: 95% confidence interval (percentile bootstrap of the ratio of medians "
            f"of the {how} of this run)."
        )
    return lines


def stability_lines(summary: pd.DataFrame) -> list[str]:
    """One line summarizing the stability flags of every case, and what to do about them."""
    if summary.empty:
        return []
    flagged = summary[summary["flags"].map(bool)]
    if flagged.empty:
        return [f"- **Stability:** all {len(summary)} cases stable (no pyperf-style flag)."]
    counts: dict[str, int] = {}
    for flags in flagged["flags"]:
        for f in flags:
            counts[f] = counts.get(f, 0) + 1
    detail = "; ".join(f"{v} {FLAG_TEXT[k]}" for k, v in sorted(counts.items()))
    repeats = int(summary["n"].max())
    todo = []
    if {"cv", "outlier", "load"} & set(counts):
        todo.append("close other programs (browser tabs, builds, other studies) and run again")
        todo.append(
            f"raise --repeats (this run: {repeats}) so that each median rests on more timings"
        )
    if "short" in counts:
        todo.append("raise --min-time so that each timing lasts longer")
    if "bandwidth" in counts:
        todo.append(
            "ignore the memory speed limit where it is marked (it was measured on a busy moment)"
        )
    return [
        f"- ⚠ **Stability:** {len(flagged)} of {len(summary)} cases flagged unstable ({detail}). "
        "Their medians are less certain than their intervals say; they carry ⚠ in the "
        f"tables' *flags* column. To steady them: {'; '.join(todo)}."
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
        header = [
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
                lines += [f"### {_threads_words(t).capitalize()}", ""]
                if t != one:
                    lines += [
                        "Shown apart: on a shared or busy machine timings with more threads "
                        "are noisy, and NumPy's BLAS threads are not Numba's. `vs python` is "
                        "still over the loop on one thread.",
                        "",
                    ]
            lines += [markdown_table(header, _kernel_rows(part)), ""]
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
    """The text of ``roofline.md`` (written by :func:`vecstudy.study.roofline.to_markdown`) as
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
