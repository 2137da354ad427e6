"""The numba backend's wisdom: plans measured on this machine, kept as FFTW keeps its own.

:mod:`vecstudy.backends.numba.tuning` measures; this module keeps and finds what it
measured, and knows nothing of measuring:

- the wisdom file (:func:`wisdom_path`): JSON in the user's cache directory
  (``platformdirs.user_cache_dir("vecstudy")``, or ``VECSTUDY_TUNE_DIR``), one section
  per CPU (:func:`machine`: model name and LLVM's feature set), vecstudy version and
  numba version;
- :class:`Tuned`: one shape's measurement, as stored (:meth:`Tuned.to_entry`);
- :func:`entries`, :func:`stored_entries`: this machine's entries, each checked (an
  unreadable file or entry: one :class:`TuningWarning`, then ignored);
- :func:`save` (under a file lock, atomically, merged with what other processes
  stored) and :func:`clear`;
- :func:`lookup`: the stored plan of the nearest tuned shape (by log-distance, within
  a factor :data:`BUCKET_FACTOR` in each dimension) of the same dtype, order and kind
  of call (:data:`KINDS`: one step, or an iteration of a descent); the file is read
  again when it changes, looked at no more than every :data:`RECHECK_SECONDS`;
- :func:`relayout_after`: from the descents measured in both orders, after how many
  iterations copying ``X`` into the other order pays.

Plans are built with :mod:`vecstudy.backends.numba.planning` (the only module of the
backend imported here).  See :mod:`vecstudy.backends.numba.tuning` for the bits a stored
plan fixes.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import os
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from vecstudy import config
from vecstudy.backends.numba.planning import (
    MAX_CHUNKS,
    MODE_NAMES,
    PARALLEL_MIN_ELEMENTS,
    SAMPLE,
    SAMPLE_SEQ,
    SPLIT,
    Plan,
    _cdiv,
    _panels,
    _tiles,
)
from vecstudy.backends.numba.planning import plan as _model_plan
from vecstudy.errors import TuningWarning as TuningWarning
from vecstudy.escape import one_line

ENV_TUNE_DIR: Final = "VECSTUDY_TUNE_DIR"
WISDOM_NAME: Final = "numba-wisdom.json"
#: Version of the wisdom file's layout; a file of another version is ignored.
FORMAT: Final = 1
#: A stored plan serves shapes within this factor of its own, in each dimension.
BUCKET_FACTOR: Final = 2.0
#: How often (seconds) the wisdom file and the ``[numba] tune`` setting of the config
#: file are looked at again (:func:`settings`, :func:`lookup`; a step may take
#: microseconds).
RECHECK_SECONDS: Final = 1.0
DTYPES: Final = {8: "float64", 4: "float32"}
#: Kinds of call a plan is measured for: one gradient step (``propagate``), or an
#: iteration of a descent (``optimize``), where a split plan reads ``X`` once instead of
#: twice and so may win where it loses a step.
KINDS: Final = ("step", "descent")
_MAX_B: Final = 1 << 16
_MAX_T: Final = 1 << 30


_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    """One :class:`TuningWarning` per ``key`` and process."""
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(TuningWarning(message), stacklevel=config.external_stacklevel())


def _short(text: object, limit: int = 200) -> str:
    """``text`` on one line, cut to ``limit``; control characters (a terminal's escape
    sequences, from a hand-edited file) as spaces, so that a warning cannot run them."""
    s = " ".join(one_line(str(text)).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


# --------------------------------------------------------------------------- where, and for what
def wisdom_dir() -> Path:
    """``VECSTUDY_TUNE_DIR`` if set, else ``platformdirs.user_cache_dir("vecstudy")``."""
    env = os.environ.get(ENV_TUNE_DIR)
    if env is not None and env.strip():
        return Path(env.strip()).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("vecstudy"))


_paths: dict[str, Path] = {}


def wisdom_path() -> Path:
    """The wisdom file (it may not exist yet)."""
    env = os.environ.get(ENV_TUNE_DIR, "")
    path = _paths.get(env)
    if path is None:  # this runs on every step: remember the answer for this variable
        path = _paths[env] = wisdom_dir() / WISDOM_NAME
    return path


_machine: dict[str, str] | None = None


def machine() -> dict[str, str]:
    """What a plan was measured for: ``key`` (a hash of the rest), ``cpu`` (model name),
    ``llvm_cpu`` and ``features`` (a hash of LLVM's host feature set: what numba
    compiles for), ``vecstudy`` and ``numba`` versions."""
    global _machine
    if _machine is None:
        import llvmlite.binding as ll  # type: ignore[import-untyped]
        import numba

        from vecstudy._version import __version__
        from vecstudy.records.machine import _cpu_model

        features = ll.get_host_cpu_features().flatten()
        info = {
            "cpu": _cpu_model(),
            "llvm_cpu": str(ll.get_host_cpu_name()),
            "features": hashlib.sha256(features.encode()).hexdigest()[:16],
            "vecstudy": __version__,
            "numba": numba.__version__,
        }
        key = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:16]
        _machine = {"key": key, **info}
    return _machine


# --------------------------------------------------------------------------- what is stored
@dataclass(frozen=True)
class Tuned:
    """One shape, dtype and order as :func:`~vecstudy.backends.numba.tuning.measure` measured it.

    ``plan`` is the winning decomposition (``parallel=False``; see :meth:`plan_for`);
    ``parallel``, ``tuned_s`` and ``model_s`` are keyed by thread count: the flag
    chosen, and the median seconds per step (``kind="descent"``: per iteration of a
    descent) of the winner and of the model's own plan.  ``copy_s`` (descents only):
    the median seconds of copying ``X`` into the other order, by thread count.
    """

    n_x: int
    m: int
    dtype: str
    order: str
    model: Plan
    plan: Plan
    parallel: dict[int, bool]
    tuned_s: dict[int, float]
    model_s: dict[int, float]
    n_candidates: int
    rounds: int
    seconds: float
    #: The 1-minute load average when measuring began (None where the OS hides it):
    #: parallel plans lose when other processes hold the cores.
    load: float | None = None
    when: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat("T", "seconds"))
    kind: str = "step"
    copy_s: dict[int, float] = field(default_factory=dict)

    def margin(self, threads: int) -> float:
        """Model time / tuned time at ``threads`` (1.0: the model's plan kept as it is)."""
        return self.model_s[threads] / self.tuned_s[threads]

    def plan_for(self, threads: int) -> Plan:
        """The plan stored for ``threads``."""
        return self.plan._replace(parallel=self.parallel.get(threads, False))

    def to_entry(self) -> dict[str, Any]:
        """The JSON object stored in the wisdom file."""
        fields = ("mode", "B", "T", "n_chunks", "P")
        return {
            "n_x": self.n_x,
            "m": self.m,
            "dtype": self.dtype,
            "order": self.order,
            "plan": {k: int(getattr(self.plan, k)) for k in fields},
            "model": {
                **{k: int(getattr(self.model, k)) for k in fields},
                "parallel": bool(self.model.parallel),
            },
            "kind": self.kind,
            "threads": {
                str(t): {
                    "parallel": bool(self.parallel[t]),
                    "ms": round(self.tuned_s[t] * 1e3, 6),
                    "model_ms": round(self.model_s[t] * 1e3, 6),
                    **({"copy_ms": round(self.copy_s[t] * 1e3, 6)} if t in self.copy_s else {}),
                }
                for t in sorted(self.parallel)
            },
            "candidates": self.n_candidates,
            "rounds": self.rounds,
            "seconds": round(self.seconds, 3),
            "load": self.load,
            "when": self.when,
        }


# --------------------------------------------------------------------------- the store
@dataclass(frozen=True)
class _Entry:
    """A stored plan, checked (see :func:`_parse_entry`)."""

    name: str
    n_x: int
    m: int
    dtype: str
    order: str
    mode: int
    B: int
    T: int
    n_chunks: int
    P: int
    parallel: dict[int, bool]
    kind: str = "step"
    #: Milliseconds per step (per iteration, for a descent) and, for a descent, of the
    #: copy into the other order, by thread count (where stored).
    ms: dict[int, float] = field(default_factory=dict)
    copy_ms: dict[int, float] = field(default_factory=dict)

    def fit(self, n_x: int, m: int, threads: int) -> Plan:
        """This entry's plan carried over to ``(n_x, m)`` at ``threads``.

        Tiles keep ``B`` and ``T`` (chunks follow ``m``); panels keep ``P`` for the same
        ``n_x``, else their number, and their forward's segment ``B``.  ``parallel``:
        the flag stored for ``threads``, else the model's rule (see
        :data:`~vecstudy.backends.numba.PARALLEL_MIN_ELEMENTS`).
        """
        if self.mode == SPLIT:
            P = self.P if n_x == self.n_x else _panels(n_x, self.n_chunks).P
            P = max(P, _cdiv(n_x, MAX_CHUNKS))
            pl = Plan(SPLIT, self.B, 0, _cdiv(n_x, P), P, False)
        else:
            pl = _tiles(self.mode, self.B, self.T, m)
        par = self.parallel.get(threads)
        if par is None:
            par = n_x * m >= PARALLEL_MIN_ELEMENTS
        return pl._replace(parallel=bool(par) and pl.n_chunks > 1)


def _int(value: object, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        shown = "absent" if value is None else _short(repr(value), 40)
        raise ValueError(f"{what} {shown} is not an integer in [{low}, {high}]")
    return value


def _parse_entry(name: str, raw: object) -> _Entry:
    """A stored entry as a valid :class:`_Entry`, or ValueError saying what is wrong.

    Only plans the kernels accept pass: the walk must fit the order (sample-major for
    F, fused or split for C), tiles and chunks positive and bounded.
    """
    if not isinstance(raw, dict):
        raise ValueError("not an object")
    order, dtype, pl = raw.get("order"), raw.get("dtype"), raw.get("plan")
    if order not in ("C", "F"):
        raise ValueError(f"order {_short(repr(order), 40)} is not 'C' or 'F'")
    if dtype not in DTYPES.values():
        raise ValueError(f"dtype {_short(repr(dtype), 40)} is not 'float64' or 'float32'")
    if not isinstance(pl, dict):
        raise ValueError("'plan' is not an object")
    mode = _int(pl.get("mode"), 0, max(MODE_NAMES), "walk")
    if (order == "F") != (mode in (SAMPLE, SAMPLE_SEQ)):
        raise ValueError(f"walk {mode} does not fit order {order}")
    n_x, m = _int(raw.get("n_x"), 1, 1 << 40, "n_x"), _int(raw.get("m"), 1, 1 << 40, "m")
    if mode == SPLIT:  # B: the forward's segment (0, or absent: the default)
        B, T = _int(pl.get("B", 0), 0, 1 << 40, "B"), 0
        P = _int(pl.get("P"), 1, 1 << 40, "P")
        n_chunks = _int(pl.get("n_chunks"), 1, MAX_CHUNKS, "n_chunks")
    else:
        B, T, P = _int(pl.get("B"), 1, _MAX_B, "B"), _int(pl.get("T"), 1, _MAX_T, "T"), 0
        n_chunks = _int(pl.get("n_chunks"), 1, 1 << 40, "n_chunks")
    kind = raw.get("kind", "step")
    if kind not in KINDS:
        raise ValueError(f"kind {_short(repr(kind), 40)} is not one of {', '.join(KINDS)}")
    threads = raw.get("threads", {})
    if not isinstance(threads, dict):
        raise ValueError("'threads' is not an object")
    parallel: dict[int, bool] = {}
    ms: dict[int, float] = {}
    copy_ms: dict[int, float] = {}
    for key, value in threads.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) >= 1):
            raise ValueError(f"bad thread count {_short(key, 20)}")
        flag = value.get("parallel") if isinstance(value, dict) else None
        if not isinstance(flag, bool):
            raise ValueError(f"no parallel flag for {key} threads")
        parallel[int(key)] = flag
        for name_, into in (("ms", ms), ("copy_ms", copy_ms)):
            got = value.get(name_)
            if got is None:
                continue
            if isinstance(got, bool) or not isinstance(got, int | float) or not 0 <= got < math.inf:
                raise ValueError(f"{name_} for {key} threads is not a finite number >= 0")
            into[int(key)] = float(got)
    return _Entry(
        name, n_x, m, str(dtype), str(order), mode, B, T, n_chunks, P, parallel, str(kind),
        ms, copy_ms,
    )  # fmt: skip


