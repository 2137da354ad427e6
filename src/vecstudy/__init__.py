"""vecstudy: what vectorization and compilation buy, measured on your own machine.

Batch gradient descent for binary logistic regression (the course "Neural Networks
and Deep Learning", week 2), implemented three interchangeable ways: a pure-Python
double loop (``"python"``), Numba-compiled loops (``"numba"``) and NumPy vectorized
(``"numpy"``).  Pick one per call (``backend=``), per block (:func:`use_backend`), per
process (:func:`set_backend`), by environment (``VECSTUDY_BACKEND``) or by config
file (``vecstudy.toml``).
"""

from typing import TYPE_CHECKING

from vecstudy._version import __version__
from vecstudy.api import (
    DivergenceError,
    DivergenceWarning,
    NumericalError,
    initialize_with_zeros,
    model,
    optimize,
    predict,
    propagate,
    sigmoid,
    sigmoid_derivative,
)
from vecstudy.backends import available_backends
from vecstudy.config import ConfigError, ConfigWarning, get_backend, set_backend, use_backend
from vecstudy.course import basic_sigmoid
from vecstudy.plots import plot_costs
from vecstudy.runtime.threads import ThreadCountWarning

if TYPE_CHECKING:
    from vecstudy.learn.estimator import LogisticRegressionGD

__all__ = [
    "ConfigError",
    "ConfigWarning",
    "DivergenceError",
    "DivergenceWarning",
    "LogisticRegressionGD",
    "NumericalError",
    "ThreadCountWarning",
    "__version__",
    "available_backends",
    "basic_sigmoid",
    "get_backend",
    "initialize_with_zeros",
    "model",
    "optimize",
    "plot_costs",
    "predict",
    "propagate",
    "set_backend",
    "sigmoid",
    "sigmoid_derivative",
    "use_backend",
]


def __getattr__(name: str) -> object:
    """Lazy exports: ``LogisticRegressionGD`` imports scikit-learn on first use only."""
    if name == "LogisticRegressionGD":
        try:
            from vecstudy.learn.estimator import LogisticRegressionGD
        except ImportError as exc:
            raise ImportError(
                f"vecstudy.LogisticRegressionGD needs scikit-learn ({exc}); install it with: "
                "pip install 'vecstudy[learn]' (from a clone: pip install '.[learn]')"
            ) from exc
        return LogisticRegressionGD
    raise AttributeError(f"module 'vecstudy' has no attribute {name!r}")
