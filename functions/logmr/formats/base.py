"""The contract every log format implements.

A format turns one line (``bytes``, LF and one trailing CR already removed) into
an opaque *record*, or ``None`` when the line is malformed for that format.
Jobs never look inside a record: they ask the format for a *getter* per
canonical field once (``fmt.getter("status")``) and call it per record. That
keeps records cheap (a ``re.Match`` for the regex formats, a ``dict`` for JSON)
and lets a job refuse, before any work starts, a format that lacks a field it
needs.

Canonical fields and what their getters return (``None`` when a record lacks
the value):

========== ==================================================================
client     remote address or client id (``bytes`` or ``str``)
method     request method (``bytes`` or ``str``)
path       request target as written, query string included (``bytes``/``str``)
status     HTTP status as written, three digits (``bytes`` or ``str``)
bytes      response size as ``int`` (``-`` counts as 0)
referer    referer (``bytes`` or ``str``)
user_agent user agent (``bytes`` or ``str``)
vhost      virtual host (``bytes`` or ``str``)
host       the logging host (syslog) (``bytes`` or ``str``)
program    syslog program / app name (``bytes`` or ``str``)
level      level or severity as written, case preserved (``bytes`` or ``str``)
logger     logger / class name (``bytes`` or ``str``)
message    free text of the record (``bytes`` or ``str``)
latency    request duration in seconds as ``float``
epoch      record time as UTC seconds since the epoch (``float``)
local_time record time as written, in seconds since the epoch as if it were
           UTC (no offset applied) (``float``)
========== ==================================================================
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar

from logmr.errors import FormatMismatchError, InvalidParameterError

Record = Any
Getter = Callable[[Record], Any]

CANONICAL_FIELDS = frozenset(
    {
        "client",
        "method",
        "path",
        "status",
        "bytes",
        "referer",
        "user_agent",
        "vhost",
        "host",
        "program",
        "level",
        "logger",
        "message",
        "latency",
        "epoch",
        "local_time",
    }
)


class Format(abc.ABC):
    """A log format: a parser plus getters for the canonical fields it has."""

    #: the name used on the command line (``--format NAME``)
    name: ClassVar[str]
    #: other accepted names
    aliases: ClassVar[tuple[str, ...]] = ()
    #: one-line description for ``logmr formats``
    description: ClassVar[str] = ""
    #: options this format accepts (``--format-option K=V``), with defaults
    option_defaults: ClassVar[Mapping[str, str]] = {}

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        given = dict(options or {})
        unknown = sorted(set(given) - set(self.option_defaults))
        if unknown:
            known = ", ".join(sorted(self.option_defaults)) or "none"
            raise InvalidParameterError(
                f"format {self.name}: unknown option {unknown[0]!r} (known: {known})"
            )
        self.options: dict[str, str] = {**self.option_defaults, **given}

    @abc.abstractmethod
    def parse(self, line: bytes) -> Record | None:
        """The record of ``line``, or ``None`` if the line is malformed."""

    def parse_many(self, lines: Iterable[bytes]) -> Iterator[Record | None]:
        """``parse`` over many lines; formats may override with a faster loop."""
        return map(self.parse, lines)

    @abc.abstractmethod
    def getters(self) -> Mapping[str, Getter]:
        """Getter per canonical field this format provides."""

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(self.getters())

    def getter(self, field: str) -> Getter:
        try:
            return self.getters()[field]
        except KeyError:
            have = ", ".join(sorted(self.getters())) or "none"
            raise FormatMismatchError(
                f"format {self.name} has no field {field!r} (it has: {have})"
            ) from None


class RegexFormat(Format):
    """A format whose record is the ``re.Match`` of one compiled pattern over the
    line; subclasses set ``_pattern`` and ``_getters`` (group getters)."""

    _pattern: ClassVar[re.Pattern[bytes]]
    _getters: ClassVar[Mapping[str, Getter]]

    def parse(self, line: bytes) -> re.Match[bytes] | None:
        return self._pattern.match(line)

    def parse_many(self, lines: Iterable[bytes]) -> Iterator[re.Match[bytes] | None]:
        return map(self._pattern.match, lines)

    def getters(self) -> Mapping[str, Getter]:
        return self._getters
