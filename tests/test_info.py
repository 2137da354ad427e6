"""`vecstudy info` shows and checks every setting; INFO logs reach the terminal."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pytest

import vecstudy
from vecstudy import api, cli


def _info(capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(["info"]) == 0
    return capsys.readouterr().out


def test_info_shows_each_setting_with_its_source(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("vecstudy.toml").write_text('backend = "python"\nthreads = 1\n')
    monkeypatch.setenv("VECSTUDY_DTYPE", "float32")
    out = _info(capsys)
    cfg = Path("vecstudy.toml").resolve()
    assert f"backend in force: python (from config file {cfg}, key 'backend')" in out
    assert "dtype in force: float32 (from environment variable VECSTUDY_DTYPE)" in out
    assert f"threads in force: 1 (from config file {cfg}, key 'threads')" in out
    assert f"config file: {cfg}" in out


def test_info_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    out = _info(capsys)
    assert "backend in force: numpy (from default)" in out
    assert "dtype in force: float64, or float32 for float32 input (from default)" in out
    assert "threads in force: not limited" in out
    assert "config file: none" in out


def test_info_says_when_threads_exceed_the_cores(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VECSTUDY_THREADS", str(2**70))
    out = _info(capsys)
    assert f"threads in force: {2**70} (from environment variable VECSTUDY_THREADS); runs" in out


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("VECSTUDY_DTYPE", "float23", "unknown dtype 'float23'"),
        ("VECSTUDY_THREADS", "many", "bad threads 'many'"),
        ("VECSTUDY_BACKEND", "cuda", "unknown backend 'cuda'"),
        ("VECSTUDY_CONFIG", "/nonexistent.toml", "does not name an existing file"),
    ],
)
def test_info_checks_settings(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    needle: str,
) -> None:
    monkeypatch.setenv(name, value)
    assert cli.main(["info"]) == cli.EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert needle in captured.err
    assert name in captured.err


def test_info_checks_file_settings_that_env_overrides(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("vecstudy.toml").write_text('dtype = "float16"\n')
    monkeypatch.setenv("VECSTUDY_DTYPE", "float32")
    assert cli.main(["info"]) == cli.EXIT_ERROR
    assert "float16" in capsys.readouterr().err


def test_compile_notice_is_logged_once_per_kernel_dtype_and_layout(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "_numba_seen", set())
    X = np.ones((2, 3))
    args = (np.ones((2, 1)), 0.0)
    with caplog.at_level(logging.INFO, logger="vecstudy"):
        vecstudy.propagate(*args, X, [[0, 1, 1]], backend="numba")
        vecstudy.propagate(*args, X, [[0, 1, 1]], backend="numba")
        vecstudy.propagate(*args, X, [[0, 1, 1]], backend="numpy")
        vecstudy.propagate(*args, X.astype(np.float32), [[0, 1, 1]], backend="numba")
    notices = [r.getMessage() for r in caplog.records if "numba kernels" in r.getMessage()]
    assert len(notices) == 2
    assert notices[0].startswith("compiling or loading cached numba kernels for propagate, float64")
    assert "float32" in notices[1]


def test_cli_shows_info_logs_on_stderr(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake(_args: argparse.Namespace) -> int:
        logging.getLogger("vecstudy").info("compiling or loading cached numba kernels...")
        logging.getLogger("vecstudy").debug("not shown")
        return 0

    monkeypatch.setitem(cli._COMMANDS, "info", fake)
    assert cli.main(["info"]) == 0
    err = capsys.readouterr().err
    assert err == "vecstudy: compiling or loading cached numba kernels...\n"
    assert logging.getLogger("vecstudy").level == logging.NOTSET  # restored
    assert not logging.getLogger("vecstudy").handlers


def test_info_notes_numba_thread_cap(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VECSTUDY_THREADS", "2")
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")
    monkeypatch.setattr("vecstudy.config.available_cores", lambda: 2)
    out = _info(capsys)
    assert "threads in force: 2 (from environment variable VECSTUDY_THREADS)" in out
    assert "numba runs 1 (NUMBA_NUM_THREADS)" in out
