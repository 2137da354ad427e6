"""The roofline targets, printed: the table of :func:`vecstudy.study.roofline.measure_targets`.

:func:`format_targets` is the fixed-width table ``vecstudy roofline`` prints;
:func:`to_markdown` wraps it as ``roofline.md`` (``vecstudy roofline --output``), which
``vecstudy report`` embeds (:func:`vecstudy.report.study.roofline_lines`).
"""

from __future__ import annotations

import pandas as pd

from vecstudy.escape import md_code, md_fence, md_text


def to_markdown(table: str, *, command: str, machine: str) -> str:
    """The printed table of :func:`format_targets` as a Markdown file body.

    ``machine`` is escaped, ``command`` shown as code (escaped when it is not plain
    words), and the table fenced by more backticks than any run inside it.

    >>> print(to_markdown("a  1.5", command="vecstudy roofline", machine="<b>CPU</b>"))
    Measured on &lt;b>CPU&lt;/b> with `vecstudy roofline`.
    <BLANKLINE>
    ```text
    a  1.5
    ```
    <BLANKLINE>
    """
    head = f"Measured on {md_text(machine, 300)} with {md_code(command, 300)}."
    return "\n".join([head, "", *md_fence(table.rstrip().splitlines(), "text")]) + "\n"


def format_targets(df: pd.DataFrame) -> str:
    """The rows of :func:`vecstudy.study.roofline.measure_targets`: a fixed-width text table."""
    a = df.attrs
    lines = [
        "vecstudy roofline: numba against NumPy and the memory limit "
        "(medians; ratio = bigger is better)",
        f"BLAS (threadpoolctl): {a.get('blas', '?')}",
        f"numba threading layer: {a.get('threading_layer', '?')}, all-threads = "
        f"{a.get('numba_threads', '?')}, SVML: {a.get('svml', '?')}, "
        f"fastmath: {a.get('fastmath', '?')}",
        f"caches: {a.get('caches', '?')}",
        f"peers: {a.get('peers', '?')}",
        "step: one propagate on prepared arrays; iteration: public optimize time / "
        "iterations (validation, relayout included); ord: C = (n_x, m) C-ordered, "
        "F = sample-major; mem: bytes(X) / read bandwidth (same run, same threads)",
        "timing: interleaved rounds; a contender timed after another starts once no thread "
        "of the process spins (NumPy's BLAS threads spin ~0.1 s after a call)",
        "",
        f"{'target':<15}{'shape':>12} {'ord':<4}{'dtype':<8}{'thr':>3} {'numba ms':>10} "
        f"{'baseline':<10}{'base ms':>10} {'ratio':>7} {'goal':>6}  result  note",
    ]
    for r in df.to_dict("records"):
        goal_v = r["goal"]
        goal = "" if goal_v is None or pd.isna(goal_v) else f">={float(goal_v):.2f}"
        lines.append(
            f"{r['target']!s:<15}{r['shape']!s:>12} {r.get('order', 'C')!s:<4}"
            f"{r['dtype']!s:<8}{r['threads']!s:>3} "
            f"{float(r['numba_s']) * 1e3:>10.3f} {r['baseline']!s:<10}"
            f"{float(r['baseline_s']) * 1e3:>10.3f} {float(r['ratio']):>7.2f} {goal:>6}  "
            f"{r['status']!s:<6}  {r['note']}"
        )
    scored = df[df["status"] != "info"]
    n_pass = int((scored["status"] == "PASS").sum())
    lines += ["", f"{n_pass} of {len(scored)} targets PASS"]
    missed = scored[scored["status"] == "MISS"]
    for r in missed.to_dict("records"):
        lines.append(
            f"  MISS {r['target']} {r['shape']} {r.get('order', 'C')} t={r['threads']}: "
            f"{float(r['ratio']):.2f} against {float(r['goal']):.2f}"
        )
    return "\n".join(lines)
