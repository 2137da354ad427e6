"""The Dask side of vecstudy: which cluster, data in Zarr, and lazy inputs for the API.

Which cluster (:func:`get_client`), the first that applies:

1. a Dask client already active in this process (``distributed.Client(...)`` made by
   the user, or ``with Client(...):``) is used as it is;
2. the scheduler address of the config: ``VECSTUDY_DASK_ADDRESS``, else ``[dask]
   address`` in the config file; one client per address and process, closed at exit.
   An address that cannot be reached, or where nothing answers like a Dask scheduler,
   raises :class:`ClusterUnreachableError` within ``[dask] timeout`` seconds (10 by
   default): the whole connection (connect, handshake, registration) has that deadline;
3. else one ``LocalCluster`` per process, started on first use: one worker process
   per core, one thread each, no dashboard; closed at exit.  Its start may take
   :func:`local_start_timeout` seconds (a cold, loaded machine imports slowly) and is
   tried twice before :class:`ClusterStartError`.  Worker processes are spawned and
   re-import the ``__main__`` script: a call from a script's top level that is not
   under ``if __name__ == "__main__":`` is refused at once (it would start clusters
   recursively), with what to do instead.

Data (:func:`write_zarr`, :func:`open_zarr`): a Zarr group holding ``X`` with shape
``(n_x, m)`` (the course's layout, one column per sample) in chunks of whole columns,
``(n_x, c)``, and ``Y`` with shape ``(m,)`` in chunks of ``c`` labels.  A step of the
dask backend reads one chunk per task, so ``c`` sets both the task size and the
memory a worker needs (``n_x * c * itemsize`` bytes, 128 MiB by default, as
dask.array's own default chunk size).
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import json
import logging
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from vecstudy import config
from vecstudy.errors import ClusterError as ClusterError
from vecstudy.errors import ClusterStartError as ClusterStartError
from vecstudy.errors import ClusterUnreachableError as ClusterUnreachableError
from vecstudy.errors import DamagedStoreError as DamagedStoreError

logger = logging.getLogger("vecstudy")

#: Chunk of a synthetic or converted dataset when none is asked for.
DEFAULT_CHUNK = "128 MiB"
#: Least time given to starting the embedded local cluster, in seconds (see
#: :func:`local_start_timeout`): worker processes import numpy, dask and numba, which
#: on a cold, loaded machine takes far longer than the usual second or two.
LOCAL_START_MIN = 60.0
#: The local start may take this many times ``[dask] timeout`` when that is longer.
LOCAL_START_FACTOR = 6.0
#: Group attribute that marks a Zarr store written by :func:`write_zarr`; only such a
#: store may be replaced with ``overwrite=True``.
ZARR_MARKER = "vecstudy"


@dataclass
class _Embedded:
    client: Any
    cluster: Any  # LocalCluster or None
    description: str


_lock = threading.Lock()
_clients: dict[str, _Embedded] = {}


def _active_client() -> Any:
    from distributed import default_client

    try:
        return default_client()
    except ValueError:  # no client is active
        return None


def get_client() -> tuple[Any, str]:
    """The Dask client to run on, and a description of where it came from.

    See the module docstring for the order.  Clients this function makes are not
    made the process's default, so they never capture the user's own Dask work.
    """
    active = _active_client()
    if active is not None:
        return active, f"active client ({active.scheduler.address})"
    settings = config.resolve_dask()
    address = settings["address"].value
    timeout = settings["timeout"]
    key = "local" if address is None else str(address)
    with _lock:
        known = _clients.get(key)
        if known is not None and known.client.status == "running":
            return known.client, known.description
        if address is None:
            made = _start_local(float(timeout.value), timeout.source)
        else:
            made = _connect(str(address), settings["address"].source, float(timeout.value))
        _clients[key] = made
    return made.client, made.description


def _short(exc: BaseException, limit: int = 200) -> str:
    """``exc`` on one line, bounded: its type and the start of its message."""
    text = " ".join(str(exc).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_bounded_client: type | None = None


def _bounded_client_class() -> type:
    """A ``distributed.Client`` whose start (connect, handshake, registration) has a deadline.

    ``Client(address, timeout=...)`` bounds the TCP connect, but not the handshake
    that follows: against a listener that accepts and never answers, it waits forever;
    against one that answers garbage it fails with a decoding error and leaves a
    half-made client whose finalizer waits for a close that never comes (and reports a
    TimeoutError at exit).  Here ``start`` runs under a hard deadline, and a failed
    start is torn down at once, so that nothing is left to report at exit.
    """
    global _bounded_client
    if _bounded_client is not None:
        return _bounded_client
    from distributed import Client

    class BoundedClient(Client):
        def __init__(self, *args: Any, deadline: float, **kwargs: Any) -> None:
            self._vecstudy_deadline = deadline
            super().__init__(*args, **kwargs)

        def start(self, **kwargs: Any) -> None:
            if not getattr(self, "asynchronous", False):
                kwargs.setdefault("callback_timeout", self._vecstudy_deadline)
            try:
                super().start(**kwargs)
            except BaseException:
                self._abandon()
                raise

        def _abandon(self) -> None:
            with contextlib.suppress(Exception):
                self.close(timeout=0.5)
            self.status = "closed"  # its finalizer has nothing left to close
            with contextlib.suppress(Exception):
                self._loop_runner.stop()

    _bounded_client = BoundedClient
    return BoundedClient


def _connect(address: str, source: str, timeout: float) -> _Embedded:
    client_class = _bounded_client_class()
    try:
        client = client_class(
            address, timeout=f"{timeout}s", set_as_default=False, deadline=timeout
        )
    except Exception as exc:
        why = _short(exc)
        if isinstance(exc, TimeoutError):
            why = f"no answer in time ({why}); is a Dask scheduler listening there?"
        elif not isinstance(exc, OSError):  # OSError: refused, unreachable, ...
            why = f"the answer was not a Dask scheduler's ({why})"
        raise ClusterUnreachableError(
            f"cannot reach the Dask scheduler at {address!r} (from {source}) within "
            f"{timeout:g} s ([dask] timeout): {why}"
        ) from None
    atexit.register(_close, client, None)
    return _Embedded(client, None, f"scheduler {address} (from {source})")


def local_cluster(**options: Any) -> Any:
    """A ``LocalCluster`` with one thread per worker and no dashboard.

    The scheduler's HTTP server (health and metrics routes) takes a free port: with
    ``dashboard_address=None`` alone it would try 8787 and warn when another cluster
    on the machine holds it.  ``options`` go to ``LocalCluster``.
    """
    from distributed import LocalCluster

    kwargs: dict[str, Any] = {
        "threads_per_worker": 1,
        "dashboard_address": ":0",
        "scheduler_kwargs": {"dashboard": False},
    }
    kwargs.update(options)
    return LocalCluster(**kwargs)


def local_start_timeout(timeout: float) -> float:
    """Seconds allowed to start the embedded local cluster, for ``[dask] timeout``.

    ``max(LOCAL_START_MIN, LOCAL_START_FACTOR * timeout)``: 60 s with the default
    timeout of 10 s; a larger ``[dask] timeout`` gives a slow machine more.
    """
    return max(LOCAL_START_MIN, LOCAL_START_FACTOR * timeout)


_GUARD_ADVICE = (
    'put the script\'s work under `if __name__ == "__main__":`, or run on an in-process '
    "cluster: `from distributed import Client; client = Client(processes=False)` first "
    "(or set [dask] address to a running scheduler)"
)


def _is_main_test(test: ast.expr) -> bool:
    """Whether ``test`` is ``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(consts) == 1


