"""Format variants, field names for every format, custom formats and the keys
of structured JSON loggers (issue 16, formats part).

The fixtures under tests/fixtures/formats/ were written by hand after real
configurations: combined + a quoted X-Forwarded-For, nginx combined +
``$request_time $upstream_response_time``, and a MongoDB 4.4+ log. Every
expected value is computed here from the fixture's text with plain string
operations, independently of the formats' regexes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from helpers import run_inline
from logmr.errors import FormatMismatchError, InvalidParameterError, UnknownFormatError
from logmr.formats import FORMATS, detect_format, get_format
from logmr.formats.base import SPECIAL_FIELDS
from logmr.formats.custom import MAX_CUSTOM_FORMAT_CHARS
from logmr.formats.timeparse import apache_epoch
from logmr.jobs import load_job
from logmr.jobs.binding import check
from logmr.spec import JobSpec
from test_formats import SAMPLES

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "formats"
XFF = FIXTURES / "combined_xff.log"
NGINX = FIXTURES / "nginx_timing.log"
MONGODB = FIXTURES / "mongodb.log"

NGINX_FORMAT = (
    'nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'
    ' "$http_referer" "$http_user_agent" $request_time $upstream_response_time'
)
APACHE_FORMAT = 'apache:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D'


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def split_access(line: bytes) -> dict[str, bytes]:
    """The fields of one fixture line by plain splitting (the test's own
    reading): client, time, request, status, size, and the rest after the
    closing quote of the user agent."""
    client = line.split(b" ", 1)[0]
    time = line[line.index(b"[") + 1 : line.index(b"]")]
    request = line.split(b'"', 2)[1]
    status, size = line.split(b'"', 2)[2].split()[:2]
    quotes = [i for i in range(len(line)) if line[i : i + 1] == b'"' and line[i - 1 : i] != b"\\"]
    after_agent = line[quotes[5] + 1 :].strip()
    return {
        "client": client,
        "time": time,
        "request": request,
        "status": status,
        "size": size,
        "rest": after_agent,
    }


# ---------------------------------------------------------------- variants


@pytest.mark.unit
def test_nginx_is_apache_combined() -> None:
    assert get_format("nginx").name == "apache_combined"
    assert get_format("NGINX").name == "apache_combined"


@pytest.mark.unit
@pytest.mark.parametrize("path", [XFF, NGINX])
def test_apache_combined_takes_trailing_fields(path: Path) -> None:
    """Unlike the reference data's regex (tests/reference_access.py says how
    its answers follow), ``apache_combined`` takes fields after the user agent,
    and its old names for the variant are aliases of it."""
    fmt = get_format("apache_combined")
    assert all(fmt.parse(line) is not None for line in lines_of(path))
    for alias in ("apache_combined_extra", "nginx_combined_extra", "combined_extra"):
        assert get_format(alias).name == "apache_combined"


@pytest.mark.unit
def test_combined_extra_with_a_quoted_trailing_field() -> None:
    fmt = get_format("apache_combined")
    for line in lines_of(XFF):
        record = fmt.parse(line)
        assert record is not None, line
        want = split_access(line)
        assert fmt.getter("client")(record) == want["client"]
        assert fmt.getter("status")(record) == want["status"]
        assert fmt.getter("path")(record) == want["request"].split()[1]
        assert fmt.getter("epoch")(record) == apache_epoch(want["time"])
        assert fmt.getter("extra1")(record) == want["rest"].strip(b'"')
        assert fmt.getter("extra2")(record) is None
        assert fmt.getter("latency")(record) is None  # a quoted field is no request time


@pytest.mark.unit
def test_combined_extra_with_nginx_timings() -> None:
    fmt = get_format("apache_combined")
    for line in lines_of(NGINX):
        record = fmt.parse(line)
        assert record is not None, line
        request_time, upstream = split_access(line)["rest"].split()
        assert fmt.getter("latency")(record) == float(request_time)
        assert fmt.getter("extra1")(record) == request_time
        assert fmt.getter("extra2")(record) == upstream


@pytest.mark.unit
@pytest.mark.parametrize(
    ("path", "variant"),
    [
        (XFF, "combined + 1 trailing field (extra1 quoted)"),
        (NGINX, "combined + 2 trailing fields (extra1 seconds -> latency, extra2)"),
    ],
)
def test_auto_detects_the_variant_and_says_which(path: Path, variant: str) -> None:
    detection = detect_format(lines_of(path))
    assert (detection.name, detection.matched, detection.sampled) == (
        "apache_combined",
        len(lines_of(path)),
        len(lines_of(path)),
    )
    assert detection.variant == variant
    assert detection.text == f"apache_combined ({variant})"


@pytest.mark.unit
def test_plain_combined_detection_has_no_variant() -> None:
    lines = [line[: line.rindex(b' "')] for line in lines_of(XFF)]
    detection = detect_format(lines)
    assert (detection.name, detection.variant, detection.text) == (
        "apache_combined",
        "",
        "apache_combined",
    )


@pytest.mark.unit
def test_a_stray_line_with_trailing_fields_makes_no_variant() -> None:
    """A log whose lines mostly end at the user agent is plain combined,
    whatever one line of the sample carries after it."""
    lines = [line[: line.rindex(b' "')] for line in lines_of(XFF)]
    stray = [*lines, lines_of(XFF)[0]]
    detection = detect_format(stray)
    assert (detection.name, detection.matched, detection.variant) == (
        "apache_combined",
        len(stray),
        "",
    )
    assert detect_format(lines_of(XFF) + lines[:1]).variant  # most have them: a variant


@pytest.mark.unit
@pytest.mark.parametrize("name", ["apache_combined", NGINX_FORMAT])
def test_block_parser_agrees_with_the_line_parser(name: str) -> None:
    """The columns of a text (one C-level pass, CRLF and malformed lines in it)
    are the line parser's getters, line by line."""
    fmt = get_format(name)
    lines = lines_of(NGINX)
    text = b"".join(
        [lines[0] + b"\r\n", b"not a log line\n", *(line + b"\n" for line in lines[1:])]
    )
    fields = ["status", "latency", "bytes", "epoch"]
    found = fmt.columns_in_text(text, fields)
    assert found is not None
    columns, counted = found
    assert counted == len(lines) + 1
    records = [fmt.parse(line) for line in lines]
    for field, column in zip(fields, columns, strict=True):
        assert column.values() == [fmt.getter(field)(r) for r in records], field
    counted_status = fmt.values_in_text(text, "status")
    assert counted_status == ([split_access(line)["status"] for line in lines], len(lines) + 1)


