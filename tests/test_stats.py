"""Statistics: intervals of ratios, stability flags, the compare verdict, summaries."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from vecstudy.records import stats

from tests.conftest import make_row


def test_ratio_interval_contains_the_ratio_and_narrows_with_less_noise() -> None:
    rng = np.random.default_rng(3)
    a = 2.0 * (1 + 0.2 * rng.random(9))
    b = 1.0 * (1 + 0.2 * rng.random(9))
    r, lo, hi = stats.ratio_ci(a, b)
    assert r == pytest.approx(np.median(a) / np.median(b))
    assert lo <= r <= hi
    quiet_a = 2.0 * (1 + 0.01 * rng.random(9))
    quiet_b = 1.0 * (1 + 0.01 * rng.random(9))
    _, qlo, qhi = stats.ratio_ci(quiet_a, quiet_b)
    assert qhi - qlo < hi - lo
    assert qlo < 2.0 * 1.01 / 1.0
    assert qhi > 2.0 / 1.01


def test_ratio_interval_needs_two_samples_each() -> None:
    r, lo, hi = stats.ratio_ci([2.0], [1.0, 1.0])
    assert r == 2.0
    assert math.isnan(lo)
    assert math.isnan(hi)
    assert all(math.isnan(x) for x in stats.ratio_ci([], [1.0]))


def test_ratio_interval_is_reproducible() -> None:
    a, b = [1.0, 1.3, 0.9, 1.1], [2.0, 2.5, 1.9, 2.2]
    assert stats.ratio_ci(a, b) == stats.ratio_ci(a, b)


@pytest.mark.parametrize(
    ("seconds", "kwargs", "flags"),
    [
        ([1.0, 1.01, 0.99, 1.0], {}, []),
        ([1.0, 1.3, 0.8, 1.0], {}, ["cv"]),
        ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 6.0], {}, ["cv", "outlier"]),
        ([1.0, 1.0], {"timing_s": 1e-4}, ["short"]),
        ([1.0, 1.0], {"load": 2.5, "cores_used": 2}, ["load"]),
        ([1.0, 1.0], {"load": 1.5, "cores_used": 2}, []),
    ],
)
def test_case_flags(seconds: list[float], kwargs: dict[str, float], flags: list[str]) -> None:
    assert stats.case_flags(seconds, **kwargs) == flags  # type: ignore[arg-type]


def test_compare_verdicts() -> None:
    base = [1.0, 1.02, 0.98, 1.01, 0.99, 1.0, 1.03]
    assert stats.compare_samples(base, [x * 1.5 for x in base])["verdict"] == "worse"
    assert stats.compare_samples(base, [x / 1.5 for x in base])["verdict"] == "better"
    # significant but within the factor: unchanged
    small = stats.compare_samples(base, [x * 1.05 + 0.05 for x in base], factor=1.1)
    assert small["p"] < 0.05
    assert small["verdict"] == "unchanged"
    # a noisy new run whose interval reaches below the factor is not called worse
    noisy = stats.compare_samples(base, [1.0, 3.0, 1.05, 2.5, 1.1, 2.8, 1.0])
    assert noisy["verdict"] == "unchanged"


def _rows(samples: dict[str, list[float]], **extra: object) -> pd.DataFrame:
    records = []
    for backend, secs in samples.items():
        for k, s in enumerate(secs):
            records.append(
                make_row(backend=backend, round=k, seconds=s, loops=1000, load=0.1, **extra)
            )
    return pd.DataFrame(records)


def test_summarize_keeps_samples_in_round_order_and_flags() -> None:
    rows = _rows({"numpy": [3.0, 1.0, 2.0]}).sample(frac=1, random_state=1)
    s = stats.summarize(rows).iloc[0]
    assert list(s["samples"]) == [3.0, 1.0, 2.0]
    assert s["median"] == 2.0
    assert s["n"] == 3
    assert "cv" in s["flags"]


def test_bandwidth_slower_than_the_step_is_flagged() -> None:
    rows = pd.concat(
        [
            _rows({"numpy": [1e-3, 1e-3]}),
            _rows({"numba": [5e-3, 5e-3]}, kind="bandwidth", operation="read"),
        ]
    )
    summary = stats.flag_bandwidth(stats.summarize(rows))
    read = summary[summary["kind"] == "bandwidth"].iloc[0]
    step = summary[summary["kind"] == "kernel"].iloc[0]
    assert "bandwidth" in read["flags"]
    assert "bandwidth" not in step["flags"]


@pytest.mark.parametrize(
    ("load", "cores", "flagged"),
    [
        (1.5, None, True),  # without the machine's cores: above the one core used
        (1.5, 2, False),  # the sweep itself plus something on the other core: not flagged
        (2.5, 2, True),  # more runnable work than the machine's cores: flagged
    ],
)
def test_load_flag_counts_the_machines_cores(load: float, cores: int | None, flagged: bool) -> None:
    rows = pd.DataFrame(
        [make_row(round=k, seconds=1.0, loops=1, load=load, threads=1) for k in range(4)]
    )
    (flags,) = stats.summarize(rows, cores=cores)["flags"]
    assert ("load" in flags) is flagged


def test_machine_cores_takes_the_fewest_of_the_runs() -> None:
    from types import SimpleNamespace

    results = SimpleNamespace(
        runs=[
            {"run_id": "a", "machine": {"cores_available": 4}},
            {"run_id": "b", "machine": {"cores_available": 2}},
            {"run_id": "c", "machine": {}},
        ]
    )
    assert stats.machine_cores(results, ["a", "b"]) == 2
    assert stats.machine_cores(results, ["a"]) == 4
    assert stats.machine_cores(results, ["c"]) is None
