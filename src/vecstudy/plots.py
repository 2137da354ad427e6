"""The course's cost curve: :func:`plot_costs` draws what :func:`vecstudy.model` returns.

>>> import numpy as np, vecstudy
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(3, 40)); Y = (X[0] > 0).astype(float).reshape(1, -1)
>>> runs = [vecstudy.model(X, Y, X, Y, 300, lr) for lr in (0.01, 0.1)]
>>> fig = vecstudy.plot_costs(runs)        # the course's learning-rate comparison
>>> fig.axes[0].get_xlabel(), fig.axes[0].get_yscale()
('iterations', 'log')

The result is a :class:`matplotlib.figure.Figure` made without pyplot (no global
state): a notebook shows it when it is the last expression of a cell, and
``fig.savefig("costs.png")`` writes it.
"""

from __future__ import annotations

import functools
import io
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from vecstudy.ticks import tick_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The course records the cost every 100 iterations (``vecstudy.api.RECORD_EVERY``).
DEFAULT_RECORD_EVERY: Final = 100
#: Keys read from each dict: ``costs`` and ``learning_rate`` are required.
KEYS: Final = (
    "costs",
    "learning_rate",
    "num_iterations",
    "record_every",
    "final_cost",
    "backend",
    "dtype",
    "seconds",
)
_STYLES: Final = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1)), "v"))


def format_cost(cost: float) -> str:
    """A cost as the console prints it in ``vecstudy train``'s table: 6 significant digits."""
    return f"{cost:.6g}"


