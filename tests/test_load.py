"""The load test's small variant: concurrent jobs, each with its own seed (so
its own answer), on the local engine (one worker pool shared by the jobs, and
in-process) and on moto's Step Functions with S3 and DynamoDB; every job's
results and counters must be its own input's, counted here by hand. No timing
is asserted (``make load`` reports the times)."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from aws_support import BUCKET, create_account, upload
from logmr.config import Settings
from logmr.devtools.generate import generate
from logmr.engine.dispatcher import Dispatcher
from logmr.handlers import runtime
from logmr.run import engine as local_engine
from logmr.run.embedded import embedded_backends
from logmr.workflow.names import FUNCTIONS
from moto_engine import MOTO_CONFIG, POLL_SECONDS, StateMachine, dispatching

pytestmark = pytest.mark.load

JOBS = 3
EVENTS = 1500


def ref_status(path: Path) -> tuple[dict[str, int], int, int]:
    """Status counts, malformed and lines of an Apache combined log, by hand."""
    counts: Counter[str] = Counter()
    malformed = lines = 0
    for raw in path.read_bytes().split(b"\n")[:-1]:
        lines += 1
        parts = raw.rstrip(b"\r").split(b'"')
        fields = parts[2].split() if len(parts) == 7 else []
        if len(fields) != 2 or not fields[0].isdigit():
            malformed += 1
            continue
        counts[fields[0].decode()] += 1
    return dict(counts), malformed, lines


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, Any]]:
    folder = tmp_path_factory.mktemp("load")
    made = []
    for seed in range(1, JOBS + 1):
        path = folder / f"access-{seed}.log"
        with path.open("wb") as out:
            generate(out, fmt="apache_combined", lines=EVENTS, seed=seed)
        made.append((path, ref_status(path)))
    answers = {tuple(sorted(reference[0].items())) for _, reference in made}
    assert len(answers) == JOBS  # distinct answers: a result in the wrong job shows
    return made


def request(uri: str, job_id: str) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "job": "status_codes",
        "inputs": [uri],
        "format": "apache_combined",
        "reducers": 2,
        "chunk_size": 64 * 1024,
    }


def check(store: Any, job_id: str, reference: tuple[dict[str, int], int, int]) -> None:
    counts, malformed, lines = reference
    record = store.get_job(job_id)
    assert record.status == "SUCCEEDED", (record.error, record.cause)
    assert dict(store.iter_results(job_id)) == counts
    assert (record.counters["lines"], record.counters["malformed"]) == (lines, malformed)
    assert record.counters["records"] == sum(counts.values())


@pytest.mark.parametrize("mode", ["given_pool", "shared_by_default", "in_process"])
def test_concurrent_jobs_on_the_local_engine(
    mode: str, inputs: list[tuple[Path, Any]], handler_env: None
) -> None:
    settings = Settings.load(workers=1)
    ids = [f"load-{mode}-{seed}" for seed in range(1, JOBS + 1)]
    pool = local_engine.worker_pool(settings) if mode == "given_pool" else None
    workers = 1 if mode == "shared_by_default" else 0
    try:
        with ThreadPoolExecutor(max_workers=JOBS) as threads:
            executions = list(
                threads.map(
                    lambda job: local_engine.run_engine(
                        request(str(job[1][0]), job[0]),
                        settings=settings,
                        workers=workers,
                        pool=pool,
                    ),
                    zip(ids, inputs, strict=True),
                )
            )
    finally:
        if pool is not None:
            pool.close()
    assert [execution.status for execution in executions] == ["SUCCEEDED"] * JOBS
    store = embedded_backends(settings).job_results()
    for job_id, (_, reference) in zip(ids, inputs, strict=True):
        check(store, job_id, reference)


def test_concurrent_jobs_on_moto(inputs: list[tuple[Path, Any]], aws_handler_env: None) -> None:
    with mock_aws(config=MOTO_CONFIG):
        s3 = create_account()
        with dispatching(Dispatcher(dict(FUNCTIONS), workers=0)):
            machine = StateMachine(bucket=BUCKET)
            machine.deploy()
            arns = {}
            for seed, (path, _) in enumerate(inputs, 1):
                uri = upload(s3, path, f"incoming/load/{path.name}")
                job_id = f"load-moto-{seed}"
                arns[job_id] = machine.sfn.start_execution(
                    stateMachineArn=machine.arn, name=job_id, input=json.dumps(request(uri, job_id))
                )["executionArn"]
            statuses = {}
            for job_id, arn in arns.items():  # every execution was started before any wait
                while (status := machine.sfn.describe_execution(executionArn=arn)["status"]) == (
                    "RUNNING"
                ):
                    time.sleep(POLL_SECONDS)
                statuses[job_id] = status
            assert set(statuses.values()) == {"SUCCEEDED"}, statuses
            store = runtime.backends().job_results()
            for job_id, (_, reference) in zip(arns, inputs, strict=True):
                check(store, job_id, reference)
