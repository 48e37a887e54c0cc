"""The ASL interpreter on small definitions: the semantic tests on both
interpreters (logmr's and moto's: the ``interpreter`` fixture,
tests/interpreters.py), the local one's own history and validation alone."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from interpreters import Functions, Interpreters, moto_differs
from logmr.engine.history import LocalStepFunctions
from logmr.engine.interpreter import Execution, Interpreter, UnsupportedDefinitionError, validate

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


@pytest.mark.unit
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


#: a retrier whose waits are short on moto (it sleeps them): 1 s, then 1 s
QUICK_RETRY = [
    {"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "BackoffRate": 1.0, "MaxAttempts": 2}
]


def test_retries_exhausted_go_to_catch_with_the_error(interpreter: Interpreters) -> None:
    machine = {
        "StartAt": "T",
        "States": {
            "T": task(
                "f",
                Retry=QUICK_RETRY,
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "F"}],
                Next="S",
            ),
            "S": {"Type": "Succeed"},
            "F": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
        },
    }
    functions = Functions(f=flaky(10))
    outcome = interpreter.run(machine, {}, functions)
    assert outcome.status == "FAILED"
    assert outcome.error == "TransientError"
    assert "try again" in (outcome.cause or "")
    assert len(functions.calls) == 3  # the first attempt and MaxAttempts retries


def test_an_error_not_in_retry_is_not_retried(interpreter: Interpreters) -> None:
    def broken(payload: Any) -> Any:
        raise ValueError("bad")

    functions = Functions(f=broken)
    machine = {"StartAt": "T", "States": {"T": task("f", Retry=RETRY, End=True)}}
    outcome = interpreter.run(machine, {}, functions)
    assert (outcome.status, outcome.error, len(functions.calls)) == ("FAILED", "ValueError", 1)


def test_map_selects_items_and_context_and_limits_concurrency(interpreter: Interpreters) -> None:
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
    outcome = interpreter.run(machine, {"items": [1, 2, 3], "k": "x", "limit": 2}, functions)
    assert outcome.output == {"items": [1, 2, 3], "k": "x", "limit": 2, "out": [10, 20, 30]}
    assert sorted(p["i"] for _, p in functions.calls) == [0, 1, 2]
    assert {p["n"] for _, p in functions.calls} == {outcome.name}


def test_a_failed_iteration_fails_the_map_with_its_error(interpreter: Interpreters) -> None:
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
    outcome = interpreter.run(machine, [1, 2, 3], Functions(f=f))
    assert outcome.status == "SUCCEEDED"
    assert outcome.output["Error"] == "KeyError"


def test_choice_and_item_reader(interpreter: Interpreters) -> None:
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
                    "Parameters": {"Bucket": "items-bucket", "Key.$": "$.key"},
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
    interpreter.bucket("items-bucket")
    interpreter.put("items-bucket", "items.json", b"[5, 6]")
    functions = Functions(f=lambda p: -p)
    assert interpreter.run(machine, {"big": True, "key": "items.json"}, functions).output == [
        -5,
        -6,
    ]
    assert interpreter.run(machine, {"big": False}, functions).output == {"big": False}


def test_payloads_over_256_kib_fail_as_on_aws(interpreter: Interpreters) -> None:
    machine = {"StartAt": "T", "States": {"T": task("f", End=True)}}
    outcome = interpreter.run(machine, {}, Functions(f=lambda p: "x" * 300_000))
    assert outcome.error == "States.DataLimitExceeded"


CATCH_ALL = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]
RETRY_ALL = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3, "IntervalSeconds": 1}]


@pytest.mark.parametrize(
    ("error", "function", "moto_gap"),
    [
        (  # a result past 256 KiB
            "States.DataLimitExceeded",
            lambda payload: "x" * 300_000,
            "moto's States.ALL retries and catches States.DataLimitExceeded",
        ),
        ("States.DataLimitExceeded", lambda payload: {"items": [1, 2]}, None),  # the Map's
        (
            "States.Runtime",
            lambda payload: {"items": "not an array"},
            "moto names a Map's items that are no array States.QueryEvaluationError"
            " (a JSONata error) and lets States.ALL catch it",
        ),
    ],
    ids=["task-result", "map-result", "items-not-an-array"],
)
def test_terminal_errors_pass_every_retry_and_catch(
    interpreter: Interpreters,
    request: pytest.FixtureRequest,
    error: str,
    function: Any,
    moto_gap: str | None,
) -> None:
    """States.ALL (in Retry and in Catch) takes neither States.DataLimitExceeded
    nor States.Runtime, as on AWS: the execution fails with them at once."""
    if moto_gap:
        moto_differs(request, moto_gap)
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
    outcome = interpreter.run(machine, {}, functions)
    assert (outcome.status, outcome.error) == ("FAILED", error), outcome.cause
    assert len(functions.calls) == 1  # not retried
    assert "SucceedStateEntered" not in outcome.types()  # not caught


# -- errors of the language itself, named as the developer guide names them ---------------
CAUGHT = {"Type": "Pass", "End": True}


def catch(*errors: str) -> list[dict[str, Any]]:
    """A Catch of ``errors`` into the state ``Caught``, the error at ``$.error``."""
    return [{"ErrorEquals": list(errors), "ResultPath": "$.error", "Next": "Caught"}]


#: moto 5.2's Choice state with no rule matching and no Default raises a
#: Python RuntimeError, which fails the execution as States.Runtime
MOTO_NO_CHOICE = "moto fails a Choice with no match and no Default as States.Runtime"


def test_a_choice_with_no_match_and_no_default_fails_with_no_choice_matched(
    interpreter: Interpreters, request: pytest.FixtureRequest
) -> None:
    moto_differs(request, MOTO_NO_CHOICE)
    machine = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "S"}],
            },
            "S": {"Type": "Succeed"},
        },
    }
    outcome = interpreter.run(machine, {"n": 2})
    assert (outcome.status, outcome.error) == ("FAILED", "States.NoChoiceMatched")


def test_no_choice_matched_in_an_iteration_is_caught_by_its_map(
    interpreter: Interpreters, request: pytest.FixtureRequest
) -> None:
    """A Choice has no Catch; the Map state that runs it in an iteration does."""
    moto_differs(request, MOTO_NO_CHOICE + ", which no Catch takes")
    processor = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$", "NumericEquals": 1, "Next": "S"}],
            },
            "S": {"Type": "Succeed"},
        },
    }
    machine = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": processor,
                "Catch": catch("States.NoChoiceMatched"),
                "End": True,
            },
            "Caught": CAUGHT,
        },
    }
    outcome = interpreter.run(machine, {"items": [1, 2]})
    assert outcome.status == "SUCCEEDED"
    assert outcome.output["error"]["Error"] == "States.NoChoiceMatched"


def test_a_choice_rule_on_a_missing_variable_fails_the_execution_with_runtime(
    interpreter: Interpreters, request: pytest.FixtureRequest
) -> None:
    """A rule's Variable that is not in the input: "Invalid path ... The choice
    state's condition path references an invalid value", States.Runtime, which
    even the Map's States.ALL does not take (IsPresent tests a field first)."""
    moto_differs(request, "moto takes a Choice rule whose Variable is missing as not matching")
    processor = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.missing", "NumericEquals": 1, "Next": "S"}],
                "Default": "S",
            },
            "S": {"Type": "Succeed"},
        },
    }
    machine = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": processor,
                "Catch": catch("States.ALL"),
                "End": True,
            },
            "Caught": CAUGHT,
        },
    }
    outcome = interpreter.run(machine, {"items": [{"n": 1}]})
    assert (outcome.status, outcome.error) == ("FAILED", "States.Runtime"), outcome.cause
    assert "PassStateEntered" not in outcome.types()


