"""The measuring side of vecstudy, one concern per module.

``options``
    Names, parsing and defaults of a sweep's options.
``machine``
    What drives the numbers: CPU, governor, load, affinity, BLAS, threads, environment.
``results``
    The results file: format, validation, locking, atomic writes.
``timing``
    Warm-up, the budget, autorange, raw timings.
``stats``
    Summaries, confidence intervals of speedups, stability flags, significance tests.
``micro``
    The course's micro-studies (dot product, exp loop) and the read-bandwidth probe.
``sweep``
    Groups of cases timed in interleaved rounds, saved after every round.
``compare``
    Two results files, case by case: ratio, interval, test, verdict.

Nothing here is imported by ``import vecstudy``.
"""
