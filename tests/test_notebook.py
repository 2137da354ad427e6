"""examples/week2.ipynb runs headless (nbclient) and shows its table, figures and notices."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import vecstudy

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "week2.ipynb"
#: Seconds a cell may take.  The notebook runs in about 30 s on the 2-core development
#: machine (numba's cache warm); a cold numba compile adds about 10 s per kernel.
TIMEOUT_S = 240


def _kernelspec(root: Path) -> None:
    """A ``python3`` kernel spec running this interpreter on the vecstudy under test."""
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    src = Path(vecstudy.__file__).resolve().parent.parent
    doc = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (vecstudy tests)",
        "language": "python",
        "env": {"PYTHONPATH": str(src)},
    }
    (spec / "kernel.json").write_text(json.dumps(doc), encoding="utf-8")


def _outputs(nb: Any, source_start: str) -> list[Any]:
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start)]
    assert len(cells) == 1, source_start
    return list(cells[0].outputs)


def _stderr(outputs: list[Any]) -> str:
    return "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stderr")


@pytest.mark.slow
def test_week2_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _kernelspec(tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit it clean"
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=TIMEOUT_S,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    t0 = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - t0
    print(f"week2.ipynb ran in {elapsed:.0f} s")

    # the setting in force reads as words
    (choice,) = _outputs(nb, "%matplotlib inline")
    assert choice.data["text/plain"] == "numpy (from default)"
    # the comparison: an HTML table with every backend, the loop estimated
    table = _outputs(nb, "result = vecstudy.compare_backends")
    html = [o.data["text/html"] for o in table if o.output_type == "execute_result"]
    assert len(html) == 1
    assert "<table" in html[0]
    for name in ("Python loop", "NumPy", "Numba", "gradient step (propagate)"):
        assert name in html[0]
    assert "estimated" in html[0]
    # numba's compile notice reaches the notebook (on stderr), outside the progress line
    notice = _stderr(table)
    assert "vecstudy: compiling or loading cached numba kernels" in notice
    assert "Warning" not in notice
    # the figures are images
    for start in ("result.plot()", "d = vecstudy.model("):
        images = [o for o in _outputs(nb, start) if "image/png" in o.get("data", {})]
        assert len(images) == 1, start
    costs = _outputs(nb, "d = vecstudy.model(")
    assert any("train accuracy" in o.get("text", "") for o in costs)
    # no cell warned
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert "Warning" not in _stderr(list(cell.outputs)), cell.source
