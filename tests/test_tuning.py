"""The numba backend's measured plans: the wisdom store, lookup, the plan() hook, the CLI.

Every test has its own ``VECSTUDY_TUNE_DIR`` (see conftest.py): the user's wisdom is
never read or written here.
"""

from __future__ import annotations

import errno
import json
import math
import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from vecstudy import config
from vecstudy.backends import numba as nb
from vecstudy.backends.numba import planning, tuning, wisdom
from vecstudy.cli import main
from vecstudy.report import tune as report_tune
from vecstudy.runtime.caches import cache_sizes


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """No warning, file reading or first-use tuning carried over from another test."""
    monkeypatch.setattr(wisdom, "_warned", set())
    monkeypatch.setattr(tuning, "_first_use_done", {})
    monkeypatch.setattr(wisdom, "RECHECK_SECONDS", 0.0)
    wisdom._forget()


def model(n_x: int, m: int, itemsize: int = 8, order: str = "C") -> nb.Plan:
    return nb.plan(n_x, m, itemsize, order, cache_sizes())


def fake(
    n_x: int,
    m: int,
    pl: nb.Plan,
    *,
    dtype: str = "float64",
    order: str = "C",
    parallel: dict[int, bool] | None = None,
    kind: str = "step",
    seconds: dict[int, float] | None = None,
    copy_s: dict[int, float] | None = None,
) -> wisdom.Tuned:
    """A :class:`wisdom.Tuned` as measure() would return it, without measuring."""
    parallel = {1: False, 2: True} if parallel is None else parallel
    itemsize = np.dtype(dtype).itemsize
    tuned_s = dict.fromkeys(parallel, 1e-3) if seconds is None else seconds
    return wisdom.Tuned(
        n_x, m, dtype, order, model(n_x, m, itemsize, order), pl._replace(parallel=False),
        parallel, tuned_s, dict.fromkeys(parallel, 2e-3), 3, 5, 0.5, kind=kind,
        copy_s={} if copy_s is None else copy_s,
    )  # fmt: skip


# --------------------------------------------------------------------------- store
def test_store_round_trip() -> None:
    pl = planning._tiles(nb.FUSED, 64, 1, 10_000)
    path = wisdom.save([fake(100, 10_000, pl)])
    assert path == wisdom.wisdom_path()
    assert path.parent == Path(os.environ["VECSTUDY_TUNE_DIR"])
    doc = json.loads(path.read_text())
    section = doc["machines"][wisdom.machine()["key"]]
    assert section["numba"] == wisdom.machine()["numba"]
    assert list(section["entries"]) == ["float64/C/100x10000"]
    (entry,) = wisdom.entries()
    assert (entry.n_x, entry.m, entry.B, entry.T, entry.parallel) == (
        100, 10_000, 64, 1, {1: False, 2: True},
    )  # fmt: skip
    assert wisdom.lookup(100, 10_000, 8, "C", 2) == pl._replace(parallel=True)
    assert wisdom.lookup(100, 10_000, 8, "C", 1) == pl._replace(parallel=False)
    # a second shape is added beside the first, a re-tuned one replaces its entry
    wisdom.save([fake(12288, 300, planning._panels(12288, 8))])
    wisdom.save([fake(100, 10_000, planning._tiles(nb.FUSED, 128, 1, 10_000))])
    assert [(e.n_x, e.B) for e in wisdom.entries()] == [(100, 128), (12288, 0)]
    assert wisdom.stored_entries()[0]["plan"]["B"] == 128


def test_entries_of_another_machine_are_not_used() -> None:
    pl = planning._tiles(nb.FUSED, 64, 1, 10_000)
    path = wisdom.save([fake(100, 10_000, pl)])
    doc = json.loads(path.read_text())
    doc["machines"] = {"someothercpu": doc["machines"].popitem()[1]}
    path.write_text(json.dumps(doc))
    assert wisdom.lookup(100, 10_000, 8, "C", 1) is None
    wisdom.save([fake(30, 2000, planning._tiles(nb.FUSED, 256, 1, 2000))])  # kept beside
    assert "someothercpu" in json.loads(path.read_text())["machines"]
    assert wisdom.clear() == (path, 1)
    assert list(json.loads(path.read_text())["machines"]) == ["someothercpu"]


@pytest.mark.parametrize(
    "content", [b"{not json", b"\xff\xfe", b'{"format": 99, "machines": {}}', b"[1, 2]"]
)
def test_corrupt_file_warns_once_and_falls_back(content: bytes) -> None:
    path = wisdom.wisdom_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.warns(wisdom.TuningWarning, match="ignoring the numba wisdom file") as rec:
        assert nb.plan(100, 10_000, 8, "C") == model(100, 10_000)
    assert len(rec) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning in this process
        assert nb.plan(100, 10_000, 8, "C") == model(100, 10_000)
        assert wisdom.lookup(100, 10_000, 8, "C", 1) is None
    tuned = fake(100, 10_000, planning._tiles(nb.FUSED, 64, 1, 10_000))
    if b'"format": 99' in content:  # a newer vecstudy's file is never replaced
        with pytest.raises(
            wisdom.WisdomFileError,
            match=r"a newer vecstudy wrote it \(format 99; this one reads 1\)",
        ):
            wisdom.save([tuned])
        with pytest.raises(wisdom.WisdomFileError, match="left as it is"):
            wisdom.clear()
        assert path.read_bytes() == content
        return
    # saving sets the unreadable file aside, with its bytes, and says so once
    with pytest.warns(wisdom.TuningWarning, match=r"moved to numba-wisdom\.json\.unreadable"):
        wisdom.save([tuned])
    assert path.with_name(path.name + ".unreadable").read_bytes() == content
    assert wisdom.lookup(100, 10_000, 8, "C", 1) is not None


