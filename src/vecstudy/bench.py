"""The names of the former ``vecstudy.bench`` module, now in :mod:`vecstudy.study`.

Kept so that code importing ``vecstudy.bench`` keeps working; new code imports
from the modules of :mod:`vecstudy.study` directly.
"""

from __future__ import annotations

from vecstudy.records.machine import (
    _load_average,  # noqa: F401 - former private helper, kept for importers
    git_commit,
    machine_info,
    thread_state,
)
from vecstudy.records.machine import threads_in_force as _threads_in_force  # noqa: F401
from vecstudy.records.results import (
    COLUMNS,
    FORMAT,
    Results,
    atomic_write_bytes,
    atomic_write_text,
    load_results,
)
from vecstudy.runtime.cores import available_cores as all_cores
from vecstudy.study.micro import (
    dot_loop_python,
    dot_numpy,
    exp_loop_python,
    exp_numpy,
    read_numpy,
)
from vecstudy.study.options import (
    DEFAULTS,
    STUDY_DEFAULTS,
    VALID_KEYS,
    BenchOptionError,
    BenchOptions,
    option_name,
    parse_backends,
    parse_dtypes,
    parse_shapes,
    parse_threads,
    resolve_options,
)
from vecstudy.study.sweep import (
    LEARNING_RATE,
    RECORD_EVERY,
    SEED,
    SweepInterrupted,
    SweepResult,
    make_data,
    run_sweep,
)
from vecstudy.study.timing import autorange

__all__ = [
    "COLUMNS",
    "DEFAULTS",
    "FORMAT",
    "LEARNING_RATE",
    "RECORD_EVERY",
    "SEED",
    "STUDY_DEFAULTS",
    "VALID_KEYS",
    "BenchOptionError",
    "BenchOptions",
    "Results",
    "SweepInterrupted",
    "SweepResult",
    "all_cores",
    "atomic_write_bytes",
    "atomic_write_text",
    "autorange",
    "dot_loop_python",
    "dot_numpy",
    "exp_loop_python",
    "exp_numpy",
    "git_commit",
    "load_results",
    "machine_info",
    "make_data",
    "option_name",
    "parse_backends",
    "parse_dtypes",
    "parse_shapes",
    "parse_threads",
    "read_numpy",
    "resolve_options",
    "run_sweep",
    "thread_state",
]
