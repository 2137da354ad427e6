"""What every figure of the study shares: colours, labels, log axes, size axes, legends, files.

The conventions of :mod:`vecstudy.report.figures` live here: one colour per backend
(:func:`color`), one marker per dtype (:data:`MARKERS`); log axes carry at least three
labelled ticks (:class:`ReadableLogLocator`, labels from :mod:`vecstudy.ticks`), times in
s, ms, µs or ns; every panel of a figure spans the same size range (:func:`size_range`,
:func:`size_axis`); cases that were not timed are listed in words under the panel
(:func:`not_timed_text`, :func:`text_below`), never drawn among the measurements.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, Locator, MaxNLocator, NullFormatter

from vecstudy.records.results import atomic_write_bytes
from vecstudy.report.markdown import format_bytes
from vecstudy.report.plain_words import base_threads
from vecstudy.ticks import ms_text, tick_text, time_text

#: Colour of each backend in every figure (others cycle through the default palette).
COLORS: Final = {"python": "#d62728", "numba": "#2ca02c", "numpy": "#1f77b4"}
LABELS: Final = {
    "python": "Python loop",
    "numba": "Numba",
    "numpy": "NumPy",
    "dask": "Dask (NumPy in chunks)",
}
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
    enclose_log_views(fig)
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


class ReadableLogLocator(Locator):
    """Ticks of a log axis with at least ``min_ticks`` inside the view.

    Powers of ten when they give enough, else 1, 2 and 5 times them, else (a view
    of a factor 4 or more) every digit times them, else a few evenly spaced round values,
    as a linear axis would have: a narrow view (timings over their median, 0.5 to 1.5)
    then gets labels on both sides of 1, not nine crowded ones below it.
    """

    #: The narrowest view (hi / lo) that gets every digit times the powers of ten.
    DIGITS_MIN_SPAN: Final = 4.0

    def __init__(self, min_ticks: int = 3) -> None:
        self.min_ticks = min_ticks

    def __call__(self) -> Any:
        if self.axis is None:  # pragma: no cover - matplotlib sets it
            return []
        lo, hi = self.axis.get_view_interval()
        return self.tick_values(lo, hi)

    def _ticks(self, lo: float, hi: float) -> tuple[Any, Any]:
        """``(inside, around)``: the ticks in ``[lo, hi]``, and those of the same kind
        beyond it too (at least one on each side)."""
        k0, k1 = math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1
        levels: list[tuple[float, ...]] = [(1.0,), (1.0, 2.0, 5.0)]
        if hi / lo >= self.DIGITS_MIN_SPAN:
            levels.append(tuple(float(d) for d in range(1, 10)))
        for subs in levels:
            ticks = np.array(sorted(sd * 10.0**k for k in range(k0, k1 + 1) for sd in subs))
            inside = ticks[(ticks >= lo * (1 - 1e-9)) & (ticks <= hi * (1 + 1e-9))]
            if len(inside) >= self.min_ticks:
                return inside, ticks
        linear = MaxNLocator(nbins=self.min_ticks + 1, steps=[1, 2, 2.5, 5, 10])
        values = np.asarray(linear.tick_values(lo, hi))
        values = values[values > 0]
        inside = values[(values >= lo * (1 - 1e-9)) & (values <= hi * (1 + 1e-9))]
        return inside, values

    @staticmethod
    def _range(vmin: float, vmax: float) -> tuple[float, float] | None:
        lo, hi = sorted((float(vmin), float(vmax)))
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= 0:
            return None
        return max(lo, hi * 1e-12), hi

    def tick_values(self, vmin: float, vmax: float) -> Any:
        got = self._range(vmin, vmax)
        return np.array([]) if got is None else self._ticks(*got)[0]

    def enclosing(self, vmin: float, vmax: float) -> tuple[float, float] | None:
        """The nearest ticks at or beyond ``vmin`` and ``vmax``, of the kind the view
        gets: a view widened to them has a labelled tick on either side of every point."""
        got = self._range(vmin, vmax)
        if got is None:
            return None
        lo, hi = got
        _, around = self._ticks(lo, hi)
        below = around[around <= lo * (1 + 1e-9)]
        above = around[around >= hi * (1 - 1e-9)]
        return (float(below.max()) if len(below) else lo, float(above.min()) if len(above) else hi)


def enclose_log_views(fig: Figure) -> None:
    """Widen every log axis of ``fig`` (ticks by :class:`ReadableLogLocator`) to the
    nearest labelled ticks beyond its data: no point, bar or interval end lies past the
    last label (a dot product at 296 us sat below a lowest label of 1 ms)."""
    for ax in fig.axes:
        for axis, set_lim in ((ax.yaxis, ax.set_ylim), (ax.xaxis, ax.set_xlim)):
            loc = axis.get_major_locator()
            if axis.get_scale() != "log" or not isinstance(loc, ReadableLogLocator):
                continue
            view = tuple(axis.get_view_interval())
            for _ in range(4):  # a wider view may take sparser ticks: until they hold
                got = loc.enclosing(*view)
                if got is None or not got[0] < got[1] or got == view:
                    break
                view = got
            if view != tuple(axis.get_view_interval()):
                set_lim(*view)


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
        axis.set_major_formatter(
            FuncFormatter(lambda v, _pos: tick_text(v, grouped_below=1e7) + unit)
        )
    ax.grid(visible=True, which="major", axis=which, alpha=0.35)


def log_y(ax: Axes, unit: str = "") -> None:
    """Log y axis with at least three labelled ticks (``unit`` after each label)."""
    log_axis(ax, "y", "plain", unit)


def size_axis(
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


def size_range(values: pd.Series) -> tuple[float, float]:
    """The x range of every panel: the sizes in ``values``, a factor 1.6 of room each side."""
    lo, hi = float(values.min()), float(values.max())
    return lo / 1.6, hi * 1.6


def backend_handles(backends: Sequence[str], marker: str = "o") -> list[Line2D]:
    """One legend entry per backend, in its colour."""
    return [Line2D([], [], color=color(b), marker=marker, label=LABELS.get(b, b)) for b in backends]


def sorted_backends(values: Any) -> list[str]:
    """The backends in ``values``: the three of the course first, then the others by name."""
    return sorted({str(v) for v in values}, key=lambda b: (b not in COLORS, b))


def one_setting(kern: pd.DataFrame, threads: int | None = None) -> pd.DataFrame:
    """The rows of one thread setting (default: the headline's), the Python loop's included."""
    if kern.empty:
        return kern
    t = base_threads(kern) if threads is None else threads
    return kern[(kern["threads"] == t) | (kern["backend"] == "python")]


def why_not(reason: object) -> str:
    """Why a case was not timed, in a few words (from its ``reason``)."""
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
    sk = skipped.assign(why=skipped["reason"].map(why_not))
    for (be, why), g in sk.groupby(["backend", "why"], sort=False):
        shapes = list(dict.fromkeys(f"{n}x{m}" for n, m in zip(g["n_x"], g["m"], strict=True)))
        more = f" and {len(shapes) - 4} more" if len(shapes) > 4 else ""
        lines.append(f"{LABELS.get(str(be), str(be))[:30]} at {', '.join(shapes[:4])}{more}: {why}")
    return "Not timed (not drawn):\n" + "\n".join(lines[:8])


def text_below(ax: Axes, text: str) -> None:
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
