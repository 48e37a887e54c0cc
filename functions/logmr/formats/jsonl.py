"""JSON lines: ``jsonl`` (aliases ``json``, ``ndjson``).

A line is a record when it is UTF-8 (a leading BOM is ignored) and
``json.loads`` gives an object (``dict``); anything else - invalid UTF-8,
invalid JSON, a JSON array/string/number, an empty line, nesting too deep for
the parser - is malformed.

Fields come from top-level keys. Options name the keys; each option is a
comma-separated list of candidate keys and the first key present with a
non-null value wins:

========== ================================ ====================================
option     default                          field
========== ================================ ====================================
time_field ``timestamp,time,@timestamp,ts`` ``epoch``, ``local_time``
level_field ``level``                       ``level``
message_field ``message``                   ``message``
========== ================================ ====================================

Fixed keys: ``client`` from ``client``, ``client_ip``, ``src_ip`` or
``remote_addr`` (first present); ``status``, ``path``, ``method``, ``bytes``,
``referer``, ``user_agent``, ``vhost``, ``host``, ``program``, ``logger`` from
the key of the same name. There is no ``latency`` field (JSON logs disagree on
its unit).

Values: text fields give the ``str`` as written; a number is given as its
decimal text (``"status": 404`` -> ``"404"``); other JSON types (objects,
arrays, booleans, null) give ``None``. ``status`` must be three digits (else
``None``). ``bytes`` gives an ``int`` from a non-negative integer or a digit
string (``"-"`` -> 0). Times: an ISO 8601 string (``Z`` or
an offset, or none = UTC) or a number / numeric string of epoch *seconds*;
``local_time`` is the wall-clock time as written (offset not applied), and
equals ``epoch`` for numbers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from logmr.errors import InvalidParameterError
from logmr.formats.base import MAX_RESPONSE_SIZE, MAX_RESPONSE_SIZE_DIGITS, Format, Getter
from logmr.formats.timeparse import parse_iso

_loads = json.loads
_BOM = b"\xef\xbb\xbf"
_CLIENT_KEYS = ("client", "client_ip", "src_ip", "remote_addr")
_SAME_NAMED = (
    "path",
    "method",
    "referer",
    "user_agent",
    "vhost",
    "host",
    "program",
    "logger",
)


#: a ``\\uD800``-``\\uDFFF`` escape: the only way a lone surrogate gets into a
#: decoded line (UTF-8 itself cannot hold one)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def _escaped(text: Any) -> Any:
    """A string with its lone surrogates as their escapes (``\\ud800``), as
    invalid UTF-8 is shown as ``\\xNN``: text every store and file can hold."""
    if isinstance(text, str):
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _without_lone_surrogates(record: dict[str, Any]) -> dict[str, Any]:
    """The record's top-level keys and string values (the fields) with lone
    surrogates escaped; a pair (one character) is left as it is."""
    return {_escaped(key): _escaped(value) for key, value in record.items()}


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _first(record: dict[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        value = record.get(key)
        if value is not None:
            return value
    return None


def _text_getter(keys: Sequence[str]) -> Getter:
    if len(keys) == 1:
        key = keys[0]
        return lambda r: _text(r.get(key))
    return lambda r: _text(_first(r, keys))


def _status(value: Any) -> str | None:
    text = _text(value)
    if text is not None and len(text) == 3 and text.isascii() and text.isdigit():
        return text
    return None


def _size(value: Any) -> int | None:
    size: int | None = None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        size = value
    elif isinstance(value, float):
        size = int(value) if value.is_integer() and 0 <= value <= MAX_RESPONSE_SIZE else None
    elif isinstance(value, str):
        if value == "-":
            return 0
        if value.isascii() and value.isdigit() and len(value) <= MAX_RESPONSE_SIZE_DIGITS:
            size = int(value)
    return size if size is not None and 0 <= size <= MAX_RESPONSE_SIZE else None


def _time(value: Any, apply_offset: bool) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    if not isinstance(value, str):
        return None
    parsed = parse_iso(value)
    if parsed is None:
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    local, offset = parsed
    return local - offset if apply_offset and offset is not None else local


def _time_getter(keys: Sequence[str], apply_offset: bool) -> Callable[[dict[str, Any]], Any]:
    return lambda r: _time(_first(r, keys), apply_offset)


def _keys(option: str, text: str) -> tuple[str, ...]:
    keys = tuple(key.strip() for key in text.split(",") if key.strip())
    if not keys:
        raise InvalidParameterError(f"format jsonl: option {option!r} names no key")
    return keys


class JsonLines(Format):
    name = "jsonl"
    aliases = ("json", "ndjson")
    description = "one JSON object per line (options time_field, level_field, message_field)"
    option_defaults: ClassVar[Mapping[str, str]] = {
        "time_field": "timestamp,time,@timestamp,ts",
        "level_field": "level",
        "message_field": "message",
    }

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        super().__init__(options)
        times = _keys("time_field", self.options["time_field"])
        self._getters: dict[str, Getter] = {
            "client": _text_getter(_CLIENT_KEYS),
            "status": lambda r: _status(r.get("status")),
            "bytes": lambda r: _size(r.get("bytes")),
            "level": _text_getter(_keys("level_field", self.options["level_field"])),
            "message": _text_getter(_keys("message_field", self.options["message_field"])),
            "epoch": _time_getter(times, apply_offset=True),
            "local_time": _time_getter(times, apply_offset=False),
        }
        for field in _SAME_NAMED:
            self._getters[field] = _text_getter((field,))

    def parse(self, line: bytes) -> dict[str, Any] | None:
        if line[:3] == _BOM:
            line = line[3:]
        try:
            value = _loads(line.decode("utf-8"))
        except (ValueError, RecursionError):
            return None
        if not isinstance(value, dict):
            return None
        if _SURROGATE_ESCAPE.search(line):
            return _without_lone_surrogates(value)
        return value

    def getters(self) -> Mapping[str, Getter]:
        return self._getters
