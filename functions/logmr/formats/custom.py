"""Custom formats: ``nginx:<log_format>``, ``apache:<LogFormat>``, ``regex:<regex>``.

A format name with one of these prefixes is a format of its own, built from
the text after the colon (``get_format`` calls ``custom_format``); the whole
name travels in the job request as ``format``, at most
``MAX_CUSTOM_FORMAT_CHARS`` characters::

    nginx:$remote_addr - $remote_user [$time_local] "$request" $status
          $body_bytes_sent "$http_referer" "$http_user_agent" $request_time
    apache:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D
    regex:^(?P<client>\\S+) (?P<status>\\d{3}) (?P<latency>[0-9.]+)$

(the nginx one on one line). ``nginx:`` and ``apache:`` compile to one regex
(a ``RegexFormat`` with a block pattern, as fast as ``apache_combined`` for
the column jobs): the text
between the variables must appear as written, and each variable matches:

* inside double quotes (``"$request"``): a quoted field, a backslash escaping
  the next byte; inside brackets (``[$time_local]``): anything but ``]``;
* else by its kind: a status three digits, a size digits or ``-``, a time
  the layout it names; any other variable a run of non-blank bytes.

Canonical fields come from these (nginx / Apache):

============ ============================================ ===========================
field        nginx                                        Apache
============ ============================================ ===========================
client       ``$remote_addr``                             ``%h`` (else ``%a``)
status       ``$status``                                  ``%>s``, ``%s``, ``%<s``
bytes        ``$body_bytes_sent`` (else ``$bytes_sent``)  ``%b``, ``%B`` (else ``%O``)
method/path  ``$request`` (else ``$request_method``,       ``%r`` (else ``%m``, ``%U``)
             ``$request_uri``, ``$uri``)
referer      ``$http_referer``                            ``%{Referer}i``
user_agent   ``$http_user_agent``                         ``%{User-Agent}i``
vhost        ``$host``, ``$server_name``                  ``%v``
epoch/       ``$time_local``, ``$time_iso8601``,          ``%t``
local_time   ``$msec``
latency      ``$request_time`` (seconds)                  ``%D`` (us), ``%T`` (s),
                                                          ``%{ms}T``, ``%{us}T``, ``%{s}T``
============ ============================================ ===========================

Every variable is also a field by its own name (nginx: the name without ``$``,
``upstream_response_time``; Apache: a header ``%{X-Forwarded-For}i`` is
``x_forwarded_for``, other directives as the table ``_APACHE`` names them:
``%u`` is ``user``, ``%D`` ``duration_us``), giving its bytes as written,
except numbers: ``*_time`` and ``msec`` variables and ``%T`` give a ``float``
(``None`` for ``-`` or anything else not a number), ``*_length``,
``*bytes_sent``, ``%b``/``%B``/``%O``/``%I``/``%D`` an ``int``. A name used
twice gets ``_2``, ``_3``.

``regex:`` takes a regular expression with named groups (``(?P<name>...)``,
or ``(?<name>...)`` as PCRE writes it), matched from the start of the line
(anchor the end with ``$`` to refuse trailing text) on RE2, as
``pattern_count``'s patterns: time linear in the line whatever the regex, at
the price of backreferences and lookarounds (refused), with the semantics of
a Python ``re`` bytes pattern (``\\d``, ``\\w``, ``\\s`` ASCII; ``.`` any
byte). A group named like a canonical field gives that field (``client``,
``status``, ``referer``, ``user_agent``, ``vhost``, ``host``, ``program``,
``level``, ``logger``, ``message``, ``method``, ``path`` as written; ``bytes``
or ``size`` as ``int``; ``latency`` as seconds ``float``; ``request`` gives
``method`` and ``path``; ``time`` gives ``epoch``/``local_time`` when it is an
Apache or ISO 8601 time); every group is a field by its name (its bytes). A
regex format has no block pattern: it is matched line by line, and RE2 with
capture groups is several times slower per line than ``nginx:``/``apache:``
(``bench/formats_variants.py``).

A bad format raises ``InvalidParameterError`` naming the position (0-based,
in the text after the colon) of what is wrong: an unknown Apache directive,
two variables with nothing between them, a regex that does not compile, no
field at all.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from operator import itemgetter
from typing import Any

from logmr.errors import InvalidParameterError
from logmr.formats.access import QUOTED_BYTE, request_method, request_path, response_size
from logmr.formats.base import (
    CANONICAL_FIELDS,
    Getter,
    RegexFormat,
    line_or_block_pattern,
    line_text,
)
from logmr.formats.timeparse import apache_epoch, apache_local, iso_epoch, iso_local

__all__ = ["CUSTOM_KINDS", "MAX_CUSTOM_FORMAT_CHARS", "custom_format", "is_custom"]

#: the prefixes of a custom format's name
CUSTOM_KINDS = ("nginx", "apache", "regex")
#: the longest custom format accepted (its whole name, prefix included): a
#: job request carries it, and nginx log_formats run to a few hundred bytes
MAX_CUSTOM_FORMAT_CHARS = 4096

_NOT_SPACE = rb"[\x00-\x08\x0e-\x1f!-\xff]"
_TIME_APACHE = rb"[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}"
_TIME_ISO = (
    rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    rb"(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
)
#: what a variable of each kind matches outside quotes and brackets
_KIND_REGEX = {
    "status": rb"[0-9]{3}",
    "size": rb"[0-9]++|-",
    "time_apache": _TIME_APACHE,
    "time_bracketed": _TIME_APACHE,
    "time_iso": _TIME_ISO,
}


def _number(kind: type) -> Callable[[bytes], Any]:
    def convert(raw: bytes) -> Any:
        try:
            value = kind(raw)
        except ValueError:
            return None
        return value if math.isfinite(value) else None

    return convert


_INT = _number(int)
_FLOAT = _number(float)


def _scaled(divisor: float) -> Callable[[bytes], float | None]:
    def convert(raw: bytes) -> float | None:
        value = _FLOAT(raw)
        return None if value is None else value / divisor

    return convert


def _msec_local(raw: bytes) -> float | None:
    value: float | None = _FLOAT(raw)
    return value


#: a variable: (its field name, its kind for the regex, its conversion, the
#: canonical fields it gives with their conversions)
Var = tuple[str, str, Callable[[bytes], Any] | None, dict[str, Callable[[bytes], Any] | None]]

_TIME_FIELDS: dict[str, dict[str, Callable[[bytes], Any] | None]] = {
    "time_apache": {"local_time": apache_local, "epoch": apache_epoch},
    "time_iso": {"local_time": iso_local, "epoch": iso_epoch},
}


def _nginx_var(name: str) -> Var:
    """What the nginx variable ``$name`` holds."""
    canonical: dict[str, dict[str, Callable[[bytes], Any] | None]] = {
        "remote_addr": {"client": None},
        "status": {"status": None},
        "body_bytes_sent": {"bytes": response_size},
        "bytes_sent": {"bytes": response_size},
        "request": {"method": request_method, "path": request_path},
        "request_method": {"method": None},
        "request_uri": {"path": None},
        "uri": {"path": None},
        "http_referer": {"referer": None},
        "http_user_agent": {"user_agent": None},
        "host": {"vhost": None},
        "server_name": {"vhost": None},
        "time_local": dict(_TIME_FIELDS["time_apache"]),
        "time_iso8601": dict(_TIME_FIELDS["time_iso"]),
        "msec": {"epoch": _msec_local, "local_time": _msec_local},
        "request_time": {"latency": _FLOAT},
    }
    kind = {
        "status": "status",
        "body_bytes_sent": "size",
        "bytes_sent": "size",
        "time_local": "time_apache",
        "time_iso8601": "time_iso",
    }.get(name, "word")
    convert: Callable[[bytes], Any] | None = None
    if name.endswith("_time") or name == "msec":
        convert = _FLOAT
    elif name.endswith(("_length", "bytes_sent")) or name in ("connection", "pid"):
        convert = _INT
    return name, kind, convert, canonical.get(name, {})


#: Apache directives without ``{...}``: letter -> (field name, kind, conversion,
#: canonical fields)
_APACHE: dict[str, Var] = {
    "h": ("remote_host", "word", None, {"client": None}),
    "a": ("remote_ip", "word", None, {"client": None}),
    "A": ("local_ip", "word", None, {}),
    "l": ("ident", "word", None, {}),
    "u": ("user", "word", None, {}),
    "t": ("time", "time_bracketed", None, dict(_TIME_FIELDS["time_apache"])),
    "r": ("request", "word", None, {"method": request_method, "path": request_path}),
    "s": ("status", "status", None, {"status": None}),
    "b": ("size", "size", response_size, {"bytes": response_size}),
    "B": ("size", "size", response_size, {"bytes": response_size}),
    "O": ("bytes_sent", "size", response_size, {"bytes": response_size}),
    "I": ("bytes_received", "size", response_size, {}),
    "S": ("bytes_transferred", "size", response_size, {}),
    "D": ("duration_us", "word", _INT, {"latency": _scaled(1e6)}),
    "T": ("duration_s", "word", _FLOAT, {"latency": _FLOAT}),
    "v": ("vhost", "word", None, {"vhost": None}),
    "V": ("server_name", "word", None, {"vhost": None}),
    "p": ("port", "word", None, {}),
    "P": ("pid", "word", _INT, {}),
    "m": ("method", "word", None, {"method": None}),
    "U": ("url_path", "word", None, {"path": None}),
    "q": ("query", "word", None, {}),
    "H": ("protocol", "word", None, {}),
    "f": ("filename", "word", None, {}),
    "k": ("keepalive", "word", _INT, {}),
    "X": ("connection_status", "word", None, {}),
    "R": ("handler", "word", None, {}),
    "L": ("log_id", "word", None, {}),
}
_T_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6}
#: ``%{Name}X`` forms: X -> a prefix of the field name
_APACHE_BRACED = {"i": "", "o": "response_", "e": "env_", "n": "note_", "C": "cookie_", "c": ""}


def _apache_braced(arg: str, letter: str) -> Var | None:
    """``%{arg}letter``, or ``None`` if not supported."""
    if letter == "T" and arg in _T_UNITS:
        return "duration_" + arg, "word", _FLOAT, {"latency": _scaled(_T_UNITS[arg])}
    if letter == "a" and arg == "c":
        return "peer_ip", "word", None, {}
    if letter not in _APACHE_BRACED or letter == "c":
        return None
    name = _APACHE_BRACED[letter] + re.sub(r"\W", "_", arg.lower())
    canonical: dict[str, dict[str, Callable[[bytes], Any] | None]] = {
        "referer": {"referer": None},
        "user_agent": {"user_agent": None},
    }
    return name, "word", None, canonical.get(name, {}) if letter == "i" else {}


_NGINX_VAR = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")
_APACHE_DIRECTIVE = re.compile(r"%(?:[<>]|!?[0-9,]+)?(?:\{([^}]*)\})?(.)?", re.DOTALL)


def _bad(kind: str, position: int, what: str) -> InvalidParameterError:
    return InvalidParameterError(f"custom format {kind}: at position {position}: {what}")


def _tokens(kind: str, text: str) -> list[str | tuple[int, Var]]:
    """The literal texts and the variables (with their positions) of a
    ``nginx``/``apache`` format, in order."""
    parts: list[str | tuple[int, Var]] = []
    pos = 0
    pattern = _NGINX_VAR if kind == "nginx" else _APACHE_DIRECTIVE
    for found in pattern.finditer(text):
        parts.append(text[pos : found.start()])
        pos = found.end()
        if kind == "nginx":
            parts.append((found.start(), _nginx_var(found[1] or found[2])))
            continue
        arg, letter = found[1], found[2]
        if letter is None:
            raise _bad(kind, found.start(), "'%' at the end of the format")
        if letter == "%" and arg is None:
            parts.append("%")
            continue
        var = _APACHE.get(letter) if arg is None else _apache_braced(arg, letter)
        if var is None:
            shown = found[0]
            raise _bad(kind, found.start(), f"unsupported directive {shown!r}")
        parts.append((found.start(), var))
    parts.append(text[pos:])
    return [part for part in parts if part != ""]


class _Built:
    """A ``nginx``/``apache`` format compiled: its patterns and field sources."""

    def __init__(self, kind: str, text: str) -> None:
        tokens = _tokens(kind, text)
        if not any(isinstance(token, tuple) for token in tokens):
            raise _bad(kind, 0, "no variable in the format")
        self.bodies: dict[bool, bytes] = {False: b"", True: b""}
        #: group -> conversion of its bytes (``None``: as written)
        self.groups: dict[str, Callable[[bytes], Any] | None] = {}
        #: canonical field -> (group, conversion), the first variable giving it
        self.canonical: dict[str, tuple[str, Callable[[bytes], Any] | None]] = {}
        #: variable name -> its group (the first variable of that name)
        self.names: dict[str, str] = {}
        #: the groups that hold at least one byte in every record
        self.never_empty: set[str] = set()
        for i, token in enumerate(tokens):
            if isinstance(token, str):
                for block in (False, True):
                    self.bodies[block] += re.escape(token.encode("utf-8"))
                continue
            position, (name, var_kind, convert, fields) = token
            before = tokens[i - 1] if i else ""
            after = tokens[i + 1] if i + 1 < len(tokens) else ""
            if isinstance(before, tuple) or isinstance(after, tuple):
                raise _bad(kind, position, "a variable next to another, with nothing between them")
            group = self._group_name(name, fields)
            self.groups[group] = convert
            self.names.setdefault(name, group)
            for field, field_convert in fields.items():
                self.canonical.setdefault(field, (group, field_convert))
            # Apache's %t writes the brackets itself
            opening, closing = (rb"\[", rb"\]") if var_kind == "time_bracketed" else (b"", b"")
            for block in (False, True):
                regex = _variable_regex(var_kind, before, after, block)
                self.bodies[block] += (
                    opening + b"(?P<" + group.encode() + b">" + regex + b")" + closing
                )
            if re.fullmatch(_variable_regex(var_kind, before, after, True), b"") is None:
                self.never_empty.add(group)

    def _group_name(self, name: str, fields: Mapping[str, Any]) -> str:
        """The group of a variable: the canonical field it gives, when the
        variable is that field exactly (the column fast path reads it by
        name), else its own name; ``_2``, ``_3`` for a repeat."""
        plain = [field for field, convert in fields.items() if convert is None]
        base = plain[0] if len(plain) == 1 and len(fields) == 1 else name
        group, n = base, 1
        while group in self.groups:
            n += 1
            group = f"{base}_{n}"
        return group


def _variable_regex(kind: str, before: str, after: str, block: bool) -> bytes:
    """What one variable matches, given the literal texts around it."""
    quoted = before.endswith('"') and after.startswith('"')
    bracketed = before.endswith("[") and after.startswith("]")
    if kind in _KIND_REGEX:
        return b"(?:" + _KIND_REGEX[kind] + b")"
    if quoted:
        byte = QUOTED_BYTE[block]
        return byte + rb"*+(?:\\." + byte + rb"*+)*+"
    if bracketed:
        return rb"[^\]\n]*+"
    if after == "" or after[:1].isspace():
        return _NOT_SPACE + b"++"
    return _NOT_SPACE + b"+"


def _converted(group: str, convert: Callable[[bytes], Any]) -> Getter:
    def getter(m: re.Match[bytes]) -> Any:
        raw = m[group]
        return None if raw is None else convert(raw)

    return getter


_PCRE_NAMED = re.compile(r"\(\?<(?=[A-Za-z_])")
_REGEX_CANONICAL: dict[str, dict[str, Callable[[bytes], Any] | None]] = {
    "bytes": {"bytes": response_size},
    "size": {"bytes": response_size},
    "latency": {"latency": _FLOAT},
    "request": {"method": request_method, "path": request_path},
}
#: a regex group named as a canonical field holds it as written, but those
#: converted (a size, a duration, a time)
_REGEX_PLAIN = CANONICAL_FIELDS - {"bytes", "latency", "epoch", "local_time"}


def _time_of(raw: bytes, apply_offset: bool) -> float | None:
    if re.fullmatch(_TIME_APACHE, raw):
        return apache_epoch(raw) if apply_offset else apache_local(raw)
    return iso_epoch(raw) if apply_offset else iso_local(raw)


class CustomFormat(RegexFormat):
    """A custom format (``custom_format``); subclasses are made per format text."""

    _named: dict[str, Getter]

    def field_getter(self, field: str) -> Getter | None:
        found = super().field_getter(field)
        return found if found is not None else self._named.get(field)


#: a ``regex:`` record: the line and the spans of the match's groups (0: the match)
RegexRecord = tuple[bytes, list[tuple[int, int]]]


def _span_getter(index: int, convert: Callable[[bytes], Any] | None = None) -> Getter:
    """Group ``index`` of a ``regex:`` record (``None`` when it took no part),
    converted."""

    def getter(record: RegexRecord) -> Any:
        line, spans = record
        start, stop = spans[index]
        if start < 0:
            return None
        raw = line[start:stop]
        return raw if convert is None else convert(raw)

    return getter


def _record_line(record: RegexRecord) -> str:
    return line_text(record[0])


#: the constructs RE2 lacks: a backreference, a lookaround, an atomic group,
#: a possessive quantifier (where a refusal most likely points)
_RE2_LACKS = re.compile(rb"\\[1-9]|\(\?P=|\(\?<?[=!]|\(\?>|[*+?}]\+")


class _Re2Line:
    """A user's regex compiled with RE2 (Latin-1: bytes, as a Python ``re``
    bytes pattern), matched from the start of a line in time linear in its
    length: no catastrophic backtracking, as ``pattern_count``'s patterns."""

    def __init__(self, source: bytes) -> None:
        import re2

        options = re2.Options()
        options.encoding = re2.Options.Encoding.LATIN1
        options.log_errors = False
        options.dot_nl = True
        try:
            compiled = re2.compile(source, options)
        except re2.error as exc:
            detail = exc.args[0] if exc.args else exc
            text = (
                detail.decode("utf-8", "backslashreplace") if isinstance(detail, bytes) else detail
            )
            found = _RE2_LACKS.search(source)
            raise _bad(
                "regex",
                0 if found is None else len(source[: found.start()].decode("utf-8", "replace")),
                f"RE2 (a linear-time engine) refuses the regex: {text}",
            ) from None
        self.groupindex = {
            name.decode("utf-8", "backslashreplace"): index
            for name, index in compiled.groupindex.items()
        }
        # the bound matcher of the compiled program: one C call per line
        self._match = compiled._regexp.Match
        self._anchor = re2._Anchor.ANCHOR_START

    def match(self, line: bytes) -> RegexRecord | None:
        spans = self._match(self._anchor, line, 0, len(line))
        return None if spans[0][0] < 0 else (line, spans)


