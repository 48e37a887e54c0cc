"""The fault injection suite (issue 5): faults injected into every task type
(Plan, Map, Reduce, Finalize) through the state machine, on the local engine
and on moto's Step Functions interpreter, and storage faults (S3 SlowDown and
500s, DynamoDB throttling and UnprocessedItems) on moto's S3 and DynamoDB.

Every case checks the job against a reference computed here from the log
with a plain regex (not with logmr): exact counts or a loud failure with the
error's name and cause. docs/reliability.md holds the table of outcomes.
"""

from __future__ import annotations

import errno
import json
import os
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from aws_support import BUCKET, create_account, upload
from engine_support import Fault, FaultPlan, comparable, no_sleep, request_for
from logmr import layout, tasks
from logmr.cli import main
from logmr.config import Settings
from logmr.devtools.generate import generate
from logmr.engine.dispatcher import Dispatcher
from logmr.errors import JobExistsError, TransientError, cause_message
from logmr.handlers import runtime
from logmr.mapreduce import shuffle
from logmr.run import engine as local_engine
from logmr.run.embedded import embedded_backends
from logmr.spec import JobSpec, MapTask
from logmr.storage import folder
from logmr.storage.sqlite import SqliteResultStore
from logmr.workflow.names import FUNCTIONS, TIMEOUT_ERROR
from moto_engine import MOTO_CONFIG, StateMachine, dispatching

#: the topic; each test carries its tier (statemachine, but for one call of the Plan task)
pytestmark = pytest.mark.faults

TASK_TYPES = ("Plan", "Map", "Reduce", "Finalize")
#: which invocation of each task type a fault aims at
WHEN: dict[str, dict[str, Any]] = {
    "Plan": {},
    "Map": {"task": {"task": 1}},
    "Reduce": {"partition": 1},
    "Finalize": {},
}
#: the state machine's Retry: MaxAttempts retries after the first attempt
MAX_ATTEMPTS = 4
ENGINES = ("local", "moto")
LINES = 3000
#: ~700 KB of log in 100 KB ranges: 7 map tasks; 3 reducers
EXTRA = {"chunk_size": 100_000, "reducers": 3}


# -- the reference, computed without logmr ---------------------------------------------
@dataclass
class Reference:
    words: dict[str, int]
    lines: int


def count_words(data: bytes) -> Reference:
    """word_count by hand: runs of [a-z0-9_] in the lowercased line, per line."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    words: Counter[str] = Counter()
    for line in lines:
        words.update(word.decode("ascii") for word in re.findall(rb"[a-z0-9_]+", line.lower()))
    return Reference(dict(words), len(lines))


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fault-logs") / "access.log"
    with path.open("wb") as out:
        generate(out, fmt="apache_combined", lines=LINES, seed=5)
    return path


@pytest.fixture(scope="module")
def reference(log: Path) -> Reference:
    ref = count_words(log.read_bytes())
    assert ref.lines == LINES and len(ref.words) > 100
    return ref


# -- running a job on either engine ------------------------------------------------------
@dataclass
class Outcome:
    status: str
    error: str | None
    cause: str | None


def run_job(
    engine: str,
    request: dict[str, Any],
    plan: FaultPlan | None = None,
    name: str = "",
    timeouts: dict[str, float] | None = None,
) -> Outcome:
    """The request through the state machine on ``engine``, handlers in this
    process; the execution is named ``name`` or by the job id. ``timeouts``
    (function -> seconds) emulates Lambda's timeouts."""
    hook = plan or FaultPlan()
    if engine == "local":
        execution = local_engine.run_engine(
            request,
            settings=Settings.load(workers=0),
            workers=0,
            hook=hook,
            sleep=no_sleep,
            timeouts=timeouts,
        )
        return Outcome(execution.status, execution.error, execution.cause)
    with (
        mock_aws(config=MOTO_CONFIG),
        dispatching(Dispatcher(dict(FUNCTIONS), workers=0, hook=hook, timeouts=timeouts)),
    ):
        machine = StateMachine(bucket="logmr-local")
        machine.deploy()
        described = machine.run(request, name or request["job_id"])
    return Outcome(described["status"], described.get("error"), described.get("cause"))


def store() -> Any:
    return embedded_backends(Settings.load())


def assert_exact(job_id: str, reference: Reference) -> None:
    """SUCCEEDED, one result per word with its exact count, every line counted once."""
    results = store().job_results()
    record = results.get_job(job_id)
    assert (record.status, record.error) == ("SUCCEEDED", None)
    assert dict(results.iter_results(job_id)) == reference.words
    assert record.counters["records"] == reference.lines
    assert record.result_keys == len(reference.words)


def word_count(job_id: str, log: Path, **extra: Any) -> dict[str, Any]:
    return request_for(log, "word_count", job_id, **{**EXTRA, **extra})


# -- 1. transient failures that end -------------------------------------------------------
@pytest.mark.statemachine
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("task", TASK_TYPES)
def test_transient_failures_then_success_give_exact_counts(
    handler_env: None, log: Path, reference: Reference, task: str, engine: str
) -> None:
    # the local engine does not wait: fail MaxAttempts - 1 times; moto really
    # waits (jittered 1 s, 2 s, ...): fail twice
    failures = MAX_ATTEMPTS - 1 if engine == "local" else 2
    fault = Fault(task, "TransientError", attempts=tuple(range(1, failures + 1)), when=WHEN[task])
    plan = FaultPlan(fault)
    outcome = run_job(engine, word_count(f"flaky-{task.lower()}", log), plan)
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert fault.fired == failures
    assert_exact(f"flaky-{task.lower()}", reference)