class WisdomFileError(OSError):
    """The wisdom file cannot be changed: a newer vecstudy wrote it, or it is a folder."""


def _load(path: Path) -> tuple[dict[str, Any] | None, str | None, bool]:
    """``(doc, why, newer)``: the wisdom file (None when absent or unreadable), why it
    is unreadable (None: absent or read), and whether a newer vecstudy wrote it."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return None, None, False
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"it cannot be read ({_short(exc, 120)})", False
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return None, f"it is not valid JSON ({_short(exc, 120)})", False
    if (
        isinstance(doc, dict)
        and doc.get("format") == FORMAT
        and isinstance(doc.get("machines"), dict)
    ):
        return doc, None, False
    fmt = doc.get("format") if isinstance(doc, dict) else None
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > FORMAT:
        return None, f"a newer vecstudy wrote it (format {fmt}; this one reads {FORMAT})", True
    return None, f"it is not a vecstudy wisdom file of format {FORMAT}", False


def _read_doc(path: Path) -> dict[str, Any] | None:
    """The whole wisdom file, None when absent; one warning (and None) when unreadable."""
    doc, why, newer = _load(path)
    if why is not None:
        if newer:
            what = "it is kept as it is"
        elif path.is_dir():
            what = "remove that folder, or set VECSTUDY_TUNE_DIR to another"
        else:
            what = "'vecstudy tune' keeps it beside the new file it writes, as .unreadable"
        _warn_once(
            f"file:{path}",
            f"ignoring the numba wisdom file {_short(path, 300)}: {why}; the cache model "
            f"plans instead ({what})",
        )
    return doc


def _set_aside(path: Path) -> Path:
    """Move an unreadable wisdom file to ``<name>.unreadable`` (replacing an older one)
    before a new file takes its place: nothing a user wrote is lost; the path."""
    aside = path.with_name(path.name + ".unreadable")
    path.replace(aside)
    _warn_once(
        f"aside:{path}",
        f"the unreadable numba wisdom file {_short(path, 300)} was moved to "
        f"{_short(aside.name, 100)} beside it; a new file takes its place",
    )
    return aside


def check_replaceable(path: Path | None = None) -> None:
    """Raise :class:`WisdomFileError` where the wisdom file must not be replaced (a newer
    vecstudy's, or a folder): ``vecstudy tune`` asks before it measures anything."""
    path = wisdom_path() if path is None else path
    _replaceable(path, *_load(path))


def _replaceable(path: Path, doc: Any, why: str | None, newer: bool) -> None:
    """:func:`check_replaceable` on what :func:`_load` read of ``path``."""
    if path.is_dir():
        raise WisdomFileError(
            f"the wisdom file {_short(path, 300)} is a folder: remove it, or set "
            "VECSTUDY_TUNE_DIR to another folder"
        )
    if newer:
        raise WisdomFileError(
            f"the wisdom file {_short(path, 300)}: {why}; it is left as it is: upgrade "
            "vecstudy, or set VECSTUDY_TUNE_DIR to another folder"
        )


def _writable_doc(path: Path) -> dict[str, Any] | None:
    """The file's document before a change (under its lock): None to start a new one,
    after setting an unreadable file aside; :class:`WisdomFileError` where the file must
    not be replaced (a newer vecstudy's, or a folder)."""
    doc, why, newer = _load(path)  # read once
    _replaceable(path, doc, why, newer)
    if why is None:
        return doc
    _set_aside(path)
    return None


def _section(doc: dict[str, Any] | None) -> dict[str, Any]:
    """This machine's entries (raw JSON objects by name) in ``doc``."""
    if doc is None:
        return {}
    sec = doc["machines"].get(machine()["key"])
    entries = sec.get("entries") if isinstance(sec, dict) else None
    return entries if isinstance(entries, dict) else {}


def entries(path: Path | None = None) -> list[_Entry]:
    """This machine's valid stored entries (invalid ones: one warning, then ignored)."""
    path = wisdom_path() if path is None else path
    out = []
    bad: list[tuple[str, ValueError]] = []
    for name, raw in sorted(_section(_read_doc(path)).items()):
        try:
            out.append(_parse_entry(name, raw))
        except ValueError as exc:
            bad.append((name, exc))
    if bad:  # one warning for the file, however many entries are bad
        first, why = bad[0]
        more = f" (and {len(bad) - 1} more entries)" if len(bad) > 1 else ""
        _warn_once(
            f"entry:{path}",
            f"ignoring entry {_short(first, 60)}{more} of the numba wisdom file "
            f"{_short(path, 300)}: {_short(why, 120)}",
        )
    return out


def stored_entries() -> list[dict[str, Any]]:
    """This machine's valid stored entries as the JSON objects of the file."""
    out = []
    for name, raw in _section(_read_doc(wisdom_path())).items():
        with contextlib.suppress(ValueError):
            e = _parse_entry(name, raw)
            out.append(((e.kind != "step", e.dtype, e.order, e.n_x, e.m), raw))
    return [raw for _, raw in sorted(out, key=lambda x: x[0])]


def entry_name(n_x: int, m: int, dtype: str, order: str, kind: str = "step") -> str:
    """The key of a shape's entry: ``"float64/C/12288x300"`` (a step),
    ``"descent/float64/C/12288x300"`` (a descent)."""
    name = f"{dtype}/{order}/{n_x}x{m}"
    return name if kind == "step" else f"{kind}/{name}"


def _lock(path: Path, timeout: float) -> Any:
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path.parent / f".{path.name}.lock"), timeout=timeout)


