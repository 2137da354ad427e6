"""Which Dask cluster to run on: the active client, a scheduler's address, or a local cluster.

:func:`get_client` gives the first that applies (see :mod:`vecstudy.cluster`); the
clients and local clusters made here are closed at exit or by :func:`close`;
:func:`describe` says which one would be used, starting nothing.  A failed connection
raises :class:`ClusterUnreachableError` within ``[dask] timeout`` seconds; a local
cluster that fails to start twice raises :class:`ClusterStartError`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

from vecstudy import config
from vecstudy.cluster.guard import refuse_spawned_start
from vecstudy.errors import ClusterStartError, ClusterUnreachableError
from vecstudy.escape import error_line

logger = logging.getLogger("vecstudy")

#: Least time given to starting the embedded local cluster, in seconds (see
#: :func:`local_start_timeout`): worker processes import numpy, dask and numba, which
#: on a cold, loaded machine takes far longer than the usual second or two.
LOCAL_START_MIN = 60.0
#: The local start may take this many times ``[dask] timeout`` when that is longer.
LOCAL_START_FACTOR = 6.0


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
        why = error_line(exc)
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
    refuse_spawned_start()
    workers = config.available_cores()
    start_timeout = local_start_timeout(timeout)
    failures: list[str] = []
    for attempt in (1, 2):
        try:
            cluster, client = _start_local_once(workers, start_timeout)
        except Exception as exc:
            failures.append(error_line(exc, 160))
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