def unguarded_main_call(frame: FrameType | None = None) -> tuple[str, int] | None:
    """``(script, line)`` when this call comes from a ``__main__`` script's unguarded top level.

    Worker processes of a local cluster are spawned (dask's default
    ``distributed.worker.multiprocessing-method``), and a spawned process first imports
    the parent's ``__main__`` script again.  A call at its top level, not under ``if
    __name__ == "__main__":``, then runs again in every worker and tries to start a
    cluster there: the workers die and distributed reports "Nanny failed to start".
    Found by reading the script (its syntax tree); ``None`` when it cannot be read, when
    the call is guarded, or when workers are forked.
    """
    import dask
    import distributed  # noqa: F401  (its configuration defaults)

    method = dask.config.get("distributed.worker.multiprocessing-method", "spawn")
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if method not in ("spawn", "forkserver") or main is None or not path:
        return None
    f: FrameType | None = sys._getframe(1) if frame is None else frame
    while f is not None and not (f.f_globals is vars(main) and f.f_code.co_name == "<module>"):
        f = f.f_back
    if f is None:  # not called from the script's top level (an interactive session, ...)
        return None
    line = f.f_lineno
    try:
        tree = ast.parse(Path(path).read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_test(node.test):
            end = node.end_lineno if node.end_lineno is not None else node.lineno
            if node.lineno <= line <= end:
                return None
    return str(path), int(line)


def _refuse_spawned_start() -> None:
    """Refuse to start a local cluster from a script that its workers would run again."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        # in a worker process while it imports the parent's script
        raise ClusterStartError(
            "the dask backend was called while a worker process was importing the main "
            f"script (its top level runs again in every worker); {_GUARD_ADVICE}"
        )
    found = unguarded_main_call()
    if found is not None:
        script, line = found
        raise ClusterStartError(
            f"the dask backend cannot start its local cluster from {Path(script).name}, "
            f"line {line}: worker processes re-import the script and would run this call "
            f"again; {_GUARD_ADVICE}"
        )


def _start_local_once(workers: int, start_timeout: float) -> tuple[Any, Any]:
    """One attempt: a local cluster and its client, each step allowed ``start_timeout``."""
    import dask
    from distributed import Client

    # connections made while starting (worker -> scheduler, client -> scheduler) wait
    # as long as the start may take
    with dask.config.set({"distributed.comm.timeouts.connect": f"{start_timeout}s"}):
        cluster = local_cluster(n_workers=workers, processes=True)
        try:
            client = Client(cluster, set_as_default=False, timeout=f"{start_timeout}s")
        except BaseException:
            with contextlib.suppress(Exception):
                cluster.close()
            raise
    return cluster, client


def _start_local(timeout: float = 10.0, source: str = "default") -> _Embedded:
    """Start the embedded local cluster: refused from an unguarded script, tried twice."""
    _refuse_spawned_start()
    workers = config.available_cores()
    start_timeout = local_start_timeout(timeout)
    failures: list[str] = []
    for attempt in (1, 2):
        try:
            cluster, client = _start_local_once(workers, start_timeout)
        except Exception as exc:
            failures.append(_short(exc, 160))
            logger.warning(
                "the local Dask cluster failed to start (attempt %d of 2): %s",
                attempt,
                failures[-1],
            )
            continue
        atexit.register(_close, client, cluster)
        return _Embedded(client, cluster, f"local cluster, {workers} workers x 1 thread (started)")
    raise ClusterStartError(
        f"the local Dask cluster ({workers} worker processes) failed to start twice, each "
        f"attempt allowed {start_timeout:g} s (max({LOCAL_START_MIN:g} s, "
        f"{LOCAL_START_FACTOR:g} x [dask] timeout = {timeout:g} s from {source})); "
        f"last error: {failures[-1]}. On a slow or loaded machine raise [dask] timeout, "
        "or start a cluster yourself and set [dask] address"
    )


def _close(client: Any, cluster: Any) -> None:
    """Close a client (and its cluster) made here; at exit, or by :func:`close`."""
    client.close()
    if cluster is not None:
        cluster.close()


def close() -> None:
    """Close every client and local cluster this module started (they restart on demand)."""
    with _lock:
        made = list(_clients.values())
        _clients.clear()
    for m in made:
        _close(m.client, m.cluster)


def describe() -> str:
    """Which cluster the dask backend would use now, without starting or connecting to one."""
    try:
        active = _active_client()
    except ImportError:
        return "not installed (pip install 'vecstudy[dask]', from a clone: pip install '.[dask]')"
    if active is not None:
        return f"active client ({active.scheduler.address})"
    settings = config.resolve_dask()
    address = settings["address"]
    if address.value is not None:
        return f"scheduler {address.value} (from {address.source}); connects on first use"
    local = _clients.get("local")
    if local is not None:
        return local.description
    cores = config.available_cores()
    return f"local cluster, {cores} workers x 1 thread (started on first use, closed at exit)"


def chunk_bytes(value: object = None) -> int:
    """Bytes per chunk: ``value`` (int or ``"64 MiB"``), else the configured ``[dask] chunk``."""
    from dask.utils import parse_bytes

    source = "argument chunk="
    if value is None:
        choice = config.resolve_dask()["chunk"]
        value, source = choice.value, choice.source
    try:
        n = int(value) if isinstance(value, int) else int(parse_bytes(str(value)))
    except (ValueError, TypeError):
        raise ValueError(
            f"bad chunk size {value!r} from {source}; expected bytes, e.g. 67108864 or '64 MiB'"
        ) from None
    if n < 1:
        raise ValueError(f"chunk size from {source} must be positive; got {value!r}")
    return n


def columns_per_chunk(n_x: int, itemsize: int, nbytes: int, m: int, multiple: int = 1) -> int:
    """Samples (columns of ``X``) per chunk: chunks of at most ``nbytes``, of equal size.

    The ``m`` samples are cut into the fewest chunks of at most ``nbytes`` (at least
    one sample each), rounded up to a multiple of ``multiple`` (the number of workers,
    so that every worker gets as much), then made as equal as possible.
    """
    widest = max(1, nbytes // (n_x * itemsize))
    n = -(-m // widest)
    n = min(m, -(-n // multiple) * multiple)
    return max(1, -(-m // n))


# --------------------------------------------------------------------------- lazy inputs
def is_dask_array(value: object) -> bool:
    """Whether ``value`` is a ``dask.array.Array`` (without importing dask)."""
    return type(value).__module__.split(".")[0] == "dask" and hasattr(value, "chunks")


def check_lazy_X(X: Any, name: str = "X") -> Any:
    """Shape and dtype checks of a dask ``X`` (n_x, m); nothing is computed.

    Its values are not scanned for NaN or infinity here (that would read all of
    ``X``); a non-finite value makes the results non-finite, and only then does the
    dask backend scan ``X`` to name it (``NonFiniteInputError``, a ``ValueError``).
    """
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; found dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (n_x, m); got {X.ndim}-D shape {X.shape}")
    if any(math.isnan(s) for s in X.shape):
        raise ValueError(f"{name} has unknown chunk sizes {X.shape}; call .compute_chunk_sizes()")
    n_x, m = X.shape
    if n_x == 0 or m == 0:
        raise ValueError(f"{name} must have n_x >= 1 features and m >= 1 samples; got {X.shape}")
    return X


def check_lazy_Y(Y: Any, m: int, name: str = "Y") -> Any:
    """Shape check of a dask ``Y`` ((1, m) or (m,)) and one pass over it for the labels."""
    if Y.ndim == 2 and Y.shape[0] == 1:
        Y = Y[0]
    elif Y.ndim != 1:
        raise ValueError(f"{name} must have shape (1, m); got shape {Y.shape}")
    if Y.shape[0] != m:
        raise ValueError(
            f"{name} has {Y.shape[0]} samples but X has {m}: Y must have shape (1, {m})"
        )
    if Y.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; found dtype {Y.dtype}")
    if bool(((Y != 0) & (Y != 1)).any().compute()):
        raise ValueError(f"{name} must hold labels 0 and 1 only; found other values")
    return Y


def _narrow(block: Any, dtype: np.dtype[Any], name: str) -> Any:
    """``block`` cast to the narrower float ``dtype``; ValueError if a finite value overflows."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = block.astype(dtype)
        if np.isfinite(out.sum()):
            return out
    if (np.isinf(out) & np.isfinite(block)).any():
        raise ValueError(f"{name} has values too large for dtype {dtype}")
    return out


def lazy_inputs(X: Any, Y: Any, dtype: str) -> tuple[Any, Any]:
    """``X`` and ``Y`` as dask arrays of ``dtype``, chunked alike along the samples.

    ``X`` keeps its chunks along the samples and becomes one chunk along the features;
    ``Y`` (NumPy or dask, ``(m,)``) takes the same sample chunks.  Nothing is computed.
    A cast to a narrower float (float64 ``X`` as float32) checks each chunk as it is
    read: a finite value too large for ``dtype`` raises ``ValueError``, as the numpy
    path does, instead of turning into infinity.
    """
    import dask.array as da

    Xd = X if is_dask_array(X) else da.from_array(np.asarray(X))
    target = np.dtype(dtype)
    if Xd.dtype.kind == "f" and target.kind == "f" and Xd.dtype.itemsize > target.itemsize:
        Xd = Xd.map_blocks(_narrow, target, "X", dtype=target)
    Xd = Xd.astype(dtype).rechunk({0: -1})
    if Y is None:
        return Xd, None
    Yd = Y if is_dask_array(Y) else da.from_array(np.asarray(Y))
    Yd = Yd.reshape(-1).astype(dtype).rechunk((Xd.chunks[1],))
    return Xd, Yd


# --------------------------------------------------------------------------- Zarr
def is_vecstudy_store(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a Zarr group written by :func:`write_zarr` (its marker attribute).

    Reads only the group's metadata file (``zarr.json``): a directory, with a Zarr v3
    group whose attributes hold ``vecstudy`` (:data:`ZARR_MARKER`) with its ``layout``.
    """
    meta = Path(path) / "zarr.json"
    if not Path(path).is_dir() or Path(path).is_symlink() or not meta.is_file():
        return False
    try:
        doc = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(doc, dict) or doc.get("node_type") != "group":
        return False
    attrs = doc.get("attributes")
    marker = attrs.get(ZARR_MARKER) if isinstance(attrs, dict) else None
    return isinstance(marker, dict) and "layout" in marker


def _check_replaceable(target: Path, overwrite: bool) -> None:
    """Refuse to replace anything but a store :func:`write_zarr` wrote, and only if asked."""
    if not (target.exists() or target.is_symlink()):
        return
    if not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True (--overwrite) to replace it")
    if not is_vecstudy_store(target):
        what = (
            "a symbolic link"
            if target.is_symlink()
            else "a directory"
            if target.is_dir()
            else "a file"
        )
        raise FileExistsError(
            f"{target} exists and is {what}, not a Zarr store written by vecstudy (no "
            f"'{ZARR_MARKER}' attribute in its zarr.json); overwrite replaces only such "
            "stores: remove it yourself or choose another path"
        )


def write_zarr(
    path: str | os.PathLike[str],
    X: Any = None,
    Y: Any = None,
    *,
    shape: tuple[int, int] | None = None,
    dtype: str = "float64",
    chunk: object = DEFAULT_CHUNK,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a dataset to a Zarr group ``path`` with arrays ``X`` (n_x, m) and ``Y`` (m,).

    Either ``X`` and ``Y`` are given (NumPy arrays, memory-mapped ``.npy`` files or
    dask arrays, in the course's layout ``(n_x, m)`` and ``(1, m)`` or ``(m,)``), or
    ``shape = (n_x, m)`` asks for a synthetic, seeded dataset: ``X ~ N(0, 1)`` and
    labels drawn from a logistic model with weights ``N(0, 1/n_x)``.  Either way the
    data are written one chunk at a time (memory: a few chunks), chunks of whole
    columns of at most ``chunk`` bytes, uncompressed (random floats do not compress),
    every chunk stored (also one of zeros, which Zarr would otherwise leave out), so
    that :func:`open_zarr` can tell a missing chunk from a chunk of zeros.

    The group is written into a temporary directory beside ``path`` and renamed into
    place at the end, so an interrupted write leaves nothing half-written.  The group
    carries a ``vecstudy`` attribute (:data:`ZARR_MARKER`); an existing ``path`` is
    replaced only with ``overwrite=True`` and only when it is such a store: any other
    file or directory is refused (:class:`FileExistsError`), never deleted.

    Returns the path written.
    """
    import zarr

    target = Path(path)
    _check_replaceable(target, overwrite)
    if (X is None) != (Y is None) or (X is None) == (shape is None):
        raise ValueError("give either X and Y, or shape=(n_x, m) for a synthetic dataset")
    config.check_dtype(dtype, "argument dtype=")
    if shape is not None:
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"shape must be (n_x, m) with positive sizes; got {shape}")
        n_x, m = int(shape[0]), int(shape[1])
        dt = np.dtype(dtype)
    else:
        if len(X.shape) != 2:
            raise ValueError(f"X must be 2-D with shape (n_x, m); got shape {X.shape}")
        n_x, m = int(X.shape[0]), int(X.shape[1])
        for name, arr in (("X", X), ("Y", Y)):
            kind = np.dtype(getattr(arr, "dtype", np.float64)).kind
            if kind not in "biuf":  # complex would lose its imaginary part; text, objects
                raise TypeError(
                    f"{name} must hold real numbers; got dtype {arr.dtype} "
                    + ("(complex: the imaginary part would be dropped)" if kind == "c" else "")
                )
        ysize = int(np.prod(Y.shape))
        if ysize != m:
            raise ValueError(
                f"Y has {ysize} labels but X has {m} samples: Y must have shape (1, {m})"
            )
        dt = np.dtype(dtype)
    cols = columns_per_chunk(n_x, dt.itemsize, chunk_bytes(chunk), m)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    old: Path | None = None
    try:
        group = zarr.open_group(str(tmp), mode="w")
        every_chunk: Any = {"write_empty_chunks": True}
        zx = group.create_array(
            "X", shape=(n_x, m), chunks=(n_x, cols), dtype=dt, compressors=None, config=every_chunk
        )
        zy = group.create_array(
            "Y", shape=(m,), chunks=(cols,), dtype=dt, compressors=None, config=every_chunk
        )
        if shape is not None:
            w_true = np.random.default_rng([seed, 0]).standard_normal(n_x) / math.sqrt(n_x)
        for k, j0 in enumerate(range(0, m, cols)):
            j1 = min(m, j0 + cols)
            if shape is not None:
                rng = np.random.default_rng([seed, 1, k])
                xs = rng.standard_normal((n_x, j1 - j0))
                p = 1.0 / (1.0 + np.exp(-np.clip(w_true @ xs, -30.0, 30.0)))
                ys = (rng.random(j1 - j0) < p).astype(dt)
                xs = xs.astype(dt)
            else:
                xs = np.asarray(X[:, j0:j1], dtype=dt)
                ys = np.asarray(np.reshape(Y, (-1,))[j0:j1], dtype=dt)
            zx[:, j0:j1] = xs
            zy[j0:j1] = ys
        group.attrs[ZARR_MARKER] = {
            "layout": "X (n_x, m), one column per sample; Y (m,)",
            "synthetic_seed": seed if shape is not None else None,
        }
        if target.exists() or target.is_symlink():
            _check_replaceable(target, overwrite)  # still ours, after the long write
            old = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            os.replace(target, old / "store")
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / "store").exists() and not target.exists():
            os.replace(old / "store", target)  # put the old store back
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old)
    return target