# -- 2. transient failures that never end ---------------------------------------------------
@pytest.mark.statemachine
@pytest.mark.parametrize(
    ("engine", "task"),
    [("local", task) for task in TASK_TYPES] + [("moto", "Finalize")],
)
def test_transient_failure_on_every_attempt_fails_the_job_loudly(
    handler_env: None,
    capsys: pytest.CaptureFixture[str],
    log: Path,
    task: str,
    engine: str,
) -> None:
    job_id = f"down-{task.lower()}"
    fault = Fault(task, "TransientError", attempts=tuple(range(1, 10)), when=WHEN[task])
    outcome = run_job(engine, word_count(job_id, log), FaultPlan(fault))
    last = f"injected TransientError on attempt {MAX_ATTEMPTS + 1}"
    assert (outcome.status, outcome.error) == ("FAILED", "TransientError")
    assert fault.fired == MAX_ATTEMPTS + 1  # the first attempt and every retry
    record = store().results.get_job(job_id)
    assert (record.status, record.error, record.cause) == ("FAILED", "TransientError", last)
    capsys.readouterr()
    assert main(["status", job_id]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"job {job_id}: FAILED (word_count)\n")
    assert f"error: TransientError: {last}\n" in out


# -- 3. permanent failures: real ones, each task type ---------------------------------------
def _delete_input(path: Path) -> Callable[[dict[str, Any]], None]:
    def action(event: dict[str, Any]) -> None:
        path.unlink()

    return action


def _corrupt_shuffle(event: dict[str, Any]) -> None:
    """Flip a byte of map task 0's shuffle index: every reducer reading it after
    this (the one whose call fired the fault, at least) fails its index CRC.
    (A block's byte would not do: that partition's reducer may have read it
    already, the reducers running concurrently.)"""
    objects = store().objects
    job_id = event["spec"]["job_id"]
    key = layout.shuffle_key(job_id, 0)
    data = bytearray(objects.get(key))
    # the first index entry's first byte: after the head, the binding and its job id
    data[shuffle.header_size(0, job_id) - 4] ^= 0xFF
    objects.put(key, bytes(data))


def _lose_reduce_summary(event: dict[str, Any]) -> None:
    store().objects.delete([layout.reduce_summary_key(event["spec"]["job_id"], 0)])


@dataclass
class Permanent:
    """A real permanent fault: how to cause it and the error it must fail with."""

    task: str
    error: str
    params: dict[str, Any] | None = None
    action: str = ""


PERMANENT = [
    Permanent("Plan", "InvalidParameterError", params={"no_such_param": "1"}),
    Permanent("Map", "InputNotFoundError", action="delete the input before the first Map"),
    Permanent("Reduce", "CorruptShuffleError", action="flip a byte of a shuffle object"),
    Permanent("Finalize", "InputNotFoundError", action="delete a reduce summary"),
]


@pytest.mark.statemachine
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", PERMANENT, ids=[case.task for case in PERMANENT])
def test_permanent_failure_fails_at_once_without_retries(
    handler_env: None, tmp_path: Path, log: Path, case: Permanent, engine: str
) -> None:
    job_id = f"broken-{case.task.lower()}"
    copy = tmp_path / "input.log"  # the Map case deletes it
    copy.write_bytes(log.read_bytes())
    actions = {
        "Map": _delete_input(copy),
        "Reduce": _corrupt_shuffle,
        "Finalize": _lose_reduce_summary,
    }
    faults = []
    if case.task in actions:
        faults.append(Fault(case.task, action=actions[case.task], limit=1))
    plan = FaultPlan(*faults)
    request = word_count(job_id, copy, params=case.params or {})
    outcome = run_job(engine, request, plan)
    assert (outcome.status, outcome.error) == ("FAILED", case.error), outcome.cause
    for fault in faults:
        assert fault.fired == 1
    # no retries wasted: every invocation of the failing task type was its first attempt
    assert plan.attempts(case.task) and set(plan.attempts(case.task)) == {1}
    later = TASK_TYPES[TASK_TYPES.index(case.task) + 1 :]
    assert not [name for name, _ in plan.calls if name in later]
    record = store().results.get_job(job_id)
    assert (record.status, record.error) == ("FAILED", case.error)
    assert record.cause


# -- 3b. a task that outlives its Lambda timeout ---------------------------------------------
#: a task slowed down by this long against a timeout of TIMEOUT seconds
SLOW, TIMEOUT = 0.3, 0.1


@pytest.mark.statemachine
@pytest.mark.parametrize(
    ("engine", "task"),
    [("local", task) for task in TASK_TYPES] + [("moto", "Map")],
)
def test_a_task_outliving_its_timeout_fails_the_job_without_retries(
    handler_env: None, log: Path, task: str, engine: str
) -> None:
    """Lambda reports a timed-out function as ``Sandbox.Timedout``; the state
    machine does not retry it (a chunk too big for its timeout stays too big:
    the planner sizes chunks to finish well inside it), so the job fails
    loudly with that name."""
    job_id = f"slow-{task.lower()}"
    fault = Fault(task, delay=SLOW, attempts=(1,), when=WHEN[task])
    plan = FaultPlan(fault)
    outcome = run_job(engine, word_count(job_id, log), plan, timeouts={task: TIMEOUT})
    assert (outcome.status, outcome.error) == ("FAILED", TIMEOUT_ERROR), outcome.cause
    assert fault.fired == 1
    assert set(plan.attempts(task)) == {1}  # never retried
    later = TASK_TYPES[TASK_TYPES.index(task) + 1 :]
    assert not [name for name, _ in plan.calls if name in later]
    record = store().results.get_job(job_id)
    assert (record.status, record.error) == ("FAILED", TIMEOUT_ERROR)
    assert record.cause == f"Task timed out after {TIMEOUT:.2f} seconds"


@pytest.mark.statemachine
@pytest.mark.parametrize("engine", ENGINES)
def test_slow_tasks_inside_their_timeouts_give_exact_counts(
    handler_env: None, log: Path, reference: Reference, engine: str
) -> None:
    """The emulated timeouts fail only what outlives them: every task type
    slowed down, each well inside its limit."""
    faults = [Fault(task, delay=0.05, attempts=(1,), when=WHEN[task]) for task in TASK_TYPES]
    timeouts = dict.fromkeys([*TASK_TYPES, "MarkFailed"], 60.0)
    outcome = run_job(
        engine, word_count("slow-but-fine", log), FaultPlan(*faults), timeouts=timeouts
    )
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert all(fault.fired == 1 for fault in faults)
    assert_exact("slow-but-fine", reference)


