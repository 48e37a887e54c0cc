"""The cost estimate (logmr.plan.cost), the bill a finished job records, and
``logmr plan --estimate``.

No test here recomputes the model with its own constants (that proves only
that the constants were typed twice): the prices are checked on a worked
example computed by hand from the AWS price pages, the request counts against
a real run's counted requests, and the model's shape by its monotonicity."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from aws_support import create_account, upload
from conftest import AWS_BUCKET
from helpers import generated_logs
from logmr import cli, layout
from logmr.aws.backends import aws_backends
from logmr.config import SHUFFLE_BUCKETS, Settings
from logmr.mapreduce import shuffle
from logmr.mapreduce.partition import bucket_group
from logmr.plan import cost
from logmr.plan.tuning import Limits
from logmr.run import engine as local_engine
from logmr.run import inline as runner
from logmr.run.embedded import embedded_backends
from logmr.spec import JobSpec
from logmr.storage.parts import TOP_KEPT

USAGE_FIELDS = [field.name for field in dataclasses.fields(cost.Usage)]


def shape(**changes: object) -> cost.Shape:
    figures: dict[str, object] = {
        "objects": 2,
        "input_bytes": 300_000_000,
        "map_tasks": 5,
        "reducers": 2,
        "max_concurrency": 5,
        "expected_keys": 1000,
        "distributed": False,
    }
    return cost.Shape(**{**figures, **changes})  # type: ignore[arg-type]


# -- prices ------------------------------------------------------------------------------
@pytest.mark.unit
def test_a_worked_example_priced_by_hand() -> None:
    """us-east-1, on-demand, first tier, free tiers left out, as read from the
    AWS pricing pages (the prices logmr.plan.cost says it checked):

    * aws.amazon.com/lambda/pricing (Arm): $0.20 per 1M requests,
      $0.0000133334 per GB-second;
    * aws.amazon.com/step-functions/pricing (Standard): $0.025 per 1,000
      state transitions;
    * aws.amazon.com/s3/pricing (S3 Standard): $0.0004 per 1,000 GET,
      $0.005 per 1,000 PUT, COPY, POST, LIST;
    * aws.amazon.com/dynamodb/pricing/on-demand: $0.625 per million write
      request units.

    1M requests: $0.20; 100,000 GB-s: $1.33334; 40,000 transitions: 40 x
    $0.025 = $1.00; 1M GET: 1,000 x $0.0004 = $0.40; 100,000 PUT + 20,000
    LIST: 120 x $0.005 = $0.60; 2M WRU: 2 x $0.625 = $1.25; in all $4.78334."""
    usage = cost.Usage(
        lambda_requests=1_000_000,
        lambda_gb_s=100_000,
        transitions=40_000,
        s3_get=1_000_000,
        s3_put=100_000,
        s3_list=20_000,
        dynamodb_wru=2_000_000,
    )
    assert usage.dollars() == pytest.approx(
        {
            "lambda_requests": 0.20,
            "lambda_duration": 1.33334,
            "step_functions": 1.00,
            "s3_get": 0.40,
            "s3_put_list": 0.60,
            "dynamodb_writes": 1.25,
            "total": 4.78334,
        },
        abs=1e-6,
    )


@pytest.mark.unit
@pytest.mark.parametrize("field", USAGE_FIELDS)
def test_each_unit_is_priced_once_in_one_line_item(field: str) -> None:
    """A million of one unit costs in exactly one line item, twice as many
    cost twice as much, and the total is that item (not counted twice)."""
    one = cost.Usage(**{field: 1_000_000}).dollars()  # type: ignore[arg-type]
    two = cost.Usage(**{field: 2_000_000}).dollars()  # type: ignore[arg-type]
    items = {name: value for name, value in one.items() if name != "total" and value}
    assert len(items) == 1, items
    ((name, value),) = items.items()
    assert value > 0
    assert one["total"] == pytest.approx(value)
    assert two[name] == pytest.approx(2 * value)
    assert cost.Usage().dollars()["total"] == 0


@pytest.mark.unit
def test_put_and_list_requests_share_one_price() -> None:
    assert cost.Usage(s3_put=1000).dollars() == cost.Usage(s3_list=1000).dollars()


# -- the estimate's shape ----------------------------------------------------------------
sizes = st.integers(1, 2_000)


@pytest.mark.property
@given(m=sizes, r=st.integers(1, 40), keys=st.integers(0, 10**7), more=st.integers(1, 500))
def test_more_map_tasks_reducers_or_keys_never_cost_less(
    m: int, r: int, keys: int, more: int
) -> None:
    """Every usage figure and the total grow (or stay) with each of the map
    tasks, the reducers and the expected keys; requests strictly grow."""
    limits = Limits()
    base = cost.estimate(shape(map_tasks=m, reducers=r, expected_keys=keys), limits)
    for bigger in (
        shape(map_tasks=m + more, reducers=r, expected_keys=keys),
        shape(map_tasks=m, reducers=r + more, expected_keys=keys),
        shape(map_tasks=m, reducers=r, expected_keys=keys + more),
    ):
        grown = cost.estimate(bigger, limits)
        for field in USAGE_FIELDS:
            assert getattr(grown.usage, field) >= getattr(base.usage, field), field
        assert grown.usage.dollars()["total"] >= base.usage.dollars()["total"]
    more_tasks = cost.estimate(shape(map_tasks=m + more, reducers=r, expected_keys=keys), limits)
    assert more_tasks.usage.lambda_requests > base.usage.lambda_requests
    assert more_tasks.usage.s3_get > base.usage.s3_get
    more_keys = cost.estimate(shape(map_tasks=m, reducers=r, expected_keys=keys + more), limits)
    # more keys are more DynamoDB writes until every reducer keeps its TOP_KEPT best
    if keys + more <= r * TOP_KEPT:
        assert more_keys.usage.dynamodb_wru > base.usage.dynamodb_wru
    else:
        assert more_keys.usage.dynamodb_wru == r * TOP_KEPT + cost.JOB_RECORD_WRU


@pytest.mark.property
@given(m=sizes, concurrency=st.integers(1, 1000), extra=st.integers(1, 1000))
def test_more_concurrency_is_never_slower_and_costs_the_same(
    m: int, concurrency: int, extra: int
) -> None:
    limits = Limits(concurrency=10_000)
    slow = cost.estimate(shape(map_tasks=m, max_concurrency=concurrency), limits)
    fast = cost.estimate(shape(map_tasks=m, max_concurrency=concurrency + extra), limits)
    assert fast.seconds["wall"] <= slow.seconds["wall"]
    assert fast.usage == slow.usage  # the same work, done sooner


@pytest.mark.unit
def test_more_input_takes_longer_per_task_and_more_gb_seconds() -> None:
    small = cost.estimate(shape(input_bytes=10**8), Limits())
    large = cost.estimate(shape(input_bytes=10**10), Limits())
    assert large.seconds["map_task"] > small.seconds["map_task"]
    assert large.usage.lambda_gb_s > small.usage.lambda_gb_s
    assert large.usage.s3_get == small.usage.s3_get  # the same requests, longer reads


@pytest.mark.unit
def test_a_distributed_map_adds_its_item_list() -> None:
    """The Distributed Map's ItemReader: one more PUT (the list) and GET; its
    ResultWriter's PUTs (the manifest and the successes' file)."""
    inline = cost.estimate(shape(), Limits()).usage
    distributed = cost.estimate(shape(distributed=True), Limits()).usage
    assert distributed.s3_put == inline.s3_put + 1 + 2
    assert distributed.s3_get == inline.s3_get + 1


@pytest.mark.unit
def test_a_compressed_objects_size_read_is_a_get_and_its_task_the_long_pole() -> None:
    """Plan reads a few bytes of each compressed object (a GET each); one
    large compressed object, never cut, makes the map wave last its time."""
    plain = cost.estimate(shape(), Limits())
    read = cost.estimate(shape(size_reads=2), Limits())
    assert read.usage.s3_get == plain.usage.s3_get + 2
    assert read.seconds["plan"] > plain.seconds["plan"]
    even = cost.estimate(shape(longest_task_bytes=60_000_000), Limits())  # the average task
    pole = cost.estimate(shape(longest_task_bytes=6_000_000_000), Limits())
    assert even.seconds["wall"] == plain.seconds["wall"]
    assert pole.seconds["wall"] > plain.seconds["wall"] + 90  # 6 GB at 60 MB/s: 100 s
    assert pole.usage == plain.usage  # the same work, in one task


# -- the estimate against a run's bill ---------------------------------------------------
@pytest.mark.functional
def test_a_runs_bill_has_the_estimates_request_counts(tmp_path: Path) -> None:
    """The same shape on moto's S3 and DynamoDB (as on Lambda: S3 inputs, a
    LIST, a head GET per object): every request the tasks counted is one the
    estimate predicts, no more, no fewer. (The estimate reads a block of every
    map task for every reducer: six equal tasks of hundreds of paths each, so
    that no block is empty, which a reducer would skip.)"""
    log = generated_logs(tmp_path, lines=3000, seed=4)["access"]
    with log.open("ab") as out:
        out.write(b"a malformed line, for the quarantine's PUT\n")
    chunk = -(-log.stat().st_size // 6)
    with mock_aws():
        s3 = create_account()
        uri = upload(s3, log, "incoming/cost/access.log")
        backends = aws_backends(Settings(bucket=AWS_BUCKET))
        spec = JobSpec.from_dict(
            {
                "job_id": "cost-1",
                "job": "top_paths",
                "inputs": [uri],
                "chunk_size": chunk,
                "reducers": 3,
            }
        )
        runner.run(spec, backends)
        record = backends.results.get_job("cost-1")
        manifest = backends.objects.get_json(layout.manifest_key(spec.job_id))
        indexes = [
            shuffle.decode_index(backends.objects.get(layout.shuffle_key(spec.job_id, task)))
            for task in range(record.map_tasks)
        ]
    # every reducer's group of buckets holds pairs in every object: two GETs each
    groups = [bucket_group(p, 3, SHUFFLE_BUCKETS) for p in range(3)]
    assert len(indexes) == 6 and all(len(index) == SHUFFLE_BUCKETS for index in indexes)
    assert all(sum(index[b][1] for b in group) for index in indexes for group in groups)
    bill = record.bill
    assert bill is not None and record.status == "SUCCEEDED"
    assert record.malformed_samples  # the quarantine was written
    estimate = cost.estimate(
        cost.Shape(
            objects=1,
            input_bytes=log.stat().st_size,
            map_tasks=record.map_tasks,
            reducers=3,
            max_concurrency=manifest["spec"]["max_concurrency"],
            expected_keys=record.result_keys,
            distributed=False,
            sample_reads=manifest["sample_reads"],
        ),
        Limits(),
    )
    for field in ("lambda_requests", "transitions", "s3_get", "s3_put", "s3_list"):
        assert bill[field] == getattr(estimate.usage, field), field
    assert bill["dynamodb_wru"] >= record.result_keys  # a write per result at least


@pytest.mark.functional
def test_a_bill_is_priced_as_its_usage_and_shown_by_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = generated_logs(tmp_path, lines=2000, seed=4)["access"]
    backends = embedded_backends(Settings.load(home=tmp_path))
    spec = JobSpec.from_dict(
        {"job_id": "cost-2", "job": "status_codes", "inputs": [str(log)], "reducers": 2}
    )
    runner.run(spec, backends)
    bill = backends.results.get_job("cost-2").bill
    assert bill is not None
    usage = cost.Usage(**{field: bill[field] for field in USAGE_FIELDS})
    assert bill["usd"] == usage.dollars()
    assert set(bill["seconds"]) == {"Plan", "Map", "PlanReduce", "Reduce", "Finalize"}
    assert bill["s3_list"] == 0  # local inputs: no LIST
    assert cli.main(["status", "cost-2", "--home", str(tmp_path)]) == 0
    assert cost.describe_bill(bill) in capsys.readouterr().out


@pytest.mark.statemachine
def test_bill_transitions_match_the_local_engines_history(
    tmp_path: Path, handler_env: None
) -> None:
    log = generated_logs(tmp_path, lines=1500, seed=6)["access"]
    settings = Settings.load(workers=0)  # the handlers' LOGMR_HOME
    request = {
        "job_id": "bill-sm",
        "job": "status_codes",
        "inputs": [str(log)],
        "chunk_size": 64 * 1024,
        "reducers": 2,
    }
    execution = local_engine.run_engine(request, settings=settings, workers=0)
    assert execution.status == "SUCCEEDED"
    entered = sum(1 for event in execution.history if event["type"].endswith("StateEntered"))
    record = embedded_backends(settings).results.get_job("bill-sm")
    assert record.bill is not None
    assert record.map_tasks > 1
    assert record.bill["transitions"] == entered
    assert cost.transitions(record.map_tasks, 2) == entered  # the estimate's count too


# -- logmr plan --estimate ---------------------------------------------------------------
@pytest.mark.functional
def test_plan_command_prints_the_plan_and_estimate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = generated_logs(tmp_path, lines=1000, seed=2)["access"]
    code = cli.main(["plan", str(log), "--job", "status_codes", "--estimate", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["map_tasks"] == 1 and report["map_mode"] == "inline"
    assert report["input_bytes"] == log.stat().st_size
    usage = report["estimate"]["usage"]
    assert usage["transitions"] == cost.transitions(1, report["reducers"])
    # Plan, the map task, PlanReduce, the reducers, Finalize
    assert usage["lambda_requests"] == 3 + 1 + report["reducers"]
    assert not list(tmp_path.glob("logmr-home/objects/**/*.json"))  # nothing written

    code = cli.main(
        ["plan", str(log), "--job", "status_codes", "--estimate", "--assume-size", "100GB"]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "distributed Map" in text
    assert "100.00 GB" in text and "total" in text

    code = cli.main(["plan", str(log), "--job", "status_codes", "--reducers", "7", "--json"])
    assert json.loads(capsys.readouterr().out)["reducers"] == 7


@pytest.mark.functional
def test_plan_command_refuses_a_bad_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = generated_logs(tmp_path, lines=10, seed=2)["access"]
    assert cli.main(["plan", str(log), "--job", "nope"]) == 1
    assert "InvalidJobError" in capsys.readouterr().err
