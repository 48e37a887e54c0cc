"""Hot-key salting (docs/performance.md, "Skew"): the sample's rule, the map
side's salted partitions, and salted jobs giving exactly the unsalted answers
on the inline runner, the local state machine and moto's Step Functions with
S3 and DynamoDB, checked against an independent reading of the log."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from analytics_reference import (
    Row,
    access_report_rows,
    read_access,
    session_groups,
    without_estimates,
)
from aws_support import BUCKET, create_account, upload
from engine_support import Fault, FaultPlan, no_sleep, request_for
from helpers import run_inline
from logmr import layout
from logmr.config import Settings
from logmr.engine.dispatcher import Dispatcher
from logmr.handlers import runtime
from logmr.inputs.source import InputSource
from logmr.jobs import binding
from logmr.jobs.windows import LENGTH_BUCKETS, REQUEST_BUCKETS, length_bucket, requests_bucket
from logmr.plan import planner, tuning
from logmr.plan.sample import (
    DOMINANT_SHARE_FACTOR,
    MIN_SALTED_PAIR_BYTES,
    SampleStats,
    choose_salted_keys,
    sample_stats,
)
from logmr.plan.tuning import Limits
from logmr.run import engine as local_engine
from logmr.run.embedded import LocalOrS3Inputs, embedded_backends
from logmr.spec import JobSpec
from logmr.storage import parquet
from logmr.workflow.names import FUNCTIONS
from moto_engine import MOTO_CONFIG, StateMachine, dispatching

HOT_CLIENT = "10.9.9.9"
HOT_PATH = "/hot"
START = 1_700_000_000  # 2023-11-14T22:13:20Z; one request every 2 s
STEP = 2
LINES = 3000
#: ~290 KB of log in 30 KB ranges: about 10 map tasks; 3 reducers (every task
#: runs in this process: the request's 64 KiB floor is lowered, ``small_chunks``)
REDUCERS = 3
CHUNK = 30_000
pytestmark = pytest.mark.usefixtures("small_chunks")
#: the hours the log spans, as access_report's map side keys them
HOURS = [f"window:{hour}" for hour in range(START // 3600 * 3600, START + LINES * STEP, 3600)]

#: (job, params, keys forced into salting): each job's heaviest keys
SALTED_JOBS: list[tuple[str, dict[str, str], list[str]]] = [
    ("status_codes", {}, ["200", "404"]),
    ("top_paths", {"top": "5"}, [HOT_PATH]),
    ("sessions", {"gap": "1s"}, [HOT_CLIENT]),
    ("access_report", {"window": "1h", "top": "5"}, ["status:200", f"path:{HOT_PATH}", "total"]),
    ("access_report", {"window": "1h", "top": "5"}, HOURS),
    ("percentiles", {"window": "all"}, ["all"]),
    ("distinct_count", {"field": "client"}, ["all"]),
]


def skewed_log(path: Path, lines: int = LINES, seed: int = 3) -> Path:
    """An Apache combined log where one client makes 80 % of the requests,
    one path takes 60 % and status 200 is 90 %; a request every 2 s."""
    rng = random.Random(seed)
    with path.open("w") as out:
        for i in range(lines):
            client = HOT_CLIENT if rng.random() < 0.8 else f"10.0.{rng.randrange(8)}.{i % 50}"
            route = HOT_PATH if rng.random() < 0.6 else f"/p/{rng.randrange(40)}"
            status = "200" if rng.random() < 0.9 else rng.choice(["301", "404", "500", "503"])
            stamp = _clf_time(START + i * STEP)
            out.write(
                f'{client} - - [{stamp}] "GET {route} HTTP/1.1" {status}'
                f' {rng.randrange(50_000)} "-" "ua/1"\n'
            )
    return path


def _clf_time(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return skewed_log(tmp_path_factory.mktemp("skewed") / "access.log")


@pytest.fixture(scope="module")
def rows(log: Path) -> list[Row]:
    found = read_access(log)
    assert len(found) == LINES
    return found


@pytest.fixture
def no_auto_salt(monkeypatch: pytest.MonkeyPatch) -> None:
    """The planner salts nothing unless the request names keys (the unsalted runs)."""
    monkeypatch.setattr(tuning, "choose_salted_keys", lambda *_: ([], "off in this test"))


# -- the sample's rule ------------------------------------------------------------------
def sampled(log: Path, job: str, params: dict[str, str] | None = None) -> SampleStats:
    spec = JobSpec(
        job_id="s", job=job, inputs=[str(log)], params=params or {}, format="apache_combined"
    )
    job_obj, fmt = binding.prepare(spec)
    return sample_stats(job_obj, fmt, log.read_bytes(), complete=True)


def plan_of(log: Path, job: str, params: dict[str, str], **figures: Any) -> planner.Plan:
    request = {"job_id": "p", "job": job, "inputs": [str(log)], "params": params, **figures}
    inputs: InputSource = LocalOrS3Inputs()
    return planner.make_plan(JobSpec.from_dict(request), inputs, Limits())


@pytest.mark.functional
def test_a_dominant_client_of_sessions_is_salted_by_the_planner(log: Path) -> None:
    sample = sampled(log, "sessions", {"gap": "1s"})
    total = sum(sample.loads.values())
    # every request of the hot client is its own 1s-gap session: a long partial list
    assert sample.loads[HOT_CLIENT] / total > 0.5
    assert sample.loads[HOT_CLIENT] >= MIN_SALTED_PAIR_BYTES
    keys, reason = choose_salted_keys(sample, reducers=4, map_tasks=10)
    assert keys == [HOT_CLIENT], reason
    planned = plan_of(log, "sessions", {"gap": "1s"}, reducers=4, chunk_size=CHUNK)
    assert len(planned.map_tasks) >= 2
    assert planned.spec.salted_keys == [HOT_CLIENT]
    assert planned.tuning.salted_keys == [HOT_CLIENT]
    assert "busiest partition" in planned.tuning.reasons["salted_keys"]


@pytest.mark.functional
def test_a_one_key_sketch_job_is_salted(log: Path) -> None:
    for job, params in (("percentiles", {"window": "all"}), ("distinct_count", {})):
        sample = sampled(log, job, params)
        assert list(sample.loads) == ["all"]
        assert sample.loads["all"] >= MIN_SALTED_PAIR_BYTES  # a sketch, not a count
        assert choose_salted_keys(sample, reducers=2, map_tasks=5)[0] == ["all"], job


@pytest.mark.functional
def test_a_skewed_count_is_not_salted_its_pairs_are_tiny(log: Path) -> None:
    sample = sampled(log, "status_codes")
    assert max(sample.weights.values()) / sample.pairs >= 0.85  # 200 dominates the records
    reducers = 8
    total = sum(sample.loads.values())
    fair = 1 / reducers
    # by the shares alone the statuses would be salted: each holds 1/5 of the bytes
    assert sample.largest_load_share(reducers) >= DOMINANT_SHARE_FACTOR * fair
    assert all(size / total >= fair for size in sample.loads.values())
    # but a count's pair is a few bytes: M of them cost a reducer nothing
    assert max(sample.loads.values()) < MIN_SALTED_PAIR_BYTES
    keys, reason = choose_salted_keys(sample, reducers, map_tasks=100)
    assert keys == [], reason
    assert "256+ bytes" in reason
    assert plan_of(log, "status_codes", {}, reducers=8, chunk_size=CHUNK).spec.salted_keys == []


@pytest.mark.functional
def test_large_values_spread_evenly_are_not_salted(log: Path) -> None:
    """Percentiles per minute: 100 sketches of about the same size, each big
    enough to salt, but no partition dominates by bytes."""
    sample = sampled(log, "percentiles", {"window": "1m"})
    assert len(sample.loads) == 101  # 6,000 s from 22:13:20
    # the minutes cut by the log's start and end are smaller
    assert sum(size >= MIN_SALTED_PAIR_BYTES for size in sample.loads.values()) >= 99
    keys, reason = choose_salted_keys(sample, reducers=2, map_tasks=10)
    assert keys == [], reason
    assert reason.endswith(f"under {DOMINANT_SHARE_FACTOR} x 1/2")


@pytest.mark.functional
def test_one_reducer_or_one_map_task_never_salts(log: Path) -> None:
    sample = sampled(log, "sessions", {"gap": "1s"})
    assert choose_salted_keys(sample, reducers=4, map_tasks=10)[0] == [HOT_CLIENT]
    assert choose_salted_keys(sample, reducers=1, map_tasks=10)[0] == []
    assert choose_salted_keys(sample, reducers=4, map_tasks=1)[0] == []
    params = {"gap": "1s"}
    assert plan_of(log, "sessions", params, reducers=1, chunk_size=CHUNK).spec.salted_keys == []
    whole = plan_of(log, "sessions", params, reducers=4, chunk_size=10**9)
    assert len(whole.map_tasks) == 1 and whole.spec.salted_keys == []


@pytest.mark.functional
def test_a_given_key_wins_and_a_retried_plan_is_the_same_spec(log: Path) -> None:
    given = plan_of(log, "status_codes", {}, reducers=3, chunk_size=CHUNK, salted_keys=["200"])
    assert given.spec.salted_keys == ["200"] and given.tuning.reasons["salted_keys"] == "given"
    planned = plan_of(log, "sessions", {"gap": "1s"}, reducers=4, chunk_size=CHUNK)
    assert planned.spec.salted_keys
    # a retried Plan of the request (no keys given) chooses the same keys
    again = plan_of(log, "sessions", {"gap": "1s"}, reducers=4, chunk_size=CHUNK)
    assert again.spec.to_dict() == planned.spec.to_dict()


# -- exact answers -----------------------------------------------------------------------
def reference(rows: list[Row], job: str) -> dict[str, Any] | None:
    """The results of ``job`` read from the log without logmr (None: no exact reference)."""
    if job == "status_codes":
        return dict(Counter(row.status for row in rows))
    if job == "top_paths":
        paths: dict[str, dict[str, int]] = {}
        for row in rows:
            entry = paths.setdefault(str(row.path), {"count": 0, "bytes": 0})
            entry["count"] += 1
            entry["bytes"] += row.size
        return paths
    if job == "sessions":
        return sessions_reference(rows, gap=1)
    if job == "access_report":
        return access_report_rows(rows, window=3600)
    return None


def sessions_reference(rows: list[Row], gap: int) -> dict[str, Any]:
    results = {}
    for client, groups in session_groups(rows, gap).items():
        lengths = [group[-1] - group[0] for group in groups]
        by_length = [0] * len(LENGTH_BUCKETS)
        by_requests = [0] * len(REQUEST_BUCKETS)
        for group, length in zip(groups, lengths, strict=True):
            by_length[length_bucket(length)] += 1
            by_requests[requests_bucket(len(group))] += 1
        results[client] = {
            "count": len(groups),
            "requests": sum(len(group) for group in groups),
            "total_s": sum(lengths),
            "longest_s": max(lengths),
            "by_length": by_length,
            "by_requests": by_requests,
        }
    return results


def comparable_record(record: Any) -> dict[str, Any]:
    """What a salted and an unsalted run of one job must agree on: access_report's
    summary windows without their [p50, p95, p99] (KLL estimates over more than
    k values: randomized)."""
    summary = dict(record.summary or {})
    if record.job == "access_report":
        summary["windows"] = [window[:3] for window in summary["windows"]]
    return without_estimates(
        {
            "counters": record.counters,
            "result_keys": record.result_keys,
            "summary": summary,
            "status": record.status,
        }
    )


def partials_by_partition(job_id: str, reducers: int) -> dict[int, list[str]]:
    objects = embedded_backends(Settings.load()).objects
    return {
        partition: [
            key
            for key, _ in objects.get_json(layout.reduce_summary_key(job_id, partition)).get(
                "partials", []
            )
        ]
        for partition in range(reducers)
    }


@pytest.mark.functional
@pytest.mark.parametrize(("job", "params", "salted"), SALTED_JOBS)
def test_salted_runs_give_the_unsalted_answers_and_the_reference(
    no_auto_salt: None,
    log: Path,
    rows: list[Row],
    job: str,
    params: dict[str, str],
    salted: list[str],
) -> None:
    plain_record, plain = run_inline(log, job, params=params, reducers=REDUCERS, chunk_size=CHUNK)
    assert plain_record.spec["salted_keys"] == []
    record, results = run_inline(
        log, job, params=params, reducers=REDUCERS, chunk_size=CHUNK, salted_keys=salted
    )
    assert record.spec["salted_keys"] == salted
    assert record.map_tasks >= 2 * REDUCERS
    # each salted key was combined by every reducer (one pair per map task, spread)
    partials = partials_by_partition(record.job_id, REDUCERS)
    for key in salted:
        assert [partition for partition, keys in partials.items() if key in keys] == [0, 1, 2]
    assert without_estimates(results) == without_estimates(plain)
    assert comparable_record(record) == comparable_record(plain_record)
    want = reference(rows, job)
    if want is not None:
        assert without_estimates(results) == want


@pytest.mark.functional
def test_the_salted_part_file_holds_the_salted_rows(no_auto_salt: None, log: Path) -> None:
    record, results = run_inline(
        log, "top_paths", reducers=REDUCERS, chunk_size=CHUNK, salted_keys=[HOT_PATH]
    )
    objects = embedded_backends(Settings.load()).objects
    data = objects.get(layout.salted_part_key(record.job_id))
    assert parquet.decode(data) == [(HOT_PATH, results[HOT_PATH])]
    assert record.result_keys == len(results)


@pytest.mark.functional
def test_the_planner_salts_on_its_own_and_stays_exact(log: Path, rows: list[Row]) -> None:
    record, results = run_inline(
        log, "sessions", params={"gap": "1s"}, reducers=REDUCERS, chunk_size=CHUNK
    )
    assert record.spec["salted_keys"] == [HOT_CLIENT]
    assert results == sessions_reference(rows, gap=1)


# -- the state machine -------------------------------------------------------------------
ENGINE_JOBS = [
    ("status_codes", {}, ["200"]),
    ("top_paths", {"top": "5"}, [HOT_PATH]),
    ("sessions", {"gap": "1s"}, [HOT_CLIENT]),
    ("access_report", {"window": "1h", "top": "5"}, ["status:200", "total", *HOURS]),
]


@pytest.mark.statemachine
@pytest.mark.parametrize(("job", "params", "salted"), ENGINE_JOBS)
def test_salted_jobs_on_the_local_state_machine(
    handler_env: None,
    log: Path,
    rows: list[Row],
    job: str,
    params: dict[str, str],
    salted: list[str],
) -> None:
    extra = {"params": params, "reducers": REDUCERS, "chunk_size": CHUNK, "salted_keys": salted}
    execution = local_engine.run_engine(
        request_for(log, job, f"salt-{job}", **extra),
        settings=Settings.load(workers=0),
        workers=0,
        sleep=no_sleep,
    )
    assert execution.status == "SUCCEEDED", execution.cause
    store = embedded_backends(Settings.load()).job_results()
    record, results = store.get_job(f"salt-{job}"), dict(store.iter_results(f"salt-{job}"))
    assert record.spec["salted_keys"] == salted
    inline_record, inline = run_inline(
        log, job, params=params, reducers=REDUCERS, chunk_size=CHUNK, salted_keys=salted
    )
    assert without_estimates(results) == without_estimates(inline)
    assert comparable_record(record) == comparable_record(inline_record)
    assert without_estimates(results) == reference(rows, job)


@pytest.mark.statemachine
def test_salted_jobs_succeed_on_motos_step_functions_with_s3_and_dynamodb(
    aws_handler_env: None, log: Path, rows: list[Row]
) -> None:
    """Finalize's write path on DynamoDB: BatchWriteItem of the salted keys' rows."""
    outcomes: dict[str, tuple[Any, dict[str, Any]]] = {}
    with mock_aws(config=MOTO_CONFIG):
        s3 = create_account()
        uri = upload(s3, log, "incoming/skewed/access.log")
        with dispatching(Dispatcher(dict(FUNCTIONS), workers=0)):
            machine = StateMachine(bucket=BUCKET)
            machine.deploy()
            for job, params, salted in ENGINE_JOBS[2:]:
                request = {
                    **request_for(log, job, f"aws-salt-{job}"),
                    "inputs": [uri],
                    "params": params,
                    "reducers": REDUCERS,
                    "chunk_size": CHUNK,
                    "salted_keys": salted,
                }
                described = machine.run(request, request["job_id"])
                assert described["status"] == "SUCCEEDED", described.get("cause")
                store = runtime.backends().job_results()
                outcomes[job] = (
                    store.get_job(request["job_id"]),
                    dict(store.iter_results(request["job_id"])),
                )
    for job, _params, salted in ENGINE_JOBS[2:]:
        record, results = outcomes[job]
        assert record.spec["salted_keys"] == salted
        assert record.result_keys == len(results)
        assert without_estimates(results) == reference(rows, job), job


# -- faults ----------------------------------------------------------------------------------
@pytest.mark.statemachine
@pytest.mark.faults
@pytest.mark.parametrize(
    "fault",
    [
        Fault("Reduce", duplicate=True),
        Fault("Finalize", duplicate=True),
        Fault("Finalize", "TransientError", attempts=(1,)),
    ],
    ids=["reduce-twice", "finalize-twice", "finalize-retried"],
)
def test_retried_or_duplicated_reduce_and_finalize_stay_exact(
    handler_env: None, log: Path, rows: list[Row], fault: Fault
) -> None:
    job_id = f"salt-fault-{fault.function}-{fault.error}-{fault.duplicate}".lower()
    request = request_for(
        log,
        "sessions",
        job_id,
        params={"gap": "1s"},
        reducers=REDUCERS,
        chunk_size=CHUNK,
        salted_keys=[HOT_CLIENT],
    )
    execution = local_engine.run_engine(
        request, settings=Settings.load(workers=0), workers=0, hook=FaultPlan(fault), sleep=no_sleep
    )
    assert execution.status == "SUCCEEDED", execution.cause
    assert fault.fired >= 1
    store = embedded_backends(Settings.load()).job_results()
    record = store.get_job(job_id)
    results = dict(store.iter_results(job_id))
    assert results == sessions_reference(rows, gap=1)
    assert record.result_keys == len(results)
    assert record.summary["requests"] == LINES


# -- the CLI -------------------------------------------------------------------------------
@pytest.mark.functional
def test_plan_shows_the_salted_keys_and_run_takes_salt(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from logmr.cli import main

    args = ["plan", str(log), "--job", "sessions", "--param", "gap=1s", "--reducers", "4"]
    assert main([*args, "--chunk-size", "30KB"]) == 0
    shown = capsys.readouterr().out
    line = next(line for line in shown.splitlines() if "salted keys" in line)
    assert line.split()[:5] == ["salted", "keys", f"'{HOT_CLIENT}'", "busiest", "partition"]
    assert main([*args, "--json", "--chunk-size", "30KB"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["salted_keys"] == [HOT_CLIENT]
    assert report["sample"]["largest_load_share"] >= DOMINANT_SHARE_FACTOR / 4
    run = ["run", str(log), "--job", "top_paths", "--reducers", "3", "--chunk-size", "30KB"]
    run += ["--salt", HOT_PATH, "--job-id", "cli-salt", "--engine", "inline", "--workers", "1"]
    assert main([*run, "--json"]) == 0
    capsys.readouterr()
    record = embedded_backends(Settings.load()).results.get_job("cli-salt")
    assert record.spec["salted_keys"] == [HOT_PATH]