@pytest.mark.functional
def test_status_codes_on_the_variant_log_auto() -> None:
    record, results = run_inline(XFF, "status_codes")
    assert record.spec["format"] == "apache_combined"
    assert record.counters["malformed"] == 0
    assert results == dict(Counter(split_access(line)["status"].decode() for line in lines_of(XFF)))


# ------------------------------------------------------- @message, @timestamp


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(FORMATS))
def test_message_and_timestamp_for_every_format(name: str) -> None:
    fmt = get_format(name)
    line = SAMPLES[name]
    record = fmt.parse(line)
    assert fmt.getter("@message")(record) == line.decode("utf-8", "backslashreplace")
    if "epoch" in fmt.fields:
        assert fmt.getter("@timestamp")(record) == fmt.getter("epoch")(record)
        assert set(SPECIAL_FIELDS) <= set(fmt.special_fields())
    else:
        with pytest.raises(FormatMismatchError, match="has no field '@timestamp'"):
            fmt.getter("@timestamp")


@pytest.mark.unit
def test_message_of_a_block_record_has_no_cr() -> None:
    fmt = get_format("apache_combined")
    line = SAMPLES["apache_combined"]
    records = fmt.records_in_text(line + b"\r\n" + line + b"\n")
    assert records is not None
    assert [fmt.getter("@message")(r) for r in records] == [line.decode()] * 2


@pytest.mark.unit
def test_unknown_field_names_what_the_format_has() -> None:
    with pytest.raises(FormatMismatchError, match=r"no field 'extra1' \(it has: .*@message"):
        get_format("apache_common").getter("extra1")


