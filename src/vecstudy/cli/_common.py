"""What every ``vecstudy`` command module shares: exit codes, the parser class, one-line errors."""

from __future__ import annotations

import argparse
from typing import NoReturn, TypeAlias

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a command whose reader left
#: Longest error message printed (a message quotes values from files and variables).
MESSAGE_LIMIT = 1000


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage dump) and exit with status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


#: What ``add_subparsers`` returns: each command module adds its parsers to it.
Subparsers: TypeAlias = "argparse._SubParsersAction[_Parser]"


def error_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line, bounded (:data:`MESSAGE_LIMIT`)."""
    from vecstudy.escape import bounded

    text = " ".join(str(exc).split())
    if isinstance(exc, FileNotFoundError) and exc.filename:
        text = f"no such file: {exc.filename}"
    return bounded(text, MESSAGE_LIMIT) or type(exc).__name__
