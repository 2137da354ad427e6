"""First-call latency of the numba backend: compilation with an empty cache.

``timeraw_`` benchmarks: asv runs every sample in a fresh Python process, with
the setup (imports, data, an empty ``NUMBA_CACHE_DIR``) untimed and the first
call of one kernel timed, so that a sample is exactly one compilation.  Several
samples per commit (``repeat``) give asv a distribution to compare: one
sample cannot tell identical code from a 1.3x regression on a busy machine.
"""

from __future__ import annotations

from .common import DTYPES, load

_SETUP = """
import os, tempfile
os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="vecstudy-numba-cache-")
import numpy as np
from vecstudy import backends
nb = backends.load("numba")
rng = np.random.default_rng(0)
X = rng.standard_normal((8, 64)).astype({dtype!r})
Y = (rng.random(64) < 0.5).astype({dtype!r})
w = np.zeros(8, dtype={dtype!r})
"""


class NumbaCompile:
    """Seconds of the first call (compilation, empty cache) of each numba kernel."""

    params = (DTYPES,)
    param_names = ("dtype",)
    number = 1  # one call per process: the compiling one
    repeat = (3, 5, 120.0)  # at least 3 fresh processes per commit
    rounds = 1
    warmup_time = 0.0
    timeout = 900

    def setup(self, dtype: str) -> None:
        load("numba")  # skip (NotImplementedError) where numba is unavailable

    def timeraw_first_propagate(self, dtype: str) -> tuple[str, str]:
        return "nb.propagate(w, 0.0, X, Y)", _SETUP.format(dtype=dtype)

    def timeraw_first_optimize(self, dtype: str) -> tuple[str, str]:
        return "nb.optimize(w, 0.0, X, Y, 2, 0.01, 1)", _SETUP.format(dtype=dtype)
