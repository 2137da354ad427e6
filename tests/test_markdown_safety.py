"""Text from a results file is data: report.md, compare.md and roofline.md keep their shape.

A results file travels between machines (``vecstudy compare`` reads someone else's);
whatever it holds (a closing code fence and ``rm -rf ~`` in a run's command, HTML and
headings and line breaks in the machine fields) must not add a shell block, a tag, a
heading or a table row to the Markdown written from it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from vecstudy import report
from vecstudy.escape import md_code, md_fence, md_text, md_unescape, one_line
from vecstudy.records import results as bench_results
from vecstudy.records.compare import compare_files
from vecstudy.report import roofline
from vecstudy.report.asv import asv_markdown
from vecstudy.report.compare import comparison_markdown, write_comparison
from vecstudy.report.document import reproduce_line

from tests.conftest import make_row

EVIL = "<img src=x onerror=alert(1)>\n| a | b |\n# Heading\r\n```\nrm -rf ~\n```\n> [x](http://e)"
COMMAND = "vecstudy bench\n```\nrm -rf ~\n```\n\n```sh\necho pwned"


def write_results(path: Path) -> Path:
    """A results file with timed kernels, a read probe and a skipped case."""
    rows = [
        make_row(backend=be, operation=op, round=k, seconds=s * (1 + 0.1 * k))
        for be, s in (("python", 1e-3), ("numpy", 1e-5))
        for op in ("propagate", "optimize")
        for k in range(3)
    ]
    rows += [make_row(kind="bandwidth", operation="read", backend="numpy", seconds=2e-6)]
    rows += [make_row(backend="python", n_x=1000, status="skipped", reason="too slow")]
    machine = {"cpu": "CPU", "cores": 2, "threads": {"blas": []}, "hostname": "h"}
    run = {"run_id": "r1", "command": "vecstudy bench", "status": "complete", "machine": machine}
    path.write_text(json.dumps({"format": bench_results.FORMAT, "runs": [run], "rows": rows}))
    return path


# --------------------------------------------------------------------------- a tiny reader
def structure(text: str) -> dict[str, Any]:
    """What a CommonMark reader would see: fenced blocks (info, lines), headings, tables.

    Fences follow the spec: an opening run of 3+ backticks (or tildes) indented at most
    3 spaces; the block ends at a line of the same character at least as long.
    Tables: consecutive lines starting with ``|``, each given by its cell count (cells
    split at pipes not escaped by a backslash).
    """
    fences: list[tuple[str, list[str]]] = []
    headings: list[str] = []
    tables: list[list[int]] = []
    open_fence: tuple[str, int, str, list[str]] | None = None
    in_table = False
    for line in text.split("\n"):
        if open_fence is not None:
            char, n, info, body = open_fence
            if re.fullmatch(rf" {{0,3}}{re.escape(char)}{{{n},}}\s*", line):
                fences.append((info, body))
                open_fence = None
            else:
                body.append(line)
            continue
        m = re.match(r" {0,3}(`{3,}|~{3,})(.*)$", line)
        if m and not (m[1][0] == "`" and "`" in m[2]):
            open_fence = (m[1][0], len(m[1]), m[2].strip(), [])
            in_table = False
            continue
        if re.match(r" {0,3}#{1,6}(\s|$)", line):
            headings.append(line.strip())
        if line.startswith("|"):
            cells = len(re.findall(r"(?<!\\)\|", line)) - 1
            if not in_table:
                tables.append([])
            tables[-1].append(cells)
            in_table = True
        else:
            in_table = False
    assert open_fence is None, f"a code fence is left open: {open_fence}"
    return {"fences": fences, "headings": headings, "tables": tables}


# --------------------------------------------------------------------------- report.md
def _fill(doc: dict[str, Any], text: str, command: str, status: str) -> None:
    """Put ``text`` in every field of a results file that report.md shows."""
    run = doc["runs"][0]
    run["command"] = command
    run["status"] = status
    run["started"] = text
    mach = run["machine"]
    for key in ("cpu", "os", "python", "numpy", "governor", "vecstudy", "git_commit"):
        mach[key] = text
    mach["env"] = {"OMP|NUM": text, text: "1"}
    mach["threads"] = {
        "blas": [{"library": text, "version": "1|2", "threads": text, "architecture": text}],
        "numba_threads": text,
        "numba_threading_layer": text,
        "error": text,
    }
    for row in doc["rows"]:
        if row["status"] == "skipped":
            row["reason"] = text


def test_report_from_a_hostile_results_file_keeps_its_shape(tmp_path: Path) -> None:
    texts = {}
    for name, fill in (
        ("clean", ("plain text", "vecstudy bench", "interrupted")),
        ("hostile", (EVIL, COMMAND, "interrupted\n# Pwned <b>")),
    ):
        path = write_results(tmp_path / f"{name}.json")
        doc = json.loads(path.read_text())
        _fill(doc, *fill)
        path.write_text(json.dumps(doc))
        md = report.write_report(path, output_dir=tmp_path / name, formats=()).markdown
        texts[name] = md.read_text()
    text = texts["hostile"]
    got, want = structure(text), structure(texts["clean"])
    # exactly one shell block, holding only vecstudy commands (the hostile one not shown)
    shell = [body for info, body in got["fences"] if info == "sh"]
    assert len(got["fences"]) == len(shell) == 1
    assert len(shell[0]) == 2
    assert shell[0][0].startswith("# run 1 of 1: command not shown")
    assert shell[0][1].startswith("vecstudy report ")
    # the same headings and tables, every table row with as many cells as its header
    assert got["headings"] == want["headings"]
    assert got["tables"] == want["tables"]
    assert all(len(set(t)) == 1 for t in got["tables"])
    # no tag, no link, no heading, no extra line from the file
    assert "<img" not in text
    assert "<b>" not in text
    assert not re.search(r"(?<!\\)\]\(", text)  # no link
    assert "rm -rf ~" not in [line.strip() for line in text.splitlines()]
    assert len(text.splitlines()) == len(texts["clean"].splitlines())
    # and the values are still there to read, escaped
    assert "&lt;img src=x onerror=alert(1)>" in text


def test_reproduce_block_quotes_every_word_and_refuses_line_breaks() -> None:
    assert reproduce_line("vecstudy bench --output 'a b.json'") == (
        "vecstudy bench --output 'a b.json'"
    )
    assert reproduce_line("vecstudy bench; rm -rf ~") == "vecstudy 'bench;' rm -rf '~'"
    assert reproduce_line("vecstudy bench $(rm -rf ~)") == "vecstudy bench '$(rm' -rf '~)'"
    for bad, why in (
        ("vecstudy bench\nrm -rf ~", "line break"),
        ("vecstudy bench\u2028rm", "line break"),
        ("rm -rf ~", "does not start with 'vecstudy'"),
        ("vecstudy 'unclosed", "not a shell command line"),
        (None, "none recorded"),
        (["vecstudy"], "none recorded"),
        ("vecstudy " + "x" * 5000, "longer than"),
    ):
        line = reproduce_line(bad, 0, 1)
        assert line.startswith("# run 1 of 1: command not shown (")
        assert why in line
        assert "\n" not in line


def test_a_note_with_a_line_break_stays_one_line(tmp_path: Path) -> None:
    results = write_results(tmp_path / "r.json")
    note = "From X\n# Heading\n```"
    text = report.write_report(results, output_dir=tmp_path, formats=(), note=note)
    md = text.markdown.read_text()
    assert md.splitlines()[2] == "> From X # Heading \\`\\`\\`"
    assert len(structure(md)["fences"]) == 1


def test_report_embeds_a_hostile_roofline_file_as_text(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "roofline.md").write_text(
        "Measured on <img src=x> with `vecstudy roofline`.\n\n"
        "```text\nstep  1.50  PASS\n```\n\n```sh\nrm -rf ~\n```\n"
    )
    results = write_results(tmp_path / "r.json")
    text = report.write_report(results, output_dir=out, formats=()).markdown.read_text()
    fences = structure(text)["fences"]
    assert [info for info, _ in fences] == ["text", "sh"]
    assert any("step  1.50  PASS" in line for line in fences[0][1])
    assert "<img" not in text
    # in the form roofline --output writes: its head line is kept, escaped
    (out / "roofline.md").write_text(
        roofline.to_markdown("a ```` b\nstep  1.50", command="vecstudy x`y", machine="<i>CPU\n")
    )
    text = report.write_report(results, output_dir=out, formats=()).markdown.read_text()
    assert "Measured on &lt;i>CPU with vecstudy x\\`y." in text
    fences = structure(text)["fences"]
    assert fences[0] == ("text", ["a ```` b", "step  1.50"])
    assert len(fences) == 2


def test_roofline_markdown_fences_its_table_safely() -> None:
    text = roofline.to_markdown("t\n```\n# x", command="vecstudy roofline\n# y", machine="a|b")
    got = structure(text)
    assert got["fences"] == [("text", ["t", "```", "# x"])]
    assert got["headings"] == []
    assert text.splitlines()[0] == "Measured on a\\|b with `vecstudy roofline # y`."


# --------------------------------------------------------------------------- compare.md
def _compare_file(path: Path, run_id: str, machine: dict[str, Any], backend: str) -> Path:
    rows = [
        make_row(run_id=run_id, backend=backend, round=k, seconds=1e-3 * (1 + 0.01 * k))
        for k in range(4)
    ]
    run = {"run_id": run_id, "status": "complete", "machine": machine}
    path.write_text(json.dumps({"format": bench_results.FORMAT, "runs": [run], "rows": rows}))
    return path


def test_compare_markdown_from_a_hostile_file_keeps_its_shape(tmp_path: Path) -> None:
    base = _compare_file(tmp_path / "b.json", "b", {"cpu": "CPU"}, "numpy")
    new = _compare_file(
        tmp_path / "n.json", EVIL, {"cpu": EVIL * 100, "env": {EVIL: EVIL}}, "numpy"
    )
    text = comparison_markdown(compare_files(base, new), figure=None)
    got = structure(text)
    assert got["fences"] == []
    assert got["headings"] == ["# vecstudy compare", "## Unchanged (1)"]
    assert got["tables"] == [[7, 7, 7]]
    assert "<img" not in text
    warnings = [line for line in text.splitlines() if line.startswith("**Warning:**")]
    assert len(warnings) == 2  # cpu and env differ
    assert all(len(w) < 1000 for w in warnings)  # bounded, though the cpu is 6 kB long


def test_compare_table_escapes_case_names(tmp_path: Path) -> None:
    base = _compare_file(tmp_path / "b.json", "b", {}, "a|b<img>")
    new = _compare_file(tmp_path / "n.json", "n", {}, "a|b<img>")
    text = comparison_markdown(compare_files(base, new), figure=None)
    assert structure(text)["tables"] == [[7, 7, 7]]
    assert "a\\|b&lt;img>" in text


# --------------------------------------------------------------------------- asv section
def test_asv_section_escapes_names_from_its_files() -> None:
    asv = pd.DataFrame(
        [
            {
                "machine": "box|<img>",
                "commit": c,
                "date": d,
                "env": "e",
                "benchmark": "b.time_x\n# H",
                "params": "numpy, `x`",
                "value": 1e-3,
                "q1": 1e-3,
                "q3": 1e-3,
                "unit": "seconds",
            }
            for c, d in (("<b>1234", 1), ("abcd|efg", 2))
        ]
    )
    lines = asv_markdown("dir`\n", asv, "<b>1234")
    text = "\n".join(lines)
    got = structure(text)
    assert got["headings"] == ["## Airspeed velocity"]
    assert got["tables"] == [[6, 6, 6], [5, 5, 5]]
    assert "<img" not in text
    assert "<b>" not in text


# --------------------------------------------------------------------------- the helpers
@given(st.text())
def test_md_text_is_one_inert_line(text: str) -> None:
    out = md_text(text, limit=10_000)
    assert "\n" not in out
    assert "\r" not in out
    assert "<" not in out
    assert not re.search(r"(?<!\\)[|`\[\]]", out.replace("\\\\", ""))
    assert not re.match(r"[#>+=\-]|\d+[.)]", out)
    assert md_unescape(out) == one_line(text).strip()


@given(st.text())
def test_md_code_is_a_closed_span_or_escaped_text(text: str) -> None:
    out = md_code(text, limit=10_000)
    assert "\n" not in out
    assert "<" not in out
    if out.startswith("`") and len(out) > 1 and out.endswith("`"):
        assert "`" not in out[1:-1]
        assert "|" not in out


@given(st.lists(st.text()))
def test_md_fence_holds_every_line(lines: list[str]) -> None:
    block = md_fence(lines, "sh")
    got = structure("\n".join(block))
    assert len(got["fences"]) == 1
    info, body = got["fences"][0]
    assert info == "sh"
    assert len(body) == len(lines)


def test_md_fence_drops_an_info_string_that_could_break_it() -> None:
    assert md_fence(["x"], "sh`")[0] == "```"


def test_names_from_files_are_not_parsed_as_math_in_figures(tmp_path: Path) -> None:
    # matplotlib would parse "$...$" as mathtext and fail the figure on a bad formula
    base = _compare_file(tmp_path / "b.json", "b", {}, "$\\frac{$")
    new = _compare_file(tmp_path / "n.json", "n", {}, "$\\frac{$")
    paths = write_comparison(compare_files(base, new), tmp_path / "out")
    assert sorted(p.name for p in paths) == ["compare.md", "compare.png", "compare.svg"]