# -- 3c. job data bound to its job, task and attempt --------------------------------------------
def _copy(key_of: Callable[[str], tuple[str, str]]) -> Callable[[dict[str, Any]], None]:
    """An action putting a valid object in another's place: ``key_of(job_id)``
    gives (source key, target key)."""

    def action(event: dict[str, Any]) -> None:
        source, target = key_of(event["spec"]["job_id"])
        objects = store().objects
        objects.put(target, objects.get(source))

    return action


def _edit_map_summary(event: dict[str, Any]) -> None:
    """Map task 0's summary with one more record counted, as a hand would edit it."""
    objects = store().objects
    key = layout.map_summary_key(event["spec"]["job_id"], 0)
    summary = objects.get_json(key)
    summary["counters"]["records"] += 1
    objects.put_json(key, summary)


def _late_map_attempt(event: dict[str, Any]) -> None:
    """Map task 0 run again, as a slow earlier attempt that finishes after
    the reducers read: its object and its summary, another attempt's."""
    spec = JobSpec.from_dict(event["spec"])
    backends = store()
    item = backends.objects.get_json(layout.manifest_key(spec.job_id))["map_tasks"][0]
    tasks.map_task(spec, MapTask.from_dict(item), backends)


@dataclass
class Mixup:
    """Job data in another's place, or of another attempt: where it is done,
    the task that must fail, and how."""

    name: str
    before: str  # the function before whose first invocation the action runs
    action: Callable[[dict[str, Any]], None]
    failing: str
    error: str
    cause: str  # a regex; {job} is the job id


MIXUPS = [
    Mixup(
        "another task's shuffle object",
        "PlanReduce",  # before any reducer reads (one between its index and block reads: CRC)
        _copy(lambda job: (layout.shuffle_key(job, 1), layout.shuffle_key(job, 0))),
        "Reduce",
        "CorruptShuffleError",
        r"shuffle/../{job}/m-00000\.bin: the shuffle object of job '{job}' map task 1 \(attempt"
        r" [0-9a-f]{{16}}\), not of job '{job}' map task 0: another task's output in its place",
    ),
    Mixup(
        "another job's shuffle object",
        "PlanReduce",
        _copy(lambda job: (layout.shuffle_key("bound-other", 0), layout.shuffle_key(job, 0))),
        "Reduce",
        "CorruptShuffleError",
        r"m-00000\.bin: the shuffle object of job 'bound-other'.*, not of job '{job}'"
        r"( map task 0)?: another job's output in its place",
    ),
    Mixup(
        "another task's map summary",
        "PlanReduce",
        _copy(lambda job: (layout.map_summary_key(job, 1), layout.map_summary_key(job, 0))),
        "PlanReduce",
        "CorruptJobDataError",
        r"{job}/tasks/m-00000\.json: the summary of job '{job}' task 1, not of job '{job}' task 0:"
        r" another task's summary in its place",
    ),
    Mixup(
        "an edited map summary",
        "Finalize",
        _edit_map_summary,
        "Finalize",
        "CorruptJobDataError",
        r"{job}/tasks/m-00000\.json: its digest does not match its content \(edited\)",
    ),
    Mixup(
        "a map task's late attempt after the reducers read",
        "Finalize",
        _late_map_attempt,
        "Finalize",
        "CorruptJobDataError",
        r"{job}/tasks/r-00000\.json: reducer 0 read map outputs of other attempts than the map"
        r" summaries name .*: adding them up would mix two attempts; run the job again",
    ),
]


@pytest.mark.statemachine
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mixup", MIXUPS, ids=[mixup.name for mixup in MIXUPS])
def test_job_data_of_another_task_job_or_attempt_fails_the_job_naming_it(
    handler_env: None, log: Path, mixup: Mixup, engine: str
) -> None:
    """A valid object in another's place (another task's or job's shuffle
    object, another task's summary), an edited summary, or a map output of
    another attempt than its summary's: the task that reads it fails at once
    with the error naming the object, and the job is FAILED with it; never
    counted."""
    if "another job" in mixup.name:  # the other job's data, in the same store
        assert run_job(engine, word_count("bound-other", log), name="other").status == "SUCCEEDED"
    job_id = f"bound-{engine}"
    fault = Fault(mixup.before, action=mixup.action, limit=1)
    plan = FaultPlan(fault)
    outcome = run_job(engine, word_count(job_id, log), plan)
    assert (outcome.status, outcome.error) == ("FAILED", mixup.error), outcome.cause
    assert fault.fired == 1
    cause = mixup.cause.format(job=job_id)
    assert re.search(cause, cause_message(outcome.cause or "")), outcome.cause
    assert set(plan.attempts(mixup.failing)) == {1}  # permanent: not retried
    later = ["PlanReduce", "Reduce", "Finalize"]
    assert not [name for name, _ in plan.calls if name in later[later.index(mixup.failing) + 1 :]]
    record = store().results.get_job(job_id)
    assert (record.status, record.error) == ("FAILED", mixup.error)
    assert re.search(cause, record.cause or "")


