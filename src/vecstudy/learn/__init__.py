"""Learning from tables: the workflow of ``vecstudy train`` and the scikit-learn estimator.

- :mod:`vecstudy.learn.data`: reading CSV, Parquet, NPZ and the course's HDF5 files;
- :mod:`vecstudy.learn.table`: checking a table, a stratified split, standardization;
- :mod:`vecstudy.learn.descent`: batch gradient descent from zero weights (:func:`descend`);
- :mod:`vecstudy.learn.model_file`: the model file, written and read back checked;
- :mod:`vecstudy.learn.train`: the workflow (prepare, fit the runs, write the outputs);
- :mod:`vecstudy.learn.outputs`: the figure of the costs and the output file names;
- :mod:`vecstudy.learn.estimator`: :class:`LogisticRegressionGD`, for scikit-learn.

The public names of all but the estimator are re-exported here
(``from vecstudy.learn import example_path, split``).  Nothing here imports pandas or
scikit-learn until it is used: ``LogisticRegressionGD`` imports scikit-learn on
first use (as ``vecstudy.LogisticRegressionGD`` does).
"""

from typing import TYPE_CHECKING

from vecstudy.errors import BudgetError, DataError, ModelFileError
from vecstudy.learn.data import (
    EXAMPLE_FILE,
    EXAMPLE_TARGET,
    SUFFIXES,
    Data,
    ReadInfo,
    example_path,
    read_data,
    read_table,
)
from vecstudy.learn.descent import Descent, descend, resolve_backend_name
from vecstudy.learn.model_file import (
    MODEL_FORMAT,
    Model,
    check_model,
    model_document,
    model_text,
    predict_with_model,
    write_model,
)
from vecstudy.learn.outputs import output_paths, plot_costs, render_costs
from vecstudy.learn.table import Scaler, Table, check_table, constant_columns, split
from vecstudy.learn.train import (
    DEFAULT_BUDGET,
    DEFAULT_LEARNING_RATE,
    IMAGE_LEARNING_RATE,
    Estimate,
    Run,
    Training,
    check_writable,
    choose_learning_rates,
    describe,
    fit_runs,
    format_table,
    parse_learning_rates,
    prepare,
    results_table,
    write_outputs,
)

if TYPE_CHECKING:
    from vecstudy.learn.estimator import LogisticRegressionGD

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_LEARNING_RATE",
    "EXAMPLE_FILE",
    "EXAMPLE_TARGET",
    "IMAGE_LEARNING_RATE",
    "MODEL_FORMAT",
    "SUFFIXES",
    "BudgetError",
    "Data",
    "DataError",
    "Descent",
    "Estimate",
    "LogisticRegressionGD",
    "Model",
    "ModelFileError",
    "ReadInfo",
    "Run",
    "Scaler",
    "Table",
    "Training",
    "check_model",
    "check_table",
    "check_writable",
    "choose_learning_rates",
    "constant_columns",
    "descend",
    "describe",
    "example_path",
    "fit_runs",
    "format_table",
    "model_document",
    "model_text",
    "output_paths",
    "parse_learning_rates",
    "plot_costs",
    "predict_with_model",
    "prepare",
    "read_data",
    "read_table",
    "render_costs",
    "resolve_backend_name",
    "results_table",
    "split",
    "write_model",
    "write_outputs",
]


def __getattr__(name: str) -> object:
    """``LogisticRegressionGD`` imports scikit-learn on first use only."""
    if name == "LogisticRegressionGD":
        from vecstudy.learn.estimator import LogisticRegressionGD

        return LogisticRegressionGD
    raise AttributeError(f"module 'vecstudy.learn' has no attribute {name!r}")
