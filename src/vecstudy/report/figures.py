"""Tables -> figures (matplotlib, no pyplot state): time, speedup, bandwidth, timings, micro.

Conventions shared by every figure: one colour per backend, one line style per
thread setting, one marker per dtype; log axes carry labelled ticks at 1, 2 and
5 times each power of ten; every panel of a figure spans the same size range;
error bars are the 95% bootstrap interval of a speedup, or the min-max of
timings; cases flagged unstable (:mod:`vecstudy.study.stats`) are circled in
black; every line drawn has a legend entry and no legend entry lacks a line.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from matplotlib.typing import LineStyleType

from vecstudy.records.results import atomic_write_bytes
from vecstudy.report.markdown import format_bytes, format_seconds

#: Colour of each backend in every figure (others cycle through the default palette).
COLORS: Final = {"python": "#d62728", "numba": "#2ca02c", "numpy": "#1f77b4"}
LABELS: Final = {"python": "Python loop", "numba": "Numba", "numpy": "NumPy"}
#: What the course measured for the 1,000,000-element dot product (seconds).
COURSE_DOT: Final = {"python": 0.530, "numpy": 0.00146}
FORMATS: Final = ("png", "svg")
MARKERS: Final = ("o", "s", "^")


def plain_text() -> contextlib.AbstractContextManager[Any]:
    """Figures drawn inside show text as it is: no ``$...$`` math (names come from files).

    A backend or benchmark name such as ``"$\\frac{$"`` in a results file would otherwise
    be parsed as mathtext, and fail the whole figure.
    """
    import matplotlib

    return matplotlib.rc_context({"text.parse_math": False})


def save(fig: Figure, stem: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.svg`` (or ``formats``), atomically."""
    paths = []
    for fmt in formats:
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=110, bbox_inches="tight")
        path = stem.with_suffix("." + fmt)
        atomic_write_bytes(path, buf.getvalue())
        paths.append(path)
    return paths


def color(backend: str) -> str:
    """The colour of ``backend`` in every figure."""
    if backend in COLORS:
        return COLORS[backend]
    palette = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    return palette[sum(map(ord, backend)) % len(palette)]


def threads_label(threads: int, all_threads: int) -> str:
    """``"2 threads (all cores)"``."""
    return (
        f"{threads} thread"
        + ("s" if threads != 1 else "")
        + (" (all cores)" if threads == all_threads and threads > 1 else "")
    )


def _styles(threads_values: Sequence[int]) -> dict[int, LineStyleType]:
    styles: list[LineStyleType] = ["-", "--", ":", "-."]
    return {t: styles[i % len(styles)] for i, t in enumerate(sorted(threads_values))}


def _tick_text(v: float, _pos: object = None) -> str:
    if v <= 0:
        return ""
    if 1e-3 <= v < 1e4:
        return f"{v:g}"
    exp = math.floor(math.log10(v))
    mant = v / 10**exp
    return f"{mant:g}e{exp}" if round(mant) != 1 else f"1e{exp}"


def log_y(ax: Axes, unit: str = "") -> None:
    """Log y axis with labelled ticks at 1, 2, 5 x 10^k (at least three labels)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=12))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, p: _tick_text(v) + unit))
    ax.grid(visible=True, which="major", axis="y", alpha=0.35)


def _size_axis(
    ax: Axes, points: pd.DataFrame, x: str, xlim: tuple[float, float], with_bytes: bool = False
) -> None:
    """Log x axis labelled with each measured shape (and its bytes if ``with_bytes``).

    ``points`` should hold one dtype when ``with_bytes`` (one label per tick).
    """
    ax.set_xscale("log")
    pts = points.drop_duplicates(x).sort_values(x)
    ax.set_xticks(pts[x].to_numpy(dtype=float))
    labels = [f"{n}x{m}" for n, m in zip(pts["n_x"], pts["m"], strict=True)]
    if with_bytes or x == "bytes_x":
        labels = [f"{s}\n{format_bytes(b)}" for b, s in zip(pts["bytes_x"], labels, strict=True)]
    ax.set_xticklabels(labels, fontsize=7)
    ax.minorticks_off()
    ax.set_xlim(*xlim)
    ax.grid(visible=True, which="major", axis="x", alpha=0.35)


def _xlim(values: pd.Series) -> tuple[float, float]:
    lo, hi = float(values.min()), float(values.max())
    return lo / 1.6, hi * 1.6


def _flag_ring(ax: Axes, x: Any, y: Any) -> None:
    """A black ring around each point, wide enough to leave the marker's shape visible."""
    ax.scatter(x, y, s=170, facecolors="none", edgecolors="black", linewidths=1.0, zorder=5)


