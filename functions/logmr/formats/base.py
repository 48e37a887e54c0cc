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

Every format also answers ``getter("@timestamp")`` (the same as ``epoch``, when
it has one) and ``getter("@message")`` (the whole line as ``str``, invalid
UTF-8 as ``\\xNN``, no trailing CR): the names CloudWatch Logs Insights
gives them (``SPECIAL_FIELDS``). Some formats resolve further names lazily
(``Format.field_getter``): the trailing fields ``extra1``, ``extra2``, ... of
``apache_combined``, the named groups of a custom format, any dotted key
path of ``jsonl``. ``fields`` lists only the canonical fields a format has.
"""

from __future__ import annotations

import abc
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, ClassVar

from logmr.errors import FormatMismatchError, InvalidParameterError
from logmr.inputs.lines import split_lines

Record = Any
Getter = Callable[[Record], Any]


@dataclass(frozen=True)
class Column:
    """One field over a batch of records (``Format.columns``): record ``i``'s
    value is ``convert(raw[i])``, or ``raw[i]`` itself when ``convert`` is
    ``None``. A job that aggregates may group by the raw values and convert each
    distinct one once (times, requests and sizes repeat a lot in a log)."""

    raw: list[Any]
    convert: Callable[[Any], Any] | None = None

    def values(self) -> list[Any]:
        """Every record's value, in order."""
        return self.raw if self.convert is None else convert_each(self.convert, self.raw)

    def value(self, raw: Any) -> Any:
        """The value of one raw value."""
        return raw if self.convert is None else self.convert(raw)


#: the largest response size a record gives (``bytes``): what a signed 64-bit
#: counter holds (8 EiB). A larger one is no size a server sent: ``None``, which
#: jobs count as ``no_bytes`` (docs/bad-input.md)
MAX_RESPONSE_SIZE = 2**63 - 1
#: its digits: a longer run of digits is over it without conversion
MAX_RESPONSE_SIZE_DIGITS = len(str(MAX_RESPONSE_SIZE))

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


#: the fields every format offers besides its canonical ones (``Format.getter``)
SPECIAL_FIELDS = ("@timestamp", "@message")


def line_text(line: bytes) -> str:
    """A raw line as ``@message`` gives it: ``str``, invalid UTF-8 as ``\\xNN``,
    one trailing CR removed (a block pattern's match may end with it)."""
    if line[-1:] == b"\r":
        line = line[:-1]
    return line.decode("utf-8", "backslashreplace")


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

    def records_in_text(self, text: bytes) -> list[Record] | None:
        """The records of the well-formed lines of ``text`` (whole lines, each
        ending with LF, CRs untouched: ``lines.iter_range_texts``), in order;
        the other lines are malformed, so ``text.count(b"\\n") - len(records)``
        counts them. ``None``: this format has no block parser (split the text
        and use ``parse_many``)."""
        return None

    def malformed_in_text(self, text: bytes) -> Iterator[bytes] | None:
        """The lines of ``text`` (as ``records_in_text`` takes it) that are not
        records, in order and lazily (LF and one CR removed, as ``parse``
        sees lines); ``None``: this format has no block parser."""
        return None

    def values_in_text(self, text: bytes, field: str) -> tuple[list[Any], int] | None:
        """``getter(field)`` of each record of ``records_in_text(text)``, without
        making the records, and the number of lines of ``text``; ``None`` when
        the format cannot do that for ``field``."""
        return None

    def columns_in_text(
        self, text: bytes, fields: Sequence[str]
    ) -> tuple[list[Column], int] | None:
        """``columns(records_in_text(text), fields)`` without making the records
        (what a column job, ``Job.map_columns``, reads), and the number of
        lines of ``text``; ``None`` when the format cannot do that for every
        one of ``fields``."""
        return None

    def without_records(
        self, text: bytes, field: str, keep: Callable[[Any], bool]
    ) -> tuple[bytes, int] | None:
        """``text`` (as ``records_in_text`` takes it) without the records
        whose ``field`` ``keep`` refuses, and how many those were, in one pass
        that extracts nothing; ``None`` when the format cannot tell them so
        (then nothing is left out)."""
        return None

    def columns(self, records: list[Record], fields: Sequence[str]) -> list[Column]:
        """Each of ``fields`` over ``records``: a ``Column`` whose values are
        ``getter(field)`` of each record, in order."""
        return [Column(self.values(field, records)) for field in fields]

    def values(self, field: str, records: list[Record]) -> list[Any]:
        """``getter(field)`` of each of ``records``, in order. Formats may
        compute each distinct raw value once (``RegexFormat._derived``)."""
        return list(map(self.getter(field), records))

    @abc.abstractmethod
    def getters(self) -> Mapping[str, Getter]:
        """Getter per canonical field this format provides."""

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(self.getters())

    def getter(self, field: str) -> Getter:
        """The getter of ``field``: a canonical field, ``@timestamp``,
        ``@message`` or a name the format resolves lazily (``field_getter``)."""
        found = self.getters().get(field)
        if found is None:
            found = self.field_getter(field)
        if found is None:
            have = ", ".join([*sorted(self.getters()), *self.special_fields()]) or "none"
            raise FormatMismatchError(f"format {self.name} has no field {field!r} (it has: {have})")
        return found

    def special_fields(self) -> list[str]:
        """The ``SPECIAL_FIELDS`` this format offers."""
        return [name for name in SPECIAL_FIELDS if self.field_getter(name) is not None]

    def field_getter(self, field: str) -> Getter | None:
        """The getter of a field that is not canonical, or ``None``: here
        ``@timestamp`` (``epoch``) and ``@message`` (``line_getter``);
        formats with more names (trailing fields, JSON paths) extend it."""
        if field == "@timestamp":
            return self.getters().get("epoch")
        if field == "@message":
            return self.line_getter()
        return None

    def line_getter(self) -> Getter | None:
        """``@message`` of a record (the whole line as ``str``), or ``None``
        when the format's records do not keep their line."""
        return None

    def describe_sample(self, records: list[Record]) -> str:
        """Which variant of this format ``records`` (a sample's, from
        ``parse``) are, in a few words; empty when the format has none."""
        return ""


class RegexFormat(Format):
    """A format whose record is the ``re.Match`` of one compiled pattern over the
    line; subclasses set ``_pattern`` and ``_getters`` (group getters).

    A subclass may also set ``_block_pattern``: the same acceptance as
    ``_pattern`` applied to a whole text of LF-terminated lines at once
    (``re.MULTILINE``, anchored at line starts, ``\\r?$`` at the end, no part
    able to match an LF), with the same group numbers, so that one C-level
    ``finditer``/``findall`` over the text replaces a Python call per line.
    Lines it does not match are the malformed ones. ``_plain_fields`` names the
    fields whose getter is exactly one always-matching named group of it (the
    group name is the field name): ``values_in_text`` extracts just that group
    with ``findall``, no match objects at all. ``_never_empty`` names the
    groups that hold at least one byte in every record: a ``findall`` that
    asks for one of them also matches each malformed line, as an empty row,
    and so counts the text's lines in the same pass (``_rows_in_text``).
    """

    _pattern: ClassVar[re.Pattern[bytes]]
    _getters: ClassVar[Mapping[str, Getter]]
    _block_pattern: ClassVar[re.Pattern[bytes] | None] = None
    _plain_fields: ClassVar[frozenset[str]] = frozenset()
    _never_empty: ClassVar[frozenset[str]] = frozenset()
    #: fields computed from one always-matching named group: field -> (group,
    #: conversion of the group's bytes), the same value as the field's getter.
    #: ``values`` converts each distinct group value of a batch once (times,
    #: sizes and requests repeat a lot in a log).
    _derived: ClassVar[Mapping[str, tuple[str, Callable[[bytes], Any]]]] = {}

    def parse(self, line: bytes) -> re.Match[bytes] | None:
        return self._pattern.match(line)

    def parse_many(self, lines: Iterable[bytes]) -> Iterator[re.Match[bytes] | None]:
        return map(self._pattern.match, lines)

    def getters(self) -> Mapping[str, Getter]:
        return self._getters

    def line_getter(self) -> Getter | None:
        return _match_text

    def values(self, field: str, records: list[Any]) -> list[Any]:
        derived = self._derived.get(field)
        if derived is None:
            return super().values(field, records)
        group, convert = derived
        return convert_each(convert, list(map(itemgetter(group), records)))

    def records_in_text(self, text: bytes) -> list[re.Match[bytes]] | None:
        if self._block_pattern is None:
            return None
        return list(self._block_pattern.finditer(text))

    def malformed_in_text(self, text: bytes) -> Iterator[bytes] | None:
        """The gaps between the block pattern's matches: a match spans one
        line from its start to before ``\\r?\\n``, so a gap is whole lines."""
        if self._block_pattern is None:
            return None
        return _gaps(self._block_pattern, text)

    def values_in_text(self, text: bytes, field: str) -> tuple[list[bytes], int] | None:
        if self._block_pattern is None or field not in self._plain_fields:
            return None
        rows, lines, _ = self._rows_in_text(text, frozenset({field}))
        return rows, lines

    def without_records(
        self, text: bytes, field: str, keep: Callable[[Any], bool]
    ) -> tuple[bytes, int] | None:
        """A plain field of three digits (a status) is judged over its 1,000
        possible values: the block pattern, with that group made the values
        ``keep`` refuses and every other group non-capturing, splits the text
        at each refused record (and its LF). Splitting makes no object per
        record: the pieces between two adjacent records are the one empty
        bytes object."""
        if self._block_pattern is None or field not in self._plain_fields:
            return None
        refused = _refusing_pattern(self._block_pattern, field, keep)
        if refused is None:
            return None
        pieces = refused.split(text)
        return b"".join(pieces), len(pieces) - 1

    def columns(self, records: list[Any], fields: Sequence[str]) -> list[Column]:
        sources = self._column_sources(fields)
        if sources is None:
            return super().columns(records, fields)
        return [
            Column(list(map(itemgetter(group), records)), convert) for group, convert in sources
        ]

    def columns_in_text(
        self, text: bytes, fields: Sequence[str]
    ) -> tuple[list[Column], int] | None:
        """One ``findall`` of the block pattern with only the groups ``fields``
        need left capturing: tuples of raw values, no match objects."""
        sources = self._column_sources(fields)
        if self._block_pattern is None or sources is None:
            return None
        rows, lines, order = self._rows_in_text(text, frozenset(g for g, _ in sources))
        if len(order) == 1:
            raw = {order[0]: rows}
        else:
            raw = {group: list(map(itemgetter(i), rows)) for i, group in enumerate(order)}
        return [Column(raw[group], convert) for group, convert in sources], lines

    def _rows_in_text(
        self, text: bytes, groups: frozenset[str]
    ) -> tuple[list[Any], int, tuple[str, ...]]:
        """The records of ``text`` as ``findall`` rows of ``groups`` (a group's
        bytes, or a tuple of them in the order given last), and the number of
        lines of ``text``. With one of ``_never_empty`` among ``groups``, the
        ``findall`` also matches each malformed line, as an empty row: its
        rows are then the lines, and the empty ones are dropped after. Else
        the lines are counted apart (``bytes.count``, a second pass)."""
        assert self._block_pattern is not None
        markers = groups & self._never_empty
        if not markers:
            pattern, order = _only_groups(self._block_pattern, groups)
            return pattern.findall(text), text.count(b"\n"), order
        pattern, order = _rows_or_lines(self._block_pattern, groups)
        rows = pattern.findall(text)
        if not text or text.endswith(b"\n"):
            rows.pop()  # the empty match where a line after the final LF would start
        lines = len(rows)
        if len(order) == 1:
            if b"" in rows:
                rows = list(filter(None, rows))
        elif (b"",) * len(order) in rows:
            rows = list(filter(itemgetter(order.index(min(markers))), rows))
        return rows, lines, order

    def _column_sources(
        self, fields: Sequence[str]
    ) -> list[tuple[str, Callable[[bytes], Any] | None]] | None:
        """The named group and conversion of each of ``fields``, if every one is
        a plain or derived field (``None`` otherwise)."""
        sources: list[tuple[str, Callable[[bytes], Any] | None]] = []
        for name in fields:
            field = "epoch" if name == "@timestamp" else name
            if field in self._plain_fields:
                sources.append((field, None))
            elif field in self._derived:
                sources.append(self._derived[field])
            else:
                return None
        return sources


def _match_text(m: re.Match[bytes]) -> str:
    return line_text(m[0])


def _gaps(pattern: re.Pattern[bytes], text: bytes) -> Iterator[bytes]:
    pos = 0
    for found in pattern.finditer(text):
        if found.start() > pos:
            yield from split_lines(text[pos : found.start()])
        pos = found.end() + 1  # past the LF that ``$`` found
    if pos < len(text):
        yield from split_lines(text[pos:])


def line_or_block_pattern(body: bytes, block: bool) -> re.Pattern[bytes]:
    """``body`` over one line (``\\Z``-anchored, ``.`` any byte: a format's
    ``_pattern``), or over a text of LF-terminated lines (its ``_block_pattern``:
    anchored at line starts, ``\\r?$`` at the end, ``.`` any byte but LF). The
    caller's body must have no part able to match an LF in block form, and
    leave a CRLF's CR to ``\\r?$`` (the line form never sees it)."""
    if block:
        return re.compile(b"^" + body + rb"\r?$", re.MULTILINE)
    return re.compile(body + rb"\Z", re.DOTALL)


#: a three-digit group (a status) of a block pattern, whose values ``without_records`` judges
_THREE_DIGITS = b">[0-9]{3})"
#: the refusing patterns made, by block pattern, field and test (a job's one test per run)
_REFUSING: dict[tuple[re.Pattern[bytes], str, Callable[[Any], bool]], re.Pattern[bytes] | None] = {}