def _regex_format(text: str) -> tuple[_Re2Line, dict[str, Getter], dict[str, Getter]]:
    """The matcher, canonical getters and named getters of a ``regex:`` format.
    Python's ``re`` checks the syntax first, for the position of an error."""
    source = _PCRE_NAMED.sub("(?P<", text)
    try:
        re.compile(source.encode("utf-8"))
    except re.error as exc:
        position = exc.pos if exc.pos is not None else 0
        raise _bad("regex", position, f"the regex does not compile: {exc.msg}") from None
    pattern = _Re2Line(source.encode("utf-8"))
    if not pattern.groupindex:
        raise _bad("regex", 0, "no named group (?P<name>...) in the regex")
    canonical: dict[str, Getter] = {}
    named: dict[str, Getter] = {}
    for name, index in sorted(pattern.groupindex.items(), key=lambda item: item[1]):
        named[name] = _span_getter(index)
        for field, convert in _REGEX_CANONICAL.get(name, {}).items():
            canonical.setdefault(field, _span_getter(index, convert))
        if name in _REGEX_PLAIN:
            canonical.setdefault(name, named[name])
        if name == "time":
            canonical["epoch"] = _span_getter(index, lambda raw: _time_of(raw, True))
            canonical["local_time"] = _span_getter(index, lambda raw: _time_of(raw, False))
    return pattern, canonical, named