def _real(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        text = repr(value)
        text = text if len(text) <= 40 else text[:37] + "..."
        raise TypeError(f"{what} must be a real number, got {type(value).__name__} {text}")
    return float(value)


def _run(d: object, i: int) -> dict[str, Any]:
    """Check one dict and return what is drawn from it."""
    where = f"d[{i}]"
    if not isinstance(d, Mapping):
        raise TypeError(
            f"{where} must be a dict returned by vecstudy.model (with keys 'costs' and "
            f"'learning_rate'), got {type(d).__name__}"
        )
    missing = [k for k in ("costs", "learning_rate") if k not in d]
    if missing:
        keys = ", ".join(repr(str(k))[:30] for k in list(d)[:8])
        raise KeyError(f"{where} has no {' or '.join(map(repr, missing))}; keys found: {keys}")
    raw = d["costs"]
    if isinstance(raw, str | bytes) or not hasattr(raw, "__len__") or len(raw) == 0:
        raise ValueError(f"{where}['costs'] must be a non-empty list of recorded costs")
    costs = [_real(c, f"{where}['costs'][{j}]") for j, c in enumerate(raw)]
    every = d.get("record_every", DEFAULT_RECORD_EVERY)
    if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
        raise ValueError(f"{where}['record_every'] must be an integer >= 1, got {every!r:.40}")
    iters = [j * int(every) for j in range(len(costs))]
    final = d.get("final_cost")
    n_iter = d.get("num_iterations")
    after_last = False  # whether the last point is the cost after the last update
    if final is not None and n_iter is not None:  # a cost after the last update: drawn last
        n = int(_real(n_iter, f"{where}['num_iterations']"))
        after_last = n >= iters[-1]
        if n > iters[-1]:
            iters.append(n)
            costs.append(_real(final, f"{where}['final_cost']"))
    seconds = d.get("seconds")
    return {
        "iters": iters,
        "costs": costs,
        "final": after_last,
        "lr": _real(d["learning_rate"], f"{where}['learning_rate']"),
        "backend": None if d.get("backend") is None else str(d["backend"])[:40],
        "dtype": None if d.get("dtype") is None else str(d["dtype"])[:20],
        "seconds": None if seconds is None else _real(seconds, f"{where}['seconds']"),
    }


def _label(r: dict[str, Any], *, rate: bool, backend: bool) -> str:
    parts = []
    if rate:
        parts.append(f"{r['lr']:g}")  # under the legend's title "learning rate"
    if backend and r["backend"] is not None:
        parts.append(r["backend"] + (f" ({r['dtype']})" if r["dtype"] else ""))
    text = ", ".join(parts)
    # "final" only for the cost after the last update; else the last one recorded (the
    # course records before the update of iterations 0, 100, ...: not after the last)
    which = "final cost" if r["final"] else "last recorded cost"
    tail = f"{which} {format_cost(r['costs'][-1])} at iteration {r['iters'][-1]:,}"
    if r["seconds"] is not None:
        tail += f", {r['seconds']:.3f} s"
    return f"{text}: {tail}" if text else tail


@functools.cache
def _figure_class() -> type[Figure]:
    """A Figure that shows itself in a notebook as PNG even when pyplot was never imported."""
    from matplotlib.figure import Figure

    class CostFigure(Figure):
        """A :class:`~matplotlib.figure.Figure` with a PNG repr for notebooks."""

        def _repr_png_(self) -> bytes:
            buf = io.BytesIO()
            self.savefig(buf, format="png", dpi=100, bbox_inches="tight")
            return buf.getvalue()

    CostFigure.__module__ = __name__
    CostFigure.__qualname__ = "CostFigure"  # pickled by name: plots.CostFigure
    return CostFigure


def __getattr__(name: str) -> object:
    """``CostFigure``, the class of :func:`plot_costs`'s figures (made on first use)."""
    if name == "CostFigure":
        return _figure_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def plot_costs(
    d: Mapping[str, Any] | Sequence[Mapping[str, Any]], *, title: str | None = None
) -> Figure:
    """Cost against iteration for one run of :func:`vecstudy.model`, or several compared.

    Parameters
    ----------
    d : dict, or list of dicts
        What :func:`vecstudy.model` returns: ``costs`` (recorded every
        ``record_every`` iterations, 100 if absent) and ``learning_rate`` are
        read; ``num_iterations`` with ``final_cost`` adds the cost after the last
        update; ``backend``, ``dtype`` and ``seconds`` label the curve.  A list
        is the course's learning-rate comparison: one curve per dict.
    title : str, optional
        Replaces the default title.

    Returns
    -------
    matplotlib.figure.Figure
        x: iterations; y: the cost on a log scale (linear if a cost is not
        positive).  The legend gives each run's final cost (6 significant
        digits, as ``vecstudy train`` prints it), or, without ``final_cost``,
        its last recorded cost.  With several learning rates
        and several backends, one panel per backend, sharing the y axis.

    Raises
    ------
    TypeError, KeyError, ValueError
        ``d`` is not a dict (or list of dicts) with the keys above; a cost is
        not a real number.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    items: object = [d] if isinstance(d, Mapping) else d
    if isinstance(items, str | bytes) or not isinstance(items, Sequence) or not items:
        raise TypeError(
            "d must be the dict vecstudy.model returns, or a non-empty list of them, "
            f"got {type(d).__name__}"
        )
    runs = [_run(one, i) for i, one in enumerate(items)]
    rates = list(dict.fromkeys(r["lr"] for r in runs))
    backends = list(dict.fromkeys(r["backend"] for r in runs))
    panels = backends if len(rates) > 1 and len(backends) > 1 else [None]
    fig = _figure_class()(figsize=(4.8 * len(panels) + 2.4, 4.6), layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    everything = [c for r in runs for c in r["costs"]]
    log = all(math.isfinite(c) and c > 0 for c in everything)
    for ax, panel in zip(axes, panels, strict=True):
        here = [r for r in runs if panel is None or r["backend"] == panel]
        for i, r in enumerate(here):
            ls, marker = _STYLES[i % len(_STYLES)]
            color = f"C{rates.index(r['lr']) if len(rates) > 1 else i}"
            ax.plot(
                r["iters"],
                r["costs"],
                linestyle=ls,
                marker=marker,
                markevery=max(1, len(r["iters"]) // 10),
                # larger, hollow markers behind: coinciding curves stay visible
                markersize=max(4, 11 - 3 * i) if len(here) > 1 else 5,
                markerfacecolor="none" if i < len(here) - 1 else color,
                color=color,
                label=_label(r, rate=len(rates) > 1, backend=panel is None),
            )
        if panel is not None:
            ax.set_title(f"backend {panel}", fontsize=10)
        ax.set_xlabel("iterations")
        ax.grid(visible=True, which="major", alpha=0.35)
        ax.legend(fontsize=8, title="learning rate" if len(rates) > 1 else None)
    if log:
        low, high = min(everything), max(everything)
        decades = math.log10(high / low) if high > low else 0.0
        subs: tuple[float, ...] = (1.0,)
        if decades < 0.7:
            subs = tuple(float(k) for k in range(1, 10))
        elif decades < 1.5:
            subs = (1.0, 2.0, 3.0, 5.0, 7.0)
        elif decades < 4:
            subs = (1.0, 2.0, 5.0)
        locator = LogLocator(base=10, subs=subs, numticks=12)
        # the view from the labelled tick at or below the lowest cost to the one at or
        # above the highest: no point lies past the last label (a final 0.116 sat below
        # a lowest label of 0.2)
        ticks = [t for t in locator.tick_values(low / 10, high * 10) if t > 0]
        below = [t for t in ticks if t <= low * (1 + 1e-9)]
        above = [t for t in ticks if t >= high * (1 - 1e-9)]
        for ax in axes:
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(locator)
            ax.yaxis.set_major_formatter(FuncFormatter(tick_text))
            ax.yaxis.set_minor_formatter(NullFormatter())
            if below and above and max(below) < min(above):
                ax.set_ylim(max(below), min(above))
    axes[0].set_ylabel("cost" + (" (log scale)" if log else ""))
    if title is None:
        title = (
            f"Cost during gradient descent, learning rate {rates[0]:g}"
            if len(rates) == 1
            else "Cost for different learning rates"
        )
    fig.suptitle(title)
    return fig
