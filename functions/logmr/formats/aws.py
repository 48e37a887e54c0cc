"""AWS service logs: ``alb``, ``cloudfront``, ``s3_access``.

Each pattern pins the documented leading fields and accepts (and ignores)
any further trailing fields, because AWS appends fields over time.

``alb`` - Application Load Balancer access log, space-separated::

    type time elb client:port target:port request_processing_time
    target_processing_time response_processing_time elb_status_code
    target_status_code received_bytes sent_bytes "request" "user_agent"
    ssl_cipher ssl_protocol target_group_arn "trace_id" ["domain_name" ...]

Required through ``"trace_id"``. Fields: ``client`` (client address without
``:port``), ``method``, ``path`` (the request target with ``scheme://host:port``
removed, so it starts with ``/``; ``None`` for ``-`` or a target without a
path), ``status`` (elb_status_code; ``None`` when ``-``), ``bytes``
(sent_bytes), ``user_agent``, ``vhost`` (domain_name when present and not
``-``), ``latency`` (sum of the three processing times; ``None`` when any is
-1), ``epoch`` / ``local_time`` (the UTC time field).

``cloudfront`` - CloudFront standard (access) log, tab-separated::

    date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem
    sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie)
    x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes
    time-taken [x-forwarded-for ssl-protocol ...]

Required through ``time-taken`` (19 fields). The ``#Version:`` and
``#Fields:`` header lines are malformed for this format (``parse`` gives
``None``): the column order is fixed by AWS, and a map task that starts in the
middle of a file never sees the header anyway. Fields: ``client`` (c-ip),
``method``, ``path`` (cs-uri-stem, plus ``?`` and cs-uri-query when the query
is not ``-``), ``status`` (``None`` when ``-``), ``bytes`` (sc-bytes),
``referer`` and ``user_agent`` (URL-encoded, as CloudFront writes them),
``vhost`` (x-host-header), ``latency`` (time-taken), ``epoch`` / ``local_time``
(date and time, UTC).

``s3_access`` - S3 server access log, space-separated::

    bucket_owner bucket [06/Feb/2019:00:00:38 +0000] remote_ip requester
    request_id operation key "request_uri" http_status error_code bytes_sent
    object_size total_time turn_around_time "referer" "user_agent" [version_id ...]

Required through ``"user_agent"``. Fields: ``client`` (remote_ip), ``method``
and ``path`` (first / second token of request_uri, ``None`` when missing),
``status`` (``None`` when ``-``), ``bytes`` (bytes_sent, ``-`` is 0),
``referer``, ``user_agent``, ``vhost`` (the bucket), ``latency`` (total_time
ms / 1000, ``None`` when ``-``), ``epoch`` / ``local_time`` (the bracketed time).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from operator import itemgetter
from typing import ClassVar

from logmr.formats.access import QUOTED_BYTE, response_size
from logmr.formats.base import Getter, RegexFormat, line_or_block_pattern
from logmr.formats.timeparse import apache_epoch, apache_local, iso_local


def _quoted(block: bool, capture: bool = True) -> bytes:
    """A quoted field, a backslash escaping the next byte. The line form keeps
    its original negated sets; the block form takes the access formats' byte
    ranges (no LF, and faster to scan)."""
    byte = QUOTED_BYTE[True] if block else rb'[^"\\]'
    body = byte + rb"*+(?:\\." + byte + rb"*+)*+"
    return b'"(' + body + b')"' if capture else b'"' + body + b'"'


_SECONDS = rb"(-?\d++(?:\.\d++)?)"


def _alb(block: bool) -> re.Pattern[bytes]:
    quoted = _quoted(block)
    body = b"".join(
        [
            rb"[a-z0-9]++ ",  # type
            rb"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d++)?Z) ",  # 1 time
            rb"\S++ (\S++) \S++ ",  # elb, 2 client:port, target:port
            _SECONDS + b" " + _SECONDS + b" " + _SECONDS + b" ",  # 3-5 processing times
            rb"(\d{3}|-) (?:\d{3}|-) (?:\d++|-) (\d++|-) ",  # 6 elb status, 7 sent_bytes
            quoted + b" " + quoted,  # 8 request, 9 user_agent
            rb" \S++ \S++ \S++ " + _quoted(block, capture=False),  # ssl, tg arn, trace_id
            rb"(?: " + quoted + rb"(?: .*)?)?",  # 10 domain_name, further fields
        ]
    )
    return line_or_block_pattern(body, block)


def _cloudfront() -> re.Pattern[bytes]:
    """Line form only: a block form (``[^\t\n]`` fields, the last one lazy to
    leave a CRLF's CR to ``\r?$``) measured 1.6x slower than this pattern's
    ``[^\t]`` runs over split lines."""
    not_tab = rb"[^\t]"
    field, skip = b"(" + not_tab + rb"*+)\t", not_tab + rb"*+\t"
    last = b"(" + not_tab + b"*+)"
    body = b"".join(
        [
            rb"(\d{4}-\d{2}-\d{2})\t(\d{2}:\d{2}:\d{2})\t",  # 1 date, 2 time
            skip,  # x-edge-location
            rb"(\d++|-)\t",  # 3 sc-bytes
            field + field,  # 4 c-ip, 5 cs-method
            skip,  # cs(Host)
            field,  # 6 cs-uri-stem
            rb"(\d{3}|-)\t",  # 7 sc-status
            field + field + field,  # 8 cs(Referer), 9 cs(User-Agent), 10 cs-uri-query
            skip + skip + skip,  # cs(Cookie), x-edge-result-type, x-edge-request-id
            field,  # 11 x-host-header
            skip + skip,  # cs-protocol, cs-bytes
            last + rb"(?:\t.*)?",  # 12 time-taken, further fields
        ]
    )
    return line_or_block_pattern(body, block=False)


def _s3(block: bool) -> re.Pattern[bytes]:
    quoted = _quoted(block)
    body = b"".join(
        [
            rb"\S++ (\S++) ",  # bucket_owner, 1 bucket
            rb"\[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] ",  # 2 time
            rb"(\S++) \S++ \S++ \S++ \S++ ",  # 3 remote_ip, requester, request_id, op, key
            quoted,  # 4 request_uri
            rb" (\d{3}|-) \S++ ",  # 5 http_status, error_code
            rb"(\d++|-) (?:\d++|-) (\d++|-) (?:\d++|-) ",  # 6 bytes_sent, size, 7 total_time
            quoted + b" " + quoted,  # 8 referer, 9 user_agent
            rb"(?: .*)?",  # version_id and further fields
        ]
    )
    return line_or_block_pattern(body, block)


_ALB, _CLOUDFRONT, _S3 = _alb(block=False), _cloudfront(), _s3(block=False)


def _dash_none(group: int) -> Getter:
    def get(m: re.Match[bytes]) -> bytes | None:
        value = m[group]
        return None if value == b"-" else value

    return get


def _size(group: int) -> Getter:
    def get(m: re.Match[bytes]) -> int | None:
        return response_size(m[group])

    return get


def _request_token(group: int, index: int) -> Getter:
    def get(m: re.Match[bytes]) -> bytes | None:
        parts = m[group].split(None, index + 1)
        return parts[index] if len(parts) > index else None

    return get


def _alb_client(m: re.Match[bytes]) -> bytes:
    host, sep, _ = m[2].rpartition(b":")
    return host if sep else m[2]


def _alb_path(m: re.Match[bytes]) -> bytes | None:
    parts = m[8].split(None, 2)
    if len(parts) < 2 or parts[1] == b"-":
        return None
    target = parts[1]
    scheme_end = target.find(b"://")
    if scheme_end < 0:
        return target
    slash = target.find(b"/", scheme_end + 3)
    return None if slash < 0 else target[slash:]


def _alb_latency(m: re.Match[bytes]) -> float | None:
    total = 0.0
    for group in (3, 4, 5):
        value = float(m[group])
        if value < 0:
            return None
        total += value
    return total


def _alb_time(m: re.Match[bytes]) -> float | None:
    return iso_local(m[1])


def _cloudfront_path(m: re.Match[bytes]) -> bytes:
    query = m[10]
    return m[6] if query in (b"-", b"") else m[6] + b"?" + query


def _cloudfront_time(m: re.Match[bytes]) -> float | None:
    return iso_local(m[1] + b"T" + m[2])


def _cloudfront_latency(m: re.Match[bytes]) -> float | None:
    try:
        value = float(m[12])
    except ValueError:
        return None
    return value if value >= 0 else None


def _s3_latency(m: re.Match[bytes]) -> float | None:
    value = m[7]
    if value == b"-" or len(value) > 15:
        return None
    return int(value) / 1000


class Alb(RegexFormat):
    name = "alb"
    aliases = ("aws_alb", "elb")
    description = "AWS Application Load Balancer access log"
    _pattern = _ALB
    _block_pattern = _alb(block=True)
    _getters: ClassVar[Mapping[str, Getter]] = {
        "client": _alb_client,
        "method": _request_token(8, 0),
        "path": _alb_path,
        "status": _dash_none(6),
        "bytes": _size(7),
        "user_agent": itemgetter(9),
        "vhost": lambda m: None if m[10] in (None, b"-") else m[10],
        "latency": _alb_latency,
        "epoch": _alb_time,
        "local_time": _alb_time,
    }


class CloudFront(RegexFormat):
    name = "cloudfront"
    aliases = ("aws_cloudfront",)
    description = "AWS CloudFront standard log (tab-separated; '#' header lines are malformed)"
    _pattern = _CLOUDFRONT
    _getters: ClassVar[Mapping[str, Getter]] = {
        "client": itemgetter(4),
        "method": itemgetter(5),
        "path": _cloudfront_path,
        "status": _dash_none(7),
        "bytes": _size(3),
        "referer": itemgetter(8),
        "user_agent": itemgetter(9),
        "vhost": _dash_none(11),
        "latency": _cloudfront_latency,
        "epoch": _cloudfront_time,
        "local_time": _cloudfront_time,
    }


class S3Access(RegexFormat):
    name = "s3_access"
    aliases = ("s3", "aws_s3")
    description = "AWS S3 server access log"
    _pattern = _S3
    _block_pattern = _s3(block=True)
    _getters: ClassVar[Mapping[str, Getter]] = {
        "client": itemgetter(3),
        "method": _request_token(4, 0),
        "path": _request_token(4, 1),
        "status": _dash_none(5),
        "bytes": _size(6),
        "referer": itemgetter(8),
        "user_agent": itemgetter(9),
        "vhost": itemgetter(1),
        "latency": _s3_latency,
        "epoch": lambda m: apache_epoch(m[2]),
        "local_time": lambda m: apache_local(m[2]),
    }
