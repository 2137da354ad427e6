"""The sweep: rows, budget skips, interrupt safety, atomic writes, option validation."""

from __future__ import annotations

import json
import os
import timeit
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vecstudy import bench

FAST: dict[str, object] = {
    "shapes": "4x50,8x100",
    "backends": "python,numpy",
    "dtypes": "float64,float32",
    "threads": "1",
    "repeats": 2,
    "min_time": 0.001,
    "budget": 5,
    "iterations": 2,
    "micro": True,
    "micro_size": 2000,
}


def options(tmp_path: Path, **changes: object) -> bench.BenchOptions:
    values = {**FAST, "output": str(tmp_path / "results.json"), **changes}
    return bench.resolve_options(values, use_file=False)


def leftovers(directory: Path) -> list[str]:
    """Temporary files an atomic write might have left behind."""
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_sweep_rows(tmp_path: Path) -> None:
    opts = options(tmp_path)
    result = bench.run_sweep(opts, progress=False)
    res = bench.load_results(result.path)
    rows = res.rows
    assert tuple(rows.columns) == bench.COLUMNS
    assert len(rows) == result.rows == result.total_rows
    ok = rows[rows["status"] == "ok"]
    assert (ok["seconds"] > 0).all()
    assert (ok["loops"] >= 1).all()
    assert (ok["warmup_s"] > 0).all()
    itemsize = ok["dtype"].map(lambda d: np.dtype(d).itemsize)
    assert (ok["bytes_x"] == ok["n_x"] * ok["m"] * itemsize).all()
    # every kernel of both backends, on both shapes and dtypes, timed `repeats` times
    kern = ok[ok["kind"] == "kernel"]
    counts = kern.groupby(["operation", "backend", "n_x", "m", "dtype"]).size()
    assert len(counts) == 2 * 2 * 2 * 2
    assert (counts == opts.repeats).all()
    assert sorted(kern.groupby("repeat").size().index) == [0, 1]
    # read bandwidth for each shape and dtype, micro-studies for loop and numpy
    assert len(ok[ok["kind"] == "bandwidth"].groupby(["n_x", "m", "dtype"])) == 4
    micro = rows[rows["kind"] == "micro"]
    assert set(micro[micro["status"] == "ok"]["backend"]) >= {"python", "numpy"}
    assert set(micro["operation"]) == {"dot", "exp"}
    # the numba micro-studies are either timed or recorded as skipped, never missing
    assert set(micro["backend"]) == {"python", "numpy", "numba"}
    run = res.runs[0]
    assert run["status"] == "complete"
    assert run["rows"] == len(rows)
    for key in (
        "cpu",
        "cores",
        "python",
        "numpy",
        "numba",
        "os",
        "timestamp",
        "vecstudy",
        "threads",
    ):
        assert key in run["machine"]
    assert run["command"].startswith("vecstudy bench --shapes 4x50,8x100")
    assert not leftovers(tmp_path)


def test_slow_python_case_is_skipped_and_recorded(tmp_path: Path) -> None:
    opts = options(tmp_path, shapes="500x5000", dtypes="float64", budget=0.5, micro=False)
    bench.run_sweep(opts, progress=False)
    rows = bench.load_results(opts.output).rows
    kern = rows[rows["kind"] == "kernel"]
    python = kern[kern["backend"] == "python"]
    assert set(python["operation"]) == {"propagate", "optimize"}
    assert (python["status"] == "skipped").all()
    assert python["seconds"].isna().all()
    assert python["reason"].str.contains("budget 0.5 s").all()
    numpy_rows = kern[kern["backend"] == "numpy"]
    assert (numpy_rows["status"] == "ok").all()


def test_python_timed_once_across_thread_settings(tmp_path: Path) -> None:
    opts = options(tmp_path, shapes="4x50", dtypes="float64", threads="1,2", micro=False)
    bench.run_sweep(opts, progress=False)
    rows = bench.load_results(opts.output).rows
    kern = rows[rows["kind"] == "kernel"]
    assert set(kern[kern["backend"] == "python"]["threads"]) == {1}
    assert set(kern[kern["backend"] == "numpy"]["threads"]) == {1, 2}


def test_interrupt_keeps_finished_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = bench._measure

    def flaky(*args: Any, **kwargs: Any) -> tuple[list[float], int]:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(bench, "_measure", flaky)
    opts = options(tmp_path)
    with pytest.raises(bench.SweepInterrupted) as info:
        bench.run_sweep(opts, progress=False)
    assert info.value.rows_kept == 3 * opts.repeats  # three finished cases
    res = bench.load_results(opts.output)  # a complete, valid file
    assert len(res.rows) == info.value.rows_kept == info.value.total_rows
    assert (res.rows["status"] == "ok").all()
    assert res.runs[0]["status"] == "interrupted"
    assert not leftovers(tmp_path)


def test_append_to_existing_results(tmp_path: Path) -> None:
    opts = options(tmp_path, shapes="4x50", dtypes="float64", micro=False)
    first = bench.run_sweep(opts, progress=False)
    second = bench.run_sweep(opts, progress=False)
    res = bench.load_results(opts.output)
    assert len(res.runs) == 2
    assert len(res.rows) == first.rows + second.rows == second.total_rows
    assert set(res.rows["run_id"]) == {first.run_id, second.run_id}
    fresh = bench.run_sweep(opts, progress=False, append=False)
    assert bench.load_results(opts.output).rows.shape[0] == fresh.rows


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"format": "something else"}', "format"),
        (json.dumps({"format": bench.FORMAT, "runs": [], "rows": [{"a": 1}]}), "columns"),
    ],
)
def test_refuses_to_append_to_a_foreign_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "results.json"
    path.write_text(content)
    opts = options(tmp_path, shapes="4x50", micro=False)
    with pytest.raises(ValueError, match=message):
        bench.run_sweep(opts, progress=False)
    assert path.read_text() == content


