"""The results file: its format, validation, locking and atomic writes.

A results file is one JSON document ``{"format", "runs", "rows"}``:

``runs``
    One object per sweep: ``run_id``, the ``command`` that repeats it, its
    ``options``, where each option came from (``sources``), ``machine``
    (:func:`vecstudy.records.machine.machine_info`), ``started``/``finished``
    (UTC), ``status`` (``"running"``, ``"complete"`` or ``"interrupted"``) and
    ``rows``.
``rows``
    Tidy rows, one per raw timing (:data:`COLUMNS`): every timing is kept, with
    the loop count it was measured with and the round it belongs to.

Writers
-------
Several processes may write one file (two ``vecstudy bench --output same.json``
at once): every save takes a lock (:class:`filelock.FileLock` on
``.NAME.lock`` beside the file), reads the file as it is now, puts in this
run's entry and rows, and writes it back atomically (a temporary file in the
same directory, then :func:`os.replace`), so nobody's rows are lost and no
reader ever sees half a file.  A path that is a symbolic link updates the
link's target; a file with other hard links is rewritten in place (under the
lock) so that the links stay one file; a read-only file is refused.
Temporary files left behind by a killed writer are removed by the next one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd

from vecstudy.errors import ResultsFileError as ResultsFileError
from vecstudy.escape import short

#: Identifies the results file layout; bumped when columns change incompatibly.
FORMAT: Final = "vecstudy-bench-results/2"
#: Older layouts that :func:`load_results` still reads (``repeat`` became ``round``).
OLD_FORMATS: Final = ("vecstudy-bench-results/1",)

#: Columns of every row, in order.
COLUMNS: Final = (
    "run_id",
    "kind",  # "kernel", "bandwidth" or "micro"
    "operation",  # "propagate", "optimize", "read", "dot", "exp"
    "backend",  # "python", "numba", "numpy"
    "dtype",
    "threads",  # requested thread count
    "blas_threads",  # BLAS threads in force during the timing (None if unknown)
    "numba_threads",  # Numba threads in force during the timing (None if numba unused)
    "n_x",
    "m",
    "bytes_x",
    "round",  # 0, 1, ...: every case of a group is timed once per round (interleaved)
    "order",  # position of this case within its round
    "seconds",  # per step / iteration / pass / call; None when skipped
    "loops",  # calls per timing, chosen by autorange
    "per_call",  # units per call (optimize: iterations), seconds = total / loops / per_call
    "warmup_s",  # first call on the small problem (includes compilation)
    "load",  # 1-minute load average when the round started
    "status",  # "ok" or "skipped"
    "reason",  # why skipped ("" when ok)
)

STATUSES: Final = ("ok", "skipped")
#: JSON nesting deeper than this is refused (a results file is 4 levels deep).
MAX_DEPTH: Final = 64

Row = dict[str, Any]


# --------------------------------------------------------------------------- writing
def _target(path: Path) -> Path:
    """The file a write to ``path`` must change: the final target of a symbolic link."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def check_writable(path: str | os.PathLike[str]) -> Path:
    """The file to write for ``path`` (symbolic links followed); raise if it is read-only.

    Raises
    ------
    PermissionError
        If the file exists and is read-only (no write permission bit, even for
        root) or this process may not write it.
    """
    target = _target(Path(path))
    if target.exists():
        no_write_bits = not target.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        if no_write_bits or not os.access(target, os.W_OK):
            raise PermissionError(f"{path} is read-only; refusing to overwrite it")
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory.

    Readers see the old file or the new one, never a partial one; on any error
    (including Ctrl-C) the temporary file is removed and ``path`` is untouched.
    A symbolic link's target is updated (the link stays a link); an existing
    file keeps its mode; a file with more than one hard link is rewritten in
    place instead, so that every link still names the new content.
    """
    target = _target(Path(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        st: os.stat_result | None = target.stat()
    except FileNotFoundError:
        st = None
    if st is not None and st.st_nlink > 1:
        with open(target, "r+b") as fh:
            fh.write(data)
            fh.truncate()
            fh.flush()
            os.fsync(fh.fileno())
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if st is not None:
            mode = stat.S_IMODE(st.st_mode)
        else:  # mkstemp makes the file private (0600); give it the mode open() would
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Remove ``.NAME.*.tmp`` files beside ``path`` (left by a writer that was killed).

    Call it only while holding the file's lock: then no other writer is between
    creating its temporary file and renaming it.
    """
    target = _target(Path(path))
    removed = []
    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed.append(tmp)
    return removed


