"""First-call latency of the numba backend: compilation with an empty cache.

Each sample runs a fresh Python process with ``NUMBA_CACHE_DIR`` pointing to a
new empty directory, imports the backend (not timed) and times the first call of
one kernel (``propagate`` or ``optimize``) on a small problem, which compiles it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from .common import DTYPES, load

_SCRIPT = """
import time
import numpy as np
from vecstudy import backends
nb = backends.load("numba")
rng = np.random.default_rng(0)
X = rng.standard_normal((8, 64)).astype({dtype!r})
Y = (rng.random(64) < 0.5).astype({dtype!r})
w = np.zeros(8, dtype={dtype!r})
t0 = time.perf_counter()
if {kernel!r} == "propagate":
    nb.propagate(w, 0.0, X, Y)
else:
    nb.optimize(w, 0.0, X, Y, 2, 0.01, 1)
print(time.perf_counter() - t0)
"""


def first_call(kernel: str, dtype: str) -> float:
    """Seconds of the first ``kernel`` call in a fresh process with an empty Numba cache."""
    with tempfile.TemporaryDirectory(prefix="vecstudy-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = subprocess.run(
            [sys.executable, "-c", _SCRIPT.format(kernel=kernel, dtype=dtype)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
    return float(out.stdout.strip().splitlines()[-1])


class NumbaFirstCall:
    """Seconds of the first call (compilation, empty cache) of each numba kernel."""

    params = (DTYPES,)
    param_names = ("dtype",)
    unit = "seconds"
    timeout = 600
    repeat = 1
    number = 1
    rounds = 1

    def setup(self, dtype: str) -> None:
        load("numba")  # skip (NotImplementedError) where numba is unavailable

    def track_first_propagate(self, dtype: str) -> float:
        return first_call("propagate", dtype)

    track_first_propagate.unit = "seconds"  # type: ignore[attr-defined]

    def track_first_optimize(self, dtype: str) -> float:
        return first_call("optimize", dtype)

    track_first_optimize.unit = "seconds"  # type: ignore[attr-defined]
