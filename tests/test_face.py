"""The study's Python face: compare_backends, vecstudy.study(), StudyResult."""

from __future__ import annotations

import inspect
import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure

import vecstudy
from vecstudy import api, cli
from vecstudy.report import result_table
from vecstudy.runtime import announce
from vecstudy.study import face, progress, sweep, view
from vecstudy.study.options import BenchOptionError

FAST: dict[str, Any] = {"repeats": 3, "min_time": 0.001, "iterations": 2, "progress": False}


def data(n_x: int, m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n_x, m))
    Y = (rng.random((1, m)) < 0.5).astype(float)
    return X, Y


def visible(directory: Path) -> list[str]:
    """File names in ``directory``, lock files (``.NAME.lock``) left out."""
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))


@pytest.fixture
def no_figures(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """``write_report`` writes report.md only (figures take seconds each on a busy machine)."""
    from vecstudy import report

    real = report.write_report
    calls: list[Path] = []

    def fast(path: Any, **kwargs: Any) -> Any:
        calls.append(Path(path))
        return real(path, **kwargs, formats=())

    monkeypatch.setattr(report, "write_report", fast)
    return calls


@pytest.fixture(scope="module")
def small() -> view.StudyResult:
    """Python loop and NumPy on a tiny X: both measured."""
    X, Y = data(6, 40)
    return vecstudy.compare_backends(X, Y, backends=["python", "numpy"], budget=5, **FAST)


def test_frame_has_one_row_per_backend_and_operation(small: view.StudyResult) -> None:
    frame = small.frame
    assert tuple(frame.columns) == view.FRAME_COLUMNS
    assert sorted(zip(frame["backend"], frame["operation"], strict=True)) == [
        ("numpy", "optimize"),
        ("numpy", "propagate"),
        ("python", "optimize"),
        ("python", "propagate"),
    ]
    assert set(frame["shape"]) == {"6x40"}
    assert set(frame["dtype"]) == {"float64"}
    assert set(frame["threads"]) == {1}
    assert set(frame["status"]) == {"measured"}
    assert (frame["n"] == 3).all()
    assert (frame["seconds"] > 0).all()
    assert (frame["seconds_lo"] <= frame["seconds"]).all()
    assert (frame["seconds"] <= frame["seconds_hi"]).all()
    numpy_rows = frame[frame["backend"] == "numpy"]
    assert (numpy_rows["vs_numpy"] == 1.0).all()
    python_rows = frame[frame["backend"] == "python"]
    assert (python_rows["vs_python"] == 1.0).all()
    # the speedup of NumPy over the loop is the ratio of the two medians
    for op in ("propagate", "optimize"):
        loop = frame[(frame["backend"] == "python") & (frame["operation"] == op)].iloc[0]
        vec = frame[(frame["backend"] == "numpy") & (frame["operation"] == op)].iloc[0]
        assert vec["vs_python"] == pytest.approx(loop["seconds"] / vec["seconds"])
    # raw timings: the read probe too, every round of every case
    assert set(small.rows["kind"]) == {"kernel", "bandwidth"}
    assert len(small.rows[small.rows["kind"] == "kernel"]) == 4 * 3


def test_repr_is_a_small_text_table(small: view.StudyResult) -> None:
    text = repr(small)
    lines = text.splitlines()
    assert lines[0].startswith("compare_backends, X 6x40, float64, 1 thread, 3 interleaved")
    assert "Python loop" in text
    assert "NumPy" in text
    assert "gradient step (propagate)" in text
    assert "optimize, per iteration" in text
    assert "StudyResult(" not in text
    assert len(lines) < 12


def test_html_is_an_escaped_table(small: view.StudyResult) -> None:
    page = small._repr_html_()
    assert page.startswith("<div>")
    assert "<table" in page
    assert page.count("<tr") == 1 + 4  # header and one row per case
    # a note from a results file is data: escaped
    hostile = view.StudyResult(
        small.path,
        kind="compare",
        shapes=small.shapes,
        run_id=small.run_id,
        title="<script>alert(1)</script>",
    )
    frame = small.frame.copy()
    frame.loc[0, ["status", "note"]] = ["skipped", "<b>boom</b>"]
    hostile.__dict__["frame"] = frame
    page = hostile._repr_html_()
    assert "<script>" not in page
    assert "<b>boom</b>" not in page
    assert "&lt;b&gt;boom&lt;/b&gt;" in page
    assert "&lt;script&gt;" in page


def test_plot_is_a_labelled_log_bar_chart(small: view.StudyResult) -> None:
    fig = small.plot()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert "milliseconds" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "one gradient step\n(propagate)",
        "one optimize\niteration",
    ]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Python loop" in legend
    assert "NumPy" in legend
    bars = [p for p in ax.patches if p.get_height() > 0]
    assert len(bars) == 4
    heights = sorted(p.get_height() for p in bars)
    expected = sorted(small.frame["seconds"] * 1e3)
    assert heights == pytest.approx(expected)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue().startswith(b"\x89PNG")


