"""Text taken from user data into a message: bounded in length, quoted where it is a value.

A column name, a label, a path or an exception's message can be as long as the data
make it; every message of :mod:`vecstudy.learn` goes through these helpers, so that
none grows with its input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (``0``, not ``np.int64(0)``)."""
    return value.item() if isinstance(value, np.generic) else value


#: Longest text taken from user data (a name, a value, a path) into a message.
SHORT: Final = 80
#: Paths keep more (their head and their file name both help).
SHORT_PATH: Final = 160


def _short(value: object, limit: int = SHORT) -> str:
    """``repr(value)`` bounded to about ``limit`` characters, without building the whole repr.

    A long string keeps its head and its tail (a path keeps its file name) and says
    how long it was:

    >>> _short("a" * 1000, 20)
    "'aaaaaaaa...aaaaaaaa' (1000 characters)"
    >>> _short(3)
    '3'
    """
    if isinstance(value, str | bytes) and len(value) > limit:
        half = max(1, (limit - 3) // 2)
        dots = "..." if isinstance(value, str) else b"..."
        cut = value[:half] + dots + value[-half:]  # type: ignore[operator]
        unit = "characters" if isinstance(value, str) else "bytes"
        return f"{cut!r} ({len(value)} {unit})"
    text = repr(value)  # scalars here: short, or bounded next
    return text if len(text) <= limit + 2 else text[:limit] + "..."


def _clip(text: str, limit: int = 200) -> str:
    """Plain text (an exception's message) bounded to ``limit`` characters."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _path(path: str | Path) -> str:
    """A path for a message: quoted, bounded, keeping its file name."""
    return _short(str(path), SHORT_PATH)


def _bounded_path(path: str | Path) -> str:
    """A path bounded like :func:`_path`, unquoted (for an exception's ``filename``)."""
    text = str(path)
    if len(text) <= SHORT_PATH:
        return text
    half = (SHORT_PATH - 3) // 2
    return f"{text[:half]}...{text[-half:]} ({len(text)} characters)"


def _label(value: object) -> str:
    """A class label as text, bounded (``str``, not ``repr``: ``benign``, ``1``)."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= SHORT else _short(text)


def _names(columns: Sequence[object], limit: int = 8) -> str:
    shown = ", ".join(_short(c) for c in columns[:limit])
    return shown + (f" and {len(columns) - limit} more" if len(columns) > limit else "")


def _joined(columns: Sequence[str], limit: int = 8) -> str:
    """``a,b,c`` for an option's value (``--drop-columns``), bounded like :func:`_names`."""
    if len(columns) > limit or any(len(c) > SHORT for c in columns):
        return "COLUMN,... (the columns named above)"
    return ",".join(columns)