def lock_for(path: str | os.PathLike[str]) -> Any:
    """The :class:`filelock.FileLock` guarding the results file ``path`` (``.NAME.lock``)."""
    from filelock import FileLock

    target = _target(Path(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(target.parent / f".{target.name}.lock"), timeout=120)


def clean(value: Any) -> Any:
    """JSON-ready scalar: NumPy scalars to Python, NaN to None."""
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ResultsWriter:
    """Adds one run to a results file, saving after every round, under the file's lock.

    Parameters
    ----------
    path : path
        The results file (created if missing).
    run : dict
        This run's entry; it is saved as it is at each :meth:`save`.
    append : bool
        Keep the runs already in the file (it must be a results file); otherwise
        the first save replaces the file with this run alone.
    """

    def __init__(self, path: str | os.PathLike[str], run: dict[str, Any], *, append: bool) -> None:
        self.path = Path(path)
        self.target = check_writable(self.path)
        self.run = run
        self.rows: list[Row] = []
        self.total_rows = 0
        self._fresh = not append
        self._lock = lock_for(self.path)
        if append and self.target.exists():
            with self._lock:
                read_document(self.target)  # refuse a foreign file before any work

    @property
    def rows_this_run(self) -> int:
        return len(self.rows)

    def add(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append rows (one round of a group of cases) and save."""
        self.rows.extend({c: clean(row.get(c)) for c in COLUMNS} for row in rows)
        self.save()

    def save(self) -> None:
        """Read the file under its lock, put in this run and its rows, write it back."""
        self.run["rows"] = len(self.rows)
        run_id = self.run["run_id"]
        with self._lock:
            remove_stale_temporaries(self.target)
            check_writable(self.path)
            if self._fresh or not self.target.exists():
                doc: dict[str, Any] = {"format": FORMAT, "runs": [], "rows": []}
            else:
                doc = read_document(self.target)
                if doc["format"] != FORMAT:
                    doc = _upgrade(doc)
            doc["runs"] = [r for r in doc["runs"] if r.get("run_id") != run_id] + [self.run]
            doc["rows"] = [r for r in doc["rows"] if r.get("run_id") != run_id] + self.rows
            text = json.dumps(doc, indent=1, allow_nan=False)
            atomic_write_text(self.target, text + "\n")
            self._fresh = False
            self.total_rows = len(doc["rows"])


# --------------------------------------------------------------------------- reading
def _depth_ok(text: str) -> bool:
    """Whether the JSON text nests at most :data:`MAX_DEPTH` levels (cheap bracket count)."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _upgrade(doc: dict[str, Any]) -> dict[str, Any]:
    """A format-1 document in the current layout.

    ``repeat`` becomes ``round``; ``per_call`` of ``optimize`` rows is the run's
    ``iterations``; the other new columns are None.
    """
    iterations = {
        r.get("run_id"): (r.get("options") or {}).get("iterations")
        for r in doc["runs"]
        if isinstance(r, dict)
    }
    rows = []
    for row in doc["rows"]:
        new = {c: row.get(c) for c in COLUMNS}
        new["round"] = row.get("repeat")
        if row.get("operation") == "optimize":  # seconds are per iteration
            new["per_call"] = iterations.get(row.get("run_id"))
        rows.append(new)
    return {"format": FORMAT, "runs": doc["runs"], "rows": rows}


def read_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checked JSON document of a results file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ResultsFileError
        With a one-line message naming the file and what is wrong with it.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ResultsFileError(f"results file {path} is not UTF-8 text: {exc.reason}") from None
    except IsADirectoryError:
        raise ResultsFileError(f"results file {path} is a directory") from None
    if not _depth_ok(text):
        raise ResultsFileError(
            f"results file {path} nests JSON more than {MAX_DEPTH} levels deep; "
            "it is not a results file"
        )
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ResultsFileError(f"results file {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ResultsFileError(
            f"results file {path} holds a JSON {type(doc).__name__}; expected an object "
            f"with 'format', 'runs' and 'rows'"
        )
    if doc.get("format") not in (FORMAT, *OLD_FORMATS):
        raise ResultsFileError(
            f"results file {path} has format {short(doc.get('format'))}; expected {FORMAT!r}"
        )
    runs, rows = doc.get("runs"), doc.get("rows")
    if not isinstance(runs, list) or not isinstance(rows, list):
        raise ResultsFileError(f"results file {path} lacks the 'runs' and 'rows' lists")
    for i, run in enumerate(runs):
        if not isinstance(run, dict):
            raise ResultsFileError(
                f"results file {path}: runs[{i}] is a {type(run).__name__}; expected an object"
            )
        for key in ("machine", "options"):
            if key in run and not isinstance(run[key], dict):
                raise ResultsFileError(
                    f"results file {path}: runs[{i}].{key} is a {type(run[key]).__name__}; "
                    "expected an object"
                )
        if not isinstance(run.get("run_id"), str):
            raise ResultsFileError(f"results file {path}: runs[{i}] has no 'run_id' string")
    expected = set(COLUMNS) if doc["format"] == FORMAT else None
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ResultsFileError(
                f"results file {path}: rows[{i}] is a {type(row).__name__}; expected an object"
            )
        if expected is not None and set(row) != expected:
            extra, missing = sorted(set(row) - expected), sorted(expected - set(row))
            what = "; ".join(
                f"{word} column(s) {', '.join(short(c, 40) for c in cols[:3])}"
                + (f" and {len(cols) - 3} more" if len(cols) > 3 else "")
                for word, cols in (("has unexpected", extra), ("lacks", missing))
                if cols
            )
            raise ResultsFileError(
                f"results file {path}: rows[{i}] {what}; expected the columns {list(COLUMNS)}"
            )
    return doc


def _is_seconds(v: object) -> bool:
    """A non-negative finite number (not a bool)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


def _row_problem(row: Mapping[str, Any], run_ids: set[str]) -> str | None:
    """What is wrong with one row (as ``"has X ...; expected ..."``), or None."""
    if row.get("status") not in STATUSES:
        return f"has status {short(row.get('status'))}; expected one of {', '.join(STATUSES)}"
    if row.get("run_id") not in run_ids:
        return f"has run_id {short(row.get('run_id'))}, which no entry of 'runs' has"
    for col in ("kind", "operation", "backend", "dtype"):
        if not isinstance(row.get(col), str):
            return f"has {col} {short(row.get(col))}; expected a string"
    for col in ("threads", "n_x", "m", "bytes_x"):
        v = row.get(col)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            return f"has {col} {short(v)}; expected a positive integer"
    for col in ("seconds", "warmup_s", "load"):
        v = row.get(col)
        if v is not None and not _is_seconds(v):
            return f"has {col} {short(v)}; expected a non-negative number or null"
    if row["status"] == "ok" and not row.get("seconds"):
        return f"is 'ok' with seconds {short(row.get('seconds'))}; expected a positive time"
    return None


@dataclass
class Results:
    """A results file, loaded: ``rows`` (tidy DataFrame with :data:`COLUMNS`) and ``runs``."""

    path: Path
    rows: pd.DataFrame
    runs: list[dict[str, Any]]

    def incomplete(self) -> list[dict[str, Any]]:
        """Runs whose status is not ``"complete"`` (interrupted, or still running / killed)."""
        return [r for r in self.runs if r.get("status") != "complete"]


def load_results(path: str | os.PathLike[str]) -> Results:
    """Load and check a results file written by :func:`vecstudy.study.sweep.run_sweep`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ResultsFileError
        If it is not a results file of this format, or holds a value a results
        file cannot hold (a run that is not an object, a negative time, ...); the
        one-line message names the file and what is wrong.
    """
    path = Path(path)
    doc = read_document(path)
    if doc["format"] != FORMAT:
        doc = _upgrade(doc)
    run_ids = {r["run_id"] for r in doc["runs"]}
    for i, row in enumerate(doc["rows"]):
        problem = _row_problem(row, run_ids)
        if problem is not None:
            raise ResultsFileError(f"results file {path}: rows[{i}] {problem}")
    rows = pd.DataFrame.from_records(doc["rows"], columns=list(COLUMNS))
    for col in ("seconds", "warmup_s", "load"):
        rows[col] = pd.to_numeric(rows[col], errors="coerce").astype(float)
    for col in ("threads", "n_x", "m", "bytes_x"):
        rows[col] = rows[col].astype("int64")
    return Results(path=path, rows=rows, runs=list(doc["runs"]))