def test_save_writes_results_and_report(
    small: view.StudyResult, tmp_path: Path, no_figures: list[Path]
) -> None:
    files = small.save(tmp_path / "out")
    assert no_figures == [tmp_path / "out" / "study-results.json"]
    assert visible(tmp_path / "out") == ["report.md", "study-results.json"]
    assert small.report == files
    saved = json.loads((tmp_path / "out" / "study-results.json").read_text())
    assert saved == json.loads(small.path.read_text())
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "report.md").write_text("# vecstudy\n\n> Reference report from a box.\n")
    with pytest.raises(ValueError, match="committed reference report"):
        small.save(tmp_path / "ref")
    (tmp_path / "afile").write_text("")
    with pytest.raises(ValueError, match="is not a directory"):
        small.save(tmp_path / "afile" / "sub")


@pytest.mark.slow
def test_save_writes_what_the_cli_writes(small: view.StudyResult, tmp_path: Path) -> None:
    files = small.save(tmp_path / "mine")
    saved = visible(tmp_path / "mine")
    assert files.markdown == tmp_path / "mine" / "report.md"
    assert "study-results.json" in saved
    assert "time.png" in saved
    assert not [n for n in saved if n.endswith(".tmp")]
    text = files.markdown.read_text(encoding="utf-8")
    assert "compare_backends on the caller's own X (6x40)" in text
    # the CLI's report of the same results file writes the same files
    out = tmp_path / "cli"
    assert (
        cli.main(
            ["report", str(tmp_path / "mine" / "study-results.json"), "--output-dir", str(out)]
        )
        == 0
    )
    assert sorted([*visible(out), "study-results.json"]) == saved


def test_study_files_match_the_cli(tmp_path: Path, no_figures: list[Path]) -> None:
    grid = {
        "shapes": "4x40",
        "backends": "numpy",
        "dtypes": "float64",
        "threads": 1,
        "micro": False,
    }
    direct = vecstudy.study(**grid, **FAST, output_dir=tmp_path / "direct")
    assert direct.kind == "study"
    assert direct.report is not None
    written = visible(tmp_path / "direct")
    assert written == ["report.md", "study-results.json"]
    later = vecstudy.study(**grid, **FAST)  # no output_dir: nothing written until save
    assert later.report is None
    later.save(tmp_path / "saved")
    assert visible(tmp_path / "saved") == written
    assert isinstance(later.plot(), Figure)  # the report's time figure
    assert set(later.frame["backend"]) == {"numpy"}
    assert repr(later).startswith("vecstudy study, X 4x40, float64, 1 thread")


def test_cli_study_calls_the_same_function(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_figures: list[Path],
) -> None:
    seen: dict[str, Any] = {}
    real = face.study

    def spy(**kwargs: Any) -> Any:
        seen.update(kwargs)
        return real(
            shapes="4x40",
            backends="numpy",
            dtypes="float64",
            threads=1,
            micro=False,
            repeats=2,
            min_time=0.001,
            iterations=2,
            **kwargs,
        )

    monkeypatch.setattr(face, "study", spy)
    assert cli.main(["study", "--output-dir", str(tmp_path / "s"), "--no-progress"]) == 0
    assert seen == {"output_dir": tmp_path / "s", "asv_dir": None, "progress": False}
    out = capsys.readouterr().out
    assert f"report: {tmp_path / 's' / 'report.md'}" in out
    assert (tmp_path / "s" / "study-results.json").is_file()


def test_study_is_the_package_and_callable() -> None:
    import vecstudy.study.sweep as imported

    assert imported is sweep
    assert callable(vecstudy.study)
    assert "shapes" in inspect.signature(vecstudy.study).parameters
    assert vecstudy.study.options.STUDY_DEFAULTS["repeats"] == 7
    with pytest.raises(BenchOptionError, match=r"argument shapes=: bad shape '10by20'"):
        vecstudy.study(shapes="10by20")


def test_slow_loop_is_estimated_from_fewer_columns() -> None:
    X, Y = data(100, 4000)
    r = vecstudy.compare_backends(X, Y, backends=["python", "numpy"], budget=0.2, **FAST)
    loop = r.frame[r.frame["backend"] == "python"]
    assert set(loop["status"]) == {"estimated"}
    assert all("estimated" in f for f in loop["flags"])
    assert all(n.startswith("estimated: timed on X 100x") for n in loop["note"])
    vec = r.frame[r.frame["backend"] == "numpy"]
    assert all("estimated" in f for f in vec["flags"])
    assert np.isfinite(vec["vs_python"]).all()
    assert set(r.frame["shape"]) == {"100x4000"}  # the smaller X is in .rows only
    timed = r.rows[(r.rows["backend"] == "python") & (r.rows["status"] == "ok")]
    assert (timed["m"] < 4000).all()
    assert not timed.empty
    assert "~" in repr(r)
    assert result_table.ESTIMATE_FOOTNOTE in repr(r)
    hatched = [p for p in r.plot().axes[0].patches if p.get_hatch() == "//"]
    assert len(hatched) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"X": np.ones(5)}, r"X must be 2-D"),
        ({"Y": np.ones((1, 7))}, r"Y has 7 samples but X has 10"),
        ({"Y": np.full((1, 10), 2.0)}, r"Y must hold labels 0 and 1"),
        ({"backends": "cuda"}, r"argument backends=: unknown backend 'cuda'"),
        ({"backends": []}, r"argument backends=: expected at least one value"),
        ({"threads": 0}, r"argument threads=: bad thread count"),
        ({"dtype": "float16"}, r"argument dtype=: unknown dtype 'float16'"),
        ({"repeats": 0}, r"argument repeats=: expected a positive integer"),
        ({"budget": -1.0}, r"argument budget=: expected a positive number"),
    ],
)
def test_bad_input_names_the_argument(kwargs: dict[str, Any], message: str) -> None:
    X, Y = data(3, 10)
    args = {"X": X, "Y": Y, **kwargs}
    with pytest.raises(ValueError, match=message):
        vecstudy.compare_backends(args.pop("X"), args.pop("Y"), progress=False, **args)


