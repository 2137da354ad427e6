"""The distributed study: the dask backend against numba, numpy and dask-glm, in one run.

Four measurements, side by side on one machine:

1. **Per iteration, in memory**, at 80 MB and 800 MB of float64 ``X`` (n_x = 100):
   the numba and numpy backends in this process (every core), the dask backend on a
   local cluster (one worker process per core, one thread each, ``X`` persisted on
   the workers), and dask-glm's ``gradient_descent`` (the solver behind dask-ml's
   ``LogisticRegression(solver="gradient_descent")``) on the same chunks, persisted.
   Rounds are interleaved (numba, numpy, dask, numba, ...); dask-glm runs after them.
2. **Per-step overhead** at small sizes: the dask backend's time per step with one
   chunk per worker, beside the numba backend's step on the same data.  At these
   sizes the step itself costs microseconds, so the difference is the scheduler's
   round trip.
3. **Out of core**: ``X`` in Zarr, four times the workers' total memory limit, read
   chunk by chunk at every step; the same number of iterations with dask-glm on the
   same Zarr array; every worker's peak resident memory against its limit; and the
   dask fit against the numba backend's in-memory fit.

Every timing is :func:`vecstudy.runtime.timing.time_once` of a whole descent of a fixed
number of iterations, repeated in a few rounds: not :func:`~vecstudy.runtime.timing.autorange`'s
loop counts of :func:`~vecstudy.runtime.timing.time_round`, which suit calls of
microseconds; a descent on a cluster takes tens of milliseconds to seconds, the
scheduler's round trips included, and the out-of-core fit is run once.

All data are synthetic and seeded (:func:`vecstudy.cluster.write_zarr`), read by
every contender from the same Zarr store.  Results: ``dask-study.json`` (the raw
timings), ``dask-study.md`` (tables) and ``dask-study.png`` / ``.svg`` (figures) in the
output directory.

The out-of-core memory limit is checked before anything runs
(:func:`check_worker_memory`): a worker paused for lack of memory would leave the run
waiting forever.  The data live in a temporary directory ``.dask-study-<pid>-*`` of
the output directory, removed on every way out: normal end, error, Ctrl-C or SIGTERM
(handled as Ctrl-C); one left by a killed run is removed by the next run.  An
interrupted run keeps the measurements it finished (``"interrupted"`` in the JSON) and
raises :class:`StudyInterrupted`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from vecstudy import backends, cluster, config
from vecstudy.errors import StudyInterrupted as StudyInterrupted
from vecstudy.runtime.timing import time_once

#: Learning rate of every timed descent (the values do not matter for time).
LEARNING_RATE = 0.5
N_X = 100
#: Chunks of X one worker's memory must have room for in the out-of-core run: the
#: scheduler reads a few chunks ahead of the tasks that use them, a chunk is decoded
#: into a new buffer, and freed memory is not all returned at once.  The reference run
#: (32 MiB chunks, idle worker ~121 MiB) peaked at 304 MiB per worker: ~6 chunks.
OOC_CHUNKS_HELD = 6
#: An idle worker's own memory (interpreter, numpy, dask, numba loaded), for the check
#: made before any worker exists; measured at about 121 MiB on Linux, CPython 3.11.
IDLE_WORKER_BYTES = 128 * 2**20
#: Prefix of the temporary directory of a run, followed by the process id.
TMP_PREFIX = ".dask-study-"
#: Worker processes (False: threads in this process, for tests).
PROCESSES = True


def _pause_fraction() -> float:
    """Fraction of its memory limit at which Dask pauses a worker (else terminates it)."""
    import dask
    import distributed as _distributed  # noqa: F401  (its configuration defaults)

    found = [dask.config.get(f"distributed.worker.memory.{k}") for k in ("pause", "terminate")]
    enabled = [float(f) for f in found if f is not None and f is not False and float(f) > 0]
    return min(enabled) if enabled else 1.0


def check_worker_memory(
    worker_memory: str, chunk: str, idle: float = IDLE_WORKER_BYTES, measured: bool = False
) -> int:
    """The worker memory limit in bytes, if the out-of-core run can work in it.

    A worker needs its own memory (``idle``) plus :data:`OOC_CHUNKS_HELD` chunks, under
    the fraction of its limit where Dask pauses it (80% by default): a paused worker
    runs nothing and the client would wait for it forever.  Raises ``ValueError``
    naming ``--worker-memory``, the chunk size and the least limit that works.
    """
    from dask.utils import parse_bytes

    try:
        limit = int(parse_bytes(str(worker_memory)))
    except (ValueError, TypeError):
        raise ValueError(
            f"--worker-memory must be bytes such as '400 MiB'; got {str(worker_memory)[:40]!r}"
        ) from None
    chunk_size = cluster.chunk_bytes(chunk)
    pause = _pause_fraction()
    need = math.ceil((idle + OOC_CHUNKS_HELD * chunk_size) / pause / 2**20)
    if limit < need * 2**20:
        own = f"{idle / 2**20:.0f} MiB" + (" measured" if measured else ", about")
        raise ValueError(
            f"--worker-memory {worker_memory} is too small for the out-of-core run's chunks "
            f"of {chunk_size / 2**20:.0f} MiB: a worker needs room for {OOC_CHUNKS_HELD} "
            f"chunks besides its own memory ({own}), and Dask pauses it at {pause:.0%} of "
            f"its limit; give at least --worker-memory {need}MiB"
        )
    return limit


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # not ours to signal: alive
        return True
    return True


def remove_stale_temporaries(out: Path) -> list[Path]:
    """Remove temporary directories left in ``out`` by runs whose process is gone (killed)."""
    removed = []
    for entry in out.glob(f"{TMP_PREFIX}*"):
        pid = entry.name[len(TMP_PREFIX) :].split("-", 1)[0]
        if entry.is_dir() and pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@contextlib.contextmanager
def _sigterm_as_sigint(received: list[str]) -> Iterator[None]:
    """SIGTERM handled as Ctrl-C for the duration (main thread only).

    The handler passes the signal to whatever handles SIGINT at that moment (Python's
    KeyboardInterrupt, or the dask backend's handler that stops a descent between two
    steps), and records its name in ``received``.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        received.append("SIGTERM")
        on_sigint = signal.getsignal(signal.SIGINT)
        if callable(on_sigint):
            on_sigint(signal.SIGINT, frame)
        else:  # SIGINT ignored or default: SIGTERM still stops the run
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _median_per_iter(samples: list[float], iterations: int) -> float:
    return statistics.median(samples) / iterations


