"""The HTTP API's GET routes: a job's record and its top results.

``GET /jobs/{id}`` returns the job record; ``GET /jobs/{id}/results?top=N``
the N best results (default 20, at most 1,000). An unknown job is a 404, a
bad job id or N a 400. ``POST /jobs`` never reaches Lambda: API Gateway
starts the state machine itself. The routes are IAM-authorized and
throttled by API Gateway (``infra/api.py``).
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    NotFoundError,
    ServiceError,
)
from aws_lambda_powertools.logging import correlation_paths

from logmr.errors import InvalidParameterError, JobNotFoundError, TransientError
from logmr.handlers.runtime import backends, logger, tracer
from logmr.spec import check_job_id
from logmr.storage.parts import TOP_KEPT

DEFAULT_TOP = 20
#: the most results a query asks for: the result store keeps this many a partition
MAX_TOP = TOP_KEPT
_NUMBER = re.compile(r"[0-9]{1,7}")

app = APIGatewayHttpResolver()


def parse_top(raw: str | None) -> int:
    """``?top=N``: an integer in 1..MAX_TOP, else a 400."""
    if raw is None:
        return DEFAULT_TOP
    if not _NUMBER.fullmatch(raw) or not 1 <= int(raw) <= MAX_TOP:
        raise BadRequestError(f"top must be an integer from 1 to {MAX_TOP}, got {raw[:20]!r}")
    return int(raw)


@app.get("/jobs/<job_id>")
def get_job(job_id: str) -> dict[str, Any]:
    return backends().results.get_job(check_job_id(job_id)).to_dict()


@app.get("/jobs/<job_id>/results")
def get_results(job_id: str) -> dict[str, Any]:
    n = parse_top(app.current_event.get_query_string_value("top"))
    store = backends().results
    record = store.get_job(check_job_id(job_id))
    # only a SUCCEEDED job's results are whole: a running or failed job may hold some partitions
    rows = store.top(job_id, n) if record.status == "SUCCEEDED" else []
    return {
        "job_id": job_id,
        "status": record.status,
        "top": n,
        "results": [{"key": key, "value": value} for key, value in rows],
    }


def _unknown_job(exc: JobNotFoundError) -> NoReturn:
    raise NotFoundError(str(exc))


def _bad_request(exc: InvalidParameterError) -> NoReturn:
    raise BadRequestError(str(exc))


def _unavailable(exc: TransientError) -> NoReturn:
    logger.warning("store unavailable", extra={"error": type(exc).__name__})
    raise ServiceError(503, "the result store is busy: retry shortly")


# logmr's errors as HTTP statuses (registered by call: the decorator is untyped)
app.exception_handler(JobNotFoundError)(_unknown_job)
app.exception_handler(InvalidParameterError)(_bad_request)
app.exception_handler(TransientError)(_unavailable)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
