"""From a table to arrays a descent can use: checks, a stratified split, standardization.

:func:`check_table` picks the features and the target with one clear error for each
problem; :func:`split` draws a seeded, stratified test part; :class:`Scaler`
standardizes with the training rows' statistics (``ddof=0``, as scikit-learn's
``StandardScaler``), without overflowing near the largest double.

Conventions: ``X`` is ``(n_samples, n_features)``, as in scikit-learn; the positive
class (label 1 for the kernels) is the larger of the two target values in sorted
order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from vecstudy.errors import DataError as DataError
from vecstudy.learn.text import _joined, _names, _plain, _short

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Table:
    """Checked data: features as floats, the target as labels 0/1 and its two values."""

    features: list[str]
    X: NDArray[np.float64]  # (n_samples, n_features)
    labels: NDArray[Any]  # (n_samples,) the target as read
    classes: list[Any]  # the two target values, sorted; classes[1] is the positive one
    y: NDArray[np.float64]  # (n_samples,) 1.0 where labels == classes[1]


def check_table(df: pd.DataFrame, target: str, *, drop: Sequence[str] = ()) -> Table:
    """Pick the features and the target, with one clear error for each problem.

    Errors (:class:`DataError`): two columns with one name; unknown target or
    dropped column; no rows; no feature left; non-numeric or complex feature
    columns (named; there is no one-hot encoding); missing values (columns
    named, with counts and the first row); a target with other than two distinct
    values, or with values the model file (JSON) cannot hold.  A target of bytes
    (``b"yes"``) is decoded as UTF-8.  Every name and value in a message is
    bounded in length.
    """
    import pandas as pd

    columns = [str(c) for c in df.columns]
    if len(set(columns)) < len(columns):
        seen: set[str] = set()
        twice: list[str] = []
        for c in columns:
            if c in seen and c not in twice:
                twice.append(c)
            seen.add(c)
        raise DataError(
            f"two or more columns are named {_names(twice)}; each column needs its own name "
            "(rename them)"
        )
    df = df.set_axis(columns, axis=1)
    for name, what in ((target, "--target"), *((d, "--drop-columns") for d in drop)):
        if name not in columns:
            raise DataError(
                f"{what} {_short(name)} is not a column of the data; "
                f"the columns are {_names(columns)}"
            )
    if len(df) == 0:
        raise DataError("the data has no rows")
    features = [c for c in columns if c != target and c not in drop]
    if not features:
        raise DataError(f"the data has no feature columns besides the target {_short(target)}")
    dtypes = dict(zip(columns, df.dtypes, strict=True))  # df[c] per column is slow when wide
    for c in [*features, target]:
        if pd.api.types.is_complex_dtype(dtypes[c]):
            raise DataError(
                f"column {_short(c)} holds complex numbers ({dtypes[c]}); features and "
                "targets must be real: split it into its real and imaginary parts"
            )
    non_numeric = [
        c
        for c in features
        if not (pd.api.types.is_numeric_dtype(dtypes[c]) or pd.api.types.is_bool_dtype(dtypes[c]))
    ]
    if non_numeric:
        found = ", ".join(
            f"{_short(c)} ({df[c].dtype}, e.g. {_example(df[c])})" for c in non_numeric[:5]
        )
        raise DataError(
            f"non-numeric feature columns: {found}"
            + (f" and {len(non_numeric) - 5} more" if len(non_numeric) > 5 else "")
            + "; vecstudy train uses numeric columns only (no one-hot encoding): encode them "
            "as numbers first or leave them out with --drop-columns " + _joined(non_numeric)
        )
    missing = df[[*features, target]].isna()
    if missing.to_numpy().any():
        counts = missing.sum()
        bad = [c for c in [*features, target] if counts[c] > 0]
        detail = ", ".join(
            f"{_short(c)} ({int(counts[c])} rows, first at row "
            f"{int(np.flatnonzero(missing[c])[0])})"
            for c in bad[:5]
        )
        raise DataError(
            f"missing values in {len(bad)} column(s): {detail}; fill or remove those rows first "
            "(rows count from 0, the header not counted)"
        )
    X = df[features].to_numpy(dtype=np.float64)
    if not np.isfinite(X).all():
        row, col = (int(i) for i in np.argwhere(~np.isfinite(X))[0])
        raise DataError(
            f"feature column {_short(features[col])} holds an infinite value (first at row {row})"
        )
    labels = _target_labels(df[target].to_numpy(), target)
    try:
        values, per_value = np.unique(labels, return_counts=True)
    except TypeError:  # e.g. strings beside numbers in one column: no order
        kinds = sorted({type(v).__name__ for v in labels})
        raise DataError(
            f"--target {_short(target)} mixes values of types {', '.join(kinds[:5])}; "
            "a target needs one kind of value (strings, or numbers)"
        ) from None
    if len(values) != 2:
        shown = ", ".join(
            f"{_short(_plain(v))} ({n} rows)"
            for v, n in zip(values[:6], per_value[:6], strict=True)
        )
        raise DataError(
            f"--target {_short(target)} must have exactly two distinct values (binary "
            f"classification); found {len(values)}: {shown}" + (" ..." if len(values) > 6 else "")
        )
    classes = [_plain(v) for v in values]
    for v in classes:
        if not _json_label(v):
            raise DataError(
                f"--target {_short(target)}: its values are of type {type(v).__name__} "
                f"(e.g. {_short(v)}), which the model file (JSON) cannot hold; use strings "
                "or finite numbers as labels"
            )
    y = (labels == values[1]).astype(np.float64)
    return Table(features=features, X=X, labels=labels, classes=classes, y=y)


def _example(col: pd.Series[Any]) -> str:
    """The first non-missing value of a column, bounded, for a message."""
    present = col.dropna()
    return _short(_plain(present.iloc[0])) if len(present) else "(all missing)"


def _target_labels(labels: NDArray[Any], target: str) -> NDArray[Any]:
    """The target's values, with bytes decoded as UTF-8 (they are written to JSON as text).

    Dates and durations are refused: the model file would hold them as numbers.
    """
    if labels.dtype.kind in "mM":
        raise DataError(
            f"--target {_short(target)} holds dates or durations ({labels.dtype}); use strings "
            "or numbers as labels"
        )
    if labels.dtype.kind == "S" or (
        labels.dtype == object and any(isinstance(v, bytes) for v in labels)
    ):
        decoded = np.empty(len(labels), dtype=object)
        for i, v in enumerate(labels):
            if not isinstance(v, bytes):
                decoded[i] = v
                continue
            try:
                decoded[i] = v.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(
                    f"--target {_short(target)}: row {i} holds bytes that are not UTF-8 "
                    f"text ({_short(v)}); labels are written to the model file as text"
                ) from None
        return decoded
    return labels


def _json_label(value: object) -> bool:
    """Whether ``value`` is a label JSON writes and reads back as itself."""
    if isinstance(value, str | bool | int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def split(
    y: NDArray[Any], *, test_size: float, seed: int
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Row indices of the training and the test part, stratified by class, seeded.

    Each class contributes ``round(test_size * its count)`` rows to the test part,
    drawn with ``numpy.random.default_rng(seed)``; indices come back sorted.

    >>> train, test = split(np.array([0, 0, 0, 0, 1, 1, 1, 1]), test_size=0.25, seed=0)
    >>> len(train), len(test)
    (6, 2)
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1 (exclusive); got {_short(test_size)}")
    rng = np.random.default_rng(seed)
    test: list[NDArray[np.intp]] = []
    for value in np.unique(y):
        rows = np.flatnonzero(y == value)
        rng.shuffle(rows)
        test.append(rows[: round(float(test_size) * len(rows))])
    test_rows = np.sort(np.concatenate(test))
    train_rows = np.setdiff1d(np.arange(len(y)), test_rows)
    if len(test_rows) == 0 or np.unique(y[train_rows]).size < 2:
        raise DataError(
            f"{len(y)} rows are too few for --test-size {test_size}: the test part would be "
            "empty or the training part would miss a class"
        )
    return train_rows, test_rows


@dataclass(frozen=True)
class Scaler:
    """``x' = (x - mean) / scale``; statistics of the training rows (``ddof=0``)."""

    mean: NDArray[np.float64]
    scale: NDArray[np.float64]

    @classmethod
    def fit(cls, X: NDArray[np.float64]) -> Scaler:
        """Mean and standard deviation of each column, finite for any finite ``X``.

        Each column is divided by its largest magnitude ``s`` first
        (``mean = s mean(X / s)``, ``scale = s std(X / s)``), so values near the
        largest double (1e308) do not overflow the sums.
        """
        s = np.abs(X).max(axis=0, initial=0.0)
        s = np.where(s > 0, s, 1.0)
        Xs = X / s
        return cls(mean=Xs.mean(axis=0) * s, scale=Xs.std(axis=0) * s)

    def transform(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """``(X - mean) / scale``; entries where ``X - mean`` overflows are computed as
        ``X / scale - mean / scale``."""
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.asarray((X - self.mean) / self.scale, dtype=np.float64)
            bad = ~np.isfinite(out)
            if bad.any():
                alt = X / self.scale - self.mean / self.scale
                out[bad] = np.broadcast_to(alt, out.shape)[bad]
        return out


def constant_columns(X: NDArray[np.float64], features: Sequence[str]) -> list[str]:
    """Names of the columns of ``X`` with a single value (they cannot be standardized)."""
    same = X.max(axis=0, initial=-np.inf) == X.min(axis=0, initial=np.inf)  # ptp overflows
    return [f for f, one in zip(features, same, strict=True) if one]