@pytest.mark.statemachine
def test_a_swapped_shuffle_object_on_s3_fails_the_job_naming_it(
    aws_handler_env: None, log: Path
) -> None:
    """The same swap on moto's S3 and DynamoDB, through moto's Step Functions:
    the error names the object as S3 has it (under the stack's data prefix)."""
    job_id = "bound-s3"

    def swap(event: dict[str, Any]) -> None:
        objects = runtime.backends().objects
        objects.put(layout.shuffle_key(job_id, 0), objects.get(layout.shuffle_key(job_id, 1)))

    fault = Fault("PlanReduce", action=swap, limit=1)  # after Map, before any reducer reads
    plan = FaultPlan(fault)
    with mock_aws(config=MOTO_CONFIG):
        s3 = create_account()
        uri = upload(s3, log, "incoming/faults/access.log")
        with dispatching(Dispatcher(dict(FUNCTIONS), workers=0, hook=plan)):
            machine = StateMachine(bucket=BUCKET)
            machine.deploy()
            described = machine.run({**word_count(job_id, log), "inputs": [uri]}, job_id)
        record = runtime.backends().results.get_job(job_id)
    assert (described["status"], described.get("error")) == ("FAILED", "CorruptShuffleError")
    assert fault.fired == 1 and set(plan.attempts("Reduce")) == {1}
    assert (record.status, record.error) == ("FAILED", "CorruptShuffleError")
    assert re.fullmatch(
        rf"logmr/shuffle/../{job_id}/m-00000\.bin: the shuffle object of job '{job_id}' map task"
        rf" 1 \(attempt [0-9a-f]{{16}}\), not of job '{job_id}' map task 0: another task's output"
        r" in its place",
        record.cause or "",
    ), record.cause


# -- 4. duplicated tasks and a repeated job id ------------------------------------------------
@pytest.mark.statemachine
@pytest.mark.parametrize("task", TASK_TYPES)
def test_a_task_executed_twice_counts_once(
    handler_env: None, log: Path, reference: Reference, task: str
) -> None:
    fault = Fault(task, duplicate=True)
    outcome = run_job("local", word_count(f"twice-{task.lower()}", log), FaultPlan(fault))
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert_exact(f"twice-{task.lower()}", reference)
    tasks_run = {"Map": store().results.get_job(f"twice-{task.lower()}").map_tasks, "Reduce": 3}
    assert fault.fired == tasks_run.get(task, 1)  # each invocation ran twice


@pytest.mark.statemachine
def test_a_task_executed_twice_counts_once_on_moto(
    handler_env: None, log: Path, reference: Reference
) -> None:
    faults = [Fault(task, duplicate=True) for task in TASK_TYPES]
    outcome = run_job("moto", word_count("twice-moto", log), FaultPlan(*faults))
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert_exact("twice-moto", reference)
    map_tasks = store().results.get_job("twice-moto").map_tasks
    assert [fault.fired for fault in faults] == [1, map_tasks, 3, 1]


@pytest.mark.statemachine
@pytest.mark.parametrize("engine", ENGINES)
def test_a_finished_job_id_is_refused_and_its_results_stay(
    handler_env: None, log: Path, reference: Reference, engine: str
) -> None:
    request = word_count("again-1", log)
    assert run_job(engine, request).status == "SUCCEEDED"
    results = store().job_results()
    before = comparable(results.get_job("again-1"))
    # the same request again, then another job under the same id (on AWS a
    # second execution needs another name: Step Functions refuses a used one)
    for repeat in (request, {**request, "job": "status_codes"}):
        outcome = run_job(engine, repeat, name="another-execution")
        assert (outcome.status, outcome.error) == ("FAILED", "JobExistsError")
        assert "'again-1' is SUCCEEDED" in (outcome.cause or "")
        assert comparable(results.get_job("again-1")) == before  # not marked FAILED
        assert_exact("again-1", reference)


@pytest.mark.statemachine
def test_a_failed_job_id_is_refused_too(handler_env: None, log: Path) -> None:
    bad = word_count("again-2", log, params={"no_such_param": "1"})
    assert run_job("local", bad).error == "InvalidParameterError"
    outcome = run_job("local", word_count("again-2", log))
    assert (outcome.status, outcome.error) == ("FAILED", "JobExistsError")
    record = store().results.get_job("again-2")
    assert (record.status, record.error) == ("FAILED", "InvalidParameterError")
    assert list(store().job_results().iter_results("again-2")) == []


@pytest.mark.functional
def test_plan_again_in_the_same_execution_is_a_retry_another_is_refused(
    handler_env: None, log: Path
) -> None:
    """Plan retried (or run twice) in one execution: the same plan; the same
    id from another execution while the record is RUNNING, even with the same
    spec: refused, the record left as the first execution wrote it."""
    backends = store()
    spec = JobSpec.from_dict(word_count("again-3", log))
    first = tasks.plan(spec, backends, execution="first")
    assert backends.results.get_job("again-3").status == "RUNNING"
    assert tasks.plan(spec, backends, execution="first") == first
    before = backends.results.get_job("again-3").to_dict()
    for other in (spec, JobSpec.from_dict(word_count("again-3", log, reducers=4))):
        with pytest.raises(JobExistsError, match=r"'again-3' is RUNNING .*another run"):
            tasks.plan(other, backends, execution="second")
    assert backends.results.get_job("again-3").to_dict() == before


#: requests that fail at Plan, each named as it fails (the job id is the victim's)
FAILING_REQUESTS = [
    ({"job": "nope"}, "InvalidJobError"),
    ({"job": "top_paths", "params": {"top": "-1"}}, "InvalidParameterError"),
    ({"reducers": -1}, "InvalidParameterError"),
    ({"params": {"no_such_param": "1"}}, "InvalidParameterError"),
]


@pytest.mark.statemachine
@pytest.mark.parametrize("engine", ENGINES)
def test_a_failing_request_under_another_jobs_id_leaves_that_job_alone(
    handler_env: None, log: Path, reference: Reference, engine: str
) -> None:
    """A request that fails before or at Plan, sent under a finished job's id:
    its own execution fails with its own error; MarkFailed writes nothing (the
    record is the other execution's), the job stays SUCCEEDED with its results."""
    job_id = f"victim-{engine}"
    assert run_job(engine, word_count(job_id, log)).status == "SUCCEEDED"
    results = store().job_results()
    before = comparable(results.get_job(job_id))
    for number, (change, error) in enumerate(FAILING_REQUESTS):
        request = {**word_count(job_id, log), **change}
        outcome = run_job(engine, request, name=f"attack-{number}")
        assert (outcome.status, outcome.error) == ("FAILED", error), outcome.cause
        assert comparable(results.get_job(job_id)) == before
        assert_exact(job_id, reference)


