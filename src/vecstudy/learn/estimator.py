"""The scikit-learn face over the course's gradient descent: :class:`LogisticRegressionGD`.

Needs scikit-learn (``pip install 'vecstudy[learn]'``); the rest of vecstudy does not.

Conventions
-----------
``X`` : (n_samples, n_features), one row per sample, as scikit-learn expects
``y`` : (n_samples,), any two distinct labels; ``classes_[1]`` (the larger in
        sorted order) is the positive class, label 1 for the kernels
The kernels get the transposed view ``X.T``, (n_x, m) with one column per sample as
in the course; the fitted ``coef_`` is ``w.T`` with shape (1, n_features) and
``intercept_`` is ``[b]``.

Model: ``P(y = classes_[1] | x) = sigmoid(x . coef_[0] + intercept_[0])``, trained by
``max_iter`` steps of batch gradient descent from zero weights on the mean
cross-entropy (no regularization, like ``LogisticRegression(penalty=None)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from vecstudy import api, config
from vecstudy.errors import NumericalError
from vecstudy.learn.descent import _descend
from vecstudy.learn.text import _plain, _short
from vecstudy.validation import MAX_ITERATIONS, _check_int, _check_learning_rate

__all__ = ["LogisticRegressionGD"]


class LogisticRegressionGD(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Binary logistic regression by the course's batch gradient descent, any backend.

    Parameters
    ----------
    learning_rate : float, default=0.5
        Step size of each update ``w -= learning_rate * dw``, ``b -= learning_rate * db``.
        0.5 suits standardized features (put a ``StandardScaler`` in front).
    max_iter : int, default=2000
        Number of updates (the course's ``num_iterations``); there is no early stop.
    record_every : int, default=100
        Record the cost every ``record_every`` iterations (into ``costs_``).  Each
        record ends one call of the backend's compiled loop, so a small value
        costs a validation pass over ``X`` per record.
    backend : str or None, default=None
        ``"python"``, ``"numba"``, ``"numpy"``, any registered backend or ``"auto"``;
        ``None`` uses the one in force (:func:`vecstudy.get_backend`).
    dtype : {"float64", "float32"} or None, default=None
        Working precision; ``None``: the config's, else that of ``X``.
    threads : int, "all" or None, default=None
        Threads for Numba and the BLAS during ``fit``; ``None``: the config's.

    Attributes
    ----------
    classes_ : ndarray, shape (2,)
        The two labels seen in ``fit``, sorted.
    coef_ : ndarray, shape (1, n_features)
        Weights ``w.T``.
    intercept_ : ndarray, shape (1,)
        Bias ``b``.
    n_iter_ : int
        Updates applied (``max_iter``).
    costs_ : ndarray, shape (ceil(max_iter / record_every),)
        The cost before updates 0, record_every, 2 * record_every, ...
    backend_ : str
        The backend that ran ``fit`` (``"auto"`` and ``None`` resolved).
    dtype_ : str
        The working precision of ``fit``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, when ``X`` had string column names

    Examples
    --------
    >>> import numpy as np
    >>> from vecstudy import LogisticRegressionGD
    >>> X = np.array([[-2.0, 0.5], [-1.0, 0.0], [1.0, 0.2], [2.0, -0.3]])
    >>> clf = LogisticRegressionGD(max_iter=200, backend="numpy").fit(X, ["no", "no", "yes", "yes"])
    >>> clf.predict([[1.5, 0.0]]).tolist(), clf.coef_.shape, clf.intercept_.shape
    (['yes'], (1, 2), (1,))
    """

    def __init__(
        self,
        *,
        learning_rate: float = 0.5,
        max_iter: int = 2000,
        record_every: int = api.RECORD_EVERY,
        backend: str | None = None,
        dtype: str | None = None,
        threads: int | str | None = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.record_every = record_every
        self.backend = backend
        self.dtype = dtype
        self.threads = threads

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _check_params(self) -> tuple[float, int, int]:
        """The learning rate, ``max_iter`` and ``record_every``, checked (once per fit)."""
        lr = _check_learning_rate(self.learning_rate)
        n_iter = _check_int(self.max_iter, "max_iter", 1, MAX_ITERATIONS)
        every = _check_int(self.record_every, "record_every", 1, MAX_ITERATIONS)
        if self.backend is not None:
            config.check_backend(self.backend, "parameter backend=")
        if self.dtype is not None:
            config.resolve_dtype(self.dtype)
        if self.threads is not None:
            config.resolve_threads(self.threads)
        return lr, n_iter, every

    def fit(self, X: ArrayLike, y: ArrayLike) -> LogisticRegressionGD:
        """Run ``max_iter`` steps of gradient descent from zero weights on ``(X, y)``.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        y : array_like, shape (n_samples,), exactly two distinct labels

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Bad parameters, bad ``X`` (NaN, infinite, sparse, empty), ``y`` without
            exactly two classes.
        vecstudy.DivergenceError
            If an update would make the parameters non-finite (``learning_rate``
            too large for this data: standardize ``X`` or lower it).
        """
        checked = self._check_params()
        saved = dict(self.__dict__)  # validate_data sets n_features_in_, feature_names_in_
        try:
            return self._fit(X, y, *checked)
        except BaseException:  # a failed or interrupted fit leaves the estimator as it was
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fit(
        self, X: ArrayLike, y: ArrayLike, lr: float, n_iter: int, every: int
    ) -> LogisticRegressionGD:
        Xv, yv = validate_data(self, X, y, dtype=[np.float64, np.float32])
        Xa: NDArray[np.floating[Any]] = np.asarray(Xv)
        ya: NDArray[Any] = np.asarray(yv)
        check_classification_targets(ya)
        classes = np.unique(ya)
        if len(classes) != 2:
            kind = type_of_target(ya)
            shown = ", ".join(_short(_plain(c)) for c in classes[:5])
            raise ValueError(
                f"{type(self).__name__} is a binary classifier: y must have exactly 2 classes; "
                f"found {len(classes)} class(es) [{shown}{', ...' if len(classes) > 5 else ''}] "
                f"(target type {kind}). Only binary classification is supported."
            )
        y01 = (ya == classes[1]).astype(Xa.dtype)
        # the parameters were checked by fit; X and y are checked once, in _descend
        result = _descend(
            Xa.T,
            y01,
            n_iter,
            every,
            lr,
            backend=self.backend,
            dtype=self.dtype,
            threads=self.threads,
        )
        # fitted attributes only now, after the descent succeeded
        self.classes_ = classes
        self.coef_ = result.w.reshape(1, -1)
        self.intercept_ = np.array([result.b], dtype=result.w.dtype)
        self.n_iter_ = result.n_iter
        self.costs_ = result.costs
        self.backend_ = result.backend
        self.dtype_ = result.dtype
        return self

    def decision_function(self, X: ArrayLike) -> NDArray[np.floating[Any]]:
        """``z = X coef_.T + intercept_``: shape (n_samples,); positive means ``classes_[1]``.

        Raises
        ------
        vecstudy.NumericalError
            If ``z`` overflows the working dtype for some row (the inputs are finite,
            but the sum is not): its sign, so the label and the probability, would be
            meaningless.  :func:`vecstudy.predict` raises the same for the same numbers.
        """
        check_is_fitted(self)
        Xv = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        coef = self.coef_[0].astype(np.result_type(Xv.dtype, self.coef_.dtype))
        with np.errstate(over="ignore", invalid="ignore"):
            z = np.asarray(Xv @ coef + self.intercept_[0])
        bad = np.flatnonzero(~np.isfinite(z))
        if bad.size:
            raise NumericalError(
                f"z = X coef_.T + intercept_ overflowed (came out non-finite in {z.dtype}) for "
                f"{bad.size} of {z.size} samples (the first is sample {int(bad[0])}); a "
                "prediction from it would be meaningless; scale X (standardize its features)"
            )
        return z

    def predict_proba(self, X: ArrayLike) -> NDArray[np.floating[Any]]:
        """``[1 - sigmoid(z), sigmoid(z)]``: shape (n_samples, 2), columns in ``classes_`` order."""
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict_log_proba(self, X: ArrayLike) -> NDArray[np.floating[Any]]:
        """Log of :meth:`predict_proba`, computed stably: ``[-log1p(e^z), -log1p(e^-z)]``."""
        z = self.decision_function(X)
        return np.column_stack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)])

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """``classes_[1]`` where ``sigmoid(z) > 0.5`` (``z > 0``), else ``classes_[0]``."""
        z = self.decision_function(X)
        return np.asarray(self.classes_[(z > 0).astype(np.intp)])
