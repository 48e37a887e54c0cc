"""The options several commands share, and what they resolve to: the job
request (``job_request``), the store of results to read (``job_results``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from logmr.config import Settings
from logmr.errors import LogmrError
from logmr.jobs.params import parse_assignments

if TYPE_CHECKING:
    from logmr.run.housekeeping import LocalJobs
    from logmr.run.remote import Remote

#: the options that make ``status`` and ``results`` read the deployed stack
REMOTE_OPTIONS = ("endpoint_url", "region", "state_machine", "results_table", "jobs_table")
SALT_HELP = "spread this key over every reducer (repeatable; default: the keys the planner salts)"


def job_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """The options a job request is built from (``job_request``)."""
    job_help = "a job name (see `logmr jobs`) or module.path:Class"
    parser.add_argument("--job", required=required, help=job_help)
    parser.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="job parameter (repeatable)"
    )
    input_options(parser)


def input_options(parser: argparse.ArgumentParser) -> None:
    """The options of a job request beside its job: the format, the figures
    the planner leaves to the user, the time range (``logmr query`` too)."""
    parser.add_argument(
        "--format", default=None, help="log format (see `logmr formats`); default: auto-detect"
    )
    parser.add_argument(
        "--format-option", action="append", default=[], metavar="K=V", help="format option"
    )
    parser.add_argument("--reducers", type=int, default=None, help="number of reduce tasks")
    parser.add_argument(
        "--chunk-size", type=size, default=None, help="bytes per map task (e.g. 64MB)"
    )
    for bound, which in (("--since", "from this time on"), ("--until", "before this time")):
        parser.add_argument(
            bound,
            default=None,
            metavar="TIME",
            help=f"count only records {which}: ISO 8601 (2026-12-05T10:00:00Z, 2026-12-05;"
            " no offset: UTC) or back from now (30m, 1h, 2d; or --since=-1h);"
            " see docs/time-ranges.md",
        )


def local_run_options(parser: argparse.ArgumentParser) -> None:
    """The options of a job run on this machine (``run``, ``query``)."""
    parser.add_argument(
        "--workers", type=positive, default=None, help="worker processes (default: all cores)"
    )
    parser.add_argument("--job-id", default=None, help="name the job (default: generated)")
    parser.add_argument(
        "--engine",
        choices=("statemachine", "inline"),
        default="statemachine",
        help="statemachine: the ASL definition run locally (default); "
        "inline: the task functions called directly (raises the real exception)",
    )


def salt_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--salt", action="append", default=[], metavar="KEY", help=SALT_HELP)


def max_malformed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-malformed",
        type=share,
        default=None,
        metavar="SHARE",
        help="the share of malformed lines (0 to 1) past which the job's results are doubted:"
        " said on stderr, exit 3 (env LOGMR_MAX_MALFORMED; default 0.5; 1: never)",
    )


def job_request(args: argparse.Namespace, inputs: list[str], **figures: Any) -> dict[str, Any]:
    """The job request the options of ``run``, ``plan`` and ``submit`` describe;
    ``figures``: the planner's figures the user gave."""
    from logmr.run.request import build_request

    params, format_options = _year_moved(
        args.job, parse_assignments(args.param), parse_assignments(args.format_option)
    )
    return build_request(
        inputs,
        args.job,
        job_id=getattr(args, "job_id", None),
        params=params,
        fmt=args.format or "auto",
        format_options=format_options,
        salted_keys=getattr(args, "salt", None),
        since=args.since,
        until=args.until,
        **figures,
    )


def _year_moved(
    job: str | None, params: dict[str, Any], format_options: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``--param year=2020`` for a job without a ``year`` parameter of its own:
    the BSD syslog format option ``year`` (``--format-option year=2020``), the
    year of lines that have none, in place of the one Plan takes from each
    object's modification time."""
    if "year" not in params or "year" in format_options or not job:
        return params, format_options
    from logmr.jobs import job_class

    if any(param.name == "year" for param in job_class(job).params):
        return params, format_options
    rest = {name: value for name, value in params.items() if name != "year"}
    return rest, {**format_options, "year": str(params["year"])}


def remote_switch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--remote",
        action="store_true",
        help="read the deployed stack's DynamoDB tables instead of the local store; "
        "implied by --endpoint-url, --region, --state-machine, --results-table, --jobs-table",
    )
    remote_options(parser)


def remote_options(parser: argparse.ArgumentParser) -> None:
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


def common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", default=None, help="where local job data lives (env LOGMR_HOME)")
    debug(parser)


def debug(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show the full traceback on failure")


def positive(text: str) -> int:
    """An option's whole number of at least 1 (argparse names the option)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def share(text: str) -> float:
    """An option's number from 0 to 1 (argparse names the option)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text}")
    return value


def duration(text: str) -> int:
    """An option's duration (``7d``, ``12h``, ``30m``) in seconds."""
    from logmr.jobs.params import duration_seconds

    try:
        return duration_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def size(text: str) -> int:
    from logmr.units import parse_size

    try:
        return parse_size(text)
    except LogmrError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def remote(args: argparse.Namespace) -> Remote:
    """The deployed stack the options name."""
    from logmr.run.remote import Remote

    explicit = {name: getattr(args, name, None) for name in REMOTE_OPTIONS}
    return Remote(Settings.load(**explicit))


def is_remote(args: argparse.Namespace) -> bool:
    return bool(args.remote) or any(getattr(args, name, None) for name in REMOTE_OPTIONS)


def job_results(args: argparse.Namespace) -> Any:
    """The job records and results to read: the deployed stack's (``--remote``
    or any AWS option), else the local store under ``--home``."""
    if is_remote(args):
        return remote(args).job_results()
    from logmr.run.embedded import embedded_backends

    return embedded_backends(Settings.load(home=args.home)).job_results()


def local_jobs(args: argparse.Namespace) -> LocalJobs:
    """The jobs of the local store under ``--home``."""
    from logmr.run.housekeeping import LocalJobs

    return LocalJobs(Settings.load(home=args.home))


def job_id(args: argparse.Namespace) -> str:
    """The job ``args.job_id`` names: on the deployed stack its exact id; in
    the local store also ``last`` or a unique prefix (``LocalJobs.resolve``)."""
    if is_remote(args):
        return str(args.job_id)
    return local_jobs(args).resolve(args.job_id)
