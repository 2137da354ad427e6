"""Messages built from values in files and variables are short, whatever the values are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vecstudy import auto, cli, config
from vecstudy.records import machine, results
from vecstudy.study import options as opt

from tests.conftest import make_row

HUGE = "x" * 100_000


def _write(path: Path, rows: list[dict[str, Any]], fmt: str = results.FORMAT) -> Path:
    here = machine.machine_info()
    run = {"run_id": "r1", "machine": {"cpu": here["cpu"], "cores": here["cores"]}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": fmt, "runs": [run], "rows": rows}))
    return path


@pytest.mark.parametrize(
    ("rows", "fmt", "needle"),
    [
        ([make_row(status=HUGE)], results.FORMAT, "has status 'xxx"),
        ([make_row(backend=[HUGE])], results.FORMAT, "has backend ['xxx"),
        ([make_row(n_x=HUGE)], results.FORMAT, "has n_x 'xxx"),
        ([make_row(run_id=HUGE)], results.FORMAT, "has run_id 'xxx"),
        ([make_row(seconds=HUGE)], results.FORMAT, "has seconds 'xxx"),
        ([{**make_row(), **{f"{HUGE}{i}": 1 for i in range(50)}}], results.FORMAT, "47 more"),
        ([make_row()], HUGE, "has format 'xxx"),
    ],
)
def test_results_file_errors_are_bounded(
    tmp_path: Path, rows: list[dict[str, Any]], fmt: str, needle: str
) -> None:
    path = _write(tmp_path / "r.json", rows, fmt)
    with pytest.raises(results.ResultsFileError) as info:
        results.load_results(path)
    text = str(info.value)
    assert needle in text
    assert len(text) < 600
    assert "\n" not in text


def test_auto_warning_about_a_bad_file_is_bounded() -> None:
    _write(Path("reports/bench-results.json"), [make_row(status=HUGE + "\n# x")])
    with pytest.warns(auto.ResultsFileWarning) as record:
        auto.choose_backend(2, 3)
    assert len(str(record[0].message)) < 600


@pytest.mark.parametrize(
    ("key", "value"),
    [("shapes", HUGE), ("backends", [HUGE]), ("repeats", HUGE), ("min_time", HUGE)],
)
def test_bench_option_errors_are_bounded(key: str, value: object) -> None:
    with pytest.raises(opt.BenchOptionError) as info:
        opt.resolve_options({key: value}, use_file=False)
    assert len(str(info.value)) < 300
    assert "..." in str(info.value)


def test_unknown_bench_key_is_bounded() -> None:
    Path("vecstudy.toml").write_text(f'[bench]\n"{HUGE}" = 1\n')
    with pytest.raises(opt.BenchOptionError) as info:
        opt.resolve_options()
    assert len(str(info.value)) < 500


@pytest.mark.parametrize(
    "content",
    [
        f'relayout_max_mb = "{HUGE}"\n',
        f'[dask]\nchunk = "{HUGE}"\n',
        f'[dask]\naddress = ["{HUGE}"]\n',
        f'[dask]\n"{HUGE}" = 1\n',
        f'"{HUGE}" = 1\n',
    ],
)
def test_config_errors_are_bounded(content: str) -> None:
    Path("vecstudy.toml").write_text(content)
    with pytest.raises(config.ConfigError) as info:
        config.check_settings()
    assert len(str(info.value)) < 500


def test_machine_differences_are_bounded() -> None:
    diffs = machine.machine_differences({"cpu": HUGE, "env": {HUGE: HUGE}}, {"cpu": "a"})
    assert len(diffs) == 2
    assert all(len(d) < 200 for d in diffs)


def test_command_line_errors_are_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "r.json", [make_row(status="\n".join([HUGE] * 3))])
    assert cli.main(["report", str(path), "--output-dir", str(tmp_path)]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert len(err) < 600
