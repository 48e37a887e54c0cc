"""The local ASL interpreter on small definitions."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from logmr.engine.history import LocalStepFunctions
from logmr.engine.interpreter import Execution, Interpreter, UnsupportedDefinitionError, validate

pytestmark = pytest.mark.unit

RETRY = [
    {
        "ErrorEquals": ["TransientError"],
        "IntervalSeconds": 2,
        "BackoffRate": 3.0,
        "MaxAttempts": 3,
        "MaxDelaySeconds": 10,
        "JitterStrategy": "FULL",
    }
]


def task(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": name, "Payload.$": "$"},
        "OutputPath": "$.Payload",
        **extra,
    }


class Functions:
    """Fake Lambda functions: each a callable; failures scripted per call."""

    def __init__(self, **functions: Any) -> None:
        self.functions = functions
        self.calls: list[tuple[str, Any]] = []

    def __call__(self, name: str, payload: Any) -> tuple[bool, Any]:
        self.calls.append((name, payload))
        try:
            return True, self.functions[name](payload)
        except Exception as exc:
            return False, {"errorType": type(exc).__name__, "errorMessage": str(exc)}


class TransientError(Exception):
    pass


def flaky(failures: int) -> Any:
    left = [failures]

    def function(payload: Any) -> Any:
        if left[0]:
            left[0] -= 1
            raise TransientError("try again")
        return {"ok": payload}

    return function


def test_retry_waits_grow_and_are_capped_and_jittered() -> None:
    waits: list[float] = []
    machine = {"StartAt": "T", "States": {"T": task("f", Retry=RETRY, End=True)}}
    run = Interpreter(
        machine, Functions(f=flaky(3)), sleep=waits.append, jitter=lambda cap: cap / 2
    )
    execution = run.run({"x": 1}, "e1")
    assert execution.status == "SUCCEEDED"
    assert execution.output == {"ok": {"x": 1}}
    assert waits == [1.0, 3.0, 5.0]  # half of 2, 6, min(18, 10)
    retries = [e for e in execution.history if e["type"] == "LogmrRetryScheduled"]
    assert [e["logmrRetryScheduledEventDetails"]["attempt"] for e in retries] == [1, 2, 3]


def test_retries_exhausted_go_to_catch_with_the_error() -> None:
    machine = {
        "StartAt": "T",
        "States": {
            "T": task(
                "f",
                Retry=RETRY,
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "F"}],
                Next="S",
            ),
            "S": {"Type": "Succeed"},
            "F": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
        },
    }
    functions = Functions(f=flaky(10))
    execution = Interpreter(machine, functions, sleep=lambda s: None).run({}, "e2")
    assert execution.status == "FAILED"
    assert execution.error == "TransientError"
    assert "try again" in (execution.cause or "")
    assert len(functions.calls) == 4  # the first attempt and MaxAttempts retries


def test_an_error_not_in_retry_is_not_retried() -> None:
    def broken(payload: Any) -> Any:
        raise ValueError("bad")

    functions = Functions(f=broken)
    machine = {"StartAt": "T", "States": {"T": task("f", Retry=RETRY, End=True)}}
    execution = Interpreter(machine, functions, sleep=lambda s: None).run({}, "e3")
    assert (execution.status, execution.error, len(functions.calls)) == ("FAILED", "ValueError", 1)


def test_map_selects_items_and_context_and_limits_concurrency() -> None:
    machine = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {
                    "v.$": "$$.Map.Item.Value",
                    "i.$": "$$.Map.Item.Index",
                    "k.$": "$.k",
                    "n.$": "$$.Execution.Name",
                },
                "MaxConcurrencyPath": "$.limit",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "T",
                    "States": {"T": task("f", End=True)},
                },
                "ResultPath": "$.out",
                "End": True,
            }
        },
    }
    functions = Functions(f=lambda p: p["v"] * 10)
    execution = Interpreter(machine, functions).run(
        {"items": [1, 2, 3], "k": "x", "limit": 2}, "e4"
    )
    assert execution.output == {"items": [1, 2, 3], "k": "x", "limit": 2, "out": [10, 20, 30]}
    assert sorted(p["i"] for _, p in functions.calls) == [0, 1, 2]
    assert {p["n"] for _, p in functions.calls} == {"e4"}


def test_a_failed_iteration_fails_the_map_with_its_error() -> None:
    def f(payload: Any) -> Any:
        if payload == 2:
            raise KeyError("two")
        return payload

    machine = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "T", "States": {"T": task("f", End=True)}},
                "Catch": [{"ErrorEquals": ["KeyError"], "Next": "P"}],
                "End": True,
            },
            "P": {"Type": "Pass", "End": True},
        },
    }
    execution = Interpreter(machine, Functions(f=f)).run([1, 2, 3], "e5")
    assert execution.status == "SUCCEEDED"
    assert execution.output["Error"] == "KeyError"


def test_choice_and_item_reader() -> None:
    machine = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.big", "BooleanEquals": True, "Next": "D"}],
                "Default": "S",
            },
            "S": {"Type": "Succeed"},
            "D": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSON"},
                    "Parameters": {"Bucket": "b", "Key.$": "$.key"},
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "T",
                    "States": {"T": task("f", End=True)},
                },
                "End": True,
            },
        },
    }
    objects = {("b", "items.json"): b"[5, 6]"}
    run = Interpreter(machine, Functions(f=lambda p: -p), get_object=lambda b, k: objects[(b, k)])
    assert run.run({"big": True, "key": "items.json"}, "e6").output == [-5, -6]
    assert run.run({"big": False}, "e7").output == {"big": False}


def test_payloads_over_256_kib_fail_as_on_aws() -> None:
    machine = {"StartAt": "T", "States": {"T": task("f", End=True)}}
    execution = Interpreter(machine, Functions(f=lambda p: "x" * 300_000)).run({}, "e8")
    assert execution.error == "States.DataLimitExceeded"


CATCH_ALL = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]
RETRY_ALL = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3, "IntervalSeconds": 1}]


@pytest.mark.parametrize(
    ("error", "function"),
    [
        ("States.DataLimitExceeded", lambda payload: "x" * 300_000),  # an output past 256 KiB
        ("States.DataLimitExceeded", lambda payload: {"items": [1, 2]}),  # the Map's output
        ("States.Runtime", lambda payload: {"items": "not an array"}),
    ],
)
def test_terminal_errors_pass_every_retry_and_catch(error: str, function: Any) -> None:
    """States.ALL (in Retry and in Catch) takes neither States.DataLimitExceeded
    nor States.Runtime, as on AWS: the execution fails with them at once."""
    inner = {
        "StartAt": "G",
        "States": {"G": {"Type": "Pass", "Result": "y" * 150_000, "End": True}},
    }
    machine = {
        "StartAt": "T",
        "States": {
            "T": task("f", Retry=RETRY_ALL, Catch=CATCH_ALL, Next="M"),
            # two iterations of 150 KB: a gathered output of 300 KB, over the quota
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": inner,
                "Retry": RETRY_ALL,
                "Catch": CATCH_ALL,
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }
    functions = Functions(f=function)
    execution = Interpreter(machine, functions, sleep=lambda s: None).run({}, "terminal")
    assert (execution.status, execution.error) == ("FAILED", error), execution.cause
    assert len(functions.calls) == 1  # not retried
    assert not any(e["type"] == "SucceedStateEntered" for e in execution.history)  # not caught


# -- the history ----------------------------------------------------------------------
def one_task_map(function: str, **extra: Any) -> dict[str, Any]:
    """A Map state whose iterations each invoke ``function``."""
    processor = {"StartAt": "G", "States": {"G": task(function, End=True)}}
    return {"Type": "Map", "ItemProcessor": processor, **extra}


def _retried_then_mapped() -> Execution:
    """A task that fails once and is retried, a Choice, a two-item Map (one at a
    time, so its events come in order) and a Succeed."""
    machine = {
        "StartAt": "T",
        "States": {
            "T": task("f", Retry=RETRY, Next="C"),
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.ok.items", "IsPresent": True, "Next": "M"}],
            },
            "M": one_task_map(
                "g", ItemsPath="$.ok.items", MaxConcurrency=1, ResultPath="$.out", Next="Done"
            ),
            "Done": {"Type": "Succeed"},
        },
    }
    functions = Functions(f=flaky(1), g=lambda p: p * 10)
    return Interpreter(machine, functions, sleep=lambda s: None, jitter=lambda cap: cap).run(
        {"items": [1, 2]}, "h1"
    )


def details(event: dict[str, Any]) -> dict[str, Any]:
    """An event's one ``...EventDetails`` member (empty when it has none)."""
    found = [value for key, value in event.items() if key.endswith("EventDetails")]
    assert len(found) <= 1, event
    return found[0] if found else {}


