"""The course's micro-studies as points: explicit loop vs vectorized vs compiled."""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from vecstudy.report.axes import (
    LABELS,
    backend_handles,
    color,
    log_axis,
    sorted_backends,
    threads_label,
    why_not,
)
from vecstudy.report.markdown import format_ratio, format_seconds
from vecstudy.report.plain_words import base_threads

#: What the course measured for the 1,000,000-element dot product (seconds).
COURSE_DOT: Final = {"python": 0.530, "numpy": 0.00146}


def figure_micro(
    micro: pd.DataFrame,
    all_threads: int,
    threads: int | None = None,
    skipped: pd.DataFrame | None = None,
) -> Figure:
    """The micro-studies as points (log scale, fastest-slowest bars): loop vs NumPy vs Numba.

    One thread setting (default: the headline's).  Points rather than bars: on a
    log axis a bar's length depends on where the axis starts.  For the course's
    1,000,000-element dot product the course's own timings are drawn as dotted
    lines, each with a legend entry.  An implementation in ``skipped`` (rows of a
    results file) is named under its panel's axis with the reason, without a point.
    """
    t = base_threads(micro) if threads is None else threads
    micro = micro[(micro["threads"] == t) | (micro["backend"] == "python")]
    ops = [o for o in ("dot", "exp", "percent", "add_row") if o in set(micro["operation"])]
    ncols = min(2, max(1, len(ops)))  # two panels a row: four stay readable
    nrows = max(1, -(-len(ops) // ncols))
    fig = Figure(figsize=(5.4 * ncols, 4.6 * nrows + 0.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for unused in axes[len(ops) :]:
        unused.set_visible(False)
    titles = {
        "dot": "dot product of two vectors",
        "exp": "elementwise exp of a vector",
        "percent": "calories table: 100 * A / A.sum(axis=0)",
        "add_row": "quiz: c[i][j] = a[i][j] + b[j], i.e. a + b.T",
    }
    order = {"python": 0, "numpy": 1, "numba": 2}
    course = False
    for ax, op in zip(axes, ops, strict=False):
        sub = micro[micro["operation"] == op].copy()
        sub["o"] = sub["backend"].map(lambda v: order.get(v, 3))
        sub = sub.sort_values(["o", "threads"])
        base = sub.loc[sub["backend"] == "python", "median"].min()
        missing: list[str] = []
        if skipped is not None and not skipped.empty:
            sk = skipped[(skipped["kind"] == "micro") & (skipped["operation"] == op)]
            sk = sk[~sk["backend"].isin(set(sub["backend"]))]
            for be, reason in zip(sk["backend"], sk["reason"], strict=True):
                label = f"{LABELS.get(str(be), str(be))[:30]}\nnot timed:\n{why_not(reason)}"
                if label not in missing:
                    missing.append(
                        label.replace(" (--budget)", "").replace("for the ", "for\nthe ")
                    )
        x = np.arange(len(sub)) + len(missing)
        for xi, (_, r) in zip(x, sub.iterrows(), strict=True):
            ax.errorbar(
                [xi],
                [r["median"]],
                yerr=[[r["median"] - r["min"]], [r["max"] - r["median"]]],
                color=color(str(r["backend"])),
                marker="o",
                markersize=8,
                capsize=4,
            )
            text = format_seconds(r["median"])
            if math.isfinite(base) and r["backend"] != "python":
                text += f"\n{format_ratio(base / r['median'])} faster"
            ax.annotate(
                text, (xi, r["median"]), textcoords="offset points", xytext=(12, -4), fontsize=8
            )
        ax.set_xticks(np.arange(len(missing) + len(sub)))
        ax.set_xticklabels([*missing, *(LABELS.get(b, b) for b in sub["backend"])], fontsize=8)
        ax.set_xlim(-0.5, len(missing) + len(sub) - 0.2)
        n = int(sub["m"].iloc[0]) if not sub.empty else 0
        rows = int(sub["n_x"].iloc[0]) if not sub.empty else 1
        size = f"{rows} x {n:,}" if rows > 1 else f"{n:,}"
        ax.set_title(f"{titles.get(op, op)} ({size} float64)", fontsize=10)
        if op == "dot" and n == 1_000_000:
            course = True
            for impl, secs in COURSE_DOT.items():
                ax.axhline(secs, color=color(impl), linestyle=":", linewidth=1.2)
        ax.set_ylabel("time per call (log scale; lower is faster)")
        log_axis(ax, "y", "time")
    handles = backend_handles(sorted_backends(micro["backend"]))
    if course:
        handles += [
            Line2D([], [], color=color(i), linestyle=":", label=f"the course's {w} ({s})")
            for i, w, s in (("python", "loop", "530 ms"), ("numpy", "np.dot", "1.46 ms"))
        ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    fig.suptitle(
        f"Course micro-studies, {threads_label(t, all_threads)}: explicit loop vs vectorized "
        "vs compiled (labels: median, times faster than the loop)"
    )
    return fig
