"""Shared fixtures: every test starts from a clean configuration."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import vecstudy
from vecstudy import backends

# Numba compiles on first use; hypothesis must not count that against a deadline.
settings.register_profile(
    "vecstudy", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=40
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "vecstudy"))

BACKENDS = backends.available_backends()


@pytest.fixture(autouse=True)
def _clean_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No settings leak in from the environment, a config file, or another test."""
    for name in ("VECSTUDY_BACKEND", "VECSTUDY_DTYPE", "VECSTUDY_THREADS", "VECSTUDY_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("VECSTUDY_TUNE", raising=False)
    monkeypatch.setenv("VECSTUDY_TUNE_DIR", str(tmp_path / "tune"))  # never the user's wisdom
    # no tuned plan or tune setting remembered from another test (importing the tuning
    # module would import numba: nothing is remembered where it is not loaded yet)
    tuning = sys.modules.get("vecstudy.backends.numba.tuning")
    if tuning is not None:
        tuning._forget()
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