def test_the_history_has_the_shape_of_get_execution_history() -> None:
    execution = _retried_then_mapped()
    history = execution.history
    iteration = ["TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded"]
    iteration += ["TaskStateExited"]
    assert [event["type"] for event in history] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskFailed",
        "LogmrRetryScheduled",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "MapStateEntered",
        "MapStateStarted",
        *["MapIterationStarted", *iteration, "MapIterationSucceeded"] * 2,
        "MapStateSucceeded",
        "MapStateExited",
        "SucceedStateEntered",
        "SucceedStateExited",
        "ExecutionSucceeded",
    ]
    assert [(e["id"], e["previousEventId"]) for e in history] == [
        (n, n - 1) for n in range(1, len(history) + 1)
    ]
    assert all(isinstance(e["timestamp"], datetime) and e["timestamp"].tzinfo for e in history)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in history:
        by_type.setdefault(event["type"], []).append(event)
    whole = {"truncated": False}
    assert by_type["ExecutionStarted"][0]["executionStartedEventDetails"] == {
        "input": '{"items":[1,2]}',
        "inputDetails": whole,
    }
    assert by_type["TaskStateEntered"][0]["stateEnteredEventDetails"] == {
        "name": "T",
        "input": '{"items":[1,2]}',
        "inputDetails": whole,
    }
    lambda_invoke = {"resourceType": "lambda", "resource": "invoke"}
    assert by_type["TaskScheduled"][0]["taskScheduledEventDetails"] == {
        **lambda_invoke,
        "region": "",  # a bare function name: no region
        "parameters": '{"FunctionName":"f","Payload":{"items":[1,2]}}',
    }
    assert by_type["TaskStarted"][0]["taskStartedEventDetails"] == lambda_invoke
    failed = by_type["TaskFailed"][0]["taskFailedEventDetails"]
    assert (failed["error"], json.loads(failed["cause"])["errorMessage"]) == (
        "TransientError",
        "try again",
    )
    assert by_type["LogmrRetryScheduled"][0]["logmrRetryScheduledEventDetails"] == {
        "name": "T",
        "error": "TransientError",
        "attempt": 1,
        "waitSeconds": 2,
    }
    succeeded = by_type["TaskSucceeded"][0]["taskSucceededEventDetails"]
    assert json.loads(succeeded["output"])["Payload"] == {"ok": {"items": [1, 2]}}
    assert by_type["TaskStateExited"][0]["stateExitedEventDetails"] == {
        "name": "T",
        "output": '{"ok":{"items":[1,2]}}',
        "outputDetails": whole,
    }
    assert details(by_type["ChoiceStateExited"][0])["name"] == "C"
    assert by_type["MapStateStarted"][0]["mapStateStartedEventDetails"] == {"length": 2}
    for kind in ("Started", "Succeeded"):
        member = f"mapIteration{kind}EventDetails"
        shown = [e[member] for e in by_type[f"MapIteration{kind}"]]
        assert shown == [{"name": "M", "index": 0}, {"name": "M", "index": 1}]
    assert details(by_type["MapStateSucceeded"][0]) == {}
    assert json.loads(details(by_type["MapStateExited"][0])["output"])["out"] == [10, 20]
    assert details(by_type["SucceedStateExited"][0])["name"] == "Done"
    assert json.loads(by_type["ExecutionSucceeded"][0]["executionSucceededEventDetails"]["output"])[
        "out"
    ] == [10, 20]


