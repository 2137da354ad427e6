"""Shared fixtures: every test starts from a clean configuration; one results-row factory.

Test files import the factory as ``from tests.conftest import make_row`` (pytest
registers this file as ``tests.conftest``), and the options of a tiny sweep as
``TINY_SWEEP``.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import vecstudy
from vecstudy import backends
from vecstudy.records import results

# Numba compiles on first use; hypothesis must not count that against a deadline.
settings.register_profile(
    "vecstudy", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=40
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "vecstudy"))

BACKENDS = backends.available_backends()


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C behaves as in a terminal, however the suite was started.

    A shell starts a background job (``cmd &`` in a script) with SIGINT ignored, and an
    ignored signal is inherited by every process below it: the tests of what Ctrl-C
    does (in this process and in the processes they start) would then see nothing.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files dense in ``slow`` tests first, the others after, each file's order kept.

    The suite runs on pytest-xdist's workers one file at a time (``--dist loadfile``, in
    collection order): a long file started last would leave the other workers idle at
    the end.  Sorting on the share of slow tests in each file puts the few files of
    long real-process tests (the numba cache across processes, the notebook) first.
    """
    files = [item.nodeid.split("::", 1)[0] for item in items]
    total: dict[str, int] = {}
    slow: dict[str, int] = {}
    for item, path in zip(items, files, strict=True):
        total[path] = total.get(path, 0) + 1
        slow[path] = slow.get(path, 0) + (item.get_closest_marker("slow") is not None)
    rank = {path: i for i, path in enumerate(total)}  # first appearance: the collection order
    order = sorted(
        range(len(items)), key=lambda i: (-slow[files[i]] / total[files[i]], rank[files[i]], i)
    )
    items[:] = [items[i] for i in order]


@pytest.fixture(autouse=True)
def _signal_handlers_restored() -> Iterator[None]:
    """Every test leaves SIGINT and SIGTERM as it found them.

    The tests share a process (an xdist worker runs many files): a handler left behind,
    or a signal left ignored, would change what Ctrl-C does in every later test, and in
    every process they start (an ignored signal is inherited).
    """
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    after = {sig: signal.getsignal(sig) for sig in before}
    changed = {signal.Signals(sig).name: after[sig] for sig in before if after[sig] != before[sig]}
    for sig, handler in before.items():
        signal.signal(sig, handler)
    assert not changed, f"signal handlers left changed: {changed}"


@pytest.fixture(autouse=True)
def _clean_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No settings leak in from the environment, a config file, or another test."""
    for name in [n for n in os.environ if n.startswith("VECSTUDY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("VECSTUDY_TUNE_DIR", str(tmp_path / "tune"))  # never the user's wisdom
    # no tuned plan or tune setting remembered from another test (importing the wisdom
    # module would import numba: nothing is remembered where it is not loaded yet)
    wisdom = sys.modules.get("vecstudy.backends.numba.wisdom")
    if wisdom is not None:
        wisdom._forget()
    home = tmp_path / "cwd"
    home.mkdir()
    monkeypatch.chdir(home)
    vecstudy.set_backend(None)
    yield
    vecstudy.set_backend(None)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each registered backend in turn."""
    return str(request.param)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261127)


#: ``vecstudy bench`` options of a sweep of a few milliseconds: one small shape, NumPy,
#: float64, one thread, no micro-studies, no bar (``--repeats`` is the caller's).
TINY_SWEEP: list[str] = [
    "--shapes",
    "4x40",
    "--backends",
    "numpy",
    "--dtypes",
    "float64",
    "--threads",
    "1",
    "--min-time",
    "0.001",
    "--no-micro",
    "--no-progress",
]

#: What :func:`make_row` puts in a row unless told otherwise: one timing of NumPy's
#: gradient step on a 10x100 float64 ``X``, on one thread.
ROW_DEFAULTS: dict[str, Any] = {
    "run_id": "r1",
    "kind": "kernel",
    "operation": "propagate",
    "backend": "numpy",
    "dtype": "float64",
    "threads": 1,
    "n_x": 10,
    "m": 100,
    "round": 0,
    "order": 0,
    "seconds": 1e-3,
    "loops": 10,
    "per_call": 1,
    "status": "ok",
    "reason": "",
}


def make_row(**overrides: Any) -> dict[str, Any]:
    """One valid row of a results file: every column of ``records.results.COLUMNS``.

    :data:`ROW_DEFAULTS`, then ``overrides``; the other columns (``blas_threads``,
    ``numba_threads``, ``warmup_s``, ``load``) are None unless given.  ``bytes_x``
    follows ``n_x``, ``m`` and ``dtype`` unless given.  A name that is not a column is
    a TypeError, so that a misspelt override cannot pass unnoticed.
    """
    unknown = sorted(set(overrides) - set(results.COLUMNS))
    if unknown:
        raise TypeError(f"make_row: {unknown} are not columns of a results row")
    row: dict[str, Any] = dict.fromkeys(results.COLUMNS)
    row.update(ROW_DEFAULTS)
    row.update(overrides)
    if "bytes_x" not in overrides:
        row["bytes_x"] = row["n_x"] * row["m"] * np.dtype(row["dtype"]).itemsize
    return row
