"""Format auto-detection."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from logmr.formats import FORMATS, Detection, detect_format
from logmr.formats.detect import CANDIDATES
from test_formats import (
    ALB_ERROR,
    ALB_HTTP,
    ALB_HTTPS,
    CLOUDFRONT,
    COMBINED,
    COMMON,
    JSONL,
    KAFKA,
    LOG4J,
    RFC3164,
    RFC3164_PLAIN,
    RFC5424,
    RFC5424_OFFSET,
    S3,
    S3_ERROR,
    VHOST,
)

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

SAMPLES: dict[str, list[bytes]] = {
    "apache_common": [COMMON, COMMON.replace(b"200 2326", b"404 -"), COMMON],
    "apache_combined": [COMBINED, COMBINED.replace(b"GET", b"POST"), COMBINED + b" 0.1 0.2"],
    "vhost_combined": [VHOST, b"other.example.org:80 " + COMBINED],
    "syslog_rfc3164": [RFC3164, RFC3164_PLAIN, b"Nov 18 07:45:00 host kernel: [ 0.0] x"],
    "syslog_rfc5424": [RFC5424, RFC5424_OFFSET],
    "jsonl": [JSONL, b'{"level": "info", "msg": "x"}', b"{}"],
    "applog": [KAFKA, LOG4J, b"\tat x.Y.z(Y.java:1)", b"INFO:root:hi"],
    "alb": [ALB_HTTP, ALB_HTTPS, ALB_ERROR],
    "cloudfront": [b"#Version: 1.0", b"#Fields: date time x-edge-location", CLOUDFRONT, CLOUDFRONT],
    "s3_access": [S3, S3_ERROR],
    "plain": [b"hello world", b"this is not a log", b""],
}


def test_candidates_are_every_format_but_plain() -> None:
    assert {cls.name for cls in CANDIDATES} == set(FORMATS) - {"plain"}
    assert len(CANDIDATES) == len(FORMATS) - 1


def test_specificity_order() -> None:
    order = [cls.name for cls in CANDIDATES]
    assert order.index("vhost_combined") < order.index("apache_combined")
    assert order.index("apache_combined") < order.index("apache_common")
    assert order.index("syslog_rfc5424") < order.index("syslog_rfc3164")
    for aws in ("alb", "s3_access", "cloudfront"):
        for generic in ("apache_common", "apache_combined", "jsonl", "applog", "syslog_rfc3164"):
            assert order.index(aws) < order.index(generic)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_detects_each_format(name: str) -> None:
    detection = detect_format(SAMPLES[name])
    assert detection.name == name
    assert detection.sampled == sum(1 for line in SAMPLES[name] if line)


def test_detection_is_a_frozen_dataclass() -> None:
    detection = detect_format([COMMON])
    assert detection == Detection("apache_common", 1, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        detection.name = "plain"  # type: ignore[misc]


def test_empty_lines_are_ignored() -> None:
    assert detect_format([b"", COMMON, b"", b""]) == Detection("apache_common", 1, 1)


@pytest.mark.parametrize("lines", [[], [b""], [b"", b""]])
def test_no_lines_is_plain(lines: list[bytes]) -> None:
    assert detect_format(lines) == Detection("plain", 0, 0)


def test_half_is_enough() -> None:
    assert detect_format([COMMON, b"junk"]) == Detection("apache_common", 1, 2)
    assert detect_format([COMMON, COMMON, b"junk", b"more junk"]).name == "apache_common"


def test_less_than_half_is_plain() -> None:
    assert detect_format([COMMON, b"junk", b"more junk"]) == Detection("plain", 3, 3)


def test_highest_share_wins() -> None:
    lines = [COMMON, COMBINED, COMBINED, JSONL]
    assert detect_format(lines) == Detection("apache_combined", 2, 4)


@pytest.mark.parametrize(
    ("lines", "name"),
    [
        ([COMMON, COMBINED], "apache_combined"),
        ([COMBINED, VHOST], "vhost_combined"),
        ([VHOST, COMMON], "vhost_combined"),
        ([RFC3164, RFC5424], "syslog_rfc5424"),
        ([JSONL, ALB_HTTP], "alb"),
        ([S3, COMBINED], "s3_access"),
        ([CLOUDFRONT, COMMON], "cloudfront"),
        ([KAFKA, JSONL], "jsonl"),
        ([KAFKA, RFC3164], "syslog_rfc3164"),
    ],
)
def test_ties_go_to_the_more_specific_format(lines: list[bytes], name: str) -> None:
    assert detect_format(lines).name == name
    assert detect_format(lines[::-1]).name == name


def test_binary_garbage_is_plain() -> None:
    lines = [bytes(range(256)), b"\x00" * 50, b"\xff\xfe\xfd"]
    assert detect_format(lines).name == "plain"


def test_cut_last_line_does_not_change_the_answer() -> None:
    lines = [COMBINED] * 20 + [COMBINED[:37]]
    assert detect_format(lines) == Detection("apache_combined", 20, 21)


# ---------------------------------------------------------------- reference data

REFERENCE = {
    "access.log.1": "apache_combined",
    "access_log": "apache_common",
    "syslog.3": "syslog_rfc3164",
    "kafka1_server.log.2016-12-19-20": "applog",
    "cowrie.json.2018-06-19": "jsonl",
}


def read_lines(name: str) -> list[bytes]:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"reference data {path} is missing (../shared/data beside the checkout)")
    parts = path.read_bytes().split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p[:-1] if p.endswith(b"\r") else p for p in parts]


@pytest.mark.reference
@pytest.mark.parametrize(("name", "fmt_name"), sorted(REFERENCE.items()))
@pytest.mark.parametrize("sample", [100, 1000, None])
def test_reference_detection(name: str, fmt_name: str, sample: int | None) -> None:
    lines = read_lines(name)[:sample]
    assert detect_format(lines).name == fmt_name


@pytest.mark.reference
def test_reference_sample_inside_stack_traces_is_applog() -> None:
    """Continuation lines are left out of applog's share: the first 20 kafka
    lines hold 2 records and 18 stack-trace lines, and still detect as applog."""
    lines = read_lines("kafka1_server.log.2016-12-19-20")[:20]
    assert detect_format(lines) == Detection("applog", 2, 20)


@pytest.mark.reference
def test_reference_detection_of_the_file_tail() -> None:
    """The last lines of access.log.1 are mostly combined with trailing fields
    (an extra "-"; "0.008 995"), the one before them common: the share decides."""
    lines = read_lines("access.log.1")
    assert detect_format(lines).name == "apache_combined"
    tail = detect_format(lines[-4:])
    assert (tail.name, tail.matched, tail.sampled) == ("apache_combined", 2, 3)
    assert tail.variant == "combined + 1-2 trailing fields (extra1 quoted)"


@pytest.mark.unit
def test_sample_starting_inside_a_stack_trace_is_still_applog() -> None:
    trace = [b"java.lang.IllegalStateException: boom"] + [b"\tat com.x.Y.run(Y.java:1)"] * 30
    records = [b"2016-12-19 20:00:01,123 INFO [main] com.x.Y - fine"] * 3
    assert detect_format(trace + records).name == "applog"
