"""`vecstudy train` on hostile input: odd files, colliding or complex columns, bytes labels,
model files from disk, huge names, concurrent runs and SIGTERM."""

from __future__ import annotations

import copy
import json
import math
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from vecstudy import api
from vecstudy.cli import main
from vecstudy.learn import train


def _frame(m: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(m), rng.standard_normal(m)
    return pd.DataFrame({"a": a, "b": b, "label": np.where(a + 0.3 * b > 0, "yes", "no")})


def _argv(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        str(data),
        "--target",
        "label",
        "--backends",
        "numpy",
        "--iterations",
        "20",
        "--output-dir",
        str(out),
        "--no-progress",
        *extra,
    ]


# --------------------------------------------------------------------------- 1. columns
def test_npz_columns_with_one_name_are_an_error_naming_both(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((4, 2)), **{"x[0]": np.ones(4)}, y=np.array([0, 1, 0, 1]))
    with pytest.raises(train.DataError, match=r"both give the column 'x\[0\]'") as info:
        train.read_table(path)
    assert "column 0 of 2-D array 'x'" in str(info.value)
    assert "array 'x[0]'" in str(info.value)


def test_npz_complex_array_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.npz"
    np.savez(path, a=np.arange(6.0) + 1j, label=np.array([0, 1] * 3))
    with pytest.raises(train.DataError, match=r"array 'a' holds complex numbers \(complex128\)"):
        train.read_table(path)
    assert main(_argv(path, tmp_path / "o")) == 2
    assert "holds complex numbers" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_complex_or_same_named_dataframe_columns_are_errors() -> None:
    df = _frame().assign(z=np.arange(40) * (1 + 1j))
    with pytest.raises(train.DataError, match=r"column 'z' holds complex numbers"):
        train.check_table(df, "label")
    df = _frame().assign(label=np.resize([1j, 2j], 40))
    with pytest.raises(train.DataError, match=r"column 'label' holds complex numbers"):
        train.check_table(df, "label")
    df = pd.concat([_frame(), pd.DataFrame({1: np.arange(40.0), "1": np.ones(40)})], axis=1)
    with pytest.raises(train.DataError, match=r"two or more columns are named '1'"):
        train.check_table(df, "label")


# --------------------------------------------------------------------------- 2. model files
def _doc() -> dict[str, Any]:
    return {
        "format": train.MODEL_FORMAT,
        "classes": ["no", "yes"],
        "features": ["a", "b"],
        "scaler": {"mean": [0.0, 1.0], "scale": [1.0, 2.0]},
        "models": [
            {"coef": [1.0, -1.0], "intercept": 0.5, "test_accuracy": 0.9, "costs": [0.7]},
            {"coef": [2.0, 0.0], "intercept": 0.0},
        ],
    }


def _set(path: str, value: Any) -> dict[str, Any]:
    doc = _doc()
    *parents, last = path.split(".")
    node: Any = doc
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if value is KeyError:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_set("models.0.coef", [math.nan, 1.0]), r"models\[0\]\.coef\[0\] must be finite"),
        (_set("models.1.intercept", math.nan), r"models\[1\]\.intercept must be finite"),
        (_set("models.0.intercept", "0.5"), r"models\[0\]\.intercept must be a number; got str"),
        (_set("scaler.scale", [1.0, 0.0]), r"scaler\.scale\[1\] must be > 0; got 0\.0"),
        (_set("scaler.scale", [math.nan, 1.0]), r"scaler\.scale\[0\] must be finite"),
        (_set("scaler.scale", [1.0]), r"scaler\.scale has 1 values but scaler\.mean has 2"),
        (_set("scaler.mean", [True, 1.0]), r"scaler\.mean\[0\] must be a number; got bool"),
        (_set("classes", ["a", "b", "c"]), r"classes must be a list of exactly two .* 3 values"),
        (_set("classes", ["a", "a"]), r"the two classes are equal"),
        (_set("classes", ["a", None]), r"classes\[1\] must be a string or a finite number"),
        (_set("models.1.coef", [1.0]), r"models\[1\]\.coef has 1 values but the scaler has 2"),
        (_set("models.0.coef", KeyError), r"models\[0\]\.coef is missing"),
        (_set("scaler", KeyError), r"scaler is missing"),
        (_set("models", []), r"models must be a non-empty list"),
        (_set("features", ["a"]), r"features has 1 names but the scaler has 2"),
        (_set("format", "other-2"), r"format is 'other-2'"),
        (_set("models.0.test_accuracy", 1.5), r"test_accuracy must be between 0 and 1"),
        (_set("models.0.costs", [math.inf]), r"models\[0\]\.costs\[0\] must be finite"),
        (_set("models.0.coef", [10**400, 1.0]), r"models\[0\]\.coef\[0\] must be finite"),
        ([1, 2], r"the document must be a JSON object; got list"),
    ],
)
def test_model_document_is_checked_field_by_field(doc: Any, message: str) -> None:
    with pytest.raises(train.ModelFileError, match=message):
        train.predict_with_model(doc, [[0.0, 0.0]])


