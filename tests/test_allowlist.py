"""Inputs a job on AWS may read (``logmr.aws.allowlist``), Plan refusing the rest
before it lists anything, and the handlers' logs holding no log line."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from aws_support import create_account, upload
from conftest import AWS_BUCKET as BUCKET
from logmr import config, layout
from logmr.aws.allowlist import InputAllowList, check_inputs, check_job, parse_location
from logmr.aws.s3 import S3InputSource
from logmr.config import SHUFFLE_BUCKETS, Settings
from logmr.devtools.generate import generate
from logmr.engine.context import LocalContext
from logmr.errors import InputNotAllowedError, InvalidJobError, PermanentError
from logmr.handlers import map as map_handler
from logmr.handlers import plan, runtime

pytestmark = pytest.mark.functional

ENV = {
    config.ENV_BUCKET: "job-data",
    config.ENV_INPUT_BUCKETS: "logs-a, logs-b",
    config.ENV_INPUT_PREFIXES: "incoming/,archive",
}


def allowed() -> InputAllowList:
    return InputAllowList.from_settings(Settings.load(ENV))


# -- the allow-list ------------------------------------------------------------------
def test_the_configuration_is_read_from_the_environment() -> None:
    assert allowed() == InputAllowList(("logs-a", "logs-b"), ("incoming/", "archive/"))
    # defaults: the job-data bucket and incoming/, as the stack deploys them
    assert InputAllowList.from_settings(
        Settings.load({config.ENV_BUCKET: "job-data"})
    ) == InputAllowList(("job-data",), (config.DEFAULT_INPUT_PREFIXES,))
    # nothing configured: nothing allowed (closed, not open)
    assert InputAllowList.from_settings(Settings.load({})).buckets == ()


@pytest.mark.parametrize(
    "uri",
    [
        "s3://logs-a/incoming/access/access.log",
        "s3://logs-b/incoming/access/",  # a prefix: every object under it
        "s3://logs-a/incoming/",  # the whole input prefix
        "s3://logs-a/archive/2026/11/app.log.gz",
        "s3://logs-a/incoming/odd name+%20/..x/x../a.log",  # odd but no '..' segment
    ],
)
def test_allowed_inputs(uri: str) -> None:
    assert allowed().check(uri) == tuple(uri.removeprefix("s3://").split("/", 1))


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("s3://job-data/incoming/a.log", "bucket 'job-data' is not an input bucket"),
        ("s3://other/incoming/a.log", "bucket 'other' is not an input bucket"),
        ("s3://logs-a/logmr/jobs/j-1/plan.json", "outside the input prefixes"),  # job data
        ("s3://logs-a/secret/a.log", "outside the input prefixes"),
        ("s3://logs-a/incoming", "outside the input prefixes"),  # would list incoming2/ too
        ("s3://logs-a/incomingx/a.log", "outside the input prefixes"),
        ("s3://logs-a/Incoming/a.log", "outside the input prefixes"),  # keys are case-sensitive
        ("s3://logs-a/incoming/../secret/a.log", "'.' or '..' segment"),
        ("s3://logs-a/incoming/..", "'.' or '..' segment"),
        ("s3://logs-a/incoming/./a.log", "'.' or '..' segment"),
        ("s3://logs-a/", "names no key"),
        ("s3://logs-a", "names no key"),
        ("s3:///incoming/a.log", "bucket '' is not an input bucket"),
        ("/var/log/access.log", "is not an s3:// URI"),  # a local path, on AWS
        ("file:///var/log/access.log", "is not an s3:// URI"),
        ("S3://logs-a/incoming/a.log", "is not an s3:// URI"),
        ("https://logs-a.s3.amazonaws.com/incoming/a.log", "is not an s3:// URI"),
    ],
)
def test_refused_inputs(uri: str, reason: str) -> None:
    with pytest.raises(InputNotAllowedError, match=reason.replace(".", r"\.")) as caught:
        allowed().check(uri)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400
    assert isinstance(caught.value, PermanentError)  # caught into MarkFailed, never retried


def test_a_refusal_is_one_line_even_for_a_hostile_uri() -> None:
    uri = "s3://other/incoming/" + "x\n" * 500
    with pytest.raises(InputNotAllowedError) as caught:
        allowed().check(uri)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400


# -- logs read where they are: other buckets' locations --------------------------------------
WHERE = {
    **ENV,
    config.ENV_INPUT_LOCATIONS: "s3://alb-logs/AWSLogs/123456789012/elasticloadbalancing/,s3://cf-logs",
}


def test_a_location_allows_its_own_bucket_under_its_own_prefix_only() -> None:
    allow = InputAllowList.from_settings(Settings.load(WHERE))
    assert allow.locations == (
        ("alb-logs", "AWSLogs/123456789012/elasticloadbalancing/"),
        ("cf-logs", ""),
    )
    alb = "s3://alb-logs/AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2026/03/01/"
    assert allow.check(alb)[0] == "alb-logs"
    assert allow.check("s3://cf-logs/E2EXAMPLE.2026-03-01-09.abc.gz")[0] == "cf-logs"
    assert allow.check("s3://logs-a/incoming/a.log")[0] == "logs-a"  # the own buckets still
    refused = {
        "s3://alb-logs/AWSLogs/999999999999/x.log": "outside the input prefixes",
        "s3://alb-logs/incoming/a.log": "outside the input prefixes",  # not the own prefixes
        "s3://logs-a/AWSLogs/123456789012/elasticloadbalancing/x": "outside the input prefixes",
        "s3://cf-logs/": "names no key",
        "s3://cf-logs/a/../b": "'.' or '..' segment",
        "s3://other/AWSLogs/": "not an input bucket (logs-a, logs-b, alb-logs, cf-logs)",
    }
    for uri, reason in refused.items():
        with pytest.raises(InputNotAllowedError, match=re.escape(reason)):
            allow.check(uri)


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("alb-logs/AWSLogs/", "not an s3://bucket/prefix/ URI"),
        ("s3://Bad_Bucket/x/", "not an S3 bucket name"),
        ("s3://b/", "not an S3 bucket name"),
        ("s3://logs/a//b/", "plain folder names"),
        ("s3://logs/a/../b/", "plain folder names"),
        ("s3://logs/a*/", "plain folder names"),
    ],
)
def test_a_location_that_is_no_plain_bucket_and_prefix_is_refused(
    location: str, reason: str
) -> None:
    with pytest.raises(InputNotAllowedError, match=re.escape(reason)):
        InputAllowList.from_settings(Settings.load({**ENV, config.ENV_INPUT_LOCATIONS: location}))
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_location(location)


def test_every_input_is_checked() -> None:
    with pytest.raises(InputNotAllowedError, match="secret"):
        check_inputs(["s3://logs-a/incoming/a.log", "s3://logs-a/secret/b.log"], Settings.load(ENV))
    check_inputs(["s3://logs-a/incoming/a.log", "s3://logs-b/archive/b.log"], Settings.load(ENV))


# -- Plan on moto ------------------------------------------------------------------------
def context(name: str) -> LocalContext:
    return LocalContext(function_name=name)


@pytest.fixture
def access_log(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    with path.open("wb") as out:
        generate(out, fmt="apache_combined", lines=200, seed=7)
    return path


@pytest.fixture
def no_listing(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every list_inputs call Plan makes (none, when it refuses first)."""
    calls: list[list[str]] = []
    original = S3InputSource.list_inputs

    def recorded(self: S3InputSource, uris: Any, listing: Any = None) -> Any:
        calls.append(list(uris))
        return original(self, calls[-1], listing)

    monkeypatch.setattr(S3InputSource, "list_inputs", recorded)
    return calls


