"""The log formats: registry, parsers, getters, edge cases and the reference data."""

from __future__ import annotations

import collections
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import expected, expected_by_logmr, shared_file
from logmr.errors import FormatMismatchError, InvalidParameterError, UnknownFormatError
from logmr.formats import FORMATS, format_names, get_format, resolve_name
from logmr.formats.applog import is_continuation
from logmr.formats.base import CANONICAL_FIELDS, Format
from reference_access import lines_of, with_trailing_fields


def ts(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    *,
    offset_minutes: int = 0,
) -> float:
    """UTC epoch of a wall-clock time at ``offset_minutes`` east of UTC."""
    tz = timezone(timedelta(minutes=offset_minutes))
    return datetime(year, month, day, hour, minute, second, tzinfo=tz).timestamp()


def record_of(name: str, line: bytes, **options: str) -> tuple[Format, Any]:
    fmt = get_format(name, options)
    record = fmt.parse(line)
    assert record is not None, f"{name} rejected {line!r}"
    return fmt, record


def values(fmt: Format, record: Any) -> dict[str, Any]:
    return {field: getter(record) for field, getter in fmt.getters().items()}


# ---------------------------------------------------------------- sample lines
# Layouts and examples from the Apache, RFC 3164/5424 and AWS documentation.

COMMON = b'127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
COMBINED = COMMON + b' "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
VHOST = b"www.example.com:443 " + COMBINED
RFC3164 = b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"
RFC3164_PLAIN = b"Nov  8 07:01:02 ip-172-31-9-234 systemd[1]: Started Daily apt upgrade."
RFC5424 = (
    b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
    b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] '
    b"\xef\xbb\xbfAn application event log entry..."
)
RFC5424_OFFSET = (
    b"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - "
    b"%% It's time to make the do-nuts."
)
RFC5424_SD_ONLY = (
    b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
    b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
    b'[examplePriority@32473 class="high"]'
)
JSONL = (
    b'{"eventid": "cowrie.session.connect", "src_ip": "146.0.77.178", "src_port": 56415, '
    b'"timestamp": "2018-06-19T00:01:41.028206Z", "message": "New connection: '
    b'146.0.77.178:56415 (172.17.0.3:2222) [session: b74b0d248b58]", "isError": 0}'
)
KAFKA = (
    b"[2016-12-19 20:51:28,589] INFO Scheduling log segment 209297 for log test-3 for "
    b"deletion. (kafka.log.Log)"
)
LOG4J = b"2016-12-19 20:00:01,123 INFO [main] com.example.Server - started in 12 ms"
PLAIN = b"anything at all"
ALB_HTTP = (
    b"http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 "
    b"192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "
    b'"GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - '
    b"arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "
    b'"Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z '
    b'"forward" "-" "-" "10.0.0.1:80" "200" "-" "-"'
)
ALB_HTTPS = (
    b"https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 "
    b"192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "
    b'"GET https://www.example.com:443/index.html?lang=en HTTP/1.1" "curl/7.46.0" '
    b"ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 "
    b"arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "
    b'"Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" '
    b'"arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" '
    b'1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-"'
)
ALB_ERROR = (
    b"http 2018-11-30T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 "
    b"192.168.131.39:2817 - -1 -1 -1 502 - 34 366 "
    b'"GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - - '
    b'"Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 0 2018-11-30T22:22:48.364000Z '
    b'"forward" "-" "LambdaInvalidResponse" "-" "-" "-" "-"'
)
CLOUDFRONT = b"\t".join(
    [
        b"2019-12-13", b"22:36:27", b"SEA19-C1", b"900", b"192.0.2.200", b"GET",
        b"d111111abcdef8.cloudfront.net", b"/favicon.ico", b"502", b"http://www.example.com/",
        b"Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20"
        b"(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108%20Safari/537.36",
        b"-", b"-", b"Error", b"1pkpNfBQ39sYMnjjUQjmH2w1wdJnbHYTbag21o_3OfcQgPzdL2RSSQ==",
        b"www.example.com", b"http", b"675", b"0.102", b"-", b"-", b"-", b"Error", b"HTTP/1.1",
        b"-", b"-", b"25260", b"0.102", b"OriginDnsError", b"text/html", b"507", b"-", b"-",
    ]
)  # fmt: skip
S3 = (
    b"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be DOC-EXAMPLE-BUCKET1 "
    b"[06/Feb/2019:00:00:38 +0000] 192.0.2.3 "
    b"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE "
    b'REST.GET.VERSIONING - "GET /DOC-EXAMPLE-BUCKET1?versioning HTTP/1.1" 200 - 113 - 7 - '
    b'"-" "S3Console/0.4" - '
    b"s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 "
    b"ECDHE-RSA-AES128-GCM-SHA256 AuthHeader DOC-EXAMPLE-BUCKET1.s3.us-west-1.amazonaws.com "
    b"TLSV1.2 arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes"
)
S3_ERROR = (
    b"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be DOC-EXAMPLE-BUCKET1 "
    b"[06/Feb/2019:00:00:38 +0000] 192.0.2.3 "
    b"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be A1206F460EXAMPLE "
    b'REST.GET.BUCKETPOLICY - "GET /DOC-EXAMPLE-BUCKET1?policy HTTP/1.1" 404 NoSuchBucketPolicy '
    b'297 - 38 - "-" "S3Console/0.4" - '
    b"BNaBsXZQQDbssi6xMBdBU2sLt+Yf5kZDmeBUP35sFoKa3sLLeMC78iwEIWxs99CRUrbS4n11234= SigV4 "
    b"ECDHE-RSA-AES128-GCM-SHA256 AuthHeader DOC-EXAMPLE-BUCKET1.s3.us-west-1.amazonaws.com "
    b"TLSV1.2 - Yes"
)

#: one well-formed line per canonical format
SAMPLES: dict[str, bytes] = {
    "apache_common": COMMON,
    "apache_combined": COMBINED,
    "vhost_combined": VHOST,
    "syslog_rfc3164": RFC3164,
    "syslog_rfc5424": RFC5424,
    "jsonl": JSONL,
    "applog": KAFKA,
    "alb": ALB_HTTPS,
    "cloudfront": CLOUDFRONT,
    "s3_access": S3,
    "plain": PLAIN,
}
PARSERS = sorted(SAMPLES)


# ---------------------------------------------------------------- registry


@pytest.mark.unit
def test_every_format_has_a_sample() -> None:
    assert set(SAMPLES) == set(FORMATS)


@pytest.mark.unit
def test_format_names_are_the_sorted_canonical_names() -> None:
    assert format_names() == sorted(FORMATS)
    for name, cls in FORMATS.items():
        assert cls.name == name
        assert cls.description


@pytest.mark.unit
@pytest.mark.parametrize("name", PARSERS)
def test_get_format_by_canonical_name(name: str) -> None:
    fmt = get_format(name)
    assert isinstance(fmt, FORMATS[name])
    assert fmt.name == name
    assert resolve_name(name) == name


@pytest.mark.unit
@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("nginx_combined", "apache_combined"),
        ("NGINX-Combined", "apache_combined"),
        ("combined", "apache_combined"),
        ("common", "apache_common"),
        ("clf", "apache_common"),
        ("syslog", "syslog_rfc3164"),
        ("rfc5424", "syslog_rfc5424"),
        ("json", "jsonl"),
        ("ndjson", "jsonl"),
        ("log4j", "applog"),
        ("text", "plain"),
        ("s3", "s3_access"),
        (" alb ", "alb"),
    ],
)
def test_aliases_resolve(alias: str, canonical: str) -> None:
    assert resolve_name(alias) == canonical
    assert get_format(alias).name == canonical