def save(results: Sequence[Tuned], *, timeout: float = 120.0) -> Path:
    """Add (or replace) the entries of ``results`` in this machine's section; the path.

    Under the file's lock, the file is read again, merged and replaced atomically, so
    that processes tuning at once keep each other's entries.  An unreadable file is
    replaced (after its warning).
    """
    from vecstudy.records.results import atomic_write_text, remove_stale_temporaries

    path = wisdom_path()
    with _lock(path, timeout):
        remove_stale_temporaries(path)
        doc = _writable_doc(path) or {"format": FORMAT, "machines": {}}
        mach = machine()
        sec = doc["machines"].get(mach["key"])
        if not isinstance(sec, dict) or not isinstance(sec.get("entries"), dict):
            sec = {**{k: v for k, v in mach.items() if k != "key"}, "entries": {}}
            doc["machines"][mach["key"]] = sec
        for r in results:
            sec["entries"][entry_name(r.n_x, r.m, r.dtype, r.order, r.kind)] = r.to_entry()
        atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    _forget()
    return path


def clear() -> tuple[Path, int]:
    """Remove this machine's entries; ``(path, count)``.  An unreadable file is moved
    aside (``.unreadable``), one of a newer vecstudy or a folder left as it is
    (:class:`WisdomFileError`)."""
    path = wisdom_path()
    if not path.exists():
        return path, 0
    with _lock(path, 120.0):
        doc = _writable_doc(path)
        if doc is None:
            n = 0
        else:
            sec = doc["machines"].pop(machine()["key"], None)
            n = len(sec.get("entries", {})) if isinstance(sec, dict) else 0
            if doc["machines"]:
                from vecstudy.records.results import atomic_write_text

                atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
            else:
                path.unlink()
    _forget()
    return path, n


