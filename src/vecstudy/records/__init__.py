"""What a measurement leaves behind: the results file and the machine it ran on.

- :mod:`vecstudy.records.results`: the results format (reader, locked writer, atomic writes);
- :mod:`vecstudy.records.machine`: the fingerprint of the machine a run measured.
- :mod:`vecstudy.records.reference`: the committed reference report, never written over.

Below :mod:`vecstudy.auto` and :mod:`vecstudy.study`: nothing here imports either, so
``backend="auto"`` can read past measurements without the measuring side.
"""
