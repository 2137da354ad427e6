"""``runtime.environ.get`` reads what ``os.environ.get`` reads, however the value was set."""

from __future__ import annotations

import os

import pytest

from vecstudy.runtime import environ


@pytest.mark.parametrize("value", ["float32", "", "  all  ", "na\u00efve", "\udcff-bytes"])
def test_it_reads_what_os_environ_holds(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("VECSTUDY_ENVIRON_TEST", value)
    assert environ.get("VECSTUDY_ENVIRON_TEST") == os.environ.get("VECSTUDY_ENVIRON_TEST") == value
    monkeypatch.delenv("VECSTUDY_ENVIRON_TEST")
    assert environ.get("VECSTUDY_ENVIRON_TEST") is None


def test_changes_through_os_environ_count_at_once() -> None:
    name = "VECSTUDY_ENVIRON_TEST_2"
    try:
        os.environ[name] = "1"
        assert environ.get(name) == "1"
        os.environ[name] = "2"
        assert environ.get(name) == "2"
        os.environ.update({name: "3"})
        assert environ.get(name) == "3"
        os.environ.pop(name)
        assert environ.get(name) is None
    finally:
        os.environ.pop(name, None)


def test_a_replaced_os_environ_is_read_through_its_own_get(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "environ", {"VECSTUDY_ENVIRON_TEST_3": "numba"})
    assert environ.get("VECSTUDY_ENVIRON_TEST_3") == "numba"
    assert environ.get("PATH") is None


def test_the_api_sees_an_environment_variable_set_just_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import numpy as np

    import vecstudy

    X, Y, w = np.ones((2, 3)), np.array([[0.0, 1.0, 1.0]]), np.zeros((2, 1))
    vecstudy.propagate(w, 0.0, X, Y)
    monkeypatch.setenv("VECSTUDY_DTYPE", "float32")
    grads, _ = vecstudy.propagate(w, 0.0, X, Y)
    assert grads["dw"].dtype == np.float32
    monkeypatch.setenv("VECSTUDY_DTYPE", "bogus")
    with pytest.raises(vecstudy.config.ConfigError, match="VECSTUDY_DTYPE"):
        vecstudy.propagate(w, 0.0, X, Y)