def test_a_caught_error_exits_the_state_with_it_and_a_failure_ends_the_history() -> None:
    machine = {
        "StartAt": "M",
        "States": {
            "M": one_task_map(
                "g",
                ItemsPath="$.items",
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "F"}],
                End=True,
            ),
            "F": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
        },
    }

    def broken(payload: Any) -> Any:
        raise ValueError("bad")

    execution = Interpreter(machine, Functions(g=broken)).run({"items": [1]}, "h2")
    history = execution.history
    assert [e["type"] for e in history][-6:] == [
        "TaskFailed",
        "MapIterationFailed",
        "MapStateFailed",
        "MapStateExited",
        "FailStateEntered",
        "ExecutionFailed",
    ]
    (exited,) = [e["stateExitedEventDetails"] for e in history if e["type"] == "MapStateExited"]
    assert json.loads(exited["output"])["error"]["Error"] == "ValueError"
    assert details(history[-1]) == {"error": "ValueError", "cause": execution.cause}
    (failed,) = [e for e in history if e["type"] == "MapIterationFailed"]
    assert failed["mapIterationFailedEventDetails"] == {"name": "M", "index": 0}


def test_events_after_reads_the_new_events_only() -> None:
    execution = Execution("e")
    for kind in ("ExecutionStarted", "PassStateEntered", "PassStateExited"):
        execution.record(kind)
    assert [e["id"] for e in execution.events_after(1)] == [2, 3]
    assert execution.events_after(3) == []
    execution.record("ExecutionSucceeded", {"output": "{}"})
    (last,) = execution.events_after(3)
    assert (last["id"], last["executionSucceededEventDetails"]) == (4, {"output": "{}"})


