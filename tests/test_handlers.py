"""The Lambda handlers on moto's S3 and DynamoDB, driven by the sample events
in ``events/handlers/`` (the same files the docs show)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from aws_support import create_account, upload
from conftest import AWS_BUCKET, EVENTS
from helpers import run_inline
from logmr.devtools.generate import generate
from logmr.engine.context import LocalContext
from logmr.handlers import finalize, mark_failed, plan, plan_reduce, reconcile, reduce, runtime
from logmr.handlers import map as map_handler
from moto_engine import MOTO_CONFIG

pytestmark = pytest.mark.functional


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / "handlers" / f"{name}.json").read_text())
    return loaded


def context(name: str) -> LocalContext:
    return LocalContext(function_name=name)


@pytest.fixture
def access_log(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    with path.open("wb") as out:
        generate(out, fmt="apache_combined", lines=5000, seed=5)
    return path


@mock_aws
def test_the_handlers_one_after_another(aws_handler_env: None, access_log: Path) -> None:
    s3 = create_account()
    upload(s3, access_log, "incoming/access/access.log")

    planned = plan.handler(event("plan"), context("Plan"))
    assert planned["job_id"] == "status-codes-2026-11-21"  # the execution name
    assert planned["distributed"] is False
    assert len(planned["map_tasks"]) == planned["map_task_count"] == 1

    sample_map = event("map")
    # the version is the object's ETag, which the map task's GET must match (If-Match)
    etag = s3.head_object(Bucket=AWS_BUCKET, Key="incoming/access/access.log")["ETag"]
    (piece,) = sample_map["task"]["pieces"]
    piece = {**piece, "version": etag, "end": access_log.stat().st_size}
    task = {**sample_map["task"], "pieces": [piece]}
    assert planned["map_tasks"][0] == task
    mapped = map_handler.handler(
        {**sample_map, "spec": planned["spec"], "task": task}, context("Map")
    )
    assert mapped["counters"]["lines"] == 5000
    reducing = plan_reduce.handler(
        {**event("plan_reduce"), "spec": planned["spec"]}, context("PlanReduce")
    )
    assert reducing["partitions"] == list(range(reducing["spec"]["reducers"]))
    for partition in reducing["partitions"]:
        reduce.handler(
            {**event("reduce"), "spec": reducing["spec"], "partition": partition}, context("Reduce")
        )
    done = finalize.handler({**event("finalize"), "spec": reducing["spec"]}, context("Finalize"))
    assert done["status"] == "SUCCEEDED"

    record = runtime.backends().results.get_job("status-codes-2026-11-21")
    results = dict(runtime.backends().job_results().iter_results("status-codes-2026-11-21"))
    inline_record, inline_results = run_inline(
        access_log, "status_codes", fmt="apache_combined", reducers=2
    )
    assert results == inline_results
    assert record.counters == inline_record.counters


@mock_aws
def test_mark_failed_records_the_error_name_and_message(aws_handler_env: None) -> None:
    create_account()
    out = mark_failed.handler(event("mark_failed"), context("MarkFailed"))
    assert out == {
        "job_id": "status-codes-2026-11-21",
        "status": "FAILED",
        "error": "CorruptShuffleError",
        "cause": event("mark_failed")["state"]["error"]["Cause"],  # as given: JobFailed's
        "recorded": True,  # the id had no record: MarkFailed made one
    }
    record = runtime.backends().results.get_job("status-codes-2026-11-21")
    assert record.status == "FAILED"
    assert (
        record.cause == "logmr/shuffle/status-codes-2026-11-21/m-00000.bin: block checksum mismatch"
    )


@mock_aws
def test_plan_refuses_a_bad_request_with_a_named_error(aws_handler_env: None) -> None:
    create_account()
    from logmr.errors import InvalidJobError, InvalidParameterError

    with pytest.raises(InvalidJobError):
        plan.handler(
            {"input": {"job": "nope", "inputs": ["s3://x/y"]}, "execution_name": "e"},
            context("Plan"),
        )
    with pytest.raises(InvalidParameterError, match="unknown field 'jbo'"):
        plan.handler({"input": {"jbo": "status_codes"}, "execution_name": "e"}, context("Plan"))


def test_every_start_execution_input_is_a_valid_request() -> None:
    from logmr.jobs import JOBS, job_class, load_job

    job_class("status_codes")  # loads the whole catalogue
    from logmr.spec import request_to_spec

    files = sorted((EVENTS / "start-execution").glob("*.json"))
    assert {f.stem for f in files} == set(JOBS)
    for file in files:
        spec = request_to_spec(json.loads(file.read_text()), default_job_id="e-1")
        load_job(spec.job, spec.params)


@mock_aws
def test_run_reads_s3_inputs_on_one_machine(
    capsys: pytest.CaptureFixture[str], access_log: Path
) -> None:
    from logmr.cli import main

    s3 = create_account()
    uri = upload(s3, access_log, "incoming/access/access.log")
    code = main(
        ["run", uri, "--job", "status_codes", "--engine", "inline", "--workers", "1", "--json"]
    )
    out = json.loads(capsys.readouterr().out)
    _, inline_results = run_inline(access_log, "status_codes")
    assert (code, out["results"]) == (0, inline_results)


# -- the tracer ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("function_name", "disabled", "enabled"),
    [("logmr-Map", None, True), ("logmr-Map", "true", False), (None, None, False)],
)
def test_tracing_follows_powertools_rule(
    monkeypatch: pytest.MonkeyPatch, function_name: str | None, disabled: str | None, enabled: bool
) -> None:
    for name, value in (
        ("AWS_LAMBDA_FUNCTION_NAME", function_name),
        ("POWERTOOLS_TRACE_DISABLED", disabled),
    ):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    runtime.reset()  # a new container reads its environment
    try:
        assert runtime.tracing_enabled() is enabled
    finally:
        monkeypatch.undo()
        runtime.reset()


def test_a_handler_off_lambda_never_imports_the_xray_sdk(tmp_path: Path) -> None:
    """Creating Powertools' Tracer imports the X-Ray SDK (most of a worker's
    start-up); with tracing off the lazy tracer never creates it."""
    import subprocess
    import sys

    log = tmp_path / "a.log"
    log.write_bytes(b"hello world\n")
    script = (
        "import json, sys\n"
        "from logmr.handlers import plan\n"
        "from logmr.engine.context import LocalContext\n"
        f"plan.handler({{'input': {{'job': 'word_count', 'inputs': [{str(log)!r}],"
        " 'job_id': 'xray-free'}}, LocalContext('Plan'))\n"
        "print(json.dumps('aws_xray_sdk' in sys.modules))\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "LOGMR_HOME": str(tmp_path / "home"),
        "LOGMR_STORAGE": "local",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "false", done.stdout


def failed_execution(definition_error: str, cause: str, name: str) -> str:
    """A finished execution on moto's Step Functions that FAILED with
    ``definition_error`` and ``cause`` (one Fail state): its ARN."""
    import time

    import boto3

    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    fail = {"Type": "Fail", "Error": definition_error, "Cause": cause}
    machine = sfn.create_state_machine(
        name=f"m-{name}",
        definition=json.dumps({"StartAt": "F", "States": {"F": fail}}),
        roleArn="arn:aws:iam::123456789012:role/logmr-test",
    )
    arn = str(
        sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=name)["executionArn"]
    )
    for _ in range(200):  # moto runs it in a thread
        if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            break
        time.sleep(0.05)
    assert sfn.describe_execution(executionArn=arn)["status"] == "FAILED"
    return arn


@pytest.mark.functional
@mock_aws(config=MOTO_CONFIG)
def test_reconcile_records_failed_what_no_catch_took(aws_handler_env: None) -> None:
    """The reconciler (an EventBridge rule's target) marks a RUNNING record of
    a FAILED execution FAILED with the execution's own error and cause
    (DescribeExecution), and leaves another execution's record alone."""
    from logmr.storage.base import JobRecord

    create_account()
    # moto refuses a States.* error in a Fail state (the ASL spec reserves them),
    # so this execution fails with a Lambda error the definition raises itself
    cause = "Task timed out after 900.00 seconds"
    arn = failed_execution("Sandbox.Timedout", cause, "too-big-1")
    store = runtime.backends().results
    assert store.claim_job(JobRecord(job_id="too-big-1", job="word_count", execution=arn)) is None
    other = "arn:aws:states:us-east-1:123456789012:execution:logmr:someone-else"
    assert store.claim_job(JobRecord(job_id="other-1", job="word_count", execution=other)) is None

    sent = event("reconcile")
    sent["detail"]["executionArn"] = arn
    out = reconcile.handler(sent, context("Reconcile"))
    assert out == {
        "job_id": "too-big-1",
        "status": "FAILED",
        "error": "Sandbox.Timedout",
        "reconciled": True,
    }
    record = store.get_job("too-big-1")
    assert (record.status, record.error, record.cause) == ("FAILED", "Sandbox.Timedout", cause)
    # the same event for a record of another execution changes nothing
    sent["detail"] = {**sent["detail"], "name": "other-1", "input": "{}"}
    assert reconcile.handler(sent, context("Reconcile"))["reconciled"] is False
    assert store.get_job("other-1").status == "RUNNING"