class RegexCustomFormat(CustomFormat):
    """A ``regex:`` format: its record is the line and the spans of an RE2 match."""

    _matcher: _Re2Line

    def parse(self, line: bytes) -> Any:
        return self._matcher.match(line)

    def parse_many(self, lines: Iterable[bytes]) -> Iterator[Any]:
        return map(self._matcher.match, lines)

    def line_getter(self) -> Getter:
        return _record_line


def is_custom(name: str) -> bool:
    """Whether ``name`` names a custom format (``nginx:...`` and so on)."""
    kind, sep, _ = name.partition(":")
    return bool(sep) and kind.strip().lower() in CUSTOM_KINDS


def custom_format(name: str, options: Mapping[str, str] | None = None) -> RegexFormat:
    """The custom format ``name`` (``kind:text``), with ``options`` (none exist)."""
    if len(name) > MAX_CUSTOM_FORMAT_CHARS:
        raise InvalidParameterError(
            f"custom format too long: {len(name):,} characters (at most"
            f" {MAX_CUSTOM_FORMAT_CHARS:,})"
        )
    kind, _, text = name.partition(":")
    return _custom_class(kind.strip().lower(), text)(options)


@functools.lru_cache(maxsize=64)
def _custom_class(kind: str, text: str) -> type[CustomFormat]:
    if not text.strip():
        raise _bad(kind, 0, "the format is empty")
    attrs: dict[str, Any] = {"name": f"{kind}:{text}"}
    if kind == "regex":
        matcher, canonical, by_group = _regex_format(text)
        attrs.update(
            description="custom format: a regex with named groups (RE2)",
            _matcher=matcher,
            _getters=canonical,
            _named=by_group,
        )
        return type("RegexCustomFormat", (RegexCustomFormat,), attrs)
    built = _Built(kind, text)
    block = line_or_block_pattern(built.bodies[True], block=True)
    getters: dict[str, Getter] = {}
    derived: dict[str, tuple[str, Callable[[bytes], Any]]] = {}
    plain: set[str] = set()
    for field, (group, convert) in built.canonical.items():
        if convert is None:
            getters[field] = itemgetter(group)
            if group == field:
                plain.add(field)
        else:
            getters[field] = _converted(group, convert)
            derived[field] = (group, convert)
    named: dict[str, Getter] = {}
    for group, convert in built.groups.items():
        named[group] = itemgetter(group) if convert is None else _converted(group, convert)
    for name, group in built.names.items():
        named.setdefault(name, named[group])
    attrs.update(
        description="custom format: "
        + ("nginx log_format" if kind == "nginx" else "Apache LogFormat"),
        _pattern=line_or_block_pattern(built.bodies[False], block=False),
        _block_pattern=block,
        _plain_fields=frozenset(plain),
        _derived=derived,
        _never_empty=frozenset(built.never_empty),
        _getters=getters,
        _named=named,
    )
    return type("LogFormatCustomFormat", (CustomFormat,), attrs)