@pytest.mark.parametrize("model", [2, -1, True, 0.0])
def test_model_index_must_be_in_range(model: Any) -> None:
    with pytest.raises(ValueError, match=r"model must be an integer from 0 to 1"):
        train.predict_with_model(_doc(), [[0.0, 0.0]], model=model)


def test_prediction_rows_with_nan_or_wrong_shape_are_errors() -> None:
    doc = _doc()
    ok = train.predict_with_model(doc, [[0.0, 0.0], [3.0, 1.0]], model=1)
    assert ok.tolist() == ["no", "yes"]
    with pytest.raises(ValueError, match=r"X row 2 holds nan in column 1 \('b'\) \(1 rows"):
        train.predict_with_model(doc, [[0.0, 0.0], [1.0, 1.0], [1.0, math.nan]])
    with pytest.raises(ValueError, match=r"X row 0 holds inf in column 0"):
        train.predict_with_model(doc, [[math.inf, 0.0]])
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 2\) .* got \(3,\)"):
        train.predict_with_model(doc, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"X holds complex numbers"):
        train.predict_with_model(doc, [[1j, 0.0]])
    with pytest.raises(ValueError, match=r"X must hold numbers only"):
        train.predict_with_model(doc, [["a", "b"]])


def test_prediction_whose_z_overflows_raises_like_vecstudy_predict() -> None:
    doc = _set("scaler", {"mean": [0.0, 0.0], "scale": [1.0, 1.0]})
    doc["models"][0] = {"coef": [3.0, -2.0], "intercept": 0.0}
    X = np.array([[1e308, 1e308]])  # z = 1e308 exactly; 3e308 - 2e308 overflows to nan
    with pytest.raises(api.NumericalError, match=r"overflowed .*the first is row 0"):
        train.predict_with_model(doc, X)
    with pytest.raises(api.NumericalError):
        api.predict(np.array([[3.0], [-2.0]]), 0.0, X.T, backend="numpy")


