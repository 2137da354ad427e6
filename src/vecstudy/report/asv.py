"""airspeed velocity's results in the report: latest values, history across commits, commit check.

Reads every ``<machine>/<commit>-<env>.json`` under an asv results directory
(asv 0.6 layout, decoded with its ``result_columns``).  A file that is not an
asv result (not an object, or without ``results``) is an error naming it.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from vecstudy.escape import md_code, md_text, short
from vecstudy.report.axes import COLORS, LABELS, color
from vecstudy.report.markdown import format_bytes, format_seconds, markdown_table


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"asv file {path} is not valid JSON: {exc}") from None


def _number(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


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
    if not root.is_dir():
        raise FileNotFoundError(
            f"asv results directory {root} does not exist or is not a directory"
        )
    if bench_file.is_file():
        meta = _read_json(bench_file)
        if not isinstance(meta, dict):
            raise ValueError(
                f"asv file {bench_file} holds a JSON {type(meta).__name__}; "
                "expected an object of benchmarks"
            )
        units = {k: v.get("unit", "") for k, v in meta.items() if isinstance(v, dict)}
    for path in sorted(root.glob("*/*.json")):
        if path.name == "machine.json":
            continue
        doc = _read_json(path)
        if not isinstance(doc, dict):
            raise ValueError(
                f"asv result file {path} holds a JSON {type(doc).__name__}; expected an object"
            )
        columns = doc.get("result_columns")
        if not isinstance(columns, list) or not isinstance(doc.get("results"), dict):
            raise ValueError(
                f"asv result file {path} lacks 'result_columns' and 'results'; "
                "not an asv 0.6 result"
            )
        for name, raw in doc["results"].items():
            if not isinstance(raw, list):
                raise ValueError(f"asv result file {path}: result of {short(name)} is not a list")
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
                        "value": _number(value),
                        "q1": _number(q1),
                        "q3": _number(q3),
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
    fig = Figure(figsize=(8.5, 1.8 + 0.24 * max(1, len(sub))), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(sub))
    backends = sub["params"].str.split(",").str[0].str.strip()
    # points, not bars: on a log axis a bar's length depends on where the axis starts
    ax.scatter(sub["value"], y, color=[color(b) for b in backends], s=28, zorder=3)
    ax.set_yticks(y)
    ax.set_yticklabels(sub["label"], fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=12))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, p: format_seconds(v)))
    ax.tick_params(axis="x", labelsize=7, labelrotation=45)
    ax.set_xlabel("time (log scale; asv median); labels: benchmark (parameters)")
    commits = ", ".join(sorted(set(sub["commit"])))
    ax.set_title(f"asv time_* benchmarks, commit {commits} (time_optimize: one 100-iteration call)")
    ax.grid(visible=True, axis="x", alpha=0.4)
    handles = [
        Line2D([], [], color=color(b), marker="o", linestyle="none", label=LABELS.get(b, b))
        for b in sorted(set(backends))
        if b in COLORS
    ]
    if handles:
        ax.legend(handles=handles, loc="lower right", fontsize=8)
    return fig


def asv_history(asv: pd.DataFrame) -> pd.DataFrame:
    """Each ``time_*``/``track_*``/``peakmem_*`` value across commits (oldest first).

    One row per machine, benchmark and parameters; one column per commit
    (labelled ``commit (date)``), holding the value.
    """
    if asv.empty:
        return asv
    sub = asv.dropna(subset=["value"]).copy()
    order = sub.groupby("commit")["date"].max().sort_values()
    sub["benchmark"] = sub["benchmark"].str.rsplit(".", n=1).str[-1]
    table = sub.pivot_table(
        index=["machine", "benchmark", "params", "unit"],
        columns="commit",
        values="value",
        aggfunc="median",
    )
    return table[[c for c in order.index if c in table.columns]].reset_index()


def commit_check(asv: pd.DataFrame, sweep_commit: str | None) -> str | None:
    """A warning when the latest asv commit is not the one the sweep ran on, else None."""
    if asv.empty:
        return None
    latest = str(asv["commit"].iloc[int(asv["date"].to_numpy().argmax())])
    if not sweep_commit:
        return f"the sweep did not record its git commit; asv's latest result is for {latest}"
    clean = sweep_commit.removesuffix("-dirty")
    if not clean.startswith(latest) and not latest.startswith(clean[: len(latest)]):
        return (
            f"asv's latest result is for commit {latest}, but the sweep ran on "
            f"{sweep_commit[:12]}: the two sections measure different code"
        )
    if sweep_commit.endswith("-dirty"):
        return (
            f"the sweep ran on {clean[:12]} with uncommitted changes; asv measured the "
            f"committed {latest}"
        )
    return None


def asv_markdown(asv_dir: str, asv: pd.DataFrame, sweep_commit: str | None) -> list[str]:
    """The ``## Airspeed velocity`` section: commit check, latest values, history."""
    latest = latest_asv(asv)
    lines = ["## Airspeed velocity", "", f"From {md_code(asv_dir, 300)}.", ""]
    if asv.empty:
        return [*lines, "No asv results found there.", ""]
    warning = commit_check(asv, sweep_commit)
    if warning:
        lines += [f"**Warning:** {md_text(warning, 300)}.", ""]
    lines += [
        "Latest result of each machine:",
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
                for _, r in latest.iterrows()
            ],
        ),
        "",
    ]
    history = asv_history(asv)
    commits = [c for c in history.columns if c not in ("machine", "benchmark", "params", "unit")]
    if len(commits) > 1:
        lines += [
            f"History across {len(commits)} commits (oldest first; asv's median):",
            "",
            markdown_table(
                ["machine", "benchmark", "params", *commits],
                [
                    [
                        r["machine"],
                        r["benchmark"],
                        r["params"],
                        *(_asv_value(float(r[c]), r["unit"]) for c in commits),
                    ]
                    for _, r in history.iterrows()
                ],
            ),
            "",
        ]
    return lines
