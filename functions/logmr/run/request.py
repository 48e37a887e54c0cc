"""Job requests: the one way to build one (the CLI's ``run`` and ``submit``,
``logmr plan``), to read one from a file, and to check one before any work
(``validate``: what Plan would refuse, refused here first, so a mistake costs
no execution and no I/O).

A request is the JSON object a start-execution input, POST /jobs and the
upload trigger carry (``logmr.spec.REQUEST_FIELDS``); ``logmr.spec.JobSpec``
is what it becomes once checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from logmr.errors import InvalidParameterError
from logmr.jobs.binding import check
from logmr.spec import JobSpec, new_job_id, request_to_spec, resolve_times


def build_request(
    inputs: Iterable[str],
    job: str,
    *,
    job_id: str | None = None,
    params: dict[str, Any] | None = None,
    fmt: str = "auto",
    format_options: dict[str, str] | None = None,
    reducers: int | None = None,
    chunk_size: int | None = None,
    max_concurrency: int | None = None,
    salted_keys: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """A job request with the fields given (``None``: left to the planner);
    a relative ``since``/``until`` (``-1h``) resolved now, once, to UTC."""
    request: dict[str, Any] = {
        "job_id": job_id or new_job_id(job),
        "job": job,
        "inputs": list(inputs),
        "params": params or {},
        "format": fmt,
    }
    optional = {
        "format_options": format_options,
        "reducers": reducers,
        "chunk_size": chunk_size,
        "max_concurrency": max_concurrency,
        "salted_keys": salted_keys,
        "since": since,
        "until": until,
    }
    request.update({name: value for name, value in optional.items() if value})
    return resolve_times(request)


def local_inputs(paths: Iterable[str]) -> list[str]:
    """Paths as absolute paths (a job may run in another working directory);
    URIs (``s3://...``) as they are."""
    return [path if "://" in path else str(Path(path).resolve()) for path in paths]


def names_a_module(job: str) -> bool:
    """The job is named by its module (``module:Class`` or dotted), not from
    the catalogue (``jobs.is_builtin`` looks the catalogue up)."""
    return ":" in job or "." in job


def validate(
    request: dict[str, Any], *, job_id: str | None = None, deployed: bool = False
) -> JobSpec:
    """The request's spec, checked as Plan would check it, before any I/O:
    its shape, the job and its parameters, the format when one is named.

    ``job_id``: the execution's name, which the request's own ``job_id`` (if
    any) must equal. ``deployed``: the job runs on a deployed stack, so every
    input must be an ``s3://`` URI, and a user's ``module:Class`` job is left
    to Plan (it may live only in the deployed code)."""
    spec = request_to_spec(request, default_job_id=job_id)
    if job_id is not None and spec.job_id != job_id:
        raise InvalidParameterError(
            f"the request's job_id {spec.job_id!r} differs from --job-id {job_id!r}"
        )
    if deployed:
        for uri in spec.inputs:
            check_s3_uri(uri)
    if not deployed or not names_a_module(spec.job):
        check(spec)
    return spec


def check_s3_uri(uri: str) -> None:
    """Refuse a local path in one line: a deployed job reads S3."""
    if not uri.startswith("s3://"):
        raise InvalidParameterError(
            f"{uri!r} is not an s3:// URI: a deployed job reads S3"
            " (upload it with `aws s3 cp`, or use `logmr run` for local files)"
        )
    from logmr.aws.s3 import parse_s3_uri  # boto3 only when a deployed job is asked for

    parse_s3_uri(uri)


def read_request(path: str | Path) -> tuple[dict[str, Any], str]:
    """A start-execution input from a JSON file (``events/start-execution/*.json``):
    the parsed request, and the text to send as it is."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        request = json.loads(text)
    except OSError as exc:
        raise InvalidParameterError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise InvalidParameterError(f"{path} is not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise InvalidParameterError(f"{path}: a job request must be a JSON object")
    return request, text