# ----------------------------------------------------------- JSON key paths


def mongodb_records() -> list[dict[str, object]]:
    return [json.loads(line) for line in lines_of(MONGODB)]


@pytest.mark.unit
def test_jsonl_fields_by_key_path() -> None:
    fmt = get_format("jsonl")
    for line, want in zip(lines_of(MONGODB), mongodb_records(), strict=True):
        record = fmt.parse(line)
        assert fmt.getter("s")(record) == want["s"]
        assert fmt.getter("c")(record) == want["c"]
        assert fmt.getter("id")(record) == want["id"]  # an int, as JSON gives it
        assert fmt.getter("ctx")(record) == want["ctx"]
        assert fmt.getter("t.$date")(record) == want["t"]["$date"]  # type: ignore[index]
        attr = want.get("attr")
        assert fmt.getter("attr")(record) == (
            None if attr is None else json.dumps(attr, separators=(",", ":"))
        )
        remote = attr.get("remote") if isinstance(attr, dict) else None
        assert fmt.getter("attr.remote")(record) == remote
        assert fmt.getter("@message")(record) == line.decode()


@pytest.mark.unit
def test_jsonl_mongodb_keys_without_being_told() -> None:
    fmt = get_format("jsonl")
    records = [fmt.parse(line) for line in lines_of(MONGODB)]
    want = mongodb_records()
    assert [fmt.getter("level")(r) for r in records] == [w["s"] for w in want]
    assert [fmt.getter("message")(r) for r in records] == [w["msg"] for w in want]
    assert [fmt.getter("logger")(r) for r in records] == [w["c"] for w in want]
    assert fmt.getter("epoch")(records[0]) == 1717232400.101  # 2024-06-01T09:00:00.101Z
    detection = detect_format(lines_of(MONGODB))
    assert detection.name == "jsonl"
    assert detection.variant == (
        "level from 's', time from 't.$date', message from 'msg' (MongoDB)"
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    ("line", "level", "epoch", "message", "variant"),
    [
        (  # Elastic Common Schema, nested and flat
            b'{"@timestamp":"2024-01-02T03:04:05.000Z","log":{"level":"warn"},"message":"m"}',
            "warn",
            1704164645.0,
            "m",
            "level from 'log.level', time from '@timestamp', message from 'message'"
            " (Elastic Common Schema)",
        ),
        (
            b'{"@timestamp":"2024-01-02T03:04:05Z","log.level":"error","message":"m"}',
            "error",
            1704164645.0,
            "m",
            "level from 'log.level', time from '@timestamp', message from 'message'"
            " (Elastic Common Schema)",
        ),
        (  # Bunyan: numeric level, ISO time
            b'{"name":"app","hostname":"h","pid":1,"level":50,"msg":"m",'
            b'"time":"2024-01-02T03:04:05.000Z","v":0}',
            "error",
            1704164645.0,
            "m",
            "level from 'level', time from 'time', message from 'msg' (Bunyan/Pino)",
        ),
        (  # Pino: numeric level, epoch milliseconds
            b'{"level":30,"time":1704164645123,"pid":1,"hostname":"h","msg":"m"}',
            "info",
            1704164645.123,
            "m",
            "level from 'level', time from 'time', message from 'msg' (Bunyan/Pino)",
        ),
        (  # zap production encoder
            b'{"level":"info","ts":1704164645.5,"caller":"main.go:1","msg":"m"}',
            "info",
            1704164645.5,
            "m",
            "level from 'level', time from 'ts', message from 'msg' (zap)",
        ),
        (  # logrus JSONFormatter
            b'{"level":"warning","msg":"m","time":"2024-01-02T03:04:05+01:00"}',
            "warning",
            1704161045.0,
            "m",
            "level from 'level', time from 'time', message from 'msg' (logrus)",
        ),
        (  # structlog JSONRenderer
            b'{"event":"m","level":"debug","timestamp":"2024-01-02T03:04:05Z"}',
            "debug",
            1704164645.0,
            "m",
            "level from 'level', time from 'timestamp', message from 'event' (structlog)",
        ),
    ],
)
def test_jsonl_structured_loggers(
    line: bytes, level: str, epoch: float, message: str, variant: str
) -> None:
    fmt = get_format("jsonl")
    record = fmt.parse(line)
    assert fmt.getter("level")(record) == level
    assert fmt.getter("epoch")(record) == pytest.approx(epoch)
    assert fmt.getter("message")(record) == message
    assert detect_format([line]).variant == variant


