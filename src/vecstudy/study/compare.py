"""Two results files, case by case: ratio with its interval, a test, a verdict.

``vecstudy compare BASE NEW`` takes the latest run of each file, matches the
cases both timed (same kind, operation, backend, dtype, threads and shape) and
calls each one *worse*, *better* or *unchanged* by
:func:`vecstudy.study.stats.compare_samples` (Mann-Whitney U at ``alpha``, and
the 95% interval of ``median(new) / median(base)`` and the ratio of minimums
both beyond ``factor``).  Read-bandwidth probes measure the machine, not the
code: they are listed, never judged.  The command exits with status 1 when any
case is worse, so that CI can gate on it, and warns when the two runs' machines differ in anything
that moves timings (:func:`vecstudy.records.machine.machine_differences`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pandas as pd

from vecstudy.records.machine import machine_differences
from vecstudy.records.results import Results, load_results
from vecstudy.study.stats import ALPHA, FACTOR, KEYS, compare_samples, smallest_p, summarize

VERDICTS: Final = ("worse", "better", "unchanged", "machine")
#: Legend text of each verdict in the comparison figure.
LEGEND: Final = {
    "worse": "worse (significant, beyond the factor)",
    "better": "better (significant, beyond 1/factor)",
    "unchanged": "unchanged",
    "machine": "read-bandwidth probe (not judged)",
}


@dataclass
class Comparison:
    """The outcome of :func:`compare_files`.

    Attributes
    ----------
    cases : DataFrame
        One row per case timed in both: :data:`~vecstudy.study.stats.KEYS`,
        ``base_s`` and ``new_s`` (medians), ``ratio``, ``low``, ``high``,
        ``p`` and ``verdict``.
    warnings : list of str
        Machine differences and cases timed in only one file.
    base, new : Results
    factor, alpha : float
    """

    cases: pd.DataFrame
    warnings: list[str]
    base: Results
    new: Results
    factor: float
    alpha: float
    runs: tuple[str, str] = field(default=("", ""))

    @property
    def worse(self) -> pd.DataFrame:
        """Cases significantly slower by more than the factor."""
        return self.cases[self.cases["verdict"] == "worse"]


def _latest(results: Results) -> dict[str, Any]:
    ok = set(results.rows.loc[results.rows["status"] == "ok", "run_id"])
    runs = [r for r in results.runs if r.get("run_id") in ok]
    if not runs:
        raise ValueError(f"results file {results.path} holds no timed case")
    return max(runs, key=lambda r: str(r.get("started") or ""))


def compare_files(
    base: str | os.PathLike[str],
    new: str | os.PathLike[str],
    *,
    factor: float = FACTOR,
    alpha: float = ALPHA,
) -> Comparison:
    """Compare the latest run of ``new`` with the latest run of ``base``, case by case.

    Raises
    ------
    ValueError
        If ``factor`` is not above 1, ``alpha`` not in (0, 1), a file is not a
        results file, or the two files have no case in common.
    """
    if not factor >= 1:
        raise ValueError(f"--factor must be at least 1, got {factor!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"--alpha must be between 0 and 1, got {alpha!r}")
    rb, rn = load_results(base), load_results(new)
    run_b, run_n = _latest(rb), _latest(rn)
    sb = summarize(rb.rows[rb.rows["run_id"] == run_b["run_id"]])
    sn = summarize(rn.rows[rn.rows["run_id"] == run_n["run_id"]])
    both = sb.merge(sn, on=KEYS, suffixes=("_b", "_n"))
    if both.empty:
        raise ValueError(f"{rb.path} and {rn.path} have no timed case in common")
    out = []
    for _, r in both.iterrows():
        c = compare_samples(r["samples_b"], r["samples_n"], factor=factor, alpha=alpha)
        if r["kind"] == "bandwidth":
            c["verdict"] = "machine"
        out.append(
            {
                **{k: r[k] for k in KEYS},
                "base_s": r["median_b"],
                "new_s": r["median_n"],
                **c,
                "flags": sorted(set(r["flags_b"]) | set(r["flags_n"])),
            }
        )
    cases = pd.DataFrame(out)
    warnings = [
        f"the two runs were measured on different machines or settings ({d}); "
        "their timings may differ for that reason alone"
        for d in machine_differences(run_b.get("machine", {}), run_n.get("machine", {}))
    ]
    sizes = [
        (len(r["samples_b"]), len(r["samples_n"]))
        for _, r in both.iterrows()
        if r["kind"] != "bandwidth"
    ]
    blind = [(a, b) for a, b in sizes if smallest_p(a, b) >= alpha]
    if blind:
        a, b = min(blind, key=lambda ab: ab[0] + ab[1])
        warnings.append(
            f"{len(blind)} case(s) have too few timings (as few as {a} and {b}) for the "
            f"Mann-Whitney test to reach p < {alpha:g} at any difference, so they cannot be "
            "called worse or better: time more rounds (--repeats 4 or more on both sides)"
        )
    only = len(sb) + len(sn) - 2 * len(both)
    if only:
        warnings.append(f"{only} case(s) were timed in only one of the files and are left out")
    return Comparison(
        cases, warnings, rb, rn, factor, alpha, (str(run_b["run_id"]), str(run_n["run_id"]))
    )


def _label(r: pd.Series) -> str:
    shape = f"{r['m']:,}" if r["kind"] == "micro" and r["n_x"] == 1 else f"{r['n_x']}x{r['m']}"
    return f"{r['operation']} {r['backend']} {shape} {r['dtype']} t{r['threads']}"


def comparison_markdown(cmp: Comparison, figure: str | None = "compare") -> str:
    """``compare.md``: verdict counts, warnings, and one table per verdict."""
    from vecstudy.escape import Markup, md_code, md_text
    from vecstudy.report.markdown import format_flags, format_seconds, markdown_table

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

    from vecstudy.report.figures import log_y

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
    from vecstudy.report.figures import plain_text, save

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    with plain_text():
        paths = save(figure_comparison(cmp), out / "compare")
    md = out / "compare.md"
    atomic_write_text(md, comparison_markdown(cmp))
    return [md, *paths]
