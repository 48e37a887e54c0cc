"""A Distributed Map as Step Functions runs it: a Map Run of child executions,
its tolerated failures and its ResultWriter (logmr.engine.maprun says what
the developer guide documents of each), on both interpreters (the
``interpreter`` fixture: logmr's and moto's, tests/interpreters.py); then
logmr's own use of it: a job whose map task fails in the Distributed Map ends
FAILED with that task's error, and MarkFailed reading the Map Run's results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from engine_support import Fault, FaultPlan, no_sleep, request_for
from helpers import generated_logs
from interpreters import Functions, Interpreters, Local, moto_differs
from logmr import layout
from logmr.aws.s3 import S3ObjectStore
from logmr.config import Settings
from logmr.engine.dispatcher import Dispatcher
from logmr.engine.maprun import TOLERATED_FAILURE_CAUSE
from logmr.run import engine as local_engine
from logmr.run.embedded import embedded_backends
from logmr.tasks import mark_failed
from logmr.tasks.failure import failed_child
from logmr.workflow.names import FUNCTIONS, TOLERATED_FAILURE_ERROR
from moto_engine import MOTO_CONFIG, StateMachine, dispatching

#: moto 5.2's Distributed Map counts a failed child and goes on: its Map Run
#: never fails (no tolerated failure threshold), the failed item's output is null
MOTO_IGNORES_FAILED_CHILDREN = (
    "moto's Map Run ignores failed children (no tolerated failure threshold):"
    " it succeeds, a failed item's output null"
)
#: moto 5.2's ResultWriter writes manifest.json with empty ResultFiles lists
MOTO_WRITES_NO_RESULT_FILES = (
    "moto's ResultWriter writes a manifest with empty ResultFiles and no SUCCEEDED_/FAILED_ files"
)
BUCKET = "results"


def tenfold(payload: Any) -> Any:
    """A child's task: its item times ten, or a ValueError for a negative item."""
    if payload < 0:
        raise ValueError(f"item {payload} is negative")
    return payload * 10


def distributed(**fields: Any) -> dict[str, Any]:
    """A machine whose Distributed Map runs ``tenfold`` on each of ``$.items``,
    catching every error into ``Caught`` (the error at ``$.error``)."""
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "tenfold", "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "End": True,
            }
        },
    }
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]
    state = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemProcessor": processor,
        "Catch": catch,
        "End": True,
        **fields,
    }
    return {"StartAt": "M", "States": {"M": state, "Caught": {"Type": "Pass", "End": True}}}


def map_run_events(outcome: Any) -> list[dict[str, Any]]:
    return [event for event in outcome.history if event["type"].startswith("MapRun")]


# -- the Map Run ----------------------------------------------------------------------------
def test_items_run_as_child_executions_of_a_map_run(interpreter: Interpreters) -> None:
    """The execution's history shows the Map Run, not its children's events;
    DescribeMapRun counts the items."""
    outcome = interpreter.run(
        distributed(MaxConcurrency=2), {"items": [1, 2, 3]}, Functions(tenfold=tenfold)
    )
    assert (outcome.status, outcome.output) == ("SUCCEEDED", [10, 20, 30]), outcome.cause
    kinds = [kind for kind in outcome.types() if kind.startswith("Map")]
    assert kinds == [
        "MapStateEntered",
        "MapStateStarted",
        "MapRunStarted",
        "MapRunSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
    ]
    assert not {"TaskScheduled", "MapIterationStarted"} & set(outcome.types())
    (run,) = outcome.map_runs
    started = map_run_events(outcome)[0]["mapRunStartedEventDetails"]
    assert run["mapRunArn"] == started["mapRunArn"]
    assert (run["status"], run["maxConcurrency"]) == ("SUCCEEDED", 2)
    counts = run["itemCounts"]
    assert (counts["total"], counts["succeeded"], counts["failed"]) == (3, 3, 0)