@pytest.mark.statemachine
def test_a_worker_killed_mid_job_is_retried_and_exact(
    handler_env: None, log: Path, reference: Reference
) -> None:
    """``kill -9`` of a worker process while map tasks run: the invocations it
    broke fail with ``TransientError``, Retry runs them again on a new pool,
    and the job is exact (no BrokenProcessPool, no record left RUNNING)."""
    import os
    import signal

    settings = Settings.load(workers=2)
    killed: list[int] = []
    with local_engine.worker_pool(settings, 2) as pool:

        def kill_a_worker(name: str, event: dict[str, Any], attempt: int) -> None:
            if name == "Map" and event["task"]["task"] == 1 and attempt == 1:
                pool.wait_ready()
                killed.append(pool.pids()[0])
                os.kill(killed[0], signal.SIGKILL)

        execution = local_engine.run_engine(
            word_count("killed-1", log),
            settings=settings,
            pool=pool,
            hook=kill_a_worker,
            sleep=no_sleep,
        )
        assert killed and pool.replaced == 1
    assert (execution.status, execution.error) == ("SUCCEEDED", None), execution.cause
    assert_exact("killed-1", reference)
    retried = [
        event
        for event in execution.history
        if event["type"] == "TaskFailed"
        and "TransientError" in json.dumps(event.get("taskFailedEventDetails", {}))
    ]
    assert retried  # the broken invocations failed as TransientError and were retried


