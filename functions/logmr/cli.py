"""The ``logmr`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from logmr import __version__
from logmr.config import Settings
from logmr.errors import LogmrError, error_name
from logmr.jobs.params import parse_assignments

DEFAULT_TABLE_ROWS = 20


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except LogmrError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"logmr: error: {error_name(exc)}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("logmr: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logmr", description="MapReduce for logs, serverless or on one machine."
    )
    parser.add_argument("--version", action="version", version=f"logmr {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a job over local files")
    run.add_argument("paths", nargs="+", metavar="PATH", help="log files or folders")
    run.add_argument(
        "--job", required=True, help="a job name (see `logmr jobs`) or module.path:Class"
    )
    run.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="job parameter (repeatable)"
    )
    run.add_argument(
        "--format", default="auto", help="log format (see `logmr formats`); default: auto-detect"
    )
    run.add_argument(
        "--format-option", action="append", default=[], metavar="K=V", help="format option"
    )
    run.add_argument("--reducers", type=int, default=None, help="number of reduce tasks")
    run.add_argument(
        "--chunk-size", type=_size, default=None, help="bytes per map task (e.g. 64MB)"
    )
    run.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: all cores)"
    )
    run.add_argument("--job-id", default=None, help="name the job (default: generated)")
    run.add_argument("--top", type=int, default=None, help="show only the top N results")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument(
        "--engine",
        choices=("statemachine", "inline"),
        default="statemachine",
        help="statemachine: the ASL definition run locally (default); "
        "inline: the task functions called directly (raises the real exception)",
    )
    _common(run)
    run.set_defaults(handler=_run)

    jobs = sub.add_parser("jobs", help="list the job catalogue with parameters")
    jobs.set_defaults(handler=_jobs)

    fmts = sub.add_parser("formats", help="list the log formats")
    fmts.set_defaults(handler=_formats)

    results = sub.add_parser("results", help="show a finished job's results")
    results.add_argument("job_id")
    results.add_argument("--top", type=int, default=DEFAULT_TABLE_ROWS)
    results.add_argument("--json", action="store_true")
    _common(results)
    results.set_defaults(handler=_results)

    status = sub.add_parser("status", help="show a job's record")
    status.add_argument("job_id")
    status.add_argument("--json", action="store_true")
    _common(status)
    status.set_defaults(handler=_status)

    gen = sub.add_parser("generate", help="write a deterministic synthetic log")
    gen.add_argument("--format", default="apache_combined", help="apache_combined or applog")
    gen.add_argument("--size", default=None, help="approximate size, e.g. 100MB, 1GB")
    gen.add_argument("--lines", type=int, default=None, help="exact number of lines")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--output", "-o", required=True, help="file to write ('-' for stdout)")
    gen.set_defaults(handler=_generate)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", default=None, help="where local job data lives (env LOGMR_HOME)")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on failure")


def _size(text: str) -> int:
    from logmr.generate import parse_size

    try:
        return parse_size(text)
    except LogmrError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- commands ---------------------------------------------------------------------
def _run(args: argparse.Namespace) -> int:
    from logmr import tasks
    from logmr.local import local_backends
    from logmr.spec import JobSpec, new_job_id

    settings = Settings.load(
        home=args.home, reducers=args.reducers, chunk_size=args.chunk_size, workers=args.workers
    )
    request = {
        "job_id": args.job_id or new_job_id(args.job),
        "job": args.job,
        "inputs": [str(Path(path).resolve()) if "://" not in path else path for path in args.paths],
        "params": parse_assignments(args.param),
        "format": args.format,
        "format_options": parse_assignments(args.format_option),
        "reducers": settings.reducers,
        "chunk_size": settings.chunk_size,
    }
    spec = JobSpec.from_dict(request)
    tasks.load_job(spec.job, spec.params)  # a bad job or parameter: one line, before any work
    if spec.format != "auto":
        tasks.prepare(spec)
    backends = local_backends(settings)
    progress = _Progress(None if args.json else sys.stderr)
    if args.engine == "inline":
        from logmr import runner

        try:
            runner.run(spec, backends, workers=settings.workers, progress=progress)
        except LogmrError:
            if args.json:
                _show(backends.results, spec.job_id, args.top, as_json=True)
            raise
    else:
        from logmr.engine.local import run_local

        execution = run_local(request, settings=settings, progress=progress)
        if backends.results.load_job(spec.job_id) is None:  # MarkFailed itself could not run
            print(f"logmr: error: {execution.error}: {execution.cause}", file=sys.stderr)
            return 1
    record = backends.results.get_job(spec.job_id)
    if record.status == "FAILED" and not args.json:
        print(f"logmr: error: {record.error}: {record.cause}", file=sys.stderr)
        return 1
    if args.format == "auto" and not args.json:
        print(f"logmr: format auto-detected: {record.spec.get('format')}", file=sys.stderr)
    return _show(backends.results, spec.job_id, args.top, args.json)


def _results(args: argparse.Namespace) -> int:
    from logmr.local import local_backends

    backends = local_backends(Settings.load(home=args.home))
    return _show(backends.results, args.job_id, args.top, args.json)


def _status(args: argparse.Namespace) -> int:
    from logmr.local import local_backends

    record = local_backends(Settings.load(home=args.home)).results.get_job(args.job_id)
    if args.json:
        _print_json(record.to_dict())
    else:
        out = sys.stdout
        out.write(f"job {record.job_id}: {record.status} ({record.job})\n")
        if record.error:
            out.write(f"error: {record.error}: {record.cause}\n")
        for name, value in sorted(record.counters.items()):
            out.write(f"  {name:<20} {value:>14,}\n")
        for name, seconds in sorted(record.timings.items()):
            out.write(f"  {name:<20} {seconds:>14}\n")
    return 0 if record.status != "FAILED" else 1


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
    from logmr.generate import generate, parse_size

    size = parse_size(args.size) if args.size else None
    if args.output == "-":
        stats = generate(
            sys.stdout.buffer, fmt=args.format, size=size, lines=args.lines, seed=args.seed
        )
    else:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(path.name + ".partial")
        with temp.open("wb") as out:
            stats = generate(out, fmt=args.format, size=size, lines=args.lines, seed=args.seed)
        temp.replace(path)
        print(f"wrote {stats.lines:,} lines, {stats.bytes:,} bytes to {path}", file=sys.stderr)
    return 0


# -- output -----------------------------------------------------------------------
def _show(results: Any, job_id: str, top: int | None, as_json: bool) -> int:
    record = results.get_job(job_id)
    if as_json:
        rows = results.top(job_id, top) if top else list(results.iter_results(job_id))
        payload: dict[str, Any] = {
            "job_id": job_id,
            "status": record.status,
            "job": record.job,
            "format": record.spec.get("format"),
            "counters": record.counters,
            "results": dict(rows),
        }
        if record.summary is not None:
            payload["summary"] = record.summary
        if record.error:
            payload["error"], payload["cause"] = record.error, record.cause
        _print_json(payload)
        return 0 if record.status == "SUCCEEDED" else 1
    out = sys.stdout
    out.write(
        f"job {job_id}: {record.status} - {record.job} over "
        f"{len(record.spec.get('inputs', []))} input(s), "
        f"format {record.spec.get('format')}, {record.timings.get('duration_s', '?')} s\n"
    )
    counters = record.counters
    out.write(
        "  " + "  ".join(f"{name} {value:,}" for name, value in sorted(counters.items())) + "\n"
    )
    limit = top or DEFAULT_TABLE_ROWS
    rows = results.top(job_id, limit)
    _table(out, rows)
    if record.result_keys > len(rows):
        out.write(
            f"  ... {record.result_keys - len(rows):,} more keys (--top N, or --json for all)\n"
        )
    if record.summary:
        out.write("summary:\n")
        for name, value in record.summary.items():
            if not isinstance(value, list | dict):  # lists repeat the table above
                out.write(f"  {name}: {_cell(value)}\n")
    return 0 if record.status == "SUCCEEDED" else 1


def _table(out: TextIO, rows: list[tuple[str, Any]]) -> None:
    if not rows:
        out.write("  (no results)\n")
        return
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


def _cell(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


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