@pytest.mark.unit
def test_aliases_are_unique() -> None:
    seen: dict[str, str] = {}
    for cls in FORMATS.values():
        for alias in (cls.name, *cls.aliases):
            assert alias not in seen, f"{alias} used by {seen.get(alias)} and {cls.name}"
            seen[alias] = cls.name


@pytest.mark.unit
@pytest.mark.parametrize("name", ["nope", "auto", "", "apache"])
def test_unknown_format_error_lists_known_names(name: str) -> None:
    with pytest.raises(UnknownFormatError) as info:
        get_format(name)
    message = str(info.value)
    assert "\n" not in message
    assert repr(name) in message
    for known in FORMATS:
        assert known in message
    with pytest.raises(UnknownFormatError):
        resolve_name(name)


@pytest.mark.unit
@pytest.mark.parametrize("name", PARSERS)
def test_unknown_option_is_rejected(name: str) -> None:
    with pytest.raises(InvalidParameterError, match=r"unknown option 'bogus'"):
        get_format(name, {"bogus": "1"})


@pytest.mark.unit
def test_known_options_and_defaults() -> None:
    assert get_format("syslog_rfc3164").options == {"year": "1970"}
    assert get_format("syslog_rfc3164", {"year": "2020"}).options == {"year": "2020"}
    assert set(get_format("jsonl").options) == {"time_field", "level_field", "message_field"}


@pytest.mark.unit
@pytest.mark.parametrize("year", ["", "abc", "0", "10000", "-5", "\uff12\uff10\uff12\uff10"])
def test_syslog_year_option_must_be_a_year(year: str) -> None:
    with pytest.raises(InvalidParameterError, match="year"):
        get_format("syslog_rfc3164", {"year": year})


@pytest.mark.unit
@pytest.mark.parametrize("option", ["time_field", "level_field", "message_field"])
def test_jsonl_field_options_must_name_a_key(option: str) -> None:
    with pytest.raises(InvalidParameterError, match=option):
        get_format("jsonl", {option: " , "})


@pytest.mark.unit
@pytest.mark.parametrize("name", PARSERS)
def test_fields_are_canonical(name: str) -> None:
    fmt = get_format(name)
    assert fmt.fields <= CANONICAL_FIELDS
    assert fmt.fields == frozenset(fmt.getters())
    assert "message" in fmt.fields or "path" in fmt.fields


@pytest.mark.unit
def test_missing_field_raises_format_mismatch() -> None:
    with pytest.raises(FormatMismatchError, match="has no field 'status'"):
        get_format("syslog_rfc3164").getter("status")
    with pytest.raises(FormatMismatchError, match="has no field 'latency'"):
        get_format("apache_common").getter("latency")


# ---------------------------------------------------------------- access logs


@pytest.mark.unit
def test_apache_common_fields() -> None:
    fmt, record = record_of("apache_common", COMMON)
    assert values(fmt, record) == {
        "client": b"127.0.0.1",
        "method": b"GET",
        "path": b"/apache_pb.gif",
        "status": b"200",
        "bytes": 2326,
        "local_time": ts(2000, 10, 10, 13, 55, 36),
        "epoch": ts(2000, 10, 10, 13, 55, 36, offset_minutes=-7 * 60),
    }


@pytest.mark.unit
def test_apache_combined_fields() -> None:
    fmt, record = record_of("apache_combined", COMBINED)
    got = values(fmt, record)
    assert got["referer"] == b"http://www.example.com/start.html"
    assert got["user_agent"] == b"Mozilla/4.08 [en] (Win98; I ;Nav)"
    assert got["path"] == b"/apache_pb.gif"
    assert got["epoch"] - got["local_time"] == 7 * 3600
    assert "vhost" not in got


@pytest.mark.unit
def test_vhost_combined_fields() -> None:
    fmt, record = record_of("vhost_combined", VHOST)
    got = values(fmt, record)
    assert got["vhost"] == b"www.example.com"
    assert got["client"] == b"127.0.0.1"
    assert got["status"] == b"200"
    assert got["bytes"] == 2326
    assert got["user_agent"] == b"Mozilla/4.08 [en] (Win98; I ;Nav)"
    _, ipv6 = record_of("vhost_combined", b"[::1]:8080 " + COMBINED)
    assert fmt.getter("vhost")(ipv6) == b"[::1]"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("request_line", "method", "path"),
    [
        (b"GET /a?b=c&d HTTP/1.1", b"GET", b"/a?b=c&d"),
        (b"-", b"-", None),
        (b"", None, None),
        (b"GET /only-two", b"GET", b"/only-two"),
        (b"POST  /double-space HTTP/1.1", b"POST", b"/double-space"),
        (b'GET /q\\"uoted HTTP/1.1', b"GET", b'/q\\"uoted'),
        (b"\\x16\\x03\\x01", b"\\x16\\x03\\x01", None),
        (b"OPTIONS * HTTP/1.0", b"OPTIONS", b"*"),
    ],
)
def test_request_tokens(request_line: bytes, method: bytes | None, path: bytes | None) -> None:
    line = b'1.2.3.4 - - [01/Dec/2020:08:12:33 +0000] "' + request_line + b'" 400 0 "-" "-"'
    fmt, record = record_of("apache_combined", line)
    assert fmt.getter("method")(record) == method
    assert fmt.getter("path")(record) == path


@pytest.mark.unit
def test_dash_size_counts_as_zero() -> None:
    fmt, record = record_of("apache_common", COMMON.replace(b" 2326", b" -"))
    assert fmt.getter("bytes")(record) == 0


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("apache_common", COMBINED),  # extra fields
        ("apache_common", COMMON + b" "),
        ("apache_common", COMMON.replace(b"200", b"20")),
        ("apache_common", COMMON.replace(b"2326", b"23x6")),
        ("apache_common", COMMON.replace(b"Oct", b"oct")),
        ("apache_common", COMMON.replace(b"-0700", b"0700")),
        ("apache_common", COMMON.replace(b"[10/", b"[1/")),
        ("apache_common", COMMON.replace(b"frank ", b"")),
        ("apache_common", COMMON + b"\n"),
        ("apache_common", COMMON.replace(b'HTTP/1.0"', b'HTTP/1.0\\"')),
        ("apache_combined", COMMON),
        ("apache_combined", COMBINED + b" "),  # a trailing field after its space
        ("apache_combined", COMBINED + b'  "-"'),  # one space before each
        ("apache_combined", COMBINED + b' "-'),  # a trailing field's quote closed
        ("apache_combined", COMBINED.replace(b'"Mozilla', b'"Moz"illa')),
        ("apache_combined", b""),
        ("vhost_combined", COMBINED),
        ("vhost_combined", b"www.example.com " + COMBINED),
        ("vhost_combined", b"www.example.com:http " + COMBINED),
    ],
)
def test_access_malformed(name: str, line: bytes) -> None:
    assert get_format(name).parse(line) is None


