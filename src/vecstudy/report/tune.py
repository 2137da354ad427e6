"""``vecstudy tune``'s table: the stored plans of the numba backend against the model's.

Rendering only (``vecstudy tune`` prints it; importing this module loads no backend):
the entries come from :mod:`vecstudy.backends.numba.wisdom` (the JSON
objects of :meth:`~vecstudy.backends.numba.wisdom.Tuned.to_entry`), the plans are
described by :func:`vecstudy.backends.numba.planning.describe_plan`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from vecstudy import config

#: What the table's columns mean (printed under it).
LEGEND = (
    "ms: median per step, or per iteration of a descent; gain: model time / tuned time; "
    "copy ms: copying X into the other order"
)


def _plan_text(raw: object, parallel: bool) -> str:
    """A stored plan described, or ``?`` where a field the backend does not use is bad
    (the backend checks what it uses; a hand-edited file may hold anything else)."""
    from vecstudy.backends.numba.planning import Plan, describe_plan

    if not isinstance(raw, dict):
        return "?"
    # a field that is not an integer counts as 0: a walk does not use them all (tiles no
    # P, panels no T), and the backend checked those of the stored plan it uses
    mode, B, T, n_chunks, P = (
        v if isinstance(v, int) and not isinstance(v, bool) else 0
        for v in (raw.get(k) for k in ("mode", "B", "T", "n_chunks", "P"))
    )
    try:
        return describe_plan(Plan(mode, B, T, n_chunks, P, parallel))
    except (TypeError, ValueError, KeyError, OverflowError, ZeroDivisionError):
        return "?"


def _ms(value: object) -> float | None:
    """A stored time in ms, or None where it is absent or not a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value < float("inf") else None


def rows(entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One table row per thread count of a stored entry
    (:meth:`~vecstudy.backends.numba.wisdom.Tuned.to_entry`)."""
    md = entry.get("model")
    threads = entry.get("threads")
    for t, raw in sorted((threads if isinstance(threads, dict) else {}).items(),
                         key=lambda kv: int(kv[0])):  # fmt: skip
        v = raw if isinstance(raw, dict) else {}
        model_par = isinstance(md, dict) and md.get("parallel") is True and int(t) > 1
        yield {
            "shape": f"{entry['n_x']}x{entry['m']}",
            "dtype": entry["dtype"],
            "order": entry["order"],
            "kind": str(entry.get("kind", "step")),
            "threads": int(t),
            "model": _plan_text(md, model_par) if md is not None else "",
            "model_ms": _ms(v.get("model_ms")),
            "tuned": _plan_text(entry.get("plan"), v.get("parallel") is True),
            "tuned_ms": _ms(v.get("ms")),
            "copy_ms": _ms(v.get("copy_ms")),
        }


def format_table(entries_: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of stored entries: model plan and time, tuned plan and time,
    the margin (model time / tuned time) and, for descents, the copy into the other
    order.  Times: ms per step, or per iteration of a descent."""
    head = (
        "shape", "dtype", "order", "kind", "threads", "model plan", "ms", "tuned plan", "ms",
        "gain", "copy ms",
    )  # fmt: skip
    body = []
    for e in entries_:
        for r in rows(e):
            mm, tm, cm = r["model_ms"], r["tuned_ms"], r["copy_ms"]
            gain = f"{mm / tm:.2f}x" if mm and tm else "-"
            body.append(
                (r["shape"], r["dtype"], r["order"], r["kind"], str(r["threads"]), r["model"],
                 f"{mm:.3f}" if mm else "-", r["tuned"], f"{tm:.3f}" if tm else "-", gain,
                 f"{cm:.3f}" if cm else "-")
            )  # fmt: skip
    widths = [max(len(x[i]) for x in (head, *body)) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)).rstrip()
             for x in (head, *body)]  # fmt: skip
    return "\n".join(lines)


def busy_note(results: Sequence[dict[str, Any]]) -> str | None:
    """A warning line when the machine was busy while ``results`` were measured."""
    loads = [r["load"] for r in results if isinstance(r.get("load"), int | float)]
    cores = config.available_cores()
    if not loads or max(loads) < cores:
        return None
    return (
        f"note: load average up to {max(loads):.1f} on {cores} cores while measuring: other "
        "processes held the cores, which makes parallel plans lose and every figure noisy; "
        "tune again on a quiet machine"
    )


__all__ = ["LEGEND", "busy_note", "format_table", "rows"]
