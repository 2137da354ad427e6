"""``vecstudy train``: logistic regression on a table with each backend."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from vecstudy.cli._common import Subparsers, error_line
from vecstudy.learn.train import DEFAULT_BUDGET as TRAIN_BUDGET
from vecstudy.learn.train import DEFAULT_LEARNING_RATE, IMAGE_LEARNING_RATE

#: Where ``vecstudy train`` writes by default: the user's own outputs (git-ignored),
#: never over the reference figures committed in ``reports/``.
TRAIN_OUTPUT_DIR = "reports/runs/train"


def add_parser(sub: Subparsers) -> None:
    """The parser of ``train``."""
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
        print(f"vecstudy train: skipping backend {name!r}: {error_line(exc)}", file=sys.stderr)
        return False
    return True


def _number(text: str, option: str, kind: type[int] | type[float]) -> float:
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        from vecstudy.learn.text import _short

        raise ValueError(f"{option}: expected {what}, got {_short(text)}") from None


def run(args: argparse.Namespace) -> int:
    from vecstudy.learn import train
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
        rates, rate_note = train.choose_learning_rates(
            args.learning_rate, args.learning_rates, images=data.info.images
        )
        figure, model = train.output_paths(path, args.output_dir, study=len(rates) > 1)
        for note in data.info.notes:
            print(note)
        if rate_note is not None:
            print(rate_note)
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

        tqdm.write(f"{command}: warning: {error_line(message)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield
