"""vecstudy: what vectorization and compilation buy, measured on your own machine.

Batch gradient descent for binary logistic regression (the course "Neural Networks
and Deep Learning", week 2), implemented three interchangeable ways: a pure-Python
double loop (``"python"``), Numba-compiled loops (``"numba"``) and NumPy vectorized
(``"numpy"``).  Pick one per call (``backend=``), per block (:func:`use_backend`), per
process (:func:`set_backend`), by environment (``VECSTUDY_BACKEND``) or by config
file (``vecstudy.toml``).

How fast is each on your data?  :func:`compare_backends` times them on your ``X``
and ``Y``; ``vecstudy.study()`` runs the whole speed study.  Both return a
:class:`~vecstudy.study.view.StudyResult`: a DataFrame, a table (HTML in a
notebook), a figure and files.
"""

from typing import TYPE_CHECKING

from vecstudy._version import __version__
from vecstudy.api import (
    initialize_with_zeros,
    model,
    optimize,
    predict,
    propagate,
    sigmoid,
    sigmoid_derivative,
)
from vecstudy.backends import available_backends
from vecstudy.config import get_backend, set_backend, use_backend
from vecstudy.course import basic_sigmoid
from vecstudy.errors import (
    ConfigError,
    ConfigWarning,
    DivergenceError,
    DivergenceWarning,
    NumericalError,
    SlowRunWarning,
    ThreadCountWarning,
)
from vecstudy.plots import plot_costs

if TYPE_CHECKING:
    from vecstudy import study
    from vecstudy.learn.estimator import LogisticRegressionGD
    from vecstudy.study.face import StudyInterrupted, compare_backends
    from vecstudy.study.view import StudyResult

__all__ = [
    "ConfigError",
    "ConfigWarning",
    "DivergenceError",
    "DivergenceWarning",
    "LogisticRegressionGD",
    "NumericalError",
    "SlowRunWarning",
    "StudyInterrupted",
    "StudyResult",
    "ThreadCountWarning",
    "__version__",
    "available_backends",
    "basic_sigmoid",
    "compare_backends",
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
    "study",
    "use_backend",
]


def __getattr__(name: str) -> object:
    """Lazy exports: ``LogisticRegressionGD`` imports scikit-learn on first use only;
    the study's face (pandas, scipy, matplotlib) loads on first use too."""
    if name in ("compare_backends", "StudyInterrupted"):
        from vecstudy.study import face

        return getattr(face, name)
    if name == "StudyResult":
        from vecstudy.study.view import StudyResult

        return StudyResult
    if name == "study":
        import importlib

        return importlib.import_module("vecstudy.study")  # a package one can call
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


def __dir__() -> list[str]:
    """The lazy exports too: tab completion in a notebook offers ``compare_backends``."""
    return sorted(set(globals()) | set(__all__))
