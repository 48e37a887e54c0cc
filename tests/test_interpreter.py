"""The local ASL interpreter on small definitions."""

from __future__ import annotations

from typing import Any

import pytest

from logmr.engine.interpreter import Interpreter, UnsupportedDefinitionError, validate

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
    assert [e["attempt"] for e in execution.history if e["type"] == "RetryScheduled"] == [1, 2, 3]


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
