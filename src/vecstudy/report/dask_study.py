"""``dask-study.md`` and ``dask-study.png/.svg``: the distributed study's results, drawn.

The measurements are :mod:`vecstudy.study.dask_study`'s (its ``dask-study.json``);
here they become tables (:func:`to_markdown`, every cell through the one
:func:`~vecstudy.report.markdown.markdown_table`, so that a value read back from a
JSON file is text, never markup) and three panels of figures (:func:`figure`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vecstudy.escape import Markup, md_text
from vecstudy.report.markdown import markdown_table


def _text(value: object, limit: int) -> str:
    """``value`` from the JSON file as Markdown text within a line (escaped, bounded)."""
    return md_text(value, limit, block_start=False)


def _interrupted_lines(results: dict[str, Any]) -> list[str]:
    if "interrupted" not in results:
        return []
    stop = results["interrupted"]
    return [
        f"**Interrupted ({_text(stop['signal'], 20)}): only the "
        f"{_text(stop['rows_kept'], 20)} measurements "
        "finished before it are shown.**",
        "",
    ]


def _in_memory_table(rows: list[dict[str, Any]]) -> str:
    """Per iteration at each size: every contender, and the ratios that answer the study."""
    mem = [r for r in rows if r["study"] == "in-memory"]
    table = []
    for size in sorted({r["mb"] for r in mem}):
        t = {r["contender"]: r for r in mem if r["mb"] == size}

        def ms(name: str, t: dict[str, Any] = t) -> str:
            return f"{t[name]['per_iteration_s'] * 1e3:.1f} ms" if name in t else "n/a"

        def ratio(a: str, b: str, t: dict[str, Any] = t) -> str:
            if a not in t or b not in t:
                return "n/a"
            return f"{t[a]['per_iteration_s'] / t[b]['per_iteration_s']:.2f}x"

        any_row = next(iter(t.values()))
        table.append(
            [
                f"{size} MB ({any_row['shape']})",
                any_row["chunks"],
                ms("numba"),
                ms("numpy"),
                ms("dask"),
                ms("dask-glm"),
                ratio("dask", "numba"),
                ratio("dask-glm", "dask"),
            ]
        )
    header = ["X", "chunks", "numba", "numpy", "dask", "dask-glm", "dask / numba"]
    return markdown_table([*header, "dask-glm / dask"], table)


def _overhead_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The per-step overhead table, and dask's own no-op round trip for scale."""
    ovh = [r for r in rows if r["study"] == "overhead" and r["shape"] != "-"]
    table = []
    for shape in dict.fromkeys(r["shape"] for r in ovh):
        pair = [r for r in ovh if r["shape"] == shape]
        d = next((r for r in pair if r["contender"] == "dask"), None)
        n = next((r for r in pair if r["contender"] != "dask"), None)
        if d is None or n is None:
            continue
        table.append(
            [
                shape,
                f"{d['per_iteration_s'] * 1e3:.2f} ms",
                f"{n['per_iteration_s'] * 1e3:.3f} ms",
                f"{(d['per_iteration_s'] - n['per_iteration_s']) * 1e3:.2f} ms",
            ]
        )
    header = ["X", "dask step", "numba step (1 thread)", "overhead (difference)"]
    lines = [markdown_table(header, table)]
    noop = [r for r in rows if r["contender"] == "dask no-op round trip"]
    if noop:
        lines += [
            "",
            f"For scale: dask's own round trip here, {noop[0]['chunks']} no-op tasks submitted "
            f"and gathered, takes {noop[0]['per_iteration_s'] * 1e3:.2f} ms (median).",
        ]
    return lines