def _refusing_pattern(
    block: re.Pattern[bytes], field: str, keep: Callable[[Any], bool]
) -> re.Pattern[bytes] | None:
    """``block`` matching, with its LF, exactly the records whose ``field``
    (a group of three digits) ``keep`` refuses; ``None`` when the group is not
    three digits, or ``keep`` refuses no value."""
    key = (block, field, keep)
    if key in _REFUSING:
        return _REFUSING[key]
    group = b"(?P<" + field.encode() + _THREE_DIGITS
    refusing = None
    if group in block.pattern and block.pattern.endswith(b"$"):
        refused = [value for value in map(b"%03d".__mod__, range(1000)) if not keep(value)]
        if refused:
            body = block.pattern.replace(group, b"(?:" + _digit_alternatives(refused) + b")")
            body = _NAMED_GROUP.sub(b"(?:", body)[:-1] + b"\n"  # the record's LF taken too
            refusing = re.compile(body, block.flags)
    if len(_REFUSING) > 64:  # a process runs one job at a time: a few at most
        _REFUSING.clear()
    _REFUSING[key] = refusing
    return refusing


def _digit_alternatives(values: list[bytes]) -> bytes:
    """A regex of exactly ``values`` (three digits each), a class where a
    whole decade or hundred is in: ``5[0-9][0-9]|40[34]``."""
    parts: list[bytes] = []
    for first in sorted({value[:1] for value in values}):
        under = [value for value in values if value[:1] == first]
        if len(under) == 100:
            parts.append(first + b"[0-9][0-9]")
            continue
        for second in sorted({value[1:2] for value in under}):
            lasts = sorted(value[2:] for value in under if value[1:2] == second)
            tail = b"[0-9]" if len(lasts) == 10 else b"[" + b"".join(lasts) + b"]"
            parts.append(first + second + tail)
    return b"|".join(parts)


def convert_each(convert: Callable[[bytes], Any], raws: list[bytes]) -> list[Any]:
    """``convert`` of each of ``raws``, computed once per distinct value (times,
    sizes and requests repeat a lot in a log)."""
    converted = {raw: convert(raw) for raw in set(raws)}
    return list(map(converted.__getitem__, raws))


_NAMED_GROUP = re.compile(rb"\(\?P<(\w+)>")


@functools.cache
def _only_groups(
    pattern: re.Pattern[bytes], names: frozenset[str]
) -> tuple[re.Pattern[bytes], tuple[str, ...]]:
    """``pattern`` with every named group but ``names`` made non-capturing, and
    the names of its remaining groups in group order; same acceptance. Every
    group of the pattern must be named."""

    def rewrite(found: re.Match[bytes]) -> bytes:
        return b"(" if found[1].decode() in names else b"(?:"

    only = re.compile(_NAMED_GROUP.sub(rewrite, pattern.pattern), pattern.flags)
    order = tuple(
        name
        for name in (found.decode() for found in _NAMED_GROUP.findall(pattern.pattern))
        if name in names
    )
    if only.groups != len(names) or len(order) != len(names):
        raise ValueError(f"pattern has unnamed groups or lacks one of {sorted(names)}")
    return only, order


@functools.cache
def _rows_or_lines(
    pattern: re.Pattern[bytes], names: frozenset[str]
) -> tuple[re.Pattern[bytes], tuple[str, ...]]:
    """``_only_groups(pattern, names)`` with a second branch that matches
    any line the first does not, capturing nothing: ``findall`` then gives a
    row per line (a malformed line's: every group ``b""``), and one more,
    empty, where a line after the text's final LF would start."""
    only, order = _only_groups(pattern, names)
    if not only.pattern.startswith(b"^"):
        raise ValueError("a block pattern starts with ^")
    return re.compile(b"^(?:" + only.pattern[1:] + rb"|[^\n]*$)", only.flags), order
