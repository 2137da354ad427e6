"""The report: summaries and speedups from known rows, figures and Markdown written."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from vecstudy import report
from vecstudy.records import results as bench_results

from tests.conftest import make_row

# seconds per step: python 1 ms, numpy 10 µs, numba 5 µs at 1 thread and 4 µs at 2
MEDIANS = {"python": 1e-3, "numpy": 1e-5, "numba": 5e-6}
READ_S = 2e-6


def _row(**fields: Any) -> dict[str, Any]:
    """A row of this file: thread counts, warm-up and load recorded."""
    return make_row(
        **{"blas_threads": 1, "numba_threads": 1, "warmup_s": 0.5, "load": 0.1, **fields}
    )


def make_rows() -> list[dict[str, Any]]:
    rows = []
    for n_x, m in ((10, 100), (100, 1000)):
        for threads in (1, 2):
            for op in ("propagate", "optimize"):
                for backend, median_1 in MEDIANS.items():
                    if backend == "python" and threads == 2:
                        continue
                    median = 4e-6 if backend == "numba" and threads == 2 else median_1
                    for k, factor in enumerate((0.9, 1.0, 1.3)):
                        rows.append(
                            _row(
                                kind="kernel",
                                operation=op,
                                backend=backend,
                                n_x=n_x,
                                m=m,
                                threads=threads,
                                round=k,
                                seconds=median * factor,
                            )
                        )
            for k in range(3):
                rows.append(
                    _row(
                        kind="bandwidth",
                        operation="read",
                        backend="numba",
                        n_x=n_x,
                        m=m,
                        threads=threads,
                        round=k,
                        seconds=READ_S,
                    )
                )
    rows.append(
        _row(
            kind="kernel",
            operation="optimize",
            backend="python",
            n_x=1000,
            m=10000,
            seconds=None,
            loops=None,
            status="skipped",
            reason="predicted 80 s > budget 20 s",
        )
    )
    for backend, secs in (("python", 0.5), ("numpy", 1e-3), ("numba", 1e-3)):
        for k in range(3):
            rows.append(
                _row(
                    kind="micro",
                    operation="dot",
                    backend=backend,
                    n_x=1,
                    m=1_000_000,
                    round=k,
                    seconds=secs,
                )
            )
    rows.append(
        _row(
            kind="micro",
            operation="exp",
            backend="numba",
            n_x=1,
            m=1_000_000,
            seconds=None,
            status="skipped",
            reason="the numba backend has no exp_loop()",
        )
    )
    return rows


def write_results(path: Path, rows: list[dict[str, Any]] | None = None) -> Path:
    run = {
        "run_id": "r1",
        "command": "vecstudy bench --shapes 10x100,100x1000",
        "status": "complete",
        "rows": 0,
        "machine": {
            "cpu": "Test CPU 9000",
            "cores": 2,
            "cores_available": 2,
            "load_average": 0.1,
            "threads": {"blas": []},
            "hostname": "h",
        },
    }
    doc = {
        "format": bench_results.FORMAT,
        "runs": [run],
        "rows": make_rows() if rows is None else rows,
    }
    path.write_text(json.dumps(doc))
    return path


def test_summary_and_speedups(tmp_path: Path) -> None:
    res = bench_results.load_results(write_results(tmp_path / "r.json"))
    summary = report.summarize(res.rows)
    assert (summary["n"] == 3).all()
    one = summary[
        (summary["backend"] == "numpy")
        & (summary["n_x"] == 10)
        & (summary["operation"] == "propagate")
        & (summary["threads"] == 1)
    ].iloc[0]
    assert one["median"] == pytest.approx(1e-5)
    assert one["min"] == pytest.approx(0.9e-5)
    assert one["max"] == pytest.approx(1.3e-5)
    assert one["q1"] == pytest.approx(0.95e-5)
    kern = report.kernel_table(summary)
    numba2 = kern[(kern["backend"] == "numba") & (kern["threads"] == 2)]
    # the Python loop (one thread) is the baseline for every thread setting
    assert numba2["vs_python"].to_numpy() == pytest.approx(1e-3 / 4e-6)
    assert numba2["vs_numpy"].to_numpy() == pytest.approx(1e-5 / 4e-6)
    assert (kern["limit_s"] == READ_S).all()
    assert kern["gbps"].to_numpy() == pytest.approx(
        (kern["bytes_x"] / kern["median"] / 1e9).to_numpy()
    )


def test_write_report(tmp_path: Path) -> None:
    results = write_results(tmp_path / "r.json")
    files = report.write_report(results, output_dir=tmp_path / "out")
    names = sorted(p.name for p in files.figures)
    stems = ["bandwidth", "headline", "micro", "speedup", "time", "timings"]
    assert names == sorted(f"{s}.{ext}" for s in stems for ext in ("png", "svg"))
    for p in files.figures:
        assert p.stat().st_size > 1000
        assert p.read_bytes()[:4] in (b"\x89PNG", b"<?xm")
    text = files.markdown.read_text()
    for stem in stems:
        assert f"]({stem}.png)" in text
        assert f"({stem}.svg)" in text
    assert "Test CPU 9000" in text
    assert "vecstudy bench --shapes 10x100,100x1000" in text
    assert "vecstudy report" in text
    assert "predicted 80 s > budget 20 s" in text
    assert "no exp_loop()" in text
    assert "**1 ms**" in text  # the Python loop's median
    assert "250x" in text  # numba (4 µs) over the Python loop (1 ms)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]
    assert "roofline" not in text


def test_report_embeds_roofline(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "roofline.md").write_text("Measured on X.\n\n```text\nstep vs numpy  1.50  PASS\n```\n")
    files = report.write_report(write_results(tmp_path / "r.json"), output_dir=out, formats=())
    text = files.markdown.read_text()
    assert "## Numba at the memory roofline" in text
    assert "step vs numpy  1.50  PASS" in text


def test_busy_machine_is_flagged(tmp_path: Path) -> None:
    results = write_results(tmp_path / "r.json")
    doc = json.loads(results.read_text())
    doc["runs"][0]["machine"]["load_average"] = 1.8
    results.write_text(json.dumps(doc))
    text = report.write_report(results, output_dir=tmp_path, formats=()).markdown.read_text()
    assert "Busy machine" in text


def test_report_refuses_an_empty_results_file(tmp_path: Path) -> None:
    skipped = [r for r in make_rows() if r["status"] == "skipped"]
    results = write_results(tmp_path / "r.json", skipped)
    with pytest.raises(ValueError, match="no timed case"):
        report.write_report(results, output_dir=tmp_path / "out", formats=())


def test_report_from_micro_rows_only(tmp_path: Path) -> None:
    micro = [r for r in make_rows() if r["kind"] == "micro"]
    files = report.write_report(write_results(tmp_path / "r.json", micro), output_dir=tmp_path)
    assert sorted(p.name for p in files.figures) == ["micro.png", "micro.svg"]


def write_asv(root: Path) -> Path:
    results = root / "results"
    (results / "box").mkdir(parents=True)
    (results / "benchmarks.json").write_text(
        json.dumps(
            {
                "bench_kernels.Propagate.time_propagate": {"unit": "seconds"},
                "bench_kernels.Optimize.peakmem_optimize": {"unit": "bytes"},
                "version": 2,
            }
        )
    )
    (results / "box" / "machine.json").write_text("{}")
    columns = [
        "result",
        "params",
        "version",
        "started_at",
        "duration",
        "stats_ci_99_a",
        "stats_ci_99_b",
        "stats_q_25",
        "stats_q_75",
        "stats_number",
        "stats_repeat",
        "samples",
        "profile",
    ]
    params = [["'python'", "'numpy'"], ["'10x1000'"]]
    doc = {
        "commit_hash": "0123456789abcdef",
        "env_name": "existing-py",
        "date": 1700000000000,
        "result_columns": columns,
        "results": {
            "bench_kernels.Propagate.time_propagate": [
                [1e-3, None],
                params,
                "v",
                0,
                1.0,
                None,
                None,
                [0.9e-3, None],
                [1.1e-3, None],
            ],
            "bench_kernels.Optimize.peakmem_optimize": [[4e7, 5e7], params],
        },
    }
    (results / "box" / "01234567-existing-py.json").write_text(json.dumps(doc))
    return results


def test_load_asv(tmp_path: Path) -> None:
    asv = report.load_asv(write_asv(tmp_path))
    assert len(asv) == 4
    prop = asv[asv["benchmark"].str.endswith("time_propagate")].set_index("params")
    assert prop.loc["python, 10x1000", "value"] == pytest.approx(1e-3)
    assert math.isnan(prop.loc["numpy, 10x1000", "value"])  # failed or skipped
    assert prop.loc["python, 10x1000", "unit"] == "seconds"
    assert set(asv["commit"]) == {"01234567"}


def test_report_with_asv(tmp_path: Path) -> None:
    results = write_results(tmp_path / "r.json")
    files = report.write_report(
        results, output_dir=tmp_path / "out", asv_dir=write_asv(tmp_path), formats=("png",)
    )
    assert (tmp_path / "out" / "asv.png").is_file()
    text = files.markdown.read_text()
    assert "## Airspeed velocity" in text
    assert "](asv.png)" in text
    assert "failed/skipped" in text
    assert "40 MB" in text  # peakmem in bytes


def test_missing_asv_dir_is_an_error(tmp_path: Path) -> None:
    results = write_results(tmp_path / "r.json")
    with pytest.raises(FileNotFoundError, match="asv results directory"):
        report.write_report(results, output_dir=tmp_path, asv_dir=tmp_path / "nope")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(1.5, "1.5 s"), (0.00123, "1.23 ms"), (4.2e-6, "4.2 µs"), (3e-10, "0.3 ns"), (math.nan, "-")],
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert report.format_seconds(seconds) == text


def test_format_ratio_and_bytes() -> None:
    assert report.format_ratio(363.2) == "363x"
    assert report.format_ratio(1234.0) == "1,234x"
    assert report.format_ratio(2.345) == "2.35x"
    assert report.format_bytes(8e6) == "8 MB"
    assert report.format_bytes(512) == "512 B"


def test_markdown_table_escapes_pipes() -> None:
    table = report.markdown_table(["a", "b"], [["x|y", 1]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1 |"]


def test_summarize_ignores_skipped_rows() -> None:
    rows = pd.DataFrame(
        [
            _row(
                kind="kernel",
                operation="propagate",
                backend="numpy",
                n_x=1,
                m=2,
                seconds=None,
                status="skipped",
                reason="r",
            )
        ]
    )
    assert report.summarize(rows).empty


def test_speedups_carry_intervals(tmp_path: Path) -> None:
    res = bench_results.load_results(write_results(tmp_path / "r.json"))
    kern = report.kernel_table(report.summarize(res.rows))
    numba = kern[kern["backend"] == "numba"]
    assert (numba["vs_python_lo"] <= numba["vs_python"]).all()
    assert (numba["vs_python"] <= numba["vs_python_hi"]).all()
    assert (numba["vs_numpy_lo"] < numba["vs_numpy_hi"]).all()
    assert not numba["vs_python_est"].any()


def test_skipped_python_loop_is_estimated_from_its_cost_per_element(tmp_path: Path) -> None:
    rows = [
        r
        for r in make_rows()
        if not (r["backend"] == "python" and r["n_x"] == 100 and r["kind"] == "kernel")
    ]
    res = bench_results.load_results(write_results(tmp_path / "r.json", rows))
    kern = report.kernel_table(report.summarize(res.rows))
    big = kern[(kern["n_x"] == 100) & (kern["backend"] == "numba") & (kern["threads"] == 1)]
    # the loop's 1 ms at 10x100 scaled by 100 times the elements, over numba's 5 µs
    assert big["vs_python"].to_numpy() == pytest.approx(1e-3 * 100 / 5e-6)
    assert big["vs_python_est"].all()
    text = report.write_report(
        res.path, output_dir=tmp_path / "out", formats=()
    ).markdown.read_text()
    assert "~20,000x*" in text
    assert "an estimate" in text


def test_headline_comes_first(tmp_path: Path) -> None:
    files = report.write_report(
        write_results(tmp_path / "r.json"), output_dir=tmp_path / "out", formats=()
    )
    text = files.markdown.read_text()
    assert text.index("## In plain words") < text.index("## Kernels")
    # the headline quotes one gradient step (where the loop is timed at more sizes)
    assert "One gradient-descent step, X of 100x1000 float64" in text
    assert "95% confidence interval" in text
    assert files.headline
    assert files.headline[0].startswith("- **")


def test_unstable_cases_are_flagged(tmp_path: Path) -> None:
    files = report.write_report(
        write_results(tmp_path / "r.json"), output_dir=tmp_path / "out", formats=()
    )
    text = files.markdown.read_text()
    # every case's timings are 0.9, 1.0 and 1.3 times its median: CV 19%
    assert "⚠ cv" in text
    assert "cases flagged unstable" in text


def test_interrupted_run_is_reported_incomplete(tmp_path: Path) -> None:
    results = write_results(tmp_path / "r.json")
    doc = json.loads(results.read_text())
    doc["runs"][0]["status"] = "interrupted"
    results.write_text(json.dumps(doc))
    files = report.write_report(results, output_dir=tmp_path / "out", formats=())
    assert "**Incomplete run:** `r1` is interrupted" in files.markdown.read_text()
    assert files.incomplete


def test_two_runs_are_not_pooled(tmp_path: Path) -> None:
    rows = make_rows()
    slow = [{**r, "run_id": "r0", "seconds": r["seconds"] and r["seconds"] * 10} for r in rows]
    results = write_results(tmp_path / "r.json", slow + rows)
    doc = json.loads(results.read_text())
    doc["runs"][0]["started"] = "2026-01-02T00:00:00+00:00"
    doc["runs"].insert(0, {**doc["runs"][0], "run_id": "r0", "started": "2026-01-01T00:00:00"})
    results.write_text(json.dumps(doc))
    files = report.write_report(results, output_dir=tmp_path / "out", formats=())
    text = files.markdown.read_text()
    assert "this report shows the latest (`r1`)" in text
    assert "**1 ms**" in text  # the Python loop of run r1, not a median pooled with r0


def test_note_at_the_top(tmp_path: Path) -> None:
    files = report.write_report(
        write_results(tmp_path / "r.json"),
        output_dir=tmp_path / "out",
        note="From machine X.",
        formats=(),
    )
    assert files.markdown.read_text().splitlines()[2] == "> From machine X."


def test_asv_history_and_commit_check(tmp_path: Path) -> None:
    root = write_asv(tmp_path)
    doc = json.loads((root / "box" / "01234567-existing-py.json").read_text())
    doc.update(commit_hash="89abcdef00000000", date=1800000000000)
    (root / "box" / "89abcdef-existing-py.json").write_text(json.dumps(doc))
    asv = report.load_asv(root)
    history = report.asv_history(asv)
    assert [c for c in history.columns if c not in ("machine", "benchmark", "params", "unit")] == [
        "01234567",
        "89abcdef",
    ]
    assert report.commit_check(asv, "89abcdef00000000") is None
    assert "different code" in str(report.commit_check(asv, "0123456700000000"))
    text = report.write_report(
        write_results(tmp_path / "r.json"), output_dir=tmp_path / "out", asv_dir=root, formats=()
    ).markdown.read_text()
    assert "History across 2 commits" in text


def test_asv_dir_holding_a_list_is_a_one_line_error(tmp_path: Path) -> None:
    root = write_asv(tmp_path)
    (root / "box" / "01234567-existing-py.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="holds a JSON list; expected an object"):
        report.write_report(
            write_results(tmp_path / "r.json"), output_dir=tmp_path, asv_dir=root, formats=()
        )


def test_headline_says_when_a_backend_was_skipped_at_a_shape(tmp_path: Path) -> None:
    rows = []
    for r in make_rows():
        # the headline quotes one gradient step on one thread
        if (r["operation"], r["backend"], r["n_x"], r["threads"]) == ("propagate", "numba", 100, 1):
            r.update(seconds=None, loops=None, status="skipped", reason="budget")
        rows.append(r)
    files = report.write_report(
        write_results(tmp_path / "r.json", rows), output_dir=tmp_path / "out", formats=()
    )
    big = [line for line in files.headline if "X of 100x1000" in line]
    assert len(big) == 1
    assert "NumPy" in big[0]
    assert "Numba: not timed at this size" in big[0]
    near = [line for line in files.headline if "X of 10x100" in line]
    assert len(near) == 1  # the shape nearest the course's where both were timed
    assert "NumPy" in near[0]
    assert "Numba" in near[0]
    assert "not timed" not in near[0]


def test_estimated_speedups_keep_their_dtype_marker(tmp_path: Path) -> None:
    from matplotlib.collections import PathCollection
    from matplotlib.markers import MarkerStyle

    from vecstudy.report import figures

    rows = [
        {**r, "dtype": dt, "bytes_x": r["n_x"] * r["m"] * (8 if dt == "float64" else 4)}
        for r in make_rows()
        if not (r["backend"] == "python" and r["n_x"] == 100 and r["kind"] == "kernel")
        for dt in ("float64", "float32")
    ]
    res = bench_results.load_results(write_results(tmp_path / "r.json", rows))
    kern = report.kernel_table(report.summarize(res.rows))
    assert kern["vs_python_est"].any()
    fig = figures.figure_speedup(kern, 2)
    hollow = [
        c
        for ax in fig.axes
        for c in ax.collections
        if isinstance(c, PathCollection)
        and len(c.get_facecolor())
        and tuple(c.get_facecolor()[0]) == (1.0, 1.0, 1.0, 1.0)
    ]
    shapes = {len(c.get_paths()[0].vertices) for c in hollow}
    square = len(MarkerStyle("s").get_path().vertices)
    circle = len(MarkerStyle("o").get_path().vertices)
    assert shapes == {square, circle}  # float32 squares stay squares when hollow


def test_comparison_legend_says_what_each_colour_means(tmp_path: Path) -> None:
    from vecstudy.records.compare import compare_files
    from vecstudy.report.compare import figure_comparison

    base = write_results(tmp_path / "base.json")
    cmp = compare_files(base, base)
    fig = figure_comparison(cmp)
    texts = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert "read-bandwidth probe (not judged)" in texts
    assert "unchanged" in texts
    assert "machine" not in texts
    assert not any(t.startswith("worse") for t in texts)  # nothing drawn in that colour


def test_speedup_figure_has_no_empty_panel(tmp_path: Path) -> None:
    from vecstudy.report import figures

    rows = [r for r in make_rows() if r["backend"] != "numba"]  # nothing to set against NumPy
    res = bench_results.load_results(write_results(tmp_path / "r.json", rows))
    kern = report.kernel_table(report.summarize(res.rows))
    fig = figures.figure_speedup(kern, 2)
    assert len(fig.axes) == 2  # propagate and optimize, over the Python loop only
    for ax in fig.axes:
        assert "over Python loop" in ax.get_title()
        drawn = [line for line in ax.get_lines() if len(line.get_xdata()) > 0]
        assert any(line.get_color() == figures.color("numpy") for line in drawn)
    full = report.kernel_table(
        report.summarize(bench_results.load_results(write_results(tmp_path / "f.json")).rows)
    )
    assert len(figures.figure_speedup(full, 2).axes) == 4


def test_headline_says_slower_in_plain_words_when_the_loop_wins(tmp_path: Path) -> None:
    # a 1x1 problem: NumPy's call overhead makes it slower than the loop
    rows = [
        {**r, "seconds": r["seconds"] * 400}
        if r["backend"] == "numpy" and r["kind"] == "kernel" and r["seconds"]
        else r
        for r in make_rows()
    ]
    files = report.write_report(
        write_results(tmp_path / "r.json", rows), output_dir=tmp_path / "out", formats=()
    )
    line = next(line for line in files.headline if "X of 100x1000" in line)
    assert "NumPy 4x [" in line
    assert "slower than the Python loop" in line
    assert "0.25x" not in line
    assert "Numba 200x [" in line  # one thread: 1 ms / 5 µs


def test_thread_pool_line_leaves_out_what_threadpoolctl_does_not_know() -> None:
    from vecstudy.report.document import _blas_text

    omp = {"library": "openmp", "version": None, "user_api": "openmp", "threads": 2}
    assert str(_blas_text({**omp, "architecture": None})) == "openmp (openmp, 2 threads)"
    blas = {"library": "openblas", "version": "0.3.30", "user_api": "blas", "threads": 2}
    assert (
        str(_blas_text({**blas, "architecture": "Haswell"}))
        == "openblas 0.3.30 (blas, 2 threads, Haswell)"
    )
