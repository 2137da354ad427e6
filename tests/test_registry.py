"""The registry is the one list; every backend module has the same interface."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import vecstudy
from vecstudy import backends


def test_available_backends() -> None:
    assert vecstudy.available_backends() == ("python", "numba", "numpy", "dask")


def test_available_backends_installed_leaves_out_a_missing_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "vecstudy.backends.dask", raising=False)
    monkeypatch.delitem(backends._LOADED, "dask", raising=False)
    assert "dask" in vecstudy.available_backends()  # registered
    assert vecstudy.available_backends(installed=True) == ("python", "numba", "numpy")


def test_registering_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="backend 'numpy' is already registered"):
        backends.register("numpy", "somewhere.else")


def test_unknown_backend_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown backend 'fast'.*'python', 'numba', 'numpy'"):
        backends.load("fast")


def test_same_interface_everywhere() -> None:
    reference = backends.load("python")
    for name in backends.available_backends():
        module = backends.load(name)
        for fn in backends.KERNEL_FUNCTIONS:
            assert callable(getattr(module, fn)), (name, fn)
            params = list(inspect.signature(getattr(reference, fn)).parameters)
            got = getattr(module, fn)
            if hasattr(got, "py_func"):  # a numba dispatcher
                got = got.py_func
            assert list(inspect.signature(got).parameters) == params, (name, fn)


def test_import_is_light() -> None:
    """`import vecstudy` pulls in neither numba, pandas nor matplotlib."""
    code = "import sys, vecstudy; print(sorted(m for m in ('numba', 'pandas', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api() -> None:
    assert set(vecstudy.__all__) >= {
        "sigmoid",
        "sigmoid_derivative",
        "initialize_with_zeros",
        "propagate",
        "optimize",
        "predict",
        "model",
        "available_backends",
        "get_backend",
        "set_backend",
        "use_backend",
    }
    assert isinstance(vecstudy.__version__, str)
    # the lazy exports are listed too (a notebook's tab completion reads dir())
    assert set(vecstudy.__all__) <= set(dir(vecstudy))