# --------------------------------------------------------------------------- lookup
@dataclass
class _Loaded:
    stamp: tuple[int, int] | None
    checked: float
    entries: list[_Entry]
    memo: dict[tuple[int, int, str, str, int, str, str], Plan | None] = field(default_factory=dict)
    #: :func:`relayout_after` by ``(n_x, m, dtype, order)``: every ``optimize`` asks it.
    after: dict[tuple[int, int, str, str], float | None] = field(default_factory=dict)


_loaded: dict[str, _Loaded] = {}
_loaded_lock = threading.Lock()
#: ``(when, tune setting from the environment or config file, wisdom path)``.
_snapshot: tuple[float, str | None, Path] | None = None


def _forget() -> None:
    """Drop what was read from wisdom files and settings (after this process wrote one)."""
    global _snapshot
    with _loaded_lock:
        _loaded.clear()
        _snapshot = None


def settings() -> tuple[str, Path]:
    """The ``[numba] tune`` setting in force and the wisdom file.

    :func:`~vecstudy.config.use_tune` counts at once; the environment and the config
    file are looked at again every :data:`RECHECK_SECONDS` at most (a step may take
    microseconds; reading them takes a few).
    """
    global _snapshot
    ctx = config._context_tune.get()
    now = time.monotonic()
    snap = _snapshot
    if snap is None or now - snap[0] >= RECHECK_SECONDS or (ctx is None and snap[1] is None):
        base = None if ctx is not None else str(config.resolve_tune().value)
        snap = _snapshot = (now, base, wisdom_path())
    return (ctx if ctx is not None else str(snap[1])), snap[2]


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _current(path: Path | None = None) -> _Loaded:
    """This machine's entries of the wisdom file, read again when the file changed
    (looked at no more than every :data:`RECHECK_SECONDS`)."""
    path = wisdom_path() if path is None else path
    key = str(path)
    now = time.monotonic()
    with _loaded_lock:
        rec = _loaded.get(key)
        if rec is not None and now - rec.checked < RECHECK_SECONDS:
            return rec
    stamp = _stamp(path)
    if rec is not None and rec.stamp == stamp:
        rec.checked = now
        return rec
    rec = _Loaded(stamp, now, entries(path) if stamp is not None else [])
    with _loaded_lock:
        _loaded[key] = rec
    return rec


