"""``logmr submit`` and ``status``/``results --remote`` against moto: the real
state machine created in moto's Step Functions, the Lambda invocations
dispatched to logmr's handlers in this process, logs in moto's S3 and results
in moto's DynamoDB."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from analytics_reference import without_estimates
from aws_support import BUCKET, create_account, upload
from conftest import EVENTS
from engine_support import Fault, FaultPlan
from helpers import generated_logs, run_inline
from logmr import config
from logmr.cli import main
from logmr.config import Settings
from logmr.engine.dispatcher import Dispatcher, Hook
from logmr.errors import InvalidParameterError
from logmr.run import remote
from logmr.run.request import build_request, validate
from logmr.spec import request_to_spec
from logmr.workflow.names import FUNCTIONS
from moto_engine import MOTO_CONFIG, StateMachine, dispatching

pytestmark = pytest.mark.functional

MACHINE = "logmr-test"
START_EXECUTION = sorted((EVENTS / "start-execution").glob("*.json"))


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generated_logs(tmp_path_factory.mktemp("remote-logs"), lines=2000, seed=31)


@dataclass
class Stack:
    machine: StateMachine
    uris: dict[str, str]

    @property
    def sfn(self) -> Any:
        return self.machine.sfn

    def wait(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        arn = self.machine.arn.replace(":stateMachine:", ":execution:") + ":" + job_id
        deadline = time.monotonic() + timeout
        while (described := self.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"{job_id} still running"
            time.sleep(0.02)
        return dict(described)


@pytest.fixture
def deploy(
    aws_handler_env: None, logs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A context manager: moto's account with the logs uploaded under
    ``incoming/<kind>/`` and the state machine ``MACHINE`` deployed."""
    monkeypatch.setattr(remote, "POLL_SECONDS", 0.02)
    monkeypatch.delenv(config.ENV_STATE_MACHINE, raising=False)

    @contextlib.contextmanager
    def deployed(hook: Hook | None = None) -> Iterator[Stack]:
        with mock_aws(config=MOTO_CONFIG):
            s3 = create_account()
            uris = {
                kind: upload(s3, path, f"incoming/{kind}/{path.name}")
                for kind, path in logs.items()
            }
            with dispatching(Dispatcher(dict(FUNCTIONS), workers=0, hook=hook)):
                machine = StateMachine(bucket=BUCKET)
                machine.deploy(MACHINE)
                yield Stack(machine, uris)

    yield deployed


def cli_out(text: str) -> str:
    """Standard output without the lines of the handlers, which run in this
    process here (Powertools logs and EMF metrics, one JSON object a line)."""
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if not line.startswith(('{"level"', '{"_aws"'))
    )