FLAG_HANDLE: Final = Line2D(
    [],
    [],
    marker="o",
    markersize=12,
    markerfacecolor="none",
    markeredgecolor="black",
    linestyle="none",
    label="unstable timing (see flags in report.md)",
)


def _backend_handles(backends: Sequence[str], marker: str = "o") -> list[Line2D]:
    return [Line2D([], [], color=color(b), marker=marker, label=LABELS.get(b, b)) for b in backends]


def _thread_handles(styles: dict[int, LineStyleType], all_threads: int) -> list[Line2D]:
    if len(styles) < 2:
        return []
    return [
        Line2D([], [], color="0.3", linestyle=s, label=threads_label(t, all_threads))
        for t, s in styles.items()
    ]


def _sorted_backends(values: Any) -> list[str]:
    return sorted({str(v) for v in values}, key=lambda b: (b not in COLORS, b))


def figure_time(
    kern: pd.DataFrame, all_threads: int, skipped: pd.DataFrame | None = None
) -> Figure:
    """Time per step and per iteration vs size of ``X``: rows = operation, columns = dtype.

    The x axis is the number of elements ``n_x * m`` (ticks name the shape and
    its bytes in that dtype), the same range in every panel; error bars are
    min-max of the raw timings; the grey line is the time to read X once at the
    measured read bandwidth (left out where that measurement was flagged); an
    ``x`` at the top marks a backend skipped at that size (over the budget).
    """
    kern = kern.assign(elements=kern["n_x"] * kern["m"])
    ops = [o for o in ("propagate", "optimize") if o in set(kern["operation"])]
    dtypes = sorted(set(kern["dtype"]), reverse=True)
    backends = _sorted_backends(kern["backend"])
    styles = _styles(sorted(set(kern["threads"])))
    xlim = _xlim(kern["elements"])
    skipped = skipped if skipped is not None else pd.DataFrame(columns=kern.columns)
    any_skip = False
    fig = Figure(figsize=(5.8 * len(dtypes), 4.3 * len(ops)), layout="constrained")
    axes = fig.subplots(len(ops), len(dtypes), squeeze=False)
    any_flag = drew_limit = False
    for (i, op), (j, dt) in itertools.product(enumerate(ops), enumerate(dtypes)):
        ax = axes[i][j]
        sub = kern[(kern["operation"] == op) & (kern["dtype"] == dt)]
        for (be, th), group in sub.groupby(["backend", "threads"]):
            g = group.sort_values("elements")
            ax.errorbar(
                g["elements"],
                g["median"],
                yerr=[g["median"] - g["min"], g["max"] - g["median"]],
                color=color(str(be)),
                linestyle=styles[int(cast("int", th))],
                marker="o",
                markersize=4,
                capsize=2,
            )
            flagged = g[g["flags"].map(bool)]
            if not flagged.empty:
                any_flag = True
                _flag_ring(ax, flagged["elements"], flagged["median"])
        sk = skipped[
            (skipped["kind"] == "kernel") & (skipped["operation"] == op) & (skipped["dtype"] == dt)
        ]
        for k, (be, group) in enumerate(sk.groupby("backend")):
            any_skip = True
            ax.scatter(
                group["n_x"] * group["m"],
                [0.93 - 0.05 * k] * len(group),
                transform=ax.get_xaxis_transform(),
                marker="x",
                s=40,
                color=color(str(be)),
                zorder=6,
            )
        lim = sub[~sub["limit_flagged"]].dropna(subset=["limit_s"])
        lim = lim.groupby("elements")["limit_s"].min()
        if not lim.empty:
            drew_limit = True
            ax.plot(lim.index, lim.to_numpy(), color="0.5", linewidth=3, alpha=0.5, zorder=0)
        what = "one gradient step (propagate)" if op == "propagate" else "one optimize iteration"
        ax.set_title(f"{what}, {dt}", fontsize=10)
        ax.set_xlabel(f"size of X: n_x x m ({dt} bytes)")
        ax.set_ylabel("time (s; median, bars min-max)")
        log_y(ax)
        if not sk.empty:  # headroom above the data for the skip marks
            lo, hi = ax.get_ylim()
            ax.set_ylim(lo, hi * 6)
        _size_axis(ax, kern[kern["dtype"] == dt], "elements", xlim, with_bytes=True)
    handles = _backend_handles(backends) + _thread_handles(styles, all_threads)
    if drew_limit:
        handles.append(
            Line2D([], [], color="0.5", linewidth=3, alpha=0.5, label="read X once (measured)")
        )
    if any_flag:
        handles.append(FLAG_HANDLE)
    if any_skip:
        handles.append(
            Line2D(
                [], [], color="0.3", marker="x", linestyle="none", label="skipped: over the budget"
            )
        )
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle("Time per gradient step vs problem size (lower is better)")
    return fig


