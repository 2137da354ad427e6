"""The asv suite: its configuration parses, asv accepts it, and each benchmark runs once."""

from __future__ import annotations

import importlib
import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from vecstudy import backends

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "benchmarks"


def load_suite(module: str) -> ModuleType:
    """Import ``benchmarks.<module>`` from the repository (asv imports it as a package)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"benchmarks.{module}")


def test_config() -> None:
    text = (ROOT / "asv.conf.json").read_text()
    conf = json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE))
    assert conf["repo"] == "."
    assert conf["benchmark_dir"] == "benchmarks"
    assert conf["results_dir"] == ".asv/results"
    assert conf["html_dir"] == ".asv/html"


def test_asv_check(tmp_path: Path) -> None:
    pytest.importorskip("asv")
    shutil.copy(ROOT / "asv.conf.json", tmp_path)
    shutil.copytree(SUITE, tmp_path / "benchmarks", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "asv", "check", "--python=same"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No problems found" in done.stdout


def test_params_follow_the_registry() -> None:
    kernels = load_suite("bench_kernels")
    assert kernels.Propagate.params[0] == list(backends.available_backends())
    assert kernels.Optimize.params[0] == list(backends.available_backends())


def _run_once(cls: type, params: tuple[Any, ...]) -> list[str]:
    """Run setup, every benchmark method and teardown for ``params``; return what ran."""
    bench = cls()
    ran = []
    try:
        bench.setup(*params)
    except NotImplementedError:  # asv's skip
        bench.teardown(*params)
        return ["skipped"]
    try:
        for name in dir(bench):
            if name.startswith(("time_", "peakmem_", "track_")):
                getattr(bench, name)(*params)
                ran.append(name)
    finally:
        bench.teardown(*params)
    return ran


@pytest.mark.parametrize("cls_name", ["Propagate", "Optimize"])
def test_kernel_benchmarks_run(cls_name: str) -> None:
    kernels = load_suite("bench_kernels")
    cls = getattr(kernels, cls_name)
    smallest = cls.params[1][0]
    for backend, dtype in itertools.product(cls.params[0], cls.params[2]):
        ran = _run_once(cls, (backend, smallest, dtype, 1))
        assert ran != ["skipped"], (backend, smallest, dtype)
    # the pure-Python loop is skipped (asv's idiom) on the largest shape, and with 2 threads
    assert _run_once(cls, ("python", cls.params[1][-1], "float64", 1)) == ["skipped"]
    assert _run_once(cls, ("python", smallest, "float64", 2)) == ["skipped"]


@pytest.mark.parametrize("cls_name", ["Propagate", "Optimize"])
def test_threads_are_a_pinned_parameter(cls_name: str) -> None:
    from threadpoolctl import threadpool_info

    kernels = load_suite("bench_kernels")
    cls = getattr(kernels, cls_name)
    assert cls.param_names[-1] == "threads"
    assert cls.params[-1] == [1, 2]
    bench = cls()
    bench.setup("numpy", cls.params[1][0], "float64", 1)
    try:
        # the BLAS that NumPy calls (numba may load a second one, SciPy's, for itself)
        blas = [
            b["num_threads"]
            for b in threadpool_info()
            if b["user_api"] == "blas" and "numpy" in b["filepath"]
        ]
        assert blas
        assert set(blas) == {1}
    finally:
        bench.teardown("numpy", cls.params[1][0], "float64", 1)


def test_compile_benchmark_is_timeraw_with_repeats() -> None:
    compile_suite = load_suite("bench_compile")
    cls = compile_suite.NumbaCompile
    assert cls.number == 1
    assert cls.repeat[0] >= 3
    bench = cls()
    for name in ("timeraw_first_propagate", "timeraw_first_optimize"):
        stmt, setup = getattr(bench, name)("float32")
        compile(setup, "<setup>", "exec")
        compile(stmt, "<stmt>", "exec")
        assert "NUMBA_CACHE_DIR" in setup


def test_memory_benchmark_measures_what_optimize_adds() -> None:
    kernels = load_suite("bench_kernels")
    bench = kernels.OptimizeMemory()
    added = bench.track_optimize_added_memory("numpy", "100x2000", "float64")
    # the numpy descent keeps X in place: far less than a copy of X (1.6 MB)
    assert 0 <= added < 100 * 2000 * 8


def test_common_problem_is_seeded_and_contiguous() -> None:
    common = load_suite("common")
    w, _, X, Y = common.problem("10x1000", "float32")
    assert X.shape == (10, 1000)
    assert X.flags.c_contiguous
    assert X.dtype == Y.dtype == w.dtype
    common.problem.cache_clear()
    _, _, X2, _ = common.problem("10x1000", "float32")
    assert (X == X2).all()
