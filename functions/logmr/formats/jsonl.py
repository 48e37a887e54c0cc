"""JSON lines: ``jsonl`` (aliases ``json``, ``ndjson``).

A line is a record when it is UTF-8 (a leading BOM is ignored) and
``json.loads`` gives an object (``dict``); anything else - invalid UTF-8,
invalid JSON, a JSON array/string/number, an empty line, nesting too deep for
the parser - is malformed.

Fields come from keys, a key given by its dotted path (``log.level`` is the
key ``log.level`` if the object has one, else ``level`` inside ``log``;
``t.$date`` is ``$date`` inside ``t``). Options name the keys of the
canonical fields; each option is a comma-separated list of candidate keys and
the first key present with a non-null value wins. The defaults know the
widespread structured loggers without being told:

============= ==================================== ==================================
option        default                              field
============= ==================================== ==================================
time_field    ``timestamp,time,@timestamp,ts,``    ``epoch``, ``local_time``
              ``t.$date``
level_field   ``level,log.level,severity,s``       ``level``
message_field ``message,msg,event``                ``message``
============= ==================================== ==================================

(MongoDB: ``s``, ``t.$date``, ``msg``, ``c``; Elastic Common Schema:
``log.level``, ``@timestamp``, ``message``; Bunyan and Pino: numeric
``level``, ``time``, ``msg``; zap: ``level``, ``ts``, ``msg``; logrus:
``level``, ``time``, ``msg``; structlog: ``level``, ``timestamp``,
``event``.) ``describe_sample`` says which keys a sample used and which
logger that looks like (what ``auto`` reports as its variant).

Fixed keys: ``client`` from ``client``, ``client_ip``, ``src_ip`` or
``remote_addr`` (first present); ``logger`` from ``logger``, ``log.logger``,
``logger_name`` or ``c``; ``host`` from ``host``, ``hostname`` or
``host.name``; ``status``, ``path``, ``method``, ``bytes``, ``referer``,
``user_agent``, ``vhost``, ``program`` from the key of the same name. There
is no ``latency`` field (JSON logs disagree on its unit).

Values: text fields give the ``str`` as written; a number is given as its
decimal text (``"status": 404`` -> ``"404"``); other JSON types (objects,
arrays, booleans, null) give ``None``. A numeric ``level`` of Bunyan and Pino
(10, 20, 30, 40, 50, 60) gives its name (``trace``, ``debug``, ``info``,
``warn``, ``error``, ``fatal``); MongoDB's ``s`` is given as written (``I``,
``W``, ``E``, ``F``, ``D1``..``D5``). ``status`` must be three digits (else
``None``). ``bytes`` gives an ``int`` from a non-negative integer or a digit
string (``"-"`` -> 0). Times: an ISO 8601 string (``Z`` or an offset, or none
= UTC) or a number / numeric string of epoch seconds (a number of 10^11 or
more is taken as milliseconds, 10^14 or more as microseconds, 10^17 or more as
nanoseconds: Pino writes milliseconds); ``local_time`` is the wall-clock time
as written (offset not applied), and equals ``epoch`` for numbers.

**Any key** is a field by its path too (``getter("s")``, ``getter("t.$date")``,
``getter("ctx")``, ``getter("attr.remote")``), typed as JSON gives it: a
string, an ``int``/``float``, a ``bool``; an object or array as its compact
JSON text; ``None`` when absent or null. ``@message`` is the line as text;
``@timestamp`` is ``epoch``.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from logmr.errors import InvalidParameterError
from logmr.formats.base import (
    CANONICAL_FIELDS,
    MAX_RESPONSE_SIZE,
    MAX_RESPONSE_SIZE_DIGITS,
    SPECIAL_FIELDS,
    Format,
    Getter,
    line_text,
)
from logmr.formats.timeparse import parse_iso

_loads = json.loads
_BOM = b"\xef\xbb\xbf"
_CLIENT_KEYS = ("client", "client_ip", "src_ip", "remote_addr")
_LOGGER_KEYS = ("logger", "log.logger", "logger_name", "c")
_HOST_KEYS = ("host", "hostname", "host.name")
_SAME_NAMED = (
    "path",
    "method",
    "referer",
    "user_agent",
    "vhost",
    "program",
)
#: where ``parse`` keeps the line (for ``@message``): a key with a lone
#: surrogate, which no parsed record holds (``_without_lone_surrogates``)
_LINE_KEY = "\udc00line"
#: Bunyan's and Pino's numeric levels
NUMERIC_LEVELS = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}
#: the loggers a sample's keys point to: (keys used, logger), first match wins
_LOGGERS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"level:s"}), "MongoDB"),
    (frozenset({"time:t.$date"}), "MongoDB"),
    (frozenset({"level:log.level"}), "Elastic Common Schema"),
    (frozenset({"level:numeric"}), "Bunyan/Pino"),
    (frozenset({"time:ts"}), "zap"),
    (frozenset({"message:event"}), "structlog"),
    (frozenset({"time:time", "message:msg"}), "logrus"),
    (frozenset({"time:@timestamp"}), "Elastic Common Schema"),
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


Lookup = Callable[[dict[str, Any]], Any]


def lookup(key: str) -> Lookup:
    """The value at ``key`` of a record: the top-level key itself, else, for a
    dotted key, the path through nested objects (``None`` when absent)."""
    if "." not in key:
        return lambda r: r.get(key)
    parts = key.split(".")

    def get(record: dict[str, Any]) -> Any:
        value: Any = record.get(key)
        if value is not None:
            return value
        value = record
        for part in parts:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    return get


def _first_of(keys: Sequence[str]) -> Lookup:
    """The first non-null value among ``keys``."""
    lookups = [lookup(key) for key in keys]
    if len(lookups) == 1:
        return lookups[0]

    def first(record: dict[str, Any]) -> Any:
        for get in lookups:
            value = get(record)
            if value is not None:
                return value
        return None

    return first


def _which(keys: Sequence[str], record: dict[str, Any]) -> str | None:
    """The first of ``keys`` with a non-null value in ``record``."""
    return next((key for key in keys if lookup(key)(record) is not None), None)


def _text_getter(keys: Sequence[str]) -> Getter:
    get = _first_of(keys)
    return lambda r: _text(get(r))


def _level(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value in NUMERIC_LEVELS:
        return NUMERIC_LEVELS[value]
    return _text(value)


def _json_value(value: Any) -> Any:
    """A value at a key path as a field gives it: scalars as JSON gives them,
    an object or array as its compact JSON text."""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


def _line(record: dict[str, Any]) -> str:
    return line_text(record[_LINE_KEY])


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
        return _seconds(float(value))
    if not isinstance(value, str):
        return None
    parsed = parse_iso(value)
    if parsed is None:
        try:
            number = float(value)
        except ValueError:
            return None
        return _seconds(number)
    local, offset = parsed
    return local - offset if apply_offset and offset is not None else local


#: an epoch number this large or larger is in a finer unit than seconds
_FINER_UNIT = 1e11


def _seconds(number: float) -> float | None:
    """Epoch seconds of an epoch number in seconds, or (10^11 and over: past
    the year 5000 in seconds) milli-, micro- or nanoseconds."""
    if not math.isfinite(number):
        return None
    for _ in range(3):
        if abs(number) < _FINER_UNIT:
            break
        number /= 1000
    return number


def _time_getter(keys: Sequence[str], apply_offset: bool) -> Callable[[dict[str, Any]], Any]:
    get = _first_of(keys)
    return lambda r: _time(get(r), apply_offset)


def _keys(option: str, text: str) -> tuple[str, ...]:
    keys = tuple(key.strip() for key in text.split(",") if key.strip())
    if not keys:
        raise InvalidParameterError(f"format jsonl: option {option!r} names no key")
    return keys


class JsonLines(Format):
    name = "jsonl"
    aliases = ("json", "ndjson")
    description = (
        "one JSON object per line, any key by its dotted path"
        " (options time_field, level_field, message_field)"
    )
    option_defaults: ClassVar[Mapping[str, str]] = {
        "time_field": "timestamp,time,@timestamp,ts,t.$date",
        "level_field": "level,log.level,severity,s",
        "message_field": "message,msg,event",
    }

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        super().__init__(options)
        self._keys = {
            "time": _keys("time_field", self.options["time_field"]),
            "level": _keys("level_field", self.options["level_field"]),
            "message": _keys("message_field", self.options["message_field"]),
        }
        levels = _first_of(self._keys["level"])
        self._getters: dict[str, Getter] = {
            "client": _text_getter(_CLIENT_KEYS),
            "status": lambda r: _status(r.get("status")),
            "bytes": lambda r: _size(r.get("bytes")),
            "level": lambda r: _level(levels(r)),
            "message": _text_getter(self._keys["message"]),
            "epoch": _time_getter(self._keys["time"], apply_offset=True),
            "local_time": _time_getter(self._keys["time"], apply_offset=False),
            "logger": _text_getter(_LOGGER_KEYS),
            "host": _text_getter(_HOST_KEYS),
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
        record: dict[str, Any] = value
        if _SURROGATE_ESCAPE.search(line):
            record = _without_lone_surrogates(record)
        record[_LINE_KEY] = line
        return record

    def getters(self) -> Mapping[str, Getter]:
        return self._getters

    def line_getter(self) -> Getter:
        return _line

    def field_getter(self, field: str) -> Getter | None:
        """``@timestamp``, ``@message``, else any key path (``s``, ``t.$date``)
        but a canonical field's name: a canonical field keeps its meaning, so
        ``latency`` is not the key ``latency`` of some records."""
        found = super().field_getter(field)
        if found is not None or field in SPECIAL_FIELDS or field in CANONICAL_FIELDS:
            return found
        if not field or "" in field.split("."):
            return None
        get = lookup(field)
        return lambda r: _json_value(get(r))

    def describe_sample(self, records: list[Any]) -> str:
        """The keys the sample's level, time and message came from (the most
        frequent of each), and the logger they point to."""
        used: list[str] = []
        seen: set[str] = set()
        for field in ("level", "time", "message"):
            counts = Counter(
                key
                for key in (_which(self._keys[field], record) for record in records)
                if key is not None
            )
            if not counts:
                continue
            key = counts.most_common(1)[0][0]
            used.append(f"{field} from {key!r}")
            seen.add(f"{field}:{key}")
            if field == "level" and any(
                isinstance(lookup(key)(record), int) for record in records[:50]
            ):
                seen.add("level:numeric")
        if not used:
            return "no level, time or message key"
        logger = next((name for keys, name in _LOGGERS if keys <= seen), None)
        return ", ".join(used) + (f" ({logger})" if logger else "")
