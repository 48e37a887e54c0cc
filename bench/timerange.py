"""What a time range costs on the map side, and what pruning by date saves at listing.

Run ``python bench/timerange.py [--lines 400000] [--repeats 3]``.

1. **Map side**: ``MapSide.feed_text`` over one generated Apache combined log
   (in 1 MiB texts, as a map task reads them), for a counting job
   (``status_codes``), a column job (``top_paths``) and a record job
   (``error_rate``), without a range, with a range that keeps every record
   and with one that keeps about half; CPU time (``time.process_time``) of
   this process, median of ``--repeats``.
2. **Listing**: an ALB layout of ``--days`` days (``--files`` files a day) in
   moto's S3, listed for a job of one day (``S3InputSource.list_inputs`` with
   a ``DatedListing``) and without a range: ListObjectsV2 calls and GETs
   (each kept object's first bytes), counted on the client.

Prints a table; the machine may be shared (CPU time, not wall time).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from logmr.devtools.generate import generate
from logmr.formats import get_format
from logmr.jobs import load_job
from logmr.mapreduce.side import MapSide
from logmr.timerange import TimeRange

TEXT_BYTES = 1 << 20


def _texts(data: bytes) -> list[bytes]:
    """``data`` in texts of whole lines of about ``TEXT_BYTES``."""
    texts, start = [], 0
    while start < len(data):
        end = data.find(b"\n", start + TEXT_BYTES)
        end = len(data) if end < 0 else end + 1
        texts.append(data[start:end])
        start = end
    return texts


def map_side(job_name: str, texts: list[bytes], window: TimeRange | None) -> tuple[float, int]:
    """CPU seconds of feeding ``texts``, and the records counted."""
    job = load_job(job_name)
    fmt = get_format("apache_combined")
    job.bind(fmt)
    side = MapSide(job, fmt, 0, window=window)
    started = time.process_time()
    for text in texts:
        side.feed_text(text)
    side.combine()
    return time.process_time() - started, side.records


def bench_map_side(lines: int, repeats: int) -> list[tuple[str, str, float, int]]:
    out = io.BytesIO()
    generate(out, fmt="apache_combined", lines=lines, seed=11)
    data = out.getvalue()
    texts = _texts(data)
    first, last = data[: data.index(b"\n")], data[data.rindex(b"\n", 0, len(data) - 1) :]
    fmt = get_format("apache_combined")
    start, end = (fmt.getter("epoch")(fmt.parse(line.strip())) for line in (first, last))
    ranges = {
        "none": None,
        "all kept": TimeRange(start - 1, end + 1),
        "half kept": TimeRange(start + (end - start) / 2, None),
    }
    rows = []
    for job in ("status_codes", "top_paths", "error_rate"):
        for label, window in ranges.items():
            runs = [map_side(job, texts, window) for _ in range(repeats)]
            rows.append((job, label, statistics.median(s for s, _ in runs), runs[0][1]))
    print(f"map side: {lines:,} lines, {len(data) / 1e6:.1f} MB, CPU s (median of {repeats})")
    return rows


class _Counting:
    def __init__(self, client: Any) -> None:
        self.client, self.lists, self.gets = client, 0, 0

    def list_objects_v2(self, **kwargs: Any) -> Any:
        self.lists += 1
        return self.client.list_objects_v2(**kwargs)

    def get_object(self, **kwargs: Any) -> Any:
        self.gets += 1
        return self.client.get_object(**kwargs)


def bench_listing(days: int, files: int) -> list[tuple[str, int, int, int]]:
    import boto3
    from moto import mock_aws

    from logmr.aws.s3 import S3InputSource
    from logmr.inputs.dated import DatedListing

    rows = []
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="alb")
        first = datetime(2026, 1, 1, tzinfo=UTC)
        base = "AWSLogs/123/elasticloadbalancing/eu-west-1"
        for day in range(days):
            for i in range(files):
                at = first + timedelta(days=day, minutes=i * 24 * 60 // files)
                name = (
                    f"123_elasticloadbalancing_eu-west-1_app.lb.1_{at:%Y%m%dT%H%MZ}_10.0.0.1_x.log"
                )
                s3.put_object(Bucket="alb", Key=f"{base}/{at:%Y/%m/%d}/{name}", Body=b"x\n")
        day = first + timedelta(days=days // 2)
        for label, listing in (
            ("no range", None),
            ("one day", DatedListing(TimeRange(day.timestamp(), (day + timedelta(1)).timestamp()))),
        ):
            client = _Counting(s3)
            found = S3InputSource(client, head_workers=1).list_inputs(
                ["s3://alb/AWSLogs/"], listing
            )
            rows.append((label, len(found), client.lists, client.gets))
    print(f"listing: ALB layout, {days} days x {files} files = {days * files:,} objects (moto)")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=400_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--files", type=int, default=48)
    args = parser.parse_args()
    rows = bench_map_side(args.lines, args.repeats)
    print("| job | range | CPU s | records |\n|---|---|---:|---:|")
    for job, label, seconds, records in rows:
        print(f"| {job} | {label} | {seconds:.3f} | {records:,} |")
    listed = bench_listing(args.days, args.files)
    print("| range | objects kept | ListObjectsV2 calls | GETs |\n|---|---:|---:|---:|")
    for label, kept, lists, gets in listed:
        print(f"| {label} | {kept:,} | {lists:,} | {gets:,} |")


if __name__ == "__main__":
    main()