def _peak_rss() -> float:
    """Peak resident memory of this process in bytes (runs on the workers).

    Linux's ``VmHWM`` (the high-water mark of this process image); ``getrusage``'s
    ``ru_maxrss`` would not do: it keeps the peak of the parent a worker was forked
    from.  Elsewhere: the resident memory now.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    return _rss()


def _rss() -> float:
    """Resident memory of this process in bytes now (runs on the workers)."""
    import psutil  # type: ignore[import-untyped]

    return float(psutil.Process().memory_info().rss)


def _noop(i: int) -> int:
    return i


def _warm_worker() -> bool:
    from vecstudy.backends import dask as dk

    dk.chunk_kernel()
    return True


@contextlib.contextmanager
def _cluster(workers: int, memory_limit: str | None = None) -> Iterator[Any]:
    from distributed import Client

    options: dict[str, Any] = {"n_workers": workers, "processes": PROCESSES}
    if memory_limit is not None:
        options["memory_limit"] = memory_limit
    with cluster.local_cluster(**options) as local, Client(local) as client:
        client.run(_warm_worker)  # numba's cache loaded before anything is timed
        yield client


def _glm(Xt: Any, y: Any, iterations: int) -> Any:
    """dask-glm's gradient descent for exactly ``iterations`` iterations (no normalization)."""
    from dask_glm.algorithms import gradient_descent
    from dask_glm.families import Logistic

    return gradient_descent(
        Xt, y, max_iter=iterations, tol=-math.inf, family=Logistic, normalize=False
    )


