"""The sweep: rows in interleaved rounds, budget skips, interrupt safety, memory, options."""

from __future__ import annotations

import dataclasses
import json
import os
import timeit
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vecstudy import backends
from vecstudy.records import results
from vecstudy.runtime import timing
from vecstudy.runtime.cores import available_cores
from vecstudy.study import micro, sweep
from vecstudy.study import options as opt

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


def options(tmp_path: Path, **changes: object) -> opt.BenchOptions:
    values = {**FAST, "output": str(tmp_path / "results.json"), **changes}
    return opt.resolve_options(values, use_file=False)


def leftovers(directory: Path) -> list[str]:
    """Temporary files an atomic write might have left behind."""
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_sweep_rows(tmp_path: Path) -> None:
    opts = options(tmp_path)
    result = sweep.run_sweep(opts, progress=False)
    res = results.load_results(result.path)
    rows = res.rows
    assert tuple(rows.columns) == results.COLUMNS
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
    assert sorted(kern.groupby("round").size().index) == [0, 1]
    # interleaved: within a group each round holds every case once, in rotated order
    group = ok[(ok["n_x"] == 4) & (ok["dtype"] == "float64") & (ok["kind"] != "micro")]
    for _, rnd in group.groupby("round"):
        assert sorted(rnd["order"]) == list(range(len(rnd)))
    first = group[group["round"] == 0].sort_values("order")["backend"].tolist()
    second = group[group["round"] == 1].sort_values("order")["backend"].tolist()
    assert second == first[1:] + first[:1]
    assert (ok["per_call"] == ok["operation"].map({"optimize": 2}).fillna(1)).all()
    assert ok["load"].notna().all()
    # read bandwidth for each shape and dtype, micro-studies for loop and numpy
    assert len(ok[ok["kind"] == "bandwidth"].groupby(["n_x", "m", "dtype"])) == 4
    micro = rows[rows["kind"] == "micro"]
    assert set(micro[micro["status"] == "ok"]["backend"]) >= {"python", "numpy"}
    assert set(micro["operation"]) == {"dot", "exp", "percent", "add_row"}
    # the broadcasting studies time (3, micro_size // 10) tables: 3 x 200 here
    tables = micro[micro["operation"].isin(["percent", "add_row"])]
    assert set(zip(tables["n_x"], tables["m"], strict=True)) == {(3, 200)}
    assert set(micro.loc[micro["operation"] == "dot", "m"]) == {2000}
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
        "governor",
        "affinity",
        "env",
        "blas_kernel",
    ):
        assert key in run["machine"]
    assert run["command"].startswith("vecstudy bench --shapes 4x50,8x100")
    assert not leftovers(tmp_path)


def test_slow_python_case_is_skipped_and_recorded(tmp_path: Path) -> None:
    opts = options(tmp_path, shapes="500x5000", dtypes="float64", budget=0.5, micro=False)
    sweep.run_sweep(opts, progress=False)
    rows = results.load_results(opts.output).rows
    kern = rows[rows["kind"] == "kernel"]
    python = kern[kern["backend"] == "python"]
    assert set(python["operation"]) == {"propagate", "optimize"}
    assert (python["status"] == "skipped").all()
    assert python["seconds"].isna().all()
    assert python["reason"].str.contains("budget 0.5 s").all()
    numpy_rows = kern[kern["backend"] == "numpy"]
    assert (numpy_rows["status"] == "ok").all()


def test_course_loops_get_the_longer_budget(tmp_path: Path) -> None:
    """The Python loops at 12288x209 and of the micro-studies are timed under --budget 5."""
    opts = options(tmp_path, shapes="4x50", dtypes="float64", budget=5.0, micro=False)
    sw = sweep.Sweep(opts, "run")
    course = sweep.Case("kernel", "propagate", "python", "float64", 1, *sweep.COURSE_SHAPE)
    assert sw._timing(course)["budget"] == sweep.COURSE_LOOP_BUDGET > 5.0
    for other in (
        dataclasses.replace(course, operation="optimize"),
        dataclasses.replace(course, backend="numpy"),
        dataclasses.replace(course, n_x=100, m=10000),
    ):
        assert sw._timing(other)["budget"] == 5.0
    assert sweep.Sweep(options(tmp_path, budget=60.0), "run")._timing(course)["budget"] == 60.0
    dot = sweep.Case("micro", "dot", "python", "float64", 1, 1, 1_000_000)
    assert sw._timing(dot)["budget"] == sweep.COURSE_LOOP_BUDGET
    assert sw._timing(dataclasses.replace(dot, backend="numpy"))["budget"] == 5.0