def _out_of_core_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The out-of-core section: time per iteration and peak memory against the limit."""
    ooc = [r for r in rows if r["study"] == "out-of-core"]
    if not ooc:
        return []
    first = ooc[0]
    limit = first["worker_limit_bytes"]
    table = [
        [
            r["contender"],
            f"{r['per_iteration_s']:.2f} s",
            ", ".join(f"{p / 2**20:.0f} MiB" for p in r["worker_peak_bytes"]),
            "yes" if max(r["worker_peak_bytes"]) < limit else Markup("**no**"),
        ]
        for r in ooc
    ]
    lines = [
        "",
        f"## Out of core: X in Zarr, {first['mb'] / 1e3:.2f} GB ({_text(first['shape'], 40)}, "
        f"{first['chunks']} chunks), 4x the workers' total memory limit",
        "",
        f"Memory limit per worker: {limit / 2**20:.0f} MiB.  Peak memory: the worker "
        "process's peak resident set (`VmHWM`), imports included.",
        "",
        markdown_table(["contender", "per iteration", "peak per worker", "under the limit"], table),
    ]
    if "max_rel_diff_vs_in_memory" in first:
        lines += [
            "",
            f"The dask fit against the numba backend's in-memory fit, {first['iterations']} "
            f"iterations: largest relative difference in w, b = "
            f"{first['max_rel_diff_vs_in_memory']:.1e}.",
        ]
    return lines


def to_markdown(results: dict[str, Any]) -> str:
    """Tables of the study: per iteration, ratios, overhead, out of core."""
    rows = results["rows"]
    mach = results["machine"]
    lines = [
        "# The dask backend: distributed study",
        "",
        f"Machine: {_text(mach.get('cpu'), 200)}, {_text(mach.get('cores'), 20)} cores, "
        f"{_text(mach.get('os'), 200)}; {_text(mach.get('timestamp'), 40)}.  Versions: "
        + ", ".join(_text(f"{k} {v}", 80) for k, v in results["versions"].items())
        + ".",
        "",
        *_interrupted_lines(results),
        "Local cluster: one worker process per core, one thread each.  numba and numpy run "
        "in the client process on every core.  Times are medians of interleaved rounds; "
        "the machine may be shared, so read ratios rather than absolute times.",
        "",
        "## Per iteration, X in memory (float64, n_x = 100)",
        "",
        _in_memory_table(rows),
        "",
        "## Per-step overhead at small sizes (one chunk per worker)",
        "",
        *_overhead_lines(rows),
        *_out_of_core_lines(rows),
        "",
        "dask-glm: `dask_glm.algorithms.gradient_descent(X.T, y, max_iter=N, tol=-inf, "
        "normalize=False)` on the same chunks (transposed to its samples-by-features layout),"
        " persisted for the in-memory rows and read from Zarr for the out-of-core row.",
        "",
        "Reproduce: `vecstudy dask-study --output-dir DIR`.",
        "",
    ]
    return "\n".join(lines)


def figure(results: dict[str, Any], path: Path) -> None:
    """Three panels: per iteration in memory, per-step overhead, out of core."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), layout="constrained")
    colors = {"numba": "C0", "numpy": "C1", "dask": "C2", "dask-glm": "C3"}
    mem = [r for r in rows if r["study"] == "in-memory"]
    sizes = sorted({r["mb"] for r in mem})
    names = [n for n in colors if any(r["contender"] == n for r in mem)]
    ax = axes[0]
    ax.set_visible(bool(mem))
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        vals = [
            next(
                (
                    r["per_iteration_s"] * 1e3
                    for r in mem
                    if r["mb"] == s and r["contender"] == name
                ),
                0.0,
            )
            for s in sizes
        ]
        xs = np.arange(len(sizes)) + (i - (len(names) - 1) / 2) * width
        bars = ax.bar(xs, vals, width, label=name, color=colors[name])
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_xticks(np.arange(len(sizes)), [f"{s} MB" for s in sizes])
    if mem:
        ax.set_yscale("log")
    ax.set_ylabel("time per iteration (ms, log scale; lower is better)")
    ax.set_title("X in memory, float64, n_x = 100")
    if mem:
        ax.legend(fontsize=8)

    ax = axes[1]
    ovh = [r for r in rows if r["study"] == "overhead"]
    ax.set_visible(bool(ovh))
    for r in ovh:
        if r["contender"] == "dask no-op round trip":
            ax.axhline(
                r["per_iteration_s"] * 1e3,
                color="grey",
                linestyle=":",
                label=f"dask no-op round trip ({r['chunks']} tasks)",
            )
    for name, color in (("dask", "C2"), ("numba (1 thread)", "C0")):
        pts = [(r["mb"], r["per_iteration_s"] * 1e3) for r in ovh if r["contender"] == name]
        if pts:
            ax.plot(*zip(*pts, strict=True), "o-", color=color, label=name)
    if ovh:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("size of X (MB), n_x = 10, one chunk per worker")
    ax.set_ylabel("time per step (ms, log scale)")
    ax.set_title("Per-step overhead at small sizes")
    if ovh:
        ax.legend(fontsize=8)

    ax = axes[2]
    ooc = [r for r in rows if r["study"] == "out-of-core"]
    if ooc:
        limit = ooc[0]["worker_limit_bytes"] / 2**20
        labels = [r["contender"] for r in ooc]
        peaks = [max(r["worker_peak_bytes"]) / 2**20 for r in ooc]
        bars = ax.bar(labels, peaks, color=[colors[c] for c in labels])
        ax.bar_label(
            bars,
            labels=[f"{r['per_iteration_s']:.1f} s/iter" for r in ooc],
            fontsize=8,
        )
        ax.axhline(limit, color="k", linestyle="--", label=f"worker memory limit ({limit:.0f} MiB)")
        ax.set_ylim(0, limit * 1.4)
        ax.set_ylabel("largest worker peak memory (MiB)")
        ax.set_title(
            f"Out of core: {ooc[0]['mb'] / 1e3:.1f} GB of X from Zarr, "
            f"{len(ooc[0]['worker_peak_bytes'])} workers"
        )
        ax.legend(fontsize=8, loc="upper left")
    else:
        ax.set_visible(False)
    mach = results["machine"]
    fig.suptitle(
        f"dask backend vs numba, numpy and dask-glm: {mach.get('cpu')}, {mach.get('cores')} cores",
        fontsize=10,
    )
    for target in (path, path.with_suffix(".svg")):
        tmp = target.with_name(f".{target.name}.tmp{target.suffix}")
        fig.savefig(tmp, dpi=110)
        tmp.replace(target)
    plt.close(fig)
