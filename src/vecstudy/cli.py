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
    The backend, dtype and threads in force, each with where it came from, and the
    config file; machine and thread information.  A bad setting exits with status 2.
``vecstudy tune``
    Time the numba backend's candidate plans on this machine and keep the winners.
``vecstudy train``
    Train logistic regression on a CSV, Parquet or NPZ file with each chosen backend:
    accuracy table, cost curves, model as JSON.

Errors print one line to stderr and exit with status 2; Ctrl-C during a sweep
keeps every finished case and exits with status 130 (SIGTERM during ``bench``,
``study``, ``report``, ``compare`` or ``roofline`` does the same, with status 143); a
reader that leaves early (``vecstudy info | head -1``) ends the command quietly with
status 141.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a command whose reader left


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage dump) and exit with status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _add_sweep_options(p: argparse.ArgumentParser) -> None:
    from vecstudy.study.options import DEFAULTS, HELP

    g = p.add_argument_group(
        "grid and timing",
        "Defaults come from the [bench] table of the config file (vecstudy.toml, or "
        "[tool.vecstudy.bench] in pyproject.toml), then the built-in values shown "
        "(the same as 'vecstudy study').",
    )
    metavars = {
        "shapes": "NxM,...",
        "backends": "NAME,...",
        "dtypes": "DTYPE,...",
        "threads": "N,...",
        "repeats": "N",
        "min_time": "S",
        "budget": "S",
        "iterations": "N",
        "micro_size": "N",
    }
    for key, metavar in metavars.items():
        g.add_argument(
            "--" + key.replace("_", "-"),
            metavar=metavar,
            help=f"{HELP[key]} (default: {DEFAULTS[key]})",
        )
    g.add_argument(
        "--micro",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"{HELP['micro']} (default: {'yes' if DEFAULTS['micro'] else 'no'})",
    )


def _add_report_options(p: argparse.ArgumentParser, default_dir: str) -> None:
    """``--output-dir`` and ``--asv``, shared by ``study`` and ``report``."""
    p.add_argument("--output-dir", metavar="DIR", help=f"default: {default_dir}")
    p.add_argument(
        "--asv", metavar="DIR", help="also report asv results from DIR (e.g. .asv/results)"
    )


def _version() -> str:
    from vecstudy._version import __version__

    return __version__


