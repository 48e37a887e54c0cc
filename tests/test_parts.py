"""logmr.storage.parts: a job's part files hold every result exactly once, in
key order, streamed; the result store keeps each part's best ``TOP_KEPT``,
and its top N equals the part files' top N, locally and on S3/DynamoDB."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from aws_support import BUCKET, create_account, upload
from helpers import generated_logs
from logmr import layout
from logmr.aws.backends import aws_backends
from logmr.config import Settings
from logmr.jobs import JOBS, job_class
from logmr.jobs.base import top_n
from logmr.run.embedded import embedded_backends
from logmr.run.inline import InlineRunner
from logmr.run.request import build_request
from logmr.storage import parts
from logmr.storage.backends import Backends
from logmr.storage.folder import FolderObjectStore

#: the parameters of the jobs that need some
PARAMS: dict[str, dict[str, str]] = {
    "field_count": {"field": "client"},
    "pattern_count": {"pattern": r"(?P<key>[A-Z]+) /"},
}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generated_logs(tmp_path_factory.mktemp("logs"), 4_000, seed=11)


def builtin_jobs() -> list[str]:
    job_class("word_count")  # loads the catalogue
    return sorted(JOBS)


# -- the format ---------------------------------------------------------------------
@pytest.mark.unit
def test_a_part_is_one_line_per_key_in_key_order_the_last_value_winning() -> None:
    text, rows = parts.part_text([("b", 1), ("a", {"count": 2}), ("b", 3), ("ü", [1.5])])
    assert rows == [("a", {"count": 2}), ("b", 3), ("ü", [1.5])]
    assert text.decode().splitlines() == ['["a",{"count":2}]', '["b",3]', '["ü",[1.5]]']


@pytest.mark.unit
def test_part_files_stream_merged_in_key_order_across_read_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "READ_BYTES", 7)  # every line crosses a read
    objects = FolderObjectStore(tmp_path)
    everything = {f"k{i:04d}": {"count": i, "text": "x\ny"} for i in range(300)}
    for partition in range(3):  # k0000 is salted: in Finalize's part alone
        mine = [(k, v) for k, v in everything.items() if int(k[1:]) % 3 == partition and int(k[1:])]
        objects.put(layout.part_key("j", partition), parts.part_text(mine)[0])
    objects.put(layout.salted_part_key("j"), parts.part_text([("k0000", everything["k0000"])])[0])
    got = list(parts.iter_part_results(objects, "j"))
    assert [key for key, _ in got] == sorted(everything)  # once each, in key order
    assert dict(got) == everything
    assert list(parts.iter_part_results(objects, "other-job")) == []


# -- every built-in job ---------------------------------------------------------------
def run_job(backends: Backends, job: str, log: Path | str, job_id: str) -> Any:
    request = build_request([str(log)], job, job_id=job_id, params=PARAMS.get(job), reducers=3)
    return InlineRunner(backends, raise_errors=True).run({**request, "chunk_size": 64 * 1024})


def check_parts(backends: Backends, job_id: str) -> None:
    """Every key once, the record counts them, the table's top is the parts' top."""
    record = backends.results.get_job(job_id)
    lines = [
        json.loads(line)
        for key in parts.part_keys(backends.objects, job_id)
        for line in backends.objects.get(key).decode().splitlines()
    ]
    keys = [key for key, _ in lines]
    assert len(keys) == len(set(keys)) == record.result_keys
    everything = dict(backends.job_results().iter_results(job_id))
    assert everything == dict(lines)
    for n in (1, parts.TOP_KEPT):  # from the table
        assert backends.results.top(job_id, n) == top_n(everything.items(), n)
    for n in (1, parts.TOP_KEPT, parts.TOP_KEPT + 1, 50):  # from the table or the part files
        assert backends.job_results().top(job_id, n) == top_n(everything.items(), n)
    stored = list(backends.results.iter_results(job_id))
    assert len(stored) <= 4 * parts.TOP_KEPT  # 3 reducers and the salted part at most


@pytest.mark.functional
@pytest.mark.parametrize("job", builtin_jobs())
def test_every_job_s_part_files_hold_every_key_once_locally(
    job: str, logs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "TOP_KEPT", 4)  # the table keeps few: the top must still agree
    backends = embedded_backends(Settings.load())
    log = logs["app"] if job in ("level_counts", "error_rate") else logs["access"]
    record = run_job(backends, job, log, f"parts-{job}")
    assert record.status == "SUCCEEDED"
    check_parts(backends, record.job_id)


@pytest.mark.functional
@mock_aws
def test_part_files_on_s3_and_the_top_in_dynamodb(
    logs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "TOP_KEPT", 4)
    s3 = create_account()
    uri = upload(s3, logs["access"], "incoming/access.log")
    backends = aws_backends(Settings(bucket=BUCKET))
    for job in ("word_count", "top_paths", "status_codes"):
        record = run_job(backends, job, uri, f"s3-{job}")
        assert record.status == "SUCCEEDED"
        check_parts(backends, record.job_id)
        local = embedded_backends(Settings.load())
        run_job(local, job, logs["access"], f"local-{job}")
        assert dict(backends.job_results().iter_results(f"s3-{job}")) == dict(
            local.job_results().iter_results(f"local-{job}")
        )
