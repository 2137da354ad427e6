"""``vecstudy to-zarr`` and ``dask-study``: data for the dask backend, and its study."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from vecstudy.cli._common import EXIT_INTERRUPTED, Subparsers


def add_parsers(sub: Subparsers) -> None:
    """The parsers of ``to-zarr`` and ``dask-study``."""
    z = sub.add_parser(
        "to-zarr",
        help="write a synthetic dataset, or X and Y from .npy files, to a Zarr store",
        description=(
            "Write X (n_x, m) and Y (m,) to a Zarr group in chunks of whole columns, one "
            "chunk at a time, into a temporary directory renamed into place at the end. "
            "The dask backend reads such a store chunk by chunk "
            "(vecstudy.cluster.open_zarr)."
        ),
    )
    z.add_argument("output", help="the Zarr store to write (a directory)")
    src = z.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--synthetic", metavar="N_XxM", help="seeded synthetic data of this shape, e.g. 100x1000000"
    )
    src.add_argument("--X", dest="x_file", metavar="X.npy", help="X, shape (n_x, m), from .npy")
    z.add_argument("--Y", dest="y_file", metavar="Y.npy", help="labels, shape (1, m) or (m,)")
    z.add_argument("--chunk", default="128 MiB", help="bytes per chunk (default: 128 MiB)")
    z.add_argument("--dtype", default="float64", help="float64 (default) or float32")
    z.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    z.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing store written by vecstudy (nothing else is replaced)",
    )

    d = sub.add_parser(
        "dask-study",
        help="the dask backend against numba, numpy and dask-glm (several minutes)",
        description=(
            "Per-iteration time at 80 MB and 800 MB (numba, numpy, the dask backend on a "
            "local cluster, dask-glm's gradient_descent), per-step overhead at small sizes, "
            "and an out-of-core fit from Zarr at 4x the workers' memory limit. Writes "
            "dask-study.json, dask-study.md and dask-study.png/.svg. Needs "
            "vecstudy[dask-ml] for the dask-glm rows (skipped without it): "
            "pip install 'vecstudy[dask-ml]', or from a clone: pip install '.[dask-ml]'."
        ),
    )
    d.add_argument(
        "--output-dir",
        default="reports/runs/dask-study",
        help="where to write (default: reports/runs/dask-study; the committed reference "
        "run is reports/dask-study.md)",
    )
    d.add_argument("--sizes", default="80,800", help="MB of X for the in-memory rows")
    d.add_argument("--iterations", type=int, default=10, help="iterations per timing")
    d.add_argument("--rounds", type=int, default=3, help="interleaved timings per contender")
    d.add_argument(
        "--worker-memory", default="400 MiB", help="memory limit per worker, out-of-core run"
    )
    d.add_argument(
        "--ooc-iterations", type=int, default=3, help="out-of-core iterations (0: skip it)"
    )


def _cmd_to_zarr(args: argparse.Namespace) -> int:
    import numpy as np

    from vecstudy import cluster as distributed
    from vecstudy.study import options as bench

    if args.synthetic is not None:
        n_x, m = bench.parse_shapes(args.synthetic, "option --synthetic")[0]
        path = distributed.write_zarr(
            args.output,
            shape=(n_x, m),
            dtype=args.dtype,
            chunk=args.chunk,
            seed=args.seed,
            overwrite=args.overwrite,
        )
    else:
        if args.y_file is None:
            raise ValueError("--X needs --Y (the labels)")
        X = np.load(args.x_file, mmap_mode="r")
        Y = np.load(args.y_file, mmap_mode="r")
        try:
            path = distributed.write_zarr(
                args.output, X, Y, dtype=args.dtype, chunk=args.chunk, overwrite=args.overwrite
            )
        except TypeError as exc:  # a complex or text array in the file: bad input, not a bug
            raise ValueError(f"to-zarr: {exc}") from None
    Xz, _ = distributed.open_zarr(path)
    print(f"wrote {path}: X {Xz.shape} {Xz.dtype} in chunks of {Xz.chunks[1][0]} samples")
    return 0


def _cmd_dask_study(args: argparse.Namespace) -> int:
    from vecstudy.study import dask_study

    try:
        sizes = tuple(int(s) for s in args.sizes.split(","))
    except ValueError:
        raise ValueError(
            f"--sizes must be MB as integers, e.g. 80,800; got {args.sizes!r}"
        ) from None
    try:
        paths = dask_study.run(
            args.output_dir,
            sizes_mb=sizes,
            iterations=args.iterations,
            rounds=args.rounds,
            worker_memory=args.worker_memory,
            ooc_iterations=args.ooc_iterations,
        )
    except dask_study.StudyInterrupted as exc:  # Ctrl-C or SIGTERM; temporary data removed
        kept = (
            f"kept {exc.rows_kept} finished measurements, marked interrupted, in "
            f"{exc.paths['json']}"
            if exc.paths
            else "no measurement had finished; nothing written"
        )
        print(f"vecstudy dask-study: interrupted ({exc.signal_name}); {kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"report: {paths['markdown']}; figure: {paths['figure']}; results: {paths['json']}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "to-zarr": _cmd_to_zarr,
    "dask-study": _cmd_dask_study,
}
