"""Sizes as people write them (``20MB``, ``1.5GiB``): the CLI's options and the
generator's ``--size``."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from logmr.errors import InvalidParameterError

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE_RE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]*)\s*")


def parse_size(text: str) -> int:
    """Bytes in ``text``: ``"100"``, ``"20MB"`` (10**6), ``"512KiB"`` (2**10), ``"1.5GB"``.

    Units are case-insensitive: B, KB, MB, GB, TB (powers of 1000) and KiB,
    MiB, GiB, TiB (powers of 1024). The result must be a whole number of bytes.
    Raises :class:`InvalidParameterError` otherwise.
    """
    if not isinstance(text, str):
        raise InvalidParameterError(f"invalid size {text!r}: expected a string such as '20MB'")
    match = _SIZE_RE.fullmatch(text)
    unit = _SIZE_UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise InvalidParameterError(
            f"invalid size {text!r}: expected a non-negative number with an optional unit "
            "(B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 20MB"
        )
    try:
        value = Decimal(match.group(1)) * unit
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise InvalidParameterError(f"invalid size {text!r}") from exc
    if value != value.to_integral_value():
        raise InvalidParameterError(f"invalid size {text!r}: not a whole number of bytes")
    return int(value)