def figure_speedup(kern: pd.DataFrame, all_threads: int) -> Figure:
    """Speedup over the Python loop (left) and over NumPy (right); rows = step, iteration.

    The x axis is the number of elements ``n_x * m`` so that both dtypes share
    it; error bars are 95% bootstrap intervals; hollow markers are speedups
    over an *estimated* Python-loop time (the loop was skipped as too slow).
    """
    ops = [o for o in ("propagate", "optimize") if o in set(kern["operation"])]
    kern = kern.assign(elements=kern["n_x"] * kern["m"])
    dtypes = sorted(set(kern["dtype"]), reverse=True)
    markers = dict(zip(dtypes, MARKERS, strict=False))
    styles = _styles(sorted(set(kern["threads"])))
    xlim = _xlim(kern["elements"])
    # a column only where some backend has a ratio to draw (no empty panels)
    columns = [
        (col, base)
        for col, base in (("vs_python", "python"), ("vs_numpy", "numpy"))
        if kern[~kern["backend"].isin([base, "python"])][col].notna().any()
    ] or [("vs_python", "python")]
    fig = Figure(figsize=(5.75 * len(columns) + 0.5, 4.2 * len(ops)), layout="constrained")
    axes = fig.subplots(len(ops), len(columns), squeeze=False)
    drawn: set[str] = set()
    any_est = any_flag = False
    for i, op in enumerate(ops):
        sub = kern[kern["operation"] == op]
        what = "gradient step" if op == "propagate" else "optimize iteration"
        for ax, (col, base) in zip(axes[i], columns, strict=True):
            for (be, th, dt), group in sub.groupby(["backend", "threads", "dtype"]):
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
                    linestyle=styles[int(cast("int", th))],
                    marker=markers.get(str(dt), "o"),
                    markersize=7,
                    capsize=2,
                )
                flagged = g[g["flags"].map(bool)]
                if not flagged.empty:
                    any_flag = True
                    _flag_ring(ax, flagged["elements"], flagged[col])
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
            ax.set_ylabel(f"speedup over {name} (x, 95% CI)")
            log_y(ax, "x")
            _size_axis(ax, kern, "elements", xlim)
    handles = _backend_handles(_sorted_backends(drawn)) + _thread_handles(styles, all_threads)
    handles += [
        Line2D([], [], color="0.3", marker=markers[dt], linestyle="none", label=dt) for dt in dtypes
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
                label="over an estimated loop time (loop skipped)",
            )
        )
    if any_flag:
        handles.append(FLAG_HANDLE)
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle("Speedup = ratio of medians measured side by side (higher is better)")
    return fig