@pytest.mark.unit
@pytest.mark.parametrize(
    ("tail", "extras", "latency"),
    [
        (b' "-"', [b"-"], None),  # nginx + an X-Forwarded-For
        (b" 0.008 995", [b"0.008", b"995"], 0.008),  # $request_time, a size
        (b' 0.008 "203.0.113.9"', [b"0.008", b"203.0.113.9"], 0.008),  # and a client
    ],
)
def test_apache_combined_keeps_trailing_fields(
    tail: bytes, extras: list[bytes], latency: float | None
) -> None:
    """Unlike the reference regex of ``../shared/data`` (see test_reference.py),
    ``apache_combined`` takes fields after the user agent (issue 16): the
    combined fields as without them, and the trailing ones by name."""
    fmt = get_format("apache_combined")
    plain, record = fmt.parse(COMBINED), fmt.parse(COMBINED + tail)
    assert plain is not None and record is not None
    assert values(fmt, record) == values(fmt, plain)
    assert [fmt.getter(f"extra{i}")(record) for i in range(1, len(extras) + 1)] == extras
    assert fmt.getter(f"extra{len(extras) + 1}")(record) is None
    assert fmt.getter("latency")(record) == latency
    assert fmt.getter("latency")(plain) is None


@pytest.mark.unit
def test_access_escaped_quotes_and_binary_bytes() -> None:
    line = (
        b'1.2.3.4 - - [01/Dec/2020:08:12:33 +0000] "GET /\\"x\\" HTTP/1.1" 404 5 '
        b'"ref \\\\ \\"q\\"" "agent \xff\xfe\x00 end"'
    )
    fmt, record = record_of("apache_combined", line)
    assert fmt.getter("path")(record) == b'/\\"x\\"'
    assert fmt.getter("referer")(record) == b'ref \\\\ \\"q\\"'
    assert fmt.getter("user_agent")(record) == b"agent \xff\xfe\x00 end"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("stamp", "local"),
    [
        (b"29/Feb/2020:23:59:60 +0000", ts(2020, 3, 1)),  # leap day, leap second
        (b"31/Dec/1969:23:00:00 +0000", -3600.0),
        (b"01/Jan/2038:00:00:00 +0000", ts(2038, 1, 1)),
    ],
)
def test_access_times(stamp: bytes, local: float) -> None:
    line = b"1.2.3.4 - - [" + stamp + b'] "GET / HTTP/1.1" 200 1'
    fmt, record = record_of("apache_common", line)
    assert fmt.getter("local_time")(record) == local
    assert fmt.getter("epoch")(record) == local


@pytest.mark.unit
@pytest.mark.parametrize(
    "stamp",
    [
        b"29/Feb/2019:00:00:00 +0000",
        b"31/Apr/2020:00:00:00 +0000",
        b"00/Jan/2020:00:00:00 +0000",
        b"01/Foo/2020:00:00:00 +0000",
        b"01/Jan/2020:24:00:00 +0000",
        b"01/Jan/2020:00:60:00 +0000",
        b"01/Jan/2020:00:00:61 +0000",
    ],
)
def test_access_invalid_times_match_but_have_no_time(stamp: bytes) -> None:
    line = b"1.2.3.4 - - [" + stamp + b'] "GET / HTTP/1.1" 200 1'
    fmt, record = record_of("apache_common", line)  # the reference regex accepts them
    assert fmt.getter("local_time")(record) is None
    assert fmt.getter("epoch")(record) is None


@pytest.mark.unit
def test_access_invalid_offset_has_no_epoch() -> None:
    line = b'1.2.3.4 - - [01/Jan/2020:00:00:00 +9999] "GET / HTTP/1.1" 200 1'
    fmt, record = record_of("apache_common", line)
    assert fmt.getter("local_time")(record) == ts(2020, 1, 1)
    assert fmt.getter("epoch")(record) is None


@pytest.mark.unit
def test_huge_size_gives_none_not_an_error() -> None:
    line = COMMON.replace(b" 2326", b" " + b"9" * 5000)
    fmt, record = record_of("apache_common", line)
    assert fmt.getter("bytes")(record) is None


# ---------------------------------------------------------------- syslog


@pytest.mark.unit
def test_rfc3164_with_pri() -> None:
    fmt, record = record_of("syslog_rfc3164", RFC3164)
    assert values(fmt, record) == {
        "level": "crit",
        "host": b"mymachine",
        "program": b"su",
        "message": b"'su root' failed for lonvick on /dev/pts/8",
        "local_time": ts(1970, 10, 11, 22, 14, 15),
        "epoch": ts(1970, 10, 11, 22, 14, 15),
    }


@pytest.mark.unit
def test_rfc3164_without_pri_has_no_level() -> None:
    fmt, record = record_of("syslog_rfc3164", RFC3164_PLAIN, year="2020")
    assert values(fmt, record) == {
        "level": None,
        "host": b"ip-172-31-9-234",
        "program": b"systemd",
        "message": b"Started Daily apt upgrade.",
        "local_time": ts(2020, 11, 8, 7, 1, 2),
        "epoch": ts(2020, 11, 8, 7, 1, 2),
    }


@pytest.mark.unit
@pytest.mark.parametrize(
    ("rest", "program", "message"),
    [
        (b"kernel: [    0.000000] Linux version", b"kernel", b"[    0.000000] Linux version"),
        (b"CRON[1234]: (root) CMD (true)", b"CRON", b"(root) CMD (true)"),
        (b"a.b-c_d[]: x", b"a.b-c_d", b"x"),
        (b"systemd[1]:", b"systemd", b""),
        (b"no tag here", None, b"no tag here"),
        (b"10:20 is not a tag", None, b"10:20 is not a tag"),
        (b"", None, b""),
        (
            b"caf\xc3\xa9: \xe2\x80\x98quoted\xe2\x80\x99",
            b"caf\xc3\xa9",
            b"\xe2\x80\x98quoted\xe2\x80\x99",
        ),
    ],
)
def test_rfc3164_tags(rest: bytes, program: bytes | None, message: bytes) -> None:
    fmt, record = record_of("syslog_rfc3164", b"Nov 18 07:45:00 host " + rest)
    assert fmt.getter("program")(record) == program
    assert fmt.getter("message")(record) == message


@pytest.mark.unit
@pytest.mark.parametrize(
    ("pri", "level"),
    [(b"<0>", "emerg"), (b"<11>", "err"), (b"<12>", "warning"), (b"<191>", "debug")],
)
def test_rfc3164_severities(pri: bytes, level: str) -> None:
    fmt, record = record_of("syslog_rfc3164", pri + RFC3164_PLAIN)
    assert fmt.getter("level")(record) == level


@pytest.mark.unit
def test_rfc3164_out_of_range_pri_has_no_level() -> None:
    fmt, record = record_of("syslog_rfc3164", b"<999>" + RFC3164_PLAIN)
    assert fmt.getter("level")(record) is None


@pytest.mark.unit
def test_rfc3164_feb_29_needs_a_leap_year() -> None:
    line = b"Feb 29 12:00:00 host prog: x"
    fmt, record = record_of("syslog_rfc3164", line)
    assert fmt.getter("epoch")(record) is None  # 1970 is not a leap year
    fmt, record = record_of("syslog_rfc3164", line, year="2020")
    assert fmt.getter("epoch")(record) == ts(2020, 2, 29, 12)


@pytest.mark.unit
@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"Nov 18 07:45:00 host",  # nothing after the host
        b"nov 18 07:45:00 host x",
        b"Nov 118 07:45:00 host x",
        b"Nov 18 7:45:00 host x",
        b"Nov 18 07:45:00  host x",
        b"<1234>Nov 18 07:45:00 host x",
        b"2020-11-18T07:45:00Z host x",
        RFC5424,
    ],
)
def test_rfc3164_malformed(line: bytes) -> None:
    assert get_format("syslog_rfc3164").parse(line) is None


