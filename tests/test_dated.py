"""Listing pruned by date (``inputs.dated``): objects whose keys put them
outside a job's time range are never read, date folders outside it never
listed, on local folders and on moto's S3 alike."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from helpers import run_inline
from logmr.aws.s3 import S3InputSource
from logmr.config import Settings
from logmr.errors import EmptyInputError
from logmr.inputs import source
from logmr.inputs.dated import KEY_MARGIN, DatedListing, folder_span, key_span
from logmr.inputs.source import LocalInputSource
from logmr.plan import view
from logmr.plan.tuning import local_limits
from logmr.run.embedded import embedded_backends
from logmr.spec import request_to_spec
from logmr.timerange import TimeRange


def at(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()  # type: ignore[arg-type]


# -- spans from keys ----------------------------------------------------------------------
ALB_KEY = (
    "logs/AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2026/03/01/"
    "123456789012_elasticloadbalancing_eu-west-1_app.my-lb.50dc6c495c0c9188_20260301T0935Z_"
    "10.0.0.1_2xyz0k5u.log.gz"
)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("key", "span"),
    [
        (ALB_KEY, (at(2026, 3, 1, 9, 30), at(2026, 3, 1, 9, 35))),
        ("cf/E2EXAMPLE.2026-03-01-09.a1b2c3d4.gz", (at(2026, 3, 1, 9), at(2026, 3, 1, 10))),
        ("E2EXAMPLE.2026-03-01-23.A1B2C3", (at(2026, 3, 1, 23), at(2026, 3, 2))),
        (
            "stream/2026/03/01/09/stream-1-2026-03-01-09-12-00-uuid.gz",
            (at(2026, 3, 1, 9), at(2026, 3, 1, 10)),
        ),
        ("2026/02/28/app.log", (at(2026, 2, 28), at(2026, 3, 1))),
        (  # a Firehose dynamic partitioning prefix, Hive-style
            "fh/year=2026/month=03/day=01/hour=09/part-1.gz",
            (at(2026, 3, 1, 9), at(2026, 3, 1, 10)),
        ),
        ("/var/log/app/2026/12/31/23/x.log", (at(2026, 12, 31, 23), at(2027, 1, 1))),
    ],
)
def test_a_dated_key_tells_the_times_its_records_hold(key: str, span: tuple[float, float]) -> None:
    assert key_span(key) == span


@pytest.mark.unit
@pytest.mark.parametrize(
    "key",
    [
        "exports/4f2a-task/app-stream/000000.gz",  # a CloudWatch Logs export: no time in the key
        "logs/2026/13/01/x.log",  # no month 13
        "logs/1234/05/06/x.log",  # not a year logs are written in
        "logs/2026-03-01.log",
        "access.log",
    ],
)
def test_a_key_without_a_date_layout_tells_nothing(key: str) -> None:
    assert key_span(key) is None


@pytest.mark.unit
def test_a_folder_ending_in_a_date_level_spans_that_period() -> None:
    assert folder_span("a/2026/") == (at(2026, 1, 1), at(2027, 1, 1))
    assert folder_span("a/2026/12/") == (at(2026, 12, 1), at(2027, 1, 1))
    assert folder_span("2026/02/") == (at(2026, 2, 1), at(2026, 3, 1))
    assert folder_span("a/2026/02/28/") == (at(2026, 2, 28), at(2026, 3, 1))
    assert folder_span("a/2026/02/28/07/") == (at(2026, 2, 28, 7), at(2026, 2, 28, 8))
    assert folder_span("a/2026/02/28/07/more/") is None
    assert folder_span("a/year=2026/month=02/") == (at(2026, 2, 1), at(2026, 3, 1))
    assert folder_span("year=2026/month=02/day=28/hour=07/") == (
        at(2026, 2, 28, 7),
        at(2026, 2, 28, 8),
    )
    assert folder_span("AWSLogs/123456789012/") is None


# -- a local folder and an S3 prefix with the same layout --------------------------------
WINDOW = TimeRange(at(2026, 3, 2, 6), at(2026, 3, 2, 12))
DAYS = (1, 2, 3, 5)


def _layout() -> dict[str, bytes]:
    """ALB files of four days (one every six hours), relative key -> bytes."""
    files = {}
    for day in DAYS:
        for hour in (0, 6, 12, 18):
            stamp = f"202603{day:02d}T{hour:02d}05Z"
            name = f"123_elasticloadbalancing_eu-west-1_app.lb.1_{stamp}_10.0.0.1_x.log"
            key = f"AWSLogs/123/elasticloadbalancing/eu-west-1/2026/03/{day:02d}/{name}"
            files[key] = f"line of {stamp}\n".encode()
    return files


def _expected_kept() -> set[str]:
    """The files whose 5-minute interval, widened by the margin, meets the window."""
    kept = set()
    for key in _layout():
        start, end = key_span(key) or (0.0, 0.0)
        if WINDOW.overlaps(start - KEY_MARGIN, end + KEY_MARGIN):
            kept.add(key)
    return kept


@pytest.mark.functional
def test_a_local_folder_is_pruned_by_date_and_skipped_files_are_never_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "logs"
    for key, data in _layout().items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
    opened: list[str] = []
    scanned: list[str] = []
    real_open, real_scandir = Path.open, os.scandir
    monkeypatch.setattr(
        Path, "open", lambda self, *a, **k: opened.append(str(self)) or real_open(self, *a, **k)
    )
    monkeypatch.setattr(
        source.os, "scandir", lambda path: scanned.append(str(path)) or real_scandir(path)
    )
    listing = DatedListing(WINDOW)
    found = LocalInputSource().list_inputs([str(root)], listing)
    kept = {str((root / key).resolve()) for key in _expected_kept()}
    assert len(kept) == 2  # 06:05 and 12:05 of day 2 (11:00 within the margin of 12:05's)
    assert {obj.uri for obj in found} == kept
    assert set(opened) == kept  # the head of each kept file, nothing else
    days = str((root / "AWSLogs/123/elasticloadbalancing/eu-west-1/2026/03").resolve())
    assert sorted(listing.skipped_folders) == [f"{days}/{day:02d}/" for day in (1, 3, 5)]
    assert len(listing.skipped_objects) == 2  # day 2's 00:05 and 18:05, by their names
    assert not [
        path for path in scanned if path.startswith((f"{days}/01", f"{days}/03", f"{days}/05"))
    ]


class _Recording:
    """An S3 client that notes the prefixes listed and the keys read."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.listed: list[str] = []
        self.read: list[str] = []

    def list_objects_v2(self, **kwargs: Any) -> Any:
        self.listed.append(kwargs["Prefix"])
        return self.client.list_objects_v2(**kwargs)

    def get_object(self, **kwargs: Any) -> Any:
        self.read.append(kwargs["Key"])
        return self.client.get_object(**kwargs)

    def head_object(self, **kwargs: Any) -> Any:
        self.read.append(kwargs["Key"])
        return self.client.head_object(**kwargs)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="alb-logs")
        for key, data in _layout().items():
            client.put_object(Bucket="alb-logs", Key=f"lb/{key}", Body=data)
        yield client


