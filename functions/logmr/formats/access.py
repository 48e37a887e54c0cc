"""Apache / nginx access logs: ``apache_common``, ``apache_combined``, ``vhost_combined``.

Accepted lines (each pattern is anchored at both ends; anything else is
malformed):

* ``apache_common`` - Common Log Format ``%h %l %u %t "%r" %>s %b``::

    127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326

* ``apache_combined`` (alias ``nginx``, ``nginx_combined``, ``combined``) -
  the common fields plus ``"%{Referer}i" "%{User-Agent}i"``, then any
  trailing fields, each after one space, quoted or a run of non-blank bytes
  (an X-Forwarded-For, nginx's ``$request_time``, ...). nginx's default
  ``combined`` log_format writes the same layout, without trailing fields.
* ``vhost_combined`` - Apache's ``%v:%p`` (virtual host and port) in front of
  the combined fields.

The acceptance is the reference regex of the project's test data, but for
the trailing fields of ``apache_combined`` (which that regex refuses):
``\\S+`` for host, ident and user; a bracketed time
``DD/Mon/YYYY:HH:MM:SS +zzzz`` (``Mon`` is any ``[A-Z][a-z]{2}``); a quoted
request, referer and user agent in which a backslash escapes the next byte;
a three-digit status; a size that is digits or ``-``.

Fields (all ``bytes`` as written, no URL-decoding or unescaping):
``client`` = ``%h``; ``method`` / ``path`` = first / second whitespace-separated
token of the request (``None`` when the request has fewer tokens, e.g.
``"-"``); ``status``; ``bytes`` as ``int`` (``-`` is 0); ``referer``,
``user_agent`` (combined forms); ``vhost`` (``vhost_combined``); ``local_time``
/ ``epoch`` from the bracketed time, without / with its offset; and by name
(not among the canonical fields: a line may have none) ``apache_combined``'s
trailing fields ``extra1``, ``extra2``, ... (a quoted one unquoted) and
``latency``, the first bare one written as seconds (``0.012``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any, ClassVar

from logmr.formats.base import MAX_RESPONSE_SIZE, MAX_RESPONSE_SIZE_DIGITS, Getter, RegexFormat
from logmr.formats.timeparse import apache_epoch, apache_local

# The reference's ``\S``, ``\d`` and ``[^"\\]`` spelled as byte ranges: the same
# sets for ``bytes`` patterns (``\S`` excludes exactly \t \n \v \f \r and space),
# but a set of ranges compiles to one bitmap test per byte, which ``re`` scans
# about 1.4x faster than a negated set or a category.
_NOT_SPACE = rb"[\x00-\x08\x0e-\x1f!-\xff]"
_DIGIT = rb"[0-9]"
#: a byte of a quoted field other than ``"`` and ``\``; in block patterns not LF
QUOTED_BYTE = {False: rb"[\x00-!#-\[\]-\xff]", True: rb"[\x00-\t\x0b-!#-\[\]-\xff]"}


def _quoted(name: str, block: bool) -> bytes:
    """A quoted field, a backslash escaping the next byte (unrolled, possessive)."""
    byte = QUOTED_BYTE[block]
    return b'"(?P<' + name.encode() + b">" + byte + rb"*+(?:\\." + byte + rb'*+)*+)"'


def _trailing(block: bool) -> bytes:
    """Trailing fields after the user agent, none or more, each after one
    space: a quoted field (as ``_quoted``) or a run of non-blank bytes not
    starting with a quote; the group ``extra`` holds them all, without the
    first space (it takes no part in a line without any)."""
    byte = QUOTED_BYTE[block]
    field = b'(?:"' + byte + rb"*+(?:\\." + byte + rb'*+)*+"|[^\s"]' + _NOT_SPACE + b"*+)"
    return b"(?: (?P<extra>" + field + b"(?: " + field + b")*+))?"


def _access(
    prefix: bytes, combined: bool, block: bool, trailing: bool = False
) -> re.Pattern[bytes]:
    """The pattern of one access format: per line (``block=False``, anchored at
    both ends), or over a text of LF-terminated lines (``block=True``);
    ``trailing``: any fields after the user agent (``_trailing``)."""
    ns, d = _NOT_SPACE, _DIGIT
    body = (
        prefix
        + b"(?P<client>" + ns + b"++) " + ns + b"++ " + ns + b"++ "
        + rb"\[(?P<time>" + d + b"{2}/[A-Z][a-z]{2}/" + d + b"{4}:" + d + b"{2}:" + d + b"{2}:"
        + d + b"{2} [+-]" + d + rb"{4})\] "
        + _quoted("request", block)
        + b" (?P<status>" + d + b"{3}) (?P<size>" + d + b"++|-)"
    )  # fmt: skip
    if combined:
        body += b" " + _quoted("referer", block) + b" " + _quoted("user_agent", block)
    if trailing:
        body += _trailing(block)
    if block:
        return re.compile(b"^" + body + rb"\r?$", re.MULTILINE)
    return re.compile(body + rb"\Z")


_VHOST_PREFIX = b"(?P<vhost>" + _NOT_SPACE + b"+):(?P<port>" + _DIGIT + b"+) "
_COMMON = _access(b"", combined=False, block=False)
_COMBINED = _access(b"", combined=True, block=False, trailing=True)
_VHOST = _access(_VHOST_PREFIX, combined=True, block=False)
_PLAIN = frozenset({"client", "status"})
_PLAIN_COMBINED = _PLAIN | {"referer", "user_agent"}
#: the groups that hold at least one byte in every line the patterns accept
_NEVER_EMPTY = frozenset({"vhost", "port", "client", "time", "status", "size"})


def response_size(value: bytes) -> int | None:
    """``%b``/``%O`` as ``int``: ``-`` is 0; ``None`` for a size over
    ``MAX_RESPONSE_SIZE`` (a run of 400 digits is no size a server sent)."""
    if value == b"-":
        return 0
    if len(value) > MAX_RESPONSE_SIZE_DIGITS:
        return None
    try:
        size = int(value)
    except ValueError:
        return None
    return size if size <= MAX_RESPONSE_SIZE else None


def request_method(request: bytes) -> bytes | None:
    """The first whitespace-separated token of a request, if any."""
    parts = request.split(None, 1)
    return parts[0] if parts else None


def request_path(request: bytes) -> bytes | None:
    """The second whitespace-separated token of a request, if any."""
    parts = request.split(None, 2)
    return parts[1] if len(parts) > 1 else None


#: fields converted from one named group (``RegexFormat._derived``)
_DERIVED: dict[str, tuple[str, Callable[[bytes], Any]]] = {
    "bytes": ("size", response_size),
    "local_time": ("time", apache_local),
    "epoch": ("time", apache_epoch),
    "method": ("request", request_method),
    "path": ("request", request_path),
}


def _access_getters(combined: bool) -> dict[str, Getter]:
    """Getters by the patterns' group names (the same in every access format)."""
    getters: dict[str, Getter] = {
        "client": itemgetter("client"),
        "status": itemgetter("status"),
    }
    for field, (group, convert) in _DERIVED.items():
        getters[field] = _converted(group, convert)
    if combined:
        getters["referer"] = itemgetter("referer")
        getters["user_agent"] = itemgetter("user_agent")
    return getters