def test_clear_sets_an_unreadable_file_aside(capsys: pytest.CaptureFixture[str]) -> None:
    path = wisdom.wisdom_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"{truncated")
    with pytest.warns(wisdom.TuningWarning):
        assert main(["tune", "--clear"]) == 0
    assert not path.exists()
    assert path.with_name(path.name + ".unreadable").read_bytes() == b"{truncated"


def test_a_folder_in_place_of_the_wisdom_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = wisdom.wisdom_path()
    path.mkdir(parents=True)
    with pytest.warns(wisdom.TuningWarning, match="remove that folder"):
        assert nb.plan(100, 10_000, 8, "C") == model(100, 10_000)
    monkeypatch.setattr(tuning, "measure", lambda *a, **k: pytest.fail("timed before the check"))
    argv = ["tune", "--shapes", "8x300", "--order", "C", "--budget", "0.05", "--no-progress"]
    assert main(argv) == 2
    assert main(["tune", "--clear"]) == 2
    err = capsys.readouterr().err
    assert err.count(f"the wisdom file {path} is a folder: remove it") == 2
    assert path.is_dir()


@pytest.mark.parametrize(
    "plan",
    [
        {"mode": 1, "B": 64, "T": 1, "n_chunks": 157, "P": 0},  # sample-major for C
        {"mode": 3, "B": 64, "T": 1, "n_chunks": 157, "P": 0},  # sample-major for C
        {"mode": 0, "B": 0, "T": 1, "n_chunks": 157, "P": 0},  # no tile
        {"mode": 0, "B": 64, "T": True, "n_chunks": 157, "P": 0},  # a bool
        {"mode": 2, "B": 0, "T": 0, "n_chunks": 100_000, "P": 8},  # too many panels
        {"mode": 7, "B": 64, "T": 1, "n_chunks": 157, "P": 0},
    ],
)
def test_invalid_entry_is_ignored_with_a_warning(plan: dict[str, object]) -> None:
    path = wisdom.save([fake(100, 10_000, planning._tiles(nb.FUSED, 64, 1, 10_000))])
    doc = json.loads(path.read_text())
    (entry,) = doc["machines"][wisdom.machine()["key"]]["entries"].values()
    entry["plan"] = plan
    path.write_text(json.dumps(doc))
    with pytest.warns(wisdom.TuningWarning, match="ignoring entry float64/C/100x10000"):
        assert nb.plan(100, 10_000, 8, "C") == model(100, 10_000)


def test_bad_entries_give_one_warning_without_terminal_escapes() -> None:
    """Eight bad entries, one named with a terminal's escape sequences: one warning for
    the file, naming the first and counting the rest, with no control character in it."""
    path = wisdom.save([fake(100, 10_000, planning._tiles(nb.FUSED, 64, 1, 10_000))])
    doc = json.loads(path.read_text())
    entries = doc["machines"][wisdom.machine()["key"]]["entries"]
    (good,) = entries.values()
    bad = {**good, "n_x": "20"}
    entries.clear()
    entries["\x1b]0;title\x07\x1b[2Jfloat64/C/1x1"] = bad
    for k in range(7):
        entries[f"float64/C/{k + 2}x1"] = bad
    path.write_text(json.dumps(doc))
    with pytest.warns(wisdom.TuningWarning) as rec:
        assert nb.plan(100, 10_000, 8, "C") == model(100, 10_000)
    (warning,) = rec
    text = str(warning.message)
    assert "(and 7 more entries)" in text
    assert "n_x '20' is not an integer" in text  # quoted: a string, not a number
    assert not any(ch < " " for ch in text), repr(text)


