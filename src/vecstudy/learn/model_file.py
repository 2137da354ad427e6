"""The model file of ``vecstudy train``: written as strict JSON, checked field by field when read.

:func:`model_document` gathers the fitted models of a training (format
:data:`MODEL_FORMAT`), :func:`write_model` writes them atomically;
:func:`check_model` checks a document read back (it is input from disk: every field
a prediction uses, and every other field present) and :func:`predict_with_model`
applies one of its models to new rows.  Errors name the field
(``models[1].coef[3]``): :class:`~vecstudy.errors.ModelFileError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

from vecstudy._version import __version__
from vecstudy.errors import ModelFileError as ModelFileError
from vecstudy.errors import NumericalError
from vecstudy.learn.table import Scaler, _json_label
from vecstudy.learn.text import _clip, _short

if TYPE_CHECKING:
    from vecstudy.learn.runs import Training

#: Layout of the model file written by :func:`write_model`.
MODEL_FORMAT: Final = "vecstudy-logistic-regression-1"


def model_document(training: Training) -> dict[str, Any]:
    """The fitted models as a JSON-ready dict (format :data:`MODEL_FORMAT`).

    To predict a new row ``x`` (features in the order of ``features``)::

        z = intercept + sum_i coef_i * (x_i - scaler.mean_i) / scaler.scale_i
        label = classes[1] if z > 0 else classes[0];  P(classes[1]) = 1 / (1 + exp(-z))
    """
    t = training.table
    return {
        "format": MODEL_FORMAT,
        "vecstudy": __version__,
        "data": training.source,
        "target": training.target,
        "classes": t.classes,
        "features": t.features,
        "dropped_constant_columns": training.dropped,
        "n_train": len(training.train_rows),
        "n_test": len(training.test_rows),
        "settings": training.settings,
        "scaler": {"mean": training.scaler.mean.tolist(), "scale": training.scaler.scale.tolist()},
        "models": [
            {
                "backend": r.backend,
                "dtype": r.descent.dtype,
                "learning_rate": r.learning_rate,
                "n_iter": r.descent.n_iter,
                "coef": [float(v) for v in r.descent.w],
                "intercept": r.descent.b,
                "train_accuracy": r.train_accuracy,
                "test_accuracy": r.test_accuracy,
                "final_cost": r.final_cost,
                "fit_seconds": r.descent.seconds,
                "costs": [float(c) for c in r.descent.costs],
            }
            for r in training.runs
        ],
    }


@dataclass(frozen=True)
class Model:
    """One checked model of a model document: what :func:`predict_with_model` applies."""

    classes: list[Any]  # two labels; classes[1] where z > 0
    features: list[str] | None  # names of the columns of X, when the document has them
    mean: NDArray[np.float64]  # (n_features,)
    scale: NDArray[np.float64]  # (n_features,), each > 0
    coef: NDArray[np.float64]  # (n_features,)
    intercept: float


def _field(mapping: Any, key: str, where: str) -> Any:
    if key not in mapping:
        raise ModelFileError(f"model file: {where}{key} is missing")
    return mapping[key]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_field(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
    positive: bool = False,
) -> float:
    kind = "an integer" if integer else "a number"
    if not _is_number(value) or (integer and not isinstance(value, int)):
        raise ModelFileError(
            f"model file: {name} must be {kind}; got {type(value).__name__} {_short(value)}"
        )
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the largest double
        number = math.inf
    if not math.isfinite(number):
        raise ModelFileError(f"model file: {name} must be finite; got {_short(value)}")
    if positive and not number > 0:
        raise ModelFileError(f"model file: {name} must be > 0; got {_short(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ModelFileError(
            f"model file: {name} must be between {low} and {high}; got {_short(value)}"
        )
    return number


def _vector_field(value: Any, name: str, *, positive: bool = False) -> NDArray[np.float64]:
    if not isinstance(value, list | tuple):
        raise ModelFileError(
            f"model file: {name} must be a list of numbers; got {type(value).__name__}"
        )
    for i, v in enumerate(value):
        _number_field(v, f"{name}[{i}]", positive=positive)
    return np.asarray(value, dtype=np.float64).reshape(-1)


def _string_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ModelFileError(f"model file: {name} must be a list of strings")
    return list(value)


def check_model(document: Any, *, model: int = 0) -> Model:
    """Check a whole model document (as :func:`model_document` writes it) and pick one model.

    A model file is input from disk: every field a prediction uses is checked
    (``classes``: exactly two distinct labels, strings or finite numbers;
    ``scaler.mean`` and ``scaler.scale``: finite numbers, one per feature, every
    scale > 0; ``models``: a non-empty list whose every entry has a ``coef`` of
    finite numbers, one per feature, and a finite ``intercept``), and so is every
    other field that is present (``format``, ``features``, ``target``, the counts
    and each model's scores and costs).  ``model`` must index ``models``.

    Raises
    ------
    ModelFileError
        Naming the field (``models[1].coef[3]``) and what was wrong.
    """
    if not isinstance(document, Mapping):
        raise ModelFileError(
            f"model file: the document must be a JSON object; got {type(document).__name__}"
        )
    if "format" in document and document["format"] != MODEL_FORMAT:
        raise ModelFileError(
            f"model file: format is {_short(document['format'])}; expected {MODEL_FORMAT!r}"
        )
    classes = _field(document, "classes", "")
    if not isinstance(classes, list | tuple) or len(classes) != 2:
        got = (
            f"{len(classes)} values"
            if isinstance(classes, list | tuple)
            else type(classes).__name__
        )
        raise ModelFileError(
            f"model file: classes must be a list of exactly two labels (binary); got {got}"
        )
    for i, c in enumerate(classes):
        if not _json_label(c):
            raise ModelFileError(
                f"model file: classes[{i}] must be a string or a finite number; "
                f"got {type(c).__name__} {_short(c)}"
            )
    if classes[0] == classes[1]:
        raise ModelFileError(f"model file: the two classes are equal ({_short(classes[0])})")
    scaler = _field(document, "scaler", "")
    if not isinstance(scaler, Mapping):
        raise ModelFileError("model file: scaler must be an object with mean and scale")
    mean = _vector_field(_field(scaler, "mean", "scaler."), "scaler.mean")
    scale = _vector_field(_field(scaler, "scale", "scaler."), "scaler.scale", positive=True)
    n = len(mean)
    if n == 0:
        raise ModelFileError("model file: scaler.mean is empty; a model needs one feature or more")
    if len(scale) != n:
        raise ModelFileError(
            f"model file: scaler.scale has {len(scale)} values but scaler.mean has {n}"
        )
    features = None
    if "features" in document:
        features = _string_list(document["features"], "features")
        if len(features) != n:
            raise ModelFileError(
                f"model file: features has {len(features)} names but the scaler has {n} values"
            )
    if "target" in document and not isinstance(document["target"], str):
        raise ModelFileError("model file: target must be a string")
    if "dropped_constant_columns" in document:
        _string_list(document["dropped_constant_columns"], "dropped_constant_columns")
    for key in ("n_train", "n_test"):
        if key in document:
            _number_field(document[key], key, integer=True, low=0)
    models = _field(document, "models", "")
    if not isinstance(models, list | tuple) or not models:
        raise ModelFileError("model file: models must be a non-empty list of models")
    checked: list[tuple[NDArray[np.float64], float]] = []
    for k, entry in enumerate(models):
        where = f"models[{k}]"
        if not isinstance(entry, Mapping):
            raise ModelFileError(f"model file: {where} must be an object with coef and intercept")
        coef = _vector_field(_field(entry, "coef", f"{where}."), f"{where}.coef")
        if len(coef) != n:
            raise ModelFileError(
                f"model file: {where}.coef has {len(coef)} values but the scaler has {n}"
            )
        intercept = _number_field(_field(entry, "intercept", f"{where}."), f"{where}.intercept")
        for key in ("backend", "dtype"):
            if key in entry and not isinstance(entry[key], str):
                raise ModelFileError(f"model file: {where}.{key} must be a string")
        if "learning_rate" in entry:
            _number_field(entry["learning_rate"], f"{where}.learning_rate", positive=True)
        if "n_iter" in entry:
            _number_field(entry["n_iter"], f"{where}.n_iter", integer=True, low=0)
        for key in ("train_accuracy", "test_accuracy"):
            if key in entry:
                _number_field(entry[key], f"{where}.{key}", low=0, high=1)
        for key in ("final_cost", "fit_seconds"):
            if key in entry:
                _number_field(entry[key], f"{where}.{key}", low=0)
        if "costs" in entry:
            _vector_field(entry["costs"], f"{where}.costs")
        checked.append((coef, intercept))
    if not isinstance(model, int) or isinstance(model, bool) or not 0 <= model < len(models):
        raise ValueError(
            f"model must be an integer from 0 to {len(models) - 1} (the file holds "
            f"{len(models)} models); got {_short(model)}"
        )
    coef, intercept = checked[model]
    return Model(
        classes=list(classes),
        features=features,
        mean=mean,
        scale=scale,
        coef=coef,
        intercept=intercept,
    )


def predict_with_model(document: Any, X: Any, *, model: int = 0) -> NDArray[Any]:
    """Labels for the rows of ``X`` (n_samples, n_features) from a model document.

    The document is checked first (:func:`check_model`); ``X`` must be a 2-D table
    of finite real numbers, one column per feature of the model.

    Raises
    ------
    ModelFileError
        A field of the document is missing or wrong (named).
    ValueError
        ``X`` has the wrong shape, is not numeric, or a row holds NaN or infinity
        (the row and the column are named).
    vecstudy.NumericalError
        ``z`` overflows for some row (its sign, so the label, would be meaningless),
        as :func:`vecstudy.predict` does.

    >>> doc = {"classes": ["no", "yes"], "scaler": {"mean": [1.0], "scale": [2.0]},
    ...        "models": [{"coef": [3.0], "intercept": 0.0}]}
    >>> predict_with_model(doc, [[0.0], [4.0]]).tolist()
    ['no', 'yes']
    """
    m = check_model(document, model=model)
    n = len(m.mean)
    try:
        raw = np.asarray(X)
    except ValueError:  # ragged rows
        raise ValueError(f"X must be a 2-D table (n_samples, {n}) of numbers") from None
    if raw.dtype.kind == "c":
        raise ValueError("X holds complex numbers; the model takes real features")
    try:
        Xa = raw.astype(np.float64)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"X must hold numbers only; converting it to float64 failed: {_clip(str(exc), 120)}"
        ) from None
    if Xa.ndim != 2 or Xa.shape[1] != n:
        raise ValueError(f"X must have shape (n_samples, {n}) to match the model; got {Xa.shape}")
    bad = ~np.isfinite(Xa)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        name = f" ({_short(m.features[col])})" if m.features is not None else ""
        raise ValueError(
            f"X row {row} holds {Xa[row, col]} in column {col}{name} ({int(bad.any(axis=1).sum())} "
            "rows hold NaN or infinity); fill or remove those rows first"
        )
    Xs = Scaler(mean=m.mean, scale=m.scale).transform(Xa)
    with np.errstate(over="ignore", invalid="ignore"):
        z = Xs @ m.coef + m.intercept
    overflow = np.flatnonzero(~np.isfinite(z))
    if overflow.size:
        raise NumericalError(
            f"z = intercept + coef . (x - mean) / scale overflowed (came out non-finite in "
            f"float64) for {overflow.size} of {len(z)} rows (the first is row "
            f"{int(overflow[0])}); a label from it would be meaningless"
        )
    return np.asarray(np.asarray(m.classes, dtype=object)[(z > 0).astype(np.intp)])


def model_text(training: Training) -> str:
    """:func:`model_document` as strict JSON text (no NaN or infinity).

    Raises
    ------
    ValueError
        If the document holds a value JSON cannot hold (checked up front by
        :func:`vecstudy.learn.train.check_writable`, before any training).
    """
    try:
        return json.dumps(model_document(training), indent=1, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the model cannot be written as JSON: {_clip(str(exc))}") from None


def write_model(training: Training, path: Path) -> Path:
    """Write :func:`model_document` as JSON, atomically."""
    from vecstudy.records.results import atomic_write_text

    atomic_write_text(path, model_text(training))
    return path
