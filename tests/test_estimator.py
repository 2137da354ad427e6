"""LogisticRegressionGD: scikit-learn's estimator checks for every backend, pipelines, accuracy."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import vecstudy
from vecstudy import backends
from vecstudy.learn.estimator import LogisticRegressionGD


def _usable(name: str) -> bool:
    try:
        backends.load(name)
    except ImportError:  # an optional dependency is missing (BackendUnavailable)
        return False
    return True


USABLE = [name for name in backends.available_backends() if _usable(name)]
#: The estimator checks fit dozens of times: few iterations keep the python loop quick.
#: The python loop needs about a minute for 2000 iterations on breast-cancer; it is
#: held to the others by test_fitted_attributes_match_the_course_optimize.
COMPILED = [name for name in USABLE if name != "python"]
CHECK_INSTANCES = [
    LogisticRegressionGD(backend=name, max_iter=60, record_every=20) for name in USABLE
]


@parametrize_with_checks(CHECK_INSTANCES)
def test_sklearn_estimator_checks(estimator: LogisticRegressionGD, check) -> None:  # type: ignore[no-untyped-def]
    check(estimator)


@pytest.mark.parametrize("name", backends.available_backends())
def test_every_registered_backend_is_checked(name: str) -> None:
    if name not in USABLE:
        pytest.skip(f"backend {name!r} cannot be loaded here (optional dependency missing)")
    assert any(est.backend == name for est in CHECK_INSTANCES)


def test_export_is_lazy_and_the_same_class() -> None:
    assert vecstudy.LogisticRegressionGD is LogisticRegressionGD
    assert "LogisticRegressionGD" in vecstudy.__all__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = vecstudy.nope  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- shapes, labels
def _blobs(m: int = 80, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 3))
    y = (X @ np.array([1.5, -2.0, 0.5]) + 0.3 * rng.standard_normal(m) > 0).astype(int)
    return X, y


@pytest.mark.parametrize("name", USABLE)
def test_fitted_attributes_match_the_course_optimize(name: str) -> None:
    X, y = _blobs()
    clf = LogisticRegressionGD(backend=name, max_iter=250, learning_rate=0.1).fit(X, y)
    params, _, costs = vecstudy.optimize(
        np.zeros((3, 1)), 0.0, X.T, y[None, :], 250, 0.1, backend=name
    )
    assert clf.coef_.shape == (1, 3)
    assert clf.intercept_.shape == (1,)
    assert clf.n_iter_ == 250
    assert clf.backend_ == name
    np.testing.assert_allclose(clf.coef_[0], params["w"][:, 0], rtol=1e-12)
    np.testing.assert_allclose(clf.intercept_[0], params["b"], rtol=1e-12)
    np.testing.assert_allclose(clf.costs_, costs, rtol=1e-12)  # iterations 0, 100, 200


def test_any_two_labels_and_probabilities() -> None:
    X, y = _blobs()
    labels = np.where(y == 1, "yes", "no")
    clf = LogisticRegressionGD(backend="numpy", max_iter=300).fit(X, labels)
    assert clf.classes_.tolist() == ["no", "yes"]
    proba = clf.predict_proba(X)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    z = clf.decision_function(X)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-10, atol=1e-12)
    assert (clf.predict(X) == np.where(z > 0, "yes", "no")).all()
    assert clf.score(X, labels) > 0.9


def test_costs_recorded_every_record_every_iterations() -> None:
    X, y = _blobs()
    clf = LogisticRegressionGD(backend="numpy", max_iter=95, record_every=10).fit(X, y)
    assert clf.costs_.shape == (10,)  # before updates 0, 10, ..., 90
    assert clf.costs_[0] == pytest.approx(np.log(2))
    assert np.all(np.diff(clf.costs_) < 0)


def test_float32_fit_keeps_float32() -> None:
    X, y = _blobs()
    clf = LogisticRegressionGD(backend="numpy", dtype="float32", max_iter=50).fit(X, y)
    assert clf.coef_.dtype == np.float32
    assert clf.costs_.dtype == np.float32
    assert clf.dtype_ == "float32"


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"learning_rate": -1.0}, "learning_rate must be finite and > 0"),
        ({"learning_rate": "fast"}, "learning_rate must be a real number"),
        ({"max_iter": 0}, "max_iter must be >= 1"),
        ({"max_iter": 2.5}, "max_iter must be an integer"),
        ({"record_every": 0}, "record_every must be >= 1"),
        ({"backend": "fortran"}, "unknown backend 'fortran' from parameter backend="),
        ({"dtype": "float16"}, "unknown dtype 'float16'"),
        ({"threads": 0}, "threads"),
    ],
)
def test_bad_parameters_are_named_at_fit(params: dict[str, object], match: str) -> None:
    X, y = _blobs()
    clf = LogisticRegressionGD(**params)  # never validated in __init__
    with pytest.raises((ValueError, TypeError), match=match):
        clf.fit(X, y)


def test_three_classes_and_one_class_are_errors() -> None:
    X, _ = _blobs(30)
    with pytest.raises(ValueError, match="exactly 2 classes; found 3"):
        LogisticRegressionGD().fit(X, np.arange(30) % 3)
    with pytest.raises(ValueError, match="found 1 class"):
        LogisticRegressionGD().fit(X, np.ones(30))


def test_divergence_is_reported() -> None:
    X = np.array([[1e300], [-1e300], [1e300]])
    y = np.array([1, 1, 0])
    clf = LogisticRegressionGD(backend="numpy", learning_rate=1e10, max_iter=50, record_every=1)
    with pytest.raises(vecstudy.DivergenceError, match="diverged at iteration") as info:
        clf.fit(X, y)
    err = info.value
    assert err.iteration == 0
    assert len(err.costs) == 1
    assert np.isfinite(err.params["w"]).all()
    assert not hasattr(clf, "coef_")


# --------------------------------------------------------------------------- scikit-learn tools
def test_pipeline_with_scaler_and_grid_search() -> None:
    X, y = _blobs(120)
    X = X * [1.0, 100.0, 1e-3] + [5.0, -300.0, 0.0]  # badly scaled: needs the scaler
    pipe = make_pipeline(StandardScaler(), LogisticRegressionGD(backend="numpy", max_iter=200))
    search = GridSearchCV(pipe, {"logisticregressiongd__learning_rate": [0.001, 0.5]}, cv=3).fit(
        X, y
    )
    assert search.best_params_ == {"logisticregressiongd__learning_rate": 0.5}
    assert search.best_score_ > 0.9
    assert search.score(X, y) > 0.9
    # a clone is unfitted and keeps the parameters unchanged
    est = clone(search.best_estimator_[-1])
    assert est.get_params()["learning_rate"] == 0.5
    assert not hasattr(est, "coef_")


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[np.ndarray, ...]:
    from vecstudy.learn import split

    X, y = load_breast_cancer(return_X_y=True)
    train, test = split(y, test_size=0.2, seed=0)  # the split `vecstudy train` makes
    scaler = StandardScaler().fit(X[train])
    return scaler.transform(X[train]), scaler.transform(X[test]), y[train], y[test]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", COMPILED)
def test_breast_cancer_reaches_scikit_learn_accuracy(
    breast_cancer: tuple[np.ndarray, ...], name: str, dtype: str
) -> None:
    """Standardized, 2000 iterations, lr 0.5: test accuracy within 0.5 pp of (or above)
    scikit-learn's unpenalized LogisticRegression fitted to convergence."""
    X_train, X_test, y_train, y_test = breast_cancer
    reference = LogisticRegression(C=np.inf, max_iter=10_000).fit(X_train, y_train)
    expected = reference.score(X_test, y_test)
    clf = LogisticRegressionGD(backend=name, dtype=dtype, max_iter=2000, learning_rate=0.5)
    got = clf.fit(X_train, y_train).score(X_test, y_test)
    assert got >= expected - 0.005, (got, expected)
    # and the decisions agree on nearly every test sample
    agree = np.mean(clf.predict(X_test) == reference.predict(X_test))
    assert agree >= 0.95


