"""The ``logmr`` command line."""

from __future__ import annotations

import argparse
import itertools
import json
import re
import signal
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from logmr import __version__
from logmr.config import Settings
from logmr.errors import InvalidParameterError, LogmrError, error_name
from logmr.jobs.params import parse_assignments

if TYPE_CHECKING:
    from logmr.run.remote import Remote
    from logmr.run.runner import Runner
    from logmr.storage.base import JobRecord

DEFAULT_TABLE_ROWS = 20
#: the options that make ``status`` and ``results`` read the deployed stack
REMOTE_OPTIONS = ("endpoint_url", "region", "state_machine", "results_table", "jobs_table")


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the CLI is, so it stops as on Ctrl-C: the job
    recorded FAILED (``Aborted``), the workers stopped."""


def _terminate(signum: int, frame: Any) -> None:
    raise _Terminated


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return int(args.handler(args))
    except LogmrError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"logmr: error: {error_name(exc)}: {printable(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, _Terminated)
        print(f"logmr: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


SALT_HELP = "spread this key over every reducer (repeatable; default: the keys the planner salts)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logmr", description="MapReduce for logs, serverless or on one machine."
    )
    parser.add_argument("--version", action="version", version=f"logmr {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a job over local files")
    run.add_argument("paths", nargs="+", metavar="PATH", help="log files or folders")
    _job_options(run, required=True)
    run.add_argument("--salt", action="append", default=[], metavar="KEY", help=SALT_HELP)
    run.add_argument(
        "--workers", type=_positive, default=None, help="worker processes (default: all cores)"
    )
    run.add_argument("--job-id", default=None, help="name the job (default: generated)")
    run.add_argument("--top", type=int, default=None, help="show only the top N results")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--html", metavar="FILE", help="also write the job's HTML report to FILE")
    run.add_argument(
        "--engine",
        choices=("statemachine", "inline"),
        default="statemachine",
        help="statemachine: the ASL definition run locally (default); "
        "inline: the task functions called directly (raises the real exception)",
    )
    _common(run)
    run.set_defaults(handler=_run)

    _plan_parser(sub)

    jobs = sub.add_parser("jobs", help="list the job catalogue with parameters")
    jobs.set_defaults(handler=_jobs)

    fmts = sub.add_parser("formats", help="list the log formats")
    fmts.set_defaults(handler=_formats)

    _submit_parser(sub)

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
    _remote_switch(results)
    _common(results)
    results.set_defaults(handler=_results)

    status = sub.add_parser(
        "status",
        help="show a job's record",
        description="A job's record: from the local store, or with --remote from "
        "DynamoDB (--remote is implied by any AWS option).",
    )
    status.add_argument("job_id")
    status.add_argument("--json", action="store_true")
    _remote_switch(status)
    _common(status)
    status.set_defaults(handler=_status)

    _report_parser(sub)

    gen = sub.add_parser("generate", help="write a deterministic synthetic log")
    gen.add_argument("--format", default="apache_combined", help="apache_combined or applog")
    gen.add_argument("--size", default=None, help="approximate size, e.g. 100MB, 1GB")
    gen.add_argument("--lines", type=int, default=None, help="exact number of lines")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument(
        "--shape",
        default="simple",
        help="simple (about 500 paths, 2,000 clients; the default) or realistic "
        "(apache_combined: 50,000 paths with ids and query strings, 200,000 clients, "
        "a size per response)",
    )
    gen.add_argument("--output", "-o", required=True, help="file to write ('-' for stdout)")
    gen.set_defaults(handler=_generate)
    return parser


def _job_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """The options a job request is built from (``_request``)."""
    job_help = "a job name (see `logmr jobs`) or module.path:Class"
    parser.add_argument("--job", required=required, help=job_help)
    parser.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="job parameter (repeatable)"
    )
    parser.add_argument(
        "--format", default=None, help="log format (see `logmr formats`); default: auto-detect"
    )
    parser.add_argument(
        "--format-option", action="append", default=[], metavar="K=V", help="format option"
    )
    parser.add_argument("--reducers", type=int, default=None, help="number of reduce tasks")
    parser.add_argument(
        "--chunk-size", type=_size, default=None, help="bytes per map task (e.g. 64MB)"
    )


def _plan_parser(sub: Any) -> None:
    plan = sub.add_parser(
        "plan",
        help="show what Plan would decide on AWS Lambda, and with --estimate its cost",
        description="List and sample the inputs, tune the job for AWS Lambda (chunk size, "
        "reducers, concurrency; given values win) and print the plan; --estimate adds the "
        "cost and time the model of docs/performance.md predicts. Nothing is run or written.",
    )
    plan.add_argument("paths", nargs="+", metavar="PATH", help="log files, folders or s3:// URIs")
    _job_options(plan, required=True)
    plan.add_argument("--salt", action="append", default=[], metavar="KEY", help=SALT_HELP)
    plan.add_argument(
        "--max-concurrency", type=int, default=None, help="Map states' MaxConcurrency"
    )
    plan.add_argument("--memory", type=int, default=None, help="map function memory, MB")
    plan.add_argument(
        "--concurrency", type=int, default=None, help="Lambda concurrency available (1000)"
    )
    plan.add_argument(
        "--assume-size",
        type=_size,
        default=None,
        help="plan a synthetic input of this size (e.g. 100GB, 1TB) like the given inputs",
    )
    plan.add_argument(
        "--object-size", type=_size, default=None, help="with --assume-size: bytes per object (1GB)"
    )
    plan.add_argument("--estimate", action="store_true", help="add the cost and time estimate")
    plan.add_argument("--json", action="store_true", help="print one JSON object")
    plan.add_argument("--debug", action="store_true", help="show the full traceback on failure")
    plan.set_defaults(handler=_plan)


def _submit_parser(sub: Any) -> None:
    submit = sub.add_parser(
        "submit",
        help="run a job on the deployed state machine (AWS or LocalStack) and watch it",
        description="Start an execution of the deployed state machine named by the job id, "
        "show per-phase progress until it ends, then the results from DynamoDB "
        "(the same output as `logmr run`).",
    )
    submit.add_argument(
        "inputs",
        nargs="*",
        metavar="S3_URI",
        help="s3://bucket/key or s3://bucket/prefix/ (local paths are refused: use `logmr run`)",
    )
    _job_options(submit, required=False)
    submit.add_argument(
        "--input-file",
        metavar="FILE",
        help="a whole job request (the start-execution input, e.g. "
        "events/start-execution/status_codes.json), started as it is",
    )
    submit.add_argument(
        "--job-id", default=None, help="the job id and execution name (default: generated)"
    )
    submit.add_argument(
        "--no-wait", action="store_true", help="start the job, print its id and return"
    )
    submit.add_argument("--top", type=int, default=None, help="show only the top N results")
    submit.add_argument("--json", action="store_true", help="print one JSON object")
    _remote_options(submit)
    submit.add_argument("--debug", action="store_true", help="show the full traceback on failure")
    submit.set_defaults(handler=_submit)


def _report_parser(sub: Any) -> None:
    report = sub.add_parser(
        "report",
        help="write a job's HTML report",
        description="One self-contained HTML file (no script, nothing loaded from the network): "
        "the job's facts, charts of its results by shape, the malformed-line samples.",
    )
    report.add_argument("job_id")
    report.add_argument("--html", metavar="FILE", required=True, help="the file to write")
    _remote_switch(report)
    _common(report)
    report.set_defaults(handler=_report)


def _remote_switch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--remote",
        action="store_true",
        help="read the deployed stack's DynamoDB tables instead of the local store; "
        "implied by --endpoint-url, --region, --state-machine, --results-table, --jobs-table",
    )
    _remote_options(parser)


def _remote_options(parser: argparse.ArgumentParser) -> None:
    # the names are logmr.run.remote's ENV_STATE_MACHINE and DEFAULT_STATE_MACHINE, written
    # out so that building the parser does not import boto3 (tests/test_remote.py checks)
    group = parser.add_argument_group("deployed stack (AWS or LocalStack)")
    group.add_argument(
        "--state-machine",
        metavar="NAME|ARN",
        help="the state machine (env LOGMR_STATE_MACHINE; default Logmr: "
        "an exact name, else the one name starting with it)",
    )
    group.add_argument(
        "--endpoint-url", help="AWS endpoint, e.g. http://localhost:4566 (env AWS_ENDPOINT_URL)"
    )
    group.add_argument("--region", help="AWS region (default: AWS_REGION, the AWS config)")
    group.add_argument(
        "--results-table",
        help="results table (env LOGMR_RESULTS_TABLE; default: the deployed functions', "
        "else logmr-results)",
    )
    group.add_argument(
        "--jobs-table",
        help="job records table (env LOGMR_JOBS_TABLE; default: the deployed functions', "
        "else logmr-jobs)",
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", default=None, help="where local job data lives (env LOGMR_HOME)")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on failure")


def _positive(text: str) -> int:
    """An option's whole number of at least 1 (argparse names the option)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _size(text: str) -> int:
    from logmr.units import parse_size

    try:
        return parse_size(text)
    except LogmrError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- commands ---------------------------------------------------------------------
