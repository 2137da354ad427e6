"""The speed study's report: rows -> figures (matplotlib) -> Markdown.

Reads a results file written by :func:`vecstudy.bench.run_sweep` (and,
optionally, airspeed velocity's results directory) and writes, into one
directory:

``time.png/.svg``
    Time per gradient step and per optimize iteration against the size of
    ``X`` (log-log), one line per backend and thread setting, with the
    physical limit ``bytes(X) / read bandwidth`` for comparison.
``speedup.png/.svg``
    Speedup of each backend over the pure-Python loop and over NumPy.
``bandwidth.png/.svg``
    Effective bandwidth ``bytes(X) / time per step`` against the measured
    read bandwidth of an array of the same size.
``micro.png/.svg``
    The course's micro-studies (dot product, exp loop): loop vs NumPy vs Numba.
``asv.png/.svg``
    Airspeed velocity's ``time_*`` results, when given.
``report.md``
    The figures, tables of medians with their spread and speedups, the
    skipped cases, machine information and the commands that reproduce it.

No timing happens here; every file is written atomically.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.typing import LineStyleType

from vecstudy.bench import Results, atomic_write_bytes, atomic_write_text, load_results

#: Colour of each backend in every figure (others cycle through the default palette).
COLORS: Final = {"python": "#d62728", "numba": "#2ca02c", "numpy": "#1f77b4"}
LABELS: Final = {"python": "Python loop", "numba": "Numba", "numpy": "NumPy"}
#: What the course measured for the 1,000,000-element dot product (seconds).
COURSE_DOT: Final = {"python": 0.530, "numpy": 0.00146}
KEYS: Final = ["kind", "operation", "backend", "dtype", "threads", "n_x", "m", "bytes_x"]
FORMATS: Final = ("png", "svg")


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by :func:`write_report`: ``markdown`` and every figure file."""

    markdown: Path
    figures: tuple[Path, ...]


# --------------------------------------------------------------------------- summaries
def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Median, quartiles, min, max and count of ``seconds`` for each case with timings.

    Returns one row per case (columns :data:`KEYS` plus ``median``, ``q1``,
    ``q3``, ``min``, ``max``, ``n``); skipped cases are left out.
    """
    ok = rows[rows["status"] == "ok"].dropna(subset=["seconds"])
    if ok.empty:
        return pd.DataFrame(columns=[*KEYS, "median", "q1", "q3", "min", "max", "n"])
    grouped = ok.groupby(KEYS, sort=True)["seconds"]
    out = grouped.agg(
        median="median",
        q1=lambda s: s.quantile(0.25),
        q3=lambda s: s.quantile(0.75),
        min="min",
        max="max",
        n="count",
    )
    return out.reset_index()


def kernel_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Kernel cases with speedups and bandwidths.

    Adds ``vs_python`` (median of the Python loop on the same shape and dtype,
    which is single-threaded, over this median), ``vs_numpy`` (NumPy with the
    same thread setting over this), ``gbps`` (``bytes_x / median / 1e9``) and
    ``limit_s`` (``bytes_x`` over the measured read bandwidth of the same size
    and thread setting: the time to read ``X`` once).
    """
    kern = summary[summary["kind"] == "kernel"].copy()
    if kern.empty:
        return kern.assign(vs_python=[], vs_numpy=[], gbps=[], limit_s=[])
    shape = ["operation", "dtype", "n_x", "m"]
    py = kern[kern["backend"] == "python"].groupby(shape)["median"].min().rename("python_s")
    npy = (
        kern[kern["backend"] == "numpy"].set_index([*shape, "threads"])["median"].rename("numpy_s")
    )
    read = summary[summary["kind"] == "bandwidth"].set_index(["dtype", "n_x", "m", "threads"])[
        "median"
    ]
    read = read[~read.index.duplicated()].rename("read_s")
    kern = kern.join(py, on=shape).join(npy, on=[*shape, "threads"])
    kern = kern.join(read, on=["dtype", "n_x", "m", "threads"])
    kern["vs_python"] = kern["python_s"] / kern["median"]
    kern["vs_numpy"] = kern["numpy_s"] / kern["median"]
    kern["gbps"] = kern["bytes_x"] / kern["median"] / 1e9
    kern["limit_s"] = kern["read_s"]
    return kern.drop(columns=["python_s", "numpy_s", "read_s"])


