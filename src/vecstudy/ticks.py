"""Tick labels of log axes, shared by every figure: plain numbers, times, milliseconds.

Pure Python (no matplotlib): :mod:`vecstudy.plots` draws the cost curves with them and
:mod:`vecstudy.report.axes` the study's figures; each is a ``FuncFormatter`` function
``(value, position) -> text``.

>>> [tick_text(v) for v in (0.5, 20, 1e-8, 5e-7, 1.5e5)]
['0.5', '20', '1e-8', '5e-7', '1.5e5']
>>> tick_text(25_000, grouped_below=1e7), time_text(2e-4), ms_text(2.5)
('25,000', '200 µs', '2,500 ms')
"""

from __future__ import annotations

import math


def tick_text(v: float, _pos: object = None, *, grouped_below: float = 1e4) -> str:
    """A short label for a log axis: ``0.5``, ``20``, ``1e-8``, ``5e-7``.

    ``1e-3 <= v < 1e4`` as it is; from ``1e4`` up to ``grouped_below`` with thousands
    separators (``25,000``); beyond, mantissa and exponent.  Empty for a value that is
    not finite and positive.
    """
    if v <= 0 or not math.isfinite(v):
        return ""
    if 1e-3 <= v < 1e4:
        return f"{v:g}"
    if 1e4 <= v < grouped_below:
        return f"{v:,.0f}"
    exp = math.floor(math.log10(v) + 1e-9)
    mant = round(v / 10**exp, 6)
    return f"1e{exp}" if mant == 1 else f"{mant:g}e{exp}"


def time_text(seconds: float, _pos: object = None) -> str:
    """A tick label for a time: ``2e-4`` -> ``"200 µs"``, ``0.05`` -> ``"50 ms"``."""
    if not math.isfinite(seconds) or seconds <= 0:
        return ""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale * (1 - 1e-9):
            return f"{float(f'{seconds / scale:.3g}'):g} {unit}"
    return f"{float(f'{seconds / 1e-9:.3g}'):g} ns"


def ms_text(seconds: float, _pos: object = None) -> str:
    """A tick label in milliseconds: ``1e-4`` -> ``"0.1 ms"``, ``2.5`` -> ``"2,500 ms"``."""
    if not math.isfinite(seconds) or seconds <= 0:
        return ""
    ms = float(f"{seconds * 1e3:.3g}")
    return f"{ms:,.0f} ms" if ms >= 1000 else f"{ms:g} ms"