@mock_aws
def test_plan_refuses_an_input_outside_the_prefix_before_any_listing(
    aws_handler_env: None, access_log: Path, no_listing: list[list[str]]
) -> None:
    s3 = create_account()
    outside = upload(s3, access_log, "private/access.log")
    request = {"job": "status_codes", "inputs": [outside]}
    with pytest.raises(InputNotAllowedError, match="outside the input prefixes"):
        plan.handler({"input": request, "execution_name": "e-1"}, context("Plan"))
    assert no_listing == []
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="logmr/").get("KeyCount") == 0
    from logmr.errors import JobNotFoundError

    with pytest.raises(JobNotFoundError):
        runtime.backends().results.get_job("e-1")


@mock_aws
def test_a_refused_input_under_another_jobs_id_leaves_that_job_alone(
    aws_handler_env: None, access_log: Path
) -> None:
    """On DynamoDB: a request under a SUCCEEDED job's id with an input outside
    the allow-list fails at Plan; MarkFailed, given the state the Catch
    passes, writes nothing (the record is another execution's)."""
    from logmr.handlers import mark_failed
    from logmr.storage.base import JobRecord

    s3 = create_account()
    store = runtime.backends().results
    victim = JobRecord(
        job_id="victim",
        job="status_codes",
        status="SUCCEEDED",
        execution="arn:aws:states:us-east-1:123456789012:execution:logmr:victim",
    )
    store.put_job(victim)
    store.put_results("victim", [("200", 7)])
    attacker = "arn:aws:states:us-east-1:123456789012:execution:logmr:attacker"
    request = {
        "job_id": "victim",
        "job": "status_codes",
        "inputs": [upload(s3, access_log, "private/access.log")],
    }
    with pytest.raises(InputNotAllowedError) as refused:
        plan.handler(
            {"input": request, "execution_name": "attacker", "execution_id": attacker},
            context("Plan"),
        )
    error = {"Error": type(refused.value).__name__, "Cause": str(refused.value)}
    out = mark_failed.handler(
        {
            "state": {**request, "error": error},
            "execution_name": "attacker",
            "execution_id": attacker,
        },
        context("MarkFailed"),
    )
    assert (out["error"], out["recorded"]) == ("InputNotAllowedError", False)
    assert store.get_job("victim") == victim
    assert store.top("victim", 10) == [("200", 7)]


