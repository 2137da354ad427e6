"""`vecstudy train` on the course's data, errors that teach, slow-run guards, progress.

The course's files are built here with its keys, shapes and dtypes (few samples):
``train_set_x`` (m, 64, 64, 3) uint8, ``train_set_y`` (m,) int64, ``list_classes``
[b'non-cat', b'cat'].  Timing tests use tiny budgets, thresholds of 0 or a fake clock.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vecstudy
from vecstudy import api, backends
from vecstudy.cli import IMAGE_LEARNING_RATE, TRAIN_BUDGET, main
from vecstudy.datasets import flatten
from vecstudy.learn import descent, train

CLASSES = np.array([b"non-cat", b"cat"], dtype="S7")


def course_arrays(m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images a model can tell apart (cats are darker), with a constant corner pixel."""
    rng = np.random.default_rng(seed)
    y = np.resize(np.array([0, 1], dtype=np.int64), m)
    rng.shuffle(y)
    x = rng.integers(0, 256, size=(m, 64, 64, 3), dtype=np.uint8)
    x[y == 1] //= 2
    x[:, 0, 0, :] = 7  # the same in every image: cannot be standardized
    return x, y


def write_course(directory: Path, m_train: int = 8, m_test: int = 4, test: bool = True) -> Path:
    h5py = pytest.importorskip("h5py")
    directory.mkdir(parents=True, exist_ok=True)
    xtr, ytr = course_arrays(m_train, 0)
    with h5py.File(directory / "train_catvnoncat.h5", "w") as f:
        f["train_set_x"], f["train_set_y"], f["list_classes"] = xtr, ytr, CLASSES
    if test:
        xte, yte = course_arrays(m_test, 1)
        with h5py.File(directory / "test_catvnoncat.h5", "w") as f:
            f["test_set_x"], f["test_set_y"], f["list_classes"] = xte, yte, CLASSES
    return directory / "train_catvnoncat.h5"