def figure_bandwidth(kern: pd.DataFrame, summary: pd.DataFrame, all_threads: int) -> Figure:
    """Effective bandwidth ``bytes(X) / time per step`` vs size: rows = dtype, columns = threads.

    The compiled and vectorized backends only: the Python loop's bandwidth is
    three to four decades lower and is in the tables.
    """
    sub = kern[(kern["operation"] == "propagate") & (kern["backend"] != "python")]
    read = summary[summary["kind"] == "bandwidth"].copy()
    read["gbps"] = read["bytes_x"] / read["median"] / 1e9
    threads = sorted(set(sub["threads"]) | set(read["threads"]))
    dtypes = sorted(set(sub["dtype"]) | set(read["dtype"]), reverse=True)
    xlim = _xlim(pd.concat([sub["bytes_x"], read["bytes_x"]]))
    fig = Figure(figsize=(5.6 * len(threads), 3.9 * len(dtypes)), layout="constrained")
    axes = fig.subplots(len(dtypes), len(threads), squeeze=False, sharey=True)
    any_flag = False
    for (i, dt), (j, th) in itertools.product(enumerate(dtypes), enumerate(threads)):
        ax = axes[i][j]
        here = sub[(sub["threads"] == th) & (sub["dtype"] == dt)]
        for be, group in here.groupby("backend"):
            g = group.sort_values("bytes_x")
            ax.plot(g["bytes_x"], g["gbps"], color=color(str(be)), marker="o", markersize=4)
        r = read[(read["threads"] == th) & (read["dtype"] == dt)].sort_values("bytes_x")
        ax.plot(r["bytes_x"], r["gbps"], color="black", linewidth=2.5, alpha=0.55)
        flagged = r[r["flags"].map(lambda f: "bandwidth" in f)]
        if not flagged.empty:
            any_flag = True
            _flag_ring(ax, flagged["bytes_x"], flagged["gbps"])
        ax.set_title(f"{dt}, {threads_label(int(th), all_threads)}", fontsize=10)
        ax.set_xlabel("size of X (bytes)")
        ax.set_ylabel("GB/s (bytes of X / time per step)")
        log_y(ax)
        _size_axis(ax, pd.concat([sub[sub["dtype"] == dt], r]), "bytes_x", xlim)
    read_be = ", ".join(sorted(set(read["backend"]))) or "none"
    handles = _backend_handles(_sorted_backends(sub["backend"]))
    handles.append(
        Line2D([], [], color="black", linewidth=2.5, alpha=0.55, label=f"read X once ({read_be})")
    )
    if any_flag:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                markersize=10,
                markerfacecolor="none",
                markeredgecolor="black",
                linestyle="none",
                label="read slower than a step: machine busy, not a limit",
            )
        )
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle("Effective bandwidth of one gradient step vs reading X once (higher is better)")
    return fig


