"""The HTTP API's GET routes (``logmr.handlers.api``) on moto's DynamoDB,
driven by the sample events in ``events/api/`` (API Gateway HTTP API, payload
format 2.0, IAM-authorized)."""

from __future__ import annotations

import copy
import importlib
import json
from typing import Any

import pytest
from moto import mock_aws

from aws_support import create_account
from conftest import EVENTS
from logmr.engine.context import LocalContext
from logmr.handlers import api, runtime
from logmr.storage.base import JobRecord
from logmr.workflow import names

pytestmark = pytest.mark.functional

JOB_ID = "status-codes-2026-11-21"  # the job the sample events name
RESULTS = {"200": 50, "404": 7, "302": 7, "500": 3, "301": 1}


def event(name: str, *, job_id: str | None = None, top: str | None = None) -> dict[str, Any]:
    """A sample event, optionally for another job id or ``?top=`` value."""
    loaded: dict[str, Any] = json.loads((EVENTS / "api" / f"{name}.json").read_text())
    changed = copy.deepcopy(loaded)
    if job_id is not None:
        for holder, key in ((changed, "rawPath"), (changed["requestContext"]["http"], "path")):
            holder[key] = holder[key].replace(JOB_ID, job_id)
        changed["pathParameters"]["id"] = job_id
    if top is not None:
        changed["rawQueryString"] = f"top={top}"
        changed["queryStringParameters"] = {"top": top}
    return changed


def call(request: dict[str, Any]) -> tuple[int, Any]:
    response = api.handler(request, LocalContext(function_name="Api"))
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def stored(aws_handler_env: None) -> Any:
    """A finished job and its results in moto's DynamoDB tables."""
    with mock_aws():
        create_account()
        store = runtime.backends().results
        record = JobRecord(
            job_id=JOB_ID,
            job="status_codes",
            status="SUCCEEDED",
            spec={"job": "status_codes", "inputs": ["s3://my-logs-bucket/incoming/access/"]},
            counters={"lines": 68, "records": 68, "malformed": 0},
            created_at="2026-11-21T12:00:00.000+00:00",
            finished_at="2026-11-21T12:00:09.000+00:00",
            result_keys=len(RESULTS),
        )
        store.put_job(record)
        store.put_results(JOB_ID, RESULTS.items())
        yield record


def test_the_handler_constant_names_the_handler() -> None:
    module, _, attr = names.API_HANDLER.rpartition(".")
    assert getattr(importlib.import_module(module), attr) is api.handler


def test_get_job_returns_the_job_record(stored: JobRecord) -> None:
    status, body = call(event("get-job"))
    assert status == 200
    assert body == json.loads(json.dumps(stored.to_dict()))
    assert body["status"] == "SUCCEEDED"


def test_get_results_returns_the_top_n_by_value_then_key(stored: JobRecord) -> None:
    status, body = call(event("get-job-results"))  # the sample asks for ?top=3
    assert status == 200
    assert body == {
        "job_id": JOB_ID,
        "status": "SUCCEEDED",
        "top": 3,
        "results": [
            {"key": "200", "value": 50},
            {"key": "302", "value": 7},
            {"key": "404", "value": 7},
        ],
    }


def test_get_results_without_top_returns_twenty_at_most(stored: JobRecord) -> None:
    request = event("get-job-results")
    request["rawQueryString"] = ""
    del request["queryStringParameters"]
    status, body = call(request)
    assert status == 200
    assert body["top"] == api.DEFAULT_TOP == 20
    assert [row["key"] for row in body["results"]] == ["200", "302", "404", "500", "301"]


def test_the_largest_top_is_accepted(stored: JobRecord) -> None:
    status, body = call(event("get-job-results", top=str(api.MAX_TOP)))
    assert status == 200
    assert body["top"] == 1000
    assert len(body["results"]) == len(RESULTS)


@pytest.mark.parametrize("top", ["0", "-1", "1001", "abc", "1.5", "", " 5", "1e3", "99999999"])
def test_a_bad_top_is_a_400(stored: JobRecord, top: str) -> None:
    status, body = call(event("get-job-results", top=top))
    assert status == 400
    assert "top must be an integer from 1 to 1000" in body["message"]


@pytest.mark.parametrize("name", ["get-job", "get-job-results"])
def test_an_unknown_job_is_a_404(stored: JobRecord, name: str) -> None:
    status, body = call(event(name, job_id="no-such-job"))
    assert status == 404
    assert body["message"] == "no job 'no-such-job'"


@pytest.mark.parametrize("name", ["get-job", "get-job-results"])
def test_a_malformed_job_id_is_a_400(stored: JobRecord, name: str) -> None:
    status, body = call(event(name, job_id=".hidden"))
    assert status == 400
    assert "job id '.hidden' must be" in body["message"]


def test_an_unknown_route_is_a_404(stored: JobRecord) -> None:
    request = event("get-job")
    request["rawPath"] = request["requestContext"]["http"]["path"] = "/jobs"
    status, _ = call(request)
    assert status == 404