def test_python_timed_once_across_thread_settings(tmp_path: Path) -> None:
    opts = options(tmp_path, shapes="4x50", dtypes="float64", threads="1,2", micro=False)
    sweep.run_sweep(opts, progress=False)
    rows = results.load_results(opts.output).rows
    kern = rows[rows["kind"] == "kernel"]
    assert set(kern[kern["backend"] == "python"]["threads"]) == {1}
    assert set(kern[kern["backend"] == "numpy"]["threads"]) == {1, 2}


def test_interrupt_keeps_finished_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = sweep.time_round

    def flaky(*args: Any, **kwargs: Any) -> float:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep, "time_round", flaky)
    opts = options(tmp_path)
    with pytest.raises(sweep.SweepInterrupted) as info:
        sweep.run_sweep(opts, progress=False)
    assert info.value.rows_kept == 3  # three finished timings, none lost
    res = results.load_results(opts.output)  # a complete, valid file
    assert len(res.rows) == info.value.rows_kept == info.value.total_rows
    assert (res.rows["status"] == "ok").all()
    assert res.runs[0]["status"] == "interrupted"
    assert [r["run_id"] for r in res.incomplete()] == [res.runs[0]["run_id"]]
    assert not leftovers(tmp_path)


def test_append_to_existing_results(tmp_path: Path) -> None:
    opts = options(tmp_path, shapes="4x50", dtypes="float64", micro=False)
    first = sweep.run_sweep(opts, progress=False)
    second = sweep.run_sweep(opts, progress=False)
    res = results.load_results(opts.output)
    assert len(res.runs) == 2
    assert len(res.rows) == first.rows + second.rows == second.total_rows
    assert set(res.rows["run_id"]) == {first.run_id, second.run_id}
    fresh = sweep.run_sweep(opts, progress=False, append=False)
    assert results.load_results(opts.output).rows.shape[0] == fresh.rows


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"format": "something else"}', "format"),
        (
            json.dumps({"format": results.FORMAT, "runs": [{"run_id": "a"}], "rows": [{"a": 1}]}),
            "columns",
        ),
    ],
)
def test_refuses_to_append_to_a_foreign_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "results.json"
    path.write_text(content)
    opts = options(tmp_path, shapes="4x50", micro=False)
    with pytest.raises(ValueError, match=message):
        sweep.run_sweep(opts, progress=False)
    assert path.read_text() == content


