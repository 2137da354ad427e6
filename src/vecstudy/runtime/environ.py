"""Environment variables read on the path of every API call: :func:`get`.

``os.environ.get(name)`` runs five Python-level functions (the mapping's ``get``, its
``__getitem__``, the key's encoding, the value's decoding).  Right after a step that
streamed a large ``X`` through the caches, each of them runs cold, and one lookup costs
about 20 microseconds; an API call makes three (``VECSTUDY_CONFIG``, ``VECSTUDY_DTYPE``,
``VECSTUDY_THREADS``...).  On POSIX, CPython keeps the environment as a dict of bytes
inside ``os.environ`` (``os.environ._data``: the dict ``os.environ.get`` itself reads, and
every change through ``os.environ`` writes): :func:`get` looks there with the key
encoded once, and falls back to ``os.environ.get`` wherever that dict is not there
(Windows, another Python, an ``os.environ`` replaced by another mapping).
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

_ENCODING = sys.getfilesystemencoding()


@functools.lru_cache(maxsize=64)
def _key(name: str) -> bytes:
    return name.encode(_ENCODING, "surrogateescape")


def _own_dict() -> dict[bytes, bytes] | None:
    """``os.environ``'s own dict of bytes, where it has one (POSIX CPython), else None."""
    env: Any = os.environ
    data = getattr(env, "_data", None)
    if os.name != "posix" or not isinstance(env, os._Environ) or not isinstance(data, dict):
        return None
    return data


#: ``os.environ`` as imported and its dict (never rebound by ``os``); a replaced
#: ``os.environ`` is read through its own ``get``.
_ENVIRON, _DATA = os.environ, _own_dict()


def get(name: str) -> str | None:
    """``os.environ.get(name)``: the same value, read without the mapping's Python layer.

    >>> import os
    >>> os.environ["VECSTUDY_EXAMPLE"] = "float32"
    >>> get("VECSTUDY_EXAMPLE"), get("VECSTUDY_EXAMPLE_UNSET")
    ('float32', None)
    >>> del os.environ["VECSTUDY_EXAMPLE"]
    """
    if os.environ is not _ENVIRON or _DATA is None:
        return os.environ.get(name)
    value = _DATA.get(_key(name))
    return None if value is None else value.decode(_ENCODING, "surrogateescape")
