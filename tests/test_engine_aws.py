"""Every built-in job through the state machine on moto's Step Functions, with
job data in moto's S3 and results in moto's DynamoDB: the same results and job
records as the inline runner's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from analytics_reference import without_estimates
from aws_support import BUCKET, create_account, upload
from engine_support import comparable, request_for
from helpers import generated_logs, run_inline
from logmr.engine.dispatcher import Dispatcher
from logmr.workflow.names import FUNCTIONS
from moto_engine import MOTO_CONFIG, StateMachine, dispatching
from test_engine import JOBS

pytestmark = pytest.mark.statemachine


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generated_logs(tmp_path_factory.mktemp("aws-logs"), lines=3000, seed=23)


def test_all_jobs_on_s3_and_dynamodb(aws_handler_env: None, logs: dict[str, Path]) -> None:
    with mock_aws(config=MOTO_CONFIG):
        s3 = create_account()
        uris = {
            kind: upload(s3, path, f"incoming/{kind}/{path.name}") for kind, path in logs.items()
        }
        with dispatching(Dispatcher(dict(FUNCTIONS), workers=0)):
            machine = StateMachine(bucket=BUCKET)
            machine.deploy()
            outcomes: dict[str, tuple[Any, dict[str, Any]]] = {}
            for job, params, log in JOBS:
                request = {
                    **request_for(logs[log], job, f"aws-{job}"),
                    "inputs": [uris[log]],
                    "params": params,
                    "reducers": 3,
                    "chunk_size": 80_000,
                }
                outcomes[job] = machine.run_job(request)
    for job, params, log in JOBS:
        inline_record, inline_results = run_inline(
            logs[log], job, params=params, reducers=3, chunk_size=80_000
        )
        record, results = outcomes[job]
        assert results == inline_results, job
        # summaries over more than k values hold randomized KLL estimates
        mine = without_estimates(comparable(record))
        theirs = without_estimates(comparable(inline_record))
        assert mine["spec"].pop("inputs") != theirs["spec"].pop("inputs")  # s3:// and a local path
        for sample in mine["malformed_samples"] + theirs["malformed_samples"]:
            sample.pop("origin", None)
        assert mine == theirs, job
