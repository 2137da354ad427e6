"""The main-script guard: no local cluster is started from a script its workers would re-run.

Worker processes of a local cluster are spawned and re-import the ``__main__`` script;
a call at its top level that is not under ``if __name__ == "__main__":`` would start
clusters recursively.  :func:`refuse_spawned_start` refuses it at once, with what to do
instead; :func:`unguarded_main_call` finds such a call by reading the script.
"""

from __future__ import annotations

import ast
import multiprocessing
import sys
from pathlib import Path
from types import FrameType

from vecstudy.errors import ClusterStartError

_GUARD_ADVICE = (
    'put the script\'s work under `if __name__ == "__main__":`, or run on an in-process '
    "cluster: `from distributed import Client; client = Client(processes=False)` first "
    "(or set [dask] address to a running scheduler)"
)


def _is_main_test(test: ast.expr) -> bool:
    """Whether ``test`` is ``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(consts) == 1


def unguarded_main_call(frame: FrameType | None = None) -> tuple[str, int] | None:
    """``(script, line)`` when this call comes from a ``__main__`` script's unguarded top level.

    Worker processes of a local cluster are spawned (dask's default
    ``distributed.worker.multiprocessing-method``), and a spawned process first imports
    the parent's ``__main__`` script again.  A call at its top level, not under ``if
    __name__ == "__main__":``, then runs again in every worker and tries to start a
    cluster there: the workers die and distributed reports "Nanny failed to start".
    Found by reading the script (its syntax tree); ``None`` when it cannot be read, when
    the call is guarded, or when workers are forked.
    """
    import dask
    import distributed  # noqa: F401  (its configuration defaults)

    method = dask.config.get("distributed.worker.multiprocessing-method", "spawn")
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if method not in ("spawn", "forkserver") or main is None or not path:
        return None
    f: FrameType | None = sys._getframe(1) if frame is None else frame
    while f is not None and not (f.f_globals is vars(main) and f.f_code.co_name == "<module>"):
        f = f.f_back
    if f is None:  # not called from the script's top level (an interactive session, ...)
        return None
    line = f.f_lineno
    try:
        tree = ast.parse(Path(path).read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_test(node.test):
            end = node.end_lineno if node.end_lineno is not None else node.lineno
            if node.lineno <= line <= end:
                return None
    return str(path), int(line)


def refuse_spawned_start() -> None:
    """Refuse to start a local cluster from a script that its workers would run again."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        # in a worker process while it imports the parent's script
        raise ClusterStartError(
            "the dask backend was called while a worker process was importing the main "
            f"script (its top level runs again in every worker); {_GUARD_ADVICE}"
        )
    found = unguarded_main_call()
    if found is not None:
        script, line = found
        raise ClusterStartError(
            f"the dask backend cannot start its local cluster from {Path(script).name}, "
            f"line {line}: worker processes re-import the script and would run this call "
            f"again; {_GUARD_ADVICE}"
        )
