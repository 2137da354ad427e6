"""The ``vecstudy`` command: thin, it parses and calls.

Subcommands
-----------
``vecstudy study``
    The main job: a sweep over a built-in grid (about two minutes), then the report.
``vecstudy bench``
    A sweep over a grid you choose; results appended to a JSON file.
``vecstudy report``
    Figures and ``report.md`` from a results file (and asv results).
``vecstudy roofline``
    Measured targets: the best time one gradient step can take here.
``vecstudy info``
    The backend in force and where it came from; machine and thread information.

Errors print one line to stderr and exit with status 2; Ctrl-C during a sweep
keeps every finished case and exits with status 130.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage dump) and exit with status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _add_sweep_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "grid and timing",
        "Defaults come from the [bench] table of the config file (vecstudy.toml, or "
        "[tool.vecstudy.bench] in pyproject.toml), then the built-in values shown.",
    )
    g.add_argument("--shapes", metavar="NxM,...", help="shapes of X, e.g. 10x1000,100x10000")
    g.add_argument("--backends", metavar="NAME,...", help="backends to time, or 'all'")
    g.add_argument("--dtypes", metavar="DTYPE,...", help="float64 and/or float32")
    g.add_argument(
        "--threads", metavar="N,...", help="thread counts (Numba and BLAS); 'all' = every core"
    )
    g.add_argument("--repeats", metavar="N", help="timings per case (each yields one row)")
    g.add_argument(
        "--min-time",
        metavar="S",
        help="seconds one timing lasts at least; sets the loop count (timeit uses 0.2)",
    )
    g.add_argument(
        "--budget",
        metavar="S",
        help="seconds a case may take; slower cases are skipped and recorded",
    )
    g.add_argument("--iterations", metavar="N", help="length of the timed optimize call")
    g.add_argument(
        "--micro",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the course's micro-studies (dot product, exp loop)",
    )
    g.add_argument("--micro-size", metavar="N", help="vector length of the micro-studies")


def _add_report_options(p: argparse.ArgumentParser) -> None:
    """``--output-dir`` and ``--asv``, shared by ``study`` and ``report``."""
    p.add_argument("--output-dir", default="reports", metavar="DIR", help="default: reports")
    p.add_argument(
        "--asv", metavar="DIR", help="also report asv results from DIR (e.g. .asv/results)"
    )


def _build_parser() -> argparse.ArgumentParser:
    from vecstudy import bench

    parser = _Parser(
        prog="vecstudy",
        description=(
            "What vectorization and compilation buy: logistic-regression gradient descent "
            "as Python loops, Numba and NumPy, measured on this machine."
        ),
        epilog="Start with 'vecstudy study'. Each subcommand has its own --help.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    s = sub.add_parser(
        "study",
        help="sweep a built-in grid (about two minutes) and write the report",
        description=(
            "Time every backend on a built-in grid of shapes, dtypes and thread settings "
            f"({bench.STUDY_DEFAULTS['shapes']}; threads {bench.STUDY_DEFAULTS['threads']}), "
            "compilation excluded, then write figures and report.md. Takes about two minutes "
            "on a 2-core machine. Starts a fresh results file in the output directory."
        ),
    )
    _add_report_options(s)
    s.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    b = sub.add_parser(
        "bench",
        help="time backends over a grid; append rows to a results file",
        description=(
            "Sweep backends x shapes x dtypes x thread settings. Each case is warmed up "
            "(compilation excluded), checked against the time budget, calibrated by autorange "
            "and timed --repeats times. Also measures read bandwidth for each size and the "
            "course's micro-studies. The results file is rewritten atomically after every "
            "case: Ctrl-C keeps every finished case."
        ),
    )
    _add_sweep_options(b)
    b.add_argument(
        "--output",
        metavar="FILE",
        help=f"results file, appended to if it exists (default: {bench.DEFAULTS['output']})",
    )
    b.add_argument(
        "--fresh", action="store_true", help="replace the results file instead of appending"
    )
    b.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    r = sub.add_parser(
        "report",
        help="figures and report.md from a results file",
        description="Write PNG and SVG figures and report.md from a 'vecstudy bench' results file.",
    )
    r.add_argument(
        "results",
        nargs="?",
        default=str(bench.DEFAULTS["output"]),
        help=f"results file (default: {bench.DEFAULTS['output']})",
    )
    _add_report_options(r)

    rf = sub.add_parser(
        "roofline",
        help="measured targets: the fastest a gradient step can be here",
        description="Measure read bandwidth and compute the best time one gradient step can take.",
    )
    rf.add_argument("--threads", metavar="N", help="thread count, or 'all' (default: leave as is)")
    rf.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    rf.add_argument(
        "--output",
        metavar="FILE",
        help="also write the table as Markdown (e.g. reports/roofline.md, which "
        "'vecstudy report' then embeds)",
    )

    sub.add_parser(
        "info",
        help="backend in force (and its source), machine and thread information",
        description="Print the backend in force, where that choice came from, and machine info.",
    )
    _add_dask_commands(sub)
    return parser


def _cmd_bench(args: argparse.Namespace) -> int:
    from vecstudy import bench

    overrides = {key: getattr(args, key, None) for key in bench.VALID_KEYS}
    options = bench.resolve_options(overrides)
    result = bench.run_sweep(options, progress=not args.no_progress, append=not args.fresh)
    print(
        f"wrote {result.rows} rows ({result.skipped} skipped cases) to {result.path}; "
        f"next: vecstudy report {shlex.quote(str(result.path))}"
    )
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from vecstudy import report

    files = report.write_report(args.results, output_dir=args.output_dir, asv_dir=args.asv)
    print(f"wrote {files.markdown} and {len(files.figures)} figure files")
    return 0


def _cmd_study(args: argparse.Namespace) -> int:
    import time

    from vecstudy import bench, report

    out = Path(args.output_dir)
    overrides = {"output": str(out / "study-results.json")}
    options = bench.resolve_options(overrides, defaults=bench.STUDY_DEFAULTS, use_file=False)
    t0 = time.perf_counter()
    result = bench.run_sweep(options, progress=not args.no_progress, append=False)
    files = report.write_report(result.path, output_dir=out, asv_dir=args.asv)
    print(
        f"study done in {time.perf_counter() - t0:.0f} s: {result.rows} rows "
        f"({result.skipped} skipped cases) in {result.path}"
    )
    print(f"report: {files.markdown}")
    return 0


def _cmd_roofline(args: argparse.Namespace) -> int:
    from vecstudy import bench

    threads = None
    if args.threads is not None:
        threads = bench.parse_threads(args.threads, "option --threads")[0]
    from vecstudy import roofline

    df = roofline.measure_targets(threads=threads, quick=args.quick)
    table = roofline.format_targets(df)
    print(table)
    if args.output is not None:
        words = ["vecstudy", "roofline", *(["--quick"] if args.quick else [])]
        words += [*(["--threads", args.threads] if args.threads else []), "--output", args.output]
        mach = bench.machine_info()
        where = f"{mach['cpu']}, {mach['cores']} cores, {mach['os']}, {mach['timestamp']}"
        text = roofline.to_markdown(table, command=shlex.join(words), machine=where)
        bench.atomic_write_text(Path(args.output), text)
        print(f"written to {args.output}")
    return 0


def _cmd_info(_args: argparse.Namespace) -> int:
    import vecstudy
    from vecstudy import backends, bench, config

    config.check_file()
    cfg = config.config_file()
    mach = bench.machine_info()
    threads = mach.pop("threads")
    print(f"vecstudy {vecstudy.__version__}")
    print(f"backend in force: {vecstudy.get_backend()}")
    print(f"available backends: {', '.join(backends.available_backends())}")
    print(f"config file: {cfg.path if cfg is not None else 'none'}")
    for key, value in mach.items():
        print(f"{key}: {value}")
    for lib in threads.get("blas", []):
        print(
            f"blas: {lib.get('library')} {lib.get('version')} ({lib.get('user_api')}), "
            f"{lib.get('threads')} threads, {lib.get('architecture')}, {lib.get('prefix')}"
        )
    if "numba_threads" in threads:
        print(
            f"numba: {threads['numba_threads']} threads, "
            f"layer {threads.get('numba_threading_layer')}"
        )
    else:
        print("numba: not imported (its threads are set when a sweep uses it)")
    if "error" in threads:
        print(f"thread info unavailable: {threads['error']}")
    _print_dask_info()
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "bench": _cmd_bench,
    "report": _cmd_report,
    "study": _cmd_study,
    "roofline": _cmd_roofline,
    "info": _cmd_info,
}


# --------------------------------------------------------------------------- dask
def _add_dask_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    z = sub.add_parser(
        "to-zarr",
        help="write a synthetic dataset, or X and Y from .npy files, to a Zarr store",
        description=(
            "Write X (n_x, m) and Y (m,) to a Zarr group in chunks of whole columns, one "
            "chunk at a time, into a temporary directory renamed into place at the end. "
            "The dask backend reads such a store chunk by chunk "
            "(vecstudy.distributed.open_zarr)."
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
    z.add_argument("--overwrite", action="store_true", help="replace an existing store")

    d = sub.add_parser(
        "dask-study",
        help="the dask backend against numba, numpy and dask-glm (several minutes)",
        description=(
            "Per-iteration time at 80 MB and 800 MB (numba, numpy, the dask backend on a "
            "local cluster, dask-glm's gradient_descent), per-step overhead at small sizes, "
            "and an out-of-core fit from Zarr at 4x the workers' memory limit. Writes "
            "dask-study.json, dask-study.md and dask-study.png/.svg. Needs "
            "vecstudy[dask-ml] for the dask-glm rows (skipped without it)."
        ),
    )
    d.add_argument("--output-dir", default="reports", help="where to write (default: reports)")
    d.add_argument("--sizes", default="80,800", help="MB of X for the in-memory rows")
    d.add_argument("--iterations", type=int, default=10, help="iterations per timing")
    d.add_argument("--rounds", type=int, default=3, help="interleaved timings per contender")
    d.add_argument(
        "--worker-memory", default="400 MiB", help="memory limit per worker, out-of-core run"
    )
    d.add_argument(
        "--ooc-iterations", type=int, default=3, help="out-of-core iterations (0: skip it)"
    )


def _print_dask_info() -> None:
    from vecstudy import distributed

    print(f"dask cluster: {distributed.describe()}")


def _cmd_to_zarr(args: argparse.Namespace) -> int:
    import numpy as np

    from vecstudy import bench, distributed

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
        path = distributed.write_zarr(
            args.output, X, Y, dtype=args.dtype, chunk=args.chunk, overwrite=args.overwrite
        )
    Xz, _ = distributed.open_zarr(path)
    print(f"wrote {path}: X {Xz.shape} {Xz.dtype} in chunks of {Xz.chunks[1][0]} samples")
    return 0


def _cmd_dask_study(args: argparse.Namespace) -> int:
    from vecstudy import dask_study

    try:
        sizes = tuple(int(s) for s in args.sizes.split(","))
    except ValueError:
        raise ValueError(
            f"--sizes must be MB as integers, e.g. 80,800; got {args.sizes!r}"
        ) from None
    paths = dask_study.run(
        args.output_dir,
        sizes_mb=sizes,
        iterations=args.iterations,
        rounds=args.rounds,
        worker_memory=args.worker_memory,
        ooc_iterations=args.ooc_iterations,
    )
    print(f"report: {paths['markdown']}; figure: {paths['figure']}; results: {paths['json']}")
    return 0


_COMMANDS["to-zarr"] = _cmd_to_zarr
_COMMANDS["dask-study"] = _cmd_dask_study


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``vecstudy`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    from vecstudy.bench import SweepInterrupted

    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except SweepInterrupted as exc:
        print(
            f"vecstudy {args.command}: interrupted; kept {exc.rows_kept} rows of this run "
            f"({exc.total_rows} in all) in {exc.path}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print(f"vecstudy {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, OSError, ImportError) as exc:
        print(f"vecstudy {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, FileNotFoundError) and exc.filename:
        text = f"no such file: {exc.filename}"
    return text or type(exc).__name__


def _run() -> NoReturn:  # pragma: no cover - exercised through python -m vecstudy
    sys.exit(main())