def test_estimator_benchmark_runs_once() -> None:
    """benchmarks/bench_estimator.py: setup, time_fit and track_test_accuracy for numpy."""
    import importlib
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    suite = importlib.import_module("benchmarks.bench_estimator")
    assert suite.FitBreastCancer.params[0] == list(backends.available_backends())
    bench = suite.FitBreastCancer()
    bench.setup("numpy", "float64", 1)
    try:
        bench.time_fit("numpy", "float64", 1)
        assert bench.track_test_accuracy("numpy", "float64", 1) > 0.9
    finally:
        bench.teardown("numpy", "float64", 1)
    with pytest.raises(NotImplementedError, match="python loop"):
        bench.setup("python", "float64", 1)
    bench.teardown("python", "float64", 1)


# --------------------------------------------------------------------------- faults
def test_z_that_overflows_raises_numerical_error_as_vecstudy_predict_does() -> None:
    X, y = _blobs()
    clf = LogisticRegressionGD(backend="numpy", max_iter=20).fit(X[:, :2], np.where(y, "b", "a"))
    clf.coef_ = np.array([[3.0, -2.0]])
    clf.intercept_ = np.array([0.0])
    row = np.array([[1e308, 1e308]])  # z = 1e308 exactly; 3e308 - 2e308 overflows to nan
    for method in (clf.predict, clf.predict_proba, clf.predict_log_proba, clf.decision_function):
        with pytest.raises(vecstudy.NumericalError, match=r"overflowed .*the first is sample 0"):
            method(row)
    with pytest.raises(vecstudy.NumericalError):
        vecstudy.predict(clf.coef_.T, 0.0, row.T, backend="numpy")
    big = np.array([[1e300, 0.0]])  # z = 3e300: finite, so an exact answer
    assert clf.predict(big).tolist() == ["b"]
    np.testing.assert_array_equal(clf.predict_proba(big), [[0.0, 1.0]])
    assert vecstudy.predict(clf.coef_.T, 0.0, big.T, backend="numpy").tolist() == [[1.0]]