# --------------------------------------------------------------------------- formatting
def format_seconds(s: float) -> str:
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


def format_ratio(x: float) -> str:
    """``363.2`` -> ``"363x"``; NaN -> ``"-"``."""
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.0f}x" if x >= 100 else f"{x:.3g}x"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _threads_label(threads: int, all_threads: int) -> str:
    return (
        f"{threads} thread"
        + ("s" if threads != 1 else "")
        + (" (all cores)" if threads == all_threads and threads > 1 else "")
    )


# --------------------------------------------------------------------------- figures
def _save(fig: Figure, stem: Path) -> list[Path]:
    paths = []
    for fmt in FORMATS:
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=120, bbox_inches="tight")
        path = stem.with_suffix("." + fmt)
        atomic_write_bytes(path, buf.getvalue())
        paths.append(path)
    return paths


def _color(backend: str) -> str:
    if backend in COLORS:
        return COLORS[backend]
    palette = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    return palette[sum(map(ord, backend)) % len(palette)]


def _styles(threads_values: Sequence[int]) -> dict[int, LineStyleType]:
    styles: list[LineStyleType] = ["-", "--", ":", "-."]
    return {t: styles[i % len(styles)] for i, t in enumerate(sorted(threads_values))}


def _log_axes(ax: Axes, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(visible=True, which="major", alpha=0.4)
    ax.grid(visible=True, which="minor", alpha=0.12)


def _legend_handles(
    backends: Sequence[str],
    styles: dict[int, LineStyleType],
    all_threads: int,
    extra: Sequence[Line2D] = (),
) -> list[Line2D]:
    handles = [
        Line2D([], [], color=_color(b), marker="o", label=LABELS.get(b, b)) for b in backends
    ]
    if len(styles) > 1:
        handles += [
            Line2D([], [], color="0.3", linestyle=s, label=_threads_label(t, all_threads))
            for t, s in styles.items()
        ]
    return handles + list(extra)


def _panel_grid(
    n_rows: int, n_cols: int, width: float = 5.6, height: float = 4.2
) -> tuple[Figure, list[list[Axes]]]:
    fig = Figure(figsize=(width * n_cols, height * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    return fig, [list(r) for r in axes]


def _shape_ticks(ax: Axes, table: pd.DataFrame, x: str = "bytes_x") -> None:
    """Label the size axis with each measured shape (and its bytes when ``x`` is bytes)."""
    points = table.drop_duplicates(x).sort_values(x)
    ax.set_xticks(points[x].to_numpy(dtype=float))
    labels = [f"{n}x{m}" for n, m in zip(points["n_x"], points["m"], strict=True)]
    if x == "bytes_x":
        labels = [f"{format_bytes(b)}\n{s}" for b, s in zip(points[x], labels, strict=True)]
    ax.set_xticklabels(labels, fontsize=7)
    ax.minorticks_off()
    ax.tick_params(axis="x", which="minor", bottom=False)


def figure_time(kern: pd.DataFrame, all_threads: int) -> Figure:
    """Time per step and per iteration vs bytes of ``X``: rows = operation, columns = dtype."""
    ops = [o for o in ("propagate", "optimize") if o in set(kern["operation"])]
    dtypes = sorted(set(kern["dtype"]), reverse=True)
    backends = sorted(set(kern["backend"]), key=lambda b: (b not in COLORS, b))
    styles = _styles(sorted(set(kern["threads"])))
    fig, axes = _panel_grid(len(ops), len(dtypes))
    for (i, op), (j, dt) in itertools.product(enumerate(ops), enumerate(dtypes)):
        ax = axes[i][j]
        sub = kern[(kern["operation"] == op) & (kern["dtype"] == dt)]
        for (be, th), group in sub.groupby(["backend", "threads"]):
            g = group.sort_values("bytes_x")
            ax.errorbar(
                g["bytes_x"],
                g["median"],
                yerr=[g["median"] - g["min"], g["max"] - g["median"]],
                color=_color(str(be)),
                linestyle=styles[int(cast("int", th))],
                marker="o",
                markersize=4,
                capsize=2,
            )
        lim = sub.dropna(subset=["limit_s"]).groupby("bytes_x")["limit_s"].min()
        if not lim.empty:
            ax.plot(lim.index, lim.to_numpy(), color="0.5", linewidth=3, alpha=0.5, zorder=0)
        what = "one gradient step (propagate)" if op == "propagate" else "one optimize iteration"
        _log_axes(
            ax,
            "size of X (bytes; shape n_x x m)",
            "time (s, median; bars: min-max)",
            f"{what}, {dt}",
        )
        _shape_ticks(ax, sub)
    limit = Line2D(
        [],
        [],
        color="0.5",
        linewidth=3,
        alpha=0.5,
        label="read X once (measured bandwidth, fastest)",
    )
    fig.legend(
        handles=_legend_handles(backends, styles, all_threads, [limit]),
        loc="outside lower center",
        ncol=4,
        frameon=False,
    )
    fig.suptitle("Time per gradient step vs problem size (lower is better)")
    return fig


def figure_speedup(kern: pd.DataFrame, all_threads: int) -> Figure:
    """Speedup over the Python loop (left) and over NumPy (right); rows = step, iteration.

    The x axis is the number of elements ``n_x * m`` so that both dtypes share it.
    """
    ops = [o for o in ("propagate", "optimize") if o in set(kern["operation"])]
    kern = kern.assign(elements=kern["n_x"] * kern["m"])
    dtypes = sorted(set(kern["dtype"]), reverse=True)
    backends = sorted(set(kern["backend"]), key=lambda b: (b not in COLORS, b))
    styles = _styles(sorted(set(kern["threads"])))
    markers = dict(zip(dtypes, ("o", "s", "^"), strict=False))
    fig, axes = _panel_grid(len(ops), 2, height=3.9)
    for i, op in enumerate(ops):
        sub = kern[kern["operation"] == op]
        what = "gradient step" if op == "propagate" else "optimize iteration"
        for ax, col, base in (
            (axes[i][0], "vs_python", "python"),
            (axes[i][1], "vs_numpy", "numpy"),
        ):
            for (be, th, dt), group in sub.groupby(["backend", "threads", "dtype"]):
                g = group.dropna(subset=[col]).sort_values("elements")
                # the Python loop against NumPy would squash the scale; it shows on the left
                if g.empty or be == base or (base == "numpy" and be == "python"):
                    continue
                ax.plot(
                    g["elements"],
                    g[col],
                    color=_color(str(be)),
                    linestyle=styles[int(cast("int", th))],
                    marker=markers.get(str(dt), "o"),
                    markersize=5,
                )
            ax.axhline(1.0, color="0.3", linewidth=1)
            name = LABELS.get(base, base)
            note = " (timed on one thread)" if base == "python" else " (same threads)"
            _log_axes(
                ax,
                "problem size n_x x m (elements of X)",
                f"speedup over {name} (x)",
                f"per {what}: speedup over {name}{note}",
            )
            _shape_ticks(ax, sub, "elements")
    dtype_handles = [
        Line2D([], [], color="0.3", marker=markers[dt], linestyle="none", label=dt) for dt in dtypes
    ]
    fig.legend(
        handles=_legend_handles(backends, styles, all_threads, dtype_handles),
        loc="outside lower center",
        ncol=4,
        frameon=False,
    )
    fig.suptitle(
        "Speedup = ratio of medians measured side by side (higher is better; "
        "missing points: the Python loop was skipped)"
    )
    return fig


def figure_bandwidth(kern: pd.DataFrame, summary: pd.DataFrame, all_threads: int) -> Figure:
    """Effective bandwidth ``bytes(X) / time per step`` vs size: rows = dtype, columns = threads."""
    sub = kern[kern["operation"] == "propagate"]
    read = summary[summary["kind"] == "bandwidth"].copy()
    read["gbps"] = read["bytes_x"] / read["median"] / 1e9
    threads = sorted(set(sub["threads"]) | set(read["threads"]))
    dtypes = sorted(set(sub["dtype"]) | set(read["dtype"]), reverse=True)
    backends = sorted(set(sub["backend"]), key=lambda b: (b not in COLORS, b))
    fig, axes = _panel_grid(len(dtypes), len(threads), height=3.8)
    for (i, dt), (j, th) in itertools.product(enumerate(dtypes), enumerate(threads)):
        ax = axes[i][j]
        here = sub[(sub["threads"] == th) & (sub["dtype"] == dt)]
        # the Python loop is timed once (one thread); show it in every panel, dotted
        python = sub[(sub["backend"] == "python") & (sub["dtype"] == dt)]
        for be, group in pd.concat([here[here["backend"] != "python"], python]).groupby("backend"):
            g = group.sort_values("bytes_x")
            ax.plot(
                g["bytes_x"],
                g["gbps"],
                color=_color(str(be)),
                linestyle=":" if be == "python" and th != g["threads"].iloc[0] else "-",
                marker="o",
                markersize=4,
            )
        r = read[(read["threads"] == th) & (read["dtype"] == dt)].sort_values("bytes_x")
        ax.plot(r["bytes_x"], r["gbps"], color="black", linewidth=2.5, alpha=0.55)
        _log_axes(
            ax,
            "size of X (bytes)",
            "GB/s (bytes of X / time per step)",
            f"{dt}, {_threads_label(int(th), all_threads)}",
        )
        _shape_ticks(ax, pd.concat([here, r]))
    read_be = ", ".join(sorted(set(read["backend"]))) or "none"
    extra = [
        Line2D(
            [],
            [],
            color="black",
            linewidth=2.5,
            alpha=0.55,
            label=f"measured read bandwidth ({read_be}, same size)",
        )
    ]
    if "python" in backends and len(threads) > 1:
        extra.append(
            Line2D(
                [],
                [],
                color=_color("python"),
                linestyle=":",
                label="Python loop (its one-thread timing, repeated)",
            )
        )
    fig.legend(
        handles=_legend_handles(backends, {}, all_threads, extra),
        loc="outside lower center",
        ncol=4,
        frameon=False,
    )
    fig.suptitle("Effective bandwidth of one gradient step vs reading X once (higher is better)")
    return fig


def figure_micro(micro: pd.DataFrame, all_threads: int) -> Figure:
    """Bar chart (log scale) of the micro-studies: loop vs NumPy vs Numba, per thread setting."""
    ops = [o for o in ("dot", "exp") if o in set(micro["operation"])]
    fig, axes = _panel_grid(1, max(1, len(ops)), width=5.2, height=4.4)
    titles = {"dot": "dot product of two vectors", "exp": "elementwise exp of a vector"}
    for ax, op in zip(axes[0], ops, strict=False):
        sub = micro[micro["operation"] == op]
        bars = []
        for _, r in sub.sort_values(
            ["backend", "threads"],
            key=lambda c: (
                c.map(lambda v: {"python": 0, "numpy": 1, "numba": 2}.get(v, 3))
                if c.name == "backend"
                else c
            ),
        ).iterrows():
            label = LABELS.get(r["backend"], r["backend"])
            if r["backend"] != "python":
                label += f"\n{r['threads']} thr"
            bars.append(
                (label, float(r["median"]), float(r["min"]), float(r["max"]), str(r["backend"]))
            )
        x = np.arange(len(bars))
        heights = [b[1] * 1e3 for b in bars]
        ax.bar(
            x,
            heights,
            yerr=[[(b[1] - b[2]) * 1e3 for b in bars], [(b[3] - b[1]) * 1e3 for b in bars]],
            color=[_color(b[4]) for b in bars],
            capsize=3,
        )
        base = next((b[1] for b in bars if b[4] == "python"), math.nan)
        for xi, b in zip(x, bars, strict=True):
            text = format_seconds(b[1])
            if math.isfinite(base) and b[4] != "python":
                text += f"\n{format_ratio(base / b[1])}"
            ax.annotate(
                text,
                (xi, b[3] * 1e3),  # above the error bar (max)
                textcoords="offset points",
                xytext=(0, 4),
                ha="center",
                fontsize=8,
            )
        ax.set_xticks(x)
        ax.set_xticklabels([b[0] for b in bars], fontsize=8)
        ax.set_yscale("log")
        top = max([b[3] * 1e3 for b in bars] + [COURSE_DOT["python"] * 1e3]) if bars else 1.0
        ax.set_ylim(top=top * 8)
        n = int(sub["m"].iloc[0]) if not sub.empty else 0
        title = f"{titles.get(op, op)} ({n:,} float64)"
        if op == "dot" and n == 1_000_000:
            for impl, secs in COURSE_DOT.items():
                ax.axhline(secs * 1e3, color=_color(impl), linestyle=":", linewidth=1.2)
            title += "\ndotted: the course's loop (530 ms) and np.dot (1.46 ms)"
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("time per call (ms, log scale; lower is better)")
        ax.grid(visible=True, axis="y", alpha=0.4)
    fig.suptitle(
        "Course micro-studies: explicit loop vs vectorized vs compiled "
        "(labels: time, speedup over the loop)"
    )
    return fig


# --------------------------------------------------------------------------- asv
def load_asv(results_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Airspeed velocity's results as tidy rows, one per benchmark and parameter combination.

    Reads every ``<machine>/<commit>-<env>.json`` under ``results_dir`` (asv 0.6
    layout, decoded with its ``result_columns``).  Columns: ``machine``,
    ``commit``, ``date``, ``env``, ``benchmark``, ``params``, ``value``,
    ``q1``, ``q3``, ``unit``.  Benchmarks that failed or were skipped have
    ``value`` NaN.
    """
    root = Path(results_dir)
    records: list[dict[str, Any]] = []
    units: dict[str, str] = {}
    bench_file = root / "benchmarks.json"
    if bench_file.is_file():
        meta = json.loads(bench_file.read_text(encoding="utf-8"))
        units = {k: v.get("unit", "") for k, v in meta.items() if isinstance(v, dict)}
    for path in sorted(root.glob("*/*.json")):
        if path.name == "machine.json":
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        columns = doc.get("result_columns")
        if not isinstance(columns, list) or not isinstance(doc.get("results"), dict):
            continue
        for name, raw in doc["results"].items():
            entry = dict(zip(columns, raw, strict=False))
            params = entry.get("params") or []
            values = entry.get("result")
            combos = list(itertools.product(*params)) if params else [()]
            if not isinstance(values, list):
                values = [values] * len(combos)
            q1s = entry.get("stats_q_25") or [None] * len(combos)
            q3s = entry.get("stats_q_75") or [None] * len(combos)
            for combo, value, q1, q3 in zip(combos, values, q1s, q3s, strict=False):
                records.append(
                    {
                        "machine": path.parent.name,
                        "commit": str(doc.get("commit_hash", ""))[:8],
                        "date": doc.get("date"),
                        "env": doc.get("env_name", ""),
                        "benchmark": name,
                        "params": ", ".join(str(p).strip("'") for p in combo),
                        "value": math.nan if value is None else float(value),
                        "q1": math.nan if q1 is None else float(q1),
                        "q3": math.nan if q3 is None else float(q3),
                        "unit": units.get(name, ""),
                    }
                )
    cols = ["machine", "commit", "date", "env", "benchmark", "params", "value", "q1", "q3", "unit"]
    return pd.DataFrame.from_records(records, columns=cols)


def _asv_value(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "failed/skipped"
    if unit == "seconds":
        return format_seconds(value)
    if unit == "bytes":
        return format_bytes(value)
    return f"{value:.4g}"


def latest_asv(asv: pd.DataFrame) -> pd.DataFrame:
    """The rows of the most recent asv result (largest ``date``) of each machine."""
    if asv.empty:
        return asv
    latest = asv.groupby("machine")["date"].transform("max")
    return asv[asv["date"] == latest]


def figure_asv(asv: pd.DataFrame) -> Figure:
    """Horizontal bars (log scale) of the ``time_*`` benchmarks of the latest asv result."""
    sub = asv[asv["benchmark"].str.contains(r"\.time_") & asv["value"].notna()].copy()
    sub["label"] = sub["benchmark"].str.rsplit(".", n=1).str[-1] + " (" + sub["params"] + ")"
    sub = sub.sort_values(["benchmark", "params"])
    fig = Figure(figsize=(8.5, 0.6 + 0.24 * max(1, len(sub))), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(sub))
    backends = sub["params"].str.split(",").str[0].str.strip()
    ax.barh(y, sub["value"], color=[_color(b) for b in backends])
    ax.set_yticks(y)
    ax.set_yticklabels(sub["label"], fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("time (s, log scale; asv median)")
    commits = ", ".join(sorted(set(sub["commit"])))
    ax.set_title(f"asv time_* benchmarks, commit {commits} (time_optimize: one 100-iteration call)")
    ax.grid(visible=True, axis="x", alpha=0.4)
    handles = [
        Line2D([], [], color=_color(b), linewidth=6, label=LABELS.get(b, b))
        for b in sorted(set(backends))
        if b in COLORS
    ]
    if handles:
        ax.legend(handles=handles, loc="lower right", fontsize=8)
    return fig


# --------------------------------------------------------------------------- markdown
def _spread(r: pd.Series) -> str:
    q1, q3 = format_seconds(r["q1"]), format_seconds(r["q3"])
    return f"{format_seconds(r['min'])} / {q1}-{q3} / {format_seconds(r['max'])}"


def _machine_section(results: Results) -> list[str]:
    lines = ["## Machine", ""]
    for run in results.runs:
        mach = run.get("machine", {})
        threads = mach.get("threads", {})
        blas = (
            "; ".join(
                f"{b.get('library')} {b.get('version')} ({b.get('user_api')}, "
                f"{b.get('threads')} threads, {b.get('architecture')})"
                for b in threads.get("blas", [])
                if isinstance(b, dict)
            )
            or "not found"
        )
        numba_t = (
            f"{threads.get('numba_threads')} threads, layer {threads.get('numba_threading_layer')}"
            if "numba_threads" in threads
            else "not used"
        )
        rows = [
            ("run", f"`{run.get('run_id')}` ({run.get('status')}, {run.get('rows')} rows)"),
            ("started / finished (UTC)", f"{run.get('started')} / {run.get('finished')}"),
            ("CPU", mach.get("cpu")),
            ("cores (available)", f"{mach.get('cores')} ({mach.get('cores_available')})"),
            ("memory", f"{mach.get('memory_gib')} GiB"),
            ("OS", mach.get("os")),
            ("Python", mach.get("python")),
            (
                "NumPy / Numba / pandas",
                f"{mach.get('numpy')} / {mach.get('numba')} / {mach.get('pandas')}",
            ),
            ("BLAS (default threads)", blas),
            ("Numba (default)", numba_t),
            ("vecstudy", f"{mach.get('vecstudy')} (git {mach.get('git_commit') or 'unknown'})"),
        ]
        load = mach.get("load_average")
        if load is not None:
            end = run.get("load_average_end")
            rows.append(("load average (1 min) at start / end", f"{load} / {end}"))
        if "error" in threads:
            rows.append(("thread info", f"unavailable: {threads['error']}"))
        lines += [markdown_table(["", ""], rows), ""]
        cores = mach.get("cores_available") or mach.get("cores") or 1
        if load is not None and load > 0.5:
            lines += [
                f"**Busy machine:** the load average was {load} on {cores} cores when this run "
                "started: other processes competed for the cores. Timings with more than one "
                "thread suffer most (a parallel region waits for every thread to get a core).",
                "",
            ]
    if len({r.get("machine", {}).get("hostname") for r in results.runs}) > 1:
        lines += [
            "**Warning:** this file holds runs from more than one machine; medians mix them.",
            "",
        ]
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
                f"**{format_seconds(r['median'])}**",
                _spread(r),
                int(r["n"]),
                format_ratio(r["vs_python"]),
                format_ratio(r["vs_numpy"]),
                f"{r['gbps']:.3g}",
                format_seconds(r["limit_s"]),
            ]
        )
    return rows


def build_markdown(
    results: Results,
    summary: pd.DataFrame,
    kern: pd.DataFrame,
    figures: Sequence[str],
    asv: pd.DataFrame | None,
    asv_dir: str | None,
    report_command: str,
    roofline: str | None = None,
) -> str:
    """The text of ``report.md`` (figures are referenced by file name, relative to it).

    ``roofline`` is the text of a ``roofline.md`` written by ``vecstudy roofline
    --output`` into the same directory, embedded as a section when given.
    """
    rows = results.rows
    lines = [
        "# vecstudy speed study",
        "",
        "Batch gradient descent for binary logistic regression, three ways: the pure-Python "
        "double loop, Numba-compiled loops and NumPy vectorized. Times are medians of "
        "repeated `timeit` timings (loop count chosen automatically), measured side by side in "
        "one run; compilation is excluded (see *First call*). Spread is given as "
        "min / q1-q3 / max.",
        "",
        f"Results file: `{results.path}` ({len(rows)} rows, {len(results.runs)} run(s)).",
        "",
    ]
    fig_text = {
        "time": "Time per gradient step and per optimize iteration against the size of X. "
        "The grey band is the time to read X once at the measured read bandwidth: no step can "
        "beat it by much (NumPy reads X twice per step).",
        "speedup": "Speedup of each backend per gradient step and per optimize iteration "
        "over the Python loop (timed on one thread) and over NumPy with the same thread setting.",
        "bandwidth": "Effective bandwidth, bytes of X divided by the time per step, against "
        "the bandwidth measured by reading an array of the same size (black).",
        "micro": "The course's micro-studies. The course measured 530 ms for the loop and "
        "1.46 ms for `np.dot` on 1,000,000 elements (363x).",
        "asv": "Airspeed velocity's `time_*` benchmarks (latest result per machine).",
    }
    for stem in figures:
        lines += [f"![{stem}]({stem}.png)", "", f"{fig_text.get(stem, '')} ([SVG]({stem}.svg))", ""]
    if not kern.empty:
        lines += [
            "## Kernels",
            "",
            "Seconds per gradient step (`propagate`) or per iteration (`optimize`). "
            "`vs python`: the Python loop's median over this one (same shape and dtype); "
            "`vs numpy`: NumPy's median with the same threads over this one; "
            "`GB/s`: bytes of X / median; `read X`: time to read X once at the measured "
            "read bandwidth (same size and threads), the physical limit of one pass.",
            "",
            markdown_table(
                [
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
                    "read X",
                ],
                _kernel_rows(kern),
            ),
            "",
        ]
    read = summary[summary["kind"] == "bandwidth"]
    if not read.empty:
        lines += [
            "## Read bandwidth",
            "",
            "One pass reading every element of an array as large as X "
            "(Numba's parallel `read_sum` when available, else `numpy.sum`).",
            "",
            markdown_table(
                ["bytes", "dtype", "threads", "reader", "median", "GB/s", "min / IQR / max"],
                [
                    [
                        format_bytes(r["bytes_x"]),
                        r["dtype"],
                        r["threads"],
                        r["backend"],
                        format_seconds(r["median"]),
                        f"{r['bytes_x'] / r['median'] / 1e9:.3g}",
                        _spread(r),
                    ]
                    for _, r in read.sort_values(["dtype", "bytes_x", "threads"]).iterrows()
                ],
            ),
            "",
        ]
    micro = summary[summary["kind"] == "micro"]
    if not micro.empty:
        mrows = []
        for op, g in micro.groupby("operation", sort=False):
            base = g.loc[g["backend"] == "python", "median"].min()
            for _, r in g.sort_values(["backend", "threads"]).iterrows():
                mrows.append(
                    [
                        op,
                        f"{r['m']:,}",
                        r["backend"],
                        r["threads"],
                        format_seconds(r["median"]),
                        _spread(r),
                        format_ratio(base / r["median"]),
                    ]
                )
        lines += [
            "## Micro-studies",
            "",
            "The course: dot product of two 1,000,000-element vectors, loop 530 ms vs "
            "`np.dot` 1.46 ms (363x).",
            "",
            markdown_table(
                ["study", "n", "implementation", "threads", "median", "min / IQR / max", "vs loop"],
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
    if asv is not None and not asv.empty:
        lines += [
            "## Airspeed velocity",
            "",
            f"From `{asv_dir}` (latest result of each machine).",
            "",
            markdown_table(
                ["machine", "commit", "benchmark", "params", "value", "unit"],
                [
                    [
                        r["machine"],
                        r["commit"],
                        r["benchmark"],
                        r["params"],
                        _asv_value(r["value"], r["unit"]),
                        r["unit"],
                    ]
                    for _, r in asv.iterrows()
                ],
            ),
            "",
        ]
    if roofline:
        lines += [
            "## Numba at the memory roofline",
            "",
            "From [roofline.md](roofline.md), written by `vecstudy roofline --output` "
            "(its own run, machine and command are in that file):",
            "",
            roofline.strip(),
            "",
        ]
    lines += _machine_section(results)
    lines += ["## Reproduce", "", "```sh"]
    lines += [str(run.get("command")) for run in results.runs]
    lines += [report_command, "```", ""]
    return "\n".join(lines)


def write_report(
    results_file: str | os.PathLike[str],
    *,
    output_dir: str | os.PathLike[str] = "reports",
    asv_dir: str | os.PathLike[str] | None = None,
) -> ReportFiles:
    """Write the figures and ``report.md`` for a results file into ``output_dir``.

    Parameters
    ----------
    results_file : path
        Written by ``vecstudy bench`` (:func:`vecstudy.bench.run_sweep`).
    output_dir : path
        Created if missing; existing report files are replaced atomically.
    asv_dir : path, optional
        Airspeed velocity's results directory (e.g. ``.asv/results``); its
        results are added when it holds any.

    Returns
    -------
    ReportFiles

    Raises
    ------
    FileNotFoundError, ValueError
        If the results file is missing or not a results file; ValueError too
        if it holds no timed case.
    """
    if asv_dir is not None and not Path(asv_dir).is_dir():
        raise FileNotFoundError(f"asv results directory {asv_dir} does not exist")
    results = load_results(results_file)
    summary = summarize(results.rows)
    if summary.empty:
        raise ValueError(f"results file {results.path} holds no timed case (all skipped or empty)")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    kern = kernel_table(summary)
    all_threads = int(summary["threads"].max())
    figures: list[str] = []
    paths: list[Path] = []
    if not kern.empty:
        paths += _save(figure_time(kern, all_threads), out / "time")
        paths += _save(figure_speedup(kern, all_threads), out / "speedup")
        figures += ["time", "speedup"]
        if (summary["kind"] == "bandwidth").any():
            paths += _save(figure_bandwidth(kern, summary, all_threads), out / "bandwidth")
            figures.append("bandwidth")
    micro = summary[summary["kind"] == "micro"]
    if not micro.empty:
        paths += _save(figure_micro(micro, all_threads), out / "micro")
        figures.append("micro")
    asv = None
    if asv_dir is not None:
        asv = latest_asv(load_asv(asv_dir))
        if (
            not asv.empty
            and (asv["benchmark"].str.contains(r"\.time_") & asv["value"].notna()).any()
        ):
            paths += _save(figure_asv(asv), out / "asv")
            figures.append("asv")
    args = ["vecstudy", "report", str(results.path), "--output-dir", str(out)]
    if asv_dir is not None:
        args += ["--asv", str(asv_dir)]
    cmd = shlex.join(args)
    roof = out / "roofline.md"
    text = build_markdown(
        results,
        summary,
        kern,
        figures,
        asv,
        None if asv_dir is None else str(asv_dir),
        cmd,
        roof.read_text(encoding="utf-8") if roof.is_file() else None,
    )
    md = out / "report.md"
    atomic_write_text(md, text)
    return ReportFiles(markdown=md, figures=tuple(paths))