@pytest.mark.unit
def test_jsonl_canonical_names_keep_their_meaning() -> None:
    """A canonical field jsonl lacks is refused, not read from a key of that name."""
    with pytest.raises(FormatMismatchError, match="no field 'latency'"):
        get_format("jsonl").getter("latency")


@pytest.mark.functional
def test_level_counts_field_s_gives_the_mongodb_answer() -> None:
    want = dict(Counter(str(w["s"]) for w in mongodb_records()))
    _, by_s = run_inline(MONGODB, "level_counts", params={"field": "s"})
    assert by_s == want
    _, by_default = run_inline(MONGODB, "level_counts")  # jsonl finds 's' itself
    assert by_default == want
    _, by_component = run_inline(MONGODB, "field_count", params={"field": "c"})
    assert by_component == dict(Counter(str(w["c"]) for w in mongodb_records()))


@pytest.mark.unit
def test_counting_jobs_keep_their_counter_names() -> None:
    job = load_job("status_codes", {})
    job.bind(get_format("apache_combined"))
    assert job.count_field == "status"
    assert job.missing == "no_status"
    with pytest.raises(FormatMismatchError, match="no field 'nope'"):
        load_job("level_counts", {"field": "nope"}).bind(get_format("applog"))


# ---------------------------------------------------------- custom formats


@pytest.mark.unit
def test_nginx_custom_format_typed_fields() -> None:
    fmt = get_format(NGINX_FORMAT)
    assert fmt.name == NGINX_FORMAT
    for line in lines_of(NGINX):
        record = fmt.parse(line)
        assert record is not None, line
        want = split_access(line)
        request_time, upstream = want["rest"].split()
        assert fmt.getter("client")(record) == want["client"]
        assert fmt.getter("remote_addr")(record) == want["client"]
        assert fmt.getter("status")(record) == want["status"]
        assert fmt.getter("bytes")(record) == int(want["size"])
        assert fmt.getter("method")(record) == want["request"].split()[0]
        assert fmt.getter("epoch")(record) == apache_epoch(want["time"])
        assert fmt.getter("latency")(record) == float(request_time)
        assert fmt.getter("request_time")(record) == float(request_time)
        assert fmt.getter("upstream_response_time")(record) == (
            None if upstream == b"-" else float(upstream)
        )
        assert fmt.getter("remote_user")(record) == line.split(b" ")[2]


@pytest.mark.unit
def test_nginx_custom_format_keeps_the_column_fast_path() -> None:
    fmt = get_format(NGINX_FORMAT)
    assert {"client", "status", "referer", "user_agent"} <= fmt._plain_fields
    assert fmt.columns_in_text(b"", ["status", "path", "bytes", "latency"]) is not None


@pytest.mark.unit
def test_apache_custom_format_microseconds() -> None:
    fmt = get_format(APACHE_FORMAT)
    line = lines_of(NGINX)[0].rsplit(b" ", 2)[0] + b" 12500"
    record = fmt.parse(line)
    assert record is not None
    assert fmt.getter("latency")(record) == pytest.approx(0.0125)
    assert fmt.getter("duration_us")(record) == 12500
    assert fmt.getter("user")(record) == b"-"
    assert fmt.getter("user_agent")(record) == b"okhttp/4.12.0"
    assert fmt.getter("epoch")(record) == apache_epoch(b"12/Jan/2025:08:00:01 +0000")


@pytest.mark.unit
def test_apache_custom_format_headers_by_name() -> None:
    fmt = get_format(
        'apache:%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i" "%{X-Forwarded-For}i"'
    )
    line = lines_of(XFF)[2]
    record = fmt.parse(line)
    assert fmt.getter("x_forwarded_for")(record) == b"198.51.100.23, 10.0.0.2"
    assert fmt.getter("bytes")(record) == 0


