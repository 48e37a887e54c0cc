"""Syslog: ``syslog_rfc3164`` (BSD syslog, what rsyslog writes to files) and ``syslog_rfc5424``.

``syslog_rfc3164`` accepts ``[<PRI>]Mmm DD HH:MM:SS HOST REST``::

    Nov 18 07:01:02 host program[123]: message
    <34>Oct  3 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8

``Mmm`` is any ``[A-Z][a-z]{2}``, the day has 1-2 digits after one or more
spaces (``Nov  8`` is fine), HOST is one run of non-blanks, and REST is
anything (even empty) after the space that follows HOST. Without ``<PRI>``
this is exactly the reference regex of the project's test data. Fields:
``host``; ``program`` = the tag before ``[pid]:`` / ``:`` at the start of REST
(``None`` when REST does not start with ``tag:`` or ``tag[pid]:``);
``message`` = REST after that tag and one space (all of REST when there is no
tag); ``level`` = severity keyword (``emerg alert crit err warning notice
info debug``) of PRI, ``None`` without PRI (or with PRI > 191).

**Year rule.** BSD lines have no year. The format option ``year`` says it:
``year=2020`` is the year of *every* line; ``year=2026-03`` is the year and
month the log ends in: lines of January to March are in 2026, lines of April
to December in 2025 (the year before), so a log that crosses New Year reads
in order. Plan sets ``year=YYYY-MM`` for each object from its modification
time (a local file's mtime, an S3 object's LastModified, in UTC) unless the
option is given (``plan.formats``); without one (a format built on its own)
the year is ``1970``. ``Feb 29`` in a non-leap year has no time (``epoch`` /
``local_time`` give ``None``). The time is taken as UTC (epoch == local_time).

``syslog_rfc5424`` accepts
``<PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP
STRUCTURED-DATA [SP MSG]`` with NILVALUE ``-``::

    <165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47
    [exampleSDID@32473 iut="3"] An application event

(one line)

TIMESTAMP is ``-`` or RFC 3339 (``Z`` or ``+hh:mm``); STRUCTURED-DATA is ``-``
or one or more ``[id name="value" ...]`` elements (``\\"``, ``\\\\`` and ``\\]``
escapes in values). Fields: ``level`` from PRI as above, ``host`` (HOSTNAME),
``program`` (APP-NAME), ``message`` (MSG without a leading UTF-8 BOM),
``epoch`` / ``local_time`` (offset applied / not applied). NILVALUEs give
``None``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from operator import itemgetter
from typing import ClassVar

from logmr.errors import InvalidParameterError
from logmr.formats.base import Getter, RegexFormat
from logmr.formats.timeparse import MONTHS, iso_epoch, iso_local, syslog_local

#: syslog severity keywords, indexed by PRI % 8
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

_RFC3164 = re.compile(
    rb"(?:<(\d{1,3})>)?"
    rb"([A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}) (\S++) "
    rb"(?:([^\s\[\]:]++)(?:\[[^\]\s]*+\])?:(?: |(?=\Z)))?"
    rb"(.*)\Z",
    re.DOTALL,
)

_TIMESTAMP = rb"-|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})"
_SD_NAME = rb'[^\s\]"=]++'
_SD_ELEMENT = rb"\[" + _SD_NAME + rb"(?: " + _SD_NAME + rb'="[^"\\]*+(?:\\.[^"\\]*+)*+")*+\]'
_RFC5424 = re.compile(
    rb"<(\d{1,3})>[1-9]\d{0,2} (" + _TIMESTAMP + rb") ([!-~]++) ([!-~]++) [!-~]++ [!-~]++ "
    rb"(?:-|(?:" + _SD_ELEMENT + rb")++)(?: (.*))?\Z",
    re.DOTALL,
)

_BOM = b"\xef\xbb\xbf"


def _severity(pri: bytes | None) -> str | None:
    if pri is None:
        return None
    value = int(pri)
    return SEVERITIES[value % 8] if value <= 191 else None


def _nil(group: int) -> Getter:
    def get(m: re.Match[bytes]) -> bytes | None:
        value = m[group]
        return None if value == b"-" else value

    return get


class SyslogRFC3164(RegexFormat):
    name = "syslog_rfc3164"
    aliases = ("syslog", "rfc3164", "bsd_syslog")
    description = (
        "BSD syslog '[<PRI>]Mmm dd hh:mm:ss host tag[pid]: msg' (option year=YYYY or"
        " YYYY-MM, the month the log ends in; default: the modification time's)"
    )
    option_defaults: ClassVar[Mapping[str, str]] = {"year": "1970"}
    _pattern = _RFC3164

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        super().__init__(options)
        year, last_month = year_option(self.options["year"], self.name)

        def local(m: re.Match[bytes]) -> float | None:
            stamp = m[2]
            month = MONTHS.get(stamp[:3], 0)
            return syslog_local(stamp, year - 1 if month > last_month else year)

        self._year_getters: dict[str, Getter] = {
            "level": lambda m: _severity(m[1]),
            "host": itemgetter(3),
            "program": itemgetter(4),
            "message": itemgetter(5),
            "local_time": local,
            "epoch": local,
        }

    def getters(self) -> Mapping[str, Getter]:
        return self._year_getters


def year_option(text: str, name: str = SyslogRFC3164.name) -> tuple[int, int]:
    """The option ``year`` (``YYYY`` or ``YYYY-MM``) as the year and the
    last month in it (12 for a bare year); ``InvalidParameterError`` otherwise."""
    year, _, month = text.strip().partition("-")
    valid = (
        year.isascii()
        and year.isdigit()
        and 1 <= int(year) <= 9999
        and (not month or (month.isascii() and month.isdigit() and 1 <= int(month) <= 12))
    )
    if not valid:
        raise InvalidParameterError(
            f"format {name}: option 'year' must be a year 1-9999 (every line's) or YYYY-MM"
            f" (the year and month the log ends in), got {text!r}"
        )
    return int(year), int(month) if month else 12


def _message_5424(m: re.Match[bytes]) -> bytes | None:
    msg = m[5]
    if msg is not None and msg.startswith(_BOM):
        return msg[3:]
    return msg


def _time_5424(parse: Getter) -> Getter:
    def get(m: re.Match[bytes]) -> float | None:
        value = m[2]
        return None if value == b"-" else parse(value)

    return get


class SyslogRFC5424(RegexFormat):
    name = "syslog_rfc5424"
    aliases = ("rfc5424",)
    description = "IETF syslog '<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG'"
    _pattern = _RFC5424
    _getters: ClassVar[Mapping[str, Getter]] = {
        "level": lambda m: _severity(m[1]),
        "host": _nil(3),
        "program": _nil(4),
        "message": _message_5424,
        "local_time": _time_5424(iso_local),
        "epoch": _time_5424(iso_epoch),
    }

    def getters(self) -> Mapping[str, Getter]:
        return self._getters
