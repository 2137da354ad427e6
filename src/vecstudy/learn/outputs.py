"""The files ``vecstudy train`` writes besides the model: the figure of the costs, and how.

:func:`output_paths` names the figure and the model after the data file;
:func:`render_costs` draws the cost curves of a training (through
:func:`vecstudy.plot_costs`) and :func:`plot_costs` writes them atomically.
:func:`_directory_locked` and :func:`_signals_deferred` let
:func:`vecstudy.learn.train.write_outputs` replace the figure and the model as one pair.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vecstudy import api
from vecstudy.learn.text import _bounded_path

if TYPE_CHECKING:
    from vecstudy.learn.runs import Training


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back within; on leaving, act on the first one that came.

    Python runs signal handlers in the main thread only (so elsewhere nothing can
    interrupt the body).  In the main thread the handlers are swapped for one that
    records the signal; on leaving, the earlier handlers come back and the first
    recorded signal goes to its earlier handler (Ctrl-C: KeyboardInterrupt).
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[tuple[int, Any]] = []

    def record(signum: int, frame: Any) -> None:
        got.append((signum, frame))

    previous = {sig: signal.signal(sig, record) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        if got:
            signum, frame = got[0]
            handler = previous[signal.Signals(signum)]
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL or handler is None:
                if signum == signal.SIGINT:
                    raise KeyboardInterrupt
                signal.raise_signal(signum)  # the default action (SIGTERM: terminate)


@contextlib.contextmanager
def _directory_locked(directory: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``directory`` itself (no lock file left behind)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: writers are not serialized
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def plot_costs(training: Training, path: Path) -> Path:
    """Cost against iteration for every run, written atomically as PNG (or SVG by suffix).

    Drawn by :func:`vecstudy.plot_costs`: one learning rate, all backends on one
    plot; several (the course's learning-rate study), one curve per learning
    rate, one panel per backend, sharing the y axis.
    """
    from vecstudy.records.results import atomic_write_bytes

    atomic_write_bytes(path, render_costs(training, path.suffix.lstrip(".") or "png"))
    return path


def render_costs(training: Training, fmt: str = "png") -> bytes:
    """The figure of :func:`plot_costs` as bytes in format ``fmt`` (``"png"``, ``"svg"``)."""
    import io

    from vecstudy.plots import plot_costs as draw

    every = int(training.settings.get("record_every", api.RECORD_EVERY))
    rates = list(dict.fromkeys(r.learning_rate for r in training.runs))
    data = (
        f"{_bounded_path(Path(training.source).name)}: {len(training.train_rows)} training "
        f"samples x {len(training.table.features)} features"
        + ("" if training.settings.get("standardized") is False else ", standardized")
    )
    title = (
        f"Cost during gradient descent, learning rate {rates[0]:g}\n{data}"
        if len(rates) == 1
        else f"Cost for different learning rates: {data}"
    )
    runs = [
        {
            "costs": r.descent.costs,
            "learning_rate": r.learning_rate,
            "num_iterations": r.descent.n_iter,
            "record_every": every,
            "final_cost": r.final_cost,  # the cost after the last update
            "backend": r.backend,
            "dtype": r.descent.dtype,
            "seconds": r.descent.seconds,
        }
        for r in training.runs
    ]
    fig = draw(runs, title=title)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=120, bbox_inches="tight")
    return buf.getvalue()


def output_paths(source: str, output_dir: str | Path, *, study: bool = False) -> tuple[Path, Path]:
    """``(figure, model)`` paths: ``<dir>/<data file name>-costs.png`` and ``-model.json``.

    The data file's whole name, suffix included, names the outputs, so that
    ``big.csv`` and ``big.parquet`` do not replace each other's
    (``big.csv-costs.png``, ``big.parquet-costs.png``).  For a learning-rate study
    (``study``): ``-learning-rates.png`` and ``-learning-rates-model.json``, so that
    it does not replace a plain run's files.  A name too long for a file name is
    cut and given a digest of the whole name.

    >>> [p.name for p in output_paths("data/big.csv", "out")]
    ['big.csv-costs.png', 'big.csv-model.json']
    """
    import hashlib

    name = Path(source).name or "data"
    if len(name.encode("utf-8")) > 120:  # file names are at most 255 bytes
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        head = name.encode("utf-8", "surrogatepass")[:80].decode("utf-8", "ignore")
        name = f"{head}-{digest}"
    out = Path(output_dir)
    if study:
        return out / f"{name}-learning-rates.png", out / f"{name}-learning-rates-model.json"
    return out / f"{name}-costs.png", out / f"{name}-model.json"