@pytest.mark.unit
def test_regex_custom_format() -> None:
    fmt = get_format(
        r'regex:^(?<client>\S+) \S+ \S+ \[(?P<time>[^]]+)\] "(?P<request>[^"]*)" '
        r"(?P<status>\d{3}) (?P<size>\d+|-) .* (?P<latency>[0-9.]+) (?P<upstream>\S+)$"
    )
    for line in lines_of(NGINX):
        record = fmt.parse(line)
        want = split_access(line)
        request_time, upstream = want["rest"].split()
        assert fmt.getter("client")(record) == want["client"]
        assert fmt.getter("path")(record) == want["request"].split()[1]
        assert fmt.getter("latency")(record) == float(request_time)
        assert fmt.getter("upstream")(record) == upstream
        assert fmt.getter("epoch")(record) == apache_epoch(want["time"])
        assert fmt.getter("bytes")(record) == int(want["size"])
        assert fmt.getter("@message")(record) == line.decode()


@pytest.mark.unit
def test_regex_custom_format_runs_in_linear_time() -> None:
    """A regex that backtracks exponentially in Python's ``re`` runs on RE2:
    a 40-byte line that does not match takes no time to refuse (a
    backtracking engine would try 2^40 ways)."""
    fmt = get_format("regex:^(?P<word>(a+)+)$")
    assert fmt.parse(b"a" * 40 + b"!") is None
    record = fmt.parse(b"aaa")
    assert fmt.getter("word")(record) == b"aaa"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("apache:%h %l %Z", InvalidParameterError, "at position 6: unsupported directive '%Z'"),
        ("apache:%h %{%Y}t", InvalidParameterError, "at position 3: unsupported directive"),
        ("apache:%h %", InvalidParameterError, "at position 3: '%' at the end"),
        ("nginx:$status$body_bytes_sent", InvalidParameterError, "at position 0: a variable"),
        ("nginx:   ", InvalidParameterError, "the format is empty"),
        ("nginx:just text", InvalidParameterError, "no variable"),
        ("regex:(?P<a>[x", InvalidParameterError, "at position 6: the regex does not compile"),
        ("regex:plain", InvalidParameterError, "no named group"),
        (r"regex:(?P<a>x)\1", InvalidParameterError, "at position 8: RE2 (a linear-time"),
        ("regex:(?P<a>x)(?=y)", InvalidParameterError, "at position 8: RE2"),
        ("regex:(?P<a>x++)", InvalidParameterError, "at position 7: RE2"),
        ("caddy:{remote}", UnknownFormatError, "unknown format 'caddy:{remote}'"),
        (
            "nginx:$status " + "x" * MAX_CUSTOM_FORMAT_CHARS,
            InvalidParameterError,
            "custom format too long",
        ),
    ],
)
def test_bad_custom_formats_name_the_position(
    name: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)) as raised:
        get_format(name)
    assert "\n" not in str(raised.value)


@pytest.mark.unit
def test_plan_check_refuses_a_bad_custom_format_before_any_work() -> None:
    spec = JobSpec(job_id="j1", job="status_codes", inputs=["/nowhere"], format="apache:%h %Z")
    with pytest.raises(InvalidParameterError, match="unsupported directive '%Z'"):
        check(spec)


@pytest.mark.functional
def test_custom_format_travels_in_a_job_request() -> None:
    record, results = run_inline(NGINX, "status_codes", fmt=NGINX_FORMAT)
    assert record.spec["format"] == NGINX_FORMAT
    assert record.counters["malformed"] == 0
    want = Counter(split_access(line)["status"].decode() for line in lines_of(NGINX))
    assert results == dict(want)
    _, paths = run_inline(NGINX, "top_paths", fmt=NGINX_FORMAT)
    want_bytes: Counter[str] = Counter()
    for line in lines_of(NGINX):
        fields = split_access(line)
        want_bytes[fields["request"].split()[1].decode()] += int(fields["size"])
    assert {path: value["bytes"] for path, value in paths.items()} == dict(want_bytes)