# (moto's parser takes a percentage written as a decimal only: 0.0, not 0)
@pytest.mark.parametrize(
    "threshold", [{}, {"ToleratedFailureCount": 0}, {"ToleratedFailurePercentage": 0.0}]
)
def test_a_failed_child_fails_the_map_run_with_the_threshold_error(
    interpreter: Interpreters, request: pytest.FixtureRequest, threshold: dict[str, Any]
) -> None:
    """With no failure tolerated (the default, or 0 %), one failed child fails
    the Map Run with States.ExceedToleratedFailureThreshold, whatever the
    child's own error; the Map state's Catch takes it."""
    moto_differs(request, MOTO_IGNORES_FAILED_CHILDREN)
    outcome = interpreter.run(
        distributed(MaxConcurrency=1, **threshold),
        {"items": [1, -2, 3]},
        Functions(tenfold=tenfold),
    )
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.output["error"] == {
        "Error": TOLERATED_FAILURE_ERROR,
        "Cause": TOLERATED_FAILURE_CAUSE,
    }
    failed = map_run_events(outcome)[-1]
    assert failed["type"] == "MapRunFailed"
    assert failed["mapRunFailedEventDetails"]["error"] == TOLERATED_FAILURE_ERROR
    (run,) = outcome.map_runs
    assert run["status"] == "FAILED"
    assert run["itemCounts"]["failed"] == 1


@pytest.mark.parametrize(
    ("threshold", "items", "status"),
    [
        ({"ToleratedFailureCount": 1}, [1, -2, 3, 4], "SUCCEEDED"),
        ({"ToleratedFailureCount": 1}, [1, -2, -3, 4], "FAILED"),
        ({"ToleratedFailurePercentage": 50.0}, [1, -2, -3, 4], "SUCCEEDED"),  # 50 %: not over
        ({"ToleratedFailurePercentage": 40.0}, [1, -2, -3, 4], "FAILED"),
        ({"ToleratedFailurePercentagePath": "$.share"}, [1, -2, 3, 4], "SUCCEEDED"),
        ({"ToleratedFailureCountPath": "$.count"}, [1, -2, -3, 4], "FAILED"),
        # both given: over either one fails the run
        (
            {"ToleratedFailureCount": 5, "ToleratedFailurePercentage": 25.0},
            [1, -2, -3, 4],
            "FAILED",
        ),
    ],
)
def test_failures_within_the_tolerated_threshold_keep_the_map_run_going(
    interpreter: Interpreters,
    request: pytest.FixtureRequest,
    threshold: dict[str, Any],
    items: list[int],
    status: str,
) -> None:
    """A Map Run fails when its failed items exceed ToleratedFailureCount, or
    exceed ToleratedFailurePercentage of all items; within it, each failed
    item's place in the output holds its execution's result, error and cause."""
    moto_differs(request, MOTO_IGNORES_FAILED_CHILDREN)
    outcome = interpreter.run(
        distributed(**threshold),
        {"items": items, "share": 30, "count": 1},
        Functions(tenfold=tenfold),
    )
    assert outcome.status == "SUCCEEDED", outcome.cause
    (run,) = outcome.map_runs
    assert run["status"] == status
    if status == "FAILED":
        assert outcome.output["error"]["Error"] == TOLERATED_FAILURE_ERROR
        return
    for item, result in zip(items, outcome.output, strict=True):
        if item > 0:
            assert result == item * 10
        else:
            assert (result["Status"], result["Error"]) == ("FAILED", "ValueError")
            assert f"item {item} is negative" in result["Cause"]
            assert json.loads(result["Input"]) == item


@pytest.mark.parametrize(
    "threshold",
    [{"ToleratedFailurePercentagePath": "$.share"}, {"ToleratedFailureCountPath": "$.count"}],
)
def test_a_threshold_path_to_a_value_out_of_range_fails_the_execution(
    interpreter: Interpreters, request: pytest.FixtureRequest, threshold: dict[str, Any]
) -> None:
    """States.Runtime, which the Map's own States.ALL does not catch."""
    moto_differs(request, "moto's States.ALL catches the States.Runtime of a threshold's path")
    outcome = interpreter.run(
        distributed(**threshold),
        {"items": [1], "share": 150, "count": -1},
        Functions(tenfold=tenfold),
    )
    assert (outcome.status, outcome.error) == ("FAILED", "States.Runtime"), outcome.cause


# -- the ResultWriter --------------------------------------------------------------------------
def writing(prefix: str = "runs", bucket: str = BUCKET, **fields: Any) -> dict[str, Any]:
    writer = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": bucket, "Prefix": prefix},
    }
    return distributed(ResultWriter=writer, **fields)


