"""``vecstudy study``, ``bench``, ``report``, ``compare`` and ``roofline``: the speed study.

Each command parses its options, calls :mod:`vecstudy.study` to measure and
:mod:`vecstudy.report` to render, and prints what was written.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from vecstudy.cli._common import Subparsers


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


def add_parsers(sub: Subparsers) -> None:
    """The parsers of ``study``, ``bench``, ``report``, ``compare`` and ``roofline``."""
    from vecstudy.study import options as bench

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
    rf.add_argument("--no-progress", action="store_true", help="no per-row log on stderr")


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


def _cmd_report(args: argparse.Namespace) -> int:
    from vecstudy import report
    from vecstudy.records.reference import is_reference_report

    out = args.output_dir or str(Path(args.results).parent)
    if args.output_dir is None and is_reference_report(Path(out) / "report.md"):
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


def _cmd_compare(args: argparse.Namespace) -> int:
    from vecstudy.escape import plain
    from vecstudy.records.compare import compare_files
    from vecstudy.report.compare import write_comparison

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
    from vecstudy.report import roofline as render
    from vecstudy.study import roofline

    quiet = {"progress": False} if args.no_progress else {}
    df = roofline.measure_targets(threads=threads, quick=args.quick, **quiet)
    table = render.format_targets(df)
    print(table)
    if args.output is not None:
        words = ["vecstudy", "roofline", *(["--quick"] if args.quick else [])]
        words += [*(["--threads", args.threads] if args.threads else []), "--output", args.output]
        mach = machine_info()
        where = f"{mach['cpu']}, {mach['cores']} cores, {mach['os']}, {mach['timestamp']}"
        text = render.to_markdown(table, command=shlex.join(words), machine=where)
        atomic_write_text(Path(args.output), text)
        print(f"written to {args.output}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "bench": _cmd_bench,
    "report": _cmd_report,
    "study": _cmd_study,
    "compare": _cmd_compare,
    "roofline": _cmd_roofline,
}
