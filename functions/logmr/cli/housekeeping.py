"""The commands that look after past jobs on this machine: ``ls`` (newest
first), ``rm`` (a job and everything it left), ``gc`` (every job older than a
duration, and old worker logs). Jobs are named by id, a unique prefix of one,
or ``last`` (``run.housekeeping.LocalJobs.resolve``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import PurePosixPath
from typing import Any

from logmr.cli import options
from logmr.cli.exits import EXIT_OK
from logmr.cli.output import print_json, printable

#: jobs ``logmr ls`` lists unless told
DEFAULT_LISTED = 20


def add_parsers(sub: Any) -> None:
    ls = sub.add_parser(
        "ls",
        help="list past jobs on this machine, newest first",
        description="The jobs of the local store (--home): id, job, input, status, records, "
        "when it started and how long it took, newest first.",
    )
    ls.add_argument("--limit", type=options.positive, default=DEFAULT_LISTED, help="how many (20)")
    ls.add_argument("--json", action="store_true", help="print one JSON array of job records")
    options.common(ls)
    ls.set_defaults(handler=_ls)

    rm = sub.add_parser(
        "rm",
        help="remove jobs: record, results, objects",
        description="Remove each job's record and results, its objects (plan, part files, "
        "a spooled standard input) and shuffle objects. JOB: an id, a unique prefix, or last.",
    )
    rm.add_argument("job_ids", nargs="+", metavar="JOB")
    rm.add_argument(
        "--force", action="store_true", help="remove a job still marked RUNNING (a killed run)"
    )
    options.common(rm)
    rm.set_defaults(handler=_rm)

    gc = sub.add_parser(
        "gc",
        help="remove jobs older than a duration, and old worker logs",
        description="Remove every job created more than --older-than ago (as logmr rm), and "
        "the worker log files last written before then.",
    )
    gc.add_argument(
        "--older-than",
        required=True,
        type=options.duration,
        metavar="AGE",
        help="e.g. 12h, 7d, 30d",
    )
    gc.add_argument("--dry-run", action="store_true", help="list the jobs it would remove")
    options.common(gc)
    gc.set_defaults(handler=_gc)


def _ls(args: argparse.Namespace) -> int:
    records = options.local_jobs(args).listed(args.limit)
    if args.json:
        print_json([record.to_dict() for record in records])
        return EXIT_OK
    rows = [_row(record) for record in records]
    heads = ("id", "job", "input", "status", "records", "started", "duration")
    widths = [max([len(head)] + [len(row[i]) for row in rows]) for i, head in enumerate(heads)]
    right = {4, 6}  # numbers
    out = sys.stdout
    for row in [heads, *rows]:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        out.write("  ".join(cells).rstrip() + "\n")
    if not rows:
        out.write("(no jobs yet)\n")
    return EXIT_OK


def _row(record: Any) -> tuple[str, ...]:
    inputs = [str(each) for each in record.spec.get("inputs", [])]
    shown = (PurePosixPath(inputs[0]).name or inputs[0]) if inputs else "-"
    if len(inputs) > 1:
        shown += f" +{len(inputs) - 1}"
    records = record.counters.get("records")
    duration = record.timings.get("duration_s")
    return (
        record.job_id,
        printable(record.job),
        printable(shown),
        record.status,
        "-" if records is None else f"{records:,}",
        record.created_at[:19].replace("T", " ") or "-",
        "-" if duration is None else f"{duration:,.1f} s",
    )


def _rm(args: argparse.Namespace) -> int:
    jobs = options.local_jobs(args)
    ids = [jobs.resolve(given) for given in args.job_ids]  # every name checked before any removal
    for job_id in dict.fromkeys(ids):
        objects = jobs.remove(job_id, running=args.force)
        print(f"removed {job_id} ({objects:,} objects)")
    return EXIT_OK


def _gc(args: argparse.Namespace) -> int:
    removed = options.local_jobs(args).collect(args.older_than, dry_run=args.dry_run)
    for job_id in removed.jobs:
        print(f"{'would remove' if args.dry_run else 'removed'} {job_id}")
    if not args.dry_run:
        print(
            f"logmr: {len(removed.jobs):,} jobs, {removed.objects:,} objects and"
            f" {removed.logs:,} worker logs removed",
            file=sys.stderr,
        )
    return EXIT_OK
