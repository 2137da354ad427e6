"""`vecstudy train`: reading, checks, split, standardization, runs, outputs, interrupts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import vecstudy
from vecstudy import api, backends
from vecstudy.cli import main
from vecstudy.learn import train


def _usable(name: str) -> bool:
    try:
        backends.load(name)
    except ImportError:
        return False
    return True


USABLE = [name for name in backends.available_backends() if _usable(name)]


def _frame(m: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(m), rng.standard_normal(m) * 10 + 3
    label = np.where(a - 0.1 * b + 0.2 * rng.standard_normal(m) > -0.3, "spam", "ham")
    return pd.DataFrame({"a": a, "b": b, "n": rng.integers(0, 5, m), "label": label})


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    path = tmp_path / "mail.csv"
    _frame().to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------- reading
def test_csv_parquet_and_npz_read_the_same_table(tmp_path: Path) -> None:
    df = _frame().drop(columns="label").assign(y=np.arange(60) % 2)
    df.to_csv(tmp_path / "t.csv", index=False)
    np.savez(
        tmp_path / "t.npz",
        a=df["a"].to_numpy(),
        b=df["b"].to_numpy(),
        n=df["n"].to_numpy(),
        y=df["y"].to_numpy(),
    )
    pd.testing.assert_frame_equal(train.read_table(tmp_path / "t.csv"), df)
    pd.testing.assert_frame_equal(train.read_table(tmp_path / "t.npz"), df)
    pytest.importorskip("pyarrow")
    df.to_parquet(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(train.read_table(tmp_path / "t.parquet"), df)


def test_npz_two_dimensional_array_gives_indexed_columns(tmp_path: Path) -> None:
    X = np.arange(12.0).reshape(4, 3)
    np.savez(tmp_path / "d.npz", X=X, y=np.array([0, 1, 0, 1]))
    df = train.read_table(tmp_path / "d.npz")
    assert list(df.columns) == ["X[0]", "X[1]", "X[2]", "y"]
    np.testing.assert_array_equal(df[["X[0]", "X[1]", "X[2]"]].to_numpy(), X)


def test_npz_arrays_of_different_lengths_are_an_error(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", a=np.zeros(4), y=np.zeros(5))
    with pytest.raises(train.DataError, match="different numbers of rows: a: 4, y: 5"):
        train.read_table(tmp_path / "d.npz")


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(train.DataError, match=r"unknown file type '\.xlsx'; expected one of"):
        train.read_table(tmp_path / "d.xlsx")
    with pytest.raises(FileNotFoundError):
        train.read_table(tmp_path / "missing.csv")


def test_bundled_example_is_breast_cancer() -> None:
    df = train.read_table(train.example_path())
    assert df.shape == (569, 31)
    assert df[train.EXAMPLE_TARGET].value_counts().to_dict() == {"benign": 357, "malignant": 212}


# --------------------------------------------------------------------------- checks
def test_unknown_target_lists_the_columns() -> None:
    with pytest.raises(train.DataError, match=r"--target 'lbl' is not a column.*'a', 'b', 'n'"):
        train.check_table(_frame(), "lbl")


def test_non_numeric_columns_are_named() -> None:
    df = _frame().assign(city="Paris", when=pd.Timestamp("2024-01-01"))
    with pytest.raises(train.DataError, match="non-numeric feature columns: 'city'") as info:
        train.check_table(df, "label")
    assert "'when'" in str(info.value)
    assert "--drop-columns city,when" in str(info.value)
    table = train.check_table(df, "label", drop=["city", "when"])
    assert table.features == ["a", "b", "n"]


def test_missing_values_are_named_with_count_and_first_row() -> None:
    df = _frame()
    df.loc[[7, 9], "b"] = np.nan
    with pytest.raises(
        train.DataError, match=r"missing values in 1 column\(s\): 'b' \(2 rows, first at row 7\)"
    ):
        train.check_table(df, "label")
    df = _frame()
    df.loc[3, "label"] = None
    with pytest.raises(train.DataError, match=r"'label' \(1 rows, first at row 3\)"):
        train.check_table(df, "label")


@pytest.mark.parametrize(("labels", "found"), [(["a", "b", "c"], "found 3"), (["x"], "found 1")])
def test_target_needs_exactly_two_values(labels: list[str], found: str) -> None:
    df = _frame().assign(label=np.resize(labels, 60))
    with pytest.raises(train.DataError, match=f"exactly two distinct values .*; {found}"):
        train.check_table(df, "label")


def test_labels_map_to_the_larger_value_as_positive() -> None:
    table = train.check_table(_frame(), "label")
    assert table.classes == ["ham", "spam"]
    np.testing.assert_array_equal(table.y, (table.labels == "spam").astype(float))


def test_constant_column_is_an_error_or_dropped_with_a_note() -> None:
    df = _frame().assign(version=3.0)
    with pytest.raises(
        train.DataError, match=r"constant feature columns: 'version'.*--drop-constant"
    ):
        train.prepare(df, "label")
    training = train.prepare(df, "label", drop_constant=True)
    assert training.dropped == ["version"]
    assert training.table.features == ["a", "b", "n"]
    assert "left out constant columns: 'version'" in train.describe(training)


# --------------------------------------------------------------------------- split, scaling
def test_split_is_stratified_seeded_and_disjoint() -> None:
    y = np.array([0] * 50 + [1] * 30)
    tr, te = train.split(y, test_size=0.2, seed=3)
    assert len(te) == 16
    assert int(y[te].sum()) == 6
    assert np.intersect1d(tr, te).size == 0
    assert np.union1d(tr, te).size == 80
    _tr2, te2 = train.split(y, test_size=0.2, seed=3)
    np.testing.assert_array_equal(te, te2)
    assert not np.array_equal(te, train.split(y, test_size=0.2, seed=4)[1])


def test_split_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="test_size must be between 0 and 1"):
        train.split(np.array([0, 1] * 5), test_size=1.0, seed=0)
    with pytest.raises(train.DataError, match=r"too few for --test-size 0\.01"):
        train.split(np.array([0, 1] * 5), test_size=0.01, seed=0)


def test_scaler_uses_training_rows_only() -> None:
    df = _frame(100)
    training = train.prepare(df, "label", test_size=0.3, seed=1)
    X = training.table.X
    np.testing.assert_allclose(training.scaler.mean, X[training.train_rows].mean(axis=0))
    np.testing.assert_allclose(training.scaler.scale, X[training.train_rows].std(axis=0))
    assert not np.allclose(training.scaler.mean, X.mean(axis=0))


# --------------------------------------------------------------------------- descent
def test_descent_counts_iterations_across_calls_on_divergence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A divergence in a later call reports the iteration counted from the start."""
    calls: list[int] = []
    real = api._optimize_checked

    def flaky(w, b, X, Y, n, lr, **kw):  # type: ignore[no-untyped-def]
        calls.append(n)
        if len(calls) == 3:
            raise api.DivergenceError(
                "x", iteration=4, params={"w": w, "b": b}, grads={}, costs=[0.25]
            )
        return real(w, b, X, Y, n, lr, **kw)

    monkeypatch.setattr(api, "_optimize_checked", flaky)
    X = np.array([[1.0, -1.0, 2.0, -2.0]])
    with pytest.raises(api.DivergenceError, match="diverged at iteration 24") as info:
        train.descend(
            X,
            np.array([1.0, 0.0, 1.0, 0.0]),
            max_iter=100,
            learning_rate=0.1,
            record_every=10,
            backend="numpy",
        )
    assert calls == [10, 10, 10]
    assert info.value.iteration == 24
    assert len(info.value.costs) == 3
    assert info.value.costs[-1] == 0.25


