"""Names shared by the state machine, the infrastructure and the local engine:
one source for each (the functions, their handlers and sizes, the ASL
placeholders, the service name of logs and metrics).

The ASL file has ``${...}`` placeholders; the CDK stack fills them with
``DefinitionSubstitutions`` and the local engine with the ARNs of the
functions it registers. Both take the names from here.
"""

from __future__ import annotations

from pathlib import Path

from logmr import limits

#: the state machine definition, in ``statemachine/`` at the top of the repository
STATE_MACHINE_FILE = "logmr.asl.json"

#: the functions: logical name -> handler (module path ``.handler``)
FUNCTIONS: dict[str, str] = {
    "Plan": "logmr.handlers.plan.handler",
    "Map": "logmr.handlers.map.handler",
    "PlanReduce": "logmr.handlers.plan_reduce.handler",
    "Reduce": "logmr.handlers.reduce.handler",
    "Finalize": "logmr.handlers.finalize.handler",
    "MarkFailed": "logmr.handlers.mark_failed.handler",
}

#: the handler of the HTTP API's function (not a state machine function)
API_HANDLER = "logmr.handlers.api.handler"
#: the reconciler: an EventBridge rule's target, not a state of the definition
RECONCILE_HANDLER = "logmr.handlers.reconcile.handler"

#: memory (MB) and timeout (s) per function, used by the CDK stack and the cost
#: model: map and reduce get one full vCPU and Lambda's longest timeout;
#: Finalize reads every result of the job, so it gets more room than Plan;
#: PlanReduce reads and merges one small summary per map task
FUNCTION_SIZES: dict[str, tuple[int, int]] = {
    "Plan": (512, 300),
    "Map": (limits.MB_PER_VCPU, limits.MAX_TIMEOUT_S),
    "PlanReduce": (512, 300),
    "Reduce": (limits.MB_PER_VCPU, limits.MAX_TIMEOUT_S),
    "Finalize": (1024, limits.MAX_TIMEOUT_S),
    "MarkFailed": (256, 60),
}

#: the Powertools service name of the logs, metrics (their namespace) and traces
SERVICE = "logmr"

#: the error Step Functions reports for a Lambda function that outlived its
#: timeout (not retried by the state machine: see docs/reliability.md)
TIMEOUT_ERROR = "Sandbox.Timedout"
#: the error Step Functions reports for a throttled Lambda invocation (the
#: function at its reserved concurrency, or the account at its limit): the
#: definition retries it longer than a fault (statemachine/logmr.asl.json)
THROTTLED_ERROR = "Lambda.TooManyRequestsException"
#: the error a job's record gets when ``logmr run`` is stopped (Ctrl-C,
#: SIGTERM) before the job finished: the local counterpart of an ABORTED execution
ABORTED_ERROR = "Aborted"
ABORTED_CAUSE = "the run was stopped (interrupted or terminated) before the job finished"
#: what the reconciler records for an execution that ended without an error of
#: its own (``tasks.failure.reconcile_execution``): timed out, or stopped
#: (StopExecution): Step Functions' statuses TIMED_OUT and ABORTED
EXECUTION_ENDINGS = {
    "TIMED_OUT": ("States.Timeout", "the execution ran past its TimeoutSeconds"),
    "ABORTED": (ABORTED_ERROR, "the execution was stopped before the job finished"),
}

#: the error of a Distributed Map whose failed child executions passed its
#: tolerated failure threshold (logmr's: none tolerated): MarkFailed records the
#: first failed child's own error instead, from the Map Run's results
#: (``tasks.failure.failed_child``)
TOLERATED_FAILURE_ERROR = "States.ExceedToleratedFailureThreshold"
#: the objects the Distributed Map's ResultWriter writes for a Map Run whose
#: children all succeeded: ``manifest.json`` and ``SUCCEEDED_0.json``
RESULT_WRITER_PUTS = 2

#: the placeholder for the bucket the Distributed Map reads its items from
BUCKET_PLACEHOLDER = "BucketName"


def function_placeholder(logical: str) -> str:
    """``Plan`` -> ``PlanFunctionArn`` (written ``${PlanFunctionArn}`` in the ASL)."""
    return f"{logical}FunctionArn"


def placeholders() -> list[str]:
    """Every placeholder the ASL may use."""
    return [function_placeholder(name) for name in FUNCTIONS] + [BUCKET_PLACEHOLDER]


def state_machine_path() -> Path:
    """The ASL file: packaged beside the code in a wheel, else in the repository."""
    package = Path(__file__).resolve().parents[1]  # functions/logmr, or logmr in a wheel
    packaged = package / "statemachine" / STATE_MACHINE_FILE
    if packaged.exists():
        return packaged
    return package.parents[1] / "statemachine" / STATE_MACHINE_FILE


def substitute(definition: str, values: dict[str, str]) -> str:
    """Fill ``${Name}`` placeholders; a placeholder without a value is an error."""
    import re

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"no value for placeholder ${{{name}}}")
        return values[name]

    return re.sub(r"\$\{([A-Za-z0-9_]+)\}", fill, definition)
