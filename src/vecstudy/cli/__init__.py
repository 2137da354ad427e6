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

Modules: one per command family (:mod:`~vecstudy.cli.study`, :mod:`~vecstudy.cli.tune`,
:mod:`~vecstudy.cli.learn`, :mod:`~vecstudy.cli.info`, :mod:`~vecstudy.cli.cluster`), each
with its parsers and commands; here the parser is assembled and the errors are handled,
once for every command.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from vecstudy.cli import cluster, info, learn, study, tune
from vecstudy.cli._common import (
    EXIT_BROKEN_PIPE,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    MESSAGE_LIMIT,
    _Parser,
    error_line,
)
from vecstudy.cli.learn import TRAIN_OUTPUT_DIR
from vecstudy.cli.study import _default_run_dir as _default_run_dir
from vecstudy.learn.train import DEFAULT_BUDGET as TRAIN_BUDGET
from vecstudy.learn.train import DEFAULT_LEARNING_RATE, IMAGE_LEARNING_RATE

__all__ = [
    "DEFAULT_LEARNING_RATE",
    "EXIT_BROKEN_PIPE",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "IMAGE_LEARNING_RATE",
    "MESSAGE_LIMIT",
    "SIGTERM_AS_INTERRUPT",
    "TRAIN_BUDGET",
    "TRAIN_OUTPUT_DIR",
    "main",
]


def _version() -> str:
    from vecstudy._version import __version__

    return __version__


def _build_parser() -> argparse.ArgumentParser:
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
    study.add_parsers(sub)  # study, bench, report, compare, roofline
    learn.add_parser(sub)
    tune.add_parser(sub)
    info.add_parser(sub)
    cluster.add_parsers(sub)  # to-zarr, dask-study
    return parser


def _check_output_dir(args: argparse.Namespace) -> None:
    """Refuse an ``--output-dir`` that is (or lies under) a file, before any work is done."""
    value = getattr(args, "output_dir", None)
    if value is None:
        return
    out = Path(value)
    for parent in (out, *out.parents):
        if parent.exists() and not parent.is_dir():
            raise ValueError(f"--output-dir {str(out)!r}: {str(parent)!r} is not a directory")


def _log_info_to_stderr() -> contextlib.AbstractContextManager[None]:
    """Show the INFO lines of logger ``vecstudy`` (e.g. numba compiling) on stderr."""
    from vecstudy.runtime.announce import info_to_stderr

    return info_to_stderr()


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    **study.COMMANDS,
    "info": info.run,
    "train": learn.run,
    "tune": tune.run,
    **cluster.COMMANDS,
}


#: Commands during which SIGTERM is handled like Ctrl-C
#: (:func:`vecstudy.signals.sigterm_as_interrupt`): the run is marked interrupted.
SIGTERM_AS_INTERRUPT = frozenset({"bench", "study", "report", "compare", "roofline"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``vecstudy`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    from vecstudy.errors import SweepInterrupted
    from vecstudy.signals import Received, sigterm_as_interrupt

    parser = _build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # as parse_args, but pointing to the command's own help
        command = getattr(args, "command", None)
        where = f"{parser.prog} {command}" if command else parser.prog
        parser.exit(
            EXIT_ERROR,
            f"{parser.prog}: error: unrecognized arguments: {' '.join(extra)} "
            f"(see '{where} --help')\n",
        )
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
        print(f"vecstudy {args.command}: error: {error_line(exc)}", file=sys.stderr)
        return EXIT_ERROR


def _interrupted(got: object) -> str:
    return "interrupted" if getattr(got, "signum", None) is None else "interrupted by SIGTERM"


def _run() -> NoReturn:  # pragma: no cover - exercised through python -m vecstudy
    sys.exit(main())