@pytest.mark.unit
def test_rfc5424_fields() -> None:
    fmt, record = record_of("syslog_rfc5424", RFC5424)
    assert values(fmt, record) == {
        "level": "notice",
        "host": b"mymachine.example.com",
        "program": b"evntslog",
        "message": b"An application event log entry...",
        "local_time": ts(2003, 10, 11, 22, 14, 15) + 0.003,
        "epoch": ts(2003, 10, 11, 22, 14, 15) + 0.003,
    }


@pytest.mark.unit
def test_rfc5424_offset_and_nil_values() -> None:
    fmt, record = record_of("syslog_rfc5424", RFC5424_OFFSET)
    got = values(fmt, record)
    assert got["epoch"] == pytest.approx(ts(2003, 8, 24, 12, 14, 15) + 0.000003)
    assert got["local_time"] == pytest.approx(ts(2003, 8, 24, 5, 14, 15) + 0.000003)
    assert got["message"] == b"%% It's time to make the do-nuts."
    fmt, record = record_of("syslog_rfc5424", b"<34>1 - - - - - -")
    assert values(fmt, record) == {
        "level": "crit",
        "host": None,
        "program": None,
        "message": None,
        "local_time": None,
        "epoch": None,
    }


@pytest.mark.unit
def test_rfc5424_structured_data_without_message() -> None:
    fmt, record = record_of("syslog_rfc5424", RFC5424_SD_ONLY)
    assert fmt.getter("message")(record) is None
    escaped = b'<14>1 - h a - - [id@1 k="a \\" \\] \\\\ b"] msg'
    fmt, record = record_of("syslog_rfc5424", escaped)
    assert fmt.getter("message")(record) == b"msg"


@pytest.mark.unit
@pytest.mark.parametrize(
    "line",
    [
        b"",
        RFC3164,
        b"<34>0 - - - - - -",
        b"34>1 - - - - - -",
        b"<34>1 - - - - -",
        b"<34>1 2003-10-11 - - - - -",
        b"<34>1 2003-10-11T22:14:15.003 host a p m -",  # no zone
        b"<34>1 - h a p m [unterminated",
        b'<34>1 - h a p m [id k="v]',
        b"<34>1 - h a p m x msg",
    ],
)
def test_rfc5424_malformed(line: bytes) -> None:
    assert get_format("syslog_rfc5424").parse(line) is None


# ---------------------------------------------------------------- jsonl


@pytest.mark.unit
def test_jsonl_fields() -> None:
    fmt, record = record_of("jsonl", JSONL)
    got = values(fmt, record)
    assert got["client"] == "146.0.77.178"
    assert got["message"].startswith("New connection: 146.0.77.178:56415")
    assert got["epoch"] == pytest.approx(ts(2018, 6, 19, 0, 1, 41) + 0.028206)
    assert got["local_time"] == got["epoch"]
    assert got["level"] is None
    assert got["status"] is None
    assert got["bytes"] is None


@pytest.mark.unit
def test_jsonl_http_fields_and_types() -> None:
    line = json.dumps(
        {
            "time": "2024-01-02T03:04:05+01:00",
            "level": "warn",
            "msg": "ignored by default",
            "message": 42,
            "status": 404,
            "path": "/x?y=1",
            "method": "GET",
            "client": "10.0.0.1",
            "src_ip": "10.0.0.2",
            "bytes": "512",
            "user_agent": "curl",
            "host": ["not", "text"],
            "logger": True,
        }
    ).encode()
    fmt, record = record_of("jsonl", line)
    got = values(fmt, record)
    assert got["status"] == "404"
    assert got["path"] == "/x?y=1"
    assert got["method"] == "GET"
    assert got["client"] == "10.0.0.1"
    assert got["bytes"] == 512
    assert got["level"] == "warn"
    assert got["message"] == "42"
    assert got["user_agent"] == "curl"
    assert got["host"] is None
    assert got["logger"] is None
    assert got["epoch"] == ts(2024, 1, 2, 2, 4, 5)
    assert got["local_time"] == ts(2024, 1, 2, 3, 4, 5)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("obj", "epoch"),
    [
        ({"timestamp": 1529366501.5}, 1529366501.5),
        ({"timestamp": 1529366501}, 1529366501.0),
        ({"timestamp": "1529366501.25"}, 1529366501.25),
        ({"@timestamp": "2018-06-19T00:01:41Z"}, ts(2018, 6, 19, 0, 1, 41)),
        ({"ts": "2018-06-19 00:01:41"}, ts(2018, 6, 19, 0, 1, 41)),
        (
            {"timestamp": None, "time": "2018-06-19T00:01:41.5-02:30"},
            ts(2018, 6, 19, 2, 31, 41) + 0.5,
        ),
        ({"timestamp": "yesterday"}, None),
        ({"timestamp": True}, None),
        ({"timestamp": "2018-02-30T00:00:00Z"}, None),
        ({"timestamp": "NaN"}, None),
        ({"timestamp": {"nested": 1}}, None),
        ({}, None),
    ],
)
def test_jsonl_times(obj: dict[str, Any], epoch: float | None) -> None:
    fmt, record = record_of("jsonl", json.dumps(obj).encode())
    assert fmt.getter("epoch")(record) == epoch


@pytest.mark.unit
def test_jsonl_options() -> None:
    line = b'{"t": "2020-01-01T00:00:00Z", "severity": "ERROR", "msg": "boom", "message": "m"}'
    options = {"time_field": "t", "level_field": "lvl, severity", "message_field": "msg"}
    fmt, record = record_of("jsonl", line, **options)
    assert fmt.getter("epoch")(record) == ts(2020, 1, 1)
    assert fmt.getter("level")(record) == "ERROR"
    assert fmt.getter("message")(record) == "boom"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (200, "200"),
        ("404", "404"),
        ("OK", None),
        (2000, None),
        (True, None),
        ("\uff12\uff10\uff10", None),
    ],
)
def test_jsonl_status_is_three_digits(raw: Any, status: str | None) -> None:
    fmt, record = record_of("jsonl", json.dumps({"status": raw}).encode())
    assert fmt.getter("status")(record) == status


@pytest.mark.unit
@pytest.mark.parametrize(
    ("raw", "size"),
    [
        (1, 1),
        ("-", 0),
        (2.0, 2),
        (2.5, None),
        (-1, None),
        ("12a", None),
        (False, None),
        ([1], None),
    ],
)
def test_jsonl_bytes(raw: Any, size: int | None) -> None:
    fmt, record = record_of("jsonl", json.dumps({"bytes": raw}).encode())
    assert fmt.getter("bytes")(record) == size


@pytest.mark.unit
def test_jsonl_bom_and_unicode() -> None:
    fmt, record = record_of("jsonl", b'\xef\xbb\xbf{"message": "caf\xc3\xa9 \\u2603"}')
    assert fmt.getter("message")(record) == "café ☃"


@pytest.mark.unit
@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"[]",
        b"[1, 2]",
        b'"string"',
        b"42",
        b"null",
        b"{",
        b'{"a": 1} trailing',
        b'{"a": "\xff"}',
        b"\x00{}",
        b"{}\x00",
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b'{"n": ' + b"9" * 5000 + b"}",
    ],
)
def test_jsonl_malformed(line: bytes) -> None:
    assert get_format("jsonl").parse(line) is None


# ---------------------------------------------------------------- applog


