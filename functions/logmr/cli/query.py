"""``logmr query PATH... 'QUERY'``: a CloudWatch Logs Insights query over
local files (docs/queries.md), run as the ``query`` job with the options of
``logmr run``; its rows as a table, or with ``--json`` one object
``{"job_id", "status", "counters", "rows": [{column: value, ...}, ...]}``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from logmr.cli import options, tables, verdict
from logmr.cli.exits import EXIT_OK, EXIT_SUSPECT
from logmr.cli.found import say_found
from logmr.cli.output import failed, print_json, printable
from logmr.cli.running import run_locally
from logmr.spec import QUERY_JOB


def add_parsers(sub: Any) -> None:
    query = sub.add_parser(
        "query",
        help="run a CloudWatch Logs Insights query over local files",
        description="Run a Logs Insights query (fields, filter, parse, stats ... by, sort, "
        "limit, dedup: docs/queries.md) over local files, compiled to one MapReduce.",
    )
    query.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="log files or folders, patterns (quoted: logmr expands them), s3:// URIs, or - for"
        " standard input (as `logmr run` takes them)",
    )
    query.add_argument("query", metavar="QUERY", help="the query, e.g. 'stats count(*) by status'")
    options.input_options(query)
    options.max_malformed(query)
    options.local_run_options(query)
    query.add_argument(
        "--top",
        "--limit",
        dest="top",
        type=options.positive,
        default=None,
        help="show only the first N rows",
    )
    query.add_argument("--json", action="store_true", help="print one JSON object")
    options.common(query)
    query.set_defaults(handler=query_command)


def query_command(args: argparse.Namespace) -> int:
    args.job = QUERY_JOB
    args.param = [f"query={args.query}"]
    args.salt = []
    record, _, settings = run_locally(args)
    if record.status == "FAILED":
        return failed(record, args.json)
    summary = record.summary or {}
    rows: list[dict[str, Any]] = summary.get("rows", [])[: args.top]
    found = verdict.doubt(record, settings.max_malformed)  # as `logmr run` says it
    code = EXIT_OK if found is None else EXIT_SUSPECT
    if args.json:
        shown = {
            "job_id": record.job_id,
            "status": record.status,
            "counters": record.counters,
            "rows": rows,
        }
        print_json(shown if found is None else {**shown, "doubt": found.to_dict()})
        return code
    if found is not None:
        found.say()
    say_found(record.spec, (args.format or "auto") == "auto")
    out = sys.stdout
    counters = "  ".join(f"{name} {value:,}" for name, value in sorted(record.counters.items()))
    out.write(f"job {record.job_id}: {record.status}  {counters}\n")
    columns: list[str] = summary.get("columns", [])
    more = summary.get("matched_rows", len(rows)) - len(rows)
    table = tables.Table(
        "",
        [printable(name) for name in columns],
        [[row.get(name) for name in columns] for row in rows],
        f"... {more:,} more rows (raise the query's limit, or --limit N)" if more > 0 else "",
    )
    tables.write(out, tables.Shown([table]))
    return code
