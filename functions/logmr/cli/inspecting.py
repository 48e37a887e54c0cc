"""The commands that read a job after it ran: ``results``, ``status``,
``report``; from the local store, or with ``--remote`` the deployed stack's."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from logmr.cli import options, tables
from logmr.cli.exits import EXIT_ERROR, EXIT_OK
from logmr.cli.export import TEXT_FORMATS, write_text
from logmr.cli.output import DEFAULT_TABLE_ROWS, print_json, printable, show, show_lines
from logmr.config import Settings

#: how a command names a job
JOB_HELP = "a job id; locally also a unique prefix of one, or last (the newest job)"


def add_parsers(sub: Any) -> None:
    results = sub.add_parser(
        "results",
        help="show a finished job's results",
        description="A job's top results: from the local store, or with --remote from "
        "DynamoDB (--remote is implied by any AWS option). --all streams every result "
        "from the job's part files (the folder, or S3).",
    )
    results.add_argument("job_id", metavar="JOB", help=JOB_HELP)
    results.add_argument(
        "--top",
        type=int,
        default=None,
        help=f"the top N results (default: {DEFAULT_TABLE_ROWS} in a table; all in csv, jsonl)",
    )
    tables.sort_option(results)
    results.add_argument(
        "--all",
        action="store_true",
        help="every result, in key order, streamed from the part files: a JSON line "
        "[key, value] each, or with --json one object",
    )
    results.add_argument("--json", action="store_true", help="the same as --format json")
    results.add_argument(
        "--format",
        choices=("table", "json", "csv", "jsonl"),
        default=None,
        help="table (default), one JSON object, or CSV / JSON lines of key and value"
        " (or the value's fields) for other tools",
    )
    options.remote_switch(results)
    options.common(results)
    results.set_defaults(handler=_results)

    status = sub.add_parser(
        "status",
        help="show a job's record",
        description="A job's record: from the local store, or with --remote from "
        "DynamoDB (--remote is implied by any AWS option).",
    )
    status.add_argument("job_id", metavar="JOB", help=JOB_HELP)
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
    report.add_argument("job_id", metavar="JOB", help=JOB_HELP)
    report.add_argument("--html", metavar="FILE", required=True, help="the file to write")
    options.remote_switch(report)
    options.common(report)
    report.set_defaults(handler=_report)


def _results(args: argparse.Namespace) -> int:
    args.job_id = options.job_id(args)
    results = options.job_results(args)
    shape = args.format or ("json" if args.json else "table")
    if shape in TEXT_FORMATS:
        return export_text(results, args.job_id, args.top, shape)
    if args.all and shape == "table":
        return show_lines(results, args.job_id)
    top = None if args.all else args.top or DEFAULT_TABLE_ROWS
    return show(results, args.job_id, top, shape == "json", sort=args.sort)


def export_text(results: Any, job_id: str, top: int | None, kind: str) -> int:
    """A SUCCEEDED job's results (every one, or the top ``top``) as CSV or
    JSON lines on stdout (``export.write_text``)."""
    record = results.get_job(job_id)
    if record.status != "SUCCEEDED":
        print(f"logmr: job {job_id} is {record.status}: no results to show", file=sys.stderr)
        return EXIT_ERROR
    rows = results.top(job_id, top) if top else results.iter_results(job_id)
    write_text(sys.stdout, rows, kind)
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    args.job_id = options.job_id(args)
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
    args.job_id = options.job_id(args)
    write_report(options.job_results(args), args.job_id, args.html, quiet=False)
    return 0


def write_report(store: Any, job_id: str, path: str, *, quiet: bool) -> None:
    """The job's HTML report written to ``path``, said on stderr unless ``quiet``."""
    from logmr.report import write_report as write_html

    written = write_html(store, job_id, path)
    if not quiet:
        print(f"logmr: report written to {written}", file=sys.stderr)
