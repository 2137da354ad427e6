"""The vecstudy command: exit codes, one-line errors, and that it calls through."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import vecstudy
from vecstudy import cli
from vecstudy.records import results
from vecstudy.study import options as opt
from vecstudy.study import sweep

from tests.conftest import TINY_SWEEP

#: A sweep of a few milliseconds (two rounds).
TINY = [*TINY_SWEEP, "--repeats", "2"]


def one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err
    return err


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["bench", "--repeats", "0"], ["--repeats", "positive integer"]),
        (["bench", "--shapes", "10by20"], ["--shapes", "'10by20'"]),
        (["bench", "--backends", "cuda"], ["--backends", "valid backends"]),
        (["bench", "--bogus"], ["unrecognized arguments: --bogus (see 'vecstudy bench --help')"]),
        (["report", "missing.json"], ["no such file: missing.json"]),
        (["roofline", "--threads", "zero"], ["--threads"]),
        (["compare", "a.json", "b.json", "--factor", "0.5"], ["--factor", "at least 1"]),
        (["compare", "missing.json", "b.json"], ["no such file: missing.json"]),
        (["frobnicate"], ["invalid choice"]),
        ([], ["required"]),
    ],
)
def test_errors_are_one_line_and_exit_2(
    argv: list[str], needles: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == cli.EXIT_ERROR
    one_line_error(capsys, *needles)


def test_bad_config_file_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    Path("vecstudy.toml").write_text("[bench]\nshape = '1x1'\n")
    assert cli.main(["bench", *TINY]) == cli.EXIT_ERROR
    one_line_error(capsys, "vecstudy.toml", "'shape'", "valid keys")


def test_bench_then_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "res.json"
    assert cli.main(["bench", *TINY, "--output", str(out)]) == 0
    assert out.is_file()
    assert "rows" in capsys.readouterr().out
    assert cli.main(["bench", *TINY, "--output", str(out)]) == 0
    assert len(results.load_results(out).runs) == 2  # appended
    assert cli.main(["bench", *TINY, "--output", str(out), "--fresh"]) == 0
    assert len(results.load_results(out).runs) == 1
    assert cli.main(["report", str(out), "--output-dir", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "report.md").is_file()
    assert (tmp_path / "rep" / "time.png").is_file()


def test_interrupt_exits_130_with_rows_kept(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*_: Any, **__: Any) -> None:
        raise sweep.SweepInterrupted(Path("r.json"), rows_kept=7, total_rows=9)

    monkeypatch.setattr(sweep, "run_sweep", interrupted)
    assert cli.main(["bench", *TINY]) == cli.EXIT_INTERRUPTED
    one_line_error(capsys, "kept 7 rows", "report them: vecstudy report r.json")


def test_study_uses_builtin_grid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, Any] = {}

    def fake_sweep(options: opt.BenchOptions, **kwargs: Any) -> sweep.SweepResult:
        seen["options"], seen["kwargs"] = options, kwargs
        return sweep.SweepResult(options.output, "r", 0, 0, 0)

    def fake_report(path: Path, **kwargs: Any) -> Any:
        seen["report"] = (path, kwargs)
        return types.SimpleNamespace(markdown=Path(kwargs["output_dir"]) / "report.md")

    from vecstudy import report

    monkeypatch.setattr(sweep, "run_sweep", fake_sweep)
    monkeypatch.setattr(report, "write_report", fake_report)
    Path("vecstudy.toml").write_text("[bench]\nshapes = '1x1'\n")  # ignored by study
    assert cli.main(["study", "--output-dir", str(tmp_path / "s"), "--no-progress"]) == 0
    opts = seen["options"]
    assert opts.shapes == opt.parse_shapes(opt.STUDY_DEFAULTS["shapes"], "")
    assert opts.output == tmp_path / "s" / "study-results.json"
    assert seen["kwargs"] == {"progress": False, "append": False}
    assert seen["report"][1]["output_dir"] == tmp_path / "s"
    assert f"report: {tmp_path / 's' / 'report.md'}" in capsys.readouterr().out
    # without --output-dir: a new directory of its own under reports/runs/
    assert cli.main(["study", "--no-progress"]) == 0
    default = seen["options"].output
    assert default.parent.parent == Path("reports/runs")
    assert default.name == "study-results.json"


def test_roofline_calls_through(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: dict[str, Any] = {}
    fake = types.ModuleType("vecstudy.study.roofline")

    def measure_targets(*, threads: int | None, quick: bool) -> str:
        calls.update(threads=threads, quick=quick)
        return "df"

    fake.measure_targets = measure_targets  # type: ignore[attr-defined]
    fake.format_targets = lambda df: f"targets from {df}"  # type: ignore[attr-defined]
    for name in ("vecstudy.study.roofline", "vecstudy.report.roofline"):
        monkeypatch.setitem(sys.modules, name, fake)
        monkeypatch.setattr(name, fake, raising=False)
    assert cli.main(["roofline", "--threads", "1", "--quick"]) == 0
    assert calls == {"threads": 1, "quick": True}
    assert capsys.readouterr().out.strip() == "targets from df"


def test_roofline_output_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from vecstudy.report import roofline

    fake = types.ModuleType("vecstudy.study.roofline")
    fake.measure_targets = lambda *, threads, quick: "df"  # type: ignore[attr-defined]
    fake.format_targets = lambda df: "target  ratio\nstep    1.50"  # type: ignore[attr-defined]
    fake.to_markdown = roofline.to_markdown  # type: ignore[attr-defined]
    for name in ("vecstudy.study.roofline", "vecstudy.report.roofline"):
        monkeypatch.setitem(sys.modules, name, fake)
        monkeypatch.setattr(name, fake, raising=False)
    out = tmp_path / "r" / "roofline.md"
    assert cli.main(["roofline", "--quick", "--output", str(out)]) == 0
    text = out.read_text()
    assert "```text\ntarget  ratio\nstep    1.50\n```" in text
    assert f"`vecstudy roofline --quick --output {out}`" in text
    assert f"written to {out}" in capsys.readouterr().out


def test_info(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECSTUDY_BACKEND", "python")
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "backend in force: python (from environment variable VECSTUDY_BACKEND)" in out
    assert f"vecstudy {vecstudy.__version__}" in out
    assert "cpu:" in out


def test_info_reports_bad_config(capsys: pytest.CaptureFixture[str]) -> None:
    Path("vecstudy.toml").write_text('backend = "fortran"\n')
    assert cli.main(["info"]) == cli.EXIT_ERROR
    one_line_error(capsys, "fortran", "vecstudy.toml")


def test_python_dash_m(tmp_path: Path) -> None:
    src = str(Path(vecstudy.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "vecstudy", "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0
    for command in ("study", "bench", "report", "compare", "roofline", "info"):
        assert command in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "vecstudy", "bench", "--dtypes", "float16"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=tmp_path,
    )
    assert bad.returncode == cli.EXIT_ERROR
    assert bad.stderr.count("\n") == 1
    assert "--dtypes" in bad.stderr


def test_bench_help_shows_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for key in ("shapes", "repeats", "min_time", "budget", "iterations", "micro_size"):
        assert f"(default: {opt.DEFAULTS[key]})" in out, key


@pytest.mark.slow
def test_report_writes_beside_its_results_file(tmp_path: Path) -> None:
    out = tmp_path / "mine" / "res.json"
    assert cli.main(["bench", *TINY, "--output", str(out)]) == 0
    assert cli.main(["report", str(out)]) == 0
    assert (out.parent / "report.md").is_file()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"format": "vecstudy-bench-results/2", "runs": [3], "rows": []}', "runs[0] is a int"),
        ("[" * 100_000, "nests JSON"),
        ("[]", "holds a JSON list"),
    ],
)
def test_report_on_a_malformed_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, needle: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert cli.main(["report", str(path)]) == cli.EXIT_ERROR
    one_line_error(capsys, needle, str(path))


def _fake_results(path: Path, factor: float, run_id: str, rounds: int = 7) -> Path:
    rows = []
    for backend in ("numpy", "numba"):
        for k in range(rounds):
            row: dict[str, Any] = dict.fromkeys(results.COLUMNS)
            jitter = 1 + 0.01 * ((k * 3) % 7)
            seconds = 1e-3 * jitter * (factor if backend == "numba" else 1.0)
            row.update(
                run_id=run_id,
                kind="kernel",
                operation="propagate",
                backend=backend,
                dtype="float64",
                threads=1,
                n_x=10,
                m=1000,
                bytes_x=80000,
                round=k,
                order=0,
                seconds=seconds,
                loops=100,
                per_call=1,
                load=0.0,
                status="ok",
                reason="",
            )
            rows.append(row)
    run = {"run_id": run_id, "status": "complete", "machine": {"cpu": "Test CPU", "cores": 2}}
    path.write_text(json.dumps({"format": results.FORMAT, "runs": [run], "rows": rows}))
    return path


def test_compare_exit_status_is_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _fake_results(tmp_path / "base.json", 1.0, "b")
    same = _fake_results(tmp_path / "same.json", 1.0, "s")
    slow = _fake_results(tmp_path / "slow.json", 1.5, "w")
    out = tmp_path / "cmp"
    assert cli.main(["compare", str(base), str(same), "--output-dir", str(out)]) == 0
    assert "0 worse, 0 better, 2 unchanged" in capsys.readouterr().out
    assert cli.main(["compare", str(base), str(slow), "--output-dir", str(out)]) == 1
    text = capsys.readouterr().out
    assert "1 worse" in text
    assert "worse: propagate numba 10x1000" in text
    assert (out / "compare.md").is_file()
    assert (out / "compare.png").is_file()
    # slower by less than the factor: not a failure
    assert (
        cli.main(["compare", str(base), str(slow), "--factor", "2", "--output-dir", str(out)]) == 0
    )


def test_compare_warns_when_too_few_timings_can_never_be_significant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _fake_results(tmp_path / "base.json", 1.0, "b", rounds=3)
    slow = _fake_results(tmp_path / "slow.json", 3.0, "w", rounds=3)
    assert cli.main(["compare", str(base), str(slow), "--output-dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "2 case(s) have too few timings (as few as 3 and 3)" in err
    assert "--repeats 4 or more" in err
    assert "too few timings" in (tmp_path / "compare.md").read_text()
    base = _fake_results(tmp_path / "base.json", 1.0, "b", rounds=4)
    slow = _fake_results(tmp_path / "slow.json", 3.0, "w", rounds=4)
    assert cli.main(["compare", str(base), str(slow), "--output-dir", str(tmp_path)]) == 1
    assert "too few" not in capsys.readouterr().err


def test_compare_warns_when_machines_differ(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _fake_results(tmp_path / "base.json", 1.0, "b")
    other = _fake_results(tmp_path / "other.json", 1.0, "o")
    doc = json.loads(other.read_text())
    doc["runs"][0]["machine"]["cpu"] = "Another CPU"
    other.write_text(json.dumps(doc))
    assert cli.main(["compare", str(base), str(other), "--output-dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "warning" in err
    assert "'Test CPU' != 'Another CPU'" in err


@pytest.mark.slow
def test_ctrl_c_during_bench_exits_130_and_marks_the_run(tmp_path: Path) -> None:
    import signal
    import time

    out = tmp_path / "r.json"
    src = str(Path(vecstudy.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vecstudy", "bench", "--shapes", "10x1000", "--backends",
         "numpy", "--dtypes", "float64", "--threads", "1", "--repeats", "100000", "--budget", "1e9",
         "--min-time", "0.01", "--no-micro", "--no-progress", "--output", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if out.is_file() and results.load_results(out).rows.shape[0] > 0:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # never leave the sweep running
            proc.kill()
            proc.wait()
    assert proc.returncode == cli.EXIT_INTERRUPTED, err
    assert "interrupted" in err
    res = results.load_results(out)
    assert res.runs[0]["status"] == "interrupted"
    assert len(res.rows) > 0


def test_report_never_writes_over_the_reference_report_unless_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = tmp_path / "reports"
    ref.mkdir()
    results_file = _fake_results(ref / "study-results.json", 1.0, "r")
    (ref / "report.md").write_text("# vecstudy speed study\n\n> Reference report from a machine.\n")
    assert cli.main(["report", str(results_file)]) == cli.EXIT_ERROR
    one_line_error(capsys, "is the committed reference report", "--output-dir")
    assert (ref / "report.md").read_text().endswith("> Reference report from a machine.\n")
    assert sorted(p.name for p in ref.iterdir()) == ["report.md", "study-results.json"]
    # asked for explicitly: regenerated there
    argv = ["report", str(results_file), "--output-dir", str(ref), "--note", "Reference report x"]
    assert cli.main(argv) == 0
    assert "> Reference report x" in (ref / "report.md").read_text()


def test_a_reader_that_leaves_early_gets_no_error(tmp_path: Path) -> None:
    """``vecstudy info | head -1``: a closed pipe ends the command quietly (status 141)."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has left before anything is written
    src = str(Path(vecstudy.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "vecstudy", "info"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == cli.EXIT_BROKEN_PIPE, proc.stderr
    assert proc.stderr == ""


@pytest.mark.parametrize(
    "argv",
    [["study"], ["report", "r.json"], ["compare", "a.json", "b.json"], ["train", "--example"]],
)
def test_output_dir_that_is_a_file_is_refused_before_any_work(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
) -> None:
    def no_work(*_: Any, **__: Any) -> None:
        raise AssertionError("work started")

    monkeypatch.setattr(sweep, "run_sweep", no_work)
    (tmp_path / "afile").write_text("")
    for out in ("afile", "afile/sub"):
        assert cli.main([*argv, "--output-dir", str(tmp_path / out)]) == cli.EXIT_ERROR
        one_line_error(capsys, "--output-dir", "afile' is not a directory")


def test_two_studies_started_in_the_same_second_get_a_directory_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import datetime as dt

    frozen = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

    class _Frozen(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            return frozen

    monkeypatch.setattr(dt, "datetime", _Frozen)
    first, second = cli._default_run_dir(), cli._default_run_dir()
    assert first != second
    assert first.name == "20260102-030405"
    assert second.name == "20260102-030405-2"
    assert first.is_dir()
    assert second.is_dir()
