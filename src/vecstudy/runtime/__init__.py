"""What this process runs on: its cores, thread pools and data caches, and how it is timed.

- :mod:`vecstudy.runtime.cores`: the cores this process may use;
- :mod:`vecstudy.runtime.threads`: one thread limit for Numba and the BLAS under NumPy;
- :mod:`vecstudy.runtime.caches`: the data-cache sizes the compiled kernels tile for;
- :mod:`vecstudy.runtime.announce`: the line logged before a numba kernel's first call;
- :mod:`vecstudy.runtime.timing`: the timing harness (autorange, interleaved rounds,
  medians) every measurement uses.

Below :mod:`vecstudy.config`: nothing here imports the configuration or a backend
module (the numba backend is reached through :mod:`vecstudy.registry`, once loaded).
"""