def test_progress_must_be_a_bool() -> None:
    X, Y = data(3, 10)
    with pytest.raises(TypeError, match="progress must be True or False"):
        vecstudy.compare_backends(X, Y, progress="yes")  # type: ignore[arg-type]


def test_unloadable_backend_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from vecstudy import backends

    def fail(name: str) -> Any:
        raise backends.BackendUnavailable(f"backend {name!r} needs dask, which is not installed")

    monkeypatch.setattr(backends, "load", fail)
    X, Y = data(3, 10)
    with pytest.raises(ImportError, match=r"argument backends=: backend 'dask' needs dask"):
        vecstudy.compare_backends(X, Y, backends=["dask"], progress=False)


def test_default_backends_leave_dask_out() -> None:
    names = face._default_backends()
    assert "dask" not in names
    assert {"python", "numpy"} <= set(names)


def test_dtype_follows_the_course_functions() -> None:
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, size=(4, 30), dtype=np.uint8)
    Y = (rng.random((1, 30)) < 0.5).astype(np.int64)
    r = vecstudy.compare_backends(X, Y, backends="numpy", **FAST)
    assert set(r.frame["dtype"]) == {"float64"}  # as vecstudy.propagate would use
    r32 = vecstudy.compare_backends(X / 255, Y, backends="numpy", dtype=np.float32, **FAST)
    assert set(r32.frame["dtype"]) == {"float32"}


def test_ctrl_c_keeps_finished_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = sweep.time_round

    def interrupt_late(call: Any, loops: int) -> float:
        calls["n"] += 1
        if calls["n"] > 4:  # the first round of 3 cases, then one more
            raise KeyboardInterrupt
        return real(call, loops)

    monkeypatch.setattr(sweep, "time_round", interrupt_late)
    X, Y = data(4, 20)
    with pytest.raises(face.StudyInterrupted) as info:
        vecstudy.compare_backends(X, Y, backends="numpy", **FAST)
    assert isinstance(info.value, KeyboardInterrupt)
    kept = info.value.result
    assert kept.status == "interrupted"
    assert info.value.rows_kept == 4
    assert len(kept.rows[kept.rows["status"] == "ok"]) == 4
    assert set(kept.frame["operation"]) == {"propagate", "optimize"}
    assert "run interrupted" in repr(kept)
    assert ".result holds them" in str(info.value)


def test_compile_notice_is_shown_when_nothing_else_would(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logging.getLogger("vecstudy")
    level = log.level
    monkeypatch.setattr(log, "hasHandlers", lambda: False)  # logging not configured
    with face.show_notices():
        log.info("compiling...")
        log.debug("not shown")
    assert capsys.readouterr().err == "vecstudy: compiling...\n"
    assert log.level == level
    with face.show_notices(enabled=False):
        log.info("quiet")
    assert capsys.readouterr().err == ""


def test_compile_notice_prints_in_a_kernel(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(announce, "_numba_seen", set())
    monkeypatch.setattr(announce, "_in_kernel", lambda: True)
    api.announce_compile("numba", "propagate", np.ones((2, 3)))
    assert capsys.readouterr().err.startswith(
        "vecstudy: compiling or loading cached numba kernels for propagate, float64"
    )
    api.announce_compile("numba", "propagate", np.ones((2, 3)))  # once per kernel and dtype
    assert capsys.readouterr().err == ""


def test_progress_bar_is_tqdm_auto(capsys: pytest.CaptureFixture[str]) -> None:
    from tqdm.std import tqdm as std_tqdm

    bar_class = progress.progress_class()
    assert issubclass(bar_class, std_tqdm)  # text outside a notebook
    bar = progress.progress_bar(3, enabled=True)
    bar.update(2)
    progress.grow(bar, 4)
    assert (bar.n, bar.total) == (2, 7)
    bar.close()
    assert "2/7" in capsys.readouterr().err


def test_choice_reads_as_words_in_ipython() -> None:
    pretty = pytest.importorskip("IPython.lib.pretty")
    choice = vecstudy.get_backend()
    assert pretty.pretty(choice) == "numpy (from default)"
    assert repr(choice) == "Choice(value='numpy', source='default')"  # repr unchanged
