"""vecstudy.plot_costs: the course's cost curve from what vecstudy.model returns."""

from __future__ import annotations

import pickle
import sys
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure

import vecstudy
from vecstudy import plots


@pytest.fixture(scope="module")
def runs() -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 60))
    Y = (X[0] - X[1] > 0).astype(float).reshape(1, -1)
    return [vecstudy.model(X, Y, X, Y, 500, lr, backend="numpy") for lr in (0.1, 0.01)]


def _labels(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]


def test_one_run_of_model(runs: list[dict[str, Any]]) -> None:
    fig = vecstudy.plot_costs(runs[0])
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "iterations"
    assert ax.get_ylabel().startswith("cost")
    assert ax.get_yscale() == "log"
    (line,) = ax.get_lines()
    x, y = line.get_data()
    assert list(x) == [0, 100, 200, 300, 400]  # recorded every 100 iterations
    assert list(y) == runs[0]["costs"]
    last = plots.format_cost(runs[0]["costs"][-1])
    assert _labels(fig) == [
        f"last recorded cost {last} at iteration 400"
    ]  # not after the last update
    assert "learning rate 0.1" in fig.get_suptitle()


def test_learning_rate_comparison(runs: list[dict[str, Any]]) -> None:
    fig = vecstudy.plot_costs(runs)
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 2
    assert ax.get_legend().get_title().get_text() == "learning rate"
    labels = _labels(fig)
    assert labels[0].startswith("0.1: last recorded cost ")
    assert labels[1].startswith("0.01: last recorded cost ")
    assert f"{runs[1]['costs'][-1]:.6g}" in labels[1]


def test_record_interval_final_cost_and_panels_per_backend() -> None:
    costs = list(np.geomspace(0.69, 1e-8, 10))
    runs = [
        {
            "costs": costs,
            "learning_rate": lr,
            "num_iterations": 95,
            "record_every": 10,
            "final_cost": 5e-9,
            "backend": be,
            "dtype": "float64",
            "seconds": 0.5,
        }
        for lr in (1.0, 0.1)
        for be in ("numba", "numpy")
    ]
    fig = vecstudy.plot_costs(runs, title="mine")
    assert fig.get_suptitle() == "mine"
    assert [ax.get_title() for ax in fig.axes] == ["backend numba", "backend numpy"]
    x, y = fig.axes[0].get_lines()[0].get_data()
    assert list(x) == [*range(0, 100, 10), 95]
    assert y[-1] == 5e-9
    # readable ticks down to 1e-8
    fig.canvas.draw()
    ticks = {t.get_text() for t in fig.axes[0].get_yticklabels()}
    assert {"1e-8", "1e-4", "0.01", "1"} <= ticks
    # same learning rates and backends in one panel: the backend names the curve
    one = vecstudy.plot_costs(runs[:2])
    assert _labels(one)[0] == "numba (float64): final cost 5e-09 at iteration 95, 0.500 s"


def test_figure_without_pyplot_and_notebook_png(runs: list[dict[str, Any]]) -> None:
    had_pyplot = "matplotlib.pyplot" in sys.modules
    fig = vecstudy.plot_costs(runs)
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules
    assert type(pickle.loads(pickle.dumps(fig))) is plots.CostFigure


def test_non_positive_cost_gives_a_linear_axis() -> None:
    fig = vecstudy.plot_costs({"costs": [0.7, 0.0], "learning_rate": 0.5})
    assert fig.axes[0].get_yscale() == "linear"


@pytest.mark.parametrize(
    ("d", "error", "match"),
    [
        ([], TypeError, "non-empty list"),
        ("costs", TypeError, "non-empty list"),
        ([1.0], TypeError, r"d\[0\] must be a dict returned by vecstudy.model"),
        ({"costs": [0.5]}, KeyError, r"no 'learning_rate'; keys found: 'costs'"),
        ({"costs": [], "learning_rate": 0.1}, ValueError, "non-empty list of recorded costs"),
        ({"costs": [0.5, "x"], "learning_rate": 0.1}, TypeError, r"\['costs'\]\[1\] must be"),
        ({"costs": [0.5], "learning_rate": None}, TypeError, "learning_rate'] must be a real"),
        ({"costs": [0.5], "learning_rate": 0.1, "record_every": 0}, ValueError, ">= 1"),
    ],
)
def test_bad_input_is_named(d: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        vecstudy.plot_costs(d)


def test_the_lowest_cost_has_a_labelled_tick_below_it() -> None:
    costs = list(np.geomspace(0.69, 0.116, 20))
    fig = vecstudy.plot_costs({"costs": costs, "learning_rate": 0.005})
    (ax,) = fig.axes
    assert ax.get_ylim() == pytest.approx((0.1, 0.7))
    fig.canvas.draw()
    shown = [t.get_position()[1] for t in ax.get_yticklabels() if t.get_text()]
    lo, hi = ax.get_ylim()
    inside = [v for v in shown if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9)]
    assert min(inside) <= 0.116
    assert max(inside) >= 0.69
