"""The cost estimate (logmr.plan.cost), the bill a finished job records, and
``logmr plan --estimate``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from helpers import generated_logs, run_inline
from logmr import cli, layout
from logmr.config import Settings
from logmr.mapreduce import shuffle
from logmr.plan import cost
from logmr.plan.sample import SAMPLE_BYTES, SAMPLE_SLICES
from logmr.plan.tuning import Limits
from logmr.run import engine as local_engine
from logmr.storage.embedded import embedded_backends


@pytest.mark.unit
def test_estimate_of_a_small_plan_by_hand() -> None:
    shape = cost.Shape(
        objects=2,
        input_bytes=300_000_000,
        map_tasks=5,
        reducers=2,
        max_concurrency=5,
        expected_keys=1000,
        distributed=False,
    )
    estimate = cost.estimate(shape, Limits())
    usage = estimate.usage
    assert usage.lambda_requests == 9  # plan, 5 maps, 2 reduces, finalize
    assert usage.transitions == 12  # Plan, Choice, Map, 5 MapTask, Reduce, 2 ReduceTask, Finalize
    # plan: 2 object heads + sample; map: 5 ranges; reduce: 2 x 5 x (index + block);
    # finalize: 5 + 2 summaries and the manifest
    assert usage.s3_get == 2 + 1 + 5 + 20 + 7 + 1
    # plan: manifest; map: 5 x (shuffle + summary); reduce: 2 x (part + summary); quarantine
    assert usage.s3_put == 1 + 10 + 4 + 1
    assert usage.s3_list == 1
    assert usage.dynamodb_wru == 1000 + 9
    map_s = 300 / 5 / 60 + 0.3  # 60 MB per task at 60 MB/s, plus the task overhead
    reduce_s = 2 * 5 * 0.015 / 16 + 500 / 2500 + 0.3
    plan_s = 1 + 2 * 0.015
    finalize_s = 1 + 7 * 0.015 / 16 + 1000 / 20_000
    gb_s = plan_s * 0.5 + 5 * map_s * 1769 / 1024 + 2 * reduce_s * 1769 / 1024 + finalize_s * 1.0
    assert usage.lambda_gb_s == pytest.approx(gb_s)
    assert estimate.seconds["map_task"] == round(map_s, 2)
    assert estimate.seconds["wall"] == round(plan_s + map_s + reduce_s + finalize_s + 0.25, 1)
    usd = usage.dollars()
    assert usd["lambda_duration"] == pytest.approx(gb_s * 0.0000133334, abs=1e-6)
    assert usd["step_functions"] == pytest.approx(12 * 0.025 / 1000)
    assert usd["s3_put_list"] == pytest.approx(17 * 0.005 / 1000)
    assert usd["dynamodb_writes"] == pytest.approx(1009 * 0.625 / 1e6, abs=1e-6)
    parts = [value for name, value in usd.items() if name != "total"]
    assert usd["total"] == pytest.approx(sum(parts), abs=1e-5)


@pytest.mark.functional
def test_the_bill_of_a_local_run_adds_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = generated_logs(tmp_path, lines=2000, seed=4)["access"]
    record, results = run_inline(log, "status_codes", reducers=3, chunk_size=60_000, home=tmp_path)
    bill = record.bill
    assert bill is not None
    m, r = record.map_tasks, 3
    assert m == math.ceil(log.stat().st_size / 60_000)
    assert bill["lambda_requests"] == 2 + m + r
    assert bill["transitions"] == 5 + m + r
    # the reducers' GETs: one index per map task, one block per non-empty block
    objects = embedded_backends(Settings.load(home=tmp_path)).objects
    blocks = 0
    for task in range(m):
        data = objects.get(layout.shuffle_key(record.job_id, task))
        blocks += sum(1 for _, length, _ in shuffle.decode_index(data) if length)
    quarantined = 1 if record.malformed_samples else 0
    # the sample: the log is over 256 KiB, so its start and 7 pieces spread over it
    assert log.stat().st_size > SAMPLE_BYTES
    sample_reads = objects.get_json(layout.manifest_key(record.job_id))["sample_reads"]
    assert sample_reads == SAMPLE_SLICES
    # sample + map inputs + reducers + finalize (summaries and manifest); local inputs: no LIST
    assert bill["s3_get"] == sample_reads + m + (m * r + blocks) + (m + r + 1)
    assert bill["s3_put"] == 1 + 2 * m + 2 * r + quarantined
    assert bill["s3_list"] == 0
    assert bill["dynamodb_wru"] >= len(results) + 2
    assert bill["lambda_gb_s"] > 0
    assert set(bill["seconds"]) == {"Plan", "Map", "Reduce", "Finalize"}
    parts = [value for name, value in bill["usd"].items() if name != "total"]
    assert bill["usd"]["total"] == pytest.approx(sum(parts), abs=1e-5)
    assert cli.main(["status", record.job_id, "--home", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert f"{bill['transitions']} transitions, {bill['s3_get']} S3 GET" in shown


@pytest.mark.functional
def test_bill_transitions_match_the_local_engines_history(
    tmp_path: Path, handler_env: None
) -> None:
    log = generated_logs(tmp_path, lines=1500, seed=6)["access"]
    settings = Settings.load(workers=0)  # the handlers' LOGMR_HOME
    request = {
        "job_id": "bill-sm",
        "job": "status_codes",
        "inputs": [str(log)],
        "chunk_size": 50_000,
        "reducers": 2,
    }
    execution = local_engine.run_engine(request, settings=settings, workers=0)
    assert execution.status == "SUCCEEDED"
    entered = sum(1 for event in execution.history if event["type"].endswith("StateEntered"))
    record = embedded_backends(settings).results.get_job("bill-sm")
    assert record.bill is not None
    assert record.bill["transitions"] == entered


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
    assert usage["transitions"] == 5 + 1 + report["reducers"]
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
