"""The ``[dask]`` table of the config file, and the byte sizes its ``chunk`` is given in.

:func:`byte_size` reads dask's size grammar (``"64 MiB"``, ``"5kB"``) without importing
dask, so that a bad ``chunk`` is refused wherever settings are checked;
:func:`resolve_dask` gives each key of the table with its source.
"""

from __future__ import annotations

import functools
import math
from typing import Final

from vecstudy.config.file import FileTable, file_section
from vecstudy.config.ladder import Choice, resolve_setting
from vecstudy.errors import ConfigError
from vecstudy.escape import short

ENV_DASK_ADDRESS: Final = "VECSTUDY_DASK_ADDRESS"
ENV_DASK_CHUNK: Final = "VECSTUDY_DASK_CHUNK"
#: Keys of the ``[dask]`` table and their defaults (see :func:`resolve_dask`).
DASK_DEFAULTS: Final = {"address": None, "chunk": "128 MiB", "timeout": 10.0}


#: Units of a byte size, as :func:`dask.utils.parse_bytes` reads them (lower case).
BYTE_UNITS: Final = {
    **{u: 1000**k for k, u in enumerate(("b", "kb", "mb", "gb", "tb", "pb"))},
    **{u: 1024**k for k, u in enumerate(("b", "kib", "mib", "gib", "tib", "pib")) if k},
    **{u: 1000**k for k, u in enumerate(("", "k", "m", "g", "t", "p"))},
    **{u: 1024**k for k, u in enumerate(("", "ki", "mi", "gi", "ti", "pi")) if k},
}


def byte_size(text: str) -> int | None:
    """Bytes of ``"64 MiB"``, ``"5kB"``, ``"1e6"`` (dask's ``parse_bytes``), or None.

    The grammar of :func:`dask.utils.parse_bytes`, checked here without importing
    dask, so that a bad ``[dask] chunk`` is refused wherever settings are checked.
    A size that is not finite is None.

    >>> byte_size("64 MiB"), byte_size("5kB"), byte_size("MB"), byte_size("garbage")
    (67108864, 5000, 1000000, None)
    """
    s = text.replace(" ", "")
    if not any(ch.isdigit() for ch in s):
        s = "1" + s
    cut = len(s)
    while cut > 0 and s[cut - 1].isalpha():
        cut -= 1
    try:
        n = float(s[:cut]) * BYTE_UNITS[s[cut:].lower()]
    except (ValueError, KeyError):
        return None
    return int(n) if math.isfinite(n) else None


def check_dask(key: str, value: object, source: str) -> object:
    """Return ``value`` if it is a valid ``[dask]`` ``key``, else raise :class:`ConfigError`."""
    if key == "address" and value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigError(
            f"bad dask address {short(value)} from {source}; "
            "expected a string such as 'tcp://host:8786'"
        )
    if key == "chunk" and (
        isinstance(value, bool)
        or not isinstance(value, str | int)
        or (isinstance(value, int) and value < 1)
        or (isinstance(value, str) and (byte_size(value) or 0) < 1)
    ):
        raise ConfigError(
            f"bad dask chunk {short(value)} from {source}; "
            "expected a positive number of bytes or a string such as '64 MiB'"
        )
    if key == "timeout" and (
        isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e6
    ):
        raise ConfigError(
            f"bad dask timeout {short(value)} from {source}; expected a positive number of seconds"
        )
    return value


def resolve_dask() -> dict[str, Choice]:
    """The dask backend's settings, each with its source.

    ``address``
        Scheduler to connect to (``"tcp://host:8786"``) when no Dask client is active
        in the process; ``None``: start a local cluster.  ``VECSTUDY_DASK_ADDRESS``,
        then ``[dask] address``.
    ``chunk``
        Bytes of ``X`` per chunk when a NumPy ``X`` is split over the workers: an
        integer or a string such as ``"64 MiB"`` (default ``"128 MiB"``, as dask.array).
        ``VECSTUDY_DASK_CHUNK``, then ``[dask] chunk``.
    ``timeout``
        Seconds to wait for the scheduler at ``address`` (``[dask] timeout``).

    A config file's table looks like::

        [dask]
        address = "tcp://10.0.0.5:8786"
        chunk = "128 MiB"
        timeout = 10
    """
    table, path = file_section("dask")
    unknown = sorted(set(table) - set(DASK_DEFAULTS))
    if unknown:
        valid = ", ".join(DASK_DEFAULTS)
        raise ConfigError(
            f"config file {path}, table [dask]: unknown key {short(unknown[0])}; "
            f"valid keys are {valid}"
        )
    section = FileTable(table, lambda key: f"config file {path}, key 'dask.{key}'")
    envs = {"address": ENV_DASK_ADDRESS, "chunk": ENV_DASK_CHUNK}
    return {
        key: resolve_setting(
            check=functools.partial(check_dask, key),
            default=Choice(default, "default"),
            env_name=envs.get(key),
            env_blank_skipped=False,  # a blank address is an error, not "unset"
            file=lambda: section,
            file_key=key,
            check_default=True,
        )
        for key, default in DASK_DEFAULTS.items()
    }
