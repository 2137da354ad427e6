"""The results file: concurrent writers, links, read-only files, stale temporaries, bad files."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

from vecstudy.records import results

from tests.conftest import make_row


def write_run(path: Path, run_id: str, n_rows: int, append: bool = True) -> None:
    writer = results.ResultsWriter(path, {"run_id": run_id, "status": "running"}, append=append)
    for i in range(n_rows):
        writer.add([make_row(run_id=run_id, round=i)])
    writer.run["status"] = "complete"
    writer.save()


def _writer_process(path: str, run_id: str, n_rows: int) -> None:
    write_run(Path(path), run_id, n_rows)


def test_two_writers_at_once_lose_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "same.json"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer_process, args=(str(path), f"run{k}", 25)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    res = results.load_results(path)
    assert sorted(r["run_id"] for r in res.runs) == ["run0", "run1"]
    assert res.rows.groupby("run_id").size().to_dict() == {"run0": 25, "run1": 25}


def test_symlink_updates_its_target(tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    link = tmp_path / "link.json"
    write_run(target, "a", 1)
    link.symlink_to(target)
    write_run(link, "b", 2)
    assert link.is_symlink()
    assert len(results.load_results(target).runs) == 2


def test_hard_link_is_not_split(tmp_path: Path) -> None:
    first = tmp_path / "one.json"
    write_run(first, "a", 1)
    second = tmp_path / "two.json"
    os.link(first, second)
    write_run(second, "b", 1)
    assert first.stat().st_ino == second.stat().st_ino
    assert len(results.load_results(first).runs) == 2


def test_read_only_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ro.json"
    write_run(path, "a", 1)
    path.chmod(0o444)
    before = path.read_text()
    try:
        with pytest.raises(PermissionError, match="read-only"):
            write_run(path, "b", 1)
    finally:
        path.chmod(0o644)
    assert path.read_text() == before


def test_stale_temporaries_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    stale = tmp_path / ".r.json.abc123.tmp"
    stale.write_text("half a file")
    other = tmp_path / ".other.json.x.tmp"
    other.write_text("not ours")
    write_run(path, "a", 1)
    assert not stale.exists()
    assert other.exists()


def test_file_mode_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_run(path, "a", 1)
    path.chmod(0o640)
    write_run(path, "b", 1)
    assert path.stat().st_mode & 0o777 == 0o640


def good_doc() -> dict[str, Any]:
    return {
        "format": results.FORMAT,
        "runs": [{"run_id": "a", "machine": {}, "status": "complete"}],
        "rows": [make_row(run_id="a")],
    }


def _bad(doc: Any) -> str:
    return doc if isinstance(doc, str) else json.dumps(doc)


def _with(change: Any) -> dict[str, Any]:
    doc = good_doc()
    change(doc)
    return doc


BAD_FILES = [
    ("[1, 2]", "holds a JSON list"),
    ("{", "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "nests JSON more than"),
    (_with(lambda d: d.update(runs=[1, 2])), r"runs\[0\] is a int; expected an object"),
    (_with(lambda d: d["runs"][0].update(machine="a laptop")), r"runs\[0\].machine is a str"),
    (_with(lambda d: d.update(rows=["x"])), r"rows\[0\] is a str"),
    (_with(lambda d: d["rows"][0].update(seconds=-1.0)), r"rows\[0\] has seconds -1.0"),
    (_with(lambda d: d["rows"][0].update(seconds="fast")), r"rows\[0\] has seconds 'fast'"),
    (_with(lambda d: d["rows"][0].update(status="ok", seconds=None)), r"is 'ok' with seconds"),
    (_with(lambda d: d["rows"][0].update(run_id="zzz")), "no entry of 'runs' has"),
    (_with(lambda d: d["rows"][0].update(n_x=0)), r"has n_x 0; expected a positive integer"),
    (_with(lambda d: d.update(format="x/9")), "has format 'x/9'"),
]


@pytest.mark.parametrize(("content", "message"), BAD_FILES)
def test_malformed_results_get_a_one_line_error(tmp_path: Path, content: Any, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(_bad(content))
    with pytest.raises(results.ResultsFileError, match=message) as info:
        results.load_results(path)
    text = str(info.value)
    assert "\n" not in text
    assert str(path) in text


def test_nan_seconds_are_not_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(good_doc()).replace('"seconds": 0.001', '"seconds": NaN'))
    with pytest.raises(results.ResultsFileError, match="has seconds nan"):
        results.load_results(path)


def test_format_1_is_still_read(tmp_path: Path) -> None:
    old = good_doc()
    old["format"] = "vecstudy-bench-results/1"
    r = old["rows"][0]
    r["repeat"] = r.pop("round")
    for col in ("order", "per_call", "load"):
        del r[col]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    res = results.load_results(path)
    assert res.rows["round"].tolist() == [0]