def in_memory(
    client: Any,
    root: Path,
    sizes_mb: list[int],
    iterations: int,
    rounds: int,
    log: Any,
    rows: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Per-iteration times at each size (MB of float64 X), all contenders.

    Rows are appended to ``rows`` (returned) as each size is finished.
    """
    from vecstudy.backends import dask as dk
    from vecstudy.runtime.threads import limit_threads

    rows = [] if rows is None else rows
    cores = config.available_cores()
    for size in sizes_mb:
        m = size * 10**6 // (8 * N_X)
        # chunks of at most 128 MiB, and at least one per worker
        chunk = min(cluster.chunk_bytes(cluster.DEFAULT_CHUNK), 8 * N_X * m // cores)
        path = cluster.write_zarr(
            root / f"x{size}.zarr", shape=(N_X, m), seed=size, chunk=max(1, chunk)
        )
        Xz, Yz = cluster.open_zarr(path)
        X, Y = Xz.compute(), Yz.compute()
        w0 = np.zeros(N_X)
        times: dict[str, list[float]] = {"numba": [], "numpy": [], "dask": []}
        with dk.placed(Xz, Yz, persist=True) as data, limit_threads(cores, numba=True):
            nb, npy = backends.load("numba"), backends.load("numpy")
            nb.optimize(w0, 0.0, X, Y, 1, LEARNING_RATE, 100)
            dk.descend(data, w0, 0.0, 1, LEARNING_RATE, 100)
            steps = (iterations, LEARNING_RATE, 100)
            for _ in range(rounds):
                times["numba"].append(time_once(partial(nb.optimize, w0, 0.0, X, Y, *steps)))
                times["numpy"].append(time_once(partial(npy.optimize, w0, 0.0, X, Y, *steps)))
                times["dask"].append(time_once(partial(dk.descend, data, w0, 0.0, *steps)))
            chunks = data.n_chunks
        del X, Y
        with contextlib.suppress(ImportError):
            Xt, yd = client.persist([Xz.T, Yz])
            _glm(Xt, yd, 1)
            glm = partial(_glm, Xt, yd, iterations)
            times["dask-glm"] = [time_once(glm) for _ in range(rounds)]
            del Xt, yd
        for name, samples in times.items():
            rows.append(
                {
                    "study": "in-memory",
                    "contender": name,
                    "mb": size,
                    "shape": f"{N_X}x{m}",
                    "chunks": chunks,
                    "iterations": iterations,
                    "samples_s": samples,
                    "per_iteration_s": _median_per_iter(samples, iterations),
                }
            )
            log(f"{size} MB {name}: {rows[-1]['per_iteration_s'] * 1e3:.1f} ms per iteration")
        shutil.rmtree(path, ignore_errors=True)
    return rows


def overhead(
    client: Any, iterations: int, rounds: int, log: Any, rows: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Per-step time of the dask backend at small sizes, one chunk per worker.

    Rows are appended to ``rows`` (returned) as each is finished.
    """
    from vecstudy.backends import dask as dk
    from vecstudy.runtime.threads import limit_threads

    rows = [] if rows is None else rows
    workers = len(client.scheduler_info()["workers"])
    # dask's own floor: one no-op task per worker, submitted and gathered

    def round_trips() -> None:
        for _ in range(iterations):
            client.gather(client.map(_noop, range(workers), pure=False))

    noop = [time_once(round_trips) for _ in range(rounds)]
    rows.append(
        {
            "study": "overhead",
            "contender": "dask no-op round trip",
            "shape": "-",
            "mb": 0.0,
            "chunks": workers,
            "iterations": iterations,
            "samples_s": noop,
            "per_iteration_s": _median_per_iter(noop, iterations),
        }
    )
    log(f"dask no-op round trip ({workers} tasks): {rows[-1]['per_iteration_s'] * 1e3:.2f} ms")
    rng = np.random.default_rng(7)
    for m in (1_000, 10_000, 100_000):
        n_x = 10
        X = rng.standard_normal((n_x, m))
        Y = (rng.random(m) < 0.5).astype(float)
        w0 = np.zeros(n_x)
        chunk = -(-m // workers) * n_x * 8
        nb = backends.load("numba")
        with dk.placed(X, Y, chunk=chunk) as data, limit_threads(1, numba=True):
            dk.descend(data, w0, 0.0, 2, LEARNING_RATE, 100)
            nb.optimize(w0, 0.0, X, Y, 2, LEARNING_RATE, 100)
            t_d, t_n = [], []
            for _ in range(rounds):
                t_d.append(time_once(partial(dk.descend, data, w0, 0.0, iterations, 0.5, 10**9)))
                t_n.append(time_once(partial(nb.optimize, w0, 0.0, X, Y, iterations, 0.5, 10**9)))
        for name, samples in (("dask", t_d), ("numba (1 thread)", t_n)):
            rows.append(
                {
                    "study": "overhead",
                    "contender": name,
                    "shape": f"{n_x}x{m}",
                    "mb": X.nbytes / 1e6,
                    "chunks": data.n_chunks,
                    "iterations": iterations,
                    "samples_s": samples,
                    "per_iteration_s": _median_per_iter(samples, iterations),
                }
            )
        log(
            f"overhead {n_x}x{m}: dask {rows[-2]['per_iteration_s'] * 1e3:.2f} ms, "
            f"numba {rows[-1]['per_iteration_s'] * 1e3:.3f} ms per step"
        )
    return rows


def out_of_core(
    root: Path,
    worker_memory: str,
    chunk: str,
    iterations: int,
    log: Any,
    rows: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """X in Zarr at 4x the workers' total memory limit: dask backend and dask-glm.

    Rows are appended to ``rows`` (returned) as each is finished.
    """
    from vecstudy.backends import dask as dk

    rows = [] if rows is None else rows
    workers = config.available_cores()
    limit = check_worker_memory(worker_memory, chunk)
    m = 4 * workers * limit // (8 * N_X)
    log(f"out of core: writing {8 * N_X * m / 1e9:.2f} GB of X to Zarr")
    path = cluster.write_zarr(root / "ooc.zarr", shape=(N_X, m), chunk=chunk, seed=4)
    Xz, Yz = cluster.open_zarr(path)
    w0 = np.zeros(N_X)
    with _cluster(workers, worker_memory) as client:
        idle = max(client.run(_rss).values())
        check_worker_memory(worker_memory, chunk, idle=idle, measured=True)
        with dk.placed(Xz, Yz) as data:
            if not data.streamed:
                raise RuntimeError("X fits in the workers' memory: not an out-of-core run")
            # timed by hand, not by time_once: the fit is kept, to check it below
            t0 = time.perf_counter()
            fit = dk.descend(data, w0, 0.0, iterations, 0.5, 100)
            seconds = time.perf_counter() - t0
        peaks = client.run(_peak_rss)
        first: dict[str, Any] = {
            "study": "out-of-core",
            "contender": "dask",
            "shape": f"{N_X}x{m}",
            "mb": 8 * N_X * m / 1e6,
            "chunks": data.n_chunks,
            "iterations": iterations,
            "samples_s": [seconds],
            "per_iteration_s": seconds / iterations,
            "worker_limit_bytes": limit,
            "worker_peak_bytes": sorted(peaks.values()),
        }
        rows.append(first)
        log(f"out-of-core dask: {seconds / iterations:.2f} s per iteration, peaks {peaks}")
        with contextlib.suppress(ImportError):
            import dask_glm  # noqa: F401  (before restarting the workers for it)

            client.restart()  # fresh worker processes: a peak of their own
            client.run(_warm_worker)
            seconds = time_once(partial(_glm, Xz.T, Yz, iterations))
            peaks = client.run(_peak_rss)
            rows.append({**first, "contender": "dask-glm", "samples_s": [seconds]})
            rows[-1].update(
                per_iteration_s=seconds / iterations, worker_peak_bytes=sorted(peaks.values())
            )
            log(f"out-of-core dask-glm: {seconds / iterations:.2f} s per iteration, peaks {peaks}")
    X, Y = Xz.compute(), Yz.compute()  # the in-memory reference, in this process
    ref = backends.load("numba").optimize(w0, 0.0, X, Y, iterations, 0.5, 100)
    del X, Y
    scale = max(1.0, float(np.abs(ref[0]).max()))
    first["max_rel_diff_vs_in_memory"] = max(
        float(np.abs(fit[0] - ref[0]).max()) / scale, abs(fit[1] - ref[1]) / max(1.0, abs(ref[1]))
    )
    log(f"out-of-core vs in-memory numba: {first['max_rel_diff_vs_in_memory']:.2e} relative")
    shutil.rmtree(path, ignore_errors=True)
    return rows


def run(
    output_dir: str | Path,
    *,
    sizes_mb: tuple[int, ...] = (80, 800),
    iterations: int = 10,
    rounds: int = 3,
    worker_memory: str = "400 MiB",
    ooc_chunk: str = "32 MiB",
    ooc_iterations: int = 3,
    log: Any = None,
) -> dict[str, Path]:
    """Run the study, write its JSON, Markdown and figures; return their paths.

    Raises :class:`StudyInterrupted` on Ctrl-C or SIGTERM, after saving the finished
    measurements (if any) marked as interrupted.  The temporary data are removed on
    every way out.
    """
    from vecstudy.records.machine import machine_info

    if log is None:
        log = partial(print, flush=True)
    if ooc_iterations > 0:  # before anything runs: a too small limit would hang the run
        check_worker_memory(worker_memory, ooc_chunk)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_temporaries(out):
        log(f"removed {stale}, left by a run that was killed")
    rows: list[dict[str, Any]] = []
    machine = machine_info()
    received: list[str] = []
    try:
        with (
            _sigterm_as_sigint(received),
            tempfile.TemporaryDirectory(
                prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=out, ignore_cleanup_errors=True
            ) as tmp,
        ):
            root = Path(tmp)
            with _cluster(config.available_cores()) as client:
                in_memory(client, root, list(sizes_mb), iterations, rounds, log, rows)
                overhead(client, 50, rounds, log, rows)
            if ooc_iterations > 0:
                out_of_core(root, worker_memory, ooc_chunk, ooc_iterations, log, rows)
    except KeyboardInterrupt:
        name = received[0] if received else "SIGINT"
        paths = _write(out, machine, rows, interrupted=name) if rows else {}
        raise StudyInterrupted(name, len(rows), paths) from None
    return _write(out, machine, rows)


def _write(
    out: Path, machine: dict[str, Any], rows: list[dict[str, Any]], interrupted: str | None = None
) -> dict[str, Path]:
    """Write the JSON, Markdown and figures of ``rows``; ``interrupted``: by which signal.

    The Markdown and the figures are drawn by :mod:`vecstudy.report.dask_study`: the one
    import of this module from the floor above, as :func:`run` is the study's one-call
    workflow (measure, then write everything).
    """
    from vecstudy.records.results import atomic_write_text
    from vecstudy.report import dask_study as render

    results: dict[str, Any] = {"machine": machine, "versions": _versions(), "rows": rows}
    if interrupted is not None:
        results["interrupted"] = {"signal": interrupted, "rows_kept": len(rows)}
    paths = {
        "json": out / "dask-study.json",
        "markdown": out / "dask-study.md",
        "figure": out / "dask-study.png",
    }
    atomic_write_text(paths["json"], json.dumps(results, indent=1, default=str))
    atomic_write_text(paths["markdown"], render.to_markdown(results))
    render.figure(results, paths["figure"])
    return paths


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("dask", "distributed", "zarr", "numba", "numpy", "dask-glm", "dask-ml"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found
