"""`vecstudy info` shows and checks every setting; INFO logs reach the terminal."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pytest

import vecstudy
from vecstudy import cli
from vecstudy.runtime import announce


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
        # every variable any command reads, not only the backend, dtype and threads
        ("VECSTUDY_RELAYOUT_MAX_MB", "nan", "bad relayout_max_mb 'nan'"),
        ("VECSTUDY_RELAYOUT_MAX_MB", "-1", "bad relayout_max_mb '-1'"),
        ("VECSTUDY_DASK_CHUNK", "garbage", "bad dask chunk 'garbage'"),
        ("VECSTUDY_DASK_CHUNK", "inf MB", "bad dask chunk 'inf MB'"),
        ("VECSTUDY_DASK_ADDRESS", "   ", "bad dask address"),
        ("VECSTUDY_CACHE_SIZES", "lots", "'l1d,l2,l3_per_core'"),
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
    monkeypatch.setattr(announce, "_numba_seen", set())
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
    monkeypatch.setattr("vecstudy.runtime.cores.available_cores", lambda: 2)
    out = _info(capsys)
    assert "threads in force: 2 (from environment variable VECSTUDY_THREADS)" in out
    assert "numba runs 1 (NUMBA_NUM_THREADS)" in out


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        ('[dask]\nchunk = "garbage"\n', ["bad dask chunk 'garbage'", "dask.chunk"]),
        ("[dask]\nchunk = 0\n", ["bad dask chunk 0", "dask.chunk"]),
        ("[dask]\ntimeout = nan\n", ["bad dask timeout nan", "dask.timeout"]),
        ("[dask]\nbogus = 1\n", ["unknown key 'bogus'", "[dask]"]),
        ("[bench]\nrepeat = 3\n", ["unknown key 'repeat'", "[bench]"]),
        ("[bench]\nrepeats = 0\n", ["expected a positive integer", "key 'repeats'"]),
        ('[bench]\nbackends = "cuda"\n', ["unknown backend 'cuda'", "key 'backends'"]),
        ("relayout_max_mb = nan\n", ["bad relayout_max_mb nan", "key 'relayout_max_mb'"]),
        (f"{'k' * 500} = 1\n", ["unknown key", "k..."]),
    ],
)
def test_info_checks_every_table_of_the_config_file(
    capsys: pytest.CaptureFixture[str], content: str, needles: list[str]
) -> None:
    Path("vecstudy.toml").write_text(content)
    assert cli.main(["info"]) == cli.EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert len(captured.err) < 400  # the 500-character key is cut
    for needle in needles:
        assert needle in captured.err
    assert "vecstudy.toml" in captured.err


def test_info_checks_dask_file_settings_that_env_overrides(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("vecstudy.toml").write_text('[dask]\nchunk = "garbage"\n')
    monkeypatch.setenv("VECSTUDY_DASK_CHUNK", "1 MiB")
    assert cli.main(["info"]) == cli.EXIT_ERROR
    assert "dask.chunk" in capsys.readouterr().err


def test_info_accepts_good_settings_of_every_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("vecstudy.toml").write_text(
        'relayout_max_mb = 0\n[dask]\nchunk = "64 MiB"\ntimeout = 5\n[bench]\nrepeats = 3\n'
    )
    monkeypatch.setenv("VECSTUDY_RELAYOUT_MAX_MB", "500")
    monkeypatch.setenv("VECSTUDY_CACHE_SIZES", "48K,1280K,2M")
    assert "backend in force" in _info(capsys)


@pytest.mark.parametrize(
    "text", ["64 MiB", "5kB", "1e6 kB", "MB", "100", "1.5 k", "-5", "0", "garbage", "5 foos", "k5"]
)
def test_chunk_sizes_are_read_as_dask_reads_them(text: str) -> None:
    from vecstudy import config

    parse_bytes = pytest.importorskip("dask.utils").parse_bytes
    try:
        expected: int | None = parse_bytes(text)
    except ValueError:
        expected = None
    assert config.byte_size(text) == expected


def test_info_checks_the_numba_table_and_tune_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("vecstudy.toml").write_text('[numba]\ntune = "sometimes"\n')
    monkeypatch.setenv("VECSTUDY_TUNE", "off")  # overrides the file, which is checked anyway
    assert cli.main(["info"]) == cli.EXIT_ERROR
    assert "numba.tune" in capsys.readouterr().err
    Path("vecstudy.toml").write_text('[numba]\ntune = "off"\n')
    monkeypatch.setenv("VECSTUDY_TUNE", "always")
    assert cli.main(["info"]) == cli.EXIT_ERROR
    assert "VECSTUDY_TUNE" in capsys.readouterr().err
    monkeypatch.setenv("VECSTUDY_TUNE", "first-use")
    assert "numba plan tuning: first-use" in _info(capsys)