@mock_aws
def test_plan_refuses_other_buckets_traversal_and_local_paths(
    aws_handler_env: None, no_listing: list[list[str]]
) -> None:
    create_account()
    for uri in (
        "s3://someone-elses-bucket/incoming/a.log",
        f"s3://{BUCKET}/incoming/../logmr/jobs/x/plan.json",
        f"s3://{BUCKET}/",
        "/etc/passwd",
    ):
        with pytest.raises(InputNotAllowedError):
            plan.handler(
                {"input": {"job": "status_codes", "inputs": [uri]}, "execution_name": "e-2"},
                context("Plan"),
            )
    assert no_listing == []


@mock_aws
def test_plan_names_a_bad_job_before_the_inputs(aws_handler_env: None) -> None:
    create_account()
    with pytest.raises(InvalidJobError):
        plan.handler(
            {"input": {"job": "nope", "inputs": ["/etc/passwd"]}, "execution_name": "e-3"},
            context("Plan"),
        )


@pytest.fixture
def marker_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module on the path whose top-level code leaves a file: importing it shows."""
    marker = tmp_path / "imported"
    (tmp_path / "sneaky_jobs.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nfrom user_jobs import MethodCount as Counted\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "sneaky_jobs", raising=False)
    return marker


@mock_aws
def test_plan_on_aws_imports_no_module_the_stack_does_not_allow(
    aws_handler_env: None,
    access_log: Path,
    marker_module: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_listing: list[list[str]],
) -> None:
    """A job named by module: refused before the import, the inputs and any
    listing, unless LOGMR_JOB_MODULES allows its module (or a package of it)."""
    s3 = create_account()
    uri = upload(s3, access_log, "incoming/access.log")
    for name in ("sneaky_jobs:Counted", "sneaky_jobs.Counted"):
        request = {"job": name, "inputs": ["/etc/passwd"]}
        with pytest.raises(InvalidJobError, match="'sneaky_jobs' is not allowed on AWS"):
            plan.handler({"input": request, "execution_name": "e-6"}, context("Plan"))
    assert not marker_module.exists() and no_listing == []
    monkeypatch.setenv(config.ENV_JOB_MODULES, "other, sneaky_jobs")
    runtime.reset()  # a new container: the environment is read once per container
    request = {"job": "sneaky_jobs:Counted", "inputs": [uri]}
    planned = plan.handler({"input": request, "execution_name": "e-7"}, context("Plan"))
    assert planned["map_task_count"] == 1 and marker_module.exists()


MALFORMED_JOB_NAMES = [":X", ".X", "..x:Y", "a..b:C", "x y:Z", "os:", "os:1a", "\x1b[2J:X"]


@pytest.mark.parametrize("name", MALFORMED_JOB_NAMES)
def test_a_malformed_job_name_is_an_invalid_job_everywhere(name: str) -> None:
    """Locally (any module may be named) and on AWS alike: the name's form is
    checked before anything is imported."""
    from logmr.jobs import load_job

    with pytest.raises(InvalidJobError, match="unknown job"):
        load_job(name)
    with pytest.raises(InvalidJobError, match="unknown job"):
        check_job(name, Settings.load({config.ENV_JOB_MODULES: "os,x"}))


def test_a_module_that_fails_to_import_is_an_invalid_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from logmr.jobs import load_job

    (tmp_path / "broken_jobs.py").write_text("raise RuntimeError('half-written module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(InvalidJobError, match="RuntimeError: half-written module"):
        load_job("broken_jobs:Anything")


@mock_aws
def test_plan_follows_the_configured_prefixes(
    aws_handler_env: None,
    access_log: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_listing: list[list[str]],
) -> None:
    s3 = create_account()
    uri = upload(s3, access_log, "archive/2026/access.log")
    request = {"input": {"job": "status_codes", "inputs": [uri]}, "execution_name": "e-4"}
    with pytest.raises(InputNotAllowedError):
        plan.handler(request, context("Plan"))
    monkeypatch.setenv(config.ENV_INPUT_PREFIXES, "incoming/,archive/")
    runtime.reset()  # a new container: the environment is read once per container
    planned = plan.handler(request, context("Plan"))
    assert planned["map_task_count"] == 1
    assert no_listing == [[uri]]


def test_the_local_storage_does_not_restrict_local_paths(
    monkeypatch: pytest.MonkeyPatch, access_log: Path
) -> None:
    monkeypatch.setenv(config.ENV_STORAGE, "local")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    runtime.reset()
    try:
        request = {"job": "status_codes", "inputs": [str(access_log)]}
        planned = plan.handler({"input": request, "execution_name": "e-5"}, context("Plan"))
    finally:
        runtime.reset()
    assert planned["map_task_count"] == 1


# -- logs hold no log line -----------------------------------------------------------------
@mock_aws
def test_the_map_handler_logs_no_input_line(
    aws_handler_env: None,
    tmp_path: Path,
    access_log: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "SECRET-TOKEN-3f9c2a"
    malformed = [f"{secret} not an access line {n}" for n in range(30)]
    good = access_log.read_text().splitlines()
    path = tmp_path / "mixed.log"
    path.write_text("\n".join([*good[:50], *malformed, *good[50:]]) + "\n")
    s3 = create_account()
    uri = upload(s3, path, "incoming/access/mixed.log")
    spec = {
        "job_id": "quiet-1",
        "job": "status_codes",
        "inputs": [uri],
        "format": "apache_combined",
        "reducers": 2,
        "buckets": SHUFFLE_BUCKETS,  # as Plan returns it
    }
    task = {"task": 0, "pieces": [{"uri": uri, "start": 0, "end": path.stat().st_size}]}
    # the Powertools logger writes to the stream it was built with: point it at
    # the captured stdout, and log at INFO as deployed (POWERTOOLS_LOG_LEVEL)
    handler = runtime.logger.registered_handler
    assert hasattr(handler, "setStream")
    monkeypatch.setattr(handler, "stream", sys.stdout)
    runtime.logger.setLevel("INFO")
    capsys.readouterr()

    result = map_handler.handler({"spec": spec, "task": task}, context("Map"))
    runtime.logger.info("canary")  # the capture does see the logger

    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert result["counters"]["malformed"] == len(malformed)
    # the samples go to job data (the task summary, then Finalize's quarantine)
    summary = s3.get_object(Bucket=BUCKET, Key="logmr/" + layout.map_summary_key("quiet-1", 0))
    assert secret in summary["Body"].read().decode()
    assert "canary" in output
    assert '"_aws"' in output  # and the EMF metrics line
    assert secret not in output
    for line in good:
        assert line not in output
    for record in output.splitlines():
        if record.startswith("{"):
            json.loads(record)  # structured records only, no raw text


@mock_aws
def test_plan_reads_an_alb_bucket_where_it_is_within_a_time_range(
    aws_handler_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A location of another bucket: Plan lists it in place (no copy under
    incoming/), and only the day folders the range may touch."""
    s3 = create_account()
    s3.create_bucket(Bucket="alb-logs")
    base = "AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2026/03"
    log = tmp_path / "access.log"
    with log.open("wb") as out:
        generate(out, fmt="apache_combined", lines=50, seed=3)
    for day in ("01", "02", "03"):
        s3.put_object(Bucket="alb-logs", Key=f"{base}/{day}/a.log", Body=log.read_bytes())
    monkeypatch.setenv(config.ENV_INPUT_LOCATIONS, "s3://alb-logs/AWSLogs/123456789012/")
    runtime.reset()
    request = {
        "job": "status_codes",
        "format": "apache_combined",
        "inputs": ["s3://alb-logs/AWSLogs/123456789012/"],
        "since": "2026-03-02T03:00:00Z",
        "until": "2026-03-02T20:00:00Z",
    }
    planned = plan.handler({"input": request, "execution_name": "e-alb"}, context("Plan"))
    manifest = runtime.backends().objects.get_json(layout.manifest_key("e-alb"))
    uris = {piece["uri"] for task in manifest["map_tasks"] for piece in task["pieces"]}
    assert uris == {f"s3://alb-logs/{base}/02/a.log"}
    assert planned["spec"]["since"] == "2026-03-02T03:00:00Z"
