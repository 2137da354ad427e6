"""The sweep's figures against the size of ``X``: time, speedup, bandwidth, and the timings' spread.

One thread setting per figure (the headline's by default); the shared axes, colours and
legends come from :mod:`vecstudy.report.axes`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.typing import LineStyleType

from vecstudy.report.axes import (
    LABELS,
    MARKERS,
    backend_handles,
    color,
    log_axis,
    log_y,
    not_timed_text,
    one_setting,
    size_axis,
    size_range,
    sorted_backends,
    text_below,
    threads_label,
)
from vecstudy.report.plain_words import base_threads, headline_op


def figure_time(
    kern: pd.DataFrame,
    all_threads: int,
    skipped: pd.DataFrame | None = None,
    threads: int | None = None,
) -> Figure:
    """Time per gradient step vs size of ``X``, one panel per dtype, one thread setting.

    The x axis is the number of elements ``n_x * m`` (ticks name the shape and
    its bytes in that dtype), the same range in every panel; error bars span the
    fastest and the slowest timing; the grey band is the memory speed limit (the
    time to read X once at the measured speed; left out where that measurement
    was flagged); cases not timed are listed under each panel.
    """
    op = headline_op(kern)
    t = base_threads(kern) if threads is None else threads
    kern = one_setting(kern, t)
    kern = kern[kern["operation"] == op].assign(elements=kern["n_x"] * kern["m"])
    dtypes = sorted(set(kern["dtype"]), reverse=True)
    backends = sorted_backends(kern["backend"])
    xlim = size_range(kern["elements"])
    skipped = skipped if skipped is not None else pd.DataFrame(columns=[*kern.columns, "reason"])
    fig = Figure(figsize=(5.8 * len(dtypes), 5.2), layout="constrained")
    axes = fig.subplots(1, len(dtypes), squeeze=False)[0]
    drew_limit = False
    for ax, dt in zip(axes, dtypes, strict=True):
        sub = kern[kern["dtype"] == dt]
        for be, group in sub.groupby("backend"):
            g = group.sort_values("elements")
            ax.errorbar(
                g["elements"],
                g["median"],
                yerr=[g["median"] - g["min"], g["max"] - g["median"]],
                color=color(str(be)),
                marker="o",
                markersize=4,
                capsize=2,
            )
        lim = sub[~sub["limit_flagged"].astype(bool)].dropna(subset=["limit_s"])
        lim = lim.groupby("elements")["limit_s"].min()
        if not lim.empty:
            drew_limit = True
            ax.plot(lim.index, lim.to_numpy(), color="0.5", linewidth=5, alpha=0.4, zorder=0)
        sk = skipped[
            (skipped["kind"] == "kernel")
            & (skipped["operation"] == op)
            & (skipped["dtype"] == dt)
            & ((skipped["threads"] == t) | (skipped["backend"] == "python"))
        ]
        text_below(ax, not_timed_text(sk))
        ax.set_title(f"one gradient step, {dt}, {threads_label(t, all_threads)}", fontsize=10)
        ax.set_xlabel(f"size of X: n_x x m (and its bytes in {dt})")
        ax.set_ylabel("time per step (log scale; bars: fastest-slowest)")
        log_axis(ax, "y", "time")
        size_axis(ax, kern[kern["dtype"] == dt], "elements", xlim, with_bytes=True)
    handles = backend_handles(backends)
    if drew_limit:
        handles.append(
            Line2D(
                [],
                [],
                color="0.5",
                linewidth=5,
                alpha=0.4,
                label="memory speed limit (time to read the data once)",
            )
        )
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle("Time per gradient step vs problem size (lower is faster)")
    return fig


def figure_speedup(kern: pd.DataFrame, all_threads: int, threads: int | None = None) -> Figure:
    """Speedup over the Python loop (left) and over NumPy (right); rows = step, iteration.

    One thread setting (default: the headline's).  The x axis is the number of
    elements ``n_x * m`` so that both dtypes share it; error bars are 95%
    bootstrap intervals; hollow markers are speedups over an *estimated*
    Python-loop time (the loop was skipped as too slow).
    """
    ops = [o for o in ("propagate", "optimize") if o in set(kern["operation"])]
    t = base_threads(kern) if threads is None else threads
    kern = one_setting(kern, t).assign(elements=kern["n_x"] * kern["m"])
    dtypes = sorted(set(kern["dtype"]), reverse=True)
    markers = dict(zip(dtypes, MARKERS, strict=False))
    styles = _styles_by_dtype(dtypes)
    xlim = size_range(kern["elements"])
    # a column only where some backend has a ratio to draw (no empty panels)
    columns = [
        (col, base)
        for col, base in (("vs_python", "python"), ("vs_numpy", "numpy"))
        if kern[~kern["backend"].isin([base, "python"])][col].notna().any()
    ] or [("vs_python", "python")]
    fig = Figure(figsize=(5.75 * len(columns) + 0.5, 4.2 * len(ops)), layout="constrained")
    axes = fig.subplots(len(ops), len(columns), squeeze=False)
    drawn: set[str] = set()
    any_est = False
    for i, op in enumerate(ops):
        sub = kern[kern["operation"] == op]
        what = "gradient step" if op == "propagate" else "optimize iteration"
        for ax, (col, base) in zip(axes[i], columns, strict=True):
            for (be, dt), group in sub.groupby(["backend", "dtype"]):
                g = group.dropna(subset=[col]).sort_values("elements")
                if g.empty or be in (base, "python"):
                    continue
                drawn.add(str(be))
                lo = (g[col] - g[f"{col}_lo"]).clip(lower=0).fillna(0)
                hi = (g[f"{col}_hi"] - g[col]).clip(lower=0).fillna(0)
                ax.errorbar(
                    g["elements"],
                    g[col],
                    yerr=[lo, hi],
                    color=color(str(be)),
                    linestyle=styles[str(dt)],
                    marker=markers.get(str(dt), "o"),
                    markersize=7,
                    capsize=2,
                )
                if col == "vs_python":
                    est = g[g["vs_python_est"]]
                    if not est.empty:
                        any_est = True
                        ax.scatter(  # hollow: the same marker, white inside
                            est["elements"],
                            est[col],
                            s=22,
                            marker=markers.get(str(dt), "o"),
                            color="white",
                            zorder=4,
                        )
            ax.axhline(1.0, color="0.3", linewidth=1)
            name = LABELS.get(base, base)
            note = " (loop timed on one thread)" if base == "python" else " (same threads)"
            ax.set_title(f"per {what}: speedup over {name}{note}", fontsize=10)
            ax.set_xlabel("problem size n_x x m (elements of X)")
            ax.set_ylabel(f"times faster than {name} (95% interval)")
            log_y(ax, "x")
            size_axis(ax, kern, "elements", xlim)
    handles = backend_handles(sorted_backends(drawn))
    handles += [
        Line2D([], [], color="0.3", marker=markers[dt], linestyle=styles[dt], label=dt)
        for dt in dtypes
    ]
    handles.append(Line2D([], [], color="0.3", linewidth=1, label="1x: as fast as the base"))
    if any_est:
        handles.append(
            Line2D(
                [],
                [],
                color="0.3",
                marker="o",
                markerfacecolor="white",
                linestyle="none",
                label="over an estimated loop time (loop too slow to time)",
            )
        )
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle(
        f"How many times faster, {threads_label(t, all_threads)} "
        "(ratio of medians measured side by side; higher is better)"
    )
    return fig


def _styles_by_dtype(dtypes: Sequence[str]) -> dict[str, LineStyleType]:
    styles: list[LineStyleType] = ["-", "--", ":", "-."]
    return {dt: styles[i % len(styles)] for i, dt in enumerate(dtypes)}


def figure_bandwidth(
    kern: pd.DataFrame, summary: pd.DataFrame, all_threads: int, threads: int | None = None
) -> Figure:
    """How fast each gradient step goes through the data (bytes of X / time per step)
    against the memory speed measured by reading X once: one panel per dtype.

    The compiled and vectorized backends only: the Python loop is three to four
    decades slower and is in the tables.  One thread setting (default: the headline's).
    """
    t = base_threads(kern) if threads is None else threads
    sub = kern[
        (kern["operation"] == "propagate") & (kern["backend"] != "python") & (kern["threads"] == t)
    ]
    read = summary[(summary["kind"] == "bandwidth") & (summary["threads"] == t)].copy()
    read["gbps"] = read["bytes_x"] / read["median"] / 1e9
    dtypes = sorted(set(sub["dtype"]) | set(read["dtype"]), reverse=True)
    xlim = size_range(pd.concat([sub["bytes_x"], read["bytes_x"]]))
    fig = Figure(figsize=(5.6 * len(dtypes), 4.4), layout="constrained")
    axes = fig.subplots(1, len(dtypes), squeeze=False)[0]
    any_flag = False
    for ax, dt in zip(axes, dtypes, strict=True):
        here = sub[sub["dtype"] == dt]
        for be, group in here.groupby("backend"):
            g = group.sort_values("bytes_x")
            ax.plot(g["bytes_x"], g["gbps"], color=color(str(be)), marker="o", markersize=4)
        r = read[read["dtype"] == dt].sort_values("bytes_x")
        good = r[~r["flags"].map(lambda f: "bandwidth" in f)]
        ax.plot(good["bytes_x"], good["gbps"], color="black", linewidth=2.5, alpha=0.55)
        flagged = r[r["flags"].map(lambda f: "bandwidth" in f)]
        if not flagged.empty:
            any_flag = True
            ax.scatter(
                flagged["bytes_x"],
                flagged["gbps"],
                marker="D",
                s=40,
                facecolors="none",
                edgecolors="black",
                zorder=5,
            )
        ax.set_title(f"{dt}, {threads_label(t, all_threads)}", fontsize=10)
        ax.set_xlabel("size of X")
        ax.set_ylabel("GB per second (bytes of X / time per step)")
        log_y(ax)
        size_axis(ax, pd.concat([here, r]), "bytes_x", xlim)
    handles = backend_handles(sorted_backends(sub["backend"]))
    handles.append(
        Line2D(
            [],
            [],
            color="black",
            linewidth=2.5,
            alpha=0.55,
            label="memory speed limit (reading the data once, measured)",
        )
    )
    if any_flag:
        handles.append(
            Line2D(
                [],
                [],
                marker="D",
                markerfacecolor="none",
                markeredgecolor="black",
                linestyle="none",
                label="memory speed measured slower than a step (busy machine): not a limit",
            )
        )
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)
    fig.suptitle("How fast each gradient step goes through the data (higher is faster)")
    return fig


def figure_timings(summary: pd.DataFrame, threads: int | None = None) -> Figure:
    """Distribution of the raw timings of every kernel case: box plots of timing / median.

    One panel per operation and dtype; one box per backend and shape (one thread
    setting: the headline's by default), in the order of the tables.  A box far
    from 1 or long whiskers mean an unstable case (flagged cases have a black edge).
    """
    kern = one_setting(summary[summary["kind"] == "kernel"], threads)
    ops = [o for o in ("propagate", "optimize") if o in set(kern["operation"])]
    dtypes = sorted(set(kern["dtype"]), reverse=True)
    n_cases = max(
        (len(kern[(kern["operation"] == o) & (kern["dtype"] == d)]) for o in ops for d in dtypes),
        default=1,
    )
    fig = Figure(
        figsize=(max(7.0, 0.34 * n_cases + 2), 3.4 * len(ops) * len(dtypes)),
        layout="constrained",
    )
    axes = fig.subplots(len(ops) * len(dtypes), 1, squeeze=False)
    any_flag = False
    for k, (op, dt) in enumerate(itertools.product(ops, dtypes)):
        ax = axes[k][0]
        sub = kern[(kern["operation"] == op) & (kern["dtype"] == dt)].sort_values(
            ["bytes_x", "backend", "threads"]
        )
        data = [np.asarray(s) / m for s, m in zip(sub["samples"], sub["median"], strict=True)]
        box = ax.boxplot(data, patch_artist=True, widths=0.6, whis=(0, 100))
        for patch, (_, r) in zip(box["boxes"], sub.iterrows(), strict=True):
            any_flag |= bool(r["flags"])
            patch.set_facecolor(color(str(r["backend"])))
            patch.set_alpha(0.75)
            patch.set_edgecolor("black" if r["flags"] else "0.6")
            patch.set_linewidth(1.6 if r["flags"] else 0.8)
        ax.set_xticks(range(1, len(sub) + 1))
        ax.set_xticklabels(
            [
                f"{r['n_x']}x{r['m']} {LABELS.get(r['backend'], r['backend'])}"
                for _, r in sub.iterrows()
            ],
            rotation=60,
            ha="right",
            fontsize=7,
        )
        ax.axhline(1.0, color="0.3", linewidth=0.8)
        ax.set_ylabel("timing / median (log)")
        log_y(ax)
        ax.set_title(
            f"{'gradient step' if op == 'propagate' else 'optimize iteration'}, {dt}: "
            "spread of the raw timings (whiskers: fastest-slowest)",
            fontsize=10,
        )
        ax.grid(visible=True, axis="y", alpha=0.35)
    handles = [
        Line2D([], [], color=color(b), linewidth=8, alpha=0.75, label=LABELS.get(b, b))
        for b in sorted_backends(kern["backend"])
    ]
    if any_flag:
        handles.append(
            Line2D(
                [],
                [],
                color="white",
                marker="s",
                markersize=10,
                markeredgecolor="black",
                linestyle="none",
                label="black edge: unsteady (see Stability in report.md)",
            )
        )
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle("Spread of the timings of each case (a steady case is a flat box at 1)")
    return fig