def _converted(group: str, convert: Callable[[bytes], Any]) -> Getter:
    def getter(m: re.Match[bytes]) -> Any:
        return convert(m[group])

    return getter


class ApacheCommon(RegexFormat):
    name = "apache_common"
    aliases = ("common", "clf")
    description = 'Apache/NCSA common log format: %h %l %u %t "%r" %>s %b'
    _pattern = _COMMON
    _block_pattern = _access(b"", combined=False, block=True)
    _plain_fields = _PLAIN
    _derived = _DERIVED
    _never_empty = _NEVER_EMPTY
    _getters: ClassVar[Mapping[str, Getter]] = _access_getters(combined=False)


class VhostCombined(RegexFormat):
    name = "vhost_combined"
    aliases = ("apache_vhost_combined",)
    description = "Apache vhost_combined: %v:%p followed by the combined fields"
    _pattern = _VHOST
    _block_pattern = _access(_VHOST_PREFIX, combined=True, block=True)
    _plain_fields = _PLAIN_COMBINED | {"vhost"}
    _derived = _DERIVED
    _never_empty = _NEVER_EMPTY
    _getters: ClassVar[Mapping[str, Getter]] = {
        "vhost": itemgetter("vhost"),
        **_access_getters(combined=True),
    }


#: one trailing field of ``apache_combined`` (the ``extra`` group): its
#: unquoted text (escapes kept as written), or the run of non-blank bytes
_TRAILING_FIELD = re.compile(rb'"((?:[^"\\]|\\.)*+)"|(\S++)', re.DOTALL)
#: a trailing field read as a request time in seconds: digits, a point, digits
#: (nginx ``$request_time``, ``$upstream_response_time``)
_SECONDS = re.compile(rb"[0-9]++\.[0-9]++")
#: the name of trailing field N (1-based): ``extra1``, ``extra2``, ...
EXTRA_FIELD = re.compile(r"extra([1-9][0-9]{0,2})")


