"""vecstudy.datasets: the course's HDF5 files, read from synthetic files of the same layout."""

from __future__ import annotations

import builtins
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vecstudy import datasets
from vecstudy.datasets import flatten, load_course, load_h5

h5py = pytest.importorskip("h5py")

CLASSES = np.array([b"non-cat", b"cat"], dtype="S7")  # as in the course's files


def course_arrays(m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(m, 64, 64, 3), dtype=np.uint8)
    y = rng.integers(0, 2, size=m, dtype=np.int64)
    return x, y


def write_h5(path: Path, **arrays: Any) -> Path:
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)
    return path


def write_course(directory: Path, m_train: int = 12, m_test: int = 5) -> dict[str, np.ndarray]:
    xtr, ytr = course_arrays(m_train, 0)
    xte, yte = course_arrays(m_test, 1)
    directory.mkdir(parents=True, exist_ok=True)
    write_h5(
        directory / "train_catvnoncat.h5", train_set_x=xtr, train_set_y=ytr, list_classes=CLASSES
    )
    write_h5(directory / "test_catvnoncat.h5", test_set_x=xte, test_set_y=yte, list_classes=CLASSES)
    return {"xtr": xtr, "ytr": ytr, "xte": xte, "yte": yte}


def test_load_course_returns_the_course_arrays(tmp_path: Path) -> None:
    want = write_course(tmp_path)
    train_x, train_y, test_x, test_y, classes = load_course(tmp_path)
    assert train_x.shape == (12, 64, 64, 3)
    assert train_x.dtype == np.uint8
    assert test_x.shape == (5, 64, 64, 3)
    assert test_x.dtype == np.uint8
    assert train_y.shape == (1, 12)
    assert test_y.shape == (1, 5)
    np.testing.assert_array_equal(train_x, want["xtr"])
    np.testing.assert_array_equal(test_x, want["xte"])
    np.testing.assert_array_equal(train_y[0], want["ytr"])
    np.testing.assert_array_equal(test_y[0], want["yte"])
    assert classes is not None
    assert list(classes) == [b"non-cat", b"cat"]


def test_load_course_at_the_real_sizes_finds_the_datasets_subdirectory(tmp_path: Path) -> None:
    write_course(tmp_path / "datasets", m_train=209, m_test=50)  # the course's layout
    data = load_course(tmp_path)
    assert data.train_set_x_orig.shape == (209, 64, 64, 3)
    assert data.test_set_y.shape == (1, 50)
    X = flatten(data.train_set_x_orig)
    assert X.shape == (12288, 209)
    assert X.dtype == np.float64


def test_load_h5_finds_the_only_pair_and_keeps_the_file_order(tmp_path: Path) -> None:
    x, y = course_arrays(3, 2)
    path = write_h5(tmp_path / "t.h5", train_set_x=x, train_set_y=y, list_classes=CLASSES)
    got = load_h5(path)
    assert (got.prefix, got.m, got.path) == ("train_set", 3, str(path))
    np.testing.assert_array_equal(got.y, y.reshape(1, 3))
    # a generic pair without list_classes, 2-D x and (m, 1) labels
    other = write_h5(tmp_path / "o.h5", pixels_x=np.ones((4, 7)), pixels_y=np.ones((4, 1)))
    got = load_h5(other)
    assert (got.prefix, got.x.shape, got.y.shape, got.classes) == ("pixels", (4, 7), (1, 4), None)


