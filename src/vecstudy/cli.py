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
            "Ctrl-C keeps every finished timing and exits with status 130."
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
            "ratio of medians with its 95%% bootstrap interval, Mann-Whitney U test. A "
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

    sub.add_parser(
        "info",
        help="backend in force (and its source), machine and thread information",
        description="Print the backend in force, where that choice came from, and machine info.",
    )
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
    for line in getattr(files, "headline", ()):
        print(line)
    for line in getattr(files, "incomplete", ()):
        print(f"warning: incomplete: {line}", file=sys.stderr)


def _cmd_report(args: argparse.Namespace) -> int:
    from vecstudy import report

    out = args.output_dir or str(Path(args.results).parent)
    files = report.write_report(args.results, output_dir=out, asv_dir=args.asv, note=args.note)
    _print_report(files)
    print(f"wrote {files.markdown} and {len(files.figures)} figure files")
    return 0


def _default_run_dir() -> Path:
    import datetime as dt

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return Path("reports") / "runs" / stamp


def _cmd_study(args: argparse.Namespace) -> int:
    import time

    from vecstudy import report
    from vecstudy.study import options as opts
    from vecstudy.study.sweep import run_sweep

    out = Path(args.output_dir) if args.output_dir else _default_run_dir()
    overrides = {"output": str(out / "study-results.json")}
    options = opts.resolve_options(overrides, defaults=opts.STUDY_DEFAULTS, use_file=False)
    t0 = time.perf_counter()
    result = run_sweep(options, progress=not args.no_progress, append=False)
    files = report.write_report(result.path, output_dir=out, asv_dir=args.asv)
    _print_report(files)
    print(
        f"study done in {time.perf_counter() - t0:.0f} s: {result.rows} rows "
        f"({result.skipped} skipped cases) in {result.path}"
    )
    print(f"report: {files.markdown}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from vecstudy.study.compare import compare_files, write_comparison

    cmp = compare_files(args.base, args.new, factor=args.factor, alpha=args.alpha)
    for w in cmp.warnings:
        print(f"vecstudy compare: warning: {w}", file=sys.stderr)
    out = args.output_dir or str(Path(args.new).parent)
    paths = write_comparison(cmp, out)
    counts = cmp.cases["verdict"].value_counts()
    print(
        f"{counts.get('worse', 0)} worse, {counts.get('better', 0)} better, "
        f"{counts.get('unchanged', 0)} unchanged (factor {args.factor:g}, alpha {args.alpha:g}); "
        f"{counts.get('machine', 0)} read-bandwidth probes not judged"
    )
    for _, r in cmp.worse.iterrows():
        print(
            f"  worse: {r['operation']} {r['backend']} {r['n_x']}x{r['m']} {r['dtype']} "
            f"t{r['threads']}: {r['ratio']:.3g}x [{r['low']:.3g}-{r['high']:.3g}], p={r['p']:.2g}"
        )
    print(f"wrote {paths[0]}")
    return 1 if not cmp.worse.empty else 0


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
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "bench": _cmd_bench,
    "report": _cmd_report,
    "study": _cmd_study,
    "compare": _cmd_compare,
    "roofline": _cmd_roofline,
    "info": _cmd_info,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``vecstudy`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    from vecstudy.study.sweep import SweepInterrupted

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