def test_the_local_history_pages_as_get_execution_history_does() -> None:
    execution = _retried_then_mapped()
    history = execution.history
    sfn = LocalStepFunctions(execution)
    arn = execution.arn

    def read_all(**kwargs: Any) -> list[list[dict[str, Any]]]:
        pages, token = [], None
        while True:
            page = sfn.get_execution_history(
                executionArn=arn, **kwargs, **({"nextToken": token} if token else {})
            )
            pages.append(page["events"])
            token = page.get("nextToken")
            if token is None:
                return pages

    forward = read_all(maxResults=7)
    assert [len(page) for page in forward[:-1]] == [7] * (len(forward) - 1)
    assert [e for page in forward for e in page] == history
    backward = read_all(maxResults=7, reverseOrder=True)
    assert [e for page in backward for e in page] == history[::-1]
    assert read_all() == [history]  # maxResults 0 or none: pages of 100
    lean = [e for page in read_all(includeExecutionData=False) for e in page]
    assert [(e["id"], e["type"]) for e in lean] == [(e["id"], e["type"]) for e in history]
    data = {"input", "inputDetails", "output", "outputDetails"}
    assert not any(data & set(details(e)) for e in lean)
    assert details(lean[2]) == details(history[2])  # TaskScheduled keeps its parameters

    first = sfn.get_execution_history(executionArn=arn, maxResults=2, reverseOrder=True)
    assert [e["id"] for e in first["events"]] == [len(history), len(history) - 1]
    for wrong, code in [
        ({"executionArn": "local:other"}, "ExecutionDoesNotExist"),
        ({"maxResults": 1001}, "ValidationException"),
        ({"nextToken": first["nextToken"]}, "InvalidToken"),  # a reverse token, read forward
        ({"nextToken": "nonsense"}, "InvalidToken"),
    ]:
        with pytest.raises(ClientError) as caught:
            sfn.get_execution_history(**{"executionArn": arn, **wrong})
        assert caught.value.response["Error"]["Code"] == code


@pytest.mark.parametrize(
    ("machine", "message"),
    [
        (
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}},
            "type 'Wait'",
        ),
        (
            {
                "StartAt": "T",
                "States": {
                    "T": {**task("f"), "Resource": "arn:aws:states:::sqs:sendMessage", "End": True}
                },
            },
            "resource",
        ),
        (
            {"StartAt": "T", "States": {"T": {**task("f"), "Heartbeat": 5, "End": True}}},
            "field 'Heartbeat'",
        ),
        (
            {"StartAt": "T", "States": {"T": {**task("f"), "Next": "nowhere"}}},
            "no state named 'nowhere'",
        ),
        (
            {"StartAt": "T", "States": {"T": {**task("f"), "OutputPath": "$.a[*]", "End": True}}},
            "path",
        ),
    ],
)
def test_unsupported_asl_is_refused_before_running(machine: dict[str, Any], message: str) -> None:
    with pytest.raises(UnsupportedDefinitionError, match=message):
        validate(machine)


def many_passes(items: int, mode: str) -> dict[str, Any]:
    """A Map of ``items`` iterations of one Pass state: 4 events each."""
    processor: dict[str, Any] = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Result": 1, "End": True}},
    }
    if mode == "DISTRIBUTED":
        processor["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": processor,
                "Catch": CATCH_ALL,
                "ResultSelector": {"done": True},  # a small output whatever the items
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }


@pytest.mark.parametrize(
    ("items", "mode", "status"),
    [
        (6_200, "INLINE", "SUCCEEDED"),  # 24,806 events
        (6_300, "INLINE", "FAILED"),  # 25,206: past the quota
        (6_300, "DISTRIBUTED", "SUCCEEDED"),  # iterations are child executions on AWS
    ],
)
def test_the_history_quota_fails_the_execution(items: int, mode: str, status: str) -> None:
    """25,000 events at most in one execution's history (Step Functions'
    quota); the event past it fails the execution with States.Runtime, which
    no Catch takes. A Distributed Map's iterations are not its events."""
    execution = Interpreter(many_passes(items, mode), Functions()).run(
        {"items": list(range(items))}, f"history-{items}-{mode}"
    )
    assert execution.status == status, execution.cause
    if status == "FAILED":
        assert execution.error == "States.Runtime"
        assert "25,000 events" in (execution.cause or "")
        assert len(execution.history) == 25_000  # the last one is the ExecutionFailed
        assert not any(e["type"] == "SucceedStateEntered" for e in execution.history)
    else:  # every event kept (a Distributed Map's 25,206 too: none of them counted)
        assert len(execution.history) == 4 * items + 6