def _fitted_state(clf: LogisticRegressionGD) -> dict[str, object]:
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in vars(clf).items()}


def test_a_failed_refit_leaves_the_estimator_as_it_was() -> None:
    pd = pytest.importorskip("pandas")
    X, y = _blobs()
    frame = pd.DataFrame(X, columns=["p", "q", "r"])
    clf = LogisticRegressionGD(backend="numpy", max_iter=50, learning_rate=1e10, record_every=1)
    clf.set_params(learning_rate=0.5).fit(frame, np.where(y, "yes", "no"))
    before = _fitted_state(clf)
    clf.set_params(learning_rate=1e10)
    with pytest.raises(vecstudy.DivergenceError):  # new classes, one feature, no names
        clf.fit(np.array([[1e300], [-1e300], [1e300]]), np.array(["c", "c", "d"]))
    after = _fitted_state(clf)
    after["learning_rate"] = 0.5
    assert after.keys() == before.keys()
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=key)
    assert clf.classes_.tolist() == ["no", "yes"]
    assert clf.predict(frame.iloc[:3]).shape == (3,)  # still usable with the old names


def test_class_labels_in_errors_are_bounded() -> None:
    X, _ = _blobs(30)
    labels = np.resize(["x" * 100_000, "b", "c"], 30)
    with pytest.raises(ValueError, match="found 3 class") as info:
        LogisticRegressionGD(backend="numpy").fit(X, labels)
    assert len(str(info.value)) < 500
    assert "(100000 characters)" in str(info.value)
