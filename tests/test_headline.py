"""The headline a learner reads first: one thread, measured loop times, numbers that agree
with the table beneath, a stability sentence that says what to do, and its figure."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

from vecstudy import report
from vecstudy.records import results as bench_results
from vecstudy.report import figures
from vecstudy.study import options as opt

# the rows of tests/test_report.py (shapes 10x100 and 100x1000, threads 1 and 2)
_spec = importlib.util.spec_from_file_location(
    "_report_rows", Path(__file__).with_name("test_report.py")
)
assert _spec is not None
assert _spec.loader is not None
_rows = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_rows)
make_rows, write_results = _rows.make_rows, _rows.write_results

# "NumPy 100x [69.2-144]" or "~20,000x* [...]" (an estimate) in a headline or a table cell
RATIO = r"~?[\d,.]+x\*?(?: \[[\d,.]+-[\d,.]+\])?"


def _kernel_tables(text: str) -> dict[tuple[str, str, str, str, int], dict[str, str]]:
    """Rows of the Kernels tables of report.md keyed by (op, shape, dtype, backend, threads)."""
    section = text.split("## Kernels", 1)[1].split("\n## ", 1)[0]
    rows: dict[tuple[str, str, str, str, int], dict[str, str]] = {}
    header: list[str] = []
    for line in section.splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == "op":
            header = cells
            continue
        row = dict(zip(header, cells, strict=True))
        key = (row["op"], row["shape"], row["dtype"], row["backend"], int(row["threads"]))
        assert key not in rows, key
        rows[key] = row
    return rows


def _headline_numbers(line: str) -> dict[str, Any]:
    """Shape, dtype, times and ratios quoted by one headline line."""
    m = re.match(r"- \*\*One gradient-descent step, X of (\d+x\d+) (\w+)\*\*", line)
    assert m, line
    numbers: dict[str, Any] = {"shape": m[1], "dtype": m[2], "times": {}, "ratios": {}}
    for name in ("NumPy", "Numba"):
        t = re.search(rf", {name} ([\d.]+ (?:s|ms|µs|ns))", line)
        r = re.search(rf"{name} ({RATIO})(?: and| slower| faster|:)", line)
        if t:
            numbers["times"][name] = t[1]
        if r:
            numbers["ratios"][name] = r[1]
    loop = re.search(r"Python loop (~?[\d.]+ (?:s|ms|µs|ns))", line)
    numbers["loop"] = loop[1] if loop else None
    return numbers


def _report(tmp_path: Path, rows: list[dict[str, Any]] | None = None) -> tuple[str, list[str]]:
    files = report.write_report(
        write_results(tmp_path / "r.json", rows), output_dir=tmp_path / "out", formats=()
    )
    return files.markdown.read_text(), list(files.headline)


def test_headline_numbers_are_the_one_thread_rows_of_the_table(tmp_path: Path) -> None:
    text, head = _report(tmp_path)
    table = _kernel_tables(text)
    lines = [line for line in head if line.startswith("- **One gradient-descent step")]
    assert len(lines) == 1  # 100x1000: both the size nearest the course's and the largest
    for line in lines:
        got = _headline_numbers(line)
        assert got["ratios"].keys() == {"NumPy", "Numba"}
        for name, backend in (("NumPy", "numpy"), ("Numba", "numba")):
            row = table["propagate", got["shape"], got["dtype"], backend, 1]
            assert row["median"] == f"**{got['times'][name]}**"
            assert row["vs python"] == got["ratios"][name]
        loop = table["propagate", got["shape"], got["dtype"], "python", 1]
        assert loop["median"] == f"**{got['loop']}**"  # measured, not estimated
        assert "one thread" in line
    # 1 ms / 5 µs on one thread, not 1 ms / 4 µs on two
    assert "Numba 200x [" in lines[0]


def test_other_thread_settings_have_a_line_and_a_section_of_their_own(tmp_path: Path) -> None:
    text, head = _report(tmp_path)
    two = [line for line in head if line.startswith("- **With 2 threads")]
    assert len(two) == 1
    assert "Numba 250x [" in two[0]  # 1 ms / 4 µs: the two-thread rows, apart
    assert "noisy" in two[0]
    table = _kernel_tables(text)
    assert table["propagate", "100x1000", "float64", "numba", 2]["vs python"] in two[0]
    one, other = text.index("### One thread"), text.index("### 2 threads")
    assert text.index("## Kernels") < one < other
    section = text[other : text.index("\n## ", other)]
    assert "| python |" not in section  # the loop runs on one thread: in the first section


def test_a_loop_timed_for_the_step_is_measured_even_where_optimize_was_skipped(
    tmp_path: Path,
) -> None:
    rows = []
    for r in make_rows():
        if (r["kind"], r["operation"], r["backend"], r["n_x"]) == (
            "kernel",
            "optimize",
            "python",
            100,
        ):
            r.update(seconds=None, loops=None, status="skipped", reason="predicted 80 s")
        rows.append(r)
    _, head = _report(tmp_path, rows)
    line = next(line for line in head if "X of 100x1000" in line)
    assert "estimated" not in line.lower()
    assert "~" not in line
    assert _headline_numbers(line)["loop"] == "1 ms"


def test_an_estimated_loop_says_so_in_words(tmp_path: Path) -> None:
    rows = [
        r
        for r in make_rows()
        if not (r["kind"] == "kernel" and r["backend"] == "python" and r["n_x"] == 100)
    ]
    text, head = _report(tmp_path, rows)
    line = next(line for line in head if "X of 100x1000" in line)
    assert "Python loop ~100 ms (estimated)" in line  # 1 ms at 10x100, 100 times the elements
    assert "Estimated: the loop was too slow to time at this size" in line
    assert "10x100 (where it was timed)" in line
    got = _headline_numbers(line)
    table = _kernel_tables(text)
    assert (
        table["propagate", "100x1000", "float64", "numba", 1]["vs python"]
        == "~20,000x*" + (got["ratios"]["Numba"].split("*", 1)[1])
    )
    assert got["ratios"]["Numba"].startswith("~20,000x*")


def test_stability_is_one_sentence_that_says_what_to_do(tmp_path: Path) -> None:
    text, head = _report(tmp_path)
    (line,) = [line for line in head if "Stability" in line]
    assert "close other programs" in line
    assert "raise --repeats (this run: 3)" in line
    assert "whose timings varied by 10% or more" in line
    assert text.count("Stability:") == 1


def test_study_defaults_one_thread_course_shape_installed_backends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vecstudy import backends

    assert opt.parse_threads(opt.STUDY_DEFAULTS["threads"], "t") == (1,)
    assert (12288, 209) in opt.parse_shapes(opt.STUDY_DEFAULTS["shapes"], "s")
    assert "noisy" in opt.HELP["threads"]
    real = backends.load

    def load(name: str) -> object:
        if name == "dask":
            raise backends.BackendUnavailable("backend 'dask' needs dask, which is not installed")
        return real(name)

    monkeypatch.setattr(backends, "load", load)
    opts = opt.resolve_options(defaults=opt.STUDY_DEFAULTS, use_file=False)
    assert opts.backends == ("python", "numba", "numpy")
    assert opts.threads == (1,)
    assert opt.missing_backends() == [("dask", "dask")]
    # named on purpose, a backend stays: the sweep records why it was not timed
    assert opt.parse_backends("all", "b") == backends.available_backends()


def test_info_lists_a_backend_that_is_not_installed_apart(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from vecstudy import backends
    from vecstudy.cli import main

    real = backends.load

    def load(name: str) -> object:
        if name == "dask":
            raise backends.BackendUnavailable("backend 'dask' needs dask, which is not installed")
        return real(name)

    monkeypatch.setattr(backends, "load", load)
    monkeypatch.setattr("vecstudy.cli.info._print_dask_info", lambda: None)
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "available backends: python, numba, numpy\n" in out
    assert "not installed: dask (pip install '.[dask]')" in out


def test_figures_read_as_a_learner_needs(tmp_path: Path) -> None:
    from matplotlib.collections import PathCollection

    rows = [
        r
        for r in make_rows()
        if not (r["kind"] == "kernel" and r["backend"] == "python" and r["n_x"] == 100)
    ]
    rows.append(
        {
            **rows[0],
            "backend": "dask",
            "operation": "propagate",
            "seconds": None,
            "loops": None,
            "status": "skipped",
            "reason": "backend 'dask' failed to load: BackendUnavailable: ...",
        }
    )
    res = bench_results.load_results(write_results(tmp_path / "r.json", rows))
    summary = report.summarize(res.rows)
    kern = report.kernel_table(summary)
    skipped = res.rows[res.rows["status"] == "skipped"]
    fig = figures.figure_time(kern, 2, skipped)
    fig.canvas.draw()
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert len(labels) >= 3
    assert all(re.fullmatch(r"[\d.,]+ (s|ms|µs|ns)", t) for t in labels), labels
    # nothing scattered among the measurements: skipped cases are words under the panel
    assert not [c for c in ax.collections if isinstance(c, PathCollection)]
    notes = [t.get_text() for t in ax.texts]
    assert any("Dask (NumPy in chunks) at 10x100: not installed" in t for t in notes)
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) > 1]
    assert len({line.get_color() for line in lines}) <= 4  # three backends and the limit
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "memory speed limit (time to read the data once)" in legend

    head = figures.figure_headline(kern)
    assert head is not None
    head.canvas.draw()
    (h_ax,) = head.axes
    assert h_ax.get_xscale() == "log"
    assert {"0.01 ms", "0.1 ms", "1 ms"} <= {t.get_text() for t in h_ax.get_xticklabels()}
    texts = [t.get_text() for t in h_ax.texts]
    assert texts[0].startswith("~100 ms, estimated")
    assert any("faster than the loop" in t for t in texts[1:])
    hatched = [p for p in h_ax.patches if p.get_hatch()]
    assert len(hatched) == 1
    # each measured ratio with its interval, as report.md gives it; ⚠ where flagged
    measured = [t for t in texts[1:] if "faster than the loop" in t]
    assert all(re.search(r"x\*? \[[\d,.]+-[\d,.]+x?\] faster than the loop", t) for t in measured)
    flagged = kern.copy()
    flagged["flags"] = [["cv"]] * len(flagged)
    head = figures.figure_headline(flagged)
    assert head is not None
    texts = [t.get_text() for t in head.axes[0].texts]
    assert all(t.endswith("⚠ unsteady") for t in texts[1:])
    assert "⚠ unsteady: timings that varied a lot" in head.axes[0].get_xlabel()


@pytest.mark.parametrize(
    ("lo", "hi", "view"),
    [
        (2.96e-4, 0.53, (1e-4, 1.0)),  # the dot product's panel: a label below 296 us
        (0.208, 54.6, (0.1, 100.0)),  # 1-2-5 first, then decades once wider: until they hold
        (0.52, 1.45, (0.5, 1.5)),  # timings over their median: round values on both sides
    ],
)
def test_log_views_are_widened_to_labelled_ticks(
    lo: float, hi: float, view: tuple[float, float]
) -> None:
    import matplotlib.figure

    fig = matplotlib.figure.Figure()
    ax = fig.subplots()
    ax.plot([0, 1], [lo, hi])
    figures.log_y(ax)
    ax.set_ylim(lo, hi)
    figures.enclose_log_views(fig)
    assert ax.get_ylim() == pytest.approx(view)
    fig.canvas.draw()
    labels = [t for t in ax.get_yticklabels() if t.get_text()]
    values = [t.get_position()[1] for t in labels]
    assert min(values) <= lo  # a label on either side of the data
    assert max(values) >= hi


@pytest.mark.parametrize(("lo", "hi"), [(3.1, 3.6), (2.0, 9.0), (1e-4, 2.0), (0.5, 40.0)])
def test_log_axes_get_three_labelled_ticks(lo: float, hi: float) -> None:
    ticks = figures.ReadableLogLocator().tick_values(lo, hi)
    inside = [t for t in ticks if lo <= t <= hi]
    assert len(inside) >= 3
    assert figures.time_text(2e-4) == "200 µs"
    assert figures.ms_text(1e-4) == "0.1 ms"
    assert figures.ms_text(2.5) == "2,500 ms"
