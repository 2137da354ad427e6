"""*In plain words*: the headline at the top of ``report.md`` (and on the console), and stability.

At the course's dot-product size and at one or two training shapes: how many times
faster NumPy and Numba are than the Python loop, with 95% intervals; times of a loop
that was skipped as too slow are estimated (and marked as estimates).  Then one line
on the stability flags of every case (:func:`stability_lines`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

#: The course's training set: 209 images of 64x64x3 (12,288 features).
from vecstudy.course import COURSE_SHAPE as COURSE_SHAPE  # 209 images of 64x64x3
from vecstudy.escape import md_text
from vecstudy.records.stats import FLAG_TEXT
from vecstudy.report.markdown import format_bytes, format_seconds, versus_loop

#: The backends the headline sets against the Python loop, with their names in words.
HEAD_BACKENDS: Final = (("numpy", "NumPy"), ("numba", "Numba"))
#: One speedup over the loop, as :func:`~vecstudy.report.markdown.versus_loop` takes it:
#: ``(name, ratio, low, high, estimated)``.
Speedup = tuple[str, float, float, float, bool]


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


def threads_words(threads: int, all_threads: int | None = None) -> str:
    text = "one thread" if threads == 1 else f"{threads} threads"
    return text + (" (all cores)" if threads > 1 and threads == all_threads else "")


@dataclass
class _Measured:
    """What a headline line quotes of one shape and thread setting."""

    times: list[str]  # "NumPy 1.2 ms", one per backend timed
    parts: list[Speedup]  # speedups over the loop, where it has a time
    loop_s: float = math.nan  # the loop's time (measured or estimated)
    estimated: bool = False
    loop_from: str = ""  # where an estimated loop time was measured


def _measured(rows: pd.DataFrame) -> _Measured:
    """Times and speedups of :data:`HEAD_BACKENDS` in ``rows`` (one shape, one setting).

    The loop's time is the last backend's that has a speedup (they share it).
    """
    got = _Measured([], [])
    for be, name in HEAD_BACKENDS:
        r = rows[rows["backend"] == be]
        if r.empty:
            continue
        r0 = r.iloc[0]
        got.times.append(f"{name} {format_seconds(float(r0['median']))}")
        if not math.isfinite(float(r0["vs_python"])):
            continue
        got.loop_s, got.estimated = float(r0["loop_s"]), bool(r0["vs_python_est"])
        got.loop_from = r0["loop_from"]
        ratio = (float(r0["vs_python"]), float(r0["vs_python_lo"]), float(r0["vs_python_hi"]))
        got.parts.append((name, *ratio, got.estimated))
    return got


def _line_head(
    here: pd.DataFrame, op: str, dtype: str, shape: tuple[int, int], threads: str, *, first: bool
) -> str:
    """``- **One gradient-descent step, X of NxM float64** (8 MB, one thread): ``."""
    n_x, m = shape
    what = "One gradient-descent step" if op == "propagate" else "One gradient-descent iteration"
    if first:
        head = f"- **{what}, X of {n_x}x{m} {md_text(dtype, 20)}**"
    else:
        head = f"- **With {threads}**, the same step at {n_x}x{m}"
    nbytes = float(here.iloc[0]["bytes_x"]) if not here.empty else math.nan
    return head + f" ({format_bytes(nbytes)}, {threads}): "


def _line_body(kern: pd.DataFrame, got: _Measured) -> str:
    """The times, the speedups in words, and what was not timed or only estimated."""
    missing = [
        name
        for be, name in HEAD_BACKENDS
        if be in set(kern["backend"]) and name not in {p[0] for p in got.parts}
    ]
    note = (
        f" ({' and '.join(missing)}: not timed at this size, see *Skipped cases*)"
        if missing
        else ""
    )
    loop = (
        f"Python loop ~{format_seconds(got.loop_s)} (estimated)"
        if got.estimated
        else f"Python loop {format_seconds(got.loop_s)}"
    )
    text = f"{', '.join([loop, *got.times])}: {versus_loop(got.parts)}{note}."
    if got.estimated:
        text += (
            f" Estimated: the loop was too slow to time at this size; its time is its time "
            f"per element at {md_text(got.loop_from, 40)} (where it was timed) times the elements."
        )
    return text


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
    got = _measured(here[(here["backend"] != "python") & (here["threads"] == threads)])
    words = threads_words(threads, all_threads)
    head = _line_head(here, op, dtype, (n_x, m), words, first=first)
    if not got.parts:
        if not got.times or not first:
            return "", False
        return (
            f"{head}{', '.join(got.times)}; the Python loop was too slow to time at every size "
            "(see *Skipped cases*): add a smaller shape or raise --budget to compare with it.",
            False,
        )
    return head + _line_body(kern, got), got.estimated


def _dot_lines(micro_ratios: dict[str, Any]) -> list[str]:
    """The dot product's line (the course's example), when it was measured."""
    if not micro_ratios:
        return []
    n = next(iter(micro_ratios.values()))[3]
    dot: list[Speedup] = [
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
    return [
        f"- **Dot product of two {n:,}-element vectors** (the course's example, one thread): "
        + versus_loop(dot)
        + " (the course measured 363x for `np.dot`)."
    ]


def _kernel_lines(kern: pd.DataFrame) -> tuple[list[str], bool]:
    """The gradient-step lines: the headline's thread setting at each shape it quotes,
    then each other setting at the first shape; and whether any holds an estimate."""
    lines: list[str] = []
    any_est = False
    shown = kern[kern["backend"] != "python"]
    if shown.empty:
        return lines, any_est
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
                    f"not Numba's: see *{threads_words(t).capitalize()}* under *Kernels*."
                )
                any_est |= est
    return lines, any_est


def headline(
    summary: pd.DataFrame,  # noqa: ARG001 - the signature callers and tests use
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
    kernel_lines, any_est = _kernel_lines(kern)
    lines = [*_dot_lines(micro_ratios), *kernel_lines]
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
