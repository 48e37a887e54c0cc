"""Jobs on a deployed logmr stack (AWS or LocalStack): find the state machine,
start an execution named by the job id, watch it phase by phase, and read the
job record and results from DynamoDB. The CLI's ``submit`` and the
``--remote`` forms of ``status`` and ``results`` are thin wrappers over this.

Where things are, each an explicit argument first, then the environment, then
a default:

- the state machine: a name or an ARN (``LOGMR_STATE_MACHINE``, default
  ``Logmr``). A name matches exactly, else as the unique case-insensitive
  prefix of a deployed state machine's name (``ListStateMachines``, every page),
  so both ``Logmr`` and a generated ``LogmrStateMachine-AbC123`` are found.
- the tables: ``LOGMR_RESULTS_TABLE`` and ``LOGMR_JOBS_TABLE``, else the names
  the deployed Plan function is configured with (its environment, read with
  ``lambda:GetFunctionConfiguration``), else ``logmr-results`` / ``logmr-jobs``.
- the endpoint: ``AWS_ENDPOINT_URL`` (LocalStack), else AWS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from logmr import limits
from logmr.aws.clients import Clients
from logmr.aws.dynamodb import DynamoResultStore
from logmr.aws.errors import error_code, translate
from logmr.aws.s3 import S3ObjectStore
from logmr.config import (
    DEFAULT_JOBS_TABLE,
    DEFAULT_RESULTS_TABLE,
    DEFAULT_STATE_MACHINE,
    ENV_BUCKET,
    ENV_DATA_PREFIX,
    ENV_JOBS_TABLE,
    ENV_RESULTS_TABLE,
    ENV_STATE_MACHINE,
    Settings,
)
from logmr.errors import (
    InvalidParameterError,
    JobNotFoundError,
    LogmrError,
    StateMachineNotFoundError,
    cause_message,
)
from logmr.run.request import validate
from logmr.run.watch import ExecutionWatcher, Progress
from logmr.spec import JobSpec
from logmr.storage.base import JobRecord
from logmr.storage.parts import JobResults

__all__ = [
    "DEFAULT_STATE_MACHINE",
    "ENV_STATE_MACHINE",
    "POLL_SECONDS",
    "ExecutionWatcher",
    "Remote",
    "RemoteRunner",
    "StateMachineNotFoundError",
    "execution_failure",
]

#: the deployed state machine, a name or an ARN (to move to logmr.config)
#: seconds between two looks at a running execution
POLL_SECONDS = 2.0
#: ListStateMachines' page size
PAGE_SIZE = limits.SFN_PAGE_SIZE
#: statuses of an execution that is not finished
RUNNING = frozenset({"RUNNING", "PENDING_REDRIVE"})


# -- requests ---------------------------------------------------------------------
def execution_failure(described: dict[str, Any]) -> tuple[str, str]:
    """The error name and cause of a finished, unsuccessful execution."""
    status = str(described.get("status", ""))
    default = "Execution" + status.title().replace("_", "")
    error = str(described.get("error") or default)
    cause = str(described.get("cause") or f"execution {described.get('name')} ended {status}")
    return error, " ".join(cause_message(cause).split())


# -- the deployed stack ------------------------------------------------------------
class Remote:
    """A deployed logmr stack: its state machine and its tables."""

    def __init__(self, settings: Settings, clients: Clients | None = None) -> None:
        self.settings = settings
        self.clients = clients or Clients(
            endpoint_url=settings.endpoint_url, region=settings.region
        )
        self._arn: str | None = None
        self._definition: dict[str, Any] | None = None

    @property
    def sfn(self) -> Any:
        return self.clients.client("stepfunctions")

    def state_machine_arn(self) -> str:
        """The ARN of the state machine named in the settings (looked up once)."""
        if self._arn is None:
            wanted = self.settings.state_machine
            arn = wanted if wanted.startswith("arn:") else self._find(wanted)
            try:
                described = self.sfn.describe_state_machine(stateMachineArn=arn)
            except (BotoCoreError, ClientError) as exc:
                if error_code(exc)[0] == "StateMachineDoesNotExist":
                    raise StateMachineNotFoundError(f"no state machine {arn}") from None
                raise translate(exc, f"describe state machine {arn}") from exc
            self._definition = json.loads(described.get("definition") or "{}")
            self._arn = arn
        return self._arn

    def _find(self, name: str) -> str:
        found: dict[str, str] = {}
        kwargs: dict[str, Any] = {"maxResults": PAGE_SIZE}
        while True:
            try:
                page = self.sfn.list_state_machines(**kwargs)
            except (BotoCoreError, ClientError) as exc:
                raise translate(exc, "list state machines") from exc
            for machine in page.get("stateMachines", []):
                found[machine["name"]] = machine["stateMachineArn"]
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        if name in found:
            return found[name]
        matches = sorted(other for other in found if other.lower().startswith(name.lower()))
        if len(matches) == 1:
            return found[matches[0]]
        if matches:
            raise StateMachineNotFoundError(
                f"{len(matches)} state machines start with {name!r} ({', '.join(matches)}):"
                " give the full name or ARN with --state-machine"
            )
        raise StateMachineNotFoundError(
            f"no state machine named {name!r} (deploy the stack, or give --state-machine"
            f" NAME|ARN or {ENV_STATE_MACHINE})"
        )

    # -- tables ------------------------------------------------------------------
    def tables(self) -> tuple[str, str]:
        """(results table, jobs table): the settings', else the deployed Plan
        function's, else the defaults."""
        results, jobs = self.settings.results_table, self.settings.jobs_table
        if results is None or jobs is None:
            env = self._plan_environment()
            results = results or env.get(ENV_RESULTS_TABLE) or DEFAULT_RESULTS_TABLE
            jobs = jobs or env.get(ENV_JOBS_TABLE) or DEFAULT_JOBS_TABLE
        return results, jobs

    def _plan_environment(self) -> dict[str, str]:
        """The deployed Plan function's environment: empty when it cannot be read
        (no ``lambda:GetFunctionConfiguration`` permission, say). A state machine
        that cannot be found is an error: the tables would be guesses."""
        self.state_machine_arn()
        plan = (self._definition or {}).get("States", {}).get("Plan", {})
        function = plan.get("Parameters", {}).get("FunctionName")
        if not isinstance(function, str) or not function:
            return {}
        try:
            config = self.clients.client("lambda").get_function_configuration(FunctionName=function)
        except (BotoCoreError, ClientError):
            return {}
        variables: dict[str, str] = config.get("Environment", {}).get("Variables", {})
        return variables

    def job_results(self) -> JobResults:
        """Records and top results from DynamoDB, every result from the part
        files in the data bucket (the settings', else the deployed Plan
        function's ``LOGMR_BUCKET`` and ``LOGMR_DATA_PREFIX``)."""
        env = {} if self.settings.bucket else self._plan_environment()
        bucket = self.settings.bucket or env.get(ENV_BUCKET, "")
        if not bucket:
            raise InvalidParameterError(
                f"no data bucket: set {ENV_BUCKET} (the stack's output BucketName)"
            )
        prefix = env.get(ENV_DATA_PREFIX) or self.settings.data_prefix
        objects = S3ObjectStore(bucket, prefix, clients=self.clients)
        return JobResults(objects, self.results())

    def results(self) -> DynamoResultStore:
        results, jobs = self.tables()
        return DynamoResultStore(results, jobs, clients=self.clients)

    def job_record(self, job_id: str, store: DynamoResultStore | None = None) -> JobRecord:
        """The job record; before Plan wrote one (or if the job failed before it
        could), a record made from the execution named ``job_id``."""
        store = store or self.results()
        record = store.load_job(job_id)
        if record is not None:
            return record
        try:
            described = self.describe(self.execution_arn(job_id))
        except LogmrError:
            described = None
        if described is None or described["status"] == "SUCCEEDED":
            raise JobNotFoundError(f"no job {job_id!r} in table {store.jobs_table}")
        try:
            job = str(json.loads(described.get("input") or "{}").get("job", ""))
        except (ValueError, AttributeError):
            job = ""
        if described["status"] in RUNNING:
            return JobRecord(job_id=job_id, job=job, status="RUNNING")
        error, cause = execution_failure(described)
        return JobRecord(job_id=job_id, job=job, status="FAILED", error=error, cause=cause)

    # -- executions --------------------------------------------------------------
    def start(self, request: dict[str, Any] | str, name: str) -> str:
        """Start an execution named ``name`` with ``request`` (a dict, or JSON text
        sent as it is); its ARN."""
        text = request if isinstance(request, str) else json.dumps(request)
        arn = self.state_machine_arn()
        try:
            started = self.sfn.start_execution(stateMachineArn=arn, name=name, input=text)
        except (BotoCoreError, ClientError) as exc:
            raise translate(exc, f"start execution {name!r}") from exc
        return str(started["executionArn"])

    def execution_arn(self, name: str) -> str:
        """The ARN the execution named ``name`` has (or would have)."""
        head, _, machine = self.state_machine_arn().rpartition(":stateMachine:")
        return f"{head}:execution:{machine}:{name}"

    def describe(self, execution_arn: str) -> dict[str, Any] | None:
        """describe_execution's answer; ``None`` for no such execution."""
        try:
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
        except (BotoCoreError, ClientError) as exc:
            if error_code(exc)[0] == "ExecutionDoesNotExist":
                return None
            raise translate(exc, f"describe execution {execution_arn}") from exc
        return described

    def wait(
        self,
        execution_arn: str,
        progress: Progress | None = None,
        *,
        poll_seconds: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> dict[str, Any]:
        """Poll until the execution ends, reporting per-phase progress; the last
        describe_execution answer."""
        watcher = ExecutionWatcher(self.sfn, execution_arn, progress)
        interval = POLL_SECONDS if poll_seconds is None else poll_seconds
        while True:
            watcher.poll()
            described = self.describe(execution_arn)
            if described is None:
                raise JobNotFoundError(f"no execution {execution_arn}")
            if described["status"] not in RUNNING:
                watcher.poll()
                return described
            sleep(interval)


class RemoteRunner:
    """The deployed state machine (``remote``): start an execution named by
    the job id, watch it phase by phase, read its record from DynamoDB. The
    runner of ``logmr submit``, whose ``--no-wait`` uses ``start`` alone."""

    def __init__(self, remote: Remote) -> None:
        self.remote = remote

    def start(
        self, request: dict[str, Any], *, job_id: str | None = None, text: str | None = None
    ) -> tuple[JobSpec, str]:
        """Check ``request`` (``validate``: before any AWS call), start it (as
        ``text`` when given: a request file is sent as it is); its spec and
        the execution's ARN."""
        spec = validate(request, job_id=job_id, deployed=True)
        arn = self.remote.start(request if text is None else text, spec.job_id)
        return spec, arn

    def watch(self, spec: JobSpec, arn: str, progress: Progress | None = None) -> JobRecord:
        """Wait for the execution ``arn`` of ``spec``; the job's record. An
        execution that ended before MarkFailed recorded it (stopped, timed
        out, or failed in a way no Catch sees) gives a record made from the
        execution's own error."""
        described = self.remote.wait(arn, progress)
        store = self.remote.results()
        record = store.load_job(spec.job_id)
        if record is not None and (described["status"] == "SUCCEEDED" or record.status == "FAILED"):
            return record
        error, cause = execution_failure(described)
        if described["status"] == "SUCCEEDED":
            error, cause = "JobNotFoundError", f"no job {spec.job_id!r} in table {store.jobs_table}"
        return JobRecord(
            job_id=spec.job_id,
            job=spec.job,
            spec=spec.to_dict(),
            status="FAILED",
            error=error,
            cause=cause,
        )

    def run(self, request: dict[str, Any], progress: Progress | None = None) -> JobRecord:
        spec, arn = self.start(request)
        return self.watch(spec, arn, progress)