def lookup(
    n_x: int, m: int, itemsize: int, order: str, threads: int, kind: str = "step"
) -> Plan | None:
    """The stored plan for a shape and kind of call, or None.

    From the entry of the same dtype, order and kind nearest to ``(n_x, m)`` by
    log-distance, within a factor :data:`BUCKET_FACTOR` in each dimension (ties: the
    first by name), carried over to this shape (:meth:`_Entry.fit`); not where the
    cache model takes another kind of walk here than at the entry's shape
    (:func:`_same_walk`).
    """
    return _lookup(_current(), n_x, m, itemsize, order, threads, kind)


def _same_walk(e: _Entry, n_x: int, m: int, itemsize: int, order: str, kind: str) -> bool:
    """Whether the cache model walks ``X`` the same way (tiles, panels or samples) at
    ``(n_x, m)`` as at the entry's shape, for ``kind``.

    A stored plan carries its measured tiles or panels to a nearby shape; where the
    model's walk changes between the two shapes (a descent of 200x8000 by panels, near
    100x10000 measured by tiles), the measurement says nothing of the other walk, and
    the model plans.  On an AMD EPYC the tiles carried to 200x8000 took 0.74 ms an
    iteration where the model's panels take 0.47 to 0.55.  The sample-major walks (four
    samples side by side or one by one) count as one: the tuner times both.
    """

    def family(mode: int) -> int:
        return SAMPLE if mode == SAMPLE_SEQ else mode

    here = _model_plan(n_x, m, itemsize, order, None, kind).mode
    there = _model_plan(e.n_x, e.m, itemsize, order, None, kind).mode
    return family(here) == family(there)