APPLOG_CASES: list[tuple[bytes, tuple[bytes, bytes | None, bytes, float | None]]] = [
    (
        KAFKA,
        (
            b"INFO",
            b"kafka.log.Log",
            b"Scheduling log segment 209297 for log test-3 for deletion.",
            ts(2016, 12, 19, 20, 51, 28) + 0.589,
        ),
    ),
    (
        b"[2016-12-19 20:51:20,700] WARN [ReplicaFetcherThread-0-0], Error in fetch (x.Y)",
        (b"WARN", b"x.Y", b"[ReplicaFetcherThread-0-0], Error in fetch", None),
    ),
    (
        b"[2016-12-19 20:51:20,700] ERROR no class at the end (really)",
        (b"ERROR", None, b"no class at the end (really)", None),
    ),
    (
        LOG4J,
        (b"INFO", b"com.example.Server", b"started in 12 ms", ts(2016, 12, 19, 20, 0, 1) + 0.123),
    ),
    (
        b"2016-12-19 20:00:01,123 [main] ERROR com.example.Server - failed",
        (b"ERROR", b"com.example.Server", b"failed", None),
    ),
    (
        b"2016-12-19 20:00:01 DEBUG  Server:42 - looping",
        (b"DEBUG", b"Server", b"looping", ts(2016, 12, 19, 20, 0, 1)),
    ),
    (
        b"2024-01-02T03:04:05.678+01:00  INFO 12345 --- [           main] "
        b"o.s.b.Application                       : Started Application in 1.2 seconds",
        (
            b"INFO",
            b"o.s.b.Application",
            b"Started Application in 1.2 seconds",
            ts(2024, 1, 2, 3, 4, 5, offset_minutes=60) + 0.678,
        ),
    ),
    (
        b"2015-07-29 17:41:44,747 INFO org.apache.hadoop.hdfs.server.datanode.DataNode: "
        b"STARTUP_MSG: starting",
        (
            b"INFO",
            b"org.apache.hadoop.hdfs.server.datanode.DataNode",
            b"STARTUP_MSG: starting",
            None,
        ),
    ),
    (
        b"17/06/09 20:10:40 INFO spark.SecurityManager: Changing view acls to: root",
        (
            b"INFO",
            b"spark.SecurityManager",
            b"Changing view acls to: root",
            ts(2017, 6, 9, 20, 10, 40),
        ),
    ),
    (
        b"2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:"
        b"FastLeaderElection@774] - Notification time out: 3200",
        (b"INFO", b"FastLeaderElection", b"Notification time out: 3200", None),
    ),
    (
        b"2015-07-29 17:41:44,747 [myid:3] - WARN  [SendWorker:1:QuorumCnxManager$SendWorker@679]"
        b" - Interrupted while waiting",
        (b"WARN", b"QuorumCnxManager$SendWorker", b"Interrupted while waiting", None),
    ),
    (
        b"2024-01-02 03:04:05,678 - my.module - WARNING - disk almost full",
        (b"WARNING", b"my.module", b"disk almost full", ts(2024, 1, 2, 3, 4, 5) + 0.678),
    ),
    (b"INFO:root:hello: world", (b"INFO", b"root", b"hello: world", None)),
    (b"CRITICAL:app.db:", (b"CRITICAL", b"app.db", b"", None)),
    (
        b"[2024-01-02 03:04:05] production.ERROR: boom",
        (b"ERROR", None, b"boom", ts(2024, 1, 2, 3, 4, 5)),
    ),
    (b"[2024-01-02 03:04:05] [info] hi", (b"info", None, b"hi", None)),
    (b"2024-01-02 03:04:05 Severe: broken", (b"Severe", None, b"broken", None)),
    (b"2024-01-02 03:04:05 TRACE", (b"TRACE", None, b"", None)),
    (b"2024-01-02 03:04:05 fatal  x", (b"fatal", None, b"x", None)),
]


@pytest.mark.unit
@pytest.mark.parametrize(("line", "want"), APPLOG_CASES)
def test_applog_layouts(line: bytes, want: tuple[bytes, bytes | None, bytes, float | None]) -> None:
    fmt, record = record_of("applog", line)
    level, logger, message, epoch = want
    assert fmt.getter("level")(record) == level
    assert fmt.getter("logger")(record) == logger
    assert fmt.getter("message")(record) == message
    if epoch is not None:
        assert fmt.getter("epoch")(record) == pytest.approx(epoch)


@pytest.mark.unit
def test_applog_times() -> None:
    fmt, record = record_of("applog", b"2024-01-02T03:04:05Z INFO x")
    assert fmt.getter("epoch")(record) == ts(2024, 1, 2, 3, 4, 5)
    fmt, record = record_of("applog", b"2024-01-02 03:04:05-0800 INFO x")
    assert fmt.getter("local_time")(record) == ts(2024, 1, 2, 3, 4, 5)
    assert fmt.getter("epoch")(record) == ts(2024, 1, 2, 11, 4, 5)
    fmt, record = record_of("applog", b"2024-02-30 03:04:05 INFO x")
    assert fmt.getter("epoch")(record) is None
    fmt, record = record_of("applog", b"99/12/31 23:59:59 INFO x")
    assert fmt.getter("local_time")(record) == ts(1999, 12, 31, 23, 59, 59)
    fmt, record = record_of("applog", b"INFO:root:no time")
    assert fmt.getter("local_time")(record) is None
    assert fmt.getter("epoch")(record) is None


CONTINUATIONS = [
    b"java.io.IOException: Connection to 0 was disconnected before the response was read",
    b"\tat kafka.utils.ShutdownableThread.run(ShutdownableThread.scala:63)",
    b"    at com.example.Main.main(Main.java:5)",
    b"Caused by: java.lang.NullPointerException",
    b"\t... 12 more",
    b"... 12 more",
    b"Suppressed: java.lang.IllegalStateException: x",
    b'Exception in thread "main" java.lang.RuntimeException: boom',
    b"Traceback (most recent call last):",
    b'  File "app.py", line 3, in <module>',
    b"ValueError: invalid literal for int() with base 10: 'x'",
    b"KeyboardInterrupt",
    b"Exception: boom",
    b"Error: Cannot find module 'x'",
    b"org.apache.kafka.common.errors.TimeoutException",
    b"scala.MatchError: 1 (of class java.lang.Integer)",
]


@pytest.mark.unit
@pytest.mark.parametrize("line", CONTINUATIONS)
def test_continuation_lines_are_malformed(line: bytes) -> None:
    fmt = get_format("applog")
    assert fmt.parse(line) is None
    assert is_continuation(line)
    assert fmt.is_continuation(line)  # type: ignore[attr-defined]


@pytest.mark.unit
@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"hello world",
        b"Info:root:x",  # bare Python layout is upper case only
        b"INFO root msg",
        b"INFO::msg",
        b"2016-12-19 20:00:01,123 NOTICE something",
        b"2016-12-19 20:00:01,123 INFORMATION something",
        b"2016-12-19 20:00:01,123INFO x",
        b"2016-12-19 INFO x",
        b"[2016-12-19 20:00:01,123 INFO x",
        b"[2016-12-19 20:00:01,123]INFO x",
        b"Nov 18 07:45:00 host prog: INFO x",
        COMBINED,
    ],
)
def test_applog_malformed(line: bytes) -> None:
    assert get_format("applog").parse(line) is None


@pytest.mark.unit
@pytest.mark.parametrize("line", [b"", b"hello", LOG4J, COMBINED, b"2016-12-19 ERROR"])
def test_records_are_not_continuations(line: bytes) -> None:
    assert not is_continuation(line)


# ---------------------------------------------------------------- plain