def template_path_failure(field: str) -> dict[str, Any]:
    """A definition whose ``field`` (a payload template) reads ``$.missing``,
    its state catching States.ParameterPathFailure into ``Caught``."""
    if field == "ItemSelector":
        state: dict[str, Any] = {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemSelector": {"value.$": "$.missing"},
            "ItemProcessor": {"StartAt": "T", "States": {"T": task("f", End=True)}},
        }
    else:
        state = task("f")
        if field == "Parameters":
            state["Parameters"] = {"FunctionName": "f", "Payload": {"x.$": "$.missing"}}
        else:
            state[field] = {"x.$": "$.missing"}
    state.update(Catch=catch("States.ParameterPathFailure"), End=True)
    return {"StartAt": "S", "States": {"S": state, "Caught": CAUGHT}}


@pytest.mark.parametrize("field", ["Parameters", "ResultSelector", "ItemSelector"])
def test_a_template_path_that_finds_nothing_is_a_catchable_parameter_path_failure(
    interpreter: Interpreters, request: pytest.FixtureRequest, field: str
) -> None:
    moto_differs(
        request,
        "moto names a payload template's path that finds nothing States.Runtime"
        ' ("The JSONPath ... could not be found in the input"), which no Catch takes',
    )
    functions = Functions(f=lambda payload: {"ok": True})
    outcome = interpreter.run(template_path_failure(field), {"items": [1]}, functions)
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.output["error"]["Error"] == "States.ParameterPathFailure"
    # the task runs only when its Parameters could be filled in
    assert len(functions.calls) == (1 if field == "ResultSelector" else 0)


@pytest.mark.parametrize(
    ("data", "result_path"),
    [({"a": 5}, "$.a.b"), ([1, 2], "$.x")],
    ids=["through-a-number", "into-an-array"],
)
def test_a_result_path_that_cannot_apply_is_a_catchable_result_path_match_failure(
    interpreter: Interpreters, request: pytest.FixtureRequest, data: Any, result_path: str
) -> None:
    moto_differs(
        request,
        "moto's ResultPath meets a non-object with a Python TypeError, failing the"
        " execution as States.Runtime",
    )
    machine = {
        "StartAt": "T",
        "States": {
            "T": task(
                "f",
                ResultPath=result_path,
                OutputPath="$",
                Catch=[{"ErrorEquals": ["States.ResultPathMatchFailure"], "Next": "Caught"}],
                End=True,
            ),
            "Caught": CAUGHT,
        },
    }
    outcome = interpreter.run(machine, data, Functions(f=lambda payload: "r"))
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.output["Error"] == "States.ResultPathMatchFailure"