def _nearest(rec: _Loaded, n_x: int, m: int, dtype: str, order: str, kind: str) -> _Entry | None:
    """The entry of ``dtype``, ``order`` and ``kind`` nearest to ``(n_x, m)``, or None."""
    reach = math.log(BUCKET_FACTOR) + 1e-12
    best: tuple[float, str, _Entry] | None = None
    for e in rec.entries:
        if e.dtype != dtype or e.order != order or e.kind != kind:
            continue
        dx, dy = math.log(n_x / e.n_x), math.log(m / e.m)
        if abs(dx) > reach or abs(dy) > reach:
            continue
        cand = (dx * dx + dy * dy, e.name, e)
        if best is None or cand[:2] < best[:2]:
            best = cand
    return None if best is None else best[2]


def _lookup(
    rec: _Loaded,
    n_x: int,
    m: int,
    itemsize: int,
    order: str,
    threads: int,
    kind: str = "step",
    walk: str | None = None,
) -> Plan | None:
    """:func:`lookup` in ``rec``; ``walk``: the kind of call whose model walk must match
    (default ``kind``; a descent that falls back to a step's entry passes "descent")."""
    dtype = DTYPES.get(itemsize)
    if dtype is None or order not in ("C", "F") or n_x < 1 or m < 1:
        return None
    walk = walk or kind
    key = (n_x, m, dtype, order, threads, kind, walk)
    if key in rec.memo:
        return rec.memo[key]
    near = _nearest(rec, n_x, m, dtype, order, kind)
    if near is not None and not _same_walk(near, n_x, m, itemsize, order, walk):
        near = None
    found = None if near is None else near.fit(n_x, m, threads)
    rec.memo[key] = found
    return found