def figure_timings(summary: pd.DataFrame) -> Figure:
    """Distribution of the raw timings of every kernel case: box plots of timing / median.

    One panel per operation and dtype; one box per backend, thread setting and
    shape, in the order of the tables.  A box far from 1 or long whiskers mean
    an unstable case (flagged cases have a black box).
    """
    kern = summary[summary["kind"] == "kernel"]
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
    for k, (op, dt) in enumerate(itertools.product(ops, dtypes)):
        ax = axes[k][0]
        sub = kern[(kern["operation"] == op) & (kern["dtype"] == dt)].sort_values(
            ["bytes_x", "backend", "threads"]
        )
        data = [np.asarray(s) / m for s, m in zip(sub["samples"], sub["median"], strict=True)]
        box = ax.boxplot(data, patch_artist=True, widths=0.6, whis=(0, 100))
        for patch, (_, r) in zip(box["boxes"], sub.iterrows(), strict=True):
            patch.set_facecolor(color(str(r["backend"])))
            patch.set_alpha(0.75)
            patch.set_edgecolor("black" if r["flags"] else "0.6")
            patch.set_linewidth(1.6 if r["flags"] else 0.8)
        ax.set_xticks(range(1, len(sub) + 1))
        ax.set_xticklabels(
            [
                f"{r['n_x']}x{r['m']} {LABELS.get(r['backend'], r['backend'])} t{r['threads']}"
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
            "spread of the raw timings (whiskers: min-max)",
            fontsize=10,
        )
        ax.grid(visible=True, axis="y", alpha=0.35)
    handles = [
        Line2D([], [], color=color(b), linewidth=8, alpha=0.75, label=LABELS.get(b, b))
        for b in _sorted_backends(kern["backend"])
    ]
    handles.append(
        Line2D(
            [],
            [],
            color="white",
            marker="s",
            markersize=10,
            markeredgecolor="black",
            linestyle="none",
            label="black edge: flagged unstable",
        )
    )
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle("Distribution of timings per case (a stable case is a flat box at 1)")
    return fig


def figure_micro(micro: pd.DataFrame, all_threads: int) -> Figure:
    """The micro-studies as points (log scale, min-max bars): loop vs NumPy vs Numba.

    Points rather than bars: on a log axis a bar's length depends on where the
    axis starts.  For the course's 1,000,000-element dot product the course's own
    timings are drawn as dotted lines, each with a legend entry.
    """
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
    course = any_flag = False
    for ax, op in zip(axes, ops, strict=False):
        sub = micro[micro["operation"] == op].copy()
        sub["o"] = sub["backend"].map(lambda v: order.get(v, 3))
        sub = sub.sort_values(["o", "threads"])
        base = sub.loc[sub["backend"] == "python", "median"].min()
        x = np.arange(len(sub))
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
                text += f"\n{base / r['median']:,.0f}x"
            ax.annotate(
                text, (xi, r["median"]), textcoords="offset points", xytext=(12, -4), fontsize=8
            )
            if r["flags"]:
                any_flag = True
                _flag_ring(ax, [xi], [r["median"]])
        labels = [
            LABELS.get(b, b) + ("" if b == "python" else f"\n{t} thr")
            for b, t in zip(sub["backend"], sub["threads"], strict=True)
        ]
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_xlim(-0.5, len(sub) - 0.2)
        n = int(sub["m"].iloc[0]) if not sub.empty else 0
        rows = int(sub["n_x"].iloc[0]) if not sub.empty else 1
        size = f"{rows} x {n:,}" if rows > 1 else f"{n:,}"
        ax.set_title(f"{titles.get(op, op)} ({size} float64)", fontsize=10)
        if op == "dot" and n == 1_000_000:
            course = True
            for impl, secs in COURSE_DOT.items():
                ax.axhline(secs, color=color(impl), linestyle=":", linewidth=1.2)
        ax.set_ylabel("time per call (s, log scale; lower is better)")
        log_y(ax)
    handles = _backend_handles(_sorted_backends(micro["backend"]))
    if course:
        handles += [
            Line2D([], [], color=color(i), linestyle=":", label=f"the course's {w} ({s})")
            for i, w, s in (("python", "loop", "530 ms"), ("numpy", "np.dot", "1.46 ms"))
        ]
    if any_flag:
        handles.append(FLAG_HANDLE)
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    fig.suptitle(
        "Course micro-studies: explicit loop vs vectorized vs compiled "
        "(labels: median, speedup over the loop)"
    )
    return fig
