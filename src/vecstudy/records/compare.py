"""Two results files, case by case: ratio with its interval, a test, a verdict.

``vecstudy compare BASE NEW`` takes the latest run of each file, matches the
cases both timed (same kind, operation, backend, dtype, threads and shape) and
calls each one *worse*, *better* or *unchanged* by
:func:`vecstudy.records.stats.compare_samples` (Mann-Whitney U at ``alpha``, and
the 95% interval of ``median(new) / median(base)`` and the ratio of minimums
both beyond ``factor``).  Read-bandwidth probes measure the machine, not the
code: they are listed, never judged.  The command exits with status 1 when any
case is worse, so that CI can gate on it, and warns when the two runs' machines differ in anything
that moves timings (:func:`vecstudy.records.machine.machine_differences`).

Computation only: :mod:`vecstudy.report.compare` writes ``compare.md`` and the figure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Final

import pandas as pd

from vecstudy.records.machine import machine_differences
from vecstudy.records.results import Results, load_results
from vecstudy.records.stats import (
    ALPHA,
    FACTOR,
    KEYS,
    compare_samples,
    machine_cores,
    smallest_p,
    summarize,
)

#: The verdicts a case can get (``"machine"``: a read-bandwidth probe, not judged).
VERDICTS: Final = ("worse", "better", "unchanged", "machine")


@dataclass
class Comparison:
    """The outcome of :func:`compare_files`.

    Attributes
    ----------
    cases : DataFrame
        One row per case timed in both: :data:`~vecstudy.records.stats.KEYS`,
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
    sb = summarize(
        rb.rows[rb.rows["run_id"] == run_b["run_id"]], cores=machine_cores(rb, [run_b["run_id"]])
    )
    sn = summarize(
        rn.rows[rn.rows["run_id"] == run_n["run_id"]], cores=machine_cores(rn, [run_n["run_id"]])
    )
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
