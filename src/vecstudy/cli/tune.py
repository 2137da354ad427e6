"""``vecstudy tune``: time the numba backend's plans on this machine and keep the winners."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from vecstudy.cli._common import EXIT_ERROR, EXIT_INTERRUPTED, Subparsers


def add_parser(sub: Subparsers) -> None:
    """The parser of ``tune``."""
    t = sub.add_parser(
        "tune",
        help="time the numba backend's plans here and keep the winners (its wisdom)",
        description=(
            "For each shape, dtype and order, time the numba backend's candidate walks "
            "over X (the cache model's plan, its tiles and panels halved and doubled, the "
            "other walk; each serial and parallel at each thread count) in interleaved "
            "rounds, for one gradient step and for iterations of a descent, and store the "
            "winners in the wisdom file, which the backend then uses (setting [numba] "
            "tune, VECSTUDY_TUNE). Descents also time the copy of X into the other order: "
            "with both orders tuned, optimize copies X when the iterations pay for it. The "
            "file is written after every shape: Ctrl-C keeps every finished one. Timings "
            "on a busy machine are noisy."
        ),
    )
    t.add_argument(
        "--shapes",
        metavar="NxM,...",
        help="default: the roofline grid's shapes with X up to 100 MB in float64",
    )
    t.add_argument("--dtype", metavar="DTYPE,...", default="float64", help="default: float64")
    t.add_argument("--order", metavar="C,F", default="C,F", help="default: C,F")
    t.add_argument("--threads", metavar="N,...", default="1,all", help="default: 1,all")
    t.add_argument(
        "--kind",
        metavar="step,descent",
        default="step,descent",
        help="what to time: one gradient step, iterations of a descent (default: both)",
    )
    t.add_argument(
        "--budget", metavar="S", default="1", help="seconds per shape, dtype and order (default: 1)"
    )
    t.add_argument("--show", action="store_true", help="print the stored plans and exit")
    t.add_argument("--clear", action="store_true", help="remove this machine's stored plans")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    import signal

    import numpy as np
    from tqdm import tqdm

    from vecstudy.backends.numba import tuning, wisdom
    from vecstudy.report import tune as table
    from vecstudy.study import options as opts

    if args.clear:
        try:
            path, n = wisdom.clear()
        except wisdom.WisdomFileError as exc:
            print(f"vecstudy tune: {exc}", file=sys.stderr)
            return EXIT_ERROR
        print(f"removed {n} stored plans of this machine from {path}")
        return 0
    if args.show:
        path = wisdom.wisdom_path()
        wisdom.entries()  # the one warning for entries the backend ignores
        stored = wisdom.stored_entries()
        print(f"wisdom file: {path} ({len(stored)} plans for this machine)")
        if stored:
            print(table.format_table(stored))
            print(table.LEGEND)
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
    kinds = [k.strip().lower() for k in args.kind.split(",")]
    if not kinds or any(k not in wisdom.KINDS for k in kinds):
        raise ValueError(
            f"option --kind: expected step, descent or step,descent; got {args.kind[:40]!r}"
        )
    threads = list(opts.parse_threads(args.threads, "option --threads"))
    budget = opts._parse_float(args.budget, "option --budget")
    if not args.shapes:
        listed = ", ".join(f"{a}x{b}" for a, b in shapes)
        print(f"shapes: {listed} (the roofline grid up to 100 MB)")
    todo = tuning.jobs(shapes, dtypes, orders, kinds)
    path = wisdom.wisdom_path()
    try:  # before any timing: a folder that cannot take the file fails at once
        path.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(path.parent, os.W_OK):
            raise PermissionError(errno.EACCES, "permission denied")
        wisdom.check_replaceable(path)
    except OSError as exc:
        print(_unwritable(path, exc, None), file=sys.stderr)
        return EXIT_ERROR
    done: list[dict[str, object]] = []
    current: list[tuning.Job] = []

    terminated: list[int] = []

    def on_term(signum: int, frame: object) -> None:
        terminated.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)  # kill: as Ctrl-C, keep what is done
    try:
        with tqdm(total=len(todo), desc="tune", unit="shape", disable=args.no_progress) as bar:

            def on_start(job: tuning.Job) -> None:
                current[:] = [job]
                (n_x, m), dtype, order, kind = job
                bar.set_postfix_str(f"{n_x}x{m} {dtype} {order} {kind}")

            for result in tuning.tune_all(todo, threads, budget, on_start=on_start):
                done.append(result.to_entry())
                bar.update(1)
    except KeyboardInterrupt:
        if done:
            print(table.format_table(done))
        print(
            f"vecstudy tune: interrupted{' by SIGTERM' if terminated else ''}; kept "
            f"{len(done)} tuned shapes in {wisdom.wisdom_path()}",
            file=sys.stderr,
        )
        return 128 + terminated[0] if terminated else EXIT_INTERRUPTED  # as the shell says
    except MemoryError:
        if done:
            print(table.format_table(done))
        (n_x, m), dtype, order, kind = current[0]
        gb = n_x * m * np.dtype(dtype).itemsize / 1e9
        print(
            f"vecstudy tune: not enough memory to tune {n_x}x{m} {dtype} {order} ({kind}: "
            f"X alone is {gb:.3g} GB, and the tuner builds one of that shape); kept "
            f"{len(done)} tuned shapes in {wisdom.wisdom_path()}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except OSError as exc:  # the file could not be written after all (disk full, ...)
        if done:
            print(table.format_table(done))
        print(_unwritable(path, exc, len(done)), file=sys.stderr)
        return EXIT_ERROR
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(table.format_table(done))
    print(table.LEGEND)
    print(f"wisdom file: {wisdom.wisdom_path()}")
    note = table.busy_note(done)
    if note:
        print(note)
    return 0


def _unwritable(path: Path, exc: OSError, kept: int | None) -> str:
    """The message for a wisdom file that cannot be written; ``kept``: shapes stored."""
    from vecstudy.backends.numba.wisdom import ENV_TUNE_DIR, WisdomFileError

    tail = "" if kept is None else f"; kept {kept} tuned shapes"
    if isinstance(exc, WisdomFileError):  # the message says it all
        return f"vecstudy tune: {exc}{tail}"
    reason = exc.strerror or type(exc).__name__
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
    return (
        f"vecstudy tune: cannot write the wisdom file {path}: {reason}{where}; set "
        f"{ENV_TUNE_DIR} to a writable folder{tail}"
    )
