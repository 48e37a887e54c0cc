"""The commands that run a job or plan one: ``run`` (on this machine),
``plan`` (what Plan would decide on AWS Lambda), ``submit`` (on the deployed
state machine)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from logmr.cli import export, options, stdin, tables, verdict
from logmr.cli.exits import EXIT_OK, EXIT_SUSPECT
from logmr.cli.found import say_found
from logmr.cli.inspecting import write_report
from logmr.cli.output import failed, print_json, show
from logmr.cli.progress import Progress
from logmr.config import Settings
from logmr.errors import InvalidParameterError, JobExistsError

if TYPE_CHECKING:
    from logmr.run.runner import Runner
    from logmr.storage.backends import Backends
    from logmr.storage.base import JobRecord


def add_parsers(sub: Any) -> None:
    _run_parser(sub)
    _plan_parser(sub)
    _submit_parser(sub)


def _run_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="run a job over local files")
    run.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="log files or folders, patterns (logs/*.gz, quoted: logmr expands them), "
        "s3:// URIs and patterns, or - for standard input",
    )
    options.job_options(run, required=True)
    options.salt_option(run)
    options.max_malformed(run)
    options.local_run_options(run)
    run.add_argument("--top", type=int, default=None, help="show only the top N results")
    tables.sort_option(run)
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--html", metavar="FILE", help="also write the job's HTML report to FILE")
    run.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="also write every result to FILE: .csv, .jsonl or .parquet, by its extension",
    )
    options.common(run)
    run.set_defaults(handler=run_command)


def _plan_parser(sub: Any) -> None:
    plan = sub.add_parser(
        "plan",
        help="show what Plan would decide on AWS Lambda, and with --estimate its cost",
        description="List and sample the inputs, tune the job for AWS Lambda (chunk size, "
        "reducers, concurrency; given values win) and print the plan; --estimate adds the "
        "cost and time the model of docs/performance.md predicts. Nothing is run or written.",
    )
    plan.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="log files, folders or s3:// URIs, or patterns of them (s3://bucket/logs/*.gz)",
    )
    options.job_options(plan, required=True)
    options.salt_option(plan)
    plan.add_argument(
        "--max-concurrency", type=int, default=None, help="Map states' MaxConcurrency"
    )
    plan.add_argument("--memory", type=int, default=None, help="map function memory, MB")
    plan.add_argument(
        "--concurrency", type=int, default=None, help="Lambda concurrency available (1000)"
    )
    plan.add_argument(
        "--assume-size",
        type=options.size,
        default=None,
        help="plan a synthetic input of this size (e.g. 100GB, 1TB) like the given inputs",
    )
    plan.add_argument(
        "--object-size",
        type=options.size,
        default=None,
        help="with --assume-size: bytes per object (1GB)",
    )
    plan.add_argument("--estimate", action="store_true", help="add the cost and time estimate")
    plan.add_argument("--json", action="store_true", help="print one JSON object")
    options.debug(plan)
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
        help="s3://bucket/key, s3://bucket/prefix/ or s3://bucket/prefix/*.gz "
        "(local paths are refused: use `logmr run`)",
    )
    options.job_options(submit, required=False)
    options.max_malformed(submit)
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
    tables.sort_option(submit)
    submit.add_argument("--json", action="store_true", help="print one JSON object")
    options.remote_options(submit)
    options.debug(submit)
    submit.set_defaults(handler=_submit)


def run_command(args: argparse.Namespace) -> int:
    """``logmr run``: the job over local files, on this machine, then its results."""
    if args.output:
        export.export_format(args.output)  # an unknown file type refused before the run
    record, backends, settings = run_locally(args)
    if record.status == "FAILED":
        return failed(record, args.json)
    if not args.json:
        say_found(record.spec, (args.format or "auto") == "auto")
    if args.html:
        write_report(backends.job_results(), record.job_id, args.html, quiet=args.json)
    if args.output:
        save_results(backends.job_results(), record.job_id, args.output, quiet=args.json)
    return judged(
        record, settings.max_malformed, args.json, backends.job_results(), args.top, sort=args.sort
    )


def run_locally(args: argparse.Namespace) -> tuple[JobRecord, Backends, Settings]:
    """The job the options of ``run`` describe, run on this machine (the
    engine ``--engine`` names; standard input spooled first): its record,
    the stores it wrote and the settings it ran with."""
    from logmr import layout
    from logmr.run.embedded import embedded_backends, objects_folder
    from logmr.run.request import local_inputs, validate
    from logmr.spec import new_job_id

    settings = Settings.load(
        home=args.home,
        reducers=args.reducers,
        chunk_size=args.chunk_size,
        workers=args.workers,
        max_malformed=args.max_malformed,
    )
    if settings.workers < 1:  # 0 is the tests' in-process engine, not a way to run jobs
        raise InvalidParameterError(
            f"LOGMR_WORKERS={settings.workers}: a run needs at least 1 worker process"
        )
    backends = embedded_backends(settings)
    paths, spool = args.paths, None
    if stdin.reads_stdin(paths):  # spooled into the job's folder: its id is chosen now
        args.job_id = args.job_id or new_job_id(args.job)
        spool = objects_folder(settings) / layout.stdin_key(args.job_id)
        paths = stdin.stdin_replaced(paths, spool)
    request = options.job_request(
        args, local_inputs(paths), reducers=settings.reducers, chunk_size=settings.chunk_size
    )
    if spool is not None:  # the request checked before standard input is read
        validate(request)
        if backends.results.load_job(args.job_id) is not None:
            raise JobExistsError(f"job id {args.job_id!r} is taken: give another --job-id")
        stdin.spool_stdin(spool)
    runner: Runner
    if args.engine == "inline":
        from logmr.run.inline import InlineRunner

        runner = InlineRunner(backends, workers=settings.workers, raise_errors=args.debug)
    else:
        from logmr.run.engine import EngineRunner

        runner = EngineRunner(settings)
    with Progress(None if args.json else sys.stderr) as progress:
        record = runner.run(request, progress)
    return record, backends, settings


def judged(
    record: JobRecord,
    max_malformed: float,
    as_json: bool,
    results: Any,
    top: int | None,
    *,
    sort: str | None = None,
) -> int:
    """A SUCCEEDED job's results shown, with the doubt about them (``verdict``)
    on stderr, or as the JSON's ``doubt``: ``EXIT_SUSPECT`` when there is one."""
    found = verdict.doubt(record, max_malformed)
    if found is not None and not as_json:
        found.say()
    extra = {"doubt": found.to_dict()} if found is not None else None
    code = show(results, record.job_id, top, as_json, extra, sort=sort)
    return EXIT_SUSPECT if found is not None and code == EXIT_OK else code


