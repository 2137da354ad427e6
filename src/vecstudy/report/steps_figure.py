"""A comparison's figure: median milliseconds per step by backend, as bars.

What :meth:`vecstudy.study.view.StudyResult.plot` draws for
:func:`vecstudy.compare_backends` (one ``X``, the caller's), from the tidy frame of
:mod:`vecstudy.study.frame`.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from vecstudy.report.axes import LABELS, color, log_y
from vecstudy.report.markdown import format_ratio, format_seconds


def figure_steps(frame: pd.DataFrame, title: str = "") -> Figure:
    """Bars: median milliseconds per gradient step and per optimize iteration, by backend.

    One panel per shape, dtype and thread setting; log y axis in milliseconds;
    whiskers are the 95% bootstrap interval of the median; a hatched bar is an
    estimate (the Python loop timed on fewer columns and scaled).  Each bar is
    labelled with its time and, for the fast backends, the speedup over the loop.
    """
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
                        f"{LABELS.get(be, be)}:\nskipped,\nover the\nbudget",
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
                    color=color(be),
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
        log_y(ax)
    axes[0].set_ylabel("time per step (milliseconds, log scale)")
    axes[0].set_ylim(bottom / 2, top * 4)  # room for the labels above the bars
    handles: list[Any] = [
        Patch(facecolor=color(b), edgecolor="0.2", label=LABELS.get(b, b)) for b in backends
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
