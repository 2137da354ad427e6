"""The measuring side of vecstudy, one concern per module; calling it runs the study.

``vecstudy.study(shapes=None, backends=None, threads=None, ..., output_dir=None)``
runs the speed study's grid from Python and returns a
:class:`~vecstudy.study.view.StudyResult` (see :func:`vecstudy.study.face.study`);
``vecstudy study`` on the command line does the same.  The package stays a
package: ``from vecstudy.study import sweep`` and ``import vecstudy.study.sweep``
work as usual.

``options``
    Names, parsing and defaults of a sweep's options.
``timing``
    Warm-up, the time estimate and the budget (the harness itself, autorange and
    interleaved rounds, is :mod:`vecstudy.runtime.timing`).
``stats``
    Summaries, confidence intervals of speedups, stability flags, significance tests.
``micro``
    The course's micro-studies (dot product, exp loop) and the read-bandwidth probe.
``sweep``
    Groups of cases timed in interleaved rounds, saved after every round.
``compare``
    Two results files, case by case: ratio, interval, test, verdict.
``face``
    :func:`vecstudy.compare_backends` and :func:`vecstudy.study`: the study from Python.
``view``
    What they return: :class:`~vecstudy.study.view.StudyResult` (frame, tables, figure, files).

The results file and the machine fingerprint live below, in :mod:`vecstudy.records`.

Nothing here is imported by ``import vecstudy``.
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    """This package, callable: ``vecstudy.study(...)`` is :func:`vecstudy.study.face.study`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from vecstudy.study.face import study

        return study(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:
        from vecstudy.study.face import study

        return inspect.signature(study)


sys.modules[__name__].__class__ = _CallableModule
