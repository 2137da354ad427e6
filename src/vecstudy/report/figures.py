"""Tables -> figures (matplotlib, no pyplot state): headline, time, speedup, bandwidth, timings,
micro.

Conventions shared by every figure: one colour per backend, one marker per
dtype; one thread setting per figure (the headline's, normally one thread: the
Python loop always runs on one); log axes carry at least three labelled ticks
(:class:`ReadableLogLocator`), times in s, ms, µs or ns; every panel of a figure
spans the same size range; error bars are the 95% bootstrap interval of a
speedup, or the fastest and slowest timing; cases that were not timed are
listed in words under the panel, never drawn among the measurements; every
marker has one meaning and a legend entry, and no legend entry lacks a mark.
Stability flags are not drawn on the points: the report says once how many
cases were unsteady and what to do.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, Locator, MaxNLocator, NullFormatter
from matplotlib.typing import LineStyleType

from vecstudy.records.results import atomic_write_bytes
from vecstudy.report.markdown import format_bytes, format_ratio, format_seconds
from vecstudy.report.plain_words import (
    COURSE_SHAPE,
    base_threads,
    headline_dtype,
    headline_op,
    headline_shapes,
)

#: Colour of each backend in every figure (others cycle through the default palette).
COLORS: Final = {"python": "#d62728", "numba": "#2ca02c", "numpy": "#1f77b4"}
LABELS: Final = {
    "python": "Python loop",
    "numba": "Numba",
    "numpy": "NumPy",
    "dask": "Dask (NumPy in chunks)",
}
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


def _tick_text(v: float, _pos: object = None) -> str:
    if v <= 0:
        return ""
    if 1e-3 <= v < 1e4:
        return f"{v:g}"
    if 1e4 <= v < 1e7:
        return f"{v:,.0f}"
    exp = math.floor(math.log10(v))
    mant = v / 10**exp
    return f"{mant:g}e{exp}" if round(mant) != 1 else f"1e{exp}"


def time_text(seconds: float, _pos: object = None) -> str:
    """A tick label for a time: ``2e-4`` -> ``"200 µs"``, ``0.05`` -> ``"50 ms"``."""
    if not math.isfinite(seconds) or seconds <= 0:
        return ""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale * (1 - 1e-9):
            return f"{float(f'{seconds / scale:.3g}'):g} {unit}"
    return f"{float(f'{seconds / 1e-9:.3g}'):g} ns"


def ms_text(seconds: float, _pos: object = None) -> str:
    """A tick label in milliseconds: ``1e-4`` -> ``"0.1 ms"``, ``2.5`` -> ``"2,500 ms"``."""
    if not math.isfinite(seconds) or seconds <= 0:
        return ""
    ms = float(f"{seconds * 1e3:.3g}")
    return f"{ms:,.0f} ms" if ms >= 1000 else f"{ms:g} ms"


class ReadableLogLocator(Locator):
    """Ticks of a log axis with at least ``min_ticks`` inside the view.

    Powers of ten when they give enough, else 1, 2 and 5 times them, else every
    digit times them, else (a view narrower than a factor of 2) a few evenly
    spaced round values, as a linear axis would have.
    """

    def __init__(self, min_ticks: int = 3) -> None:
        self.min_ticks = min_ticks

    def __call__(self) -> Any:
        if self.axis is None:  # pragma: no cover - matplotlib sets it
            return []
        lo, hi = self.axis.get_view_interval()
        return self.tick_values(lo, hi)

    def tick_values(self, vmin: float, vmax: float) -> Any:
        lo, hi = sorted((float(vmin), float(vmax)))
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= 0:
            return np.array([])
        lo = max(lo, hi * 1e-12)
        k0, k1 = math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1
        for subs in ((1.0,), (1.0, 2.0, 5.0), tuple(float(d) for d in range(1, 10))):
            ticks = np.array(sorted(sd * 10.0**k for k in range(k0, k1 + 1) for sd in subs))
            inside = ticks[(ticks >= lo * (1 - 1e-9)) & (ticks <= hi * (1 + 1e-9))]
            if len(inside) >= self.min_ticks:
                return inside
        linear = MaxNLocator(nbins=self.min_ticks + 1, steps=[1, 2, 2.5, 5, 10])
        values = np.asarray(linear.tick_values(lo, hi))
        return values[values > 0]


def log_axis(ax: Axes, which: Literal["x", "y"] = "y", kind: str = "plain", unit: str = "") -> None:
    """Log ``which`` axis with at least three labelled ticks.

    ``kind``: ``"time"`` (seconds labelled ``200 µs``, ``5 ms``), ``"ms"`` (every
    tick in milliseconds) or ``"plain"`` (``0.5``, ``20``, followed by ``unit``).
    """
    axis = ax.yaxis if which == "y" else ax.xaxis
    (ax.set_yscale if which == "y" else ax.set_xscale)("log")
    axis.set_major_locator(ReadableLogLocator())
    axis.set_minor_formatter(NullFormatter())
    if kind == "time":
        axis.set_major_formatter(FuncFormatter(time_text))
    elif kind == "ms":
        axis.set_major_formatter(FuncFormatter(ms_text))
    else:
        axis.set_major_formatter(FuncFormatter(lambda v, p: _tick_text(v) + unit))
    ax.grid(visible=True, which="major", axis=which, alpha=0.35)


def log_y(ax: Axes, unit: str = "") -> None:
    """Log y axis with at least three labelled ticks (``unit`` after each label)."""
    log_axis(ax, "y", "plain", unit)


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
    ticks = np.log10(pts[x].to_numpy(dtype=float))
    span = math.log10(xlim[1] / xlim[0]) if xlim[0] > 0 and xlim[1] > xlim[0] else 1.0
    if len(ticks) > 1 and float(np.min(np.diff(ticks))) < 0.12 * span:
        # neighbours closer than a label's width (100x10000 beside 12288x209): every
        # other label one row lower, so that no two overlap
        depth = 1 + max(label.count("\n") for label in labels)
        labels = [("\n" * depth if i % 2 else "") + label for i, label in enumerate(labels)]
    ax.set_xticklabels(labels, fontsize=7)
    ax.minorticks_off()
    ax.set_xlim(*xlim)
    ax.grid(visible=True, which="major", axis="x", alpha=0.35)


def _xlim(values: pd.Series) -> tuple[float, float]:
    lo, hi = float(values.min()), float(values.max())
    return lo / 1.6, hi * 1.6


def _backend_handles(backends: Sequence[str], marker: str = "o") -> list[Line2D]:
    return [Line2D([], [], color=color(b), marker=marker, label=LABELS.get(b, b)) for b in backends]


def _sorted_backends(values: Any) -> list[str]:
    return sorted({str(v) for v in values}, key=lambda b: (b not in COLORS, b))


def one_setting(kern: pd.DataFrame, threads: int | None = None) -> pd.DataFrame:
    """The rows of one thread setting (default: the headline's), the Python loop's included."""
    if kern.empty:
        return kern
    t = base_threads(kern) if threads is None else threads
    return kern[(kern["threads"] == t) | (kern["backend"] == "python")]


def _why_not(reason: object) -> str:
    text = str(reason or "")
    if text.startswith("predicted"):
        return "too slow for the time budget (--budget)"
    if "failed to load" in text or "not installed" in text:
        return "not installed"
    return text[:60] + ("..." if len(text) > 60 else "")


def not_timed_text(skipped: pd.DataFrame) -> str:
    """Cases that were not timed, in words: ``"Not timed: Python loop at 1000x10000 (too
    slow ...)"``, one line per backend and reason; ``""`` when none."""
    if skipped.empty:
        return ""
    lines = []
    sk = skipped.assign(why=skipped["reason"].map(_why_not))
    for (be, why), g in sk.groupby(["backend", "why"], sort=False):
        shapes = list(dict.fromkeys(f"{n}x{m}" for n, m in zip(g["n_x"], g["m"], strict=True)))
        more = f" and {len(shapes) - 4} more" if len(shapes) > 4 else ""
        lines.append(f"{LABELS.get(str(be), str(be))[:30]} at {', '.join(shapes[:4])}{more}: {why}")
    return "Not timed (not drawn):\n" + "\n".join(lines[:8])