# -- 5. a reducer that crashes halfway through writing its results ----------------------------
@pytest.mark.statemachine
def test_a_reducer_crashing_after_a_partial_write_leaves_one_correct_value_per_key(
    handler_env: None, monkeypatch: pytest.MonkeyPatch, log: Path, reference: Reference
) -> None:
    results = runtime.backends().results  # the cached store the in-process handlers use
    original = results.write_results
    crashes: list[int] = []

    def crash_halfway(job_id: str, rows: list[tuple[str, Any, float]]) -> None:
        if crashes:
            original(job_id, rows)
            return
        half = rows[: len(rows) // 2]
        original(job_id, half)
        crashes.append(len(half))
        raise TransientError(f"crashed after writing {len(half)} of {len(rows)} rows")

    monkeypatch.setattr(results, "write_results", crash_halfway)
    plan = FaultPlan()
    outcome = run_job("local", word_count("partial-1", log), plan)
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert crashes and crashes[0] > 10  # a real partial write happened
    assert sorted(plan.attempts("Reduce")) == [1, 1, 1, 2]  # one reducer retried once
    assert_exact("partial-1", reference)


# -- 6. S3 and DynamoDB faults, on moto's S3 and DynamoDB ---------------------------------------
def _client_error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class Storage:
    """Patches of the in-process handlers' S3 and DynamoDB clients; each
    counts the faults it injected in ``injected``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, backends: Any) -> None:
        self.monkeypatch = monkeypatch
        self.s3 = backends.objects.client  # the inputs share it (one Clients)
        self.dynamodb = backends.results.client
        self.injected = 0

    def fail_first(
        self,
        client: Any,
        method: str,
        matches: Callable[[dict[str, Any]], bool],
        error: ClientError,
    ) -> None:
        original = getattr(client, method)

        def patched(**kwargs: Any) -> Any:
            if not self.injected and matches(kwargs):
                self.injected += 1
                raise error
            return original(**kwargs)

        self.monkeypatch.setattr(client, method, patched)

    def unprocessed(self, calls: int) -> None:
        """batch_write_item leaves half of each batch unprocessed, ``calls`` times."""
        original = self.dynamodb.batch_write_item

        def patched(RequestItems: dict[str, list[Any]], **kwargs: Any) -> Any:
            if self.injected >= calls:
                return original(RequestItems=RequestItems, **kwargs)
            self.injected += 1
            done: dict[str, list[Any]] = {}
            left: dict[str, list[Any]] = {}
            for table, requests in RequestItems.items():
                cut = (len(requests) + 1) // 2
                done[table], left[table] = requests[:cut], requests[cut:]
            response = original(RequestItems=done, **kwargs)
            response["UnprocessedItems"] = {table: r for table, r in left.items() if r}
            return response

        self.monkeypatch.setattr(self.dynamodb, "batch_write_item", patched)

    def http_error_first(self, client: Any, event: str, status: int, code: str) -> None:
        """The HTTP response of the first matching request is an error: botocore's
        own retry sees it (registered before moto's responder)."""
        from botocore.awsrequest import AWSResponse

        def respond(request: Any, **kwargs: Any) -> Any:
            if self.injected:
                return None
            self.injected += 1
            if client.meta.service_model.service_name == "s3":
                body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>"
                headers = {"Content-Type": "application/xml"}
            else:
                body = json.dumps({"__type": code, "message": "injected"})
                headers = {"Content-Type": "application/x-amz-json-1.0"}
            raw = _Raw(body.encode())
            return AWSResponse(request.url, status, headers, raw)

        client.meta.events.register_first(f"before-send.{event}", respond)


class _Raw:
    """The raw stream an AWSResponse reads its body from."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.data


def _is_shuffle(kwargs: dict[str, Any]) -> bool:
    return f"/{layout.SHUFFLE_PREFIX}" in f"/{kwargs['Key']}"


def _is_map_read(kwargs: dict[str, Any]) -> bool:
    """A map task's open-ended read of its range (``bytes=N-``, N > 0)."""
    found = re.fullmatch(r"bytes=([0-9]+)-", kwargs.get("Range", ""))
    return kwargs["Key"].startswith("incoming/") and found is not None and int(found[1]) > 0


STORAGE: dict[str, tuple[Callable[[Storage], None], str]] = {
    # name: (install the fault, where it is retried)
    "s3-slowdown-shuffle-get": (
        lambda s: s.fail_first(
            s.s3, "get_object", _is_shuffle, _client_error("SlowDown", 503, "GetObject")
        ),
        "Reduce",
    ),
    "s3-500-input-get": (
        lambda s: s.fail_first(
            s.s3, "get_object", _is_map_read, _client_error("InternalError", 500, "GetObject")
        ),
        "Map",
    ),
    "dynamodb-throttled-batch-write": (
        lambda s: s.fail_first(
            s.dynamodb,
            "batch_write_item",
            lambda kwargs: True,
            _client_error("ProvisionedThroughputExceededException", 400, "BatchWriteItem"),
        ),
        "adapter",  # the result store sends a batch throttled whole again (aws.dynamodb)
    ),
    "dynamodb-unprocessed-items": (lambda s: s.unprocessed(calls=3), "adapter"),
    "s3-503-slowdown-put-http": (
        lambda s: s.http_error_first(s.s3, "s3.PutObject", 503, "SlowDown"),
        "botocore",
    ),
    # a 500, not a throttle: after a throttling answer botocore's adaptive mode
    # slows the (here shared) client for seconds, as the S3 case shows
    "dynamodb-500-put-item-http": (
        lambda s: s.http_error_first(s.dynamodb, "dynamodb.PutItem", 500, "InternalServerError"),
        "botocore",
    ),
}


@pytest.mark.statemachine
@pytest.mark.parametrize("case", list(STORAGE))
def test_storage_faults_on_s3_and_dynamodb_are_retried_and_exact(
    aws_handler_env: None,
    monkeypatch: pytest.MonkeyPatch,
    log: Path,
    reference: Reference,
    case: str,
) -> None:
    install, retried_by = STORAGE[case]
    plan = FaultPlan()
    job_id = f"aws-{case}"
    with mock_aws(config=MOTO_CONFIG):
        s3 = create_account()
        uri = upload(s3, log, "incoming/faults/access.log")
        backends = runtime.backends()
        storage = Storage(monkeypatch, backends)
        install(storage)
        with dispatching(Dispatcher(dict(FUNCTIONS), workers=0, hook=plan)):
            machine = StateMachine(bucket=BUCKET)
            machine.deploy()
            described = machine.run({**word_count(job_id, log), "inputs": [uri]}, job_id)
        assert described["status"] == "SUCCEEDED", described.get("cause")
        assert storage.injected >= 1
        record = backends.results.get_job(job_id)
        results = dict(backends.job_results().iter_results(job_id))
    retried = {name for name, attempt in plan.calls if attempt > 1}
    assert retried == ({retried_by} if retried_by in TASK_TYPES else set())
    assert (record.status, record.error) == ("SUCCEEDED", None)
    assert results == reference.words
    assert record.counters["records"] == reference.lines


# -- 7. the CLI stopped by a signal ---------------------------------------------------------
@pytest.mark.functional
def test_sigterm_stops_the_workers_and_records_the_job_aborted(tmp_path: Path) -> None:
    """``kill -TERM`` of ``logmr run`` mid-job: it exits 143 with one line,
    the job is FAILED (``Aborted``), its workers are gone, and nothing holds
    its stdout (``logmr run ... | wc -c`` ends: ``communicate`` returns only
    at end of file). The timeouts guard against a hang; nothing is timed."""
    import subprocess
    import sys

    from conftest import REPO

    log = tmp_path / "big.log"
    with log.open("wb") as out:
        generate(out, fmt="apache_combined", lines=150_000, seed=8)
    home = tmp_path / "home"
    argv = ["run", str(log), "--job", "word_count", "--workers", "2", "--chunk-size", "256KB"]
    process = subprocess.Popen(  # as the logmr command runs
        [sys.executable, "-m", "logmr.cli", *argv, "--job-id", "termed", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        _stop_mid_job(process, home)
    finally:  # whatever happened, nothing of it outlives the test
        if process.poll() is None:
            process.kill()
            process.communicate()


def _stop_mid_job(process: Any, home: Path) -> None:
    """Wait until the job is under way, send SIGTERM, check what it left."""
    import signal
    import time

    results = embedded_backends(Settings.load(home=home)).results
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        record = results.load_job("termed") if (home / "logmr.sqlite").exists() else None
        logs = list((home / "logs").glob("*.log"))
        if record is not None and record.map_tasks and len(logs) >= 2:
            break  # planned, its workers started: the job is under way
        time.sleep(0.05)
    assert process.poll() is None, "the job ended before it could be stopped"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)  # at end of file: nothing holds its pipes
    assert process.returncode == 128 + signal.SIGTERM, err.decode()
    assert err.decode().endswith("logmr: terminated\n") and b"Traceback" not in err, err
    record = results.get_job("termed")
    assert (record.status, record.error) == ("FAILED", "Aborted")
    workers = [int(path.stem.split("-")[1]) for path in (home / "logs").glob("worker-*.log")]
    deadline = time.monotonic() + 30  # a killed orphan is reaped by init: a guard, not a timing
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers and not any(map(_alive, workers))


def _alive(pid: int) -> bool:
    """A process that runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


# -- failures no Catch can take ------------------------------------------------------------
@pytest.mark.statemachine
def test_an_uncatchable_failure_leaves_no_record_running(
    handler_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Plan's output past 256 KiB (3,000 inputs, their pieces in an inline
    Map) is States.DataLimitExceeded, which no Catch takes (as on AWS):
    the execution fails without MarkFailed, and the local engine's reconciler
    records the job FAILED with the execution's error and cause, not RUNNING.
    (Plan refuses an inline Map past 40 map tasks or 64 KiB of their JSON:
    those bounds are lifted here, in this process, so that the plan's output
    can pass the quota.)"""
    from logmr.plan import planner

    monkeypatch.setattr(planner, "INLINE_MAP_MAX_TASKS", 10_000)
    monkeypatch.setattr(planner, "INLINE_MAP_MAX_JSON_BYTES", 10**9)
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(3_000):
        (folder / f"part-{index:05d}.log").write_bytes(b"one line\n")
    request = request_for(folder, "word_count", "too-big-1", map_mode="inline")
    outcome = run_job("local", request)
    assert (outcome.status, outcome.error) == ("FAILED", "States.DataLimitExceeded")
    record = store().job_results().get_job("too-big-1")
    assert (record.status, record.error) == ("FAILED", "States.DataLimitExceeded")
    assert "262144-byte quota" in record.cause  # the quota the Plan output went past


# -- 8. a full disk under LOGMR_HOME -----------------------------------------------------------
def _sqlite_full() -> sqlite3.OperationalError:
    """A real SQLITE_FULL ("database or disk is full"), from a database that may not grow."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.execute("PRAGMA max_page_count = 2")
    try:
        while True:
            conn.execute("INSERT INTO t VALUES (?)", ("x" * 1000,))
    except sqlite3.OperationalError as exc:
        assert exc.sqlite_errorcode == sqlite3.SQLITE_FULL
        return exc
    finally:
        conn.close()


class FullDisk:
    """A disk under LOGMR_HOME that fills up: the folder store's writes of
    keys matching ``objects`` write half their bytes and fail with ENOSPC, and
    the SQLite store's statements matching ``rows`` (SQL text, parameters)
    fail with a real SQLITE_FULL. Each failure is counted in ``failed``."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        objects: Callable[[str], bool] = lambda path: False,
        rows: Callable[[str, Any], bool] = lambda sql, params: False,
    ) -> None:
        self.failed: list[str] = []
        write, connection = folder._write, SqliteResultStore.conn.fget
        full = _sqlite_full()

        def half_written(path: Path, data: bytes) -> None:
            if not objects(str(path)):
                return write(path, data)
            path.write_bytes(data[: len(data) // 2])
            self.failed.append(str(path))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

        disk = self

        class Connection:
            def __init__(self, conn: sqlite3.Connection) -> None:
                self._conn = conn

            def execute(self, sql: str, params: Any = ()) -> Any:
                if rows(sql, params):
                    disk.failed.append(sql)
                    raise full
                return self._conn.execute(sql, params)

            def executemany(self, sql: str, params: Any) -> Any:
                if rows(sql, params):
                    disk.failed.append(sql)
                    raise full
                return self._conn.executemany(sql, params)

            def __getattr__(self, name: str) -> Any:
                return getattr(self._conn, name)

        monkeypatch.setattr(folder, "_write", half_written)
        monkeypatch.setattr(
            SqliteResultStore, "conn", property(lambda store: Connection(connection(store)))
        )


def _is_shuffle_path(path: str) -> bool:
    return f"/{layout.SHUFFLE_PREFIX}" in path


#: what to do, in the one line a full disk is
FREE_SPACE = (
    "the disk under LOGMR_HOME is full: free space there, or give another folder with --home"
    " or LOGMR_HOME, and run the job again"
)
NO_SPACE = ": No space left on device: " + FREE_SPACE


@pytest.mark.statemachine
@pytest.mark.parametrize("where", ["shuffle object", "result rows"])
def test_a_full_disk_fails_the_job_at_once_naming_the_path(
    handler_env: None, monkeypatch: pytest.MonkeyPatch, log: Path, where: str
) -> None:
    """ENOSPC on a map task's shuffle object (the folder store), or SQLITE_FULL
    on a reducer's result rows (the SQLite store): StorageFullError naming the
    path and what to do, not retried (the disk is as full a second later), the
    job FAILED with it, and no half-written file left behind."""
    home = Settings.load().home
    if where == "shuffle object":
        disk = FullDisk(monkeypatch, objects=_is_shuffle_path)
        failing, cause = "Map", re.escape(str(home / "objects")) + r"/shuffle/.*\.bin" + NO_SPACE
    else:
        disk = FullDisk(monkeypatch, rows=lambda sql, params: "INTO results" in sql)
        failing = "Reduce"
        cause = re.escape(f"{home / 'logmr.sqlite'}: database or disk is full: {FREE_SPACE}")
    plan = FaultPlan()
    outcome = run_job("local", word_count("full-1", log), plan)
    assert (outcome.status, outcome.error) == ("FAILED", "StorageFullError"), outcome.cause
    assert re.fullmatch(cause, cause_message(outcome.cause or "")), outcome.cause
    assert disk.failed and set(plan.attempts(failing)) == {1}  # permanent: no retry
    assert "Finalize" not in {name for name, _ in plan.calls}
    record = store().results.get_job("full-1")
    assert (record.status, record.error) == ("FAILED", "StorageFullError")
    assert record.cause == cause_message(outcome.cause or "")
    assert not list((home / "objects").rglob(".*.tmp"))  # the half-written files


def _run_cli_in_process(monkeypatch: pytest.MonkeyPatch, log: Path, job_id: str) -> int:
    """``logmr run`` with the local engine's handlers in this process (where the
    full disk is patched in): its exit code."""
    import functools

    monkeypatch.setattr(
        local_engine, "run_engine", functools.partial(local_engine.run_engine, workers=0)
    )
    argv = ["run", str(log), "--job", "word_count", "--job-id", job_id, "--chunk-size", "100KB"]
    return main(argv)


def _only_handler_logs(out: str) -> None:
    """The CLI printed nothing on stdout: what is there is the handlers' JSON
    logs and metrics (they run in this process here; in worker processes
    they go to the workers' log files)."""
    assert all("service" in json.loads(line) for line in out.splitlines()), out


@pytest.mark.statemachine
def test_logmr_run_on_a_full_disk_is_one_line_and_exit_1(
    handler_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    log: Path,
) -> None:
    FullDisk(monkeypatch, objects=_is_shuffle_path)
    code = _run_cli_in_process(monkeypatch, log, "full-cli")
    captured = capsys.readouterr()
    assert code == 1
    _only_handler_logs(captured.out)
    assert re.fullmatch(
        r"logmr: error: StorageFullError: .*/shuffle/.*\.bin" + NO_SPACE + "\n", captured.err
    ), captured.err
    assert "Traceback" not in captured.err
    record = store().results.get_job("full-cli")
    assert (record.status, record.error) == ("FAILED", "StorageFullError")
    assert main(["status", "full-cli"]) == 1
    assert "error: StorageFullError: " in capsys.readouterr().out


@pytest.mark.statemachine
def test_a_disk_that_stays_full_leaves_the_record_running_and_says_so(
    handler_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    log: Path,
) -> None:
    """The disk fills up after Plan and stays full: MarkFailed cannot write
    the FAILED record either (nor can the engine's reconciler, nor ``logmr
    run``, which tries once more), so the record stays RUNNING, and the one
    line says so."""

    def failed_record(sql: str, params: Any) -> bool:
        return "INTO jobs" in sql and len(params) == 3 and params[1] == "FAILED"

    disk = FullDisk(monkeypatch, objects=_is_shuffle_path, rows=failed_record)
    code = _run_cli_in_process(monkeypatch, log, "full-always")
    captured = capsys.readouterr()
    assert code == 1
    _only_handler_logs(captured.out)
    assert re.fullmatch(
        r"logmr: error: StorageFullError: .*/shuffle/.*\.bin"
        + NO_SPACE
        + r" \(and the job record stays RUNNING: it could not be marked FAILED:"
        r" StorageFullError\)\n",
        captured.err,
    ), captured.err
    # MarkFailed, the engine's reconciler, and logmr run's last try
    assert sum("INTO jobs" in failed for failed in disk.failed) == 3
    assert store().results.get_job("full-always").status == "RUNNING"


# -- 9. map tasks past their memory budget: spilled segments -----------------------------------
#: a map task's memory in the spill tests (MB): a budget of about 300 KB of
#: combining table and 100 KB of held segments, 64 KiB texts
TINY_MEMORY_MB = "1"
#: words every line repeats, so that a key is in many segments of a task
COMMON = [f"w{i}" for i in range(37)]


@pytest.fixture(scope="module")
def many_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Reference]:
    """40,000 lines of two common words and two tokens seen once (80,000
    distinct keys, about 850 KB), and their word counts made by hand."""
    path = tmp_path_factory.mktemp("many-keys") / "tokens.log"
    with path.open("w") as out:
        for i in range(40_000):
            token = (i * 7919) % 1_000_003  # a permutation: each once
            out.write(f"{COMMON[i % 37]} t{token:x} {COMMON[(i * 5) % 37]} u{i:x}\n")
    return path, count_words(path.read_bytes())


def spill_request(job_id: str, path: Path, uri: str = "") -> dict[str, Any]:
    """Two map tasks of about 425 KB (seven texts each), far past the tiny budget."""
    chunk = -(-path.stat().st_size // 2)
    inputs = [uri or str(path)]
    return {"job_id": job_id, "job": "word_count", "inputs": inputs, "chunk_size": chunk}


def check_spilled(backends: Any, job_id: str, reference: Reference) -> None:
    """Exact results; every map task spilled segments and spill objects; each
    reducer read two ranges at most of each object."""
    record = backends.results.get_job(job_id)
    assert (record.status, record.error) == ("SUCCEEDED", None), record.cause
    assert dict(backends.job_results().iter_results(job_id)) == reference.words
    assert record.counters["records"] == reference.lines
    assert record.result_keys == len(reference.words)
    summaries = [
        backends.objects.get_json(layout.map_summary_key(job_id, task))
        for task in range(record.map_tasks)
    ]
    assert record.map_tasks == 2
    assert all(s["segments"] >= 4 and s["spills"] >= 1 for s in summaries), summaries
    objects = sum(1 + s["spills"] for s in summaries)
    for partition in range(record.spec["reducers"]):
        summary = backends.objects.get_json(layout.reduce_summary_key(job_id, partition))
        assert summary["requests"]["get"] <= 2 * objects


@pytest.mark.statemachine
def test_map_tasks_past_their_budget_spill_and_the_results_stay_exact(
    handler_env: None, monkeypatch: pytest.MonkeyPatch, many_keys: tuple[Path, Reference]
) -> None:
    """A budget far below what a task's keys take (the sample cannot see it:
    the request gives the chunk size): each map task flushes its table
    several times, holds the segments compressed and writes spill objects; the
    reducers merge every segment of every task: the counts are exact, and the
    same as without a budget, counters included."""
    path, reference = many_keys
    outcome = run_job("local", spill_request("roomy", path))
    assert outcome.status == "SUCCEEDED", outcome.cause
    monkeypatch.setenv("LOGMR_MAP_MEMORY_MB", TINY_MEMORY_MB)
    runtime.reset()
    outcome = run_job("local", spill_request("spilled", path))
    assert outcome.status == "SUCCEEDED", outcome.cause
    backends = store()
    check_spilled(backends, "spilled", reference)
    roomy = backends.objects.get_json(layout.map_summary_key("roomy", 0))
    assert (roomy["segments"], roomy["spills"]) == (1, 0)
    assert backends.results.get_job("spilled").counters == (
        backends.results.get_job("roomy").counters
    )


@pytest.mark.statemachine
def test_map_tasks_spill_on_moto_s3_and_the_results_stay_exact(
    aws_handler_env: None, monkeypatch: pytest.MonkeyPatch, many_keys: tuple[Path, Reference]
) -> None:
    """The same on moto: S3 and DynamoDB, the Lambda limits with a tiny memory."""
    path, reference = many_keys
    monkeypatch.setenv("LOGMR_MAP_MEMORY_MB", TINY_MEMORY_MB)
    runtime.reset()
    with mock_aws(config=MOTO_CONFIG):
        s3 = create_account()
        uri = upload(s3, path, "incoming/spill/tokens.log")
        with dispatching(Dispatcher(dict(FUNCTIONS), workers=0)):
            machine = StateMachine(bucket=BUCKET)
            machine.deploy()
            described = machine.run(spill_request("spilled-aws", path, uri), "spilled-aws")
        assert described["status"] == "SUCCEEDED", described.get("cause")
        check_spilled(runtime.backends(), "spilled-aws", reference)
