"""Config files and variables that are broken in odd ways: loud for ours, quiet for others'."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import vecstudy
from vecstudy import config
from vecstudy.config import ConfigError, ConfigWarning
from vecstudy.config import file as cfg_file


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    cfg_file._parsed.clear()
    cfg_file._searched.clear()
    cfg_file._warned.clear()
    yield
    cfg_file._parsed.clear()
    cfg_file._searched.clear()
    cfg_file._warned.clear()


def _propagate() -> float:
    _, cost = vecstudy.propagate([[1.0]], 0.0, [[1.0, -1.0]], [[1, 0]])
    return cost


def _in_child_dir() -> None:
    child = Path("child")
    child.mkdir()
    os.chdir(child)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("tool = 5\n", r"its 'tool' is a int, not a table"),
        ("[project\nname = 'x'\n", r"is not valid TOML"),
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", r"is (nested too deeply|not valid TOML)"),
    ],
    ids=["tool-not-a-table", "malformed", "deep"],
)
def test_unrelated_bad_pyproject_in_parent_warns_once(text: str, why: str) -> None:
    Path("pyproject.toml").write_text(text)
    _in_child_dir()
    with pytest.warns(ConfigWarning, match=rf"ignoring .*pyproject\.toml: {why}"):
        cost = _propagate()
    assert cost == pytest.approx(0.31326168751822286)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _propagate() == cost  # once only
        assert vecstudy.get_backend() == config.Choice("numpy", "default")


def test_non_utf8_pyproject_is_ignored_with_a_warning() -> None:
    Path("pyproject.toml").write_bytes(b"name = '\xff\xfe'\n")
    with pytest.warns(ConfigWarning, match=r"pyproject\.toml: is not UTF-8 text"):
        _propagate()


def test_bad_vecstudy_table_in_pyproject_still_fails() -> None:
    Path("pyproject.toml").write_text("[tool.vecstudy]\nbackend = 'fast'\n")
    with pytest.raises(ConfigError, match=r"pyproject\.toml, key 'tool.vecstudy.backend'"):
        _propagate()
    Path("pyproject.toml").write_text("[tool]\nvecstudy = 3\n")
    with pytest.raises(ConfigError, match=r"'tool.vecstudy' must be a table"):
        _propagate()


def test_non_utf8_vecstudy_toml_names_the_file() -> None:
    Path("vecstudy.toml").write_bytes(b'backend = "numba\xff"\n')
    with pytest.raises(ConfigError, match=r"config file .*vecstudy\.toml is not UTF-8 text"):
        _propagate()


def test_malformed_vecstudy_toml_fails_loudly() -> None:
    Path("vecstudy.toml").write_text("backend = \n")
    with pytest.raises(ConfigError, match=r"vecstudy\.toml is not valid TOML"):
        _propagate()
    Path("vecstudy.toml").write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"vecstudy\.toml is (nested too deeply|not valid)"):
        _propagate()


def test_directory_named_vecstudy_toml_is_an_error() -> None:
    Path("vecstudy.toml").mkdir()
    with pytest.raises(ConfigError, match=r"vecstudy\.toml is not a regular file"):
        _propagate()


def test_symlink_loop_named_vecstudy_toml_is_an_error() -> None:
    Path("vecstudy.toml").symlink_to("vecstudy.toml")
    with pytest.raises(ConfigError, match=r"vecstudy\.toml is not a regular file"):
        _propagate()


def test_directory_or_loop_named_pyproject_is_ignored() -> None:
    Path("pyproject.toml").mkdir()
    with pytest.warns(ConfigWarning, match=r"pyproject\.toml: it is not a regular file"):
        _propagate()
    Path("pyproject.toml").rmdir()
    Path("pyproject.toml").symlink_to("pyproject.toml")
    cfg_file._warned.clear()
    config.reload()  # API calls look at the file system at most once a second
    with pytest.warns(ConfigWarning, match=r"pyproject\.toml: it is not a regular file"):
        _propagate()


def test_unreadable_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files this process may not read (simulated: the tests may run as root)."""
    real_open = Path.open

    def refuse(self: Path, *args: object, **kwargs: object) -> object:
        if self.name in ("pyproject.toml", "vecstudy.toml"):
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    Path("pyproject.toml").write_text("[tool.vecstudy]\nbackend = 'python'\n")
    with monkeypatch.context() as patch:
        patch.setattr(Path, "open", refuse)
        with pytest.warns(ConfigWarning, match=r"pyproject\.toml: cannot be read: Permission"):
            _propagate()
    Path("vecstudy.toml").write_text("backend = 'python'\n")
    config.reload()  # API calls look at the file system at most once a second
    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(ConfigError, match=r"vecstudy\.toml cannot be read: Permission denied"):
        _propagate()


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("VECSTUDY_BACKEND", "x" * 10_000, r"unknown backend 'x{47}\.\.\.' from environment"),
        ("VECSTUDY_DTYPE", "float23", r"unknown dtype 'float23' from environment"),
        ("VECSTUDY_DTYPE", "f" * 10_000, r"unknown dtype 'f+\.\.\.' from environment"),
        ("VECSTUDY_THREADS", "1e3", r"bad threads '1e3' from environment"),
        ("VECSTUDY_THREADS", "-2", r"bad threads '-2'"),
        ("VECSTUDY_THREADS", "0", r"bad threads '0'"),
        ("VECSTUDY_CONFIG", "/nonexistent/\udcff.toml", r"does not name an existing file"),
        ("VECSTUDY_CONFIG", "x" * 5000, r"does not name an existing file"),
    ],
)
def test_env_garbage_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, match: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=match) as info:
        _propagate()
    assert len(str(info.value)) < 500


