"""Numba's disk cache across real processes: each loads what the others compiled.

A cached kernel that called a ``parallel=True`` kernel was cached without the hook that
starts numba's thread pool when the callee came from the cache: with a fresh
``NUMBA_CACHE_DIR``, ``propagate`` in one process, ``optimize`` in a second (fine) and
``optimize`` in a third died of SIGSEGV at small, single-threaded shapes.  Here the
processes run in sequence and two at once on one fresh cache, with a different hash seed
each (numba's names of compiled kernels used to follow it), and their results must be
bitwise those of this process.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from vecstudy import backends

SRC = Path(__file__).resolve().parents[1] / "src"

#: Small single-threaded shapes (fused C, split C and sample-major F walks) and one just
#: over the threshold for threads, in C and F order.
CASES = [(2, 2, "C"), (2, 2, "F"), (1000, 50, "C"), (1000, 50, "F"), (40, 2000, "C")]

#: The child's work, also run in this process for the expected results.
_RUN = textwrap.dedent(
    """
    import numpy as np
    import vecstudy
    from vecstudy.learn.estimator import LogisticRegressionGD

    def problem(n_x, m, order):
        rng = np.random.default_rng(n_x * 7919 + m)
        X = np.asarray(rng.normal(size=(n_x, m)), order=order)
        Y = (np.arange(m) % 2 == 0).astype(np.float64).reshape(1, m)
        w = (rng.normal(size=(n_x, 1)) / np.sqrt(n_x))
        return w, 0.25, X, Y

    def run(step, n_x, m, order):
        w, b, X, Y = problem(n_x, m, order)
        if step == "propagate":
            grads, cost = vecstudy.propagate(w, b, X, Y, backend="numba")
            return [grads["dw"].ravel().tolist(), grads["db"], cost]
        if step == "optimize":
            params, grads, costs = vecstudy.optimize(
                w, b, X, Y, num_iterations=120, learning_rate=0.05, backend="numba"
            )
            return [params["w"].ravel().tolist(), params["b"], grads["db"], costs]
        est = LogisticRegressionGD(backend="numba", max_iter=60).fit(
            np.asarray(X.T, order=order), Y.ravel()
        )
        return [np.ravel(est.coef_).tolist(), float(np.ravel(est.intercept_)[0])]
    """
)
_CHILD = _RUN + textwrap.dedent(
    """
    import json, sys
    step, cases = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps([run(step, *case) for case in cases]))
    """
)


def _start(script: str, args: list[str], cache: Path, seed: int) -> subprocess.Popen[str]:
    """A fresh Python on ``cache`` as its NUMBA_CACHE_DIR, with hash seed ``seed``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env["NUMBA_CACHE_DIR"] = str(cache)
    env["PYTHONHASHSEED"] = str(seed)
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _child(step: str, cache: Path, seed: int) -> subprocess.Popen[str]:
    return _start(_CHILD, [step, json.dumps(CASES)], cache, seed)


def _output(proc: subprocess.Popen[str], what: str) -> str:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, f"{what}: exit code {proc.returncode}\n{err[-3000:]}"
    return out


def _result(proc: subprocess.Popen[str], what: str) -> Any:
    return json.loads(_output(proc, what))


def _expected(step: str) -> Any:
    """What the child prints, computed in this process (a JSON round trip keeps floats exact)."""
    namespace: dict[str, Any] = {}
    exec(compile(_RUN, "<child>", "exec"), namespace)  # the child's own code
    return json.loads(json.dumps([namespace["run"](step, *case) for case in CASES]))


@pytest.mark.slow
def test_processes_in_sequence_share_one_fresh_cache(tmp_path: Path) -> None:
    """propagate, optimize, optimize (the one that crashed), fit: each a new process."""
    cache = tmp_path / "numba-cache"
    steps = [("propagate", 11), ("optimize", 12), ("optimize", 13), ("fit", 14), ("fit", 15)]
    got = [_result(_child(step, cache, seed), f"{step}, hash seed {seed}") for step, seed in steps]
    assert any(cache.rglob("*.nbi")), "nothing was cached: the test would prove nothing"
    assert got[0] == _expected("propagate")
    assert got[1] == got[2] == _expected("optimize")
    assert got[3] == got[4] == _expected("fit")


@pytest.mark.slow
def test_two_processes_at_once_on_one_fresh_cache(tmp_path: Path) -> None:
    """Two processes compile and write the same entries at once; a third loads them all."""
    cache = tmp_path / "numba-cache"
    first, second = _child("propagate", cache, 21), _child("optimize", cache, 22)
    propagated = _result(first, "propagate running beside optimize")
    optimized = _result(second, "optimize running beside propagate")
    assert propagated == _expected("propagate")
    assert optimized == _expected("optimize")
    assert _result(_child("optimize", cache, 23), "optimize after both") == optimized
    assert _result(_child("propagate", cache, 24), "propagate after both") == propagated


def _kernels() -> dict[str, Any]:
    nb = backends.load("numba")
    return {n: v for n, v in vars(nb).items() if hasattr(v, "targetoptions")}


def _called(fn: Any, kernels: dict[str, Any]) -> set[str]:
    """Kernels a kernel calls, looking through the ``inline`` helpers it inlines."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn.py_func)))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in kernels}
    names.discard(fn.py_func.__name__)
    for name in list(names):
        if kernels[name].targetoptions.get("inline") == "always":
            names |= _called(kernels[name], kernels)
    return names


def test_no_kernel_calls_a_parallel_kernel() -> None:
    """Only Python calls ``parallel=True`` kernels: a cached caller of one segfaults."""
    kernels = _kernels()
    if not kernels:
        pytest.skip("the JIT is disabled")
    parallel = {n for n, k in kernels.items() if k.targetoptions.get("parallel")}
    assert {"_sums_parallel", "_descend_parallel", "_predict"} <= parallel
    for name, kernel in kernels.items():
        assert not _called(kernel, kernels) & parallel, name


def test_kernel_names_do_not_follow_the_hash_seed(tmp_path: Path) -> None:
    """The ABI tag numba puts in a kernel's name is the same in every process."""
    script = textwrap.dedent(
        """
        import numpy as np
        from vecstudy.backends import numba as nb
        nb._dot_loop(np.ones(3), np.ones(3))
        print(nb._dot_loop.overloads[nb._dot_loop.signatures[0]].fndesc.mangled_name)
        """
    )
    # a cache each, so that each process compiles and names the kernel itself
    seeds = (1, 2)  # two orders of the same set of flags
    procs = [_start(script, [], tmp_path / f"cache-{seed}", seed) for seed in seeds]
    names = [_output(p, f"hash seed {s}").strip() for p, s in zip(procs, seeds, strict=True)]
    assert names[0].startswith("_ZN"), names
    assert len(set(names)) == 1, names