def _usable(name: str) -> bool:
    try:
        backends.load(name)
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- 1. the course's data
def test_train_on_the_course_file_finds_keys_test_file_and_class_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_course(tmp_path / "datasets")
    out = tmp_path / "out"
    args = ["train", str(data), "--backends", "numpy", "--iterations", "30"]
    assert main([*args, "--output-dir", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert (
        "flattened train_set_x (8, 64, 64, 3) uint8 to 8 samples x 12288 features, "
        "scaled by 1/255 as in the course"
    ) in text
    assert "test part: test_catvnoncat.h5 beside it (4 samples)" in text
    assert "8 training / 4 test rows (the test rows from test_catvnoncat.h5)" in text
    assert "train_catvnoncat.h5 with its test file: 12 rows, 12288 features" in text
    assert "target 'train_set_y': non-cat (6 rows), cat (6 rows) (positive class: cat)" in text
    assert "features not standardized" in text
    doc = json.loads((out / "train_catvnoncat.h5-model.json").read_text())
    assert doc["classes"] == ["non-cat", "cat"]  # label 1 is a cat, as in the course
    assert doc["target"] == "train_set_y"
    assert doc["n_train"] == 8
    assert doc["n_test"] == 4
    assert doc["models"][0]["learning_rate"] == float(IMAGE_LEARNING_RATE)
    assert len(doc["models"][0]["coef"]) == 12288
    assert doc["scaler"]["mean"] == [0.0] * 12288  # not standardized: the identity
    assert doc["scaler"]["scale"] == [1.0] * 12288
    assert doc["dropped_constant_columns"] == []  # the constant corner pixel is kept
    # the model file alone, on the course's flatten(x) / 255 columns, gives the test accuracy
    xte, yte = course_arrays(4, 1)
    pred = train.predict_with_model(doc, flatten(xte).T)
    names = np.array(["non-cat", "cat"])[yte]
    assert np.mean(pred == names) == doc["models"][0]["test_accuracy"]


def test_training_on_the_course_file_is_the_course_model(tmp_path: Path) -> None:
    """The weights equal vecstudy.model's on the course's flatten(x) / 255 arrays."""
    data = train.read_data(write_course(tmp_path))
    assert data.test is not None
    training = train.prepare(
        data.frame,
        data.target,
        test=data.test,
        class_names=data.info.class_names,
        standardize=not data.info.images,
    )
    train.fit_runs(training, backends=["numpy"], learning_rates=[0.005], max_iter=300)
    xtr, ytr = course_arrays(8, 0)
    xte, yte = course_arrays(4, 1)
    d = vecstudy.model(
        flatten(xtr), ytr, flatten(xte), yte, 300, 0.005, backend="numpy", dtype="float64"
    )
    run = training.runs[0]
    np.testing.assert_allclose(run.descent.w, d["w"].ravel(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(run.descent.costs, d["costs"], rtol=1e-12)
    assert run.test_accuracy == np.mean(d["Y_prediction_test"][0] == yte)


def test_course_file_alone_is_split_and_needs_no_target(tmp_path: Path) -> None:
    data = train.read_data(write_course(tmp_path, m_train=10, test=False))
    assert data.test is None
    assert data.target == "train_set_y"
    assert data.info.class_names == ["non-cat", "cat"]
    assert data.frame.shape == (10, 12288 + 1)
    training = train.prepare(data.frame, data.target, test_size=0.2, standardize=False)
    assert (len(training.train_rows), len(training.test_rows)) == (8, 2)


def test_a_test_file_of_other_images_is_refused(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    path = write_course(tmp_path, test=False)
    with h5py.File(tmp_path / "test_catvnoncat.h5", "w") as f:
        f["test_set_x"] = np.zeros((3, 32, 32, 3), dtype=np.uint8)
        f["test_set_y"] = np.array([0, 1, 0])
    with pytest.raises(train.DataError, match=r"3072 features .* training data has 12288"):
        train.read_data(path)


def test_npz_images_are_flattened_one_row_per_sample_and_uint8_scaled(tmp_path: Path) -> None:
    x = np.random.default_rng(0).integers(0, 256, size=(5, 4, 4, 3), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", X=x, y=np.array([0, 1, 0, 1, 1]), list_classes=CLASSES)
    data = train.read_data(tmp_path / "d.npz")
    assert data.target == "y"  # y beside X
    assert data.info.images
    assert data.info.class_names == ["non-cat", "cat"]
    assert list(data.frame.columns) == [*(f"X[{i}]" for i in range(48)), "y"]
    np.testing.assert_array_equal(data.frame.iloc[:, :48].to_numpy(), x.reshape(5, -1) / 255)
    assert data.info.notes == [
        "flattened X (5, 4, 4, 3) uint8 to 5 samples x 48 features, scaled by 1/255 as in the "
        "course"
    ]
    # floats are flattened, never scaled twice
    np.savez(tmp_path / "f.npz", X=x / 255, y=np.array([0, 1, 0, 1, 1]))
    data = train.read_data(tmp_path / "f.npz")
    np.testing.assert_array_equal(data.frame.iloc[:, :48].to_numpy(), x.reshape(5, -1) / 255)
    assert "(not scaled: not uint8)" in data.info.notes[0]


def test_npz_course_labels_of_shape_1_m_are_one_per_sample(tmp_path: Path) -> None:
    x, y = course_arrays(6, 0)
    np.savez(tmp_path / "c.npz", train_set_x=x[:, :4, :4], train_set_y=y.reshape(1, 6))
    data = train.read_data(tmp_path / "c.npz")
    assert data.target == "train_set_y"
    np.testing.assert_array_equal(data.frame["train_set_y"].to_numpy(), y)


def test_constant_pixels_do_not_stop_unstandardized_training() -> None:
    import pandas as pd

    df = pd.DataFrame({"p0": [0.5, 0.5, 0.5, 0.5], "p1": [0.1, 0.9, 0.2, 0.8], "y": [0, 1, 0, 1]})
    with pytest.raises(train.DataError, match="constant feature columns: 'p0'"):
        train.prepare(df, "y", test_size=0.5)
    training = train.prepare(df, "y", test_size=0.5, standardize=False)
    assert training.table.features == ["p0", "p1"]
    np.testing.assert_array_equal(training.scaler.transform(training.table.X), training.table.X)


def test_class_names_must_name_labels_0_and_1() -> None:
    import pandas as pd

    df = pd.DataFrame({"p": [0.1, 0.9, 0.2, 0.8], "y": [2, 3, 2, 3]})
    with pytest.raises(train.DataError, match="name labels 0 and 1"):
        train.prepare(df, "y", test_size=0.5, class_names=["non-cat", "cat"])


# --------------------------------------------------------------------------- 2. errors that teach
def test_npz_in_the_course_layout_says_save_x_t(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "t.npz", X=rng.normal(size=(3000, 40)), y=np.arange(40) % 2)
    assert main(["train", str(tmp_path / "t.npz"), "--output-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "array 'X' looks like (n_x, m) = (3000, 40)" in err
    assert "'y' has 40 values, one per sample: save X.T" in err
    assert len(err) < 400
    assert err.count("\n") == 1


def test_npz_images_with_samples_last_say_moveaxis(tmp_path: Path) -> None:
    np.savez(tmp_path / "t.npz", X=np.zeros((4, 4, 3, 6), dtype=np.uint8), y=np.arange(6) % 2)
    with pytest.raises(
        train.DataError, match=r"samples on its last axis.*np\.moveaxis\(X, -1, 0\)"
    ):
        train.read_data(tmp_path / "t.npz")


def test_npz_images_without_a_target_name_the_candidates(tmp_path: Path) -> None:
    np.savez(
        tmp_path / "t.npz",
        images=np.zeros((6, 4, 4, 3), dtype=np.uint8),
        labels=np.arange(6) % 2,
    )
    with pytest.raises(train.DataError) as info:
        train.read_data(tmp_path / "t.npz")
    message = str(info.value)
    assert "give --target COLUMN" in message
    assert "images flattened into indexed columns" in message
    assert "the columns that could be it: 'labels'" in message


def test_model_with_samples_as_rows_says_pass_x_t_as_optimize_does() -> None:
    rng = np.random.default_rng(0)
    X_train, X_test = rng.normal(size=(209, 50)), rng.normal(size=(30, 50))
    Y_train, Y_test = np.arange(209) % 2, np.arange(30) % 2
    with pytest.raises(ValueError, match=r"pass X_train\.T") as info:
        vecstudy.model(X_train, Y_train, X_test, Y_test, backend="numpy")
    assert "X_test has" not in str(info.value)
    assert api._transposed_hint((209, 50), "X_train") in str(info.value)
    # the test set alone transposed
    with pytest.raises(ValueError, match=r"pass X_test\.T"):
        vecstudy.model(X_train.T, Y_train, X_test, Y_test, backend="numpy")
    # labels that fit both layouts: the feature counts, with the hint
    with pytest.raises(ValueError, match=r"X_test has 5 features but X_train has 9.*X_test\.T"):
        vecstudy.model(rng.normal(size=(9, 3)), [0, 1, 0], rng.normal(size=(5, 3)), [1, 0, 1])
    # a slice of the features (fewer rows than columns): the counts alone, no hint
    X = rng.normal(size=(2, 3))
    with pytest.raises(ValueError, match=r"X_test has 1 features but X_train has 2") as info:
        vecstudy.model(X, [0, 1, 0], X[:1], [0, 1, 0], backend="numpy")
    assert str(info.value).endswith("they must match")


# --------------------------------------------------------------------------- 3. guard rails
def test_slow_run_warning_is_exported() -> None:
    assert issubclass(vecstudy.SlowRunWarning, UserWarning)
    assert "SlowRunWarning" in vecstudy.__all__


@pytest.mark.parametrize("n", [1, 19, 20, 99, 100, 101, 250])
@pytest.mark.parametrize("print_cost", [False, True])
def test_timed_python_runs_keep_the_bits_and_do_no_extra_iteration(
    n: int, print_cost: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(1)
    X, Y, w = rng.normal(size=(3, 30)), (rng.random(30) > 0.5) * 1.0, np.zeros((3, 1))
    with api._no_slow_run_check():
        want = api.optimize(w, 0.0, X, Y, n, 0.1, print_cost, backend="python")
    printed = capsys.readouterr().out
    module = backends.load("python")
    real, iterations = module.optimize, []

    def counted(*args: Any) -> Any:
        iterations.append(args[4])
        return real(*args)

    monkeypatch.setattr(module, "optimize", counted)
    monkeypatch.setattr(api, "SLOW_RUN_SECONDS", 0.0)  # every timed run warns
    context: Any = (
        pytest.warns(vecstudy.SlowRunWarning, match=rf"about \d+ s for {n} iterations on X of")
        if n >= api.SLOW_RUN_MIN_ITERATIONS
        else warnings.catch_warnings()
    )
    with context:
        got = api.optimize(w, 0.0, X, Y, n, 0.1, print_cost, backend="python")
    assert sum(iterations) == n
    assert got[2] == want[2]  # the costs at 0, 100, 200, ...
    np.testing.assert_array_equal(got[0]["w"], want[0]["w"])
    assert got[0]["b"] == want[0]["b"]
    assert got[1]["db"] == want[1]["db"]
    assert capsys.readouterr().out == printed


def test_model_on_python_warns_with_the_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "SLOW_RUN_SECONDS", 0.0)
    X = np.array([[1.0, -1.0, 2.0, -2.0]])
    with pytest.warns(vecstudy.SlowRunWarning, match="backend='numpy' or backend='numba'") as rec:
        vecstudy.model(X, [1, 0, 1, 0], X, [1, 0, 1, 0], 40, 0.1, backend="python")
    assert rec[0].filename == __file__  # points at the caller


def test_python_divergence_in_a_timed_run_is_reported_as_in_one_call() -> None:
    X = np.array([[1e300, -1e300, 2e300]])
    with api._no_slow_run_check(), pytest.raises(api.DivergenceError) as want:
        api.optimize(np.zeros((1, 1)), 0.0, X, [1, 0, 1], 50, 1e10, backend="python")
    with pytest.raises(api.DivergenceError) as got:
        api.optimize(np.zeros((1, 1)), 0.0, X, [1, 0, 1], 50, 1e10, backend="python")
    assert got.value.iteration == want.value.iteration
    assert got.value.costs == want.value.costs


def _breast_cancer() -> train.Training:
    return train.prepare(train.read_table(train.example_path()), "diagnosis")


def test_budget_refuses_before_any_run_with_the_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    training = _breast_cancer()
    calls: list[int] = []
    real = train.descend

    def counted(*args: Any, **kw: Any) -> Any:
        calls.append(kw["max_iter"])
        return real(*args, **kw)

    monkeypatch.setattr(train, "descend", counted)
    with pytest.raises(train.BudgetError) as info:
        train.fit_runs(
            training, backends=["python"], learning_rates=[0.5], max_iter=100, budget=1e-6
        )
    message = str(info.value)
    assert "over the budget of 1e-06 s: nothing was trained" in message
    assert "python: " in message
    assert "s per iteration x 100 iterations x 1 learning rate" in message
    assert "--backends numpy or numba" in message
    assert training.runs == []
    assert calls == [1, 1]  # the warm-up, timed again warm: no run started


def test_train_command_budget_and_its_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train.DEFAULT_BUDGET == TRAIN_BUDGET
    args = ["train", "--example", "--backends", "python", "--iterations", "60"]
    out = tmp_path / "out"
    assert main([*args, "--budget", "1e-9", "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vecstudy train: error: the runs would take about")
    assert not out.exists() or not any(out.iterdir())
    for bad in ("0", "-1", "nan", "soon"):
        assert main([*args, "--budget", bad, "--output-dir", str(out)]) == 2
        assert "--budget: expected" in capsys.readouterr().err


@pytest.mark.filterwarnings("default::vecstudy.SlowRunWarning")
def test_train_command_warns_of_a_slow_python_run_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(api, "SLOW_RUN_SECONDS", 0.0)
    args = ["train", "--example", "--backends", "python", "--iterations", "20", "--no-progress"]
    assert main([*args, "--output-dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if "warning" in x)
    assert line.startswith("vecstudy train: warning: backend 'python' would take about")
    assert "x 20 iterations x 1 learning rate" in line
    assert "--backends numpy or numba" in line


def test_the_estimate_costs_at_most_one_iteration_in_50(monkeypatch: pytest.MonkeyPatch) -> None:
    training = _breast_cancer()
    done: list[int] = []
    real = train.descend

    def counted(*args: Any, **kw: Any) -> Any:
        d = real(*args, **kw)
        done.append(d.n_iter)
        return d

    monkeypatch.setattr(train, "descend", counted)
    monkeypatch.setattr(api, "SLOW_RUN_SECONDS", 0.0)  # the warm-up is timed again
    with pytest.warns(vecstudy.SlowRunWarning):
        train.fit_runs(training, backends=["python"], learning_rates=[0.5], max_iter=50)
    assert done == [1, 1, 50]
    done.clear()
    monkeypatch.setattr(api, "SLOW_RUN_SECONDS", 1e9)  # nothing to check twice
    train.fit_runs(training, backends=["python"], learning_rates=[0.5], max_iter=50)
    assert done == [1, 50]


# --------------------------------------------------------------------------- 4. progress
class FakeClock:
    """A clock that moves only when the descent runs: ``per_iteration`` seconds each."""

    def __init__(self, per_iteration: float) -> None:
        self.now = 0.0
        self.per_iteration = per_iteration

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("record_every", [100, 30, 200, 1])
def test_progress_moves_every_two_seconds_and_keeps_the_costs(
    record_every: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(4, 50)), (rng.random(50) > 0.5) * 1.0
    common: dict[str, Any] = {"max_iter": 1000, "learning_rate": 0.1, "backend": "numpy"}
    want = train.descend(X, y, record_every=record_every, **common)
    clock = FakeClock(per_iteration=0.05)  # 100 iterations: 5 s
    real = api._optimize_checked

    def timed(w: Any, b: Any, X: Any, Y: Any, n: int, lr: float, **kw: Any) -> Any:
        clock.now += n * clock.per_iteration
        return real(w, b, X, Y, n, lr, **kw)

    monkeypatch.setattr(descent, "_clock", clock)
    monkeypatch.setattr(api, "_optimize_checked", timed)
    updates: list[tuple[int, float]] = []
    got = train.descend(
        X,
        y,
        record_every=record_every,
        progress=lambda n: updates.append((n, clock.now)),
        **common,
    )
    assert sum(n for n, _ in updates) == 1000
    gaps = np.diff([0.0] + [t for _, t in updates])
    assert gaps.max() <= 2.0
    # slices grow to about a second, or end on the next record (API calls record only
    # every 100 iterations from their first: record_every 30 makes calls of 30 at most)
    shortest = 0.5 if record_every % 100 == 0 else min(0.5, record_every * 0.05)
    assert len(updates) <= 1000 * 0.05 / shortest + 10
    np.testing.assert_array_equal(got.costs, want.costs)
    np.testing.assert_allclose(got.w, want.w, rtol=1e-13)


def test_progress_of_a_slow_backend_moves_every_iteration(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(per_iteration=1.5)  # python on 200,000 x 50
    real = api._optimize_checked

    def timed(w: Any, b: Any, X: Any, Y: Any, n: int, lr: float, **kw: Any) -> Any:
        clock.now += n * clock.per_iteration
        return real(w, b, X, Y, n, lr, **kw)

    monkeypatch.setattr(descent, "_clock", clock)
    monkeypatch.setattr(api, "_optimize_checked", timed)
    updates: list[int] = []
    X = np.array([[1.0, -1.0, 2.0, -2.0]])
    train.descend(X, np.array([1.0, 0.0, 1.0, 0.0]), max_iter=12, learning_rate=0.1,
                  backend="numpy", progress=updates.append)  # fmt: skip
    assert updates == [1] * 12


def test_fit_runs_feeds_the_bar_iterations_and_logs_above_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("tqdm")
    bars: list[Any] = []

    class Bar:
        def __init__(self, total: int) -> None:
            self.total, self.n = total, 0
            bars.append(self)

        def update(self, n: int) -> None:
            handlers = logging.getLogger("vecstudy").handlers
            self.handlers = [type(h).__name__ for h in handlers]
            self.n += n

        def close(self) -> None:
            pass

    monkeypatch.setattr(train, "_progress_bar", lambda backend, lr, total: Bar(total))
    log = logging.getLogger("vecstudy")
    console = logging.StreamHandler()  # on stderr, as the command's
    log.addHandler(console)
    try:
        training = _breast_cancer()
        train.fit_runs(
            training, backends=["numpy"], learning_rates=[0.5, 0.1], max_iter=300, progress=True
        )
    finally:
        log.removeHandler(console)
    assert [(b.total, b.n) for b in bars] == [(300, 300), (300, 300)]
    assert "_TqdmLoggingHandler" in bars[0].handlers  # log lines go through tqdm.write
    assert "StreamHandler" not in bars[0].handlers
    assert log.handlers.count(console) == 0


# --------------------------------------------------------------------------- 5. relayout line
@pytest.mark.skipif(not _usable("numba"), reason="numba is not installed")
def test_relayout_line_counts_the_whole_run(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(211, 3))  # XT = X.T is F-ordered: numba prefers C for 3 features
    y = (X[:, 0] > 0) * 1.0
    with caplog.at_level(logging.DEBUG, logger="vecstudy"):
        train.descend(X.T, y, max_iter=2000, learning_rate=0.1, backend="numba",
                      progress=lambda n: None)  # fmt: skip
    lines = [r.getMessage() for r in caplog.records if "copied once" in r.getMessage()]
    assert len(lines) == 1
    assert "faster for 2000 iterations" in lines[0]
