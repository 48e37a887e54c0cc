"""A request's bounds, checked before anything is written: ``chunk_size``
has a floor (``limits.MIN_CHUNK_SIZE``), ``reducers`` a ceiling the state
machine can run (``limits.MAX_REDUCE_TASKS``, derived from the execution
history's 25,000 events), an inline Map at most 40 map tasks. The CLI, Plan
(what ``POST /jobs`` and the upload trigger start) and ``logmr plan`` refuse
alike, with ``InvalidParameterError`` naming the bound; and the state machine
runs at the bound, with every task retried, within its history."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from engine_support import no_sleep, request_for
from logmr import limits, tasks
from logmr.cli import main
from logmr.config import Settings
from logmr.devtools.generate import generate
from logmr.engine.interpreter import RETRY_SCHEDULED
from logmr.errors import InvalidParameterError, TransientError, cause_message
from logmr.run import engine as local_engine
from logmr.run.embedded import embedded_backends
from logmr.spec import INLINE_MAP_MAX_TASKS, JobSpec
from logmr.workflow.names import THROTTLED_ERROR, state_machine_path
from test_fast_parse import REFERENCE

pytestmark = pytest.mark.badinput

CHUNK_FLOOR = (
    "chunk_size must be at least 65,536 bytes (64 KiB; 0: chosen by the planner), got {got}:"
    " a map task's fixed output (its shuffle index and summary) would outweigh a smaller range"
)
REDUCERS_BOUND = (
    "reducers must be 1..466 (0: chosen by the planner), got {got}: the Reduce state, an"
    " inline Map, runs at most 466 reducers within an execution's 25,000 history events"
)


@pytest.fixture
def access_log(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    with path.open("wb") as out:
        generate(out, fmt="apache_combined", lines=2000, seed=41)
    return path


def nothing_written(home: Path) -> bool:
    """No job record and no job object under ``home``."""
    objects = [p for p in (home / "objects").rglob("*") if p.is_file()]
    records = embedded_backends(Settings.load(home=home)).results.list_jobs()
    return not objects and not records


@pytest.mark.functional
@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--chunk-size", "1", CHUNK_FLOOR.format(got="1")),
        ("--chunk-size", "65535", CHUNK_FLOOR.format(got="65,535")),
        ("--reducers", "467", REDUCERS_BOUND.format(got="467")),
        ("--reducers", "5000", REDUCERS_BOUND.format(got="5,000")),
    ],
)
@pytest.mark.parametrize("command", ["run", "plan"])
def test_the_cli_refuses_past_a_bound_before_anything_is_written(
    capsys: pytest.CaptureFixture[str],
    access_log: Path,
    command: str,
    option: str,
    value: str,
    message: str,
) -> None:
    code = main([command, str(access_log), "--job", "status_codes", option, value])
    captured = capsys.readouterr()
    assert (code, captured.out) == (1, "")
    assert captured.err == f"logmr: error: InvalidParameterError: {message}\n"
    assert nothing_written(Settings.load().home)


@pytest.mark.functional
def test_the_cli_takes_the_bounds_themselves(
    capsys: pytest.CaptureFixture[str], access_log: Path
) -> None:
    argv = ["plan", str(access_log), "--job", "status_codes", "--json"]
    assert main([*argv, "--chunk-size", "64KiB", "--reducers", "466"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["chunk_size"], shown["reducers"]) == (65_536, 466)


@pytest.mark.statemachine
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"chunk_size": 1}, CHUNK_FLOOR.format(got="1")),
        ({"reducers": 467}, REDUCERS_BOUND.format(got="467")),
    ],
)
def test_plan_refuses_past_a_bound_on_the_state_machine(
    handler_env: None, access_log: Path, change: dict[str, Any], message: str
) -> None:
    """An execution input past a bound (as ``POST /jobs`` or ``start-execution``
    would send it): Plan fails with the bound's message before it claims the
    id or writes anything; MarkFailed records the job FAILED with it."""
    request = {**request_for(access_log, "status_codes", "bounded-1"), **change}
    execution = local_engine.run_engine(
        request, settings=Settings.load(workers=0), workers=0, sleep=no_sleep
    )
    assert (execution.status, execution.error) == ("FAILED", "InvalidParameterError")
    assert cause_message(execution.cause or "") == message
    backends = embedded_backends(Settings.load())
    assert not [p for p in (Settings.load().home / "objects").rglob("*") if p.is_file()]
    record = backends.results.get_job("bounded-1")
    assert (record.status, record.error, record.cause) == (
        "FAILED",
        "InvalidParameterError",
        message,
    )


@pytest.mark.functional
def test_an_inline_map_of_more_than_its_tasks_is_refused(
    small_chunks: None, access_log: Path
) -> None:
    """The reducers' bound counts on a map phase of at most 40 inline
    iterations: ``map_mode: inline`` over more map tasks is refused at Plan."""
    backends = embedded_backends(Settings.load())
    size = access_log.stat().st_size
    chunk = size // (INLINE_MAP_MAX_TASKS + 5)
    data = {"job_id": "inline-1", "job": "status_codes", "inputs": [str(access_log)]}
    spec = JobSpec.from_dict({**data, "chunk_size": chunk, "map_mode": "inline"})
    tasks_cut = -(-size // chunk)
    with pytest.raises(InvalidParameterError) as refused:
        tasks.plan(spec, backends)
    assert str(refused.value) == (
        f"map_mode 'inline' runs at most 40 map tasks, and the inputs cut into {tasks_cut}:"
        " use 'auto' or 'distributed', or a larger chunk_size"
    )
    assert not backends.objects.list_keys("")  # no manifest
    auto = tasks.plan(
        JobSpec.from_dict({**data, "job_id": "auto-1", "chunk_size": chunk}), backends
    )
    assert auto["distributed"] and auto["map_task_count"] == tasks_cut


# -- the bound itself, run ---------------------------------------------------------------------
@pytest.mark.unit
def test_the_bound_is_derived_from_the_definitions_retries_and_the_history_quota() -> None:
    """Every Task's retriers allow ``limits.TASK_RETRIES`` retries in all
    (Lambda's throttling, and the rest), no Map state retries, and both Map
    states the reducers' bound counts are inline."""
    definition = json.loads(state_machine_path().read_text())

    def states(machine: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for name, state in machine["States"].items():
            found.append((name, state))
            if "ItemProcessor" in state:
                found += states(state["ItemProcessor"])
        return found

    every = states(definition)
    for name, state in every:
        if state["Type"] == "Task":
            assert sum(rule["MaxAttempts"] for rule in state["Retry"]) == limits.TASK_RETRIES, name
        if state["Type"] == "Map":
            assert "Retry" not in state, name
    modes = {name: state["ItemProcessor"]["ProcessorConfig"]["Mode"] for name, state in every
             if state["Type"] == "Map"}  # fmt: skip
    assert (modes["MapInline"], modes["Reduce"]) == ("INLINE", "INLINE")
    assert limits.MAX_REDUCE_TASKS == 466
    worst = limits.OTHER_EVENTS + (INLINE_MAP_MAX_TASKS + limits.MAX_REDUCE_TASKS) * (
        limits.ITERATION_EVENTS
    )
    assert worst <= limits.MAX_HISTORY_EVENTS < worst + limits.ITERATION_EVENTS


#: Lambda's throttling error, as the local dispatcher (and Lambda) name it
Throttled = type(THROTTLED_ERROR, (Exception,), {})


def every_retry(function: str, event: dict[str, Any], attempt: int) -> None:
    """The dispatcher hook that spends a task's whole retry budget: its first
    attempts throttled as often as the throttling retrier allows, the next
    ones ``TransientError`` as often as the other retrier allows, then the
    task runs."""
    if attempt <= THROTTLE_RETRIES:
        raise Throttled("Rate Exceeded.")
    if attempt <= limits.TASK_RETRIES:
        raise TransientError(f"injected on attempt {attempt}")


#: the throttling retrier's MaxAttempts (the rest of TASK_RETRIES is the other retrier's)
THROTTLE_RETRIES = next(
    rule["MaxAttempts"]
    for rule in json.loads(state_machine_path().read_text())["States"]["Plan"]["Retry"]
    if THROTTLED_ERROR in rule["ErrorEquals"]
)


@pytest.mark.statemachine
def test_the_most_reducers_run_within_the_history_with_every_task_retried(
    handler_env: None, tmp_path: Path
) -> None:
    """The state machine at the bound on the local engine, which fails an
    execution whose history would pass 25,000 events as AWS does: 40 inline
    map tasks, ``MAX_REDUCE_TASKS`` reducers, and every task (Plan, each map
    task, PlanReduce, each reducer, Finalize) throttled 10 times, then failing
    4 times with ``TransientError``, before it succeeds. The job is exact, and
    its history counts exactly the events the bound was derived from."""
    log = tmp_path / "access.log"
    with log.open("wb") as out:
        generate(out, fmt="apache_combined", lines=13_000, seed=42)
    size = log.stat().st_size
    chunk = -(-size // INLINE_MAP_MAX_TASKS)
    assert chunk >= limits.MIN_CHUNK_SIZE and -(-size // chunk) == INLINE_MAP_MAX_TASKS
    request = request_for(
        log,
        "status_codes",
        "at-the-bound",
        reducers=limits.MAX_REDUCE_TASKS,
        chunk_size=chunk,
        map_mode="inline",
    )
    execution = local_engine.run_engine(
        request, settings=Settings.load(workers=0), workers=0, hook=every_retry, sleep=no_sleep
    )
    assert execution.status == "SUCCEEDED", execution.cause
    iterations = INLINE_MAP_MAX_TASKS + limits.MAX_REDUCE_TASKS
    history = execution.history
    found = Counter(event["type"] for event in history)
    assert found["MapIterationSucceeded"] == iterations
    assert found["TaskFailed"] == limits.TASK_RETRIES * (iterations + 3)
    # what AWS counts (the local engine's LogmrRetryScheduled aside): the start
    # and end, Plan, PlanReduce and Finalize, ChooseMapMode, the two Map states
    counted = len(history) - found[RETRY_SCHEDULED]
    outside = 2 + 3 * limits.TASK_EVENTS + 2 + 2 * 4
    assert counted == outside + iterations * limits.ITERATION_EVENTS == 24_947
    assert outside <= limits.OTHER_EVENTS  # the rest of the budget: a failure's MarkFailed
    assert counted < limits.MAX_HISTORY_EVENTS
    record = embedded_backends(Settings.load()).results.get_job("at-the-bound")
    assert (record.status, record.map_tasks, record.spec["reducers"]) == (
        "SUCCEEDED",
        INLINE_MAP_MAX_TASKS,
        limits.MAX_REDUCE_TASKS,
    )
    matches = [REFERENCE["apache_combined"].match(line) for line in log.read_bytes().splitlines()]
    statuses = Counter(found[12].decode() for found in matches if found)
    results = dict(embedded_backends(Settings.load()).job_results().iter_results("at-the-bound"))
    assert results == statuses and sum(statuses.values()) > 12_000