def test_a_written_model_file_passes_the_check(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    _frame().to_csv(data, index=False)
    assert main(_argv(data, tmp_path / "o")) == 0
    doc = json.loads((tmp_path / "o" / "d.csv-model.json").read_text())
    assert train.check_model(doc).features == ["a", "b"]
    broken = copy.deepcopy(doc)
    broken["models"][0]["coef"][1] = None
    with pytest.raises(train.ModelFileError, match=r"models\[0\]\.coef\[1\] must be a number"):
        train.check_model(broken)


# --------------------------------------------------------------------------- 5. labels
def test_bytes_target_is_decoded_and_written(tmp_path: Path) -> None:
    path = tmp_path / "b.npz"
    df = _frame()
    np.savez(
        path, a=df["a"].to_numpy(), b=df["b"].to_numpy(), label=df["label"].to_numpy().astype("S")
    )
    assert main(_argv(path, tmp_path / "o")) == 0
    doc = json.loads((tmp_path / "o" / "b.npz-model.json").read_text())
    assert doc["classes"] == ["no", "yes"]


def test_labels_json_cannot_hold_are_refused_before_training(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def never(*_a: object, **_k: object) -> None:
        raise AssertionError("trained on labels that cannot be written")

    monkeypatch.setattr(train, "fit_runs", never)
    df = _frame()
    cases = [
        (df.assign(label=np.resize([b"\xff\xfe", b"ok"], 40)), r"row 0 holds bytes that are not"),
        (df.assign(label=np.resize(pd.to_datetime(["2024-01-01", "2025-01-01"]), 40)), "dates"),
        (df.assign(label=np.resize(np.array(["x", 1], dtype=object), 40)), "mixes values of types"),
        (df.assign(label=np.resize([math.inf, 0.0], 40)), r"type float \(e\.g\. inf\)"),
    ]
    for frame, message in cases:
        with pytest.raises(train.DataError, match=message):
            train.prepare(frame, "label")


def test_unwritable_model_path_is_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.csv"
    _frame().to_csv(data, index=False)
    out = tmp_path / "o"
    out.mkdir()
    (out / "d.csv-model.json").write_text("{}")
    (out / "d.csv-model.json").chmod(0o444)
    assert main(_argv(data, out)) == 2
    captured = capsys.readouterr()
    assert "read-only" in captured.err
    assert "backend" not in captured.out  # no results table: nothing was trained


# --------------------------------------------------------------------------- 6. odd files
def test_directory_fifo_and_device_are_named(tmp_path: Path) -> None:
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(train.DataError, match=r"'.*folder\.csv' is a directory, not a regular"):
        train.read_table(folder)
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")
    with pytest.raises(
        train.DataError, match=r"zero\.csv' \(through a symbolic link\) is a character device"
    ):
        train.read_table(zero)
    with pytest.raises(FileNotFoundError, match="No such file"):
        train.read_table(tmp_path / "missing.npz")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            train.read_table(fifo)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=5)
    if reader.is_alive():  # release the reader before failing
        with fifo.open("wb"):
            pass
        pytest.fail("read_table waited on a FIFO")
    assert len(errors) == 1
    assert isinstance(errors[0], train.DataError)
    assert "is a FIFO (named pipe), not a regular file" in str(errors[0])


# --------------------------------------------------------------------------- 7. outputs
def test_outputs_are_named_after_the_whole_file_name(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    df = _frame()
    df.to_csv(tmp_path / "big.csv", index=False)
    df.to_parquet(tmp_path / "big.parquet")
    out = tmp_path / "o"
    assert main(_argv(tmp_path / "big.csv", out)) == 0
    assert main(_argv(tmp_path / "big.parquet", out)) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "big.csv-costs.png",
        "big.csv-model.json",
        "big.parquet-costs.png",
        "big.parquet-model.json",
    ]
    long_name = "x" * 200 + ".csv"
    figure, model = train.output_paths(long_name, out)
    assert len(model.name.encode()) < 130
    assert figure.name.startswith("x" * 80 + "-")
    assert train.output_paths("y" * 200 + ".npz", out)[1] != model


def _training() -> train.Training:
    training = train.prepare(_frame(), "label")
    return train.fit_runs(training, backends=["numpy"], learning_rates=[0.5], max_iter=10)


def test_the_pair_is_renamed_under_a_lock_on_the_directory(tmp_path: Path) -> None:
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "o"
    out.mkdir()
    figure, model = out / "d-costs.png", out / "d-model.json"
    figure.write_bytes(b"old figure")
    model.write_text("old model")
    training = _training()
    fd = os.open(out, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another run is renaming its pair
    result: list[bool] = []
    writer = threading.Thread(
        target=lambda: result.append(train.write_outputs(training, figure, model))
    )
    try:
        writer.start()
        time.sleep(0.5)
        assert writer.is_alive()
        assert figure.read_bytes() == b"old figure"
        assert model.read_text() == "old model"
    finally:
        os.close(fd)
        writer.join(timeout=30)
    assert result == [True]
    assert figure.read_bytes()[:4] == b"\x89PNG"
    assert json.loads(model.read_text())["classes"] == ["no", "yes"]
    assert sorted(p.name for p in out.iterdir()) == ["d-costs.png", "d-model.json"]


def test_an_interrupt_during_the_renames_waits_for_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figure, model = tmp_path / "d-costs.png", tmp_path / "d-model.json"
    figure.write_bytes(b"old figure")
    model.write_text("old model")
    training = _training()
    real = os.replace

    def replace_then_interrupt(src: Any, dst: Any) -> None:
        real(src, dst)
        if Path(dst) == figure:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C between the two renames

    monkeypatch.setattr(os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train.write_outputs(training, figure, model)
    assert figure.read_bytes()[:4] == b"\x89PNG"
    assert json.loads(model.read_text())["classes"] == ["no", "yes"]  # the new pair, whole


def test_an_existing_pair_keeps_its_mode_and_the_run_says_it_replaced_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.csv"
    _frame().to_csv(data, index=False)
    out = tmp_path / "o"
    assert main(_argv(data, out)) == 0
    assert "replace" not in capsys.readouterr().out
    (out / "d.csv-model.json").chmod(0o640)
    assert main(_argv(data, out, "--learning-rate", "0.1")) == 0
    assert "they replace the earlier pair" in capsys.readouterr().out
    assert (out / "d.csv-model.json").stat().st_mode & 0o777 == 0o640
    assert json.loads((out / "d.csv-model.json").read_text())["models"][0]["learning_rate"] == 0.1


# --------------------------------------------------------------------------- 8. bounded messages
def test_a_huge_column_name_gives_a_short_error_quickly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("n" * 2_000_000 + ",label\n1,a\n2,b\n")
    start = time.perf_counter()
    assert main(["train", str(path), "--target", "zz", "--output-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert time.perf_counter() - start < 5
    assert "--target 'zz' is not a column" in err
    assert "(2000000 characters)" in err
    assert len(err) < 600


def test_a_header_line_beyond_the_limit_is_refused_before_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("vecstudy.learn.data.MAX_HEADER_BYTES", 1000)
    path = tmp_path / "h.csv"
    path.write_text("a" * 1001 + ",label\n1,2\n")
    with pytest.raises(train.DataError, match=r"the first line \(the header\) is longer than"):
        train.read_table(path)
    path.write_text("a" * 900 + ",label\n1,2\n")
    assert train.read_table(path).shape == (1, 2)


def test_messages_from_user_data_are_bounded(tmp_path: Path) -> None:
    big = "c" * 100_000
    df = _frame()
    checks: list[tuple[Any, ...]] = [
        (train.check_table, df.assign(**{big: "text"}), "label"),  # non-numeric
        (train.check_table, df.assign(**{big: np.nan}), "label"),  # missing
        (train.check_table, df.assign(**{big: np.inf}), "label"),  # infinite
        (train.check_table, df.assign(label=np.resize([big, "b", "c"], 40)), "label"),  # 3 values
        (train.check_table, df, big),  # unknown target
        (train.prepare, df.assign(**{big: 1.0}), "label"),  # constant
        (train.read_table, tmp_path / (big[:200] + ".xlsx")),  # unknown suffix
        (train.parse_learning_rates, big),
        (train.predict_with_model, _set("classes", [big, big]), [[0.0, 0.0]]),
    ]
    for fn, *args in checks:
        with pytest.raises(ValueError, match=r"\(\d+ characters\)") as info:
            fn(*args)
        assert len(str(info.value)) < 700, (fn.__name__, str(info.value)[:200])


@pytest.mark.parametrize(
    ("learning_rate", "learning_rates", "images", "rates", "noted"),
    [
        (None, None, False, [float(train.DEFAULT_LEARNING_RATE)], False),
        (None, None, True, [float(train.IMAGE_LEARNING_RATE)], True),
        ("", None, True, [float(train.IMAGE_LEARNING_RATE)], False),  # empty: the default
        ("0.1", None, True, [0.1], False),
        (None, "0.1,0.01,0.1", True, [0.1, 0.01], False),
    ],
)
def test_learning_rates_default_by_kind_of_data(
    learning_rate: str | None,
    learning_rates: str | None,
    images: bool,
    rates: list[float],
    noted: bool,
) -> None:
    got, note = train.choose_learning_rates(learning_rate, learning_rates, images=images)
    assert got == rates
    assert (note is not None) == noted
    if note is not None:
        assert train.IMAGE_LEARNING_RATE in note


def test_bad_learning_rate_names_its_option() -> None:
    with pytest.raises(ValueError, match=r"^--learning-rate: 'x' is not a number"):
        train.choose_learning_rates("x", None, images=False)
    with pytest.raises(ValueError, match=r"^--learning-rates: learning rates must be finite"):
        train.choose_learning_rates(None, "0.1,-1", images=False)


# --------------------------------------------------------------------------- 9. SIGTERM
def test_sigterm_during_training_exits_130_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.csv"
    _frame().to_csv(data, index=False)
    before = signal.getsignal(signal.SIGTERM)

    def terminated(*_a: object, **_k: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts this
        raise AssertionError("SIGTERM was not handled")

    monkeypatch.setattr(train, "fit_runs", terminated)
    assert main(_argv(data, tmp_path / "o")) == 130
    assert "vecstudy train: interrupted" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert signal.getsignal(signal.SIGTERM) is before


def test_os_errors_on_data_paths_are_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_path = tmp_path / ("d" * 5000 + ".csv")  # longer than a file name may be
    with pytest.raises(OSError, match=r"File name too long") as info:
        train.read_table(long_path)
    assert len(str(info.value)) < 300
    assert main(["train", str(long_path), "--target", "y", "--iterations", "x" * 10**5]) == 2
    assert len(capsys.readouterr().err) < 300
    assert main(["train", str(long_path), "--target", "y"]) == 2
    err = capsys.readouterr().err
    assert "File name too long" in err
    assert len(err) < 400