def save_results(results: Any, job_id: str, path: str, *, quiet: bool) -> None:
    """Every result of the job written to ``path`` (``export.write_results``),
    said on stderr unless ``quiet``."""
    written = export.write_results(path, results.iter_results(job_id))
    if not quiet:
        print(f"logmr: {written:,} results written to {path}", file=sys.stderr)


def _plan(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from logmr.plan import view
    from logmr.plan.tuning import Limits
    from logmr.run.embedded import LocalOrS3Inputs
    from logmr.run.request import local_inputs, validate

    stdin.refuse_stdin(args.paths, "plan")
    figures = {"reducers": args.reducers, "chunk_size": args.chunk_size}
    figures["max_concurrency"] = args.max_concurrency
    request = options.job_request(args, local_inputs(args.paths), **figures)
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
        print_json(report)
    else:
        print(view.format_report(report))
    return 0


def _submit(args: argparse.Namespace) -> int:
    from logmr.run.remote import RemoteRunner

    request, text = _submit_request(args)
    runner = RemoteRunner(options.remote(args))
    spec, arn = runner.start(request, job_id=args.job_id or request.get("job_id"), text=text)
    job_id = spec.job_id
    if args.no_wait:
        if args.json:
            print_json({"job_id": job_id, "status": "RUNNING", "execution_arn": arn})
        else:
            print(f"job {job_id}: RUNNING ({arn})")
            print(f"  logmr status {job_id} --remote", file=sys.stderr)
        return 0
    progress = Progress(None if args.json else sys.stderr)
    if progress.stream is not None:  # a terminal: a failure stays one line in scripts
        progress.stream.write(f"logmr: started job {job_id} ({arn})\n")
    try:
        with progress:  # nothing shown: no bytes read for it either
            record = runner.watch(spec, arn, progress if progress.stream else None)
    except KeyboardInterrupt:
        print(
            f"logmr: stopped watching; job {job_id} goes on (logmr status {job_id} --remote)",
            file=sys.stderr,
        )
        return 130
    if record.status == "FAILED":
        return failed(record, args.json)
    if not args.json:
        say_found(record.spec, spec.format == "auto")
    max_malformed = Settings.load(max_malformed=args.max_malformed).max_malformed
    return judged(
        record, max_malformed, args.json, runner.remote.job_results(), args.top, sort=args.sort
    )


def _submit_request(args: argparse.Namespace) -> tuple[dict[str, Any], str | None]:
    """The request, and the text to send as it is (an --input-file's), if any."""
    from logmr.run.request import read_request
    from logmr.spec import new_job_id

    if args.input_file:
        given = [args.inputs, args.job, args.param, args.format, args.format_option]
        given += [args.since, args.until]
        if any(given) or args.reducers is not None or args.chunk_size is not None:
            raise InvalidParameterError(
                "--input-file is the whole request: give no inputs, --job, --param, --format,"
                " --format-option, --reducers, --chunk-size, --since or --until with it"
            )
        request, text = read_request(args.input_file)
        if not args.job_id and not request.get("job_id"):
            args.job_id = new_job_id(str(request.get("job") or "job"))
        return request, text
    if not args.job or not args.inputs:
        raise InvalidParameterError("give s3:// inputs and --job, or --input-file")
    return (
        options.job_request(args, args.inputs, reducers=args.reducers, chunk_size=args.chunk_size),
        None,
    )
