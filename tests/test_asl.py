"""The ASL definition checked without cfn-lint: structure, reachability, and
that every Task retries transient errors and catches everything."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from logmr.engine import interpreter
from logmr.workflow import names

pytestmark = pytest.mark.unit

TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "TransientError",
}
THROTTLED = "Lambda.TooManyRequestsException"


def definition() -> dict[str, Any]:
    return json.loads(names.state_machine_path().read_text())


def machines(machine: dict[str, Any], where: str = "top") -> list[tuple[str, dict[str, Any]]]:
    """The machine and every nested ItemProcessor."""
    found = [(where, machine)]
    for name, state in machine["States"].items():
        if "ItemProcessor" in state:
            found += machines(state["ItemProcessor"], f"{where}/{name}")
    return found


def targets(state: dict[str, Any]) -> list[str]:
    out = [state.get("Next"), state.get("Default")]
    out += [rule.get("Next") for rule in state.get("Choices", [])]
    out += [rule.get("Next") for rule in state.get("Catch", [])]
    return [t for t in out if t]


@pytest.mark.parametrize(("where", "machine"), machines(definition()))
def test_every_target_exists_and_every_state_is_reachable(
    where: str, machine: dict[str, Any]
) -> None:
    states = machine["States"]
    assert machine["StartAt"] in states
    for name, state in states.items():
        for target in targets(state):
            assert target in states, f"{where}: {name} -> {target}"
        terminal = state["Type"] in ("Succeed", "Fail", "Choice") or state.get("End") is True
        assert terminal or "Next" in state, f"{where}: {name} has no way on"
    reached, frontier = set(), [machine["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in reached:
            reached.add(name)
            frontier += targets(states[name])
    assert reached == set(states), f"{where}: unreachable {set(states) - reached}"


@pytest.mark.parametrize(("where", "machine"), machines(definition()))
def test_every_task_retries_transient_errors_and_catches_all(
    where: str, machine: dict[str, Any]
) -> None:
    for name, state in machine["States"].items():
        if state["Type"] != "Task":
            continue
        throttled, retry = state["Retry"]
        assert set(retry["ErrorEquals"]) == TRANSIENT, name
        # throttling first, on its own: more attempts and longer waits than a
        # fault (a throttled map task waits for others that hold their slots
        # about a minute)
        assert throttled["ErrorEquals"] == [THROTTLED], name
        assert throttled["MaxAttempts"] > retry["MaxAttempts"]
        assert throttled["MaxDelaySeconds"] > retry["MaxDelaySeconds"] >= 30
        for rule in (throttled, retry):
            for field in ("IntervalSeconds", "BackoffRate", "MaxAttempts", "MaxDelaySeconds"):
                assert field in rule, f"{name} lacks {field}"
            assert rule["JitterStrategy"] == "FULL"
        assert any("States.ALL" in rule["ErrorEquals"] for rule in state["Catch"]), name


def test_top_level_map_states_and_plan_catch_into_mark_failed() -> None:
    states = definition()["States"]
    for name in ("Plan", "MapInline", "MapDistributed", "Reduce", "Finalize"):
        assert states[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MarkFailed"}
        ]
    assert states["MarkFailed"]["Next"] == "JobFailed"
    assert states["JobFailed"]["ErrorPath"] == "$.error.Error"


def test_distributed_map_reads_the_manifest_from_s3() -> None:
    state = definition()["States"]["MapDistributed"]
    assert state["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert state["ItemReader"]["Parameters"]["Bucket"] == "${BucketName}"
    assert state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"


def test_the_distributed_map_tolerates_no_failure_and_writes_its_results_to_s3() -> None:
    """Explicit rather than AWS's default: one failed map task fails the Map
    Run; its results (the failed task's error among them) go to the job's
    map_runs/ prefix, which Plan's output names, so the state's result is small."""
    state = definition()["States"]["MapDistributed"]
    assert state["ToleratedFailureCount"] == 0
    assert state["ResultWriter"] == {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "${BucketName}", "Prefix.$": "$.map_runs_prefix"},
    }
    assert state["ResultPath"] is None


def test_mark_failed_gives_job_failed_the_error_it_recorded() -> None:
    """MarkFailed's answer (a failed Distributed Map's: its first failed task's
    error) replaces ``$.error``, which JobFailed fails the execution with; a
    MarkFailed that fails leaves ``$.error`` as it was."""
    states = definition()["States"]
    mark = states["MarkFailed"]
    assert mark["ResultSelector"] == {"Error.$": "$.Payload.error", "Cause.$": "$.Payload.cause"}
    assert mark["ResultPath"] == "$.error"
    assert mark["Catch"][0]["ResultPath"] is None
    assert (states["JobFailed"]["ErrorPath"], states["JobFailed"]["CausePath"]) == (
        "$.error.Error",
        "$.error.Cause",
    )


def test_placeholders_are_exactly_the_shared_names() -> None:
    text = names.state_machine_path().read_text()
    assert set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)) == set(names.placeholders())


def test_the_local_interpreter_supports_the_whole_definition() -> None:
    """validate refuses anything the interpreter does not run; it accepts the
    definition, and it does look at every state of it, nested ones included:
    a field it does not know, put in any one state, is refused naming it."""
    interpreter.validate(definition())
    for where, machine in machines(definition()):
        for name in machine["States"]:
            altered = definition()
            target = altered
            for step in where.split("/")[1:]:
                target = target["States"][step]["ItemProcessor"]
            target["States"][name]["NotAnAslField"] = 1
            with pytest.raises(interpreter.UnsupportedDefinitionError, match=f"'{name}'"):
                interpreter.validate(altered)


@pytest.mark.parametrize(("throttled", "status"), [(10, "SUCCEEDED"), (11, "FAILED")])
def test_the_definitions_retry_outlasts_throttling(throttled: int, status: str) -> None:
    """A map task throttled 10 times in a row (its function at its reserved
    concurrency) still runs: the definition's own Retry, on the local
    interpreter; the 11th throttle fails it. Each wait at most 120 s."""
    task = definition()["States"]["MapInline"]["ItemProcessor"]["States"]["MapTask"]
    machine = {"StartAt": "T", "States": {"T": {**task, "Catch": [], "End": True}}}
    calls: list[str] = []
    waits: list[float] = []

    def invoke(function: str, payload: Any) -> tuple[bool, Any]:
        calls.append(function)
        if len(calls) <= throttled:
            return False, {"errorType": names.THROTTLED_ERROR, "errorMessage": "Rate Exceeded."}
        return True, {"ok": True}

    run = interpreter.Interpreter(machine, invoke, sleep=waits.append, jitter=lambda s: s)
    execution = run.run({}, f"throttled-{throttled}")
    assert execution.status == status, execution.cause
    assert len(calls) == min(throttled + 1, 11)
    assert max(waits) <= 120 and len(waits) == min(throttled, 10)
    if status == "FAILED":
        assert execution.error == names.THROTTLED_ERROR