@pytest.mark.functional
def test_an_s3_prefix_is_pruned_by_date_and_skipped_objects_are_never_read(s3: Any) -> None:
    recording = _Recording(s3)
    listing = DatedListing(WINDOW)
    found = S3InputSource(recording).list_inputs(["s3://alb-logs/lb/"], listing)
    kept = {f"lb/{key}" for key in _expected_kept()}
    assert {obj.uri for obj in found} == {f"s3://alb-logs/{key}" for key in kept}
    assert set(recording.read) == kept  # one small ranged GET per kept object
    days = "lb/AWSLogs/123/elasticloadbalancing/eu-west-1/2026/03/"
    assert listing.skipped_folders == [f"s3://alb-logs/{days}{day:02d}/" for day in (1, 3, 5)]
    assert not [
        prefix
        for prefix in recording.listed
        if prefix.startswith((f"{days}01", f"{days}03", f"{days}05"))
    ]
    # the same layout in a local folder gives the same verdicts (test above), and a
    # listing without a range lists and reads everything
    everything = S3InputSource(_Recording(s3)).list_inputs(["s3://alb-logs/lb/"])
    assert len(everything) == len(_layout())


@pytest.mark.functional
def test_a_named_object_outside_the_range_gets_not_even_a_head(s3: Any) -> None:
    recording = _Recording(s3)
    outside = next(key for key in _layout() if "20260305T" in key)
    listing = DatedListing(WINDOW)
    found = S3InputSource(recording).list_inputs([f"s3://alb-logs/lb/{outside}"], listing)
    assert found == [] and recording.read == [] and recording.listed == []
    assert listing.skipped_objects == [f"s3://alb-logs/lb/{outside}"]


