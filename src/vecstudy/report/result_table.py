"""A study's result as a table: short strings per case, a caption, notes; text or HTML.

Renders the tidy frame of :mod:`vecstudy.study.frame` for ``repr`` (plain text, in a
console) and ``_repr_html_`` (escaped HTML, in a notebook) of
:class:`vecstudy.study.view.StudyResult`.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Final

from vecstudy.escape import plain
from vecstudy.report.axes import LABELS
from vecstudy.report.markdown import format_ratio_ci, format_seconds

if TYPE_CHECKING:
    import pandas as pd

_OPERATIONS: Final = {
    "propagate": "gradient step (propagate)",
    "optimize": "optimize, per iteration",
    "dot": "dot product",
    "exp": "exp loop",
    "percent": "percent of row sums",
    "add_row": "add a row (broadcast)",
}
#: Rows shown by ``repr`` (the frame holds them all).
REPR_ROWS: Final = 40
ESTIMATE_FOOTNOTE: Final = (
    "* estimated: the Python loop was over the time budget, so it was timed on fewer "
    "columns of X and scaled by the ratio of elements"
)


def _label(backend: str) -> str:
    return LABELS.get(backend, backend)


def _interval(lo: float, hi: float) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "-"
    return f"[{format_seconds(lo)}, {format_seconds(hi)}]"


def display_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The frame as short strings for a table, and the columns that hold one value only.

    Returns ``(table, constant)``: ``constant`` maps ``"shape"``, ``"dtype"`` or
    ``"threads"`` to its value when every row shares it (the caption says it
    once instead of a column repeating it).
    """
    import pandas as pd

    constant: dict[str, str] = {}
    for col in ("shape", "dtype", "threads"):
        values = frame[col].unique()
        if len(values) == 1:
            constant[col] = str(values[0])
    rows = []
    for _, r in frame.iterrows():
        est = r["status"] == "estimated"
        est_vs = "estimated" in str(r["flags"]).split(", ")
        row = {
            "backend": plain(_label(str(r["backend"])), 40),
            "operation": _OPERATIONS.get(str(r["operation"]), plain(r["operation"], 40)),
            "shape": str(r["shape"]),
            "dtype": str(r["dtype"]),
            "threads": str(r["threads"]),
            "time": (
                "skipped"
                if r["status"] == "skipped"
                else ("~" if est else "") + format_seconds(r["seconds"]) + ("*" if est else "")
            ),
            "95% interval": _interval(r["seconds_lo"], r["seconds_hi"]),
            "vs Python loop": format_ratio_ci(
                r["vs_python"], r["vs_python_lo"], r["vs_python_hi"], est_vs and not est
            )
            if r["backend"] != "python"
            else "1x (baseline)",
            "vs NumPy": format_ratio_ci(r["vs_numpy"], r["vs_numpy_lo"], r["vs_numpy_hi"], est)
            if r["backend"] != "numpy"
            else "1x (baseline)",
            "flags": ", ".join(f for f in str(r["flags"]).split(", ") if f and f != "skipped"),
            "note": plain(r["note"], 60) if r["status"] == "skipped" else "",
        }
        rows.append(row)
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.drop(columns=[c for c in constant if c in table.columns])
        for col in ("flags", "note"):
            if not table[col].astype(bool).any():
                table = table.drop(columns=[col])
    return table, constant


def caption(frame: pd.DataFrame, constant: dict[str, str], *, title: str, status: str) -> str:
    """One line over the table: the title, what every row shares, rounds, the run's status."""
    parts = [title]
    if "shape" in constant:
        parts.append(f"X {constant['shape']}")
    if "dtype" in constant:
        parts.append(constant["dtype"])
    if "threads" in constant:
        n = constant["threads"]
        parts.append(f"{n} thread" + ("s" if n != "1" else ""))
    rounds = frame["n"].max() if not frame.empty else 0
    parts.append(f"{rounds} interleaved rounds; median time per step, lower is better")
    if status != "complete":
        parts.append(f"run {status}: finished timings only")
    return ", ".join(str(p) for p in parts)


def result_table(
    frame: pd.DataFrame, *, title: str, status: str
) -> tuple[pd.DataFrame, str, list[str]]:
    """``(table, caption, notes)``: :func:`display_frame`'s table, its caption, its footnotes."""
    table, constant = display_frame(frame)
    notes = []
    if (frame["status"] == "estimated").any() or frame["flags"].str.contains("estimated").any():
        notes.append(ESTIMATE_FOOTNOTE)
    if (table.get("flags", None) is not None) and table["flags"].astype(bool).any():
        from vecstudy.records.stats import FLAG_TEXT

        used = {f for cell in table["flags"] for f in cell.split(", ") if f in FLAG_TEXT}
        notes.append("flags: " + "; ".join(f"{f}: {FLAG_TEXT[f]}" for f in sorted(used)))
    return table, caption(frame, constant, title=title, status=status), notes


def result_text(frame: pd.DataFrame, *, kind: str, title: str, status: str) -> str:
    """The table as plain text (the first :data:`REPR_ROWS` rows), for ``repr``."""
    if frame.empty:
        return f"<StudyResult {kind}: no timings ({status})>"
    table, head, notes = result_table(frame, title=title, status=status)
    shown = table.head(REPR_ROWS)
    text = shown.to_string(index=False)
    more = len(table) - len(shown)
    lines = [head, text]
    if more > 0:
        lines.append(f"... {more} more rows in .frame")
    return "\n".join([*lines, *notes])


def result_html(frame: pd.DataFrame, *, kind: str, title: str, status: str) -> str:
    """The table as escaped HTML, for a notebook's ``_repr_html_``."""
    if frame.empty:
        return f"<p>{html.escape(result_text(frame, kind=kind, title=title, status=status))}</p>"
    table, head, notes = result_table(frame, title=title, status=status)
    body = table.to_html(escape=True, index=False, border=0, classes="vecstudy-result")
    foot = "".join(f"<p><small>{html.escape(n)}</small></p>" for n in notes)
    return f"<div><p><b>{html.escape(head)}</b></p>{body}{foot}</div>"