@pytest.mark.parametrize("field", ["InputPath", "OutputPath"])
def test_an_input_or_output_path_that_finds_nothing_fails_the_execution_with_runtime(
    interpreter: Interpreters, field: str
) -> None:
    """States.Runtime "will always cause the execution to fail": States.ALL does not take it."""
    state = task("f", Catch=catch("States.ALL"), End=True)
    state[field] = "$.missing"
    machine = {"StartAt": "T", "States": {"T": state, "Caught": CAUGHT}}
    functions = Functions(f=lambda payload: {"ok": True})
    outcome = interpreter.run(machine, {"a": 1}, functions)
    assert (outcome.status, outcome.error) == ("FAILED", "States.Runtime"), outcome.cause
    assert "PassStateEntered" not in outcome.types()
    assert len(functions.calls) == (0 if field == "InputPath" else 1)


# -- the history ----------------------------------------------------------------------
def one_task_map(function: str, **extra: Any) -> dict[str, Any]:
    """A Map state whose iterations each invoke ``function``."""
    processor = {"StartAt": "G", "States": {"G": task(function, End=True)}}
    return {"Type": "Map", "ItemProcessor": processor, **extra}


def distributed_map() -> dict[str, Any]:
    """A Distributed Map whose child executions each invoke ``f``."""
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "G",
        "States": {"G": task("f", End=True)},
    }
    return {"Type": "Map", "ItemProcessor": processor, "End": True}


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


@pytest.mark.unit
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


@pytest.mark.unit
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


@pytest.mark.unit
def test_events_after_reads_the_new_events_only() -> None:
    execution = Execution("e")
    for kind in ("ExecutionStarted", "PassStateEntered", "PassStateExited"):
        execution.record(kind)
    assert [e["id"] for e in execution.events_after(1)] == [2, 3]
    assert execution.events_after(3) == []
    execution.record("ExecutionSucceeded", {"output": "{}"})
    (last,) = execution.events_after(3)
    assert (last["id"], last["executionSucceededEventDetails"]) == (4, {"output": "{}"})


@pytest.mark.unit
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
        (
            {"StartAt": "T", "States": {"T": {**task("f"), "ResultPath": "$.a[0]", "End": True}}},
            "ResultPath",
        ),
        (
            {
                "StartAt": "T",
                "States": {"T": {**task("f"), "ResultSelector": {"a.$": "$.b[*]"}, "End": True}},
            },
            "path",
        ),
        (
            {"StartAt": "M", "States": {"M": one_task_map("f", ToleratedFailureCount=1, End=True)}},
            "belongs to a Distributed Map",
        ),
        (
            {
                "StartAt": "M",
                "States": {"M": {**distributed_map(), "ToleratedFailurePercentage": 101}},
            },
            "from 0 to 100",
        ),
        (
            {
                "StartAt": "M",
                "States": {
                    "M": {
                        **distributed_map(),
                        "ToleratedFailureCount": 1,
                        "ToleratedFailureCountPath": "$.n",
                    }
                },
            },
            "both given",
        ),
        (
            {
                "StartAt": "M",
                "States": {
                    "M": {
                        **distributed_map(),
                        "ResultWriter": {"WriterConfig": {"OutputType": "JSONL"}},
                    }
                },
            },
            "ResultWriter",
        ),
    ],
)
@pytest.mark.unit
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
        (6_300, "DISTRIBUTED", "SUCCEEDED"),  # iterations are child executions
    ],
)
@pytest.mark.unit
def test_the_history_quota_fails_the_execution(items: int, mode: str, status: str) -> None:
    """25,000 events at most in one execution's history (Step Functions'
    quota); the event past it fails the execution with States.Runtime, which
    no Catch takes. A Distributed Map's iterations are child executions with
    histories of their own: the execution's shows their Map Run only."""
    execution = Interpreter(many_passes(items, mode), Functions()).run(
        {"items": list(range(items))}, f"history-{items}-{mode}"
    )
    assert execution.status == status, execution.cause
    if status == "FAILED":
        assert execution.error == "States.Runtime"
        assert "25,000 events" in (execution.cause or "")
        assert len(execution.history) == 25_000  # the last one is the ExecutionFailed
        assert not any(e["type"] == "SucceedStateEntered" for e in execution.history)
    elif mode == "INLINE":  # every event kept
        assert len(execution.history) == 4 * items + 6
    else:
        assert [e["type"] for e in execution.history] == [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapRunStarted",
            "MapRunSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded",
        ]
        (run,) = execution.map_runs.values()
        children = [child.history for child in run.children if child is not None]
        assert len(children) == items
        assert {len(history) for history in children} == {4}  # started, entered, exited, ended