def json_out(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(cli_out(capsys.readouterr().out))
    return out


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def top(results: dict[str, Any], n: int) -> dict[str, Any]:
    return dict(sorted(results.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


# -- submit -----------------------------------------------------------------------
def test_submit_gives_the_inline_runners_results(
    deploy: Any, logs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    with deploy() as stack:
        argv = ["--reducers", "3", "--chunk-size", "80000", "--state-machine", MACHINE]
        code = main(["submit", stack.uris["access"], "--job", "status_codes", *argv, "--json"])
        out = json_out(capsys)
        described = stack.wait(out["job_id"])
    record, results = run_inline(logs["access"], "status_codes", reducers=3, chunk_size=80_000)
    assert code == 0
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["input"])["job_id"] == out["job_id"] == described["name"]
    assert out["status"] == "SUCCEEDED"
    assert out["format"] == "apache_combined"
    assert out["results"] == results
    assert out["counters"] == record.counters


def test_submit_prints_the_same_table_as_run(
    deploy: Any, logs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The output of ``submit`` is ``run``'s, line for line but the duration."""
    argv = ["--job", "top_paths", "--param", "top=5", "--reducers", "2", "--job-id", "same-1"]
    with deploy() as stack:
        assert main(["submit", stack.uris["access"], *argv, "--top", "5"]) == 0
        submitted = capsys.readouterr()
    assert main(["run", str(logs["access"]), *argv, "--top", "5", "--engine", "inline"]) == 0
    ran = capsys.readouterr()

    def steady(text: str) -> str:
        return re.sub(r", [0-9.?]+ s\n", ", D s\n", text, count=1)

    assert steady(cli_out(submitted.out)) == steady(ran.out)
    assert "key" in ran.out
    assert submitted.err == ran.err == "logmr: format auto-detected: apache_combined\n"


def test_no_wait_then_status_and_results_remote(
    deploy: Any, logs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    gate = threading.Event()

    def hold_plan(function: str, event: dict[str, Any], attempt: int) -> None:
        if function == "Plan":
            assert gate.wait(30)

    with deploy(hook=hold_plan) as stack:
        argv = [stack.uris["access"], "--job", "status_codes", "--reducers", "3"]
        assert main(["submit", *argv, "--job-id", "later-1", "--no-wait", "--json"]) == 0
        started = json_out(capsys)
        assert started["job_id"] == "later-1"
        assert started["status"] == "RUNNING"
        assert started["execution_arn"].endswith(f":execution:{MACHINE}:later-1")
        # Plan has not run: no job record yet, the execution says RUNNING
        assert main(["status", "later-1", "--remote", "--json"]) == 0
        assert json_out(capsys)["status"] == "RUNNING"
        gate.set()
        assert stack.wait("later-1")["status"] == "SUCCEEDED"
        assert main(["status", "later-1", "--remote", "--json"]) == 0
        status = json_out(capsys)
        assert main(["results", "later-1", "--remote", "--top", "3", "--json"]) == 0
        shown = json_out(capsys)
        # --state-machine alone implies --remote; without either, the local store
        assert main(["status", "later-1", "--state-machine", MACHINE]) == 0
        assert cli_out(capsys.readouterr().out).startswith("job later-1: SUCCEEDED (status_codes)")
        assert main(["status", "later-1"]) == 1
        assert "JobNotFoundError: no job 'later-1'" in one_line(capsys)
    record, results = run_inline(logs["access"], "status_codes", reducers=3)
    assert status["status"] == "SUCCEEDED"
    assert status["counters"] == record.counters
    assert shown["results"] == top(results, 3)
    assert list(shown["results"]) == list(top(results, 3))


def test_a_failed_job_is_one_line_and_exit_1(
    deploy: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    faults = FaultPlan(Fault("Reduce", "CorruptShuffleError", attempts=(1,)))
    with deploy(hook=faults) as stack:
        argv = [stack.uris["access"], "--job", "status_codes", "--job-id", "bad-1"]
        assert main(["submit", *argv]) == 1
        assert one_line(capsys) == (
            "logmr: error: CorruptShuffleError: injected CorruptShuffleError on attempt 1\n"
        )
        assert main(["status", "bad-1", "--remote", "--json"]) == 1
        record = json_out(capsys)
        assert stack.wait("bad-1")["status"] == "FAILED"
    assert faults.faults[0].fired >= 1
    assert record["status"] == "FAILED"
    assert record["error"] == "CorruptShuffleError"


def test_a_job_failed_without_a_record_reports_the_execution_error(
    deploy: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """MarkFailed itself fails: the job record stays RUNNING, the execution says why."""
    faults = FaultPlan(
        Fault("Reduce", "CorruptShuffleError", attempts=(1,)),
        Fault("MarkFailed", "PermanentError", attempts=(1,)),
    )
    with deploy(hook=faults) as stack:
        argv = [stack.uris["access"], "--job", "status_codes", "--job-id", "bad-2"]
        assert main(["submit", *argv]) == 1
        assert one_line(capsys) == (
            "logmr: error: CorruptShuffleError: injected CorruptShuffleError on attempt 1\n"
        )
        # --json: the same failure as one JSON object, as for a job MarkFailed recorded
        assert main(["submit", *argv[:-1], "bad-3", "--json"]) == 1
        printed = json_out(capsys)
        assert (printed["job_id"], printed["status"], printed["error"]) == (
            "bad-3",
            "FAILED",
            "CorruptShuffleError",
        )
        assert printed["cause"] == "injected CorruptShuffleError on attempt 1"


# -- the state machine, the tables --------------------------------------------------
def test_state_machine_by_name_arn_prefix_and_pages(
    deploy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with deploy() as stack:
        arn = stack.machine.arn
        by_name = remote.Remote(Settings(state_machine=MACHINE))
        assert by_name.state_machine_arn() == arn
        by_arn = remote.Remote(Settings(state_machine=arn))
        assert by_arn.state_machine_arn() == arn
        default = remote.Remote(Settings.load({}))
        assert default.settings.state_machine == config.DEFAULT_STATE_MACHINE == "Logmr"
        assert default.state_machine_arn() == arn  # "Logmr" starts "logmr-test"
        env = Settings.load({config.ENV_STATE_MACHINE: "logmr-t"})
        assert remote.Remote(env).state_machine_arn() == arn
        role = stack.sfn.describe_state_machine(stateMachineArn=arn)["roleArn"]
        created = {
            extra: stack.sfn.create_state_machine(
                name=extra,
                definition='{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}',
                roleArn=role,
            )["stateMachineArn"]
            for extra in ("logmr-test-2", "zzz-1", "zzz-2")
        }
        monkeypatch.setattr(remote, "PAGE_SIZE", 1)  # one machine a page: every page is read
        assert remote.Remote(Settings())._find("zzz-2") == created["zzz-2"]
        assert remote.Remote(Settings())._find(MACHINE) == arn  # exact wins
        with pytest.raises(remote.StateMachineNotFoundError, match="2 state machines start"):
            remote.Remote(Settings()).state_machine_arn()


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        ("nope", "StateMachineNotFoundError: no state machine named 'nope'"),
        (
            "arn:aws:states:us-east-1:123456789012:stateMachine:gone",
            "StateMachineNotFoundError: no state machine arn:aws:states:",
        ),
    ],
)
def test_a_missing_state_machine_is_one_line(
    deploy: Any, capsys: pytest.CaptureFixture[str], wanted: str, message: str
) -> None:
    with deploy() as stack:
        argv = [stack.uris["access"], "--job", "status_codes", "--state-machine", wanted]
        assert main(["submit", *argv]) == 1
    assert one_line(capsys).startswith("logmr: error: " + message)


def test_tables_come_from_flags_env_or_the_deployed_functions(deploy: Any) -> None:
    with deploy() as stack:
        defaults = remote.Remote(Settings(state_machine=MACHINE))
        assert defaults.tables() == ("logmr-results", "logmr-jobs")
        lam = boto3.client("lambda", region_name="us-east-1")
        lam.update_function_configuration(
            FunctionName="Plan",
            Environment={"Variables": {"LOGMR_RESULTS_TABLE": "r-1", "LOGMR_JOBS_TABLE": "j-1"}},
        )
        found = remote.Remote(Settings(state_machine=MACHINE))
        assert found.tables() == ("r-1", "j-1")
        env = {"LOGMR_RESULTS_TABLE": "r-env"}
        mixed = Settings.load(env, state_machine=MACHINE, jobs_table="j-flag")
        assert remote.Remote(mixed).tables() == ("r-env", "j-flag")
        assert stack.machine.arn.endswith(f":stateMachine:{MACHINE}")


# -- progress ---------------------------------------------------------------------
@pytest.mark.parametrize("map_mode", ["inline", "distributed"])
def test_progress_per_phase(deploy: Any, map_mode: str) -> None:
    seen: list[tuple[str, int, int]] = []
    with deploy() as stack:
        deployed = remote.Remote(Settings(state_machine=MACHINE))
        request = build_request(
            [stack.uris["access"]],
            "status_codes",
            job_id=f"p-{map_mode}",
            reducers=2,
            chunk_size=64 * 1024,
        )
        arn = deployed.start({**request, "map_mode": map_mode}, request["job_id"])
        described = deployed.wait(arn, lambda *shown: seen.append(shown), poll_seconds=0.01)
        record = deployed.results().get_job(request["job_id"])
    assert described["status"] == "SUCCEEDED"
    phases = {phase: [(done, total) for p, done, total in seen if p == phase] for phase, *_ in seen}
    assert phases["map"][-1] == (record.map_tasks, record.map_tasks)
    assert record.map_tasks > 2
    assert phases["reduce"][-1] == (2, 2)
    assert phases["finalize"][-1] == (1, 1)
    for shown in phases.values():
        assert [done for done, _ in shown] == sorted(done for done, _ in shown)


# -- requests ---------------------------------------------------------------------
@pytest.mark.parametrize("path", START_EXECUTION, ids=[p.stem for p in START_EXECUTION])
def test_every_start_execution_event_submits_as_is(
    deploy: Any, logs: dict[str, Path], capsys: pytest.CaptureFixture[str], path: Path
) -> None:
    request = json.loads(path.read_text())
    with deploy() as stack:
        assert main(["submit", "--input-file", str(path), "--job-id", path.stem, "--json"]) == 0
        out = json_out(capsys)
        sent = stack.sfn.describe_execution(
            executionArn=stack.machine.arn.replace(":stateMachine:", ":execution:")
            + f":{path.stem}"
        )["input"]
    assert sent == path.read_text()  # exactly the file the README's start-execution line uses
    kind = request["inputs"][0].rstrip("/").rsplit("/", 1)[-1]
    spec = request_to_spec(request, default_job_id=path.stem)  # a "query" names no "job"
    _, results = run_inline(
        logs[kind], spec.job, params=spec.params, fmt=spec.format, reducers=spec.reducers
    )
    assert out["status"] == "SUCCEEDED"
    assert without_estimates(out["results"]) == without_estimates(
        results
    )  # sketches: see ESTIMATES


def test_local_paths_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"x\n")
    assert main(["submit", str(log), "--job", "status_codes"]) == 1
    err = one_line(capsys)
    assert err.startswith(f"logmr: error: InvalidParameterError: {str(log)!r} is not an s3:// URI")
    assert "a deployed job reads S3" in err
    request = tmp_path / "local.json"
    request.write_text(json.dumps({"job": "status_codes", "inputs": [str(log)]}))
    assert main(["submit", "--input-file", str(request)]) == 1
    assert "is not an s3:// URI" in one_line(capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "InvalidParameterError: give s3:// inputs and --job, or --input-file"),
        (["s3://logs-1/k"], "InvalidParameterError: give s3:// inputs and --job"),
        (["s3://logs-1/k", "--job", "nope"], "InvalidJobError: unknown job 'nope'"),
        (["s3://logs-1/k", "--job", "top_paths", "--param", "top=x"], "InvalidParameterError: job"),
        (["s3:///k", "--job", "status_codes"], "InvalidParameterError: S3 URI without a bucket"),
        (
            ["--input-file", str(EVENTS / "start-execution" / "status_codes.json"), "--job", "x"],
            "InvalidParameterError: --input-file is the whole request",
        ),
        (["--input-file", "/nonexistent.json"], "InvalidParameterError: cannot read"),
    ],
)
def test_bad_requests_fail_before_any_aws_call(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["submit", *argv, "--endpoint-url", "http://127.0.0.1:9"]) == 1
    assert one_line(capsys).startswith("logmr: error: " + message)


def test_a_request_job_id_must_match_the_execution_name(tmp_path: Path) -> None:
    request = {"job_id": "a-1", "job": "status_codes", "inputs": ["s3://logs-1/k"]}
    with pytest.raises(InvalidParameterError, match="differs from --job-id 'b-1'"):
        validate(request, job_id="b-1", deployed=True)
    assert validate(request, job_id="a-1", deployed=True).job_id == "a-1"


def test_execution_failure_names_every_ending() -> None:
    cause = json.dumps({"errorType": "X", "errorMessage": "bad   thing\nhere"})
    assert remote.execution_failure({"status": "FAILED", "error": "X", "cause": cause}) == (
        "X",
        "bad thing here",
    )
    assert remote.execution_failure({"status": "ABORTED", "name": "j"}) == (
        "ExecutionAborted",
        "execution j ended ABORTED",
    )
    assert remote.execution_failure({"status": "TIMED_OUT", "name": "j"})[0] == (
        "ExecutionTimedOut"
    )


def test_the_cli_names_the_remote_settings_without_importing_boto3() -> None:
    code = (
        "import sys, io, contextlib; from logmr import cli; parser = cli.parser()\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    parser.parse_args(['submit', '--help'])\n"
        "print('boto3' in sys.modules); print(out.getvalue())"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert shown.startswith("False\n")
    help_text = " ".join(shown.split())
    assert f"env {config.ENV_STATE_MACHINE}; default {config.DEFAULT_STATE_MACHINE}" in help_text