def _request(args: argparse.Namespace, inputs: list[str], **figures: Any) -> dict[str, Any]:
    """The job request the options of ``run``, ``plan`` and ``submit`` describe;
    ``figures``: the planner's figures the user gave."""
    from logmr.run.request import build_request

    return build_request(
        inputs,
        args.job,
        job_id=getattr(args, "job_id", None),
        params=parse_assignments(args.param),
        fmt=args.format or "auto",
        format_options=parse_assignments(args.format_option),
        salted_keys=getattr(args, "salt", None),
        **figures,
    )


def _run(args: argparse.Namespace) -> int:
    from logmr.run.embedded import embedded_backends
    from logmr.run.request import local_inputs

    settings = Settings.load(
        home=args.home, reducers=args.reducers, chunk_size=args.chunk_size, workers=args.workers
    )
    if settings.workers < 1:  # 0 is the tests' in-process engine, not a way to run jobs
        raise InvalidParameterError(
            f"LOGMR_WORKERS={settings.workers}: a run needs at least 1 worker process"
        )
    request = _request(
        args, local_inputs(args.paths), reducers=settings.reducers, chunk_size=settings.chunk_size
    )
    backends = embedded_backends(settings)
    runner: Runner
    if args.engine == "inline":
        from logmr.run.inline import InlineRunner

        runner = InlineRunner(backends, workers=settings.workers, raise_errors=args.debug)
    else:
        from logmr.run.engine import EngineRunner

        runner = EngineRunner(settings)
    record = runner.run(request, _Progress(None if args.json else sys.stderr))
    if record.status == "FAILED":
        return _failed(record, args.json)
    if (args.format or "auto") == "auto" and not args.json:
        print(f"logmr: format auto-detected: {record.spec.get('format')}", file=sys.stderr)
    if args.html:
        _write_report(backends.job_results(), record.job_id, args.html, quiet=args.json)
    return _show(backends.job_results(), record.job_id, args.top, args.json)


