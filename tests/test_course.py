"""The course's first helpers: basic_sigmoid, and the command line's --version and help."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import vecstudy
from vecstudy import basic_sigmoid, cli


def test_basic_sigmoid_is_the_courses_value() -> None:
    assert basic_sigmoid(1) == 0.7310585786300049  # the course's public test
    assert basic_sigmoid(0) == 0.5
    assert basic_sigmoid(-2.5) == 1 / (1 + math.exp(2.5))
    assert basic_sigmoid(np.float64(3.0)) == 1 / (1 + math.exp(-3.0))
    assert type(basic_sigmoid(np.float32(1.0))) is float
    assert basic_sigmoid(800) == 1.0
    assert "basic_sigmoid" in vecstudy.__all__


@pytest.mark.parametrize(
    ("x", "kind"),
    [
        (np.array([1.0, 2.0, 3.0]), "an array"),
        (np.array(1.0), "an array"),
        ([1, 2, 3], "an array"),
        ("1", "not a number"),
        (None, "not a number"),
        (True, "not a number"),
        (1 + 2j, "not a number"),
    ],
)
def test_basic_sigmoid_points_arrays_to_sigmoid(x: Any, kind: str) -> None:
    with pytest.raises(TypeError, match=r"use vecstudy\.sigmoid for arrays") as info:
        basic_sigmoid(x)
    assert kind in str(info.value)
    assert "x must be a real number" in str(info.value)


def test_basic_sigmoid_overflow_is_explained() -> None:
    with pytest.raises(OverflowError, match=r"x = int -1000.*vecstudy.sigmoid is numerically"):
        basic_sigmoid(-1000)
    with pytest.raises(TypeError) as info:
        basic_sigmoid("x" * 10_000)
    assert len(str(info.value)) < 300


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"vecstudy {vecstudy.__version__}\n"


def test_compare_help_shows_one_percent_sign() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vecstudy", "compare", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "95% bootstrap interval" in " ".join(done.stdout.split())
    assert "%%" not in done.stdout


def test_install_hints_give_the_clone_form(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_sklearn(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("sklearn") or name == "vecstudy.learn.estimator":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "vecstudy.learn.estimator", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(ImportError) as info:
        vecstudy.__getattr__("LogisticRegressionGD")
    assert "pip install 'vecstudy[learn]'" in str(info.value)
    assert "pip install '.[learn]'" in str(info.value)