def _text_below(ax: Axes, text: str) -> None:
    """``text`` in a box under the panel, outside the data area."""
    if text:
        ax.annotate(
            text,
            xy=(0.0, 0.0),
            xycoords=("axes fraction", ax.xaxis.label),  # under the axis title, whatever
            xytext=(0, -6),  # the tick labels' height
            textcoords="offset points",
            va="top",
            ha="left",
            fontsize=7.5,
            bbox={"boxstyle": "round", "facecolor": "#f4f4f4", "edgecolor": "0.7"},
        )


def _estimated_loop(
    kern: pd.DataFrame, n_x: int, m: int, op: str, dtype: str
) -> tuple[float, bool]:
    here = kern[
        (kern["operation"] == op)
        & (kern["dtype"] == dtype)
        & (kern["n_x"] == n_x)
        & (kern["m"] == m)
    ]
    py = here[here["backend"] == "python"]
    if not py.empty:
        return float(py.iloc[0]["median"]), False
    est = here[(here["backend"] != "python") & here["loop_s"].notna()]
    if est.empty:
        return math.nan, False
    return float(est.iloc[0]["loop_s"]), bool(est.iloc[0]["vs_python_est"])


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
    loop_s, est = _estimated_loop(kern, n_x, m, op, dtype)
    bars: list[tuple[str, float, str, bool]] = []
    if math.isfinite(loop_s):
        text = (
            f"~{format_seconds(loop_s)}, estimated (too slow to time here)"
            if est
            else format_seconds(loop_s)
        )
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
            text += f", {'~' if est else ''}{format_ratio(shown)} {word} than the loop"
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
    backends = _sorted_backends(kern["backend"])
    xlim = _xlim(kern["elements"])
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
        _text_below(ax, not_timed_text(sk))
        ax.set_title(f"one gradient step, {dt}, {threads_label(t, all_threads)}", fontsize=10)
        ax.set_xlabel(f"size of X: n_x x m (and its bytes in {dt})")
        ax.set_ylabel("time per step (log scale; bars: fastest-slowest)")
        log_axis(ax, "y", "time")
        _size_axis(ax, kern[kern["dtype"] == dt], "elements", xlim, with_bytes=True)
    handles = _backend_handles(backends)
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
            _size_axis(ax, kern, "elements", xlim)
    handles = _backend_handles(_sorted_backends(drawn))
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
    xlim = _xlim(pd.concat([sub["bytes_x"], read["bytes_x"]]))
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
        _size_axis(ax, pd.concat([here, r]), "bytes_x", xlim)
    handles = _backend_handles(_sorted_backends(sub["backend"]))
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
        for b in _sorted_backends(kern["backend"])
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
                label = f"{LABELS.get(str(be), str(be))[:30]}\nnot timed:\n{_why_not(reason)}"
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
    handles = _backend_handles(_sorted_backends(micro["backend"]))
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