def _build_parser() -> argparse.ArgumentParser:
    from vecstudy.study import options as bench

    parser = _Parser(
        prog="vecstudy",
        description=(
            "What vectorization and compilation buy: logistic-regression gradient descent "
            "as Python loops, Numba and NumPy, measured on this machine."
        ),
        epilog="Start with 'vecstudy study'. Each subcommand has its own --help.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {_version()}", help="print the version"
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
            "on a 2-core machine. Writes a fresh results file and the report into a new "
            "directory of its own (never over the committed reference in reports/)."
        ),
    )
    _add_report_options(s, "reports/runs/<UTC date-time>/")
    s.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    b = sub.add_parser(
        "bench",
        help="time backends over a grid; append rows to a results file",
        description=(
            "Sweep backends x shapes x dtypes x thread settings. Each case is warmed up "
            "on a small problem (compilation excluded), estimated and checked against the "
            "time budget before its first full call, and calibrated by autorange; the cases "
            "of a shape are then timed in --repeats interleaved rounds. Also measures read "
            "bandwidth for each size and the course's micro-studies. Every raw timing is "
            "kept; the results file is saved (locked, atomically) after every round: "
            "Ctrl-C keeps every finished timing and exits with status 130 (SIGTERM: the "
            "same, status 143)."
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
    _add_report_options(r, "the results file's directory")
    r.add_argument("--note", metavar="TEXT", help="a line shown at the top of report.md")

    c = sub.add_parser(
        "compare",
        help="compare two results files case by case; exit 1 if any is significantly worse",
        description=(
            "Compare the latest run of NEW with the latest run of BASE, case by case: "
            "ratio of medians with its 95% bootstrap interval, Mann-Whitney U test. A "
            "case is worse when p < --alpha and both the whole interval and the ratio of "
            "the minimums lie above --factor. "
            "Writes compare.md and compare.png; exits with status 1 when any case is "
            "worse (a CI gate), and warns when the two machines differ."
        ),
    )
    c.add_argument("base", help="results file of the baseline")
    c.add_argument("new", help="results file to judge")
    c.add_argument(
        "--factor",
        type=float,
        default=1.25,
        help="default: 1.25 (asv's 1.1 suits a quiet, dedicated machine)",
    )
    c.add_argument("--alpha", type=float, default=0.05, help="significance level (default: 0.05)")
    c.add_argument(
        "--output-dir", metavar="DIR", help="where compare.md goes (default: NEW's directory)"
    )

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

    _add_train_parser(sub)
    _add_tune_parser(sub)

    sub.add_parser(
        "info",
        help="backend, dtype and threads in force (and their sources), machine information",
        description="Print the backend, dtype and threads in force, where each came from, "
        "the config file, and machine and thread information; check every setting.",
    )
    _add_dask_commands(sub)
    return parser


def _cmd_bench(args: argparse.Namespace) -> int:
    from vecstudy.study import options as opts
    from vecstudy.study.sweep import run_sweep

    overrides = {key: getattr(args, key, None) for key in opts.VALID_KEYS}
    options = opts.resolve_options(overrides)
    result = run_sweep(options, progress=not args.no_progress, append=not args.fresh)
    print(
        f"wrote {result.rows} rows ({result.skipped} skipped cases) to {result.path}; "
        f"next: vecstudy report {shlex.quote(str(result.path))}"
    )
    return 0


def _print_report(files: object) -> None:
    from vecstudy.escape import plain

    for line in getattr(files, "headline", ()):
        print(line)
    for line in getattr(files, "incomplete", ()):
        print(f"warning: incomplete: {plain(line, 200)}", file=sys.stderr)


def _is_reference_report(path: Path) -> bool:
    """Whether ``path`` is a report.md whose note marks it as the committed reference."""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            head = [f.readline() for _ in range(5)]
    except OSError:
        return False
    return any(line.startswith("> Reference report") for line in head)


def _cmd_report(args: argparse.Namespace) -> int:
    from vecstudy import report

    out = args.output_dir or str(Path(args.results).parent)
    if args.output_dir is None and _is_reference_report(Path(out) / "report.md"):
        raise ValueError(
            f"{Path(out) / 'report.md'} is the committed reference report; pass --output-dir DIR "
            "to write this report elsewhere (to regenerate the reference, the command at its "
            "end names --output-dir and its --note)"
        )
    files = report.write_report(args.results, output_dir=out, asv_dir=args.asv, note=args.note)
    _print_report(files)
    print(f"wrote {files.markdown} and {len(files.figures)} figure files")
    return 0


def _default_run_dir() -> Path:
    """A new directory ``reports/runs/<UTC date-time>``, created here so that two studies
    started in the same second get one each (``-2``, ``-3``, ... on the second)."""
    import datetime as dt

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    runs = Path("reports") / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    for k in range(1, 1000):
        path = runs / (stamp if k == 1 else f"{stamp}-{k}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{runs / stamp}: too many runs started in this second")


def _cmd_study(args: argparse.Namespace) -> int:
    import time

    from vecstudy.study.face import study

    out = Path(args.output_dir) if args.output_dir else _default_run_dir()
    t0 = time.perf_counter()
    done = study(output_dir=out, asv_dir=args.asv, progress=not args.no_progress)
    result, files = done.sweep, done.report
    assert files is not None  # given output_dir, the study writes its report
    _print_report(files)
    print(
        f"study done in {time.perf_counter() - t0:.0f} s: {result.rows} rows "
        f"({result.skipped} skipped cases) in {result.path}"
    )
    print(f"report: {files.markdown}")
    return 0


def _check_output_dir(args: argparse.Namespace) -> None:
    """Refuse an ``--output-dir`` that is (or lies under) a file, before any work is done."""
    value = getattr(args, "output_dir", None)
    if value is None:
        return
    out = Path(value)
    for parent in (out, *out.parents):
        if parent.exists() and not parent.is_dir():
            raise ValueError(f"--output-dir {str(out)!r}: {str(parent)!r} is not a directory")


def _cmd_compare(args: argparse.Namespace) -> int:
    from vecstudy.escape import plain
    from vecstudy.study.compare import compare_files, write_comparison

    cmp = compare_files(args.base, args.new, factor=args.factor, alpha=args.alpha)
    for w in cmp.warnings:
        print(f"vecstudy compare: warning: {plain(w, 400)}", file=sys.stderr)
    out = args.output_dir or str(Path(args.new).parent)
    paths = write_comparison(cmp, out)
    counts = cmp.cases["verdict"].value_counts()
    print(
        f"{counts.get('worse', 0)} worse, {counts.get('better', 0)} better, "
        f"{counts.get('unchanged', 0)} unchanged (factor {args.factor:g}, alpha {args.alpha:g}); "
        f"{counts.get('machine', 0)} read-bandwidth probes not judged"
    )
    for _, r in cmp.worse.iterrows():
        case = " ".join(plain(r[k], 40) for k in ("operation", "backend"))
        print(
            f"  worse: {case} {r['n_x']}x{r['m']} {plain(r['dtype'], 20)} "
            f"t{r['threads']}: {r['ratio']:.3g}x [{r['low']:.3g}-{r['high']:.3g}], p={r['p']:.2g}"
        )
    print(f"wrote {paths[0]}")
    return 1 if not cmp.worse.empty else 0


def _cmd_roofline(args: argparse.Namespace) -> int:
    from vecstudy.records.machine import machine_info
    from vecstudy.records.results import atomic_write_text
    from vecstudy.study.options import parse_threads

    threads = None
    if args.threads is not None:
        threads = parse_threads(args.threads, "option --threads")[0]
    from vecstudy.study import roofline

    df = roofline.measure_targets(threads=threads, quick=args.quick)
    table = roofline.format_targets(df)
    print(table)
    if args.output is not None:
        words = ["vecstudy", "roofline", *(["--quick"] if args.quick else [])]
        words += [*(["--threads", args.threads] if args.threads else []), "--output", args.output]
        mach = machine_info()
        where = f"{mach['cpu']}, {mach['cores']} cores, {mach['os']}, {mach['timestamp']}"
        text = roofline.to_markdown(table, command=shlex.join(words), machine=where)
        atomic_write_text(Path(args.output), text)
        print(f"written to {args.output}")
    return 0


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


def _cmd_info(_args: argparse.Namespace) -> int:
    import vecstudy
    from vecstudy import backends
    from vecstudy.records import machine as bench

    settings = _settings_in_force()  # checked before anything is printed
    mach = bench.machine_info()
    threads = mach.pop("threads")
    print(f"vecstudy {vecstudy.__version__}")
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


# --------------------------------------------------------------------------- tune
def _add_tune_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    t = sub.add_parser(
        "tune",
        help="time the numba backend's plans here and keep the winners (its wisdom)",
        description=(
            "For each shape, dtype and order, time the numba backend's candidate walks "
            "over X (the cache model's plan, its tiles and panels halved and doubled, the "
            "other walk; each serial and parallel at each thread count) in interleaved "
            "rounds, and store the winner in the wisdom file, which the backend then uses "
            "(setting [numba] tune, VECSTUDY_TUNE). The file is written after every shape: "
            "Ctrl-C keeps every finished one. Timings on a busy machine are noisy."
        ),
    )
    t.add_argument(
        "--shapes",
        metavar="NxM,...",
        help="default: the roofline grid's shapes with X up to 70 MB in float64",
    )
    t.add_argument("--dtype", metavar="DTYPE,...", default="float64", help="default: float64")
    t.add_argument("--order", metavar="C,F", default="C,F", help="default: C,F")
    t.add_argument("--threads", metavar="N,...", default="1,all", help="default: 1,all")
    t.add_argument(
        "--budget", metavar="S", default="1", help="seconds per shape, dtype and order (default: 1)"
    )
    t.add_argument("--show", action="store_true", help="print the stored plans and exit")
    t.add_argument("--clear", action="store_true", help="remove this machine's stored plans")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _cmd_tune(args: argparse.Namespace) -> int:
    import signal

    from tqdm import tqdm

    from vecstudy.backends.numba import tuning
    from vecstudy.study import options as opts

    if args.clear:
        path, n = tuning.clear()
        print(f"removed {n} stored plans of this machine from {path}")
        return 0
    if args.show:
        path = tuning.wisdom_path()
        stored = tuning.stored_entries()
        print(f"wisdom file: {path} ({len(stored)} shapes for this machine)")
        if stored:
            print(tuning.format_table(stored))
        return 0
    shapes = (
        opts.parse_shapes(args.shapes, "option --shapes")
        if args.shapes
        else tuning.default_shapes()
    )
    dtypes = opts.parse_dtypes(args.dtype, "option --dtype")
    orders = [o.strip().upper() for o in args.order.split(",")]
    if not orders or any(o not in ("C", "F") for o in orders):
        raise ValueError(f"option --order: expected C, F or C,F; got {args.order[:40]!r}")
    threads = list(opts.parse_threads(args.threads, "option --threads"))
    budget = opts._parse_float(args.budget, "option --budget")
    if not args.shapes:
        print(f"shapes: {', '.join(f'{a}x{b}' for a, b in shapes)} (the roofline grid up to 70 MB)")
    jobs = [(s, d, o) for s in shapes for d in dtypes for o in dict.fromkeys(orders)]
    done: list[dict[str, object]] = []

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)  # kill: as Ctrl-C, keep what is done
    try:
        with tqdm(jobs, desc="tune", unit="shape", disable=args.no_progress) as bar:
            for shape, dtype, order in bar:
                bar.set_postfix_str(f"{shape[0]}x{shape[1]} {dtype} {order}")
                result = tuning.measure(shape, dtype, order, threads, budget)
                tuning.save([result])
                done.append(result.to_entry())
    except KeyboardInterrupt:
        if done:
            print(tuning.format_table(done))
        print(
            f"vecstudy tune: interrupted; kept {len(done)} tuned shapes in {tuning.wisdom_path()}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(tuning.format_table(done))
    print(f"wisdom file: {tuning.wisdom_path()} (gain: model time / tuned time, median)")
    note = tuning.busy_note(done)
    if note:
        print(note)
    return 0


# --------------------------------------------------------------------------- train
#: Where ``vecstudy train`` writes by default: the user's own outputs (git-ignored),
#: never over the reference figures committed in ``reports/``.
TRAIN_OUTPUT_DIR = "reports/runs/train"
#: ``vecstudy train``'s learning rate for standardized tables, and for images (the course's).
DEFAULT_LEARNING_RATE = "0.5"
IMAGE_LEARNING_RATE = "0.005"
#: ``--budget`` by default, in seconds (``vecstudy.train.DEFAULT_BUDGET``; not imported here,
#: to keep ``vecstudy --help`` fast).
TRAIN_BUDGET = 600.0


def _add_train_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    t = sub.add_parser(
        "train",
        help="train on a CSV/Parquet/NPZ file with each backend: accuracy, cost curves, model",
        description=(
            "Train binary logistic regression by the course's batch gradient descent on a "
            "table: numeric feature columns only, a target with two values. The rows are "
            "split into a training and a test part (stratified, seeded), the features are "
            "standardized with statistics of the training part only, and each backend (and "
            "learning rate) trains from zero weights. Prints train/test accuracy, final cost "
            "and fit time per run (compilation excluded: each backend is warmed up first); "
            "writes a figure of the cost against the iteration and the fitted models and "
            "scaler as JSON, named after the data file (suffix included), as one pair "
            "atomically (Ctrl-C or SIGTERM leaves no partial file and never a figure of one "
            "run beside the model of another). Missing values, "
            "non-numeric or constant feature columns, a target without exactly two values: "
            "each is an error naming the columns."
        ),
        epilog=(
            "Example: vecstudy train --example --backends numba,numpy "
            "--learning-rates 0.5,0.01,0.001 (the bundled breast-cancer data). The course's "
            "images: vecstudy train train_catvnoncat.h5 (flattened and divided by 255 as in "
            "the course, not standardized; test_catvnoncat.h5 beside it is the test part; "
            "learning rate 0.005 by default, the course's)."
        ),
    )
    t.add_argument(
        "data",
        nargs="?",
        metavar="DATA",
        help="a .csv, .parquet, .npz or .h5 file (arrays of images are flattened)",
    )
    t.add_argument(
        "--target",
        metavar="COLUMN",
        help="the column to predict (two values); found by name for the course's files "
        "(train_set_y beside train_set_x) and for y beside X",
    )
    t.add_argument(
        "--example",
        action="store_true",
        help="use the bundled breast-cancer data (569 rows, 30 features, target 'diagnosis')",
    )
    t.add_argument(
        "--backends",
        metavar="NAME,...",
        help="backends to train with, or 'all' (default: the one in force, see 'vecstudy info')",
    )
    rates = t.add_mutually_exclusive_group()
    rates.add_argument(
        "--learning-rate",
        metavar="LR",
        help=f"default: {DEFAULT_LEARNING_RATE}; for images {IMAGE_LEARNING_RATE} (the course's)",
    )
    rates.add_argument(
        "--learning-rates",
        metavar="LR,...",
        help="several learning rates: cost curves side by side (the course's study of "
        "the choice of learning rate), e.g. 0.01,0.001,0.0001",
    )
    t.add_argument("--iterations", metavar="N", default="2000", help="updates (default: 2000)")
    t.add_argument(
        "--record-every", metavar="N", default="100", help="record the cost every N (default 100)"
    )
    t.add_argument(
        "--test-size", metavar="F", default="0.2", help="fraction of rows held out (default 0.2)"
    )
    t.add_argument("--seed", metavar="N", default="0", help="seed of the split (default 0)")
    t.add_argument("--dtype", metavar="DTYPE", help="float64 or float32 (default: config)")
    t.add_argument("--threads", metavar="N", help="thread count or 'all' (default: config)")
    t.add_argument(
        "--drop-columns", metavar="COL,...", help="columns to leave out (ids, text columns)"
    )
    t.add_argument(
        "--drop-constant",
        action="store_true",
        help="leave out constant feature columns (with a note) instead of stopping",
    )
    t.add_argument(
        "--output-dir",
        default=TRAIN_OUTPUT_DIR,
        metavar="DIR",
        help=f"figure and model (default: {TRAIN_OUTPUT_DIR}, beside the study's runs; the "
        "reference figures committed in reports/ are never written over unless asked)",
    )
    t.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    t.add_argument(
        "--budget",
        metavar="SECONDS",
        default=str(int(TRAIN_BUDGET)),
        help=f"refuse, before training, runs estimated to take longer (default "
        f"{TRAIN_BUDGET:g}; the estimate times one iteration of each backend)",
    )


def _loadable(name: str) -> bool:
    """Whether backend ``name`` imports; if not, say so (for ``--backends all``)."""
    from vecstudy import backends

    try:
        backends.load(name)
    except ImportError as exc:
        print(f"vecstudy train: skipping backend {name!r}: {_one_line(exc)}", file=sys.stderr)
        return False
    return True


def _number(text: str, option: str, kind: type[int] | type[float]) -> float:
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        from vecstudy.train import _short

        raise ValueError(f"{option}: expected {what}, got {_short(text)}") from None


def _cmd_train(args: argparse.Namespace) -> int:
    from vecstudy import train
    from vecstudy.study import options as bench

    if args.example:
        if args.data is not None:
            raise ValueError("give either DATA or --example, not both")
        path, target = str(train.example_path()), args.target or train.EXAMPLE_TARGET
        source = f"{train.EXAMPLE_FILE} (bundled example)"
    elif args.data is None:
        raise ValueError("DATA and --target COLUMN are required (or --example)")
    else:
        path = source = args.data
        target = args.target
    names: list[str | None] = [None]
    if args.backends is not None:
        names = list(bench.parse_backends(args.backends, "option --backends"))
        if "all" in (b.strip() for b in args.backends.split(",")):
            names = [n for n in names if n is None or _loadable(n)]
    drop = [c.strip() for c in (args.drop_columns or "").split(",") if c.strip()]
    iterations = int(_number(args.iterations, "--iterations", int))
    record_every = int(_number(args.record_every, "--record-every", int))
    test_size = _number(args.test_size, "--test-size", float)
    seed = int(_number(args.seed, "--seed", int))
    budget = _number(args.budget, "--budget", float)
    threads: int | str | None = args.threads
    if args.threads is not None and args.threads != "all":
        threads = int(_number(args.threads, "--threads", int))
    for option, value, ok, expected in (
        ("--iterations", iterations, iterations >= 1, "an integer of at least 1"),
        ("--record-every", record_every, record_every >= 1, "an integer of at least 1"),
        ("--test-size", test_size, 0 < test_size < 1, "a fraction between 0 and 1 (exclusive)"),
        ("--seed", seed, seed >= 0, "an integer of at least 0"),
        ("--budget", budget, budget > 0, "a number of seconds > 0 (inf: no limit)"),
        ("--threads", threads, not isinstance(threads, int) or threads >= 1, "at least 1 or 'all'"),
    ):
        if not ok:
            raise ValueError(f"{option}: expected {expected}, got {train._short(value)}")

    with _sigterm_as_interrupt(), _warnings_as_notes("vecstudy train"):
        data = train.read_data(path, target)
        if args.learning_rates is not None:
            rates = train.parse_learning_rates(args.learning_rates)
        else:
            default = IMAGE_LEARNING_RATE if data.info.images else DEFAULT_LEARNING_RATE
            rates = train.parse_learning_rates(args.learning_rate or default, "--learning-rate")
        figure, model = train.output_paths(path, args.output_dir, study=len(rates) > 1)
        for note in data.info.notes:
            print(note)
        if data.info.images and args.learning_rate is None and args.learning_rates is None:
            print(f"learning rate {IMAGE_LEARNING_RATE} (the course's for its images)")
        training = train.prepare(
            data.frame,
            data.target,
            source=source,
            drop=drop,
            drop_constant=args.drop_constant,
            test_size=test_size,
            seed=seed,
            test=data.test,
            test_source=data.test_source,
            class_names=data.info.class_names,
            standardize=not data.info.images,
        )
        train.check_writable(training, (figure, model))  # before the work, not after
        print(train.describe(training))
        try:
            train.fit_runs(
                training,
                backends=names,
                learning_rates=rates,
                max_iter=iterations,
                record_every=record_every,
                dtype=args.dtype,
                threads=threads,
                progress=not args.no_progress,
                budget=budget,
            )
        except FloatingPointError as exc:  # DivergenceError: too large a learning rate
            raise ValueError(str(exc)) from exc
        print(train.format_table(training))
        replaced = train.write_outputs(training, figure, model)
    print(
        f"wrote {figure} (cost against iteration) and {model} (weights and scaler)"
        + ("; they replace the earlier pair" if replaced else "")
    )
    return 0


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Within: SIGTERM raises KeyboardInterrupt, as Ctrl-C does (clean exit, status 130).

    Only in the main thread (where Python runs signal handlers); the earlier
    handler comes back on leaving.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


@contextlib.contextmanager
def _warnings_as_notes(command: str) -> Iterator[None]:
    """Within: warnings that are shown are one line on stderr (``vecstudy train: warning: ...``).

    Written with ``tqdm.write``, above a progress bar; which warnings are shown (or
    raised, with ``-W error``) is left to the warnings filters.
    """
    import warnings

    def show(message: Any, category: Any, *_args: Any, **_kw: Any) -> None:
        from tqdm import tqdm

        tqdm.write(f"{command}: warning: {_one_line(message)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


@contextlib.contextmanager
def _log_info_to_stderr() -> Iterator[None]:
    """Show the INFO lines of logger ``vecstudy`` (e.g. numba compiling) on stderr."""
    log = logging.getLogger("vecstudy")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("vecstudy: %(message)s"))
    handler.setLevel(logging.INFO)
    level = log.level
    log.addHandler(handler)
    if level == logging.NOTSET or level > logging.INFO:
        log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "bench": _cmd_bench,
    "report": _cmd_report,
    "study": _cmd_study,
    "compare": _cmd_compare,
    "roofline": _cmd_roofline,
    "info": _cmd_info,
    "train": _cmd_train,
    "tune": _cmd_tune,
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


def _print_dask_info() -> None:
    from vecstudy import cluster as distributed

    print(f"dask cluster: {distributed.describe()}")


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


_COMMANDS["to-zarr"] = _cmd_to_zarr
_COMMANDS["dask-study"] = _cmd_dask_study


#: Commands during which SIGTERM is handled like Ctrl-C
#: (:func:`vecstudy.signals.sigterm_as_interrupt`): the run is marked interrupted.
SIGTERM_AS_INTERRUPT = frozenset({"bench", "study", "report", "compare", "roofline"})
#: Longest error message printed (a message quotes values from files and variables).
MESSAGE_LIMIT = 1000


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``vecstudy`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    from vecstudy.signals import Received, sigterm_as_interrupt
    from vecstudy.study.sweep import SweepInterrupted

    parser = _build_parser()
    args = parser.parse_args(argv)
    got = Received()
    guard: contextlib.AbstractContextManager[Received] = (
        sigterm_as_interrupt()
        if args.command in SIGTERM_AS_INTERRUPT
        else contextlib.nullcontext(got)
    )
    try:
        with guard as got, _log_info_to_stderr():
            _check_output_dir(args)
            return _COMMANDS[args.command](args)
    except SweepInterrupted as exc:
        print(
            f"vecstudy {args.command}: {_interrupted(got)}; kept {exc.rows_kept} rows of this "
            f"run ({exc.total_rows} in all) in {exc.path}"
            + (
                f"; report them: vecstudy report {shlex.quote(str(exc.path))}"
                if exc.rows_kept
                else ""
            ),
            file=sys.stderr,
        )
        return got.exit_status
    except KeyboardInterrupt:
        print(f"vecstudy {args.command}: {_interrupted(got)}", file=sys.stderr)
        return got.exit_status
    except BrokenPipeError:  # e.g. `vecstudy info | head -3`: the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout
        return EXIT_BROKEN_PIPE
    except (ValueError, OSError, ImportError) as exc:
        print(f"vecstudy {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR


def _interrupted(got: object) -> str:
    return "interrupted" if getattr(got, "signum", None) is None else "interrupted by SIGTERM"


def _one_line(exc: BaseException) -> str:
    from vecstudy.escape import bounded

    text = " ".join(str(exc).split())
    if isinstance(exc, FileNotFoundError) and exc.filename:
        text = f"no such file: {exc.filename}"
    return bounded(text, MESSAGE_LIMIT) or type(exc).__name__


def _run() -> NoReturn:  # pragma: no cover - exercised through python -m vecstudy
    sys.exit(main())
