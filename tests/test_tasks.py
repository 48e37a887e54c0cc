"""logmr.tasks: the task functions called directly, one after another, on the
embedded storage (a folder and SQLite), as the inline runner and the handlers
call them. Counts are checked against the log read with a plain regex."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from helpers import generated_logs
from logmr import layout, tasks
from logmr.config import MAX_SAMPLES, SHUFFLE_BUCKETS, Settings
from logmr.errors import CorruptShuffleError, InvalidParameterError, JobExistsError
from logmr.mapreduce import shuffle
from logmr.mapreduce.partition import partition_of
from logmr.plan.tuning import local_limits
from logmr.run.embedded import embedded_backends
from logmr.spec import JobSpec, MapTask
from logmr.storage.backends import Backends
from logmr.storage.base import JobRecord
from test_fast_parse import REFERENCE

pytestmark = pytest.mark.functional

LINES = 2000
CHUNK = 64 * 1024
REDUCERS = 3


@pytest.fixture
def backends(tmp_path: Path) -> Backends:
    return embedded_backends(Settings.load(home=tmp_path / "home"))


#: lines no access log format parses, added to the generated log
JUNK = [b"not an access log line", b"\x00\xff binary \xfe", b'1.2.3.4 - - [bad time] "GET /" 200 1']


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = generated_logs(tmp_path, lines=LINES, seed=21)["access"]
    with path.open("ab") as out:
        out.write(b"".join(line + b"\n" for line in JUNK))
    return path


def reference(log: Path) -> tuple[dict[str, int], int]:
    """Status counts and the malformed line count, by the reference regex."""
    matches = [REFERENCE["apache_combined"].match(line) for line in log.read_bytes().splitlines()]
    counts = Counter(m[12].decode() for m in matches if m)
    return dict(counts), sum(1 for m in matches if m is None)


def request(log: Path, job_id: str = "tasks-1", **more: Any) -> JobSpec:
    data = {"job_id": job_id, "job": "status_codes", "inputs": [str(log)], **more}
    return JobSpec.from_dict({"chunk_size": CHUNK, "reducers": REDUCERS, **data})


#: the execution the tests' plans run in ($$.Execution.Id on AWS)
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:logmr:tasks-1"


def planned(log: Path, backends: Backends, **more: Any) -> tuple[JobSpec, list[MapTask]]:
    out = tasks.plan(request(log, **more), backends, execution=EXECUTION)
    return JobSpec.from_dict(out["spec"]), [MapTask.from_dict(t) for t in out["map_tasks"]]


def run_all(spec: JobSpec, map_tasks: list[MapTask], backends: Backends) -> dict[str, Any]:
    for task in map_tasks:
        tasks.map_task(spec, task, backends)
    spec = JobSpec.from_dict(tasks.plan_reduce(spec, len(map_tasks), backends)["spec"])
    for partition in range(spec.reducers):
        tasks.reduce_task(spec, partition, len(map_tasks), backends)
    return tasks.finalize(spec, len(map_tasks), backends)


# -- plan ----------------------------------------------------------------------------------
def test_plan_records_running_and_writes_the_manifest(log: Path, backends: Backends) -> None:
    out = tasks.plan(request(log), backends)
    record = backends.results.get_job("tasks-1")
    assert (record.status, record.job, record.spec) == ("RUNNING", "status_codes", out["spec"])
    manifest = backends.objects.get_json(layout.manifest_key("tasks-1"))
    assert manifest["spec"] == out["spec"] and manifest["spec"]["format"] == "apache_combined"
    assert manifest["map_tasks"] == out["map_tasks"]
    assert record.map_tasks == out["map_task_count"] == len(out["map_tasks"])
    # the tasks cover the log's bytes end to end, each at most a chunk long
    size = log.stat().st_size
    assert all(len(task["pieces"]) == 1 for task in manifest["map_tasks"])  # one object
    ranges = [
        (task["pieces"][0]["start"], task["pieces"][0]["end"]) for task in manifest["map_tasks"]
    ]
    assert ranges[0][0] == 0 and ranges[-1][1] == size
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(ranges))
    assert all(0 < end - start <= CHUNK for start, end in ranges)
    assert len(ranges) == -(-size // CHUNK)
    assert out["spec"]["buckets"] == SHUFFLE_BUCKETS  # Reduce is planned after Map
    assert manifest["requested"] == {"reducers": REDUCERS, "max_concurrency": 0}
    assert not out["distributed"]
    assert backends.objects.list_keys(layout.map_items_key("tasks-1")) == []


def test_a_distributed_plan_writes_the_items_for_the_item_reader(
    log: Path, backends: Backends
) -> None:
    out = tasks.plan(request(log, map_mode="distributed"), backends)
    manifest = backends.objects.get_json(layout.manifest_key("tasks-1"))
    assert out["distributed"] and out["map_tasks"] == []  # not in the state: in S3
    assert backends.objects.get_json(layout.map_items_key("tasks-1")) == manifest["map_tasks"]
    assert out["map_task_count"] == len(manifest["map_tasks"]) > 1


# -- map -------------------------------------------------------------------------------------
def test_map_task_writes_a_shuffle_object_and_its_summary(log: Path, backends: Backends) -> None:
    spec, map_tasks = planned(log, backends)
    task = map_tasks[1]
    out = tasks.map_task(spec, task, backends)
    data = backends.objects.get(layout.shuffle_key(spec.job_id, task.task))
    parts = [shuffle.read_partition(data, p) for p in range(spec.buckets)]
    summary = backends.objects.get_json(layout.map_summary_key(spec.job_id, task.task))
    assert all(
        partition_of(key, spec.buckets) == p for p, part in enumerate(parts) for key, _ in part
    )
    listed = sorted(key for part in parts for key, _ in part)
    assert summary["keys"] == listed and len(listed) > 3  # a few keys: listed, not sketched
    (piece,) = task.pieces
    assert piece.end is not None
    lines_in_range = log.read_bytes()[piece.start : piece.end].count(b"\n")
    assert summary["counters"]["lines"] == out["counters"]["lines"] == lines_in_range
    assert summary["input_bytes"] == piece.end - piece.start
    assert summary["shuffle_bytes"] == len(data)
    counted = sum(value for part in parts for _, value in part)
    assert counted == summary["counters"]["records"]


def test_a_repeated_map_task_writes_the_same_objects(log: Path, backends: Backends) -> None:
    """Run again, a map task overwrites its object and summary with the same
    pairs and counts; only the attempt that wrote them differs (and with it
    the summary's digest), which is what Finalize checks the reducers read."""
    spec, map_tasks = planned(log, backends)
    task = map_tasks[0]
    shuffle_key = layout.shuffle_key(spec.job_id, task.task)
    summary_key = layout.map_summary_key(spec.job_id, task.task)

    def outputs() -> tuple[shuffle.Header, list[Any], dict[str, Any]]:
        data = backends.objects.get(shuffle_key)
        parts = [shuffle.read_partition(data, p) for p in range(spec.buckets)]
        summary = backends.objects.get_json(summary_key)
        return shuffle.decode_header(data), parts, summary

    tasks.map_task(spec, task, backends, attempt="00000000000000a1")
    first = outputs(), backends.objects.get(shuffle_key)
    tasks.map_task(spec, task, backends, attempt="00000000000000a1")
    assert backends.objects.get(shuffle_key) == first[1]  # the same attempt: the same bytes
    tasks.map_task(spec, task, backends)  # a new attempt
    (header, parts, summary), ((header_1, parts_1, summary_1), _) = outputs(), first
    assert header.binding.attempt != header_1.binding.attempt == "00000000000000a1"
    assert (header.binding.job_id, header.binding.task) == (spec.job_id, task.task)
    assert (header.entries, parts) == (header_1.entries, parts_1)
    assert summary["attempt"] == header.binding.attempt
    changing = ("seconds", "attempt", "digest")
    same = [{k: v for k, v in s.items() if k not in changing} for s in (summary, summary_1)]
    assert same[0] == same[1]
    assert backends.objects.list_keys(layout.SHUFFLE_PREFIX) == [shuffle_key]


def test_a_map_task_past_its_budget_spills_the_same_objects_again(
    tmp_path: Path, backends: Backends
) -> None:
    """A map task over more keys than its memory allows (1 MB: a table of
    about 300 KB) writes spill objects and its own object, which counts them,
    all bound to its attempt; run again as that attempt, it writes the same
    bytes; the reducers' results are those of the same task within its budget."""
    log = tmp_path / "tokens.log"
    lines = (f"a{i:x} b{i % 50} c{(i * 7919) % 1_000_003:x}\n" for i in range(30_000))
    log.write_text("".join(lines))
    roomy, tight = local_limits(1), local_limits(1, 1)
    results = {}
    for name, limits in (("roomy", roomy), ("tight", tight)):
        spec, map_tasks = planned(
            log, backends, job_id=name, job="word_count", chunk_size=10**9, reducers=2
        )
        (task,) = map_tasks
        tasks.map_task(spec, task, backends, limits, attempt="00000000000000a1")
        summary = backends.objects.get_json(layout.map_summary_key(name, 0))
        keys = [layout.shuffle_key(name, 0, spill) for spill in range(summary["spills"] + 1)]
        written = [backends.objects.get(key) for key in keys]
        assert summary["shuffle_bytes"] == sum(map(len, written))
        headers = [shuffle.decode_header(data, job_id=name, task=0) for data in written]
        assert [header.spills for header in headers] == [summary["spills"]] + [0] * (
            len(written) - 1
        )
        assert {header.binding.attempt for header in headers} == {"00000000000000a1"}
        tasks.map_task(spec, task, backends, limits, attempt="00000000000000a1")
        assert [backends.objects.get(key) for key in keys] == written
        if limits is tight:
            assert summary["spills"] >= 2 and summary["segments"] > summary["spills"]
        else:
            assert (summary["spills"], summary["segments"]) == (0, 1)
        for partition in range(2):
            tasks.reduce_task(spec, partition, 1, backends)
        results[name] = sorted(backends.job_results().iter_results(name))
    assert results["tight"] == results["roomy"] and len(results["roomy"]) == 60_050
    # a spill object of another attempt than the object that counts it: refused, never mixed
    first = backends.objects.get(layout.shuffle_key("tight", 0, 1))
    tasks.map_task(spec, task, backends, tight, attempt="00000000000000b2")
    backends.objects.put(layout.shuffle_key("tight", 0, 1), first)
    with pytest.raises(CorruptShuffleError, match="spill object 1 of map task 0's attempt"):
        tasks.reduce_task(spec, 0, 1, backends)


def test_summaries_are_read_a_few_at_a_time() -> None:
    """``read_each`` (Finalize's and PlanReduce's reads of M summaries) holds
    at most a few read and not yet taken, however many there are."""
    import threading
    import time

    from logmr.plan.cost import READ_THREADS
    from logmr.tasks.common import read_each

    alive: set[int] = set()
    most = [0]
    lock = threading.Lock()

    def read(item: int) -> int:
        with lock:
            alive.add(item)
            most[0] = max(most[0], len(alive))
        return item

    taken = []
    for item in read_each(read, range(500)):
        taken.append(item)
        time.sleep(0.0005)  # a slower consumer: the reads must wait for it
        with lock:
            alive.discard(item)
    assert taken == list(range(500))
    assert most[0] <= 2 * READ_THREADS + 1


def test_a_map_task_needs_the_planned_spec(log: Path, backends: Backends) -> None:
    _, map_tasks = planned(log, backends)
    unplanned = request(log, reducers=0)
    with pytest.raises(InvalidParameterError, match="needs the spec Plan returns"):
        tasks.map_task(unplanned, map_tasks[0], backends)


# -- plan reduce -----------------------------------------------------------------------------
def test_plan_reduce_keeps_the_requests_reducers_and_records_the_keys(
    log: Path, backends: Backends
) -> None:
    spec, map_tasks = planned(log, backends)
    for task in map_tasks:
        tasks.map_task(spec, task, backends)
    out = tasks.plan_reduce(spec, len(map_tasks), backends)
    assert out["partitions"] == list(range(REDUCERS)) and out["spec"]["reducers"] == REDUCERS
    assert out["map_task_count"] == len(map_tasks) and out["job_id"] == spec.job_id
    decision = backends.objects.get_json(layout.reduce_plan_key(spec.job_id))
    assert decision["reason"] == "given"
    assert decision["keys"] == len(reference(log)[0])  # a few status codes: counted exactly
    assert decision["requests"] == {"get": 1 + len(map_tasks), "put": 1, "list": 0}


def test_plan_reduce_chooses_from_the_keys_the_map_tasks_measured(
    log: Path, backends: Backends
) -> None:
    """Left to the planner, the reducers on one machine are one per worker
    (``tuning.choose_reducers``), and a retry decides the same."""
    out = tasks.plan(request(log, reducers=0), backends, local_limits(workers=5))
    spec = JobSpec.from_dict(out["spec"])
    for task in out["map_tasks"]:
        tasks.map_task(spec, MapTask.from_dict(task), backends)
    first = tasks.plan_reduce(spec, out["map_task_count"], backends, local_limits(workers=3))
    again = tasks.plan_reduce(spec, out["map_task_count"], backends, local_limits(workers=3))
    assert first == again
    assert first["partitions"] == [0, 1, 2] and first["spec"]["buckets"] == spec.buckets


# -- reduce ----------------------------------------------------------------------------------
def test_reduce_task_upserts_a_repeat_counts_once(log: Path, backends: Backends) -> None:
    spec, map_tasks = planned(log, backends)
    for task in map_tasks:
        tasks.map_task(spec, task, backends)
    written = [tasks.reduce_task(spec, p, len(map_tasks), backends) for p in range(REDUCERS)]
    rows = list(backends.job_results().iter_results(spec.job_id))
    assert dict(rows) == reference(log)[0]
    assert sum(out["keys"] for out in written) == len(rows)
    part = backends.objects.get(layout.part_key(spec.job_id, 0))
    again = tasks.reduce_task(spec, 0, len(map_tasks), backends)
    assert again["keys"] == written[0]["keys"]
    assert list(backends.job_results().iter_results(spec.job_id)) == rows  # one row per key
    assert backends.objects.get(layout.part_key(spec.job_id, 0)) == part


@pytest.mark.parametrize("partition", [-1, REDUCERS, REDUCERS + 5])
def test_reduce_task_refuses_a_partition_outside_the_reducers(
    log: Path, backends: Backends, partition: int
) -> None:
    spec, map_tasks = planned(log, backends)
    for task in map_tasks:
        tasks.map_task(spec, task, backends)
    with pytest.raises(InvalidParameterError, match=f"partition {partition} outside 0..2"):
        tasks.reduce_task(spec, partition, len(map_tasks), backends)
    assert list(backends.job_results().iter_results(spec.job_id)) == []
    assert backends.objects.list_keys(layout.job_prefix(spec.job_id) + "results/") == []


# -- finalize ----------------------------------------------------------------------------------
def test_finalize_records_succeeded_with_the_inputs_counts(log: Path, backends: Backends) -> None:
    spec, map_tasks = planned(log, backends)
    out = run_all(spec, map_tasks, backends)
    record = backends.results.get_job(spec.job_id)
    counts, malformed = reference(log)
    lines = log.read_bytes().count(b"\n")
    assert lines == LINES + len(JUNK)
    assert (record.status, record.error) == ("SUCCEEDED", None)
    assert record.counters["lines"] == lines
    assert record.counters["malformed"] == malformed
    assert record.counters["records"] == lines - malformed == sum(counts.values())
    assert out["counters"] == record.counters
    assert dict(backends.job_results().iter_results(spec.job_id)) == counts
    assert record.result_keys == out["result_keys"] == len(counts)
    assert record.finished_at and record.bill is not None
    assert malformed >= len(JUNK)
    assert len(record.malformed_samples) == min(malformed, MAX_SAMPLES)
    quarantined = backends.objects.get(layout.quarantine_key(spec.job_id)).decode()
    assert quarantined.count("\n") == len(record.malformed_samples)


def test_finalize_run_twice_keeps_the_same_record(log: Path, backends: Backends) -> None:
    spec, map_tasks = planned(log, backends)
    run_all(spec, map_tasks, backends)
    first = backends.results.get_job(spec.job_id)
    tasks.finalize(spec, len(map_tasks), backends)
    again = backends.results.get_job(spec.job_id)
    assert (again.status, again.counters, again.result_keys) == (
        first.status,
        first.counters,
        first.result_keys,
    )


# -- mark_failed -------------------------------------------------------------------------------
def test_mark_failed_records_the_error_and_its_message(log: Path, backends: Backends) -> None:
    spec, _ = planned(log, backends)
    cause = '{"errorMessage": "input vanished before it was read: x", "errorType": "E"}'
    out = tasks.mark_failed(spec.job_id, "InputNotFoundError", cause, backends, execution=EXECUTION)
    assert out == {
        "job_id": spec.job_id,
        "status": "FAILED",
        "error": "InputNotFoundError",
        "cause": cause,  # as given: the execution fails with it
        "recorded": True,
    }
    record = backends.results.get_job(spec.job_id)
    assert (record.status, record.error) == ("FAILED", "InputNotFoundError")
    assert record.cause == "input vanished before it was read: x"  # the message, not the JSON
    assert record.map_tasks > 0  # Plan's record, updated


def test_mark_failed_without_a_record_makes_one(backends: Backends) -> None:
    spec = {"job_id": "never-planned", "job": "top_paths", "inputs": ["x"]}
    out = tasks.mark_failed("never-planned", "InvalidJobError", "no such job", backends, spec)
    record = backends.results.get_job("never-planned")
    assert (record.status, record.job, record.spec) == ("FAILED", "top_paths", spec)
    assert out["recorded"] is True


@pytest.mark.parametrize("execution", [None, "arn:aws:states:::execution:logmr:attacker"])
@pytest.mark.parametrize("finished", [True, False], ids=["succeeded", "running"])
def test_mark_failed_never_writes_another_executions_record(
    log: Path, backends: Backends, execution: str | None, finished: bool
) -> None:
    """A failing request that names another job's id (an unknown job, a bad
    parameter, an input outside the allow-list: refused before or at Plan)
    fails its own execution, never the other job."""
    spec, map_tasks = planned(log, backends)
    if finished:
        run_all(spec, map_tasks, backends)
    before = backends.results.get_job(spec.job_id).to_dict()
    out = tasks.mark_failed(
        spec.job_id, "InvalidJobError", "no job 'nope'", backends, execution=execution
    )
    assert (out["status"], out["recorded"]) == ("FAILED", False)  # the execution failed ...
    assert backends.results.get_job(spec.job_id).to_dict() == before  # ... not the other job


# -- claim_job_id ------------------------------------------------------------------------------
def record_of(spec: JobSpec, status: str, execution: str = "", **spec_changes: Any) -> JobRecord:
    return JobRecord(
        job_id=spec.job_id,
        job=spec.job,
        status=status,
        spec={**spec.to_dict(), **spec_changes},
        execution=execution,
    )


def test_a_new_job_id_is_claimed_for_its_execution(log: Path, backends: Backends) -> None:
    tasks.claim_job_id(request(log), backends, EXECUTION)
    record = backends.results.get_job("tasks-1")
    assert (record.status, record.execution) == ("RUNNING", EXECUTION)


def test_the_same_execution_goes_ahead(log: Path, backends: Backends) -> None:
    """A retried or duplicated Plan of one execution plans again, the same plan."""
    first = tasks.plan(request(log), backends, execution=EXECUTION)
    second = tasks.plan(request(log), backends, execution=EXECUTION)
    assert second == first
    assert backends.results.get_job("tasks-1").execution == EXECUTION


@pytest.mark.parametrize(
    ("status", "changes"),
    [
        ("SUCCEEDED", {}),
        ("FAILED", {}),
        ("RUNNING", {}),  # the same spec, another run: not a retry of this one
        ("RUNNING", {"job": "top_paths"}),
        ("RUNNING", {"inputs": ["/var/log/other.log"]}),
    ],
)
def test_an_id_another_execution_holds_is_refused(
    log: Path, backends: Backends, status: str, changes: dict[str, Any]
) -> None:
    spec = request(log, format="apache_combined")
    record = record_of(spec, status, "arn:aws:states:::execution:logmr:first", **changes)
    backends.results.put_job(dataclasses.replace(record, job=changes.get("job", spec.job)))
    before = backends.results.get_job(spec.job_id).to_dict()
    message = f"'tasks-1' is {status} .*: it belongs to another run"
    with pytest.raises(JobExistsError, match=message):
        tasks.claim_job_id(spec, backends, EXECUTION)
    with pytest.raises(JobExistsError, match=message):
        tasks.plan(spec, backends, execution=EXECUTION)
    assert backends.results.get_job(spec.job_id).to_dict() == before  # left as it was
    assert backends.objects.list_keys(layout.job_prefix(spec.job_id)) == []


# -- reconcile ---------------------------------------------------------------------------------
ARN = "arn:aws:states:us-east-1:123456789012:execution:logmr:job-1"


@pytest.mark.parametrize(
    ("status", "stored", "detail", "want"),
    [
        ("FAILED", "RUNNING", {}, ("FAILED", "States.DataLimitExceeded")),
        ("TIMED_OUT", "RUNNING", {}, ("FAILED", "States.Timeout")),
        ("ABORTED", "RUNNING", {}, ("FAILED", "Aborted")),
        ("SUCCEEDED", "RUNNING", {}, ("RUNNING", None)),  # not a failure: nothing to do
        ("FAILED", "FAILED", {}, ("FAILED", "CorruptShuffleError")),  # MarkFailed's stays
        ("FAILED", "RUNNING", {"executionArn": ARN + "-other"}, ("RUNNING", None)),
        ("FAILED", "RUNNING", {"name": "../x", "input": "{}"}, ("RUNNING", None)),
        (
            "FAILED",
            "RUNNING",
            {"name": "exec-7", "input": '{"job_id": "job-1"}'},
            ("FAILED", "States.DataLimitExceeded"),
        ),
    ],
)
def test_reconcile_fails_only_a_running_record_of_the_execution(
    backends: Backends,
    status: str,
    stored: str,
    detail: dict[str, str],
    want: tuple[str, str | None],
) -> None:
    """An execution that ended without success: its job's RUNNING record,
    claimed by it, becomes FAILED with the execution's error (FAILED: what
    DescribeExecution says; TIMED_OUT, ABORTED: their own); nothing else is
    touched. The job is the input's job_id, else the execution's name."""
    first_error = "CorruptShuffleError" if stored == "FAILED" else None
    record = JobRecord(
        job_id="job-1", job="word_count", status=stored, error=first_error, execution=ARN
    )
    assert backends.results.claim_job(record) is None
    event = {"executionArn": ARN, "name": "job-1", "status": status, "input": "{}", **detail}
    asked: list[str] = []

    def failure_of(arn: str) -> tuple[str, str]:
        asked.append(arn)
        return "States.DataLimitExceeded", "the output of state 'Plan' is 509342 bytes"

    out = tasks.reconcile_execution(event, failure_of, backends)
    found = backends.results.get_job("job-1")
    assert (found.status, found.error) == want
    assert out["reconciled"] == (want != (stored, first_error))
    assert asked == ([event["executionArn"]] if status == "FAILED" and out["job_id"] else [])
