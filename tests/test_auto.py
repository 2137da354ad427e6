"""backend="auto": measured crossovers when results exist, a built-in rule otherwise."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vecstudy
from vecstudy import auto
from vecstudy.records import machine, results

from tests.conftest import make_row


def _rows(
    times: dict[tuple[int, int], dict[str, float]], dtype: str = "float64"
) -> list[dict[str, object]]:
    rows = []
    for (n_x, m), per_backend in times.items():
        for backend, seconds in per_backend.items():
            for threads in (1, 2):
                for k, f in enumerate((0.95, 1.0, 1.1)):
                    row = make_row(
                        operation="optimize",
                        backend=backend,
                        dtype=dtype,
                        threads=threads,
                        n_x=n_x,
                        m=m,
                        round=k,
                        seconds=seconds * f * (3.0 if threads == 1 and backend == "numpy" else 1.0),
                        loops=1,
                    )
                    rows.append(row)
    return rows


def write_results(path: Path, rows: list[dict[str, object]], cpu: str | None = None) -> Path:
    here = machine.machine_info()
    run = {"run_id": "r1", "machine": {"cpu": cpu or here["cpu"], "cores": here["cores"]}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": results.FORMAT, "runs": [run], "rows": rows}))
    return path


def test_builtin_rule_without_results() -> None:
    choice = auto.choose_backend(10, 1000)
    assert choice.value == "numba"
    assert choice.source.startswith("built-in rule")


def test_measured_crossover_decides() -> None:
    # numpy fastest at the small shape, numba at the large one (all-threads rows decide)
    rows = _rows(
        {(10, 1000): {"numpy": 1e-5, "numba": 2e-5}, (1000, 100000): {"numpy": 1e-2, "numba": 4e-3}}
    )
    path = write_results(Path("reports/bench-results.json"), rows)
    small = auto.choose_backend(8, 2000)
    big = auto.choose_backend(2000, 50000)
    assert small.value == "numpy"
    assert big.value == "numba"
    assert str(path) in small.source
    assert "nearest measured shape 10x1000 float64" in small.source
    assert "nearest measured shape 1000x100000 float64" in big.source
    # other dtypes have no measurements: the rule decides
    assert auto.choose_backend(8, 2000, dtype="float32").source.startswith("built-in rule")


def test_results_from_another_machine_are_ignored() -> None:
    rows = _rows({(10, 1000): {"numpy": 1e-5, "numba": 2e-5}})
    write_results(Path("reports/bench-results.json"), rows, cpu="Some Other CPU")
    assert auto.choose_backend(10, 1000).source.startswith("built-in rule")


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "vecstudy-bench-results/2", "runs": 5, "rows": []}', "lacks the 'runs'"),
        (None, "has seconds -1.0"),
    ],
)
def test_unusable_results_are_ignored_with_one_warning(content: str | None, why: str) -> None:
    path = Path("reports/bench-results.json")
    if content is None:
        rows = _rows({(10, 1000): {"numpy": 1e-5, "numba": 2e-5}})
        rows[0]["seconds"] = -1.0
        write_results(path, rows)
    else:
        path.parent.mkdir()
        path.write_text(content)
    with pytest.warns(auto.ResultsFileWarning, match=why) as record:
        first = auto.choose_backend(10, 1000)
    assert len(record) == 1
    assert first.source.startswith("built-in rule")
    # warnings are errors in this suite: a second warning about the same file would raise
    assert auto.choose_backend(20, 1000).source.startswith("built-in rule")


def test_study_runs_are_found() -> None:
    rows = _rows({(10, 1000): {"numpy": 1e-5, "numba": 2e-5}})
    path = write_results(Path("reports/runs/20260101-000000/study-results.json"), rows)
    choice = auto.choose_backend(10, 1000)
    assert choice.value == "numpy"
    assert str(path) in choice.source


def test_auto_through_the_api_logs_its_pick(caplog: pytest.LogCaptureFixture) -> None:
    rows = _rows({(2, 3): {"numpy": 1e-6, "numba": 5e-6}})
    write_results(Path("reports/bench-results.json"), rows)
    X = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
    with caplog.at_level(logging.INFO, logger="vecstudy"):
        _, cost = vecstudy.propagate(np.array([[1.0], [2.0]]), 2.0, X, [[1, 0, 1]], backend="auto")
    assert cost == pytest.approx(5.80154531939415, rel=1e-14)
    assert any("backend 'auto' picked 'numpy'" in r.getMessage() for r in caplog.records)


def test_auto_from_config_file() -> None:
    Path("vecstudy.toml").write_text('backend = "auto"\n')
    assert vecstudy.get_backend().name == "auto"
    _, _, costs = vecstudy.optimize(np.zeros((1, 1)), 0.0, np.ones((1, 4)), [[0, 1, 1, 1]], 10, 0.1)
    assert len(costs) == 1


def test_unusable_results_warning_points_at_the_callers_line() -> None:
    import numpy as np

    import vecstudy

    path = Path("reports/bench-results.json")
    path.parent.mkdir()
    path.write_text("{not json")
    with pytest.warns(auto.ResultsFileWarning) as record:
        vecstudy.predict(np.zeros((2, 1)), 0.0, np.ones((2, 3)), backend="auto")
    assert len(record) == 1
    assert record[0].filename == __file__


def test_backends_this_install_lacks_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    # a file from a newer version, or naming a plugin's backend: its rows take no part
    rows = _rows({(2, 3): {"turbo": 1e-9, "numpy": 1e-6, "numba": 5e-6}})
    write_results(Path("reports/bench-results.json"), rows)
    choice = auto.choose_backend(2, 3)
    assert choice.value == "numpy"
    assert "turbo" not in choice.source
    X = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
    with caplog.at_level(logging.INFO, logger="vecstudy"):
        _, cost = vecstudy.propagate(np.array([[1.0], [2.0]]), 2.0, X, [[1, 0, 1]], backend="auto")
    assert cost == pytest.approx(5.80154531939415, rel=1e-14)
    assert any("backend 'auto' picked 'numpy'" in r.getMessage() for r in caplog.records)
    # with only one installed backend left at that shape, the file cannot decide
    Path("reports/bench-results.json").unlink()  # (another path: results are cached per mtime)
    write_results(Path("reports/study-results.json"), _rows({(2, 3): {"turbo": 1e-9, "numpy": 1}}))
    assert auto.choose_backend(2, 3).source.startswith("built-in rule")


def test_a_backend_whose_dependencies_are_missing_is_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vecstudy import backends

    real = backends.load

    def load(name: str) -> object:
        if name == "numba":
            raise backends.BackendUnavailable("backend 'numba' needs numba, which is missing")
        return real(name)

    monkeypatch.setattr(backends, "load", load)
    rows = _rows({(2, 3): {"numba": 1e-7, "numpy": 1e-6, "python": 1e-3}})
    write_results(Path("reports/bench-results.json"), rows)
    choice = auto.choose_backend(2, 3)
    assert choice.value == "numpy"


def test_results_named_by_the_bench_table_are_read_without_the_study_package() -> None:
    """The ``output`` of ``[bench]`` is found from the raw table, even beside a bad key."""
    rows = _rows({(10, 1000): {"numpy": 1e-5, "numba": 2e-5}})
    path = write_results(Path("elsewhere/mine.json"), rows)
    Path("vecstudy.toml").write_text('[bench]\noutput = "elsewhere/mine.json"\nrepeats = "x"\n')
    choice = auto.choose_backend(10, 1000)
    assert choice.value == "numpy"
    assert str(path) in choice.source
    code = (
        "import sys, vecstudy.auto as a; a.choose_backend(10, 1000); "
        "print(sorted(m for m in sys.modules if m.startswith('vecstudy.study')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"  # auto reads records and config, not the study
