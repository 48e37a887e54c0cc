"""The commands that read a job after it ran: ``results``, ``status``,
``report``; from the local store, or with ``--remote`` the deployed stack's."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from logmr.cli import options
from logmr.cli.output import DEFAULT_TABLE_ROWS, print_json, printable, show, show_lines
from logmr.config import Settings


def add_parsers(sub: Any) -> None:
    results = sub.add_parser(
        "results",
        help="show a finished job's results",
        description="A job's top results: from the local store, or with --remote from "
        "DynamoDB (--remote is implied by any AWS option). --all streams every result "
        "from the job's part files (the folder, or S3).",
    )
    results.add_argument("job_id")
    results.add_argument("--top", type=int, default=DEFAULT_TABLE_ROWS)
    results.add_argument(
        "--all",
        action="store_true",
        help="every result, in key order, streamed from the part files: a JSON line "
        "[key, value] each, or with --json one object",
    )
    results.add_argument("--json", action="store_true")
    options.remote_switch(results)
    options.common(results)
    results.set_defaults(handler=_results)

    status = sub.add_parser(
        "status",
        help="show a job's record",
        description="A job's record: from the local store, or with --remote from "
        "DynamoDB (--remote is implied by any AWS option).",
    )
    status.add_argument("job_id")
    status.add_argument("--json", action="store_true")
    options.remote_switch(status)
    options.common(status)
    status.set_defaults(handler=_status)

    report = sub.add_parser(
        "report",
        help="write a job's HTML report",
        description="One self-contained HTML file (no script, nothing loaded from the network): "
        "the job's facts, charts of its results by shape, the malformed-line samples.",
    )
    report.add_argument("job_id")
    report.add_argument("--html", metavar="FILE", required=True, help="the file to write")
    options.remote_switch(report)
    options.common(report)
    report.set_defaults(handler=_report)


def _results(args: argparse.Namespace) -> int:
    results = options.job_results(args)
    if args.all and not args.json:
        return show_lines(results, args.job_id)
    return show(results, args.job_id, None if args.all else args.top, args.json)


def _status(args: argparse.Namespace) -> int:
    if options.is_remote(args):
        record = options.remote(args).job_record(args.job_id)
    else:
        from logmr.run.embedded import embedded_backends

        record = embedded_backends(Settings.load(home=args.home)).results.get_job(args.job_id)
    if args.json:
        print_json(record.to_dict())
    else:
        out = sys.stdout
        out.write(f"job {record.job_id}: {record.status} ({printable(record.job)})\n")
        if record.error:
            out.write(f"error: {record.error}: {printable(record.cause or '')}\n")
        for name, value in sorted(record.counters.items()):
            out.write(f"  {name:<20} {value:>14,}\n")
        for name, seconds in sorted(record.timings.items()):
            out.write(f"  {name:<20} {seconds:>14}\n")
        if record.bill:
            from logmr.plan.cost import describe_bill

            out.write(f"  bill on AWS          {describe_bill(record.bill)}\n")
    return 0 if record.status != "FAILED" else 1


def _report(args: argparse.Namespace) -> int:
    write_report(options.job_results(args), args.job_id, args.html, quiet=False)
    return 0


def write_report(store: Any, job_id: str, path: str, *, quiet: bool) -> None:
    """The job's HTML report written to ``path``, said on stderr unless ``quiet``."""
    from logmr.report import write_report as write_html

    written = write_html(store, job_id, path)
    if not quiet:
        print(f"logmr: report written to {written}", file=sys.stderr)
