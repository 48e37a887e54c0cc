"""A time range on the state machine on moto (Step Functions, S3, DynamoDB),
over logs read where they are (a Firehose layout in another bucket, allowed by
``LOGMR_INPUT_LOCATIONS``): the same results and counters as the inline
runner over the same layout in a local folder, the same objects left unread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from aws_support import BUCKET, create_account
from helpers import run_inline
from logmr import config
from logmr.engine.dispatcher import Dispatcher
from logmr.handlers import runtime
from logmr.workflow.names import FUNCTIONS
from moto_engine import MOTO_CONFIG, StateMachine, dispatching
from test_dated import firehose_layout

pytestmark = pytest.mark.statemachine

SINCE, UNTIL = "2026-03-01T20:00:00Z", "2026-03-02T02:30:00Z"


@pytest.mark.parametrize("job", ["status_codes", "top_paths"])
def test_a_range_over_another_bucket_on_the_state_machine_matches_the_local_run(
    aws_handler_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, job: str
) -> None:
    root = tmp_path / "firehose"
    firehose_layout(root)
    monkeypatch.setenv(config.ENV_INPUT_LOCATIONS, "s3://fh-logs/fh/")
    runtime.reset()
    with mock_aws(config=MOTO_CONFIG):
        s3 = create_account()
        s3.create_bucket(Bucket="fh-logs")
        for path in root.rglob("*.log"):
            key = f"fh/{path.relative_to(root).as_posix()}"
            s3.put_object(Bucket="fh-logs", Key=key, Body=path.read_bytes())
        with dispatching(Dispatcher(dict(FUNCTIONS), workers=0)):
            machine = StateMachine(bucket=BUCKET)
            machine.deploy()
            request: dict[str, Any] = {
                "job_id": f"range-{job.replace('_', '-')}",
                "job": job,
                "inputs": ["s3://fh-logs/fh/"],
                "format": "apache_combined",
                "since": SINCE,
                "until": UNTIL,
                "reducers": 2,
            }
            record, results = machine.run_job(request)
    local_record, local_results = run_inline(
        root, job, fmt="apache_combined", since=SINCE, until=UNTIL, reducers=2, home=tmp_path / "h"
    )
    assert results == local_results and results
    assert record.counters == local_record.counters
    assert record.counters["skipped_folders"] == 39  # test_dated: the same layout, unread
    assert record.spec["since"] == SINCE and record.spec["until"] == "2026-03-02T02:30:00Z"
