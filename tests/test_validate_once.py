"""Each public call validates its arrays once, however many kernel calls it makes."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

import vecstudy
from vecstudy import validation
from vecstudy.learn import descend


class Seen:
    """Counts, per array object, the calls of the validation entry and of the finite scan."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.converted: Counter[int] = Counter()
        self.scanned: Counter[int] = Counter()
        as_real, finite = validation._as_real_array, validation._check_finite

        def as_real_array(value: object, name: str) -> Any:
            self.converted[id(value)] += 1
            return as_real(value, name)

        def check_finite(arr: Any, name: str) -> None:
            self.scanned[id(arr)] += 1
            finite(arr, name)

        monkeypatch.setattr(validation, "_as_real_array", as_real_array)
        monkeypatch.setattr(validation, "_check_finite", check_finite)


def test_model_validates_x_train_once_on_the_course_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """model() on 12288 x 209 (the course's training set): X_train is checked once."""
    rng = np.random.default_rng(0)
    X_train, X_test = rng.random((12288, 209)), rng.random((12288, 50))
    Y_train, Y_test = (rng.random((1, 209)) > 0.5) * 1.0, (rng.random((1, 50)) > 0.5) * 1.0
    seen = Seen(monkeypatch)
    d = vecstudy.model(X_train, Y_train, X_test, Y_test, 3, 0.005, backend="numpy")
    assert seen.converted[id(X_train)] == 1
    assert seen.scanned[id(X_train)] == 1
    assert seen.converted[id(X_test)] == 1
    assert seen.converted[id(Y_train)] == 1
    # and the result is the one the public functions give, call by call
    w, b = vecstudy.initialize_with_zeros(12288)
    params, _, costs = vecstudy.optimize(w, b, X_train, Y_train, 3, 0.005, backend="numpy")
    np.testing.assert_array_equal(d["w"], params["w"])
    assert d["costs"] == costs
    np.testing.assert_array_equal(
        d["Y_prediction_test"], vecstudy.predict(params["w"], params["b"], X_test, backend="numpy")
    )


def test_descend_validates_once_for_all_its_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    XT, y = rng.normal(size=(5, 40)), (rng.random(40) > 0.5) * 1.0
    want = descend(XT, y, max_iter=60, learning_rate=0.1, record_every=100, backend="numpy")
    seen = Seen(monkeypatch)
    got = descend(XT, y, max_iter=60, learning_rate=0.1, record_every=10, backend="numpy")
    assert seen.converted[id(XT)] == 1  # six calls of the kernel, one check
    assert seen.converted[id(y)] == 1
    np.testing.assert_array_equal(got.w, want.w)
    assert got.costs.shape == (6,)


def test_the_estimator_validates_its_data_once_per_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sklearn")
    from vecstudy.learn.estimator import LogisticRegressionGD

    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(40, 3)), np.arange(40) % 2
    seen = Seen(monkeypatch)
    clf = LogisticRegressionGD(max_iter=50, record_every=10, backend="numpy").fit(X, y)
    assert clf.costs_.shape == (5,)
    assert sum(seen.converted.values()) == 2  # X.T and y, once each for five slices
