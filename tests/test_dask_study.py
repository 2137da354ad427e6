"""The distributed study's parts: the memory check, stale data, its tables, one stage on a cluster.

The whole command (worker processes, SIGTERM) is tested in test_dask_faults.py; here
each part on its own, with small made-up results or a cluster of threads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")
pytest.importorskip("zarr")

import dask
from distributed import Client

from vecstudy import cluster as vcluster
from vecstudy.report import dask_study as report_dask
from vecstudy.study import dask_study

MiB = 2**20


# --------------------------------------------------------------------------- the memory check
def test_worker_memory_needed_follows_the_pause_fraction() -> None:
    """Room for the idle worker and OOC_CHUNKS_HELD chunks, under the fraction where Dask pauses."""
    idle = 100 * MiB  # and 6 chunks of 16 MiB: 196 MiB, under 80% of 245 MiB or 50% of 392
    for pause, terminate, need in ((0.8, 0.95, 245), (False, 0.5, 392)):
        keys = {"pause": pause, "terminate": terminate}
        with dask.config.set({f"distributed.worker.memory.{k}": v for k, v in keys.items()}):
            assert dask_study.check_worker_memory(f"{need}MiB", "16 MiB", idle=idle) == need * MiB
            with pytest.raises(ValueError, match=rf"at least --worker-memory {need}MiB$") as got:
                dask_study.check_worker_memory(f"{need - 1}MiB", "16 MiB", idle=idle)
            fraction = pause or terminate  # the lowest of the two that is enabled
            assert f"Dask pauses it at {fraction:.0%} of its limit" in str(got.value)


def test_worker_memory_message_says_whether_the_idle_memory_was_measured() -> None:
    with pytest.raises(ValueError, match=r"\(100 MiB measured\)"):
        dask_study.check_worker_memory("120MiB", "16 MiB", idle=100 * MiB, measured=True)
    with pytest.raises(ValueError, match=r"\(100 MiB, about\)"):
        dask_study.check_worker_memory("120MiB", "16 MiB", idle=100 * MiB)


# --------------------------------------------------------------------------- stale temporaries
def test_only_directories_of_dead_runs_are_removed(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    out = tmp_path / "out"
    out.mkdir()
    prefix = dask_study.TMP_PREFIX
    dead = out / f"{prefix}{int(gone.stdout)}-abc"
    (dead / "x.zarr").mkdir(parents=True)
    alive = out / f"{prefix}{os.getpid()}-def"
    alive.mkdir()
    odd = out / f"{prefix}notapid-x"  # not a run's name: not touched
    odd.mkdir()
    a_file = out / f"{prefix}{int(gone.stdout)}-file"  # not a directory
    a_file.write_text("keep")
    other = out / "results.json"
    other.write_text("{}")
    assert dask_study.remove_stale_temporaries(out) == [dead]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in (alive, odd, a_file, other)
    )
    assert dask_study.remove_stale_temporaries(out) == []


def test_median_per_iteration() -> None:
    assert dask_study._median_per_iter([0.3, 0.1, 0.2], 10) == pytest.approx(0.02)
    assert dask_study._median_per_iter([0.4, 0.2], 2) == pytest.approx(0.15)


# --------------------------------------------------------------------------- the tables
def _result(**rows_by_study: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [r for rs in rows_by_study.values() for r in rs]
    machine = {"cpu": "Test CPU", "cores": 2, "os": "Linux", "timestamp": "2026-01-01T00:00"}
    return {"machine": machine, "versions": {"dask": "1.0", "numba": "2.0"}, "rows": rows}


def _mem(name: str, mb: int, per_iteration_s: float) -> dict[str, Any]:
    return {"study": "in-memory", "contender": name, "mb": mb, "shape": f"100x{mb * 1250}",
            "chunks": 2, "iterations": 10, "samples_s": [per_iteration_s * 10],
            "per_iteration_s": per_iteration_s}  # fmt: skip


def _ovh(name: str, shape: str, per_iteration_s: float, mb: float = 0.08) -> dict[str, Any]:
    return {"study": "overhead", "contender": name, "shape": shape, "mb": mb, "chunks": 2,
            "iterations": 50, "samples_s": [per_iteration_s * 50],
            "per_iteration_s": per_iteration_s}  # fmt: skip


def test_markdown_of_a_whole_small_result() -> None:
    mem = [_mem("numba", 1, 0.002), _mem("numpy", 1, 0.004), _mem("dask", 1, 0.01),
           _mem("dask-glm", 1, 0.05), _mem("numba", 2, 0.003)]  # fmt: skip
    ovh = [_ovh("dask no-op round trip", "-", 0.0005, 0.0), _ovh("dask", "10x1000", 0.0015),
           _ovh("numba (1 thread)", "10x1000", 0.00002)]  # fmt: skip
    first = {"study": "out-of-core", "contender": "dask", "shape": "100x2000000", "mb": 1600.0,
             "chunks": 50, "iterations": 3, "samples_s": [9.0], "per_iteration_s": 3.0,
             "worker_limit_bytes": 400 * MiB, "worker_peak_bytes": [300 * MiB, 310 * MiB],
             "max_rel_diff_vs_in_memory": 1.5e-15}  # fmt: skip
    glm = {**first, "contender": "dask-glm", "per_iteration_s": 6.5,
           "worker_peak_bytes": [390 * MiB, 420 * MiB]}  # fmt: skip
    del glm["max_rel_diff_vs_in_memory"]
    text = report_dask.to_markdown(_result(mem=mem, ovh=ovh, ooc=[first, glm]))
    lines = text.splitlines()
    assert lines[0] == "# The dask backend: distributed study"
    assert lines[2] == (
        "Machine: Test CPU, 2 cores, Linux; 2026-01-01T00:00.  Versions: dask 1.0, numba 2.0."
    )
    assert "Interrupted" not in text
    # one row per size, ratios of the per-iteration medians, n/a where a contender is missing
    assert "| 1 MB (100x1250) | 2 | 2.0 ms | 4.0 ms | 10.0 ms | 50.0 ms | 5.00x | 5.00x |" in lines
    assert "| 2 MB (100x2500) | 2 | 3.0 ms | n/a | n/a | n/a | n/a | n/a |" in lines
    # the overhead is the difference of the two steps; the no-op round trip gets a sentence
    assert "| 10x1000 | 1.50 ms | 0.020 ms | 1.48 ms |" in lines
    assert any("2 no-op tasks submitted and gathered, takes 0.50 ms (median)" in ln for ln in lines)
    # out of core: the limit, each contender's peaks, and whether they stayed under it
    assert any(ln.startswith("## Out of core: X in Zarr, 1.60 GB (100x2000000, 50 chunks)")
               for ln in lines)  # fmt: skip
    assert "| dask | 3.00 s | 300 MiB, 310 MiB | yes |" in lines
    assert "| dask-glm | 6.50 s | 390 MiB, 420 MiB | **no** |" in lines
    assert any("largest relative difference in w, b = 1.5e-15." in ln for ln in lines)
    assert text.endswith("\n\nReproduce: `vecstudy dask-study --output-dir DIR`.\n")


def test_markdown_without_out_of_core_rows_has_no_such_section() -> None:
    text = report_dask.to_markdown(_result(mem=[_mem("numba", 1, 0.002)]))
    assert "## Out of core" not in text
    assert "no-op tasks" not in text
    # the overhead table is there, empty: its header and nothing else
    table = text.split("## Per-step overhead", 1)[1].split("\n\n")[1].splitlines()
    assert table == [
        "| X | dask step | numba step (1 thread) | overhead (difference) |",
        "|---|---|---|---|",
    ]


# --------------------------------------------------------------------------- one stage, on threads
@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with vcluster.local_cluster(n_workers=2, processes=False) as local, Client(local) as cl:
        yield cl


def test_overhead_stage_on_a_cluster_of_threads(client: Client) -> None:
    logged: list[str] = []
    rows = dask_study.overhead(client, iterations=2, rounds=1, log=logged.append)
    assert [(r["contender"], r["shape"]) for r in rows] == [
        ("dask no-op round trip", "-"),
        *[(name, f"10x{m}") for m in (1_000, 10_000, 100_000)
          for name in ("dask", "numba (1 thread)")],
    ]  # fmt: skip
    for r in rows:
        assert r["study"] == "overhead"
        assert r["iterations"] == 2
        assert len(r["samples_s"]) == 1
        assert r["per_iteration_s"] == pytest.approx(r["samples_s"][0] / 2)
        assert r["per_iteration_s"] > 0
    assert rows[0]["chunks"] == 2  # one no-op task per worker
    assert {r["chunks"] for r in rows[1:] if r["contender"] == "dask"} == {2}  # one per worker
    assert [r["mb"] for r in rows[1::2]] == pytest.approx([0.08, 0.8, 8.0])
    assert len(logged) == 4
    assert logged[0].startswith("dask no-op round trip (2 tasks): ")
    # the table of these rows: one line per shape
    text = report_dask.to_markdown(_result(ovh=rows))
    assert sum(ln.startswith("| 10x") for ln in text.splitlines()) == 3
