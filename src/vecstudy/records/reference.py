"""The committed reference report: recognised by its note, so that nothing writes over it.

``reports/report.md`` is written with ``--note 'Reference report from ...'``, which
``report.md`` shows as a quoted line near its top.  A command that would replace a
``report.md`` without being told where to write (``vecstudy report`` without
``--output-dir``, :meth:`vecstudy.study.view.StudyResult.save`) first asks
:func:`is_reference_report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

#: How the reference report's note line begins (the note is quoted: ``> ``).
REFERENCE_NOTE: Final = "> Reference report"
#: Lines of ``report.md`` looked at (its title, a blank line, the note).
HEAD_LINES: Final = 5


def is_reference_report(path: Path) -> bool:
    """Whether ``path`` is a report.md whose note marks it as the committed reference.

    A file that cannot be read is not one.

    >>> is_reference_report(Path("no/such/report.md"))
    False
    """
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            head = [f.readline() for _ in range(HEAD_LINES)]
    except OSError:
        return False
    return any(line.startswith(REFERENCE_NOTE) for line in head)
