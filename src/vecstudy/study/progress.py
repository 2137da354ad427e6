"""The sweep's progress bar: :mod:`tqdm.auto`'s, with log lines printed above it."""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any


def progress_class() -> Any:
    """:mod:`tqdm.auto`'s bar: a widget in a Jupyter kernel that has ipywidgets, text otherwise.

    Without ipywidgets, tqdm warns on import that it falls back to text; the text
    bar is what we want then, so that warning is not shown.
    """
    import warnings

    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm
    return tqdm


def progress_bar(total: int, enabled: bool, desc: str = "vecstudy bench") -> Any:
    """A bar of ``total`` cases on stderr, hidden unless ``enabled``."""
    return progress_class()(
        total=total, unit="case", desc=desc, disable=not enabled, file=sys.stderr
    )


def grow(bar: Any, more: int) -> None:
    """Add ``more`` cases to the bar's total (a notebook widget too), keeping its count."""
    if more:
        done = bar.n
        bar.reset(total=(bar.total or 0) + more)
        bar.update(done)


def log_above_bar() -> contextlib.AbstractContextManager[None]:
    """Route logger ``vecstudy``'s console lines through tqdm, so they print above the bar."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    redirect: contextlib.AbstractContextManager[None] = logging_redirect_tqdm(
        loggers=[logging.getLogger("vecstudy")], tqdm_class=progress_class()
    )
    return redirect
