"""The headline figure: one gradient step at the course's shape, loop vs NumPy vs Numba.

Horizontal bars on a log axis in milliseconds, each labelled with its time and how many
times faster than the Python loop it is, with its 95% interval, and ⚠ where the report
flags the case unsteady (the numbers of the report's headline).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from vecstudy.report.axes import LABELS, color, log_axis
from vecstudy.report.markdown import format_ratio, format_ratio_ci, format_seconds
from vecstudy.report.plain_words import (
    COURSE_SHAPE,
    base_threads,
    headline_dtype,
    headline_op,
    headline_shapes,
)


def _estimated_loop(
    kern: pd.DataFrame, n_x: int, m: int, op: str, dtype: str
) -> tuple[float, bool, bool]:
    """The loop's seconds, whether they are estimated, and whether its timing is flagged."""
    here = kern[
        (kern["operation"] == op)
        & (kern["dtype"] == dtype)
        & (kern["n_x"] == n_x)
        & (kern["m"] == m)
    ]
    py = here[here["backend"] == "python"]
    if not py.empty:
        return float(py.iloc[0]["median"]), False, _flagged(py.iloc[0])
    est = here[(here["backend"] != "python") & here["loop_s"].notna()]
    if est.empty:
        return math.nan, False, False
    return float(est.iloc[0]["loop_s"]), bool(est.iloc[0]["vs_python_est"]), False


def _flagged(row: pd.Series) -> bool:
    """Whether the report flags this case unsteady (its ``flags``)."""
    flags = row.get("flags")
    return isinstance(flags, list | tuple) and len(flags) > 0


def figure_headline(kern: pd.DataFrame) -> Figure | None:
    """One gradient step at the course's 12288x209 (or the shape nearest it), one thread:
    the Python loop, NumPy and Numba as horizontal bars on a log axis in milliseconds.

    Each bar is labelled with its time and how many times faster than the loop it is
    (the headline's numbers); an estimated loop time is hatched and says "estimated".
    None when there is nothing to draw.
    """
    shapes = headline_shapes(kern)
    if not shapes:
        return None
    n_x, m = COURSE_SHAPE if COURSE_SHAPE in shapes else shapes[0]
    op, dtype, threads = headline_op(kern), headline_dtype(kern), base_threads(kern)
    here = kern[
        (kern["operation"] == op)
        & (kern["dtype"] == dtype)
        & (kern["n_x"] == n_x)
        & (kern["m"] == m)
        & (kern["threads"] == threads)
    ]
    loop_s, est, loop_flagged = _estimated_loop(kern, n_x, m, op, dtype)
    bars: list[tuple[str, float, str, bool]] = []
    if math.isfinite(loop_s):
        text = (
            f"~{format_seconds(loop_s)}, estimated (too slow to time here)"
            if est
            else format_seconds(loop_s)
        )
        if loop_flagged:
            text += " ⚠ unsteady"
        bars.append(("python", loop_s, text, est))
    for be in ("numpy", "numba"):
        r = here[here["backend"] == be]
        if r.empty:
            continue
        r0 = r.iloc[0]
        text = format_seconds(float(r0["median"]))
        if math.isfinite(float(r0["vs_python"])):
            ratio = float(r0["vs_python"])
            word = "faster" if ratio >= 1 else "slower"
            shown = ratio if ratio >= 1 else 1 / ratio
            lo = float(r0.get("vs_python_lo", math.nan))
            hi = float(r0.get("vs_python_hi", math.nan))
            if ratio >= 1 and math.isfinite(lo) and math.isfinite(hi):  # as the report says
                text += f", {format_ratio_ci(ratio, lo, hi, est)} faster than the loop"
            else:
                text += f", {'~' if est else ''}{format_ratio(shown)} {word} than the loop"
        if _flagged(r0):  # as the report's tables mark it
            text += " ⚠ unsteady"
        bars.append((be, float(r0["median"]), text, False))
    if not bars:
        return None
    no_loop = not math.isfinite(loop_s)
    fig = Figure(figsize=(8.2, 0.75 * len(bars) + 1.9), layout="constrained")
    ax = fig.subplots()
    times = [b[1] for b in bars]
    left = 10.0 ** math.floor(math.log10(min(times)) - 0.3)
    right = 10.0 ** math.ceil(math.log10(max(times)) + 0.3)
    span = math.log10(right / left)
    y = np.arange(len(bars))[::-1]
    for yi, (be, secs, text, hatched) in zip(y, bars, strict=True):
        ax.barh(
            yi,
            secs - left,
            left=left,
            height=0.6,
            color="white" if hatched else color(be),
            edgecolor=color(be),
            hatch="///" if hatched else None,
            linewidth=1.5,
        )
        inside = math.log10(secs / left) > 0.55 * span  # a long bar holds its label
        ax.annotate(
            text,
            (secs, yi),
            xytext=(-6 if inside else 6, 0),
            textcoords="offset points",
            va="center",
            ha="right" if inside else "left",
            fontsize=9,
            fontweight="bold" if be != "python" else "normal",
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "none"}
            if inside
            else None,
        )
    names = [LABELS.get(b[0], b[0]) for b in bars]
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=10)
    log_axis(ax, "x", "ms")
    ax.set_xlim(left, right)
    ax.grid(visible=False, axis="y")
    ax.set_xlabel(
        "milliseconds per gradient step (log scale: each grid line is 10 times longer)"
        + (
            "\nPython loop: not timed at any size (too slow for the time budget, --budget)"
            if no_loop
            else ""
        )
        + (
            "\n[...]: 95% interval; ⚠ unsteady: timings that varied a lot (see Stability "
            "in report.md)"
            if any("⚠" in b[2] for b in bars)
            else ""
        )
    )
    where = "the course's" if (n_x, m) == COURSE_SHAPE else "the size nearest the course's"
    ax.set_title(
        f"One gradient step at {where} {n_x}x{m} ({dtype}): Python loop, NumPy, Numba, "
        f"milliseconds, {'one thread' if threads == 1 else f'{threads} threads'}",
        fontsize=10,
    )
    if est:
        fig.legend(
            handles=[
                Patch(
                    facecolor="white",
                    edgecolor="0.3",
                    hatch="///",
                    label="estimated: the loop was too slow to time at this size",
                )
            ],
            loc="outside lower center",
            frameon=False,
        )
    fig.suptitle("How much faster is vectorized or compiled code? (shorter is faster)")
    return fig