def test_the_result_writer_makes_the_output_the_manifests_place(
    interpreter: Interpreters,
) -> None:
    """The Map's result is the Map Run's ARN and where its manifest.json is:
    ``<Prefix>/<Map Run id>/``, the id being the ARN's last part."""
    interpreter.bucket(BUCKET)
    outcome = interpreter.run(writing(), {"items": [1, 2, 3]}, Functions(tenfold=tenfold))
    assert outcome.status == "SUCCEEDED", outcome.cause
    arn = outcome.output["MapRunArn"]
    assert arn == outcome.map_runs[0]["mapRunArn"]
    key = f"runs/{arn.rsplit(':', 1)[1]}/manifest.json"
    assert outcome.output["ResultWriterDetails"] == {"Bucket": BUCKET, "Key": key}
    manifest = json.loads(interpreter.get(BUCKET, key))
    assert (manifest["DestinationBucket"], manifest["MapRunArn"]) == (BUCKET, arn)
    assert set(manifest["ResultFiles"]) == {"FAILED", "PENDING", "SUCCEEDED"}


def test_the_result_writer_reads_its_paths_from_the_state_input(
    interpreter: Interpreters, request: pytest.FixtureRequest
) -> None:
    """``"Prefix.$"`` (as an ItemReader's ``"Key.$"``) is read from the Map
    state's input: logmr's definition names each job's prefix that way."""
    moto_differs(
        request,
        "moto reads a ResultWriter's paths from the Map's result"
        " (tests/moto_engine.dispatching has it read them from the input for logmr's definition)",
    )
    interpreter.bucket(BUCKET)
    writer = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": BUCKET, "Prefix.$": "$.prefix"},
    }
    outcome = interpreter.run(
        distributed(ResultWriter=writer),
        {"items": [1], "prefix": "jobs/j-1/map_runs/"},
        Functions(tenfold=tenfold),
    )
    assert outcome.status == "SUCCEEDED", outcome.cause
    key = outcome.output["ResultWriterDetails"]["Key"]
    assert key.startswith("jobs/j-1/map_runs/") and key.endswith("/manifest.json"), key


def read_results(interpreter: Interpreters, manifest_key: str) -> dict[str, list[dict[str, Any]]]:
    """The records of a Map Run's result files by status, found through its manifest."""
    manifest = json.loads(interpreter.get(BUCKET, manifest_key))
    found: dict[str, list[dict[str, Any]]] = {}
    for status, files in manifest["ResultFiles"].items():
        for entry in files:
            body = interpreter.get(BUCKET, entry["Key"])
            assert entry["Size"] == len(body)
            assert entry["Key"] == manifest_key.replace("manifest", f"{status}_0")
            found.setdefault(status, []).extend(json.loads(body))
    return found


def test_the_result_writer_exports_each_child_execution(
    interpreter: Interpreters, request: pytest.FixtureRequest
) -> None:
    moto_differs(request, MOTO_WRITES_NO_RESULT_FILES)
    interpreter.bucket(BUCKET)
    outcome = interpreter.run(writing("runs/"), {"items": [1, 2, 3]}, Functions(tenfold=tenfold))
    details = outcome.output["ResultWriterDetails"]
    records = read_results(interpreter, details["Key"])
    assert set(records) == {"SUCCEEDED"}
    succeeded = records["SUCCEEDED"]
    assert sorted((json.loads(r["Input"]), json.loads(r["Output"])) for r in succeeded) == [
        (1, 10),
        (2, 20),
        (3, 30),
    ]
    for record in succeeded:
        assert record["Status"] == "SUCCEEDED"
        assert record["InputDetails"] == record["OutputDetails"] == {"Included": True}
        assert record["StartDate"] <= record["StopDate"]
        assert record["Name"] in record["ExecutionArn"]


def test_a_failed_map_run_writes_its_failed_children(
    interpreter: Interpreters, request: pytest.FixtureRequest
) -> None:
    """FAILED_0.json holds each failed child's error and cause: what MarkFailed
    reads; the items the failed Map Run never started are PENDING."""
    moto_differs(request, MOTO_IGNORES_FAILED_CHILDREN)
    interpreter.bucket(BUCKET)
    outcome = interpreter.run(
        writing(MaxConcurrency=1), {"items": [1, -2, 3]}, Functions(tenfold=tenfold)
    )
    assert outcome.output["error"]["Error"] == TOLERATED_FAILURE_ERROR
    (manifest,) = [
        key for key in interpreter.keys(BUCKET, "runs/") if key.endswith("manifest.json")
    ]
    records = read_results(interpreter, manifest)
    (failed,) = records["FAILED"]
    assert (failed["Status"], failed["Error"]) == ("FAILED", "ValueError")
    assert "item -2 is negative" in failed["Cause"]
    assert [json.loads(r["Input"]) for r in records["SUCCEEDED"]] == [1]
    if isinstance(interpreter, Local):  # AWS may have started it before the run failed
        assert [json.loads(r["Input"]) for r in records["PENDING"]] == [3]


