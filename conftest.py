"""Session-wide test settings that must also reach the doctests in ``src/vecstudy``
(``tests/conftest.py`` covers only the tests under ``tests/``)."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_tune_dir: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Point the numba backend's wisdom at an empty directory: no test or doctest reads
    (or writes) the plans the user tuned on this machine."""
    global _tune_dir
    _tune_dir = tempfile.mkdtemp(prefix="vecstudy-tune-")
    os.environ["VECSTUDY_TUNE_DIR"] = _tune_dir
    os.environ.pop("VECSTUDY_TUNE", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _tune_dir is not None:
        shutil.rmtree(_tune_dir, ignore_errors=True)
