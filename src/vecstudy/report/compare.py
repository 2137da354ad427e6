"""``compare.md`` and ``compare.png/.svg``: a :class:`~vecstudy.records.compare.Comparison`, drawn.

The comparison itself (matching cases, the test, the verdicts) is
:func:`vecstudy.records.compare.compare_files`; here it is rendered: every value
that comes from a results file is escaped in the Markdown.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

import pandas as pd

from vecstudy.escape import Markup, md_code, md_text
from vecstudy.records.compare import VERDICTS, Comparison
from vecstudy.report.markdown import format_flags, format_seconds, markdown_table

#: Legend text of each verdict in the comparison figure.
LEGEND: Final = {
    "worse": "worse (significant, beyond the factor)",
    "better": "better (significant, beyond 1/factor)",
    "unchanged": "unchanged",
    "machine": "read-bandwidth probe (not judged)",
}


def _label(r: pd.Series) -> str:
    shape = f"{r['m']:,}" if r["kind"] == "micro" and r["n_x"] == 1 else f"{r['n_x']}x{r['m']}"
    return f"{r['operation']} {r['backend']} {shape} {r['dtype']} t{r['threads']}"


def comparison_markdown(cmp: Comparison, figure: str | None = "compare") -> str:
    """``compare.md``: verdict counts, warnings, and one table per verdict."""
    counts = {v: int((cmp.cases["verdict"] == v).sum()) for v in VERDICTS}
    lines = [
        "# vecstudy compare",
        "",
        f"Base: {md_code(cmp.base.path, 300)} (run {md_code(cmp.runs[0], 40)}); "
        f"new: {md_code(cmp.new.path, 300)} (run {md_code(cmp.runs[1], 40)}).",
        "",
        f"**{counts['worse']} worse, {counts['better']} better, {counts['unchanged']} "
        f"unchanged** of {len(cmp.cases) - counts['machine']} cases. A case is worse when "
        f"the Mann-Whitney U test says the timings differ (p < {cmp.alpha:g}), the 95% "
        f"bootstrap interval of median(new) / median(base) lies entirely above "
        f"{cmp.factor:g}, and so does min(new) / min(base) (better: below "
        f'1/{cmp.factor:g}). Read-bandwidth probes ("machine") measure the machine and '
        "are not judged.",
        "",
    ]
    lines += [f"**Warning:** {md_text(w, 400)}." for w in cmp.warnings]
    if cmp.warnings:
        lines.append("")
    if figure:
        lines += [f"![{figure}]({figure}.png)", ""]
    for verdict in VERDICTS:
        sub = cmp.cases[cmp.cases["verdict"] == verdict].sort_values("ratio", ascending=False)
        if sub.empty:
            continue
        lines += [
            f"## {verdict.capitalize()} ({len(sub)})",
            "",
            markdown_table(
                ["case", "base", "new", "new / base [95% CI]", "min ratio", "p", "flags"],
                [
                    [
                        _label(r),
                        format_seconds(r["base_s"]),
                        format_seconds(r["new_s"]),
                        Markup(f"{r['ratio']:.3g} [{r['low']:.3g}-{r['high']:.3g}]"),
                        f"{r['min_ratio']:.3g}",
                        f"{r['p']:.3g}",
                        format_flags(r["flags"]),
                    ]
                    for _, r in sub.iterrows()
                ],
            ),
            "",
        ]
    return "\n".join(lines)


def figure_comparison(cmp: Comparison) -> Any:
    """Ratio new / base of every case with its interval (log scale), coloured by verdict."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from vecstudy.report.axes import log_y

    cases = cmp.cases.sort_values(["kind", "operation", "dtype", "bytes_x", "backend", "threads"])
    colors = {"worse": "#d62728", "better": "#2ca02c", "unchanged": "0.45", "machine": "#bbbbbb"}
    drawn = set(cmp.cases["verdict"])
    fig = Figure(figsize=(max(7.0, 0.3 * len(cases) + 2), 4.8), layout="constrained")
    ax = fig.subplots()
    for i, (_, r) in enumerate(cases.iterrows()):
        ax.errorbar(
            [i],
            [r["ratio"]],
            yerr=[[max(r["ratio"] - r["low"], 0)], [max(r["high"] - r["ratio"], 0)]],
            color=colors[r["verdict"]],
            marker="o",
            markersize=4,
            capsize=2,
        )
    ax.axhline(1.0, color="0.2", linewidth=1)
    ax.axhline(cmp.factor, color="#d62728", linestyle="--", linewidth=1)
    ax.axhline(1 / cmp.factor, color="#2ca02c", linestyle="--", linewidth=1)
    log_y(ax, "x")
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(
        [_label(r) for _, r in cases.iterrows()], rotation=70, ha="right", fontsize=7
    )
    ax.set_ylabel("median new / base (95% CI)")
    ax.set_title("above 1: slower", fontsize=9)
    ax.grid(visible=True, axis="y", alpha=0.35)
    handles = [
        Line2D([], [], color=c, marker="o", linestyle="none", label=LEGEND.get(v, v))
        for v, c in colors.items()
        if v in drawn
    ]
    handles += [
        Line2D([], [], color="0.2", linewidth=1, label="1: no change"),
        Line2D([], [], color="#d62728", linestyle="--", label=f"factor {cmp.factor:g}"),
        Line2D([], [], color="#2ca02c", linestyle="--", label=f"1/{cmp.factor:g}"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    fig.suptitle(f"{Path(cmp.new.path).name} vs {Path(cmp.base.path).name}, case by case")
    return fig


def write_comparison(cmp: Comparison, output_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``compare.md`` and ``compare.png/.svg`` into ``output_dir``; return the paths."""
    from vecstudy.records.results import atomic_write_text
    from vecstudy.report.axes import plain_text, save

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    with plain_text():
        paths = save(figure_comparison(cmp), out / "compare")
    md = out / "compare.md"
    atomic_write_text(md, comparison_markdown(cmp))
    return [md, *paths]
