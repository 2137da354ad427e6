"""Each layer of the configuration order, and errors that name their source."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import vecstudy
from vecstudy import config
from vecstudy.config import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_default_is_numpy() -> None:
    choice = vecstudy.get_backend()
    assert (choice.name, choice.source) == ("numpy", "default")


def test_config_file_in_cwd() -> None:
    path = write(Path("vecstudy.toml"), 'backend = "python"\n')
    choice = vecstudy.get_backend()
    assert choice.name == "python"
    assert str(path.resolve()) in choice.source
    assert "key 'backend'" in choice.source


def test_config_file_in_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "vecstudy.toml", 'backend = "python"\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert vecstudy.get_backend().name == "python"


def test_vecstudy_toml_beats_pyproject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "vecstudy.toml", 'backend = "python"\n')
    sub = tmp_path / "proj"
    sub.mkdir()
    write(sub / "pyproject.toml", '[tool.vecstudy]\nbackend = "numba"\n')
    monkeypatch.chdir(sub)
    assert vecstudy.get_backend().name == "python"


def test_pyproject_table() -> None:
    write(Path("pyproject.toml"), '[project]\nname = "x"\n\n[tool.vecstudy]\nbackend = "python"\n')
    choice = vecstudy.get_backend()
    assert choice.name == "python"
    assert "key 'tool.vecstudy.backend'" in choice.source


def test_pyproject_without_table_is_ignored() -> None:
    write(Path("pyproject.toml"), '[project]\nname = "x"\n')
    assert vecstudy.get_backend() == config.Choice("numpy", "default")


def test_env_config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(Path("vecstudy.toml"), 'backend = "numba"\n')
    other = write(tmp_path / "elsewhere.toml", 'backend = "python"\n')
    monkeypatch.setenv("VECSTUDY_CONFIG", str(other))
    assert vecstudy.get_backend().name == "python"
    monkeypatch.setenv("VECSTUDY_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(
        ConfigError, match=r"VECSTUDY_CONFIG=.*missing\.toml.*does not name an existing file"
    ):
        vecstudy.get_backend()


def test_env_beats_file(monkeypatch: pytest.MonkeyPatch) -> None:
    write(Path("vecstudy.toml"), 'backend = "numba"\n')
    monkeypatch.setenv("VECSTUDY_BACKEND", "python")
    assert vecstudy.get_backend() == config.Choice(
        "python", "environment variable VECSTUDY_BACKEND"
    )


def test_set_backend_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECSTUDY_BACKEND", "numba")
    vecstudy.set_backend("python")
    assert vecstudy.get_backend() == config.Choice("python", "set_backend()")
    vecstudy.set_backend(None)
    assert vecstudy.get_backend().name == "numba"


def test_use_backend_beats_set_backend_and_restores() -> None:
    vecstudy.set_backend("numba")
    with vecstudy.use_backend("python") as choice:
        assert choice.name == "python"
        assert vecstudy.get_backend() == config.Choice("python", "use_backend()")
        with vecstudy.use_backend("numpy"):
            assert vecstudy.get_backend().name == "numpy"
        assert vecstudy.get_backend().name == "python"
    assert vecstudy.get_backend().name == "numba"


def test_use_backend_is_thread_local() -> None:
    seen: list[str] = []
    with vecstudy.use_backend("python"):
        t = threading.Thread(target=lambda: seen.append(vecstudy.get_backend().name))
        t.start()
        t.join()
    assert seen == ["numpy"]


def test_argument_beats_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    write(Path("vecstudy.toml"), 'backend = "numba"\n')
    monkeypatch.setenv("VECSTUDY_BACKEND", "numba")
    vecstudy.set_backend("numba")
    with vecstudy.use_backend("numba"):
        assert config.resolve_backend("python") == config.Choice("python", "argument backend=")


def test_choice_is_resolved_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend a call uses follows the configuration at call time (not at import)."""
    calls: list[str] = []
    from vecstudy import backends

    for name in backends.available_backends():
        module = backends.load(name)
        original = module.propagate

        def spy(*args: object, _name: str = name, _orig: object = original) -> object:
            calls.append(_name)
            return _orig(*args)  # type: ignore[operator]

        monkeypatch.setattr(module, "propagate", spy)
    w, X, Y = np.zeros((1, 1)), np.ones((1, 2)), np.array([[0, 1]])
    vecstudy.propagate(w, 0.0, X, Y)
    monkeypatch.setenv("VECSTUDY_BACKEND", "python")
    vecstudy.propagate(w, 0.0, X, Y)
    write(Path("vecstudy.toml"), 'backend = "numba"\n')
    config.reload()  # API calls look at the file system at most once a second
    monkeypatch.delenv("VECSTUDY_BACKEND")
    vecstudy.propagate(w, 0.0, X, Y)
    assert calls == ["numpy", "python", "numba"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            'backend = "cuda"\n',
            r"unknown backend 'cuda' from config file .*vecstudy.toml, key 'backend'; valid backends are 'python', 'numba', 'numpy', 'dask', 'auto'",
        ),
        ("backend = 3\n", r"unknown backend 3 from config file"),
        (
            'dtype = "half"\n',
            r"unknown dtype 'half' from config file .*key 'dtype'; valid dtypes are 'float64', 'float32'",
        ),
        (
            "threads = -2\n",
            r"bad threads -2 from config file .*key 'threads'; expected a positive integer or 'all'",
        ),
        (
            'backnd = "numba"\n',
            r"config file .*vecstudy.toml, key 'backnd': unknown key; valid keys are backend, dtype, threads, bench, relayout_max_mb, dask",
        ),
        ("bench = 3\n", r"key 'bench': must be a table"),
        ('backend = "numba\n', r"config file .*vecstudy.toml is not valid TOML"),
    ],
)
def test_bad_file_values_name_file_and_key(text: str, match: str) -> None:
    write(Path("vecstudy.toml"), text)
    X = np.ones((1, 2))
    with pytest.raises(ConfigError, match=match):
        vecstudy.propagate(np.zeros((1, 1)), 0.0, X, [[0, 1]])


