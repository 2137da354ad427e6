"""The measuring side of vecstudy, one concern per module.

``options``
    Names, parsing and defaults of a sweep's options.
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

The results file and the machine fingerprint live below, in :mod:`vecstudy.records`.

Nothing here is imported by ``import vecstudy``.
"""