def test_env_values_are_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECSTUDY_BACKEND", " python\n")
    monkeypatch.setenv("VECSTUDY_DTYPE", "   ")  # blank: unset
    assert vecstudy.get_backend() == config.Choice(
        "python", "environment variable VECSTUDY_BACKEND"
    )
    assert config.resolve_dtype(None, np.dtype(np.float32)).value == "float32"


def test_config_env_pointing_to_a_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECSTUDY_CONFIG", str(Path.cwd()))
    with pytest.raises(ConfigError, match=r"does not name an existing file"):
        _propagate()


def test_deleted_working_directory_means_no_config_file(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    os.chdir(gone)
    gone.rmdir()
    assert config.find_config_file() is None
    assert vecstudy.get_backend().value == "numpy"


def _suspended(name: str) -> Iterator[str]:
    with vecstudy.use_backend(name):
        yield vecstudy.get_backend().value


def test_use_backend_across_generator_suspension() -> None:
    """Blocks closed out of order each remove only their own setting."""
    a = _suspended("python")
    b = _suspended("numba")
    assert next(a) == "python"
    assert next(b) == "numba"
    assert vecstudy.get_backend().value == "numba"
    a.close()
    assert vecstudy.get_backend().value == "numba"  # b's block is still open
    b.close()
    assert vecstudy.get_backend() == config.Choice("numpy", "default")


def test_use_backend_nested_and_interleaved() -> None:
    with vecstudy.use_backend("python"):
        a = _suspended("numba")
        next(a)
        with vecstudy.use_backend("numpy"):
            assert vecstudy.get_backend().value == "numpy"
        assert vecstudy.get_backend().value == "numba"
        a.close()
        assert vecstudy.get_backend().value == "python"
    assert vecstudy.get_backend().value == "numpy"
    assert vecstudy.get_backend().source == "default"


def test_byte_order_mark_is_accepted() -> None:
    Path("vecstudy.toml").write_bytes(b'\xef\xbb\xbfbackend = "python"\n')
    assert vecstudy.get_backend().value == "python"


def test_fifo_named_vecstudy_toml_does_not_hang() -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    os.mkfifo("vecstudy.toml")
    with pytest.raises(ConfigError, match=r"vecstudy\.toml is not a regular file"):
        _propagate()


def test_config_files_created_and_removed_between_calls_are_seen(tmp_path: Path) -> None:
    """The search is remembered per directory, and repeated when a directory changes."""
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    os.chdir(inner)
    assert config.resolve_dtype().value == "float64"
    assert config.resolve_dtype().value == "float64"  # remembered
    (tmp_path / "vecstudy.toml").write_text('dtype = "float32"\n')  # two levels up
    assert config.resolve_dtype().value == "float32"
    (inner / "vecstudy.toml").write_text('dtype = "float64"\n')  # nearer wins
    assert config.resolve_dtype().value == "float64"
    assert str(inner) in config.resolve_dtype().source
    (inner / "vecstudy.toml").unlink()
    assert config.resolve_dtype().value == "float32"
    (tmp_path / "vecstudy.toml").rename(tmp_path / "a" / "vecstudy.toml")
    assert str(tmp_path / "a") in config.resolve_dtype().source
    (tmp_path / "a" / "vecstudy.toml").unlink()
    assert config.resolve_dtype().value == "float64"
