"""Application logs with a level: ``applog`` (aliases ``log4j``, ``app``).

A line is a record when it has one of these layouts (``TS`` is
``YYYY-MM-DD HH:MM:SS`` with ``T`` or a space, an optional ``,fff``/``.fff``
fraction and an optional ``Z``/``+hh:mm``/``+hhmm``; ``LEVEL`` is one of
TRACE DEBUG INFO WARN WARNING ERROR FATAL CRITICAL SEVERE in any case, and
``level`` gives it as written)::

    [TS] LEVEL msg (kafka.log.Log)                     Kafka (logger = the class in
                                                       trailing parentheses, if any)
    [TS] [LEVEL] msg       [TS] env.LEVEL: msg         other bracketed-time layouts
    TS LEVEL [thread] com.x.Y - msg                    log4j / logback
    TS [thread] LEVEL com.x.Y - msg                    log4j, thread first
    TS LEVEL Y:42 - msg                                log4j %c{1}:%L (logger = Y)
    TS  INFO 12345 --- [main] o.s.b.App : msg         Spring Boot
    TS LEVEL org.apache.hadoop.X: msg                  Hadoop (dotted logger + ':')
    yy/MM/dd HH:MM:SS LEVEL spark.SecurityManager: msg Spark (yy: 69-99 -> 19yy)
    TS - LEVEL  [thread:Class@123] - msg               ZooKeeper (logger = Class),
    TS [myid:1] - LEVEL  [thread:Class@123] - msg      also with [myid:N]
    TS - name - LEVEL - msg                            Python '%(asctime)s - %(name)s - ...'
    LEVEL:name:msg                                     Python logging's default
                                                       (level upper case only)

Fields: ``level``, ``logger`` (``None`` when the layout names none), ``message``
(the free text after level / logger; the whole rest of the line when no
logger is recognised), ``local_time`` / ``epoch`` (``None`` for the Python
default layout, which has no time; a time without offset is taken as UTC).

**Continuation lines are not records.** Stack traces and other multi-line
messages are *not* attached to the record above them: a map task may start
reading in the middle of a trace, so each line must stand alone. Such lines
(indented ``\\tat ...``, ``Caused by: ...``, ``... 12 more``,
``java.io.IOException: ...``, ``Traceback (most recent call last):``,
``ValueError: ...``) are malformed for this format, which matches the
reference data (the Kafka dev file's 30 stack-trace lines count as
malformed). ``is_continuation(line)`` (a module function, also the static
method ``AppLog.is_continuation``) tells whether a malformed line looks like
such a continuation, so the engine can report how many there were.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from operator import itemgetter
from typing import ClassVar

from logmr.formats.base import Format, Getter, line_text
from logmr.formats.timeparse import parse_iso, parse_yymmdd

__all__ = ["AppLog", "is_continuation"]

_LEVEL_NAMES = rb"TRACE|DEBUG|INFO|WARN(?:ING)?|ERROR|FATAL|CRITICAL|SEVERE"
_LEVEL = rb"(?i:" + _LEVEL_NAMES + rb")"
_ISO_TS = rb"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?"
_YMD_TS = rb"\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}"
# after the level: an optional ':' then the end, or blanks and the rest
_TAIL = rb":?(?: +(.*))?\Z"

# [TS] [thread] env.LEVEL rest  - groups: ts, [LEVEL], LEVEL, rest
_BRACKETED = re.compile(
    rb"\[(" + _ISO_TS + rb")\] +(?:\[[^\]]*+\] +)?(?:[\w-]+\.)?"
    rb"(?:\[(" + _LEVEL + rb")\]|(" + _LEVEL + rb"))" + _TAIL,
    re.DOTALL,
)
# TS - name - LEVEL - msg  - groups: ts, name, LEVEL, msg
_PY_TIMED = re.compile(
    rb"(" + _ISO_TS + rb") - (\S++) - (" + _LEVEL + rb") - (.*)\Z",
    re.DOTALL,
)
# TS [myid:N] - [thread] LEVEL rest  - groups: ts, [LEVEL], LEVEL, rest
_TIMED = re.compile(
    rb"(" + _ISO_TS + rb"|" + _YMD_TS + rb")(?: \[myid:[^\]]*+\])? ++(?:- ++)?"
    rb"(?:\[[^\]]*+\] +)?(?:\[(" + _LEVEL + rb")\]|(" + _LEVEL + rb"))" + _TAIL,
    re.DOTALL,
)
# LEVEL:name:msg  - groups: LEVEL, name, msg
_PY_BARE = re.compile(
    rb"(TRACE|DEBUG|INFO|WARNING|WARN|ERROR|FATAL|CRITICAL|SEVERE):([^:\s]++):(.*)\Z",
    re.DOTALL,
)
# the rest after the level of _TIMED  - groups: thread, logger (3 forms), message
_REST = re.compile(
    rb"(?:\d+ +--- +)?"
    rb"(?:\[((?:[^\[\]]++|\[[^\[\]]*+\])*+)\] +(?:- +)?)*+"
    rb"(?:([\w$.]++)(?::\d++)? +- |([\w$.]++) +: |([\w$]++(?:\.[\w$]++)++): )?"
    rb"(.*)\Z",
    re.DOTALL,
)
_CLASS_AT_LINE = re.compile(rb"([\w$.]++)@\d++")
_DOTTED_CLASS = re.compile(rb"[A-Za-z_$][\w$]*+(?:\.[\w$]++)++")

_CONTINUATION = re.compile(
    rb"[ \t]"
    rb"|Caused by:|Suppressed:|\.\.\. \d+ (?:more|common frames omitted)"
    rb"|Traceback \(most recent call last\):"
    rb"|During handling of the above exception|The above exception was the direct cause"
    rb"|Exception in thread "
    rb"|at [\w$.<>]+\("
    rb"|(?:[A-Za-z_$][\w$]*+\.)*+[\w$]*?(?:Exception|Error|Throwable|Interrupt|Exit)"
    rb"(?::|\Z)"
)

# record: (ts or None, level, logger or None, message, line)
Record = tuple[bytes | None, bytes, bytes | None, bytes, bytes]


def is_continuation(line: bytes) -> bool:
    """Whether ``line`` looks like part of a multi-line message (stack trace)."""
    return _CONTINUATION.match(line) is not None


def _bracketed(m: re.Match[bytes], line: bytes) -> Record:
    message = m[4] or b""
    logger = None
    if message.endswith(b")"):
        start = message.rfind(b"(")
        if start >= 0 and _DOTTED_CLASS.fullmatch(message, start + 1, len(message) - 1):
            message, logger = message[:start].rstrip(b" "), message[start + 1 : -1]
    return m[1], m[2] or m[3], logger, message, line


def _timed(m: re.Match[bytes], line: bytes) -> Record:
    rest = m[4] or b""
    parts = _REST.match(rest)
    if parts is None:  # pragma: no cover - _REST matches every input
        return m[1], m[2] or m[3], None, rest, line
    thread, logger = parts[1], parts[2] or parts[3] or parts[4]
    if logger is None and thread is not None:
        inner = _CLASS_AT_LINE.fullmatch(thread.rpartition(b":")[2])
        if inner is not None:
            logger = inner[1]
    return m[1], m[2] or m[3], logger, parts[5], line


def _local(ts: bytes | None) -> float | None:
    if ts is None:
        return None
    if ts[2:3] == b"/":
        return parse_yymmdd(ts)
    parsed = parse_iso(ts)
    return None if parsed is None else parsed[0]


def _epoch(ts: bytes | None) -> float | None:
    if ts is None:
        return None
    if ts[2:3] == b"/":
        return parse_yymmdd(ts)
    parsed = parse_iso(ts)
    if parsed is None:
        return None
    local, offset = parsed
    return local if offset is None else local - offset


def _line_of(record: Record) -> str:
    return line_text(record[4])


class AppLog(Format):
    name = "applog"
    aliases = ("log4j", "app")
    description = "application logs with a level: log4j/logback, Kafka, Python, Spark, ZooKeeper"

    _getters: ClassVar[Mapping[str, Getter]] = {
        "level": itemgetter(1),
        "logger": itemgetter(2),
        "message": itemgetter(3),
        "local_time": lambda r: _local(r[0]),
        "epoch": lambda r: _epoch(r[0]),
    }

    def parse(self, line: bytes) -> Record | None:
        first = line[:1]
        if first == b"[":
            m = _BRACKETED.match(line)
            return None if m is None else _bracketed(m, line)
        if first.isdigit():
            m = _PY_TIMED.match(line)
            if m is not None:
                return m[1], m[3], m[2], m[4], line
            m = _TIMED.match(line)
            return None if m is None else _timed(m, line)
        m = _PY_BARE.match(line)
        return None if m is None else (None, m[1], m[2], m[3], line)

    def getters(self) -> Mapping[str, Getter]:
        return self._getters

    def line_getter(self) -> Getter:
        return _line_of

    @staticmethod
    def is_continuation(line: bytes) -> bool:
        """``is_continuation`` of this module, for engines that ask the format."""
        return _CONTINUATION.match(line) is not None