def trailing_fields(extra: bytes | None) -> list[bytes]:
    """The trailing fields of one record's ``extra`` group, in order."""
    if extra is None:
        return []
    return [quoted or b"" if bare is None else bare for quoted, bare in _trailing_pairs(extra)]


def _trailing_pairs(extra: bytes) -> list[tuple[bytes, None] | tuple[None, bytes]]:
    """Each trailing field as (its quoted text, ``None``) or (``None``, its bare text)."""
    return [(m[1], None) if m[2] is None else (None, m[2]) for m in _TRAILING_FIELD.finditer(extra)]


def trailing_latency(extra: bytes | None) -> float | None:
    """The first unquoted trailing field written as seconds with a decimal
    point (``0.008``), as ``float``; ``None`` when there is none."""
    if extra is None:
        return None
    for _, bare in _trailing_pairs(extra):
        if bare is not None and _SECONDS.fullmatch(bare):
            return float(bare)
    return None


def _nth_trailing(index: int) -> Getter:
    def getter(m: re.Match[bytes]) -> bytes | None:
        fields = trailing_fields(m["extra"])
        return fields[index] if index < len(fields) else None

    return getter


def describe_trailing(extras: list[bytes]) -> str:
    """What ``auto`` says of the trailing fields it saw (one record's
    ``extra`` group per sampled record): their number and which is a request
    time, e.g. ``"combined + 2 trailing fields (extra1 quoted, extra2 seconds
    -> latency)"``."""
    counts = sorted({len(_trailing_pairs(extra)) for extra in extras})
    if not counts:
        return "combined + trailing fields"
    first = _trailing_pairs(extras[0])
    kinds = []
    latency_named = False
    for i, (quoted, bare) in enumerate(first, 1):
        if quoted is not None:
            kinds.append(f"extra{i} quoted")
        elif _SECONDS.fullmatch(bare or b"") and not latency_named:
            kinds.append(f"extra{i} seconds -> latency")
            latency_named = True
        else:
            kinds.append(f"extra{i}")
    number = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    plural = "" if number == "1" else "s"
    return f"combined + {number} trailing field{plural} ({', '.join(kinds)})"


class ApacheCombined(RegexFormat):
    """Combined, and any fields after the user agent (an X-Forwarded-For,
    nginx's ``$request_time``...): ``extra1``, ``extra2``, ... and ``latency``
    (the first bare one written as seconds), resolved by name
    (``field_getter``); a line without them has none."""

    name = "apache_combined"
    aliases = (
        "nginx_combined",
        "nginx",
        "combined",
        "apache_combined_extra",
        "nginx_combined_extra",
        "combined_extra",
    )
    description = (
        'Apache/nginx combined: common + "%{Referer}i" "%{User-Agent}i", then any trailing'
        " fields (X-Forwarded-For, $request_time, ...) as extra1, extra2, ..."
    )
    _pattern = _COMBINED
    _block_pattern = _access(b"", combined=True, block=True, trailing=True)
    _plain_fields = _PLAIN_COMBINED
    _derived: ClassVar[Mapping[str, tuple[str, Callable[[bytes], Any]]]] = {
        **_DERIVED,
        "latency": ("extra", trailing_latency),
    }
    _never_empty = _NEVER_EMPTY
    _getters: ClassVar[Mapping[str, Getter]] = _access_getters(combined=True)

    def describe_sample(self, records: list[Any]) -> str:
        """The trailing fields, when most of the sample's records have them
        (a stray line with one does not make a log a variant)."""
        extras = [m["extra"] for m in records if m["extra"] is not None]
        return describe_trailing(extras) if extras and 2 * len(extras) > len(records) else ""

    def field_getter(self, field: str) -> Getter | None:
        if field == "latency":
            return _converted("extra", trailing_latency)
        numbered = EXTRA_FIELD.fullmatch(field)
        if numbered is not None:
            return _nth_trailing(int(numbered[1]) - 1)
        return super().field_getter(field)