def test_runs_of_every_backend_agree_on_breast_cancer() -> None:
    training = train.prepare(train.read_table(train.example_path()), "diagnosis")
    train.fit_runs(training, backends=USABLE, learning_rates=[0.5], max_iter=40, record_every=10)
    first = training.runs[0]
    assert [r.backend for r in training.runs] == USABLE
    for run in training.runs[1:]:
        np.testing.assert_allclose(run.descent.w, first.descent.w, rtol=1e-9)
        np.testing.assert_allclose(run.descent.costs, first.descent.costs, rtol=1e-10)
        assert run.test_accuracy == first.test_accuracy
    assert first.descent.costs.shape == (4,)
    assert first.final_cost < first.descent.costs[-1] < first.descent.costs[0]


# --------------------------------------------------------------------------- the command
def test_train_command_writes_figure_and_model(
    csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    rc = main(
        [
            "train",
            str(csv),
            "--target",
            "label",
            "--backends",
            "numba,numpy",
            "--iterations",
            "300",
            "--output-dir",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "60 rows, 3 features, target 'label'" in text
    assert "48 training / 12 test rows" in text
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("backend"))
    assert lines[header].split() == [
        "backend",
        "learning_rate",
        "dtype",
        "iterations",
        "train_accuracy_%",
        "test_accuracy_%",
        "final_cost",
        "fit_s",
    ]
    assert [lines[header + 1].split()[0], lines[header + 2].split()[0]] == ["numba", "numpy"]
    assert (out / "mail.csv-costs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads((out / "mail.csv-model.json").read_text())
    assert doc["format"] == train.MODEL_FORMAT
    assert doc["features"] == ["a", "b", "n"]
    assert doc["classes"] == ["ham", "spam"]
    assert [m["backend"] for m in doc["models"]] == ["numba", "numpy"]
    assert len(doc["models"][0]["coef"]) == 3
    assert len(doc["models"][0]["costs"]) == 3
    # the model file alone reproduces the reported test accuracy
    df = pd.read_csv(csv)
    training = train.prepare(df, "label")
    test = training.test_rows
    pred = train.predict_with_model(doc, df.loc[test, ["a", "b", "n"]].to_numpy())
    assert np.mean(pred == df.loc[test, "label"].to_numpy()) == doc["models"][0]["test_accuracy"]
    assert sorted(p.name for p in out.iterdir()) == ["mail.csv-costs.png", "mail.csv-model.json"]


def test_float32_runs_stay_float32_and_agree_with_float64(tmp_path: Path) -> None:
    docs = {}
    for dtype in ("float32", "float64"):
        out = tmp_path / dtype
        argv = [
            "train",
            "--example",
            "--backends",
            "numba,numpy",
            "--dtype",
            dtype,
            "--iterations",
            "300",
            "--output-dir",
            str(out),
            "--no-progress",
        ]
        assert main(argv) == 0
        docs[dtype] = json.loads((out / "breast_cancer.csv-model.json").read_text())
    for m32, m64 in zip(docs["float32"]["models"], docs["float64"]["models"], strict=True):
        assert m32["dtype"] == "float32"
        np.testing.assert_allclose(m32["coef"], m64["coef"], rtol=1e-3, atol=1e-4)
        assert m32["test_accuracy"] == m64["test_accuracy"]


def test_learning_rate_study_trains_one_model_per_rate(tmp_path: Path) -> None:
    rc = main(
        [
            "train",
            "--example",
            "--backends",
            "numpy",
            "--learning-rates",
            "0.01,0.001,0.0001",
            "--iterations",
            "200",
            "--output-dir",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert rc == 0
    doc = json.loads((tmp_path / "breast_cancer.csv-learning-rates-model.json").read_text())
    assert (tmp_path / "breast_cancer.csv-learning-rates.png").exists()
    assert [m["learning_rate"] for m in doc["models"]] == [0.01, 0.001, 0.0001]
    finals = [m["final_cost"] for m in doc["models"]]
    assert finals == sorted(finals)  # the larger rate gets further in 200 iterations


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "nope"], "--target 'nope' is not a column"),
        (["--target", "label", "--learning-rates", "0.1,fast"], "'fast' is not a number"),
        (["--target", "label", "--learning-rate", "-1"], "must be finite and > 0"),
        (["--target", "label", "--iterations", "many"], "--iterations: expected an integer"),
        (["--target", "label", "--backends", "fortran"], "unknown backend 'fortran'"),
        (["--target", "label", "--drop-columns", "zz"], "--drop-columns 'zz' is not a column"),
        (["--target", "label", "--iterations", "0"], "--iterations: expected an integer of at"),
        (["--target", "label", "--record-every", "0"], "--record-every: expected an integer"),
        (["--target", "label", "--test-size", "1"], "--test-size: expected a fraction"),
        (["--target", "label", "--seed", "-1"], "--seed: expected an integer of at least 0"),
        (["--target", "label", "--threads", "0"], "--threads: expected at least 1"),
    ],
)
def test_train_errors_are_one_line_and_exit_2(
    csv: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", str(csv), *argv, "--output-dir", str(csv.parent / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not (csv.parent / "o").exists()


def test_all_backends_skips_one_that_cannot_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = backends.load

    def load(name: str) -> object:
        if name == "numba":
            raise ImportError("numba is not installed; pip install numba")
        return real(name)

    monkeypatch.setattr(backends, "load", load)
    rc = main(
        [
            "train",
            "--example",
            "--backends",
            "all",
            "--iterations",
            "10",
            "--output-dir",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert rc == 0
    assert "skipping backend 'numba': numba is not installed" in capsys.readouterr().err
    doc = json.loads((tmp_path / "breast_cancer.csv-model.json").read_text())
    assert [m["backend"] for m in doc["models"]] == [n for n in USABLE if n != "numba"]


def test_divergence_is_a_one_line_error(
    csv: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def diverging(*_args: object, **_kw: object) -> None:
        raise api.DivergenceError(
            "gradient descent diverged at iteration 7", iteration=7, params={}, grads={}, costs=[]
        )

    monkeypatch.setattr(train, "descend", diverging)
    out = csv.parent / "o"
    assert main(["train", str(csv), "--target", "label", "--output-dir", str(out)]) == 2
    assert "error: gradient descent diverged at iteration 7" in capsys.readouterr().err
    assert not out.exists()


def test_data_or_example_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--target", "y"]) == 2
    assert "DATA and --target COLUMN are required (or --example)" in capsys.readouterr().err


def test_interrupt_exits_130_and_leaves_earlier_files_whole(
    csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = [
        "train",
        str(csv),
        "--target",
        "label",
        "--backends",
        "numpy",
        "--iterations",
        "50",
        "--output-dir",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(*_args: object, **_kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "write_model", interrupted)  # between the figure and the model
    assert main([*args[:-1], "--learning-rate", "0.1"]) == 130
    assert "interrupted" in capsys.readouterr().err
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(after) == set(before)  # no temporary files left
    assert after["mail.csv-model.json"] == before["mail.csv-model.json"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_during_training_exits_130_without_files(tmp_path: Path, sig: int) -> None:
    """A real SIGINT (Ctrl-C) or SIGTERM (kill) during a long python-backend training."""
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vecstudy",
            "train",
            "--example",
            "--backends",
            "python",
            "--iterations",
            "100000",
            "--budget",
            "inf",  # a run of minutes, interrupted after half a second
            "--output-dir",
            str(out),
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # the data line: reading and checks are done
    time.sleep(0.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow
def test_train_works_without_scikit_learn(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "import vecstudy\n"
        "from vecstudy.cli import main\n"
        f"rc = main(['train', '--example', '--backends', 'numpy', '--iterations', '20',"
        f" '--output-dir', {str(tmp_path)!r}, '--no-progress'])\n"
        "assert rc == 0, rc\n"
        "try:\n"
        "    vecstudy.LogisticRegressionGD\n"
        "except ImportError as exc:\n"
        "    print('ImportError:', exc)\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'vecstudy[learn]'" in done.stdout
    assert (tmp_path / "breast_cancer.csv-model.json").exists()


def test_import_vecstudy_does_not_import_scikit_learn() -> None:
    code = "import sys, vecstudy; print('sklearn' in sys.modules, 'vecstudy.learn.train' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "False"]
    assert hasattr(vecstudy, "__getattr__")


def test_target_error_shows_plain_values() -> None:
    df = _frame().assign(label=np.resize([0, 1, 2], 60))
    with pytest.raises(train.DataError, match=r"found 3: 0 \(20 rows\), 1 \(20 rows\), 2") as info:
        train.check_table(df, "label")
    assert "np.int64" not in str(info.value)


def test_empty_csv_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(train.DataError, match=r"DATA '.*empty\.csv': the file is empty"):
        train.read_table(path)


def test_values_near_the_largest_double_are_standardized_without_overflow() -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.choice([1e308, -1e308], 40), rng.random(40)])
    scaler = train.Scaler.fit(X)  # filterwarnings=error: an overflow would raise
    assert np.isfinite(scaler.mean).all()
    assert np.isfinite(scaler.scale).all()
    Xs = scaler.transform(X)
    assert np.isfinite(Xs).all()
    np.testing.assert_allclose(Xs.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Xs.std(axis=0), 1.0, rtol=1e-12)
    assert train.constant_columns(X, ["a", "b"]) == []
    doc = {
        "classes": ["neg", "pos"],
        "scaler": {"mean": scaler.mean.tolist(), "scale": scaler.scale.tolist()},
        "models": [{"coef": [1.0, 0.0], "intercept": 0.0}],
    }
    assert train.predict_with_model(doc, X).tolist() == np.where(X[:, 0] > 0, "pos", "neg").tolist()


def test_train_writes_beside_the_runs_not_over_the_committed_reference(
    csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", str(csv), "--target", "label", "--backends", "numpy", "--no-progress"]
    assert main([*argv, "--iterations", "20"]) == 0
    out = Path.cwd() / "reports" / "runs" / "train"
    assert sorted(p.name for p in out.iterdir()) == ["mail.csv-costs.png", "mail.csv-model.json"]
    assert sorted(p.name for p in (Path.cwd() / "reports").iterdir()) == ["runs"]
    assert "reports/runs/train/mail.csv-costs.png" in capsys.readouterr().out


def test_unreadable_npz_files_are_errors_naming_the_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(bytes(range(256)) * 2)
    with pytest.raises(train.DataError, match=r"DATA '.*junk\.npz': not a readable NPZ file"):
        train.read_table(junk)
    single = tmp_path / "single.npz"
    with single.open("wb") as f:
        np.save(f, np.ones(3))
    with pytest.raises(train.DataError, match="holds a single array, not an NPZ archive"):
        train.read_table(single)
    objects = tmp_path / "objects.npz"
    np.savez(objects, a=np.arange(3.0), y=np.array([{"k": 1}, None, 2], dtype=object))
    with pytest.raises(train.DataError, match="array 'y' holds Python objects"):
        train.read_table(objects)