@pytest.mark.unit
@pytest.mark.parametrize("line", [b"", b"x", b"\x00\xff\xfe", b" leading", b"a" * 1000])
def test_plain_every_line_is_a_record(line: bytes) -> None:
    fmt = get_format("plain")
    record = fmt.parse(line)
    assert record is not None
    assert fmt.getter("message")(record) == line
    assert fmt.fields == {"message"}
    assert list(fmt.parse_many([line, b""])) == [line, b""]


# ---------------------------------------------------------------- AWS


@pytest.mark.unit
def test_alb_http() -> None:
    fmt, record = record_of("alb", ALB_HTTP)
    assert values(fmt, record) == {
        "client": b"192.168.131.39",
        "method": b"GET",
        "path": b"/",
        "status": b"200",
        "bytes": 366,
        "user_agent": b"curl/7.46.0",
        "vhost": None,
        "latency": 0.001,
        "epoch": ts(2018, 7, 2, 22, 23, 0) + 0.186641,
        "local_time": ts(2018, 7, 2, 22, 23, 0) + 0.186641,
    }


@pytest.mark.unit
def test_alb_https() -> None:
    fmt, record = record_of("alb", ALB_HTTPS)
    got = values(fmt, record)
    assert got["path"] == b"/index.html?lang=en"
    assert got["vhost"] == b"www.example.com"
    assert got["latency"] == pytest.approx(0.171)
    assert got["bytes"] == 57


@pytest.mark.unit
def test_alb_error_has_no_latency() -> None:
    fmt, record = record_of("alb", ALB_ERROR)
    got = values(fmt, record)
    assert got["latency"] is None
    assert got["status"] == b"502"


@pytest.mark.unit
def test_alb_minimal_and_extra_fields() -> None:
    head = ALB_HTTP[: ALB_HTTP.index(b'"Root=')]
    minimal = head + b'"Root=1-58337262-36d228ad5d99923122bbe354"'
    fmt, record = record_of("alb", minimal)
    assert fmt.getter("vhost")(record) is None
    fmt, record = record_of("alb", ALB_HTTPS + b' "future field" 123 "TID_abc"')
    assert fmt.getter("vhost")(record) == b"www.example.com"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("target", "path"),
    [
        (b"http://www.example.com:80/a/b?c", b"/a/b?c"),
        (b"https://[2001:db8::1]:443/x", b"/x"),
        (b"http://www.example.com:80-", None),
        (b"-", None),
        (b"/already/a/path", b"/already/a/path"),
    ],
)
def test_alb_paths(target: bytes, path: bytes | None) -> None:
    line = ALB_HTTP.replace(b"http://www.example.com:80/", target)
    fmt, record = record_of("alb", line)
    assert fmt.getter("path")(record) == path


@pytest.mark.unit
@pytest.mark.parametrize(
    "line",
    [
        b"",
        ALB_HTTP.replace(b"2018-07-02T22:23:00.186641Z", b"2018-07-02 22:23:00"),
        ALB_HTTP.replace(b" 200 200 ", b" OK 200 "),
        ALB_HTTP.replace(b" 0.001 ", b" fast "),
        ALB_HTTP[: ALB_HTTP.index(b' "Root=')],
        ALB_HTTP.replace(b'"curl/7.46.0"', b"curl/7.46.0"),
        COMBINED,
    ],
)
def test_alb_malformed(line: bytes) -> None:
    assert get_format("alb").parse(line) is None


@pytest.mark.unit
def test_cloudfront() -> None:
    fmt, record = record_of("cloudfront", CLOUDFRONT)
    got = values(fmt, record)
    assert got == {
        "client": b"192.0.2.200",
        "method": b"GET",
        "path": b"/favicon.ico",
        "status": b"502",
        "bytes": 900,
        "referer": b"http://www.example.com/",
        "user_agent": got["user_agent"],
        "vhost": b"www.example.com",
        "latency": 0.102,
        "epoch": ts(2019, 12, 13, 22, 36, 27),
        "local_time": ts(2019, 12, 13, 22, 36, 27),
    }
    assert got["user_agent"].startswith(b"Mozilla/5.0%20(Windows%20NT%2010.0;")


@pytest.mark.unit
def test_cloudfront_query_and_minimal_fields() -> None:
    fields = CLOUDFRONT.split(b"\t")
    fields[11] = b"a=1&b=2"
    fmt, record = record_of("cloudfront", b"\t".join(fields))
    assert fmt.getter("path")(record) == b"/favicon.ico?a=1&b=2"
    fmt, record = record_of("cloudfront", b"\t".join(fields[:19]))
    assert fmt.getter("latency")(record) == 0.102


@pytest.mark.unit
@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"#Version: 1.0",
        b"#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem",
        b"\t".join(CLOUDFRONT.split(b"\t")[:18]),
        CLOUDFRONT.replace(b"\t", b" "),
        CLOUDFRONT.replace(b"2019-12-13", b"13/12/2019"),
        CLOUDFRONT.replace(b"\t502\t", b"\tOK\t"),
    ],
)
def test_cloudfront_malformed(line: bytes) -> None:
    assert get_format("cloudfront").parse(line) is None


@pytest.mark.unit
def test_s3_access() -> None:
    fmt, record = record_of("s3_access", S3)
    assert values(fmt, record) == {
        "client": b"192.0.2.3",
        "method": b"GET",
        "path": b"/DOC-EXAMPLE-BUCKET1?versioning",
        "status": b"200",
        "bytes": 113,
        "referer": b"-",
        "user_agent": b"S3Console/0.4",
        "vhost": b"DOC-EXAMPLE-BUCKET1",
        "latency": 0.007,
        "epoch": ts(2019, 2, 6, 0, 0, 38),
        "local_time": ts(2019, 2, 6, 0, 0, 38),
    }
    fmt, record = record_of("s3_access", S3_ERROR)
    assert fmt.getter("status")(record) == b"404"
    assert fmt.getter("latency")(record) == 0.038


@pytest.mark.unit
def test_s3_access_dashes_and_old_layout() -> None:
    old = S3[: S3.index(b'"S3Console/0.4"') + len(b'"S3Console/0.4"')]
    line = (
        old.replace(b" 200 - 113 - 7 - ", b" - - - - - - ")
        .replace(b'"GET ', b'"-')
        .replace(b' HTTP/1.1"', b'"')
    )
    fmt, record = record_of("s3_access", line)
    got = values(fmt, record)
    assert got["status"] is None
    assert got["bytes"] == 0
    assert got["latency"] is None
    assert got["path"] is None


@pytest.mark.unit
@pytest.mark.parametrize(
    "line",
    [
        b"",
        COMBINED,
        S3.replace(b"[06/Feb/2019:00:00:38 +0000]", b"[06/Feb/2019]"),
        S3.replace(b' "S3Console/0.4"', b""),
        S3.replace(b" 200 - 113 ", b" 200 - many "),
    ],
)
def test_s3_access_malformed(line: bytes) -> None:
    assert get_format("s3_access").parse(line) is None


# ---------------------------------------------------------------- every format: edge cases

HOSTILE = [
    b"",
    b"\x00",
    b"\x00" * 1000,
    b"\xff\xfe\xfd",
    b"\xc3\x28 invalid utf-8",
    b"\r",
    b"\n",
    b" " * 1_000_000,
    b'"' * 1_000_000,
    b"\\" * 1_000_000,
    b"[" * 1_000_000,
    b"{" * 1_000_000,
    b"a." * 500_000,
    b"a:" * 500_000,
    b"1 " * 500_000,
    b"\t" * 1_000_000,
    b"x" * 1_000_000,
]


