"""The emulated deployment (tests/emulated/, docs/emulated.md): the CDK app
synthesized, its template created by moto's CloudFormation on moto's server
in this process, each function run with the environment the template gives
it. A log uploaded under ``incoming/<job>/`` runs that job; ``logmr
submit/status/results --endpoint-url`` and the README's start-execution
example run against it, and a job whose map tasks run as a Distributed Map;
each answer is compared with a count of the log made without logmr
(``analytics_reference``). A template whose wiring is wrong
fails its job, for the reason the wrong variable gives.

One deployment at a time per process (``deployed`` refuses a second): the
wiring test, which deploys an altered template, runs first, then the module's
deployment serves the other tests; ``make test`` keeps them on one pytest
worker (``xdist_group``, ``--dist loadgroup``).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="the cdk extra is not installed: pip install -e '.[cdk]'")

from analytics_reference import read_access
from conftest import REPO
from emulated.assembly import Assembly, synthesize
from emulated.deployment import Deployment, deployed
from logmr import config
from logmr.devtools.generate import generate
from logmr.workflow import names

pytestmark = [pytest.mark.emulated, pytest.mark.xdist_group("emulated")]

#: the generated log (about 0.8 MB: Plan cuts it as it would on AWS)
LINES = 4000
SEED = 15
#: under ``incoming/`` but naming no job: an upload there starts nothing
UNTRIGGERED = "incoming/access/access.log"
#: seconds a command may take (a job on 2 shared cores takes a few)
COMMAND_TIMEOUT = 300


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="module")
def access_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("emulated-logs") / "access.log"
    with path.open("wb") as out:
        generate(out, fmt="apache_combined", lines=LINES, seed=SEED)
    return path


@pytest.fixture(scope="module")
def statuses(access_log: Path) -> dict[str, int]:
    """status_codes' answer, counted without logmr."""
    return dict(Counter(row.status for row in read_access(access_log)))


@pytest.fixture(scope="module")
def deployment(
    assembly: Assembly, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    with deployed(assembly, tmp_path_factory.mktemp("emulated")) as running:
        yield running


def command(args: list[str], env: dict[str, str], cwd: Path | None = None) -> Any:
    """A command's completed process, its output as text."""
    return subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )


def logmr(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    """``logmr ARGS --endpoint-url ENDPOINT`` as a user runs it."""
    endpoint = ["--endpoint-url", deployment.endpoint]
    done: subprocess.CompletedProcess[str] = command(
        [sys.executable, "-m", "logmr.cli", *args, *endpoint], deployment.environment()
    )
    return done


def answer(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The one JSON object a ``--json`` command printed."""
    assert done.stdout, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def upload(deployment: Deployment, path: Path, key: str) -> str:
    bucket = deployment.outputs["BucketName"]
    deployment.client("s3").put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    return f"s3://{bucket}/{key}"


def function_resource(template: dict[str, Any], logical: str) -> dict[str, Any]:
    """The template's function whose handler is ``logical``'s."""
    (found,) = (
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"]["Handler"] == names.FUNCTIONS[logical]
    )
    return found


def test_a_misnamed_variable_in_the_template_fails_the_job_for_that_reason(
    assembly: Assembly, access_log: Path, tmp_path: Path
) -> None:
    """The wiring is under test: Plan deployed without ``LOGMR_BUCKET`` (the
    name misspelt) fails the job with the error that names the variable."""
    template = copy.deepcopy(assembly.template)
    variables = function_resource(template, "Plan")["Properties"]["Environment"]["Variables"]
    variables["LOGMR_BUCKETNAME"] = variables.pop(config.ENV_BUCKET)
    with deployed(assembly.with_template(template), tmp_path) as broken:
        inputs = upload(broken, access_log, UNTRIGGERED).rsplit("/", 1)[0] + "/"
        done = logmr(broken, "submit", inputs, "--job", "status_codes", "--json")
    assert done.returncode == 1, done.stderr
    failed = answer(done)
    assert failed["status"] == "FAILED"
    assert failed["error"] == "InvalidParameterError"
    assert config.ENV_BUCKET in failed["cause"]


def test_every_resource_of_the_template_is_created(
    assembly: Assembly, deployment: Deployment
) -> None:
    """moto lists a resource it could not create with no logical id."""
    listed = {r["LogicalResourceId"]: r for r in deployment.resources()}
    template = assembly.template["Resources"]
    assert sorted(listed) == sorted(template)
    assert {name: r["ResourceType"] for name, r in listed.items()} == {
        name: resource["Type"] for name, resource in template.items()
    }
    assert set(deployment.outputs) >= {"BucketName", "StateMachineArn", "ApiUrl"}


def test_an_upload_under_incoming_job_runs_that_job_exactly(
    deployment: Deployment, access_log: Path, statuses: dict[str, int]
) -> None:
    started = len(deployment.deliveries.started)
    uri = upload(deployment, access_log, "incoming/status_codes/2026-12-05/access.log")
    assert deployment.deliveries.errors == []
    (execution,) = deployment.deliveries.started[started:]
    described = deployment.wait(execution)
    assert described["status"] == "SUCCEEDED", described
    # the rule's input transformer, as the template wrote it
    assert json.loads(described["input"]) == {"job": "status_codes", "inputs": [uri]}
    job_id = execution.rsplit(":", 1)[1]  # EventBridge names the execution; Plan takes it
    results = answer(logmr(deployment, "results", job_id, "--json"))
    assert results["status"] == "SUCCEEDED"
    assert results["results"] == statuses
    assert results["counters"]["records"] == sum(statuses.values())


def test_submit_status_and_results_over_the_endpoint_are_exact(
    deployment: Deployment, access_log: Path, statuses: dict[str, int]
) -> None:
    started = len(deployment.deliveries.started)
    inputs = upload(deployment, access_log, UNTRIGGERED).rsplit("/", 1)[0] + "/"
    assert deployment.deliveries.started[started:] == []  # incoming/access/ names no job
    job_id = "emulated-submit-1"
    submitted = logmr(
        deployment, "submit", inputs, "--job", "status_codes", "--job-id", job_id, "--json"
    )
    assert submitted.returncode == 0, submitted.stderr
    assert answer(submitted)["results"] == statuses
    status = answer(logmr(deployment, "status", job_id, "--json"))
    assert (status["job_id"], status["status"]) == (job_id, "SUCCEEDED")
    assert status["counters"]["records"] == sum(statuses.values())
    results = answer(logmr(deployment, "results", job_id, "--json"))
    assert results["results"] == statuses
    # every state of the definition that a successful job passes ran the template's handler
    ran = {invocation.handler for invocation in deployment.functions.invocations}
    assert ran == {handler for name, handler in names.FUNCTIONS.items() if name != "MarkFailed"}


def test_a_distributed_map_reads_its_items_from_the_substituted_bucket(
    deployment: Deployment, access_log: Path, statuses: dict[str, int], tmp_path: Path
) -> None:
    """``map_mode: distributed``: the Map state's ItemReader reads the plan's
    items from ``${BucketName}`` as the template filled it."""
    inputs = upload(deployment, access_log, UNTRIGGERED).rsplit("/", 1)[0] + "/"
    request = tmp_path / "distributed.json"
    request.write_text(
        json.dumps({"job": "status_codes", "inputs": [inputs], "map_mode": "distributed"})
    )
    job_id = "emulated-distributed-1"
    done = logmr(deployment, "submit", "--input-file", str(request), "--job-id", job_id, "--json")
    assert done.returncode == 0, done.stderr
    assert answer(done)["results"] == statuses
    history = deployment.client("stepfunctions").get_execution_history(
        executionArn=deployment.execution_arn(job_id), maxResults=1000
    )["events"]
    assert any(event["type"] == "MapRunStarted" for event in history)


def readme_example() -> str:
    """The README's shell block that starts an execution, as written."""
    blocks = re.findall(r"```sh\n(.*?)```", (REPO / "README.md").read_text(), re.DOTALL)
    (block,) = (block for block in blocks if "aws stepfunctions start-execution" in block)
    return block


def test_the_readme_start_execution_example_works_as_written(
    deployment: Deployment, access_log: Path, statuses: dict[str, int], tmp_path: Path
) -> None:
    if shutil.which("aws") is None:
        pytest.skip("the AWS CLI (aws) is not installed: the README's example runs it")
    upload(deployment, access_log, UNTRIGGERED)
    env = deployment.environment()
    # `logmr` is this Python's, as after `make install`
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = command(["bash", "-e", "-u", "-o", "pipefail", "-c", readme_example()], env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "job my-job-1: " in done.stdout  # logmr status my-job-1 --remote
    described = deployment.wait(deployment.execution_arn("my-job-1"))
    assert described["status"] == "SUCCEEDED", described
    assert answer(logmr(deployment, "results", "my-job-1", "--json"))["results"] == statuses
