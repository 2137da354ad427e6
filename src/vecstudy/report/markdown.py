"""Markdown building blocks: number formats, speedups in words, escaped tables.

Every renderer of :mod:`vecstudy.report` builds its tables with :func:`markdown_table`
(each cell escaped unless it is :class:`~vecstudy.escape.Markup`) and its numbers
with the ``format_*`` functions here.  ``report.md`` itself is
:mod:`vecstudy.report.document`; its headline, :mod:`vecstudy.report.plain_words`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from vecstudy.escape import Markup, md_text, one_line


def format_seconds(s: float | None) -> str:
    """``0.00123`` -> ``"1.23 ms"``; NaN -> ``"-"``."""
    if s is None or not math.isfinite(s):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(s) >= scale or unit == "ns":
            return f"{s / scale:.3g} {unit}"
    return f"{s:.3g} s"  # pragma: no cover - loop always returns


def format_bytes(n: float) -> str:
    """``8e6`` -> ``"8 MB"`` (decimal units, as bandwidths are quoted)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def format_ratio(x: float | None) -> str:
    """``363.2`` -> ``"363x"``; NaN -> ``"-"``."""
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.0f}x" if x >= 100 else f"{x:.3g}x"


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def format_ratio_ci(ratio: float, low: float, high: float, estimated: bool = False) -> str:
    """``"250x [230-270]"``; an estimate is marked ``"~250x* [...]"``; NaN -> ``"-"``."""
    if not math.isfinite(ratio):
        return "-"
    text = ("~" if estimated else "") + format_ratio(ratio) + ("*" if estimated else "")
    if math.isfinite(low) and math.isfinite(high):
        text += f" [{_num(low)}-{_num(high)}]"
    return text


def _relation(ratio: float, low: float, high: float) -> str:
    """``"faster"``, ``"slower"`` or ``"same"`` (the interval holds 1x), for ``ratio``
    = the loop's time over this one's."""
    if math.isfinite(low) and math.isfinite(high) and low <= 1 <= high:
        return "same"
    return "faster" if ratio >= 1 else "slower"


def versus_loop(parts: Sequence[tuple[str, float, float, float, bool]]) -> str:
    """Plain words for speedups over the Python loop: ``(name, ratio, low, high, estimated)``.

    When every one is faster: ``"NumPy 29x [22-38] and Numba 47x [34-78] faster than
    the Python loop"``; otherwise each says its own: a ratio below 1 is turned into
    "N times slower", one whose interval holds 1x is "about as fast as".

    >>> text = versus_loop([("NumPy", 0.25, 0.2, 0.5, False), ("Numba", 1.1, 0.9, 1.3, False)])
    >>> for part in text.split("; "):
    ...     print(part)
    NumPy 4x [2-5] slower than the Python loop
    Numba 1.1x [0.9-1.3]: about as fast as the Python loop
    """
    relations = [_relation(r, lo, hi) for _, r, lo, hi, _ in parts]
    if all(rel == "faster" for rel in relations):
        return (
            " and ".join(f"{n} {format_ratio_ci(r, lo, hi, e)}" for n, r, lo, hi, e in parts)
            + " faster than the Python loop"
        )
    words = []
    for (name, r, lo, hi, est), rel in zip(parts, relations, strict=True):
        if rel == "slower":
            words.append(f"{name} {format_ratio_ci(1 / r, 1 / hi, 1 / lo, est)} slower than")
        elif rel == "same":
            words.append(f"{name} {format_ratio_ci(r, lo, hi, est)}: about as fast as")
        else:
            words.append(f"{name} {format_ratio_ci(r, lo, hi, est)} faster than")
    return "; ".join(w + " the Python loop" for w in words)


def _cell(value: object) -> str:
    """A table cell: :class:`~vecstudy.escape.Markup` as it is (on one line), else escaped."""
    if isinstance(value, Markup):
        return one_line(value)
    return md_text(value, block_start=False)


def markdown_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; every cell is escaped unless it is ``Markup``.

    Text from a file cannot add a row or a column, a tag or a link: each cell is one
    line of :func:`vecstudy.escape.md_text` (``|``, backticks, ``<``, ``&``, brackets,
    emphasis escaped), cut to :data:`vecstudy.escape.TEXT_LIMIT` characters.

    >>> print(markdown_table(["a"], [["x|y<z>"], [Markup("**1 ms**")]]))
    | a |
    |---|
    | x\\|y&lt;z> |
    | **1 ms** |
    """
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def format_flags(flags: Sequence[str]) -> str:
    """``["cv", "load"]`` -> ``"⚠ cv, load"``; none -> ``""``."""
    return ("⚠ " + ", ".join(flags)) if flags else ""


def joined(parts: Iterable[object], sep: str = ", ", limit: int = 12) -> Markup:
    """Escaped ``parts`` joined by ``sep``, at most ``limit`` of them."""
    items = list(parts)
    more = f"{sep}... ({len(items) - limit} more)" if len(items) > limit else ""
    return Markup(
        sep.join(
            _cell(p) if isinstance(p, Markup) else md_text(p, 80, block_start=False)
            for p in items[:limit]
        )
        + more
    )