def test_flatten_is_the_courses_reshape_and_scale() -> None:
    x, _ = course_arrays(4, 3)
    X = flatten(x)
    assert X.shape == (64 * 64 * 3, 4)
    assert X.dtype == np.float64
    # column i is image i, pixels in row-major order, divided by 255
    np.testing.assert_array_equal(X[:, 2], x[2].ravel() / 255.0)
    assert X[5, 1] == x[1, 0, 1, 2] / 255.0
    assert X.min() >= 0.0
    assert X.max() <= 1.0


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (np.zeros((2, 4), dtype=np.float64), TypeError, "scaled twice"),
        (np.zeros(5, dtype=np.uint8), ValueError, r"shape \(m, \.\.\.\)"),
        (np.full((2, 3), 300, dtype=np.int64), ValueError, "from 300 to 300"),
        ([[1, 2]], TypeError, "NumPy array"),
    ],
)
def test_flatten_rejects_what_it_would_get_wrong(bad: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        flatten(bad)


def test_missing_file_and_directory_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.h5.*no such file"):
        load_h5(tmp_path / "nope.h5")
    with pytest.raises(FileNotFoundError, match="no such directory"):
        load_course(tmp_path / "absent")
    write_h5(
        tmp_path / "train_catvnoncat.h5", train_set_x=course_arrays(2, 0)[0], train_set_y=[0, 1]
    )
    write_h5(tmp_path / "other.h5", a=[1])
    with pytest.raises(FileNotFoundError) as info:
        load_course(tmp_path)
    text = str(info.value)
    assert "no test_catvnoncat.h5" in text
    assert "'other.h5'" in text
    assert "'train_catvnoncat.h5'" in text
    with pytest.raises(ValueError, match="is a directory"):
        load_h5(tmp_path)


def test_not_an_hdf5_file(tmp_path: Path) -> None:
    path = tmp_path / "fake.h5"
    path.write_text("name,label\n")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        load_h5(path)


def test_missing_keys_are_listed_and_bounded(tmp_path: Path) -> None:
    many = {f"key{i:02d}": [i] for i in range(20)}
    path = write_h5(tmp_path / "many.h5", **many)
    with pytest.raises(ValueError, match="found no pairs") as info:
        load_h5(path)
    text = str(info.value)
    assert "'key00'" in text
    assert "'key07'" in text
    assert "and 12 more" in text
    assert "'key08'" not in text
    x, y = course_arrays(2, 0)
    path = write_h5(tmp_path / "t.h5", train_set_x=x, train_set_y=y)
    with pytest.raises(ValueError, match=r"no dataset 'test_set_x' or 'test_set_y'.*'train_set_x'"):
        load_h5(path, prefix="test_set")
    # a course training file given where the test file belongs
    (tmp_path / "c").mkdir()
    write_h5(tmp_path / "c" / "train_catvnoncat.h5", train_set_x=x, train_set_y=y)
    write_h5(tmp_path / "c" / "test_catvnoncat.h5", train_set_x=x, train_set_y=y)
    with pytest.raises(ValueError, match=r"test_catvnoncat\.h5.*no dataset 'test_set_x'"):
        load_course(tmp_path / "c")


def test_several_pairs_need_a_prefix(tmp_path: Path) -> None:
    x, y = course_arrays(2, 0)
    path = write_h5(tmp_path / "both.h5", a_x=x, a_y=y, b_x=x, b_y=y)
    with pytest.raises(ValueError, match=r"found 2 pairs \('a', 'b'; choose one with prefix="):
        load_h5(path)
    assert load_h5(path, prefix="b").prefix == "b"


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"s_x": np.array([b"a", b"b"]), "s_y": [0, 1]}, "x must hold numbers.*dtype \\|S1"),
        ({"s_x": np.arange(3), "s_y": [0, 1, 1]}, r"shape \(m, \.\.\.\).*got shape \(3,\)"),
        (
            {"s_x": np.zeros((3, 2)), "s_y": [0, 1]},
            r"one label per example.*\(3,\).*got shape \(2,\)",
        ),
        ({"s_x": np.zeros((4, 2)), "s_y": np.zeros((2, 2))}, r"got shape \(2, 2\)"),
        ({"s_x": np.zeros((2, 2)), "s_y": np.array([b"x", b"y"])}, "numeric labels"),
    ],
)
def test_wrong_shapes_and_dtypes(tmp_path: Path, arrays: dict[str, Any], match: str) -> None:
    path = write_h5(tmp_path / "bad.h5", **arrays)
    with pytest.raises(ValueError, match=match):
        load_h5(path)


def test_mismatched_image_shapes(tmp_path: Path) -> None:
    write_course(tmp_path)
    write_h5(
        tmp_path / "test_catvnoncat.h5",
        test_set_x=np.zeros((2, 32, 32, 3), np.uint8),
        test_set_y=[0, 1],
    )
    with pytest.raises(ValueError, match=r"\(64, 64, 3\) but the test images \(32, 32, 3\)"):
        load_course(tmp_path)


def test_missing_h5py_gives_both_install_forms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_h5py(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "h5py":
            raise ImportError("No module named 'h5py'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "h5py")
    monkeypatch.setattr(builtins, "__import__", no_h5py)
    with pytest.raises(ImportError) as info:
        load_h5(tmp_path / "train_catvnoncat.h5")
    text = str(info.value)
    assert "pip install 'vecstudy[course]'" in text
    assert "pip install '.[course]'" in text
    assert datasets.INSTALL_HINT in text
