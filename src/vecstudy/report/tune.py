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


def rows(entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One table row per thread count of a stored entry
    (:meth:`~vecstudy.backends.numba.wisdom.Tuned.to_entry`)."""
    from vecstudy.backends.numba.planning import Plan, describe_plan

    fields = ("mode", "B", "T", "n_chunks", "P")
    pl = Plan(*(int(entry["plan"][k]) for k in fields), False)  # type: ignore[call-arg,arg-type]
    md = entry.get("model")
    for t, v in sorted(entry.get("threads", {}).items(), key=lambda kv: int(kv[0])):
        row = {
            "shape": f"{entry['n_x']}x{entry['m']}",
            "dtype": entry["dtype"],
            "order": entry["order"],
            "kind": str(entry.get("kind", "step")),
            "threads": int(t),
            "model": "",
            "model_ms": v.get("model_ms"),
            "tuned": describe_plan(pl._replace(parallel=bool(v["parallel"]))),
            "tuned_ms": v.get("ms"),
            "copy_ms": v.get("copy_ms"),
        }
        if isinstance(md, dict):
            par = bool(md.get("parallel")) and int(t) > 1
            mp = Plan(*(int(md[k]) for k in fields), par)  # type: ignore[call-arg,arg-type]
            row["model"] = describe_plan(mp)
        yield row


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
