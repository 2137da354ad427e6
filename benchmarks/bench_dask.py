"""The dask backend: one step over chunks already on the workers, and dask's own floor.

The kernel benchmarks (``bench_kernels.py``) include the dask backend through the
registry; there each ``optimize`` call places the data on the workers first.  Here
the data are placed once in ``setup`` (as ``optimize`` does once per call), so that
``time_step`` is the per-iteration cost: one task per chunk and the update.
``time_noop_round_trip`` is the scheduler's floor on this machine: one no-op task per
worker, submitted and gathered.

The cluster is a ``LocalCluster`` of one worker process per core, one thread each,
started in ``setup`` and closed in ``teardown``.
"""

from __future__ import annotations

from typing import Any

from .common import DTYPES, problem

SHAPES = ["10x1000", "100x100000"]
CHUNKS = [1, 4]


def _noop(i: int) -> int:
    return i


class DaskStep:
    """One gradient step of the dask backend, data persisted, ``chunks`` tasks."""

    params = (SHAPES, CHUNKS, DTYPES[:1])
    param_names = ("shape", "chunks", "dtype")
    timeout = 180

    def setup(self, shape: str, chunks: int, dtype: str) -> None:
        try:
            from distributed import Client

            from vecstudy import cluster, config
            from vecstudy.backends import dask as dk
        except ImportError as exc:  # the dask extra is not installed: asv skips
            raise NotImplementedError(str(exc)) from exc
        self.cluster: Any = cluster.local_cluster(
            n_workers=config.available_cores(), processes=True
        )
        self.client = Client(self.cluster)
        self.w, self.b, self.X, self.Y = problem(shape, dtype)
        chunk = -(-self.X.shape[1] // chunks) * self.X.shape[0] * self.X.itemsize
        self.data = dk.Chunks(self.X, self.Y, chunk=chunk)
        self.dk = dk
        self.data.sums(self.w, self.b, False)  # warm: numba loaded on the workers

    def teardown(self, shape: str, chunks: int, dtype: str) -> None:
        if hasattr(self, "data"):
            self.data.release()
            self.client.close()
            self.cluster.close()

    def time_step(self, shape: str, chunks: int, dtype: str) -> None:
        self.dk.descend(self.data, self.w, self.b, 1, 0.005, 10**9)

    def time_noop_round_trip(self, shape: str, chunks: int, dtype: str) -> None:
        self.client.gather(self.client.map(_noop, range(chunks), pure=False))