def test_show_prints_entries_whose_unused_fields_are_bad(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The backend checks the fields it uses; the table shows ``?`` or ``-`` for the rest."""
    path = wisdom.save([fake(100, 10_000, planning._tiles(nb.FUSED, 64, 1, 10_000))])
    doc = json.loads(path.read_text())
    (entry,) = doc["machines"][wisdom.machine()["key"]]["entries"].values()
    entry["plan"]["P"] = None  # tiles do not use P
    entry["model"] = {"mode": 99, "B": "x"}
    for v in entry["threads"].values():
        v["model_ms"] = "1"
    path.write_text(json.dumps(doc))
    assert len(wisdom.entries()) == 1  # the backend uses it
    assert main(["tune", "--show"]) == 0
    out = capsys.readouterr().out
    assert "(1 plans for this machine)" in out
    (row, *_) = [line for line in out.splitlines() if line.startswith("100x10000")]
    assert "?" in row  # the model's plan
    assert "fused C: tiles of 64" in row


_WRITER = textwrap.dedent(
    """
    import sys
    import time
    from pathlib import Path

    from vecstudy.backends import numba as nb
    from vecstudy.backends.numba import planning, wisdom
    from vecstudy.runtime.caches import cache_sizes

    who, n, here = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    (here / f"ready-{who}").touch()
    while not (here / "go").exists():  # start together
        time.sleep(0.001)
    for i in range(n):
        n_x, m = 10 + who, 1000 + i
        pl = planning._tiles(nb.FUSED, 64, 1, m)
        model = nb.plan(n_x, m, 8, "C", cache_sizes())
        wisdom.save([wisdom.Tuned(n_x, m, "float64", "C", model, pl, {1: False},
                                  {1: 1e-3}, {1: 1e-3}, 1, 3, 0.1)])
    """
)


@pytest.mark.slow
def test_concurrent_writers_keep_every_entry(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    n = 12
    procs = [
        subprocess.Popen([sys.executable, str(script), str(who), str(n), str(tmp_path)], env=env)
        for who in (0, 1)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-{who}").exists() for who in (0, 1)):
        assert time.monotonic() < deadline
        assert all(p.poll() is None for p in procs)
        time.sleep(0.01)
    (tmp_path / "go").touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    names = {e.name for e in wisdom.entries()}
    assert len(names) == 2 * n
    assert "float64/C/11x1011" in names
    assert not list(wisdom.wisdom_path().parent.glob("*.tmp"))


# --------------------------------------------------------------------------- lookup
def test_lookup_buckets_by_nearest_shape_within_a_factor_of_two() -> None:
    wisdom.save(
        [
            fake(1000, 1000, planning._tiles(nb.FUSED, 32, 1, 1000)),
            fake(4000, 1000, planning._panels(4000, 8)),
            fake(1000, 1000, planning._tiles(nb.SAMPLE, 8, 4, 1000), order="F"),
        ]
    )
    # nearest by log-distance: 1900 is nearer 1000 than 4000 (0.64 against 0.74)
    assert wisdom.lookup(1900, 1000, 8, "C", 1).mode == nb.FUSED  # type: ignore[union-attr]
    assert wisdom.lookup(2100, 1000, 8, "C", 1).mode == nb.SPLIT  # type: ignore[union-attr]
    # exactly a factor 2 in both dimensions is inside, more is not
    assert wisdom.lookup(500, 2000, 8, "C", 1) is not None
    assert wisdom.lookup(1000, 2100, 8, "C", 1) is None
    assert wisdom.lookup(480, 1000, 8, "C", 1) is None
    # dtype and order must match
    assert wisdom.lookup(1000, 1000, 4, "C", 1) is None
    assert wisdom.lookup(1000, 1000, 8, "F", 1).mode == nb.SAMPLE  # type: ignore[union-attr]
    # carried over: tiles keep B and T, chunks follow m; panels keep their number
    got = wisdom.lookup(1000, 1900, 8, "C", 1)
    assert got == nb.Plan(nb.FUSED, 32, 1, 60, 0, False)
    assert wisdom.lookup(3000, 1000, 8, "C", 2) == nb.Plan(nb.SPLIT, 0, 0, 8, 376, True)
    # a thread count not tuned: the model's rule for the flag, the same decomposition
    assert wisdom.lookup(1000, 1900, 8, "C", 3) == got._replace(parallel=True)
    assert wisdom.lookup(1000, 1000, 8, "C", 1) == nb.Plan(nb.FUSED, 32, 1, 32, 0, False)


def test_split_plans_keep_their_forward_segment() -> None:
    stored = planning._panels(12288, 8, segment=512)
    wisdom.save([fake(12288, 300, stored)])
    assert wisdom.lookup(12288, 300, 8, "C", 1) == stored
    assert wisdom.lookup(10000, 400, 8, "C", 1) == planning._panels(10000, 8, segment=512)
    raw = wisdom.stored_entries()[0]
    assert raw["plan"]["B"] == 512
    del raw["plan"]["B"]  # an entry written before segments: the default
    assert wisdom._parse_entry("x", raw).B == 0
    # the tuner times other segments where rows are longer than the default's
    assert model(12288, 20_000).mode == nb.SPLIT
    cands = tuning.candidates(12288, 20_000, 8, "C")
    assert {pl.B for pl in cands if pl.mode == nb.SPLIT} == {0, 1024, 16384, 20_000}
    short = tuning.candidates(12288, 300, 8, "C")  # rows of 2400 bytes: one segment only
    assert {pl.B for pl in short if pl.mode == nb.SPLIT} == {0}


def test_descent_plans_are_stored_and_looked_up_apart_from_steps() -> None:
    shape = (600, 4000)
    step = planning._tiles(nb.FUSED, 64, 1, shape[1])
    descent = planning._panels(shape[0], 8)
    wisdom.save([fake(*shape, step)])
    assert nb.plan(*shape, 8, "C", threads=1, kind="descent") == step  # no descent stored
    copy = {1: 0.02, 2: 0.015}
    wisdom.save([fake(*shape, descent, kind="descent", copy_s=copy)])
    assert [e.name for e in wisdom.entries()] == [
        "descent/float64/C/600x4000",
        "float64/C/600x4000",
    ]
    raw = wisdom.stored_entries()[1]  # steps first, then descents
    assert raw["kind"] == "descent"
    assert raw["threads"]["2"] == {"parallel": True, "ms": 1.0, "model_ms": 2.0, "copy_ms": 15.0}
    (entry,) = [e for e in wisdom.entries() if e.kind == "descent"]
    assert (entry.ms, entry.copy_ms) == ({1: 1.0, 2: 1.0}, {1: 20.0, 2: 15.0})
    for t in (1, 2):
        assert nb.plan(*shape, 8, "C", threads=t) == step._replace(parallel=t == 2)
        assert nb.plan(*shape, 8, "C", threads=t, kind="descent") == descent._replace(
            parallel=t == 2
        )
    assert wisdom.lookup(*shape, 8, "C", 1, "descent") == descent
    with config.use_tune("off"):
        assert nb.plan(*shape, 8, "C", kind="descent") == model(*shape)
    # an older file's entries have no kind: steps
    assert wisdom._parse_entry("x", {k: v for k, v in raw.items() if k != "kind"}).kind == "step"


def test_optimize_runs_the_descent_plan_bitwise_across_threads(rng: np.random.Generator) -> None:
    shape = (200, 3000)
    X = rng.standard_normal(shape)
    Y = (rng.random(shape[1]) < 0.5).astype(float)
    w = rng.standard_normal(shape[0]) / np.sqrt(shape[0])
    stored = planning._panels(shape[0], 4)  # split, where the model and the step take tiles
    assert model(*shape).mode == nb.FUSED
    wisdom.save([fake(*shape, stored, kind="descent")])
    assert nb._prepare(X, kind="descent")[1][:5] == tuple(stored[:5])
    assert nb._prepare(X)[1][0] == nb.FUSED
    before = nb.get_threads()
    try:
        runs = []
        for t in sorted({1, nb.max_threads()}):
            nb.set_threads(t)
            runs.append(nb.optimize(w, 0.1, X, Y, 30, 0.05, 10))
    finally:
        nb.set_threads(before)
    for got in runs[1:]:
        assert got[0].tobytes() == runs[0][0].tobytes()
        assert got[1] == runs[0][1]
        assert got[4].tobytes() == runs[0][4].tobytes()
    with config.use_tune("off"):
        w_m, b_m, *_ = nb.optimize(w, 0.1, X, Y, 30, 0.05, 10)
    np.testing.assert_allclose(runs[0][0], w_m, rtol=1e-12, atol=1e-14)
    assert runs[0][1] == pytest.approx(b_m, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"kind": "sweep"}, "kind 'sweep' is not one of step, descent"),
        ({"threads": {"1": {"parallel": False, "ms": -1.0}}}, "ms for 1 threads"),
        ({"threads": {"1": {"parallel": False, "copy_ms": "fast"}}}, "copy_ms for 1 threads"),
        ({"threads": {"1": {"parallel": False, "copy_ms": float("inf")}}}, "copy_ms for 1"),
    ],
)
def test_invalid_descent_entry_is_refused(change: dict[str, object], why: str) -> None:
    raw = fake(600, 4000, planning._panels(600, 8), kind="descent").to_entry()
    with pytest.raises(ValueError, match=why):
        wisdom._parse_entry("x", {**raw, **change})


def _descents(n_x: int, m: int, c_ms: float, f_ms: float, copy_ms: float) -> None:
    """Descents stored for both orders of one shape, at 1 and 2 threads."""
    c_plan = planning._panels(n_x, 8)
    f_plan = planning._tiles(nb.SAMPLE, 16, 4, m)
    both = {1: 1.0, 2: 0.5}  # two threads: half the time of one
    wisdom.save([
        fake(n_x, m, c_plan, kind="descent", seconds={t: c_ms * f * 1e-3 for t, f in both.items()},
             copy_s={t: copy_ms * f * 1e-3 for t, f in both.items()}),
        fake(n_x, m, f_plan, order="F", kind="descent",
             seconds={t: f_ms * f * 1e-3 for t, f in both.items()},
             copy_s={t: copy_ms * f * 1e-3 for t, f in both.items()}),
    ])  # fmt: skip


def test_relayout_follows_the_measured_descents() -> None:
    n_x, m = 700, 3000
    X = np.zeros((n_x, m))
    model_rule = [nb.relayout_order(X, n) for n in (1, 20, 100, 1000)]
    # F saves 1 ms of 5 per iteration (one thread; half both on two), the copy costs 30
    _descents(n_x, m, 5.0, 4.0, 30.0)
    assert wisdom.relayout_after(n_x, m, 8, "C") == pytest.approx(30.0)
    assert wisdom.relayout_after(n_x, m, 8, "F") == math.inf  # C is the slower order
    before = nb.get_threads()
    try:
        for t in sorted({1, nb.max_threads()}):  # one answer for every thread count
            nb.set_threads(t)
            assert [nb.relayout_order(X, n) for n in (29, 31, 1000)] == [None, "F", "F"]
            assert nb.relayout_order(np.asfortranarray(X), 10**6) is None
    finally:
        nb.set_threads(before)
    # a nearby shape takes the measurement of the nearest stored one
    assert nb.relayout_order(np.zeros((900, 2000)), 31) == "F"
    assert wisdom.relayout_after(2000, 3000, 8, "C") is None  # beyond the bucket: the model
    with config.use_tune("off"):
        assert [nb.relayout_order(X, n) for n in (1, 20, 100, 1000)] == model_rule
    # F slower than C: a C-ordered X is never copied, an F-ordered one is, once it pays
    wisdom.clear()
    _descents(n_x, m, 4.0, 6.0, 30.0)
    assert [nb.relayout_order(X, n) for n in (1, 10**6)] == [None, None]
    assert [nb.relayout_order(np.asfortranarray(X), n) for n in (14, 16)] == [None, "C"]


def test_relayout_needs_descents_in_both_orders() -> None:
    n_x, m = 700, 3000
    X = np.zeros((n_x, m))
    model_rule = [nb.relayout_order(X, n) for n in (1, 20, 100, 1000)]
    wisdom.save([fake(n_x, m, planning._panels(n_x, 8), kind="descent", copy_s={1: 0.01})])
    assert wisdom.relayout_after(n_x, m, 8, "C") is None
    assert [nb.relayout_order(X, n) for n in (1, 20, 100, 1000)] == model_rule


# --------------------------------------------------------------------------- plan() hook
def test_plan_uses_wisdom_when_present_and_the_model_when_not() -> None:
    shape = (300, 5000)
    stored = planning._tiles(nb.FUSED, 48, 1, shape[1])
    assert stored[:5] != model(*shape)[:5]
    assert nb.plan(*shape, 8, "C") == model(*shape)  # nothing stored yet
    wisdom.save([fake(*shape, stored, parallel={1: False, 2: True})])
    before = nb.get_threads()
    try:
        nb.set_threads(1)
        assert nb.plan(*shape, 8, "C") == stored._replace(parallel=False)
        assert nb.describe(np.zeros(shape)) == "fused C: tiles of 48, 105 chunks of 1, serial"
        if nb.max_threads() >= 2:
            nb.set_threads(2)
            assert nb.plan(*shape, 8, "C") == stored._replace(parallel=True)
    finally:
        nb.set_threads(before)
    assert nb.plan(*shape, 8, "C", cache_sizes()) == model(*shape)  # explicit caches: model
    assert nb.plan(5000, 300, 8, "C") == model(5000, 300)  # far from any stored shape
    assert nb.plan(*shape, 4, "C") == model(*shape, 4)  # another dtype


@pytest.mark.parametrize("how", ["env", "context", "file"])
def test_tune_off_ignores_wisdom(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    shape = (300, 5000)
    stored = planning._tiles(nb.FUSED, 48, 1, shape[1])
    wisdom.save([fake(*shape, stored)])
    assert nb.plan(*shape, 8, "C").B == 48
    if how == "env":
        monkeypatch.setenv("VECSTUDY_TUNE", "off")
        assert config.resolve_tune().source == "environment variable VECSTUDY_TUNE"
        assert nb.plan(*shape, 8, "C") == model(*shape)
    elif how == "context":
        with config.use_tune("off"):
            assert nb.plan(*shape, 8, "C") == model(*shape)
        assert nb.plan(*shape, 8, "C").B == 48
    else:
        Path("vecstudy.toml").write_text('[numba]\ntune = "off"\n')
        assert str(config.resolve_tune()) == (
            f"off (from config file {Path('vecstudy.toml').resolve()}, key 'numba.tune')"
        )
        assert nb.plan(*shape, 8, "C") == model(*shape)


def test_tune_setting_precedence_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert str(config.resolve_tune()) == "cached (from default)"
    Path("vecstudy.toml").write_text('[numba]\ntune = "off"\n')
    monkeypatch.setenv("VECSTUDY_TUNE", "first-use")
    assert config.resolve_tune().value == "first-use"
    with config.use_tune("cached"):
        assert config.resolve_tune().value == "cached"
        assert config.resolve_tune("off").source == "argument tune="
    monkeypatch.setenv("VECSTUDY_TUNE", "always")
    with pytest.raises(config.ConfigError, match="bad numba tune 'always' from environment"):
        nb.plan(10, 100, 8, "C")
    monkeypatch.delenv("VECSTUDY_TUNE")
    Path("vecstudy.toml").write_text("[numba]\ntuning = 1\n")
    with pytest.raises(config.ConfigError, match=r"table \[numba\]: unknown key 'tuning'"):
        config.resolve_tune()
    with pytest.raises(config.ConfigError, match="valid values are 'off', 'cached'"):
        config.use_tune("on").__enter__()


CASES = [  # shape, order, a stored plan other than the model's
    ((300, 5000), "C", planning._tiles(nb.FUSED, 48, 2, 5000)),
    ((2000, 700), "C", planning._panels(2000, 5)),
    ((1000, 700), "C", planning._tiles(nb.FUSED, 32, 1, 700)),
    ((200, 3000), "F", planning._tiles(nb.SAMPLE, 8, 8, 3000)),  # the model's is one by one
    ((30, 5000), "F", planning._tiles(nb.SAMPLE_SEQ, 64, 1, 5000)),  # and the other way
]


@pytest.mark.parametrize(("shape", "order", "stored"), CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tuned_plan_agrees_with_the_model_and_is_bitwise_across_threads(
    shape: tuple[int, int],
    order: str,
    stored: nb.Plan,
    dtype: str,
    rng: np.random.Generator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X = np.asarray(rng.standard_normal(shape), dtype=dtype, order=order)  # type: ignore[call-overload]
    Y = (rng.random(shape[1]) < 0.5).astype(dtype)
    w = (rng.standard_normal(shape[0]) / np.sqrt(shape[0])).astype(dtype)
    wisdom.save([fake(*shape, stored, dtype=dtype, order=order, parallel={1: False, 2: True})])
    itemsize = X.dtype.itemsize
    assert nb.plan(*shape, itemsize, order)[:5] == stored[:5]
    assert stored[:5] != model(*shape, itemsize, order)[:5]
    before = nb.get_threads()
    try:
        results = []
        for t in (1, 2, 1, 2):
            nb.set_threads(t)
            results.append(nb.gradient_sums(w, 0.1, X, Y, True))
    finally:
        nb.set_threads(before)
    for dw, db, cost in results[1:]:
        assert dw.tobytes() == results[0][0].tobytes()
        assert (db, cost) == results[0][1:]
    monkeypatch.setenv("VECSTUDY_TUNE", "off")
    dw_m, db_m, cost_m = nb.gradient_sums(w, 0.1, X, Y, True)
    tol = 1e-12 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(results[0][0], dw_m, rtol=tol, atol=tol * np.abs(dw_m).max())
    assert results[0][1] == pytest.approx(db_m, rel=tol, abs=tol * shape[1])
    assert results[0][2] == pytest.approx(cost_m, rel=tol)


# --------------------------------------------------------------------------- measuring
def test_choose_keeps_the_model_unless_clearly_faster_and_serial_when_parallel_loses() -> None:
    # parallel slower than serial at 2 threads: serial is stored
    med = {(1, 0, False): 1.0, (2, 0, False): 0.9, (2, 0, True): 1.3}
    assert tuning._choose(med, [1, 2], 1) == (0, {1: (1.0, False), 2: (0.9, False)})
    # a candidate 2% faster does not replace the model's tiles (noise)
    med.update({(1, 1, False): 0.98, (2, 1, False): 0.88, (2, 1, True): 2.0})
    assert tuning._choose(med, [1, 2], 2)[0] == 0
    # 20% faster at one thread but 10% slower at two: the model's stays
    med.update({(1, 2, False): 0.8, (2, 2, False): 0.99, (2, 2, True): 1.5})
    assert tuning._choose(med, [1, 2], 3)[0] == 0
    # faster everywhere, in parallel at two threads: it wins, parallel there
    med.update({(1, 3, False): 0.7, (2, 3, False): 0.8, (2, 3, True): 0.5})
    assert tuning._choose(med, [1, 2], 4) == (3, {1: (0.7, False), 2: (0.5, True)})
    with pytest.raises(ValueError, match="not timed at 4 threads"):
        tuning._choose(med, [4], 4)


@pytest.mark.parametrize("order", ["C", "F"])
def test_measure_returns_a_valid_plan_within_budget(order: str) -> None:
    threads = sorted({1, nb.max_threads()})
    res = tuning.measure((40, 3000), "float64", order, threads, 0.1)
    assert res.plan in tuning.candidates(40, 3000, 8, order)
    assert res.model == model(40, 3000, 8, order)
    assert sorted(res.parallel) == threads
    assert res.parallel[1] is False
    assert res.rounds >= tuning.MIN_ROUNDS
    for t in threads:  # never slower than the model's plan beyond the noise allowance
        assert 0 < res.tuned_s[t] <= res.model_s[t] * (1 + tuning.MIN_GAIN)
        assert res.margin(t) == res.model_s[t] / res.tuned_s[t]
    with pytest.raises(ValueError, match="budget_s must be a positive"):
        tuning.measure((4, 10), "float64", order, 1, 0)
    with pytest.raises(ValueError, match="order must be 'C' or 'F'"):
        tuning.measure((4, 10), "float64", "K", 1, 1)
    with pytest.raises(ValueError, match="dtype must be float64 or float32"):
        tuning.measure((4, 10), "int8", "C", 1, 1)
    with pytest.raises(ValueError, match="shape must be two positive integers"):
        tuning.measure((4, 0), "float64", "C", 1, 1)
    with pytest.raises(ValueError, match=r"shape 9223372036854775807x2 is too large for any"):
        tuning.measure((2**63 - 1, 2), "float64", "C", 1, 1)
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        tuning.measure((4, 10), "float64", "C", [np.int64(0)], 1)
    # NumPy integers count as integers, as in shape
    assert tuning.measure((4, 10), "float64", "C", np.int64(1), 0.05).plan is not None


@pytest.mark.parametrize(
    ("shape", "order"), [((40, 3000), "C"), ((40, 3000), "F"), ((2000, 300), "C")]
)
def test_measure_times_descents_and_the_copy(shape: tuple[int, int], order: str) -> None:
    threads = sorted({1, nb.max_threads()})
    res = tuning.measure(shape, "float64", order, threads, 0.1, kind="descent")
    assert res.kind == "descent"
    assert res.plan in tuning.candidates(*shape, 8, order)
    if shape == (2000, 300):  # split: the descent reads X once per iteration
        assert planning.fuses(res.model.mode, shape[1], 8)
    assert sorted(res.copy_s) == threads
    for t in threads:
        assert 0 < res.tuned_s[t] <= res.model_s[t] * (1 + tuning.MIN_GAIN)
        assert 0 < res.copy_s[t] < 1.0
    path = wisdom.save([res])
    (entry,) = wisdom.entries(path)
    assert (entry.kind, entry.name) == ("descent", f"descent/float64/{order}/{shape[0]}x{shape[1]}")
    assert nb.plan(*shape, 8, order, threads=1, kind="descent") == res.plan_for(1)
    with pytest.raises(ValueError, match="kind must be one of step, descent"):
        tuning.measure(shape, "float64", order, 1, 0.1, kind="sweep")


def test_descent_tuning_times_the_step_plan_too(monkeypatch: pytest.MonkeyPatch) -> None:
    shape = (40, 3000)
    stored = planning._tiles(nb.FUSED, 48, 2, shape[1])  # no candidate of the model's
    assert stored not in tuning.candidates(*shape, 8, "C")
    wisdom.save([fake(*shape, stored)])
    timed: list[nb.Plan] = []
    real = tuning._prepare

    def spy(X: np.ndarray, pl: nb.Plan, *args: object) -> object:
        timed.append(pl._replace(parallel=False))
        return real(X, pl, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(tuning, "_prepare", spy)
    res = tuning.measure(shape, "float64", "C", 1, 0.05, kind="descent")
    assert timed[:2] == [model(*shape)._replace(parallel=False), stored]
    assert len(timed) == len(set(timed)) == res.n_candidates
    tuning.measure(shape, "float64", "C", 1, 0.05)  # a step's tuning: the model's candidates
    assert timed[res.n_candidates :] == tuning.candidates(*shape, 8, "C")


def test_candidates_are_valid_plans() -> None:
    for shape, order in [((12288, 300), "C"), ((100, 10_000), "C"), ((100, 10_000), "F"),
                         ((2, 100), "C"), ((8192, 1500), "F")]:  # fmt: skip
        cands = tuning.candidates(*shape, 8, order)
        assert cands[0] == model(*shape, 8, order)._replace(parallel=False)
        assert len(set(cands)) == len(cands)
        sample_modes = {nb.SAMPLE, nb.SAMPLE_SEQ}
        if order == "F":  # both forward walks are timed
            assert {pl.mode for pl in cands} == sample_modes
        for pl in cands:
            assert (pl.mode in sample_modes) == (order == "F")
            if pl.mode == nb.SPLIT:
                assert pl.P % 8 == 0
                assert pl.n_chunks == planning._cdiv(shape[0], pl.P)
            else:
                assert pl.B >= 1
                assert pl.T >= 1
                n_tiles = planning._cdiv(shape[1], pl.B)
                assert pl.n_chunks == planning._cdiv(n_tiles, pl.T) <= nb.MAX_CHUNKS


def test_first_use_tunes_once_and_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    measure = tuning.measure

    def counted(*args: object, **kwargs: object) -> wisdom.Tuned:
        calls.append(args)
        return measure(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tuning, "measure", counted)
    nb.plan(40, 3000, 8, "C")  # "cached" (the default) never measures
    assert not calls
    assert not wisdom.wisdom_path().exists()
    monkeypatch.setenv("VECSTUDY_TUNE", "first-use")
    first = nb.plan(40, 3000, 8, "C")
    assert len(calls) == 1
    assert calls[0][4] == tuning.FIRST_USE_BUDGET_S
    assert [e.name for e in wisdom.entries()] == ["float64/C/40x3000"]
    assert nb.plan(40, 3000, 8, "C") == first
    assert nb.plan(41, 3100, 8, "C") == wisdom.lookup(41, 3100, 8, "C", nb.get_threads())
    assert len(calls) == 1


# --------------------------------------------------------------------------- CLI
def test_cli_tune_show_clear(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["tune", "--shapes", "8x300,40x2000", "--order", "C", "--budget", "0.05",
            "--threads", "1", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "\n8x300 " in out
    assert "\n40x2000 " in out
    assert str(wisdom.wisdom_path()) in out
    names = ["descent/float64/C/40x2000", "descent/float64/C/8x300"]
    assert [e.name for e in wisdom.entries()] == [*names, "float64/C/40x2000", "float64/C/8x300"]
    assert [e.kind for e in wisdom.entries()] == ["descent", "descent", "step", "step"]
    assert all(e.copy_ms.keys() == {1} for e in wisdom.entries()[:2])
    assert main(["tune", "--show"]) == 0
    out = capsys.readouterr().out
    assert "(4 plans for this machine)" in out
    assert report_tune.LEGEND in out
    assert "40x2000  float64  C      step " in out
    assert "40x2000  float64  C      descent " in out
    assert main(["tune", "--clear"]) == 0
    assert "removed 4 stored plans" in capsys.readouterr().out
    assert wisdom.entries() == []
    assert main([*argv, "--kind", "descent"]) == 0
    assert [e.kind for e in wisdom.entries()] == ["descent", "descent"]
    capsys.readouterr()
    assert main(["tune", "--order", "K"]) == 2
    assert "option --order" in capsys.readouterr().err
    assert main(["tune", "--kind", "steps"]) == 2
    assert "option --kind" in capsys.readouterr().err
    assert main(["tune", "--budget", "-1"]) == 2


def test_cli_tune_help_states_the_default_bound(capsys: pytest.CaptureFixture[str]) -> None:
    """The help is written without importing numba; its bound must be the module's."""
    with pytest.raises(SystemExit):
        main(["tune", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"X up to {tuning.DEFAULT_MAX_BYTES // 1_000_000} MB in float64" in help_text
    sizes = [n_x * m * 8 for n_x, m in tuning.default_shapes()]
    assert max(sizes) <= tuning.DEFAULT_MAX_BYTES
    assert any(s >= 80_000_000 for s in sizes)  # shapes whose X streams from memory


@pytest.mark.parametrize(
    ("how", "status", "said"),
    [("ctrl-c", 130, "interrupted; kept 1"), ("sigterm", 143, "interrupted by SIGTERM; kept 1")],
)
def test_cli_tune_interrupted_keeps_finished_shapes(
    how: str, status: int, said: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Ctrl-C, or SIGTERM as `kill` sends it, while the second shape is timed: the first
    is kept, and the exit status is the shell's for the signal."""
    import signal

    measure = tuning.measure
    calls = []

    def interrupted(*args: object, **kwargs: object) -> wisdom.Tuned:
        calls.append(args)
        if len(calls) == 2:
            if how == "ctrl-c":
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1.0)  # the handler runs here
        return measure(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tuning, "measure", interrupted)
    argv = ["tune", "--shapes", "8x300,9x300", "--order", "C", "--budget", "0.05",
            "--threads", "1", "--no-progress"]  # fmt: skip
    assert main(argv) == status
    assert f"{said} tuned shapes" in capsys.readouterr().err
    assert [e.name for e in wisdom.entries()] == ["float64/C/8x300"]
    handler = signal.getsignal(signal.SIGTERM)
    assert getattr(handler, "__name__", "") != "on_term"  # the handler before is back


def test_cli_tune_a_shape_too_big_for_memory(capsys: pytest.CaptureFixture[str]) -> None:
    # X of 800 TB: more than any address space, so the allocation fails at once on every
    # machine (whatever its overcommit policy)
    argv = ["tune", "--shapes", "8x300,10000000x10000000", "--order", "C", "--kind", "step",
            "--budget", "0.05", "--threads", "1", "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "\n8x300 " in captured.out  # what was tuned before is printed and kept
    assert "not enough memory to tune 10000000x10000000 float64 C (step: X alone is 8e+05 GB" in (
        captured.err
    )
    assert [e.name for e in wisdom.entries()] == ["float64/C/8x300"]


def test_cli_tune_a_folder_that_cannot_take_the_wisdom_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before any timing, naming the file, the reason and the variable to set."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(wisdom.ENV_TUNE_DIR, str(blocker / "wisdom"))
    monkeypatch.setattr(tuning, "measure", lambda *a, **k: pytest.fail("timed before the check"))
    argv = ["tune", "--shapes", "8x300", "--order", "C", "--budget", "0.05", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"cannot write the wisdom file {blocker / 'wisdom' / wisdom.WISDOM_NAME}: " in err
    assert "Not a directory" in err or "exists" in err  # the OS's words
    assert err.rstrip().endswith("set VECSTUDY_TUNE_DIR to a writable folder")


def test_cli_tune_a_write_that_fails_midway(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A disk that fills after the first shape: the shapes stored before are kept and said."""
    save = wisdom.save
    calls = []

    def full(results: object, **kwargs: object) -> Path:
        calls.append(results)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(results, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tuning, "save", full)
    argv = ["tune", "--shapes", "8x300,9x300", "--order", "C", "--kind", "step",
            "--budget", "0.05", "--threads", "1", "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "\n8x300 " in captured.out
    assert "No space left on device; set VECSTUDY_TUNE_DIR to a writable folder; kept 1" in (
        captured.err
    )
    assert [e.name for e in wisdom.entries()] == ["float64/C/8x300"]


def test_cli_tune_loads_neither_pandas_nor_matplotlib(tmp_path: Path) -> None:
    """``vecstudy tune`` formats its table without the report's figures and frames (each
    of the two costs a third of a second or more to import)."""
    code = (
        "import sys; from vecstudy.cli import main; main(['tune', '--show']); "
        "print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))"
    )
    env = {**os.environ, wisdom.ENV_TUNE_DIR: str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_busy_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "available_cores", lambda: 2)
    assert report_tune.busy_note([{"load": 0.5}, {"load": None}, {}]) is None
    note = report_tune.busy_note([{"load": 0.5}, {"load": 7.25}])
    assert note is not None
    assert note.startswith("note: load average up to 7.2 on 2 cores")
    entry = fake(10, 100, planning._tiles(nb.FUSED, 64, 1, 100)).to_entry()
    assert "load" in entry


def test_imports_point_one_way() -> None:
    """planning <- wisdom <- tuning: the model imports no store or tuner, the store no tuner
    (not even inside a function)."""
    import ast
    import inspect
    from types import ModuleType

    def imported(mod: ModuleType) -> set[str]:
        out = set()
        for node in ast.walk(ast.parse(inspect.getsource(mod))):
            if isinstance(node, ast.ImportFrom) and node.module:
                out.add(node.module)
                out.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
        return out

    pkg = "vecstudy.backends.numba"
    assert not {f"{pkg}.tuning", f"{pkg}.wisdom", pkg} & imported(planning)
    assert not {f"{pkg}.tuning", pkg} & imported(wisdom)
    assert pkg not in imported(tuning)  # the submodules, never the package's __init__


def test_the_tuner_times_both_tile_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fused C tiles sized to L2 and tiles of long rows are both candidates, whichever
    the model takes (machines disagree on them), and a descent's panels come first."""
    monkeypatch.setenv("VECSTUDY_CACHE_SIZES", "32K,512K,16M")
    cache_sizes.cache_clear()
    try:
        streaming = tuning.candidates(300, 100_000, 8, "C")  # X of 240 MB: long rows
        assert streaming[0].B == planning.STREAM_SEGMENT_BYTES // 8
        assert 128 in {p.B for p in streaming if p.mode == nb.FUSED}  # the L2 rule's
        in_l3 = tuning.candidates(100, 10_000, 8, "C")  # 8 MB: the L2 rule's 160
        assert in_l3[0].B == 160
        assert planning.STREAM_SEGMENT_BYTES // 8 in {p.B for p in in_l3}
        descent = tuning.candidates(200, 8000, 8, "C", kind="descent")
        assert descent[0] == planning.plan(200, 8000, 8, "C", kind="descent")._replace(
            parallel=False
        )
        assert descent[0].mode == nb.SPLIT
        assert {p.mode for p in descent} == {nb.SPLIT, nb.FUSED}
    finally:
        cache_sizes.cache_clear()


def test_a_stored_plan_is_not_carried_across_a_change_of_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tiles measured at 100x10000 serve 120x9000, but not the descent of 200x8000,
    which the model walks by panels: the measurement says nothing of panels there."""
    monkeypatch.setenv("VECSTUDY_CACHE_SIZES", "32K,512K,16M")
    cache_sizes.cache_clear()
    planning._model.cache_clear()
    try:
        tiles = planning._tiles(nb.FUSED, 96, 1, 10_000)
        wisdom.save([fake(100, 10_000, tiles), fake(100, 10_000, tiles, kind="descent")])
        carried = tiles._replace(n_chunks=-(-9000 // 96))
        assert wisdom.lookup(120, 9000, 8, "C", 1) == carried
        assert nb.plan(120, 9000, 8, "C", threads=1, kind="descent") == carried
        # 200 features: the model's descent takes panels there, its step still tiles
        assert planning.plan(200, 8000, 8, "C", kind="descent").mode == nb.SPLIT
        assert planning.plan(100, 10_000, 8, "C", kind="descent").mode == nb.FUSED
        assert wisdom.lookup(200, 8000, 8, "C", 1, kind="descent") is None
        assert nb.plan(200, 8000, 8, "C", threads=1, kind="descent") == planning.plan(
            200, 8000, 8, "C", kind="descent"
        )  # not the step's stored tiles either
        assert wisdom.lookup(200, 8000, 8, "C", 1) == tiles._replace(n_chunks=-(-8000 // 96))
    finally:
        cache_sizes.cache_clear()
        planning._model.cache_clear()