def test_a_result_writer_that_cannot_write_fails_with_result_writer_failed(
    interpreter: Interpreters, request: pytest.FixtureRequest
) -> None:
    moto_differs(request, "moto's ResultWriter lets S3's NoSuchBucket out as States.Runtime")
    outcome = interpreter.run(
        writing(bucket="no-such-bucket"), {"items": [1]}, Functions(tenfold=tenfold)
    )
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.output["error"]["Error"] == "States.ResultWriterFailed"


@pytest.mark.unit
def test_the_result_writer_keeps_the_output_constant_size_with_many_items() -> None:
    """3,000 children of 100 bytes each: gathered into the state, their 300 KB
    pass the 256 KiB quota; written to S3, the state's result is the manifest's
    place, the same size for any number of items."""
    local = Local()
    local.bucket(BUCKET)
    items = list(range(3_000))
    functions = Functions(tenfold=lambda item: f"{item:0100d}")
    gathered = local.run(distributed(MaxConcurrency=8), {"items": items}, functions)
    assert (gathered.status, gathered.error) == ("FAILED", "States.DataLimitExceeded")
    written = local.run(writing(MaxConcurrency=8), {"items": items}, functions)
    assert written.status == "SUCCEEDED", written.cause
    few = local.run(writing(MaxConcurrency=8), {"items": items[:3]}, functions)
    for outcome in (written, few):  # the same fields, a few hundred bytes
        assert set(outcome.output) == {"MapRunArn", "ResultWriterDetails"}
        assert len(json.dumps(outcome.output)) < 300
    records = read_results(local, written.output["ResultWriterDetails"]["Key"])
    assert sorted(json.loads(r["Input"]) for r in records["SUCCEEDED"]) == items


# -- logmr's Distributed Map: a failed map task fails the job with its own error --------------
@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generated_logs(tmp_path_factory.mktemp("maprun-logs"), lines=3000, seed=31)


def second_task_fails() -> Fault:
    """The second map task fails, at once (a permanent error: not retried)."""
    return Fault("Map", "InputChangedError", when={"task": {"task": 1}})


def failing_request(logs: dict[str, Path], job_id: str) -> dict[str, Any]:
    return request_for(
        logs["access"], "status_codes", job_id, chunk_size=64 * 1024, map_mode="distributed"
    )


@pytest.mark.statemachine
def test_a_failed_map_task_fails_the_job_with_its_error_on_the_local_engine(
    handler_env: None, logs: dict[str, Path]
) -> None:
    fault = second_task_fails()
    execution = local_engine.run_engine(
        failing_request(logs, "dist-fail"),
        settings=Settings.load(workers=0),
        workers=0,
        hook=FaultPlan(fault),
        sleep=no_sleep,
    )
    assert fault.fired == 1
    # the execution and the record carry the task's error, not the Map Run's
    assert (execution.status, execution.error) == ("FAILED", "InputChangedError")
    backends = embedded_backends(Settings.load())
    record = backends.results.get_job("dist-fail")
    assert (record.status, record.error) == ("FAILED", "InputChangedError")
    assert record.cause == "injected InputChangedError on attempt 1"
    failed = [e for e in execution.history if e["type"] == "MapRunFailed"]
    assert failed[0]["mapRunFailedEventDetails"]["error"] == TOLERATED_FAILURE_ERROR
    keys = backends.objects.list_keys(layout.map_runs_prefix("dist-fail"))
    assert any(key.endswith("/FAILED_0.json") for key in keys), keys