class _ZarrSource:
    """A Zarr array as dask reads it, one chunk per read; a failed read names its chunk.

    Zarr's own errors for a damaged chunk (a codec failing on truncated bytes, ...)
    name neither the array nor the chunk; here they become :class:`DamagedStoreError`
    naming the store, the array, the chunk's key and its samples.
    """

    def __init__(self, array: Any, store: str, name: str) -> None:
        self.array = array
        self.store = store
        self.name = name
        self.shape = tuple(array.shape)
        self.dtype = array.dtype
        self.ndim = len(self.shape)
        self.chunks = tuple(array.chunks)

    def _chunk_keys(self, index: tuple[slice, ...]) -> str:
        grid = self.array.shards or self.array.chunks
        lo = [(s.start or 0) // c for s, c in zip(index, grid, strict=False)]
        hi = [
            max(a, ((s.stop or n) - 1) // c)
            for s, c, n, a in zip(index, grid, self.shape, lo, strict=False)
        ]
        first = f"{self.name}/{self.array.metadata.encode_chunk_key(tuple(lo))}"
        if lo != hi:
            return f"{first} to {self.name}/{self.array.metadata.encode_chunk_key(tuple(hi))}"
        return first

    def __getitem__(self, index: Any) -> Any:
        try:
            return self.array[index]
        except Exception as exc:
            idx = index if isinstance(index, tuple) else (index,)
            where = "?"
            with contextlib.suppress(Exception):
                where = self._chunk_keys(tuple(i for i in idx if isinstance(i, slice)))
            last = idx[-1] if idx and isinstance(idx[-1], slice) else None
            samples = "" if last is None else f", samples {last.start}:{last.stop}"
            raise DamagedStoreError(
                f"Zarr store {_bounded(self.store)}: cannot read chunk {where} of array "
                f"{self.name}{samples} (is the file damaged?): {_short(exc)}"
            ) from exc


def _bounded(text: object, limit: int = 160) -> str:
    s = str(text)
    return s if len(s) <= limit else "..." + s[-(limit - 3) :]


def _stored_files(root: Path) -> dict[str, int]:
    """Files under ``root`` (keys relative to it, ``/``-separated) and their sizes."""
    found: dict[str, int] = {}
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=True):
                stack.append(Path(entry.path))
            else:
                rel = Path(entry.path).relative_to(root).as_posix()
                found[rel] = entry.stat(follow_symlinks=True).st_size
    return found


def check_zarr_chunks(path: str | os.PathLike[str], name: str, array: Any) -> None:
    """Raise :class:`DamagedStoreError` if a chunk file of ``array`` is missing or truncated.

    Zarr reads a missing chunk as its fill value (zeros): a lost chunk of ``Y`` would
    turn labels into 0, one of ``X`` would give samples of zeros, and a fit would run
    on.  Cheap: it lists the files and compares their sizes, reading no data.  The
    size is checked where chunks are stored uncompressed (as :func:`write_zarr` does).
    """
    grid = array.shards or array.chunks
    counts = [-(-int(n) // int(c)) for n, c in zip(array.shape, grid, strict=True)]
    files = _stored_files(Path(path) / name)
    expected: int | None = None
    codecs = getattr(array.metadata, "codecs", None)
    plain = codecs is not None and len(codecs) == 1 and type(codecs[0]).__name__ == "BytesCodec"
    if array.shards is None and plain:
        expected = int(np.prod(array.chunks)) * array.dtype.itemsize
    missing: list[str] = []
    wrong: list[tuple[str, int]] = []
    total = int(np.prod(counts))
    for coords in np.ndindex(*counts):
        key = array.metadata.encode_chunk_key(coords)
        size = files.get(key)
        if size is None:
            missing.append(key)
        elif expected is not None and size != expected:
            wrong.append((key, size))
    if missing:
        raise DamagedStoreError(
            f"Zarr store {_bounded(path)}: {len(missing)} of {total} chunk files of array "
            f"{name} are missing (the first: {name}/{missing[0]}); a missing chunk would "
            "be read as zeros (the fill value). Write the store again (vecstudy to-zarr)"
        )
    if wrong:
        key, size = wrong[0]
        raise DamagedStoreError(
            f"Zarr store {_bounded(path)}: {len(wrong)} of {total} chunk files of array "
            f"{name} have the wrong size (the first: {name}/{key}, {size} bytes instead of "
            f"{expected}): truncated or damaged. Write the store again (vecstudy to-zarr)"
        )


def open_zarr(path: str | os.PathLike[str]) -> tuple[Any, Any]:
    """``(X, Y)`` of a Zarr group written by :func:`write_zarr`, as lazy dask arrays.

    No data are read: each chunk of ``X`` is read by the task that uses it.  The store
    is checked first (:func:`check_zarr_chunks`, which lists files): a chunk file that
    is missing or has the wrong size raises :class:`DamagedStoreError` naming it, and
    so does, later, a chunk that fails to decode when a task reads it.
    """
    import dask.array as da
    import zarr

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no Zarr store at {p}")
    out = []
    token = uuid.uuid4().hex
    for name in ("X", "Y"):
        try:
            array = zarr.open_array(str(p), path=name, mode="r")
        except Exception as exc:
            raise DamagedStoreError(
                f"Zarr store {_bounded(p)}: cannot open array {name}: {_short(exc)}"
            ) from None
        check_zarr_chunks(p, name, array)
        source = _ZarrSource(array, str(p), name)
        out.append(
            da.from_array(
                source,
                chunks=source.chunks,
                name=f"zarr-{name}-{token}",
                meta=np.empty((0,) * source.ndim, dtype=source.dtype),
                asarray=True,
                fancy=False,
            )
        )
    return out[0], out[1]
