"""scikit-learn as the oracle: same classes on every sample, same final cost to 1e-6."""

from __future__ import annotations

import numpy as np
import pytest

import vecstudy

FEATURES = ["mean radius", "mean texture", "mean smoothness", "mean compactness"]


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    names = list(data.feature_names)
    F = data.data[:, [names.index(n) for n in FEATURES]]
    F = (F - F.mean(axis=0)) / F.std(axis=0)
    return F, data.target.astype(float)


@pytest.fixture(scope="module")
def sklearn_fit(breast_cancer: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    F, y = breast_cancer
    # C=inf: no regularization (penalty=None is deprecated from scikit-learn 1.8).
    clf = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(F, y)
    p = clf.predict_proba(F)[:, 1]
    cost = float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))
    return clf.predict(F), cost


def test_matches_sklearn(
    backend: str,
    breast_cancer: tuple[np.ndarray, np.ndarray],
    sklearn_fit: tuple[np.ndarray, float],
) -> None:
    F, y = breast_cancer
    X, Y = F.T.copy(), y[None, :]
    sk_pred, sk_cost = sklearn_fit
    w, b = vecstudy.initialize_with_zeros(X.shape[0])
    params, _, costs = vecstudy.optimize(w, b, X, Y, 2000, 1.0, backend=backend)
    _, final_cost = vecstudy.propagate(params["w"], params["b"], X, Y, backend=backend)
    pred = vecstudy.predict(params["w"], params["b"], X, backend=backend)
    np.testing.assert_array_equal(pred[0], sk_pred)
    assert abs(final_cost - sk_cost) < 1e-6
    assert len(costs) == 20
