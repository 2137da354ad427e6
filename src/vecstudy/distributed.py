"""The Dask side of vecstudy: which cluster, data in Zarr, and lazy inputs for the API.

Which cluster (:func:`get_client`), the first that applies:

1. a Dask client already active in this process (``distributed.Client(...)`` made by
   the user, or ``with Client(...):``) is used as it is;
2. the scheduler address of the config: ``VECSTUDY_DASK_ADDRESS``, else ``[dask]
   address`` in the config file; one client per address and process, closed at exit.
   An address that cannot be reached raises :class:`ClusterUnreachableError` after
   ``[dask] timeout`` seconds (10 by default);
3. else one ``LocalCluster`` per process, started on first use: one worker process
   per core, one thread each, no dashboard; closed at exit.

Data (:func:`write_zarr`, :func:`open_zarr`): a Zarr group holding ``X`` with shape
``(n_x, m)`` (the course's layout, one column per sample) in chunks of whole columns,
``(n_x, c)``, and ``Y`` with shape ``(m,)`` in chunks of ``c`` labels.  A step of the
dask backend reads one chunk per task, so ``c`` sets both the task size and the
memory a worker needs (``n_x * c * itemsize`` bytes, 128 MiB by default, as
dask.array's own default chunk size).
"""

from __future__ import annotations

import atexit
import math
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vecstudy import config

#: Chunk of a synthetic or converted dataset when none is asked for.
DEFAULT_CHUNK = "128 MiB"


class ClusterUnreachableError(ConnectionError):
    """The configured Dask scheduler could not be reached in time."""


class ClusterError(RuntimeError):
    """The cluster failed in the middle of a computation (for example it lost every worker)."""


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
    key = "local" if address is None else str(address)
    with _lock:
        known = _clients.get(key)
        if known is not None and known.client.status == "running":
            return known.client, known.description
        if address is None:
            made = _start_local()
        else:
            made = _connect(str(address), settings["address"].source, settings["timeout"].value)
        _clients[key] = made
    return made.client, made.description


def _connect(address: str, source: str, timeout: float) -> _Embedded:
    from distributed import Client

    try:
        client = Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterUnreachableError(
            f"cannot reach the Dask scheduler at {address!r} (from {source}) within "
            f"{timeout:g} s: {' '.join(str(exc).split())[:200]}"
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


def _start_local() -> _Embedded:
    from distributed import Client

    workers = config.available_cores()
    cluster = local_cluster(n_workers=workers, processes=True)
    client = Client(cluster, set_as_default=False)
    atexit.register(_close, client, cluster)
    return _Embedded(client, cluster, f"local cluster, {workers} workers x 1 thread (started)")


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
    ``X``); a non-finite value makes ``z`` non-finite, which the kernels report and
    the API turns into an error.
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


def lazy_inputs(X: Any, Y: Any, dtype: str) -> tuple[Any, Any]:
    """``X`` and ``Y`` as dask arrays of ``dtype``, chunked alike along the samples.

    ``X`` keeps its chunks along the samples and becomes one chunk along the features;
    ``Y`` (NumPy or dask, ``(m,)``) takes the same sample chunks.  Nothing is computed.
    """
    import dask.array as da

    Xd = X if is_dask_array(X) else da.from_array(np.asarray(X))
    Xd = Xd.astype(dtype).rechunk({0: -1})
    if Y is None:
        return Xd, None
    Yd = Y if is_dask_array(Y) else da.from_array(np.asarray(Y))
    Yd = Yd.reshape(-1).astype(dtype).rechunk((Xd.chunks[1],))
    return Xd, Yd


# --------------------------------------------------------------------------- Zarr
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
    columns of at most ``chunk`` bytes, uncompressed (random floats do not compress).

    The group is written into a temporary directory beside ``path`` and renamed into
    place at the end, so an interrupted write leaves nothing half-written; an
    existing ``path`` is replaced only with ``overwrite=True``.

    Returns the path written.
    """
    import zarr

    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True (--overwrite) to replace it")
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
        ysize = int(np.prod(Y.shape))
        if ysize != m:
            raise ValueError(
                f"Y has {ysize} labels but X has {m} samples: Y must have shape (1, {m})"
            )
        dt = np.dtype(dtype)
    cols = columns_per_chunk(n_x, dt.itemsize, chunk_bytes(chunk), m)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        group = zarr.open_group(str(tmp), mode="w")
        zx = group.create_array("X", shape=(n_x, m), chunks=(n_x, cols), dtype=dt, compressors=None)
        zy = group.create_array("Y", shape=(m,), chunks=(cols,), dtype=dt, compressors=None)
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
        group.attrs["vecstudy"] = {
            "layout": "X (n_x, m), one column per sample; Y (m,)",
            "synthetic_seed": seed if shape is not None else None,
        }
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def open_zarr(path: str | os.PathLike[str]) -> tuple[Any, Any]:
    """``(X, Y)`` of a Zarr group written by :func:`write_zarr`, as lazy dask arrays.

    Nothing is read: each chunk of ``X`` is read by the task that uses it.
    """
    import dask.array as da

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no Zarr store at {p}")
    return da.from_zarr(str(p), component="X"), da.from_zarr(str(p), component="Y")