def test_atomic_write_leaves_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.json"
    bench.atomic_write_text(path, "old")

    def boom(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        bench.atomic_write_text(path, "new, but never complete")
    assert path.read_text() == "old"
    assert not leftovers(tmp_path)
    monkeypatch.undo()
    bench.atomic_write_text(path, "new")
    assert path.read_text() == "new"


def test_atomic_write_gives_the_usual_file_mode(tmp_path: Path) -> None:
    """Not mkstemp's private 0600: reports are for reading (and serving)."""
    umask = os.umask(0o022)
    try:
        bench.atomic_write_text(tmp_path / "r.md", "x")
    finally:
        os.umask(umask)
    assert (tmp_path / "r.md").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("shapes", "10", "--shapes"),
        ("shapes", "0x5", "--shapes"),
        ("shapes", "axb", "--shapes"),
        ("backends", "fortran", "--backends"),
        ("dtypes", "float16", "--dtypes"),
        ("threads", "0", "--threads"),
        ("threads", "two", "--threads"),
        ("repeats", "0", "--repeats"),
        ("min_time", "-1", "--min-time"),
        ("budget", "nan", "--budget"),
        ("iterations", "1.5", "--iterations"),
        ("micro", "maybe", "--micro"),
        ("micro_size", "-3", "--micro-size"),
        ("output", " ", "--output"),
    ],
)
def test_bad_option_names_the_option(key: str, value: object, expected: str) -> None:
    with pytest.raises(bench.BenchOptionError) as info:
        bench.resolve_options({key: value}, use_file=False)
    assert f"option {expected}:" in str(info.value)
    assert repr(value) in str(info.value)


def test_unknown_backend_lists_valid_ones() -> None:
    with pytest.raises(bench.BenchOptionError, match="valid backends are 'python', 'numba'"):
        bench.parse_backends("python,cuda", "option --backends")


def test_parsers() -> None:
    assert bench.parse_shapes("10x1000, 100X10", "s") == ((10, 1000), (100, 10))
    assert bench.parse_shapes([[2, 3], "2x3"], "s") == ((2, 3),)
    assert bench.parse_threads("1,all", "t") == tuple(dict.fromkeys((1, bench.all_cores())))
    assert bench.parse_threads(3, "t") == (3,)
    assert bench.parse_backends("all", "b") == bench.backends.available_backends()


def test_config_file_bench_table(tmp_path: Path) -> None:
    Path("vecstudy.toml").write_text('[bench]\nshapes = ["3x30"]\nrepeats = 4\nthreads = [1]\n')
    opts = bench.resolve_options({"repeats": "2"})
    assert opts.shapes == ((3, 30),)
    assert opts.repeats == 2  # the command line wins
    assert opts.threads == (1,)
    assert "vecstudy.toml" in opts.sources["shapes"]
    assert opts.sources["repeats"] == "option --repeats"
    assert opts.sources["budget"] == "default --budget"


def test_config_file_unknown_key(tmp_path: Path) -> None:
    Path("vecstudy.toml").write_text("[bench]\nrepeat = 3\n")
    with pytest.raises(bench.BenchOptionError) as info:
        bench.resolve_options({})
    text = str(info.value)
    assert "vecstudy.toml" in text
    assert "'repeat'" in text
    assert "valid keys are shapes, backends" in text


def test_config_file_bad_value_names_file_and_key() -> None:
    Path("pyproject.toml").write_text('[tool.vecstudy.bench]\ndtypes = ["float16"]\n')
    with pytest.raises(bench.BenchOptionError, match=r"pyproject.toml, key 'dtypes' of \[tool"):
        bench.resolve_options({})


def test_command_reproduces_the_options(tmp_path: Path) -> None:
    import shlex

    from vecstudy import cli

    opts = options(tmp_path, micro=False)
    argv = shlex.split(opts.command())[1:]
    args = cli._build_parser().parse_args(argv)
    again = bench.resolve_options({k: getattr(args, k) for k in bench.VALID_KEYS}, use_file=False)
    assert again == opts


class FakeTimer(timeit.Timer):
    """A timer whose calls take 10 ms each, without waiting."""

    def __init__(self) -> None:
        super().__init__("pass")

    def timeit(self, number: int = 1) -> float:
        return 0.01 * number


@pytest.mark.parametrize(("min_time", "loops"), [(0.001, 1), (0.015, 2), (0.05, 5), (0.2, 20)])
def test_autorange(min_time: float, loops: int) -> None:
    assert bench.autorange(FakeTimer(), min_time) == loops


def test_make_data_is_seeded_and_contiguous() -> None:
    w, b, X, Y = bench.make_data(5, 40, "float32")
    _, _, X2, Y2 = bench.make_data(5, 40, "float32")
    assert X.flags.c_contiguous
    assert X.dtype == Y.dtype == w.dtype == np.float32
    assert X.shape == (5, 40)
    assert Y.shape == (40,)
    assert set(np.unique(Y)) <= {0.0, 1.0}
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y, Y2)
    assert b == 0.0
    assert not w.any()


def test_micro_study_functions_agree() -> None:
    rng = np.random.default_rng(1)
    a, c = rng.random(300), rng.random(300)
    assert bench.dot_loop_python(a, c) == pytest.approx(bench.dot_numpy(a, c))
    np.testing.assert_allclose(bench.exp_loop_python(a), bench.exp_numpy(a))
    assert bench.read_numpy(a) == pytest.approx(a.sum())