def relayout_after(n_x: int, m: int, itemsize: int, order: str) -> float | None:
    """Iterations from which copying ``X`` of this shape out of ``order`` pays, as measured.

    From the descents stored for both orders near ``(n_x, m)`` (``vecstudy tune``
    measures each iteration in its own order, and the copy into the other): the copy's
    time over the time an iteration saves in the other order, both summed over the
    thread counts measured in both and scaled to elements of ``X``.  ``math.inf``: the
    other order is not faster.  None: not measured here (the caller's model decides).
    One answer for every thread count, so that the walk, and with it the bits of the
    result, never depend on the threads.
    """
    dtype = DTYPES.get(itemsize)
    if dtype is None or order not in ("C", "F") or n_x < 1 or m < 1:
        return None
    rec = _current()
    key = (n_x, m, dtype, order)
    if key not in rec.after:
        rec.after[key] = _break_even(rec, n_x, m, dtype, order)
    return rec.after[key]


def _break_even(rec: _Loaded, n_x: int, m: int, dtype: str, order: str) -> float | None:
    """:func:`relayout_after` from the entries of ``rec``."""
    here = _nearest(rec, n_x, m, dtype, order, "descent")
    there = _nearest(rec, n_x, m, dtype, "F" if order == "C" else "C", "descent")
    if here is None or there is None:
        return None
    ts = sorted(set(here.ms) & set(here.copy_ms) & set(there.ms))
    if not ts:
        return None
    size_here, size_there = here.n_x * here.m, there.n_x * there.m
    gain = sum(here.ms[t] / size_here - there.ms[t] / size_there for t in ts)
    copy = sum(here.copy_ms[t] / size_here for t in ts)
    return copy / gain if gain > 0 else math.inf


__all__ = [
    "BUCKET_FACTOR",
    "KINDS",
    "Tuned",
    "TuningWarning",
    "clear",
    "entries",
    "entry_name",
    "lookup",
    "machine",
    "relayout_after",
    "save",
    "settings",
    "stored_entries",
    "wisdom_dir",
    "wisdom_path",
]