def test_bad_env_values_name_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECSTUDY_BACKEND", "gpu")
    with pytest.raises(
        ConfigError,
        match=r"unknown backend 'gpu' from environment variable VECSTUDY_BACKEND; valid backends are",
    ):
        vecstudy.get_backend()
    monkeypatch.delenv("VECSTUDY_BACKEND")
    monkeypatch.setenv("VECSTUDY_DTYPE", "int8")
    with pytest.raises(
        ConfigError, match=r"unknown dtype 'int8' from environment variable VECSTUDY_DTYPE"
    ):
        vecstudy.propagate(np.zeros((1, 1)), 0.0, np.ones((1, 2)), [[0, 1]])


def test_bad_names_in_code() -> None:
    with pytest.raises(ConfigError, match=r"unknown backend 'nope' from set_backend\(\)"):
        vecstudy.set_backend("nope")
    with (
        pytest.raises(ConfigError, match=r"unknown backend 'nope' from use_backend\(\)"),
        vecstudy.use_backend("nope"),
    ):
        pass


def test_api_calls_look_at_the_config_file_at_most_once_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A loop of API calls pays no file-system lookups; an edit of the file reaches them
    within RECHECK_SECONDS, and at once after reload(), after a direct lookup, or from
    another directory."""
    import os

    from vecstudy.config import file as cfg_file

    clock = [1000.0]
    monkeypatch.setattr(cfg_file.time, "monotonic", lambda: clock[0])
    w, X, Y = np.zeros((1, 1)), np.ones((1, 2)), np.array([[0, 1]])

    def dtype() -> object:
        return vecstudy.propagate(w, 0.0, X, Y, backend="numpy")[0]["dw"].dtype

    assert dtype() == np.float64
    write(Path("vecstudy.toml"), 'dtype = "float32"\n')
    assert dtype() == np.float64  # within the window: the last search stands
    clock[0] += cfg_file.RECHECK_SECONDS
    assert dtype() == np.float32  # a second later: seen
    Path("vecstudy.toml").unlink()
    config.reload()
    assert dtype() == np.float64  # at once after reload()
    write(Path("vecstudy.toml"), 'dtype = "float32"\n')
    assert config.resolve_dtype().value == "float32"  # a direct lookup is exact...
    assert dtype() == np.float32  # ...and serves the API calls after it
    sub = Path("sub")
    sub.mkdir()
    monkeypatch.chdir(sub)
    write(Path("vecstudy.toml"), 'dtype = "float64"\n')
    assert dtype() == np.float64  # another directory: looked up at once
    seen: list[object] = []
    real_stat = os.stat
    with monkeypatch.context() as patch:
        patch.setattr(cfg_file.os, "stat", lambda *a, **k: seen.append(a) or real_stat(*a, **k))
        for _ in range(5):
            assert dtype() == np.float64
    assert seen == []  # the loop touched no file


def test_a_config_file_in_error_is_read_again_by_the_next_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An error is not remembered for the window: the mended file counts at once."""
    w, X, Y = np.zeros((1, 1)), np.ones((1, 2)), np.array([[0, 1]])

    def dtype() -> object:
        return vecstudy.propagate(w, 0.0, X, Y, backend="numpy")[0]["dw"].dtype

    write(Path("vecstudy.toml"), 'dtype = "float16"\n')  # a bad value
    with pytest.raises(ConfigError, match=r"unknown dtype 'float16'"):
        dtype()
    write(Path("vecstudy.toml"), 'dtype = "float32"\n')
    assert dtype() == np.float32
    sub = Path("sub")
    sub.mkdir()
    monkeypatch.chdir(sub)
    write(Path("vecstudy.toml"), "dtype = \n")  # not TOML
    with pytest.raises(ConfigError, match=r"not valid TOML"):
        dtype()
    write(Path("vecstudy.toml"), 'dtype = "float32"\n')
    assert dtype() == np.float32


