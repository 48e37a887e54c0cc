"""Part files: JSON lines (the format before) against Parquet (zstd, snappy).

``codecs`` takes every result of a finished local job (``--home``,
``--job-id``: e.g. ``access_report`` over a 200 MB realistic log, about
400,000 keys), spreads them over ``--reducers`` part files by the reducers'
partition function, and measures, per format, the CPU seconds to write the
part files (sort and encode, as a reducer does) and to read them back (every
pair, as ``logmr results --json`` and Finalize do), and their bytes. Best of
``--rounds``; one process, CPU time (``time.process_time``).

``make-job`` writes a finished job of ``--keys`` synthetic results (objects
like ``sessions``': counts, seconds, two lists) into a local store, to measure
``logmr results JOB --json``'s peak memory on many keys, e.g.::

    LOGMR_HOME=/tmp/big python bench/part_files.py make-job --keys 1000000
    LOGMR_HOME=/tmp/big /usr/bin/time -v logmr results big --json > /dev/null
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow

from logmr import layout
from logmr.config import Settings
from logmr.mapreduce.partition import partition_of
from logmr.run.embedded import embedded_backends
from logmr.storage import parquet, parts
from logmr.storage.base import JobRecord

Pair = tuple[str, Any]


def json_lines_write(rows: list[Pair]) -> bytes:
    """The JSON lines part file logmr wrote before: ``[key, value]`` a line."""
    return parts.json_lines(sorted(dict(rows).items())).encode()


def json_lines_read(data: bytes) -> Iterator[Pair]:
    for line in data.splitlines():
        key, value = json.loads(line)
        yield key, value


def parquet_write(compression: str) -> Callable[[list[Pair]], bytes]:
    def write(rows: list[Pair]) -> bytes:
        parquet.COMPRESSION = compression
        return parts.part_file(rows)[0]

    return write


def parquet_read(data: bytes) -> Iterator[Pair]:
    return parquet.iter_rows(pyarrow.BufferReader(data), "bench")


def best_of(rounds: int, work: Callable[[], Any]) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(rounds):
        started = time.process_time()
        out = work()
        best = min(best, time.process_time() - started)
    return best, out


def codecs(args: argparse.Namespace) -> None:
    backends = embedded_backends(Settings.load(home=args.home))
    results = list(backends.job_results().iter_results(args.job_id))
    shares: list[list[Pair]] = [[] for _ in range(args.reducers)]
    for key, value in results:
        shares[partition_of(key, args.reducers)].append((key, value))
    formats = {
        "JSON lines": (json_lines_write, json_lines_read),
        "Parquet zstd": (parquet_write("zstd"), parquet_read),
        "Parquet snappy": (parquet_write("snappy"), parquet_read),
    }
    print(
        f"{len(results):,} results of {args.job_id} in {args.reducers} part files; "
        f"Python {platform.python_version()}, pyarrow {pyarrow.__version__}; "
        f"best of {args.rounds}, CPU s"
    )
    print("| format | write s | read s | bytes |")
    print("|---|---:|---:|---:|")
    for name, (write, read) in formats.items():
        write_s, files = best_of(args.rounds, lambda w=write: [w(share) for share in shares])
        read_s, pairs = best_of(
            args.rounds, lambda r=read, f=files: [pair for data in f for pair in r(data)]
        )
        if sorted(pairs) != sorted(results):
            print(f"{name}: the pairs read back differ", file=sys.stderr)
            raise SystemExit(1)
        size = sum(len(data) for data in files)
        print(f"| {name} | {write_s:.2f} | {read_s:.2f} | {size:,} |")


def make_job(args: argparse.Namespace) -> None:
    backends = embedded_backends(Settings.load())
    shares: list[list[Pair]] = [[] for _ in range(args.reducers)]
    for i in range(args.keys):
        key = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/{i}"
        value = {
            "count": i % 7 + 1,
            "requests": i % 97 + 1,
            "total_s": i / 8,
            "longest_s": float(i % 1000),
            "by_length": [i % 3, 0, 1, 0, 0, 0, 0],
            "by_requests": [1, i % 5, 0, 0, 0, 0],
        }
        shares[partition_of(key, args.reducers)].append((key, value))
    for partition, share in enumerate(shares):
        data, rows = parts.part_file(share)
        backends.objects.put(layout.part_key(args.job_id, partition), data)
        parts.store_best(backends.results, args.job_id, rows)
    record = JobRecord(
        job_id=args.job_id,
        job="sessions",
        status="SUCCEEDED",
        spec={"inputs": ["synthetic"], "format": "apache_combined", "reducers": args.reducers},
        result_keys=args.keys,
    )
    backends.results.put_job(record)
    print(f"job {args.job_id}: {args.keys:,} results in {args.reducers} part files")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(required=True)
    run = sub.add_parser("codecs", help="JSON lines against Parquet for a job's results")
    run.add_argument("--home", type=Path, default=None)
    run.add_argument("--job-id", required=True)
    run.add_argument("--reducers", type=int, default=4)
    run.add_argument("--rounds", type=int, default=3)
    run.set_defaults(handler=codecs)
    make = sub.add_parser("make-job", help="a finished local job of many synthetic results")
    make.add_argument("--keys", type=int, default=1_000_000)
    make.add_argument("--job-id", default="big")
    make.add_argument("--reducers", type=int, default=4)
    make.set_defaults(handler=make_job)
    args = parser.parse_args()
    args.handler(args)


if __name__ == "__main__":
    main()
