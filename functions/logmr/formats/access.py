"""Apache / nginx access logs: ``apache_common``, ``apache_combined``, ``vhost_combined``.

Accepted lines (each pattern is anchored at both ends; anything else is
malformed):

* ``apache_common`` - Common Log Format ``%h %l %u %t "%r" %>s %b``::

    127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326

* ``apache_combined`` (alias ``nginx_combined``, ``combined``) - the common
  fields plus ``"%{Referer}i" "%{User-Agent}i"``. nginx's default
  ``combined`` log_format writes the same layout.
* ``vhost_combined`` - Apache's ``%v:%p`` (virtual host and port) in front of
  the combined fields.

The acceptance is exactly the reference regex of the project's test data:
``\\S+`` for host, ident and user; a bracketed time
``DD/Mon/YYYY:HH:MM:SS +zzzz`` (``Mon`` is any ``[A-Z][a-z]{2}``); a quoted
request, referer and user agent in which a backslash escapes the next byte;
a three-digit status; a size that is digits or ``-``.

Fields (all ``bytes`` as written, no URL-decoding or unescaping):
``client`` = ``%h``; ``method`` / ``path`` = first / second whitespace-separated
token of the request (``None`` when the request has fewer tokens, e.g.
``"-"``); ``status``; ``bytes`` as ``int`` (``-`` is 0); ``referer``,
``user_agent`` (combined forms); ``vhost`` (``vhost_combined``); ``local_time``
/ ``epoch`` from the bracketed time, without / with its offset.
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


def _access(prefix: bytes, combined: bool, block: bool) -> re.Pattern[bytes]:
    """The pattern of one access format: per line (``block=False``, anchored at
    both ends), or over a text of LF-terminated lines (``block=True``)."""
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
    if block:
        return re.compile(b"^" + body + rb"\r?$", re.MULTILINE)
    return re.compile(body + rb"\Z")


_VHOST_PREFIX = b"(?P<vhost>" + _NOT_SPACE + b"+):(?P<port>" + _DIGIT + b"+) "
_COMMON = _access(b"", combined=False, block=False)
_COMBINED = _access(b"", combined=True, block=False)
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


def _method(request: bytes) -> bytes | None:
    """The first whitespace-separated token of a request, if any."""
    parts = request.split(None, 1)
    return parts[0] if parts else None


def _path(request: bytes) -> bytes | None:
    """The second whitespace-separated token of a request, if any."""
    parts = request.split(None, 2)
    return parts[1] if len(parts) > 1 else None


#: fields converted from one named group (``RegexFormat._derived``)
_DERIVED: dict[str, tuple[str, Callable[[bytes], Any]]] = {
    "bytes": ("size", response_size),
    "local_time": ("time", apache_local),
    "epoch": ("time", apache_epoch),
    "method": ("request", _method),
    "path": ("request", _path),
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


class ApacheCombined(RegexFormat):
    name = "apache_combined"
    aliases = ("nginx_combined", "combined")
    description = 'Apache/nginx combined: common + "%{Referer}i" "%{User-Agent}i"'
    _pattern = _COMBINED
    _block_pattern = _access(b"", combined=True, block=True)
    _plain_fields = _PLAIN_COMBINED
    _derived = _DERIVED
    _never_empty = _NEVER_EMPTY
    _getters: ClassVar[Mapping[str, Getter]] = _access_getters(combined=True)


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