@pytest.mark.unit
@pytest.mark.parametrize("name", PARSERS)
@pytest.mark.parametrize("index", range(len(HOSTILE)))
def test_hostile_lines_never_raise(name: str, index: int) -> None:
    line = HOSTILE[index]
    fmt = get_format(name)
    started = time.perf_counter()
    record = fmt.parse(line)
    assert time.perf_counter() - started < 2.0, "pathological backtracking"
    if name == "plain":
        assert record == line
    elif line.strip():
        assert record is None
    if record is not None:
        values(fmt, record)


MB = 1_000_000
HEAD = b'1.2.3.4 - - [01/Dec/2020:08:12:33 +0000] "'
NEAR_MISSES: list[tuple[str, bytes]] = [
    ("apache_combined", HEAD + b'\\"' * (MB // 2)),
    ("apache_combined", HEAD + b'GET / HTTP/1.1" 200 1 "' + b"\\" * MB),
    ("apache_combined", b"a" * MB + b" - - ["),
    ("vhost_combined", b"a:1" * (MB // 3)),
    ("vhost_combined", b":" * MB + b"1 "),
    ("syslog_rfc3164", b"Nov" + b" " * MB + b"x"),
    ("syslog_rfc3164", b"<1>" + b"Nov 18 07:45:00 " + b"h" * MB),
    ("syslog_rfc5424", b"<1>1 - h a p m " + b"[x" * (MB // 2)),
    ("syslog_rfc5424", b'<1>1 - h a p m [x k="' + b'\\"' * (MB // 2)),
    ("applog", b"2016-12-19 20:00:01 INFO " + b"[" * MB),
    ("applog", b"2016-12-19 20:00:01 INFO [" + b"a" * MB),
    ("applog", b"2016-12-19 20:00:01" + b" " * MB + b"x"),
    ("applog", b"2016-12-19 20:00:01 INFO " + b"a." * (MB // 2) + b": x"),
    ("applog", b"[2016-12-19 20:00:01] INFO x (" + b"a." * (MB // 2) + b")"),
    ("applog", b"[2016-12-19 20:00:01] INFO x" + b" " * MB + b"(a.b)"),
    ("applog", b"INFO:" + b"a" * MB),
    ("alb", b"http 2018-07-02T22:23:00Z " + b"x " * (MB // 2)),
    ("cloudfront", b"2019-12-13\t22:36:27" + b"\t" * MB),
    ("s3_access", b"o b [06/Feb/2019:00:00:38 +0000] " + b"x " * (MB // 2)),
    ("jsonl", b'{"a": "' + b"\\u12" * (MB // 4)),
]


@pytest.mark.unit
@pytest.mark.parametrize(("name", "line"), NEAR_MISSES, ids=lambda v: str(v)[:20])
def test_near_misses_take_linear_time(name: str, line: bytes) -> None:
    fmt = get_format(name)
    started = time.perf_counter()
    record = fmt.parse(line)
    assert time.perf_counter() - started < 2.0, "pathological backtracking"
    if record is not None:
        values(fmt, record)


@pytest.mark.unit
@pytest.mark.parametrize("name", PARSERS)
def test_samples_with_hostile_bytes(name: str) -> None:
    """A NUL or a non-UTF-8 byte never makes parse raise, and never changes a
    field behind the user's back: the line is malformed, or each field the
    format extracts is the clean line's value, holds the byte, or is absent.
    Appended to the line (``HOSTILE_AT_END``), the byte is kept in a
    free-text field, makes the line malformed where the grammar ends on a
    delimiter, or falls in the trailing fields the AWS formats skip."""
    fmt = get_format(name)
    clean = values(fmt, fmt.parse(SAMPLES[name]))
    for bad in (b"\x00", b"\xff", b"\xc3\x28"):
        at_end = SAMPLES[name] + bad
        for line in (at_end, bad + SAMPLES[name], SAMPLES[name].replace(b" ", bad, 1)):
            record = fmt.parse(line)
            if record is None:
                continue
            for field, value in values(fmt, record).items():
                same_or_holds_it = value in (clean[field], None) or bad in _as_bytes(value)
                assert same_or_holds_it, (name, line, field, value)
        record = fmt.parse(at_end)
        outcome, field = HOSTILE_AT_END[name]
        if outcome == "malformed":
            assert record is None, (name, bad)
            continue
        assert record is not None, (name, bad)
        got = values(fmt, record)
        if outcome == "kept":  # the whole free text, the byte at its end
            assert clean[field] in got[field] and got[field].endswith(bad), (name, bad)
        else:  # "skipped": no field the format extracts changed
            assert got == clean, (name, bad)


#: what a hostile byte appended to each sample line does: (outcome, the free-text field)
HOSTILE_AT_END: dict[str, tuple[str, str]] = {
    "plain": ("kept", "message"),
    "syslog_rfc3164": ("kept", "message"),
    "syslog_rfc5424": ("kept", "message"),
    "applog": ("kept", "message"),
    "apache_common": ("malformed", ""),  # the size must end the line
    "apache_combined": ("malformed", ""),  # the closing quote must end the line
    "vhost_combined": ("malformed", ""),
    "jsonl": ("malformed", ""),  # not a JSON object any more
    "alb": ("skipped", ""),  # AWS appends fields: trailing ones are not read
    "cloudfront": ("skipped", ""),
    "s3_access": ("skipped", ""),
}


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogateescape")


MEGA_UA = b"M" * 1_000_000
MEGA_LINES: dict[str, bytes] = {
    "apache_combined": COMBINED.replace(b"Mozilla/4.08", MEGA_UA),
    "vhost_combined": VHOST.replace(b"Mozilla/4.08", MEGA_UA),
    "apache_common": COMMON.replace(b"/apache_pb.gif", b"/" + MEGA_UA),
    "syslog_rfc3164": RFC3164 + MEGA_UA,
    "syslog_rfc5424": RFC5424 + MEGA_UA,
    "jsonl": b'{"message": "' + MEGA_UA + b'"}',
    "applog": LOG4J + MEGA_UA,
    "alb": ALB_HTTPS.replace(b"curl/7.46.0", MEGA_UA),
    "cloudfront": CLOUDFRONT.replace(b"Mozilla/5.0", MEGA_UA),
    "s3_access": S3.replace(b"S3Console/0.4", MEGA_UA),
    "plain": MEGA_UA,
}


@pytest.mark.unit
@pytest.mark.parametrize("name", PARSERS)
def test_one_megabyte_line(name: str) -> None:
    fmt = get_format(name)
    record = fmt.parse(MEGA_LINES[name])
    assert record is not None
    got = values(fmt, record)
    assert any(isinstance(v, bytes | str) and len(v) >= 1_000_000 for v in got.values())
    if name in (
        "apache_common",
        "apache_combined",
        "vhost_combined",
        "jsonl",
    ):
        # these end with a closing delimiter or the size: a bad last byte is malformed
        assert fmt.parse(MEGA_LINES[name][:-1] + b"\x00") is None


@pytest.mark.unit
@pytest.mark.parametrize("name", PARSERS)
def test_parse_many_equals_parse(name: str) -> None:
    fmt = get_format(name)
    lines = [SAMPLES[n] for n in PARSERS] + [b"", b"\xff"]
    many = list(fmt.parse_many(lines))
    single = [fmt.parse(line) for line in lines]
    assert [r is None for r in many] == [r is None for r in single]
    assert (many[PARSERS.index(name)] is not None) is True


def _check_types(fmt: Format, record: Any) -> None:
    text = (bytes, str)
    for field, value in values(fmt, record).items():
        if value is None:
            continue
        if field == "bytes":
            assert type(value) is int, (field, value)
        elif field in ("epoch", "local_time", "latency"):
            assert isinstance(value, float), (field, value)
        elif field == "status":
            assert isinstance(value, text) and len(value) == 3, (field, value)
        else:
            assert isinstance(value, text), (field, value)


@pytest.mark.unit
@pytest.mark.parametrize("name", PARSERS)
def test_getter_types_follow_the_contract(name: str) -> None:
    fmt = get_format(name)
    _check_types(fmt, fmt.parse(SAMPLES[name]))


# ---------------------------------------------------------------- property tests

_mutated_lines = st.builds(
    lambda line, start, length, junk: line[:start] + junk + line[start + length :],
    st.sampled_from(sorted(SAMPLES.values())),
    st.integers(0, 400),
    st.integers(0, 8),
    st.binary(max_size=8),
)
_any_line = st.one_of(st.binary(max_size=600), _mutated_lines)


@pytest.mark.property
@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(line=_any_line)
def test_parse_never_raises_and_getters_follow_the_contract(line: bytes) -> None:
    for name in PARSERS:
        fmt = get_format(name)
        record = fmt.parse(line)
        if name == "plain":
            assert record == line
        if record is not None:
            _check_types(fmt, record)


# ---------------------------------------------------------------- reference data


def read_lines(name: str) -> list[bytes]:
    """Lines as the reader hands them over: split on LF, one trailing CR removed."""
    return lines_of(shared_file(name))


REFERENCE = [
    ("access.log.1", "apache_combined"),
    ("access_log", "apache_common"),
    ("syslog.3", "syslog_rfc3164"),
    ("kafka1_server.log.2016-12-19-20", "applog"),
    ("cowrie.json.2018-06-19", "jsonl"),
]
ACCESS = REFERENCE[:2]


def parsed(name: str, fmt_name: str, **options: str) -> tuple[Format, list[bytes], list[Any]]:
    fmt = get_format(fmt_name, options)
    lines = read_lines(name)
    return fmt, lines, [r for r in fmt.parse_many(lines) if r is not None]


@pytest.mark.unit
@pytest.mark.reference
@pytest.mark.parametrize(("name", "fmt_name"), REFERENCE)
def test_reference_matching_lines(name: str, fmt_name: str) -> None:
    want = expected_by_logmr(name)
    _, lines, records = parsed(name, fmt_name)
    assert len(lines) == want["total_lines"]
    assert len(records) == want["matching_lines"]


@pytest.mark.unit
@pytest.mark.reference
@pytest.mark.parametrize(("name", "fmt_name"), ACCESS)
def test_reference_access_fields(name: str, fmt_name: str) -> None:
    want = expected_by_logmr(name)
    fmt, _, records = parsed(name, fmt_name)
    status, size = fmt.getter("status"), fmt.getter("bytes")
    counts = collections.Counter(status(r).decode() for r in records)
    assert dict(counts) == want["status_counts"]
    assert sum(size(r) for r in records) == want["total_response_bytes"]
    methods = collections.Counter(fmt.getter("method")(r).decode() for r in records)
    assert dict(methods) == want["method_counts"]


@pytest.mark.unit
@pytest.mark.reference
@pytest.mark.parametrize(("name", "fmt_name"), ACCESS)
def test_reference_paths(name: str, fmt_name: str) -> None:
    want = expected_by_logmr(name)
    fmt, _, records = parsed(name, fmt_name)
    paths = collections.Counter(fmt.getter("path")(r) for r in records)
    assert paths.pop(None, 0) == want["requests_without_path"]
    assert len(paths) == want["distinct_paths"]
    top = sorted(paths.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    assert [[k.decode(), v] for k, v in top] == want["top20_paths"]


def _hours(records: list[Any], getter: Callable[[Any], Any], layout: str) -> dict[str, int]:
    return dict(
        collections.Counter(
            datetime.fromtimestamp(getter(r), UTC).strftime(layout) for r in records
        )
    )


@pytest.mark.unit
@pytest.mark.reference
@pytest.mark.parametrize(("name", "fmt_name"), [*ACCESS, REFERENCE[3]])
def test_reference_local_hours(name: str, fmt_name: str) -> None:
    fmt, _, records = parsed(name, fmt_name)
    want = expected_by_logmr(name)["per_hour"]
    assert _hours(records, fmt.getter("local_time"), "%Y-%m-%dT%H") == want


@pytest.mark.unit
@pytest.mark.reference
def test_reference_jsonl_hours() -> None:
    fmt, _, records = parsed("cowrie.json.2018-06-19", "jsonl")
    want = expected("cowrie.json.2018-06-19")["per_hour"]
    assert _hours(records, fmt.getter("epoch"), "%Y-%m-%dT%H") == want


@pytest.mark.unit
@pytest.mark.reference
def test_reference_syslog_hours_and_programs() -> None:
    want = expected("syslog.3")
    fmt, _, records = parsed("syslog.3", "syslog_rfc3164", year="2020")
    assert _hours(records, fmt.getter("local_time"), "%b %d %H") == want["per_hour"]
    programs = collections.Counter(fmt.getter("program")(r) for r in records)
    assert None not in programs
    assert len(programs) == want["distinct_program"]
    top = sorted(programs.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    assert [[k.decode(), v] for k, v in top] == want["top20_program"]


@pytest.mark.unit
@pytest.mark.reference
def test_reference_kafka_levels_and_continuations() -> None:
    name = "kafka1_server.log.2016-12-19-20"
    want = expected(name)
    fmt, lines, records = parsed(name, "applog")
    levels = collections.Counter(fmt.getter("level")(r).decode() for r in records)
    assert dict(levels) == want["level_counts"] == {"ERROR": 3, "INFO": 421, "WARN": 2}
    malformed = [line for line in lines if fmt.parse(line) is None]
    assert len(malformed) == want["malformed_lines"]
    assert all(is_continuation(line) for line in malformed)


@pytest.mark.unit
@pytest.mark.reference
@pytest.mark.parametrize(("name", "fmt_name"), [*ACCESS, REFERENCE[2]])
def test_reference_regex_acceptance_is_identical(name: str, fmt_name: str) -> None:
    """Same verdict as the reference regex on every line and on mutated lines;
    for ``apache_combined`` the regex with the trailing fields logmr takes on
    purpose (``reference_access.with_trailing_fields``, issue 16)."""
    reference = re.compile(expected(name)["format_regex"].encode())
    if fmt_name == "apache_combined":
        reference = with_trailing_fields(expected(name))
    fmt = get_format(fmt_name)
    lines = read_lines(name)
    for line in lines:
        assert (reference.match(line) is not None) == (fmt.parse(line) is not None), line

    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        st.sampled_from(lines),
        st.integers(0, 300),
        st.integers(0, 4),
        st.binary(max_size=4) | st.sampled_from([b'"', b"\\", b" ", b"-", b"]", b'\\"', b"1"]),
    )
    def check(line: bytes, start: int, length: int, junk: bytes) -> None:
        mutated = line[:start] + junk + line[start + length :]
        if b"\n" in mutated:  # the reader never hands over a LF
            return
        if fmt_name == "syslog_rfc3164" and mutated.startswith(b"<"):
            return  # <PRI> is an addition to the reference layout
        assert (reference.match(mutated) is not None) == (fmt.parse(mutated) is not None)

    check()