def test_atomic_write_leaves_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.json"
    results.atomic_write_text(path, "old")

    def boom(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        results.atomic_write_text(path, "new, but never complete")
    assert path.read_text() == "old"
    assert not leftovers(tmp_path)
    monkeypatch.undo()
    results.atomic_write_text(path, "new")
    assert path.read_text() == "new"


def test_atomic_write_gives_the_usual_file_mode(tmp_path: Path) -> None:
    """Not mkstemp's private 0600: reports are for reading (and serving)."""
    umask = os.umask(0o022)
    try:
        results.atomic_write_text(tmp_path / "r.md", "x")
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
    with pytest.raises(opt.BenchOptionError) as info:
        opt.resolve_options({key: value}, use_file=False)
    assert f"option {expected}:" in str(info.value)
    assert repr(value) in str(info.value)


def test_unknown_backend_lists_valid_ones() -> None:
    with pytest.raises(opt.BenchOptionError, match="valid backends are 'python', 'numba'"):
        opt.parse_backends("python,cuda", "option --backends")


def test_parsers() -> None:
    assert opt.parse_shapes("10x1000, 100X10", "s") == ((10, 1000), (100, 10))
    assert opt.parse_shapes([[2, 3], "2x3"], "s") == ((2, 3),)
    assert opt.parse_threads("1,all", "t") == tuple(dict.fromkeys((1, available_cores())))
    assert opt.parse_threads(3, "t") == (3,)
    assert opt.parse_backends("all", "b") == backends.available_backends()


def test_config_file_bench_table(tmp_path: Path) -> None:
    Path("vecstudy.toml").write_text('[bench]\nshapes = ["3x30"]\nrepeats = 4\nthreads = [1]\n')
    opts = opt.resolve_options({"repeats": "2"})
    assert opts.shapes == ((3, 30),)
    assert opts.repeats == 2  # the command line wins
    assert opts.threads == (1,)
    assert "vecstudy.toml" in opts.sources["shapes"]
    assert opts.sources["repeats"] == "option --repeats"
    assert opts.sources["budget"] == "default --budget"


def test_config_file_unknown_key(tmp_path: Path) -> None:
    Path("vecstudy.toml").write_text("[bench]\nrepeat = 3\n")
    with pytest.raises(opt.BenchOptionError) as info:
        opt.resolve_options({})
    text = str(info.value)
    assert "vecstudy.toml" in text
    assert "'repeat'" in text
    assert "valid keys are shapes, backends" in text


def test_config_file_bad_value_names_file_and_key() -> None:
    Path("pyproject.toml").write_text('[tool.vecstudy.bench]\ndtypes = ["float16"]\n')
    with pytest.raises(opt.BenchOptionError, match=r"pyproject.toml, key 'dtypes' of \[tool"):
        opt.resolve_options({})


def test_command_reproduces_the_options(tmp_path: Path) -> None:
    import shlex

    from vecstudy import cli

    opts = options(tmp_path, micro=False)
    argv = shlex.split(opts.command())[1:]
    args = cli._build_parser().parse_args(argv)
    again = opt.resolve_options({k: getattr(args, k) for k in opt.VALID_KEYS}, use_file=False)
    assert again == opts


class FakeTimer(timeit.Timer):
    """A timer whose calls take 10 ms each, without waiting."""

    def __init__(self) -> None:
        super().__init__("pass")

    def timeit(self, number: int = 1) -> float:
        return 0.01 * number


@pytest.mark.parametrize(("min_time", "loops"), [(0.001, 1), (0.015, 2), (0.05, 5), (0.2, 20)])
def test_autorange(min_time: float, loops: int) -> None:
    assert timing.autorange(FakeTimer(), min_time) == loops


def test_make_data_is_seeded_and_contiguous() -> None:
    w, b, X, Y = sweep.make_data(5, 40, "float32")
    _, _, X2, Y2 = sweep.make_data(5, 40, "float32")
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
    assert micro.dot_loop_python(a, c) == pytest.approx(micro.dot_numpy(a, c))
    np.testing.assert_allclose(micro.exp_loop_python(a), micro.exp_numpy(a))
    assert micro.read_numpy(a) == pytest.approx(a.sum())


def test_broadcasting_studies_agree_with_the_course() -> None:
    # the course's calories table: apples, beef, eggs, potatoes (carb, protein, fat per 100 g)
    A = np.array([[56.0, 0.0, 4.4, 68.0], [1.2, 104.0, 52.0, 8.0], [1.8, 135.0, 99.0, 0.9]])
    want = 100 * A / A.sum(axis=0).reshape(1, 4)
    assert want[0, 0] == pytest.approx(94.91525424)  # the course's printed percentage
    np.testing.assert_allclose(micro.percent_loop_python(A), want, rtol=1e-15)
    np.testing.assert_array_equal(micro.percent_numpy(A), want)
    rng = np.random.default_rng(2)
    a, b = rng.random((3, 4)), rng.random((4, 1))  # the quiz's shapes
    c = np.zeros((3, 4))
    for i in range(3):
        for j in range(4):
            c[i][j] = a[i][j] + b[j][0]
    np.testing.assert_array_equal(micro.add_row_loop_python(a, b), c)
    np.testing.assert_array_equal(micro.add_row_numpy(a, b), c)
    assert micro.table_columns(1_000_000) == 100_000
    assert micro.table_columns(5) == 1


def test_numba_broadcasting_loops_agree() -> None:
    nb = pytest.importorskip("vecstudy.backends.numba")
    rng = np.random.default_rng(3)
    A, b = rng.random((3, 257)) + 0.1, rng.random((257, 1))
    np.testing.assert_allclose(nb.percent_loop(A), micro.percent_numpy(A), rtol=1e-14)
    np.testing.assert_array_equal(nb.add_row_loop(A, b), micro.add_row_numpy(A, b))
    A32 = A.astype(np.float32)
    assert nb.percent_loop(A32).dtype == np.float32


def test_budget_is_checked_before_any_full_call(tmp_path: Path) -> None:
    """--iterations 100000000 with --budget 2: skipped from a small estimate, in seconds."""
    import time

    opts = options(
        tmp_path,
        shapes="10x1000",
        dtypes="float64",
        backends="numpy",
        iterations=100_000_000,
        budget=2,
        micro=False,
    )
    t0 = time.perf_counter()
    sweep.run_sweep(opts, progress=False)
    elapsed = time.perf_counter() - t0
    rows = results.load_results(opts.output).rows
    opt_rows = rows[rows["operation"] == "optimize"]
    assert (opt_rows["status"] == "skipped").all()
    assert opt_rows["reason"].str.contains("from a smaller problem").all()
    # not a timed assert on the kernel: 1e8 iterations would take hours, not this test's span
    assert elapsed < 120


def test_shape_too_large_for_memory_is_refused_before_allocating(tmp_path: Path) -> None:
    opts = options(tmp_path, shapes="100000x100000", dtypes="float64,float32")
    with pytest.raises(opt.BenchOptionError, match=r"100000x100000 needs 126 GiB .* available"):
        sweep.check_memory(opts, available=16 * 2**30)
    sweep.check_memory(options(tmp_path, shapes="100x1000"), available=16 * 2**30)
    assert not (tmp_path / "results.json").exists()


def test_run_refuses_a_huge_shape_with_one_line(tmp_path: Path) -> None:
    from vecstudy import cli

    out = tmp_path / "r.json"
    code = cli.main(["bench", "--shapes", "1000000x1000000", "--output", str(out), "--no-progress"])
    assert code == 2
    assert not out.exists()


def test_float32_data_is_generated_as_float32() -> None:
    """Peak memory stays below what a float64 X (8 bytes an element) alone would need."""
    import tracemalloc

    n_x, m = 100, 20_000
    tracemalloc.start()
    try:
        _, _, X, _ = sweep.make_data(n_x, m, "float32")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert X.dtype == np.float32
    assert 4 * n_x * m <= peak < 6 * n_x * m


def test_rows_record_the_threads_in_force_after_the_warm_ups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads are read once the warm-ups have loaded every library (numba loads a BLAS)."""
    events: list[str] = []
    real_prepare = sweep.Sweep.prepare

    def prepare(self: sweep.Sweep, case: sweep.Case) -> Any:
        events.append("prepare")
        return real_prepare(self, case)

    def in_force() -> tuple[int, int]:
        events.append("read")
        return 7, 3

    monkeypatch.setattr(sweep.Sweep, "prepare", prepare)
    monkeypatch.setattr(sweep.machine, "threads_in_force", in_force)
    opts = options(tmp_path, shapes="4x50", dtypes="float64", threads="1", micro=False)
    sweep.run_sweep(opts, progress=False)
    rows = results.load_results(opts.output).rows
    assert (rows["blas_threads"] == 7).all()
    assert (rows["numba_threads"] == 3).all()
    # one group (read probe + 2 backends x 2 operations): every warm-up, then one reading
    assert events == ["prepare"] * 5 + ["read"]


def test_bench_and_study_share_timing_defaults() -> None:
    for key in opt.TIMING_DEFAULTS:
        assert opt.DEFAULTS[key] == opt.STUDY_DEFAULTS[key]


def test_sweep_says_when_numba_may_compile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The first numba case of a dtype may compile for seconds: one INFO line says so."""
    from vecstudy.runtime import announce

    if "numba" not in backends.available_backends():
        pytest.skip("numba is not installed")
    monkeypatch.setattr(announce, "_numba_seen", set())  # as in a fresh process
    opts = options(
        tmp_path, shapes="4x50", backends="numba", dtypes="float64", repeats=1, micro=False
    )
    with caplog.at_level("INFO", logger="vecstudy"):
        sweep.run_sweep(opts, progress=False)
    compiling = [r.getMessage() for r in caplog.records if "compiling" in r.getMessage()]
    assert any("for propagate, float64" in m for m in compiling), compiling
    assert any("for optimize, float64" in m for m in compiling), compiling
    assert any("for read_sum, float64" in m for m in compiling), compiling
    assert len(compiling) == len(set(compiling))  # once each
