"""Run every ```python block of the given documentation pages; exit 1 if one fails.

    PYTHONPATH=src python docs/_ext/check_snippets.py docs/index.md docs/beginner.md

Each block runs in a fresh namespace, in a temporary directory that holds synthetic
stand-ins for the course's HDF5 files (``datasets/train_catvnoncat.h5`` and
``datasets/test_catvnoncat.h5``: random images of the course's shape, fewer of them), so
that the pages' ``load_course(".")`` runs without the course's data.  Needs h5py.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path

import matplotlib
import numpy as np

BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def write_course_files(directory: Path, n_train: int = 20, n_test: int = 5) -> None:
    """Random ``uint8`` images with the course's keys, shapes and class names."""
    import h5py

    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    for name, prefix, m in (("train", "train_set", n_train), ("test", "test_set", n_test)):
        with h5py.File(directory / f"{name}_catvnoncat.h5", "w") as f:
            f[f"{prefix}_x"] = rng.integers(0, 256, size=(m, 64, 64, 3), dtype=np.uint8)
            f[f"{prefix}_y"] = rng.integers(0, 2, size=m)
            f["list_classes"] = np.array([b"non-cat", b"cat"])


def main(pages: list[str]) -> int:
    matplotlib.use("Agg")
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        write_course_files(Path(tmp) / "datasets")
        here = os.getcwd()
        for page in pages:
            text = Path(page).read_text(encoding="utf-8")
            for k, match in enumerate(BLOCK.finditer(text), 1):
                line = text[: match.start()].count("\n") + 2
                start = time.perf_counter()
                os.chdir(tmp)
                try:
                    exec(compile(match.group(1), f"{page}:{line}", "exec"), {"__name__": "__doc__"})
                except Exception:
                    failed += 1
                    print(f"FAIL {page} block {k} (line {line})")
                    traceback.print_exc()
                else:
                    print(
                        f"ok   {page} block {k} (line {line}, {time.perf_counter() - start:.1f} s)"
                    )
                finally:
                    os.chdir(here)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