def test_dtype_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    X, Y, w = np.ones((1, 2)), np.array([[0, 1]]), np.zeros((1, 1))
    assert vecstudy.propagate(w, 0.0, X, Y)[0]["dw"].dtype == np.float64
    assert vecstudy.propagate(w, 0.0, X.astype(np.float32), Y)[0]["dw"].dtype == np.float32
    write(Path("vecstudy.toml"), 'dtype = "float32"\n')
    config.reload()  # API calls look at the file system at most once a second
    assert vecstudy.propagate(w, 0.0, X, Y)[0]["dw"].dtype == np.float32
    monkeypatch.setenv("VECSTUDY_DTYPE", "float64")
    assert vecstudy.propagate(w, 0.0, X.astype(np.float32), Y)[0]["dw"].dtype == np.float64
    assert vecstudy.propagate(w, 0.0, X, Y, dtype="float32")[0]["dw"].dtype == np.float32


def test_threads_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.resolve_threads() == config.Choice(None, "default")
    write(Path("vecstudy.toml"), 'threads = "all"\n')
    assert config.resolve_threads().value == config.available_cores()
    monkeypatch.setenv("VECSTUDY_THREADS", "1")
    assert config.resolve_threads() == config.Choice(1, "environment variable VECSTUDY_THREADS")
    assert config.resolve_threads(2).value == 2


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_threads_setting_limits_blas_and_numba(
    monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """threads= governs what the kernel runs on while it runs, then restores it.

    NumPy's kernel: the BLAS (and Numba's count).  Numba's kernel calls no BLAS: Numba's
    count only, and the BLAS pools are left as they are (limiting them costs tens of
    microseconds a call).
    """
    from threadpoolctl import threadpool_info, threadpool_limits

    from vecstudy import api

    nb = api.backends.load("numba")
    if nb.max_threads() < 2:
        pytest.skip("needs 2 Numba threads to tell 1 from the default")
    seen: list[tuple[str, int]] = []
    module = api.backends.load(backend)
    original = module.propagate

    def spy(*args: object) -> object:
        seen.extend(("blas", lib["num_threads"]) for lib in threadpool_info())
        seen.append(("numba", nb.get_threads()))
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "propagate", spy)
    nb.set_threads(2)
    with threadpool_limits(limits=2):
        before = [lib["num_threads"] for lib in threadpool_info()]
        assert set(before) == {2}
        X = np.ones((1, 2))
        vecstudy.propagate(np.zeros((1, 1)), 0.0, X, [[0, 1]], backend=backend, threads=1)
        assert seen
        assert {n for what, n in seen if what == "numba"} == {1}
        blas = {n for what, n in seen if what == "blas"}
        assert blas == ({1} if backend == "numpy" else {2})
        assert [lib["num_threads"] for lib in threadpool_info()] == before
    assert nb.get_threads() == 2


def test_threads_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.resolve_threads(np.int64(2)).value == 2
    assert config.resolve_threads(" all ").value == config.available_cores()
    monkeypatch.setenv("VECSTUDY_THREADS", " 1 ")
    assert config.resolve_threads().value == 1


def test_dtype_spellings() -> None:
    X, Y, w = np.ones((1, 2)), np.array([[0, 1]]), np.zeros((1, 1))
    for spelling in (np.float32, np.dtype("float32"), "float32"):
        assert vecstudy.propagate(w, 0.0, X, Y, dtype=spelling)[0]["dw"].dtype == np.float32  # type: ignore[arg-type]


def test_file_section() -> None:
    assert config.file_section("bench") == ({}, None)
    path = write(Path("vecstudy.toml"), "[bench]\nrepeats = 3\n")
    assert config.file_section("bench") == ({"repeats": 3}, str(path.resolve()))
    with pytest.raises(ValueError, match="unknown config section"):
        config.file_section("nope")