def _plan(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from logmr.plan import view
    from logmr.plan.tuning import Limits
    from logmr.run.embedded import LocalOrS3Inputs
    from logmr.run.request import local_inputs, validate

    figures = {"reducers": args.reducers, "chunk_size": args.chunk_size}
    figures["max_concurrency"] = args.max_concurrency
    request = _request(args, local_inputs(args.paths), **figures)
    spec = validate(request)
    limits = Limits()  # the stack's map function on Lambda, whatever this machine's environment
    if args.memory is not None:
        limits = replace(limits, memory_mb=args.memory)
    if args.concurrency is not None:
        limits = replace(limits, concurrency=args.concurrency)
    inputs: Any = LocalOrS3Inputs()
    if args.assume_size is not None:
        inputs = view.AssumedInputs(inputs, args.assume_size, args.object_size or 10**9)
    report = view.plan_report(spec, inputs, limits, args.estimate)
    if args.json:
        _print_json(report)
    else:
        print(view.format_report(report))
    return 0


def _submit(args: argparse.Namespace) -> int:
    from logmr.run.remote import RemoteRunner

    request, text = _submit_request(args)
    runner = RemoteRunner(_remote(args))
    spec, arn = runner.start(request, job_id=args.job_id or request.get("job_id"), text=text)
    job_id = spec.job_id
    if args.no_wait:
        if args.json:
            _print_json({"job_id": job_id, "status": "RUNNING", "execution_arn": arn})
        else:
            print(f"job {job_id}: RUNNING ({arn})")
            print(f"  logmr status {job_id} --remote", file=sys.stderr)
        return 0
    progress = _Progress(None if args.json else sys.stderr)
    if progress.stream is not None:  # a terminal: a failure stays one line in scripts
        progress.stream.write(f"logmr: started job {job_id} ({arn})\n")
    try:
        record = runner.watch(spec, arn, progress)
    except KeyboardInterrupt:
        print(
            f"logmr: stopped watching; job {job_id} goes on (logmr status {job_id} --remote)",
            file=sys.stderr,
        )
        return 130
    if record.status == "FAILED":
        return _failed(record, args.json)
    if spec.format == "auto" and not args.json:
        print(f"logmr: format auto-detected: {record.spec.get('format')}", file=sys.stderr)
    return _show(runner.remote.job_results(), job_id, args.top, args.json)


def _submit_request(args: argparse.Namespace) -> tuple[dict[str, Any], str | None]:
    """The request, and the text to send as it is (an --input-file's), if any."""
    from logmr.run.request import read_request
    from logmr.spec import new_job_id

    if args.input_file:
        given = [args.inputs, args.job, args.param, args.format, args.format_option]
        if any(given) or args.reducers is not None or args.chunk_size is not None:
            raise InvalidParameterError(
                "--input-file is the whole request: give no inputs, --job, --param, --format,"
                " --format-option, --reducers or --chunk-size with it"
            )
        request, text = read_request(args.input_file)
        if not args.job_id and not request.get("job_id"):
            args.job_id = new_job_id(str(request.get("job") or "job"))
        return request, text
    if not args.job or not args.inputs:
        raise InvalidParameterError("give s3:// inputs and --job, or --input-file")
    return _request(args, args.inputs, reducers=args.reducers, chunk_size=args.chunk_size), None


def _remote(args: argparse.Namespace) -> Remote:
    from logmr.run.remote import Remote

    explicit = {name: getattr(args, name, None) for name in REMOTE_OPTIONS}
    return Remote(Settings.load(**explicit))


def _is_remote(args: argparse.Namespace) -> bool:
    return bool(args.remote) or any(getattr(args, name, None) for name in REMOTE_OPTIONS)


def _results(args: argparse.Namespace) -> int:
    if _is_remote(args):
        results = _remote(args).job_results()
    else:
        from logmr.run.embedded import embedded_backends

        results = embedded_backends(Settings.load(home=args.home)).job_results()
    if args.all and not args.json:
        return _show_lines(results, args.job_id)
    return _show(results, args.job_id, None if args.all else args.top, args.json)


def _status(args: argparse.Namespace) -> int:
    if _is_remote(args):
        record = _remote(args).job_record(args.job_id)
    else:
        from logmr.run.embedded import embedded_backends

        record = embedded_backends(Settings.load(home=args.home)).results.get_job(args.job_id)
    if args.json:
        _print_json(record.to_dict())
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
    if _is_remote(args):
        results = _remote(args).job_results()
    else:
        from logmr.run.embedded import embedded_backends

        results = embedded_backends(Settings.load(home=args.home)).job_results()
    _write_report(results, args.job_id, args.html, quiet=False)
    return 0


def _write_report(store: Any, job_id: str, path: str, *, quiet: bool) -> None:
    from logmr.report import write_report

    written = write_report(store, job_id, path)
    if not quiet:
        print(f"logmr: report written to {written}", file=sys.stderr)


def _jobs(args: argparse.Namespace) -> int:
    from logmr.jobs import JOBS, job_class

    job_class("word_count")  # loads the built-in catalogue
    for name in sorted(JOBS):
        print(JOBS[name].describe())
    return 0


def _formats(args: argparse.Namespace) -> int:
    from logmr.formats import FORMATS

    for name in sorted(FORMATS):
        cls = FORMATS[name]
        aliases = f" (alias {', '.join(cls.aliases)})" if cls.aliases else ""
        print(f"{name}{aliases}: {cls.description}")
    print("auto: detect the format from a sample of the first input")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from logmr.devtools.generate import generate
    from logmr.units import parse_size

    size = parse_size(args.size) if args.size else None
    if args.output == "-":
        stats = generate(
            sys.stdout.buffer,
            fmt=args.format,
            size=size,
            lines=args.lines,
            seed=args.seed,
            shape=args.shape,
        )
    else:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(path.name + ".partial")
        try:
            with temp.open("wb") as out:
                stats = generate(
                    out,
                    fmt=args.format,
                    size=size,
                    lines=args.lines,
                    seed=args.seed,
                    shape=args.shape,
                )
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        temp.replace(path)
        print(f"wrote {stats.lines:,} lines, {stats.bytes:,} bytes to {path}", file=sys.stderr)
    return 0


# -- output -----------------------------------------------------------------------
def _show(results: Any, job_id: str, top: int | None, as_json: bool) -> int:
    record = results.get_job(job_id)
    # only a SUCCEEDED job's results are whole: a running or failed job may hold some partitions
    whole = record.status == "SUCCEEDED"
    if as_json:
        if not whole:
            rows: Iterable[tuple[str, Any]] = []
        elif top:
            rows = results.top(job_id, top)
        else:
            rows = results.iter_results(job_id)  # streamed from the part files
        head: dict[str, Any] = {
            "job_id": job_id,
            "status": record.status,
            "job": record.job,
            "format": record.spec.get("format"),
            "counters": record.counters,
        }
        tail: dict[str, Any] = {}
        if record.summary is not None:
            tail["summary"] = record.summary
        if record.error:
            tail["error"], tail["cause"] = record.error, record.cause
        _print_json_results(head, rows, tail)
        return 0 if record.status == "SUCCEEDED" else 1
    out = sys.stdout
    out.write(
        f"job {job_id}: {record.status} - {printable(record.job)} over "
        f"{len(record.spec.get('inputs', []))} input(s), "
        f"format {record.spec.get('format')}, {record.timings.get('duration_s', '?')} s\n"
    )
    counters = record.counters
    out.write(
        "  " + "  ".join(f"{name} {value:,}" for name, value in sorted(counters.items())) + "\n"
    )
    limit = top or DEFAULT_TABLE_ROWS
    rows = results.top(job_id, limit) if whole else []
    _table(out, rows)
    if record.result_keys > len(rows):
        out.write(
            f"  ... {record.result_keys - len(rows):,} more keys (--top N, or --json for all)\n"
        )
    # lists and objects in a summary repeat the table above: only scalars are shown
    scalars = {k: v for k, v in (record.summary or {}).items() if not isinstance(v, list | dict)}
    if scalars:
        out.write("summary:\n")
        for name, value in scalars.items():
            out.write(f"  {name}: {_cell(value)}\n")
    return 0 if record.status == "SUCCEEDED" else 1


def _show_lines(results: Any, job_id: str) -> int:
    """Every result of a SUCCEEDED job, a JSON line ``[key, value]`` each,
    streamed from the part files; a job not SUCCEEDED: a line on stderr, 1."""
    record = results.get_job(job_id)
    if record.status != "SUCCEEDED":
        print(f"logmr: job {job_id} is {record.status}: no results to show", file=sys.stderr)
        return 1
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    out = sys.stdout
    for pair in results.iter_results(job_id):
        out.write(encode(pair) + "\n")
    return 0


def _table(out: TextIO, rows: list[tuple[str, Any]]) -> None:
    if not rows:
        out.write("  (no results)\n")
        return
    rows = [(printable(key), value) for key, value in rows]
    columns: list[str] = []
    for _, value in rows:
        if isinstance(value, dict):
            columns += [name for name in value if name not in columns]
    width = min(max(len(key) for key, _ in rows), 60)
    heads = columns or ["value"]
    out.write(f"  {'key':<{width}}  " + "  ".join(f"{name:>12}" for name in heads) + "\n")
    for key, value in rows:
        shown = key if len(key) <= width else key[: width - 1] + "…"
        cells = [value.get(name, "") for name in heads] if isinstance(value, dict) else [value]
        out.write(
            f"  {shown:<{width}}  " + "  ".join(f"{_cell(cell):>12}" for cell in cells) + "\n"
        )


#: what a terminal would act on rather than show: C0 and C1 controls, DEL,
#: and the bidirectional embeddings, overrides and isolates
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with what a terminal would act on escaped (``\\x1b``,
    ``\\u202e``): a key or message from a log never moves the cursor,
    clears the screen, sets the title or reorders what is shown."""
    return _UNPRINTABLE.sub(lambda found: repr(found.group())[1:-1], text)


def _cell(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return printable(str(value))
    return f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"


def _failed(record: JobRecord, as_json: bool) -> int:
    """A failed job: its error name and cause, on stderr or as the JSON object."""
    if as_json:
        failure = {"job_id": record.job_id, "status": "FAILED", "error": record.error}
        _print_json({**failure, "cause": record.cause, "results": {}})
    else:
        print(f"logmr: error: {record.error}: {printable(record.cause or '')}", file=sys.stderr)
    return 1


#: results encoded at a time when ``--json`` streams a job's results
JSON_CHUNK = 10_000


def _print_json_results(
    head: dict[str, Any], rows: Iterable[tuple[str, Any]], tail: dict[str, Any]
) -> None:
    """One JSON object, ``head``'s fields, ``"results": {key: value, ...}``
    then ``tail``'s, written as the results stream: memory per chunk of
    ``JSON_CHUNK`` results, not per key (the object ``json.dumps`` would give)."""
    out = sys.stdout
    opening = json.dumps({**head, "results": {}}, ensure_ascii=False)
    out.write(opening[: -len("{}}")] + "{")
    separator = ""
    iterator = iter(rows)
    while chunk := dict(itertools.islice(iterator, JSON_CHUNK)):
        out.write(separator + json.dumps(chunk, ensure_ascii=False)[1:-1])
        separator = ", "
    closing = json.dumps(tail, ensure_ascii=False)
    out.write("}" + (", " + closing[1:] if tail else "}") + "\n")


def _print_json(value: Any) -> None:
    # dumps, not dump: json.dump encodes in Python, dumps in C (a job's every result)
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


class _Progress:
    """Per-phase progress on a terminal; nothing when not a terminal."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream if stream is not None and stream.isatty() else None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.stream is not None:
            self.stream.write(f"\r{phase:<9} {done:>6}/{total:<6}")
            if done == total:
                self.stream.write("\n")
            self.stream.flush()

    def done(self) -> None:
        if self.stream is not None:
            self.stream.flush()


if __name__ == "__main__":
    raise SystemExit(main())