# -- a job over a Firehose layout: answers exact, pruned objects never read ---------------
def firehose_layout(root: Path) -> list[tuple[datetime, str]]:
    """Apache lines in ``YYYY/MM/DD/HH/`` folders, one file an hour over two
    days, ten records in each, some a few minutes before their hour (a
    Firehose buffer's lag); each record's (time, status)."""
    written = []
    for hour in range(48):
        folder_time = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=hour)
        folder = root / folder_time.strftime("%Y/%m/%d/%H")
        folder.mkdir(parents=True)
        lines = []
        for i in range(10):
            moment = folder_time + timedelta(minutes=6 * i - 3)
            status = ("200", "404", "500")[(hour + i) % 3]
            stamp = moment.strftime("%d/%b/%Y:%H:%M:%S +0000")
            lines.append(f'10.0.0.1 - - [{stamp}] "GET /p{i} HTTP/1.1" {status} 10 "-" "ua"\n')
            written.append((moment, status))
        (folder / "stream-1.log").write_text("".join(lines))
    return written


@pytest.mark.functional
def test_a_job_over_a_dated_layout_reads_only_objects_that_may_hold_the_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "firehose"
    written = firehose_layout(root)
    opened: list[str] = []
    real_open = Path.open
    monkeypatch.setattr(
        Path, "open", lambda self, *a, **k: opened.append(str(self)) or real_open(self, *a, **k)
    )
    since, until = "2026-03-01T20:00:00Z", "2026-03-02T02:30:00Z"
    record, results = run_inline(
        root, "status_codes", since=since, until=until, home=tmp_path / "home"
    )
    low, high = datetime(2026, 3, 1, 20, tzinfo=UTC), datetime(2026, 3, 2, 2, 30, tzinfo=UTC)
    expected: dict[str, int] = {}
    for moment, status in written:
        if low <= moment < high:
            expected[status] = expected.get(status, 0) + 1
    assert results == expected
    read = {
        Path(path).relative_to(root.resolve()).parent.as_posix()
        for path in opened
        if path.startswith(str(root.resolve()))
    }
    # folders 19:00 (within the margin) to 03:00 may hold the range; the rest are never read
    assert read == {f"2026/03/01/{h:02d}" for h in range(19, 24)} | {
        f"2026/03/02/{h:02d}" for h in range(4)
    }
    # what the dates left unread, in the job's counters: day 1's hours 00-18 and day 2's
    # 04-23 (the hours of a day folder across a bound are walked one by one)
    assert record.counters["skipped_folders"] == 19 + 20
    assert "skipped_objects" not in record.counters  # the key of a file tells nothing more


@pytest.mark.functional
def test_logmr_plan_shows_the_objects_kept_and_skipped(tmp_path: Path) -> None:
    root = tmp_path / "firehose"
    firehose_layout(root)
    spec = request_to_spec(
        {"job": "status_codes", "inputs": [str(root)], "since": "2026-03-02T10:00:00Z"}
    )
    inputs = embedded_backends(Settings.load(home=tmp_path / "home")).inputs
    report = view.plan_report(spec, inputs, local_limits(), with_estimate=False)
    found = report["time_range"]
    assert found["since"] == "2026-03-02T10:00:00Z" and found["until"] is None
    # day 1 never listed; day 2's hours 00-08 left out (09 is within the margin)
    assert [Path(folder).name for folder in found["skipped_folders"]][-9:] == [
        f"{h:02d}" for h in range(9)
    ]
    assert len(found["kept"]) == report["objects"] == 15
    text = view.format_report(report)
    assert "kept                    15  objects" in text
    assert "date folders outside the range (never listed)" in text


@pytest.mark.functional
def test_a_range_that_no_object_may_hold_is_refused_naming_what_was_skipped(tmp_path: Path) -> None:
    root = tmp_path / "firehose"
    firehose_layout(root)
    with pytest.raises(EmptyInputError, match="no input may hold records within"):
        run_inline(root, "status_codes", since="2027-01-01", home=tmp_path / "home")


@pytest.mark.functional
def test_a_pattern_s_matches_outside_the_range_are_never_read(s3: Any) -> None:
    recording = _Recording(s3)
    listing = DatedListing(WINDOW)
    pattern = "s3://alb-logs/lb/AWSLogs/123/elasticloadbalancing/eu-west-1/2026/03/*/*.log"
    found = S3InputSource(recording).list_inputs([pattern], listing)
    kept = {f"lb/{key}" for key in _expected_kept()}
    assert {obj.uri for obj in found} == {f"s3://alb-logs/{key}" for key in kept}
    assert set(recording.read) == kept
    assert len(listing.skipped_objects) == len(_layout()) - len(kept)