@pytest.mark.statemachine
@pytest.mark.xfail(reason=f"moto differs from AWS: {MOTO_IGNORES_FAILED_CHILDREN}", strict=True)
def test_a_failed_map_task_fails_the_job_with_its_error_on_moto(
    handler_env: None, logs: dict[str, Path]
) -> None:
    """The local engine's test on moto's interpreter (local storage, the items
    served from moto's S3 as tests/test_engine.py serves them)."""
    request = failing_request(logs, "moto-dist-fail")
    fault = second_task_fails()
    with mock_aws(config=MOTO_CONFIG):
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=local_engine.LOCAL_BUCKET)
        objects = embedded_backends(Settings.load()).objects

        def serve_items(function: str, result: Any) -> None:
            if function == "Plan" and result.get("distributed"):
                key = result["map_items_key"]
                s3.put_object(Bucket=local_engine.LOCAL_BUCKET, Key=key, Body=objects.get(key))

        dispatcher = Dispatcher(
            dict(FUNCTIONS), workers=0, hook=FaultPlan(fault), observer=serve_items
        )
        with dispatching(dispatcher):
            machine = StateMachine(bucket=local_engine.LOCAL_BUCKET)
            machine.deploy()
            described = machine.run(request, request["job_id"])
    record = embedded_backends(Settings.load()).results.get_job(request["job_id"])
    assert (described["status"], described.get("error")) == ("FAILED", "InputChangedError")
    assert (record.status, record.error) == ("FAILED", "InputChangedError")


# -- MarkFailed reads the Map Run's results --------------------------------------------------------
def write_map_run(put: Any, prefix: str, failed: list[dict[str, Any]]) -> None:
    """A Map Run's manifest and FAILED_0.json under ``prefix``, as the ResultWriter writes them."""
    folder = f"{prefix}0b7c/"
    put(f"{folder}FAILED_0.json", json.dumps(failed).encode())
    files = {
        "FAILED": [{"Key": f"{folder}FAILED_0.json", "Size": 1}],
        "PENDING": [],
        "SUCCEEDED": [],
    }
    manifest = {"DestinationBucket": "b", "MapRunArn": "arn:map-run", "ResultFiles": files}
    put(f"{folder}manifest.json", json.dumps(manifest).encode())


FAILED_CHILDREN = [
    {
        "Name": "b",
        "StopDate": "2026-12-05T10:00:02.000Z",
        "Error": "CorruptShuffleError",
        "Cause": "2nd",
    },
    {
        "Name": "a",
        "StopDate": "2026-12-05T10:00:01.000Z",
        "Error": "InputChangedError",
        "Cause": "1st",
    },
]


@pytest.mark.unit
def test_mark_failed_records_the_first_failed_child_of_a_failed_map_run(tmp_path: Path) -> None:
    backends = embedded_backends(Settings.load(home=tmp_path))
    objects = backends.objects
    answer = mark_failed("job-1", TOLERATED_FAILURE_ERROR, "threshold", backends, {"job": "x"})
    assert (answer["error"], answer["cause"]) == (
        TOLERATED_FAILURE_ERROR,
        "threshold",
    )  # none written
    write_map_run(objects.put, layout.map_runs_prefix("job-2"), FAILED_CHILDREN)
    answer = mark_failed("job-2", TOLERATED_FAILURE_ERROR, "threshold", backends, {"job": "x"})
    assert (answer["error"], answer["cause"]) == (
        "InputChangedError",
        "1st",
    )  # the earliest to stop
    record = backends.results.get_job("job-2")
    assert (record.status, record.error, record.cause) == ("FAILED", "InputChangedError", "1st")
    # another error than the threshold's is recorded as it is
    answer = mark_failed("job-2", "TransientError", "cause", backends, {"job": "x"})
    assert answer["error"] == "TransientError"


@pytest.mark.unit
def test_unreadable_map_run_results_leave_the_map_runs_own_error(tmp_path: Path) -> None:
    objects = embedded_backends(Settings.load(home=tmp_path)).objects
    prefix = layout.map_runs_prefix("job-3")
    objects.put(f"{prefix}0b7c/manifest.json", b"{not json")
    assert failed_child("job-3", objects) is None
    write_map_run(objects.put, layout.map_runs_prefix("job-4"), [{"Name": "a", "Status": "FAILED"}])
    assert failed_child("job-4", objects) is None  # no error named


@pytest.mark.functional
def test_mark_failed_reads_the_results_from_s3_under_the_stores_prefix() -> None:
    """On S3 the manifest names keys in the bucket; the store's are under its prefix."""
    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        store = S3ObjectStore("data", "logmr/", client=s3)

        def put(key: str, body: bytes) -> None:
            s3.put_object(Bucket="data", Key=key, Body=body)

        write_map_run(put, "logmr/" + layout.map_runs_prefix("job-5"), FAILED_CHILDREN)
        assert failed_child("job-5", store) == ("InputChangedError", "1st")
