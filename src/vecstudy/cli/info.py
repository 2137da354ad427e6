"""``vecstudy info``: the settings in force (each with its source), checked; the machine."""

from __future__ import annotations

import argparse
import os

from vecstudy.cli._common import Subparsers


def add_parser(sub: Subparsers) -> None:
    """The parser of ``info``."""
    sub.add_parser(
        "info",
        help="backend, dtype and threads in force (and their sources), machine information",
        description="Print the backend, dtype and threads in force, where each came from, "
        "the config file, and machine and thread information; check every setting.",
    )


def _settings_in_force() -> list[str]:
    """Backend, dtype and threads in force, each with its source; raises on a bad one.

    Every setting any command reads is checked first, as that command would check
    it: the environment variables and every key of the config file (``[bench]`` and
    ``[dask]`` included), and ``VECSTUDY_CACHE_SIZES``.
    """
    from vecstudy import config
    from vecstudy.runtime import caches
    from vecstudy.study import options

    config.check_settings()
    options.resolve_options()
    # read the variable now, as a fresh process would (cache_sizes keeps its first answer)
    getattr(caches.cache_sizes, "__wrapped__", caches.cache_sizes)()
    backend = config.resolve_backend(None)
    dtype = config.resolve_dtype(None, None)
    threads = config.resolve_threads(None)
    if dtype.source == "default":
        dtype_text = "float64, or float32 for float32 input (from default)"
    else:
        dtype_text = str(dtype)
    if threads.value is None:
        threads_text = "not limited: the libraries' own settings (from default)"
    else:
        threads_text = str(threads)
        cores = config.available_cores()
        if threads.value > cores:
            threads_text += f"; runs {cores}, the cores available"
        numba_cap = os.environ.get("NUMBA_NUM_THREADS", "").strip()
        if numba_cap.isdigit() and int(numba_cap) < min(threads.value, cores):
            threads_text += f"; numba runs {int(numba_cap)} (NUMBA_NUM_THREADS)"
    cfg = config.config_file()
    return [
        f"backend in force: {backend}",
        f"dtype in force: {dtype_text}",
        f"threads in force: {threads_text}",
        f"numba plan tuning: {config.resolve_tune(None)}",
        f"config file: {cfg.path if cfg is not None else 'none'}",
    ]


def run(_args: argparse.Namespace) -> int:
    from vecstudy import backends
    from vecstudy._version import __version__
    from vecstudy.records import machine as bench

    settings = _settings_in_force()  # checked before anything is printed
    mach = bench.machine_info()
    threads = mach.pop("threads")
    print(f"vecstudy {__version__}")
    for line in settings:
        print(line)
    from vecstudy.study.options import missing_backends

    missing = missing_backends()
    gone = {name for name, _ in missing}
    names = [n for n in backends.available_backends() if n not in gone]
    print(f"available backends: {', '.join(names)}")
    if missing:
        print("not installed: " + ", ".join(f"{n} (pip install '.[{e}]')" for n, e in missing))
    for key, value in mach.items():
        print(f"{key}: {'unknown' if value is None else value}")
    for lib in threads.get("blas", []):
        print(
            f"blas: {lib.get('library')} {lib.get('version')} ({lib.get('user_api')}), "
            f"{lib.get('threads')} threads, {lib.get('architecture')}, {lib.get('prefix')}"
        )
    if "numba_threads" in threads:
        print(
            f"numba threads: {threads['numba_threads']}, "
            f"layer {threads.get('numba_threading_layer')}"
        )
    else:
        print("numba threads: numba not imported (set when a sweep uses it)")
    if "error" in threads:
        print(f"thread info unavailable: {threads['error']}")
    _print_dask_info()
    return 0


def _print_dask_info() -> None:
    from vecstudy import cluster as distributed

    print(f"dask cluster: {distributed.describe()}")
