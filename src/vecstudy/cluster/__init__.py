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

The package (every name is imported from ``vecstudy.cluster``):

:mod:`~vecstudy.cluster.client`
    Which cluster, connecting to it or starting it, and closing what was made.
:mod:`~vecstudy.cluster.guard`
    No local cluster from a script's unguarded top level.
:mod:`~vecstudy.cluster.lazy`
    Dask arrays as inputs of the API, and the sizes of chunks.
:mod:`~vecstudy.cluster.store`
    The Zarr store of a dataset.
"""

from __future__ import annotations

from vecstudy.cluster.client import (
    LOCAL_START_FACTOR,
    LOCAL_START_MIN,
    close,
    describe,
    get_client,
    local_cluster,
    local_start_timeout,
)
from vecstudy.cluster.guard import unguarded_main_call
from vecstudy.cluster.lazy import (
    check_lazy_X,
    check_lazy_Y,
    chunk_bytes,
    columns_per_chunk,
    is_dask_array,
    lazy_inputs,
)
from vecstudy.cluster.store import (
    DEFAULT_CHUNK,
    ZARR_MARKER,
    check_zarr_chunks,
    is_vecstudy_store,
    open_zarr,
    write_zarr,
)
from vecstudy.errors import (
    ClusterError,
    ClusterStartError,
    ClusterUnreachableError,
    DamagedStoreError,
)

__all__ = [
    "DEFAULT_CHUNK",
    "LOCAL_START_FACTOR",
    "LOCAL_START_MIN",
    "ZARR_MARKER",
    "ClusterError",
    "ClusterStartError",
    "ClusterUnreachableError",
    "DamagedStoreError",
    "check_lazy_X",
    "check_lazy_Y",
    "check_zarr_chunks",
    "chunk_bytes",
    "close",
    "columns_per_chunk",
    "describe",
    "get_client",
    "is_dask_array",
    "is_vecstudy_store",
    "lazy_inputs",
    "local_cluster",
    "local_start_timeout",
    "open_zarr",
    "unguarded_main_call",
    "write_zarr",
]
