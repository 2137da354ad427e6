"""``LogisticRegressionGD.fit`` on the breast-cancer data: the issue's speed target.

The bundled breast-cancer data (569 rows, 30 features), split as ``vecstudy train``
splits it (stratified, seed 0, 20% held out: 456 training rows), standardized with
the training rows' statistics; 2000 iterations at learning rate 0.5.  Every fit is
warmed up in ``setup`` (Numba compiles once, outside the timing).

asv times ``fit`` per backend and dtype and tracks the test accuracy.  Run as a
script, it prints the comparison the target asks for (numba at least 3x faster
than numpy), timing the backends interleaved (A B A B ...) with a bootstrap
interval on the ratio of medians::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.bench_estimator
"""

from __future__ import annotations

import argparse
import functools
import time
from typing import Any

import numpy as np

from .common import BACKENDS, DTYPES, THREADS, ThreadSetting, load

ITERATIONS = 2000
LEARNING_RATE = 0.5


@functools.lru_cache(maxsize=1)
def breast_cancer() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardized ``(X_train, X_test, y_train, y_test)``: (456, 30), (113, 30), labels 0/1."""
    from vecstudy.learn import train

    training = train.prepare(train.read_table(train.example_path()), train.EXAMPLE_TARGET)
    Xs = training.scaler.transform(training.table.X)
    tr, te = training.train_rows, training.test_rows
    y = training.table.y
    return Xs[tr], Xs[te], y[tr], y[te]


def estimator(backend: str, dtype: str) -> Any:
    """An unfitted LogisticRegressionGD; NotImplementedError (asv: skip) without scikit-learn."""
    try:
        from vecstudy.learn.estimator import LogisticRegressionGD
    except ImportError as exc:
        raise NotImplementedError(f"scikit-learn is not installed: {exc}") from exc
    return LogisticRegressionGD(
        backend=backend, dtype=dtype, max_iter=ITERATIONS, learning_rate=LEARNING_RATE
    )


class FitBreastCancer:
    """``fit`` for 2000 iterations on 456 x 30 standardized breast-cancer rows."""

    params = (BACKENDS, DTYPES, THREADS)
    param_names = ("backend", "dtype", "threads")
    timeout = 300

    def setup(self, backend: str, dtype: str, threads: int) -> None:
        self.threads = ThreadSetting()  # before any skip: asv calls teardown after one
        if backend == "python":
            raise NotImplementedError("the python loop needs about a minute per fit here")
        load(backend)
        self.threads.enter(threads)
        self.X, self.X_test, self.y, self.y_test = breast_cancer()
        self.clf = estimator(backend, dtype)
        self.clf.fit(self.X, self.y)  # compile / warm up

    def teardown(self, backend: str, dtype: str, threads: int) -> None:
        self.threads.exit()

    def time_fit(self, backend: str, dtype: str, threads: int) -> None:
        self.clf.fit(self.X, self.y)

    def track_test_accuracy(self, backend: str, dtype: str, threads: int) -> float:
        return float(self.clf.score(self.X_test, self.y_test))

    track_test_accuracy.unit = "fraction correct"  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- script
def _ratio_interval(slow: np.ndarray, fast: np.ndarray) -> tuple[float, float]:
    """95% percentile-bootstrap interval of median(slow) / median(fast) (scipy.stats)."""
    from scipy.stats import bootstrap

    res = bootstrap(
        (slow, fast),
        lambda a, b, axis=-1: np.median(a, axis=axis) / np.median(b, axis=axis),
        vectorized=True,
        method="percentile",
        n_resamples=2000,
        random_state=np.random.default_rng(0),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed fits per backend")
    parser.add_argument("--threads", default="1", help="threads for Numba and BLAS (or 'all')")
    parser.add_argument("--dtype", default="float64", choices=DTYPES)
    args = parser.parse_args(argv)

    from sklearn.linear_model import LogisticRegression

    from vecstudy.records.machine import machine_info
    from vecstudy.runtime.threads import limit_threads, thread_info
    from vecstudy.study.options import parse_threads

    threads = parse_threads(args.threads, "--threads")[0]
    X, X_test, y, y_test = breast_cancer()
    names = [b for b in ("numba", "numpy") if b in BACKENDS]
    fits = {name: estimator(name, args.dtype).set_params(threads=threads) for name in names}
    reference = LogisticRegression(C=np.inf, max_iter=10_000)
    samples: dict[str, list[float]] = {name: [] for name in [*names, "scikit-learn"]}
    with limit_threads(threads, numba=True):
        info = thread_info()
        for clf in fits.values():
            clf.fit(X, y)  # compile / warm up
        reference.fit(X, y)
        for _ in range(args.repeats):  # interleaved: numba, numpy, scikit-learn, numba, ...
            for name, clf in [*fits.items(), ("scikit-learn", reference)]:
                t0 = time.perf_counter()
                clf.fit(X, y)
                samples[name].append(time.perf_counter() - t0)

    mach = machine_info()
    print(f"machine: {mach['cpu']}, {mach['cores']} cores; load average {mach.get('load_average')}")
    blas = ", ".join(f"{p['library']} {p['threads']}" for p in info.get("blas", []))
    print(f"threads: {threads} (Numba {info.get('numba_threads')}; BLAS {blas or 'n/a'})")
    print(
        f"data: breast cancer, {X.shape[0]} x {X.shape[1]} training rows, standardized; "
        f"{ITERATIONS} iterations, learning rate {LEARNING_RATE}, {args.dtype}; "
        f"{args.repeats} fits each, interleaved"
    )
    print(f"{'fit':<32} {'median ms':>10} {'min ms':>8} {'test acc %':>11}")
    for name, times in samples.items():
        clf = fits.get(name, reference)
        label = f"LogisticRegressionGD({name})" if name in fits else "LogisticRegression(C=inf)"
        s = np.array(times) * 1e3
        acc = 100 * clf.score(X_test, y_test)
        print(f"{label:<32} {np.median(s):>10.2f} {s.min():>8.2f} {acc:>11.2f}")
    if {"numba", "numpy"} <= set(fits):
        slow, fast = np.array(samples["numpy"]), np.array(samples["numba"])
        low, high = _ratio_interval(slow, fast)
        ratio = np.median(slow) / np.median(fast)
        verdict = "met" if low >= 3 else ("missed" if high < 3 else "undecided (noisy)")
        print(
            f"numba vs numpy fit: {ratio:.2f}x faster (95% bootstrap interval {low:.2f}x to "
            f"{high:.2f}x); target >= 3x: {verdict}"
        )


if __name__ == "__main__":
    main()
