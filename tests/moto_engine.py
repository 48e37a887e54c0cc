"""logmr's state machine on moto's Step Functions interpreter (tests, and the
fidelity check of the local engine).

The one place that hooks into moto: Lambda invocations made by moto's
interpreter go to logmr's handlers instead of moto's "simple" Lambda.
moto's ``LambdaSimpleBackend.invoke(self, function_name, qualifier, body,
headers, response_headers)`` returns the response payload; setting
``response_headers["x-amz-function-error"]`` makes it a function error, whose
``errorType`` the interpreter matches against Retry and Catch as AWS does.
``check_contract`` fails loudly if a moto upgrade changes that method.
Use inside ``mock_aws(config=MOTO_CONFIG)``.

And one place where moto departs from AWS in a way logmr's definition meets:
moto 5.2 reads a ResultWriter's Parameters paths (the Distributed Map's
``"Prefix.$": "$.map_runs_prefix"``) from the Map's result, AWS (as for an
ItemReader's) from the state's input. ``dispatching`` has moto read them from
the input for the duration (``result_writer_on_input``, with its own contract
check); the semantic tests (tests/interpreters.py) run moto as it is
(``aws_result_writer=False``) and mark the difference (tests/test_maprun.py).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer import (
    result_writer_decl,
)

from logmr.engine.dispatcher import Dispatcher
from logmr.workflow import names

#: the signature logmr relies on
INVOKE_PARAMETERS = ("self", "function_name", "qualifier", "body", "headers", "response_headers")
MOTO_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
REGION = "us-east-1"
POLL_SECONDS = 0.05


class MotoContractError(RuntimeError):
    """moto's Lambda backend no longer has the method logmr patches."""


def check_contract() -> None:
    params = tuple(inspect.signature(LambdaSimpleBackend.invoke).parameters)
    if params != INVOKE_PARAMETERS:
        raise MotoContractError(
            f"moto.awslambda_simple.models.LambdaSimpleBackend.invoke takes {params}, "
            f"logmr expects {INVOKE_PARAMETERS}: pin moto or update moto_engine"
        )


#: answers one invocation: (moto's Lambda backend, function name or ARN, body) -> (ok, payload)
Invoke = Callable[[Any, str, Any], tuple[bool, str]]


@contextlib.contextmanager
def invoking(run: Invoke) -> Iterator[None]:
    """moto's Lambda invocations answered by ``run`` for the duration; a
    payload that is not ok is the function's error."""
    check_contract()

    def invoke(
        backend: Any,
        function_name: str,
        qualifier: Any,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        ok, payload = run(backend, function_name, body)
        if not ok:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload.encode()

    original = LambdaSimpleBackend.invoke
    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        LambdaSimpleBackend.invoke = original  # type: ignore[method-assign]


#: the lines of moto's ResultWriter evaluation ``result_writer_on_input`` replaces
RESULT_WRITER_BODY = ("self.parargs.eval(env=env)", "self.resource_eval.eval_resource(env=env)")


@contextlib.contextmanager
def result_writer_on_input() -> Iterator[None]:
    """For the duration, moto evaluates a ResultWriter's Parameters on the
    Map state's input, as AWS does, instead of on the Map's result (which
    it then gives the writer, as before)."""
    writer = result_writer_decl.ResultWriter
    source = inspect.getsource(writer._eval_body)
    if not all(line in source for line in RESULT_WRITER_BODY):
        raise MotoContractError(
            "moto's ResultWriter._eval_body changed: pin moto or update moto_engine"
        )

    def eval_body(self: Any, env: Any) -> None:
        results = env.stack.pop()
        env.stack.append(env.states.get_input())
        self.parargs.eval(env=env)
        parameters = env.stack.pop()
        env.stack.pop()  # the input
        env.stack.extend([results, parameters])
        self.resource_eval.eval_resource(env=env)

    original = writer._eval_body
    writer._eval_body = eval_body
    try:
        yield
    finally:
        writer._eval_body = original


@contextlib.contextmanager
def dispatching(
    dispatcher: Dispatcher | Any, *, aws_result_writer: bool = True
) -> Iterator[Dispatcher | Any]:
    """Route moto's Lambda invocations to ``dispatcher`` for the duration
    (logmr's ``Dispatcher``, or anything with its ``invoke`` and ``close``),
    with moto reading a ResultWriter's paths as AWS does unless
    ``aws_result_writer`` is False (``result_writer_on_input``)."""
    try:
        with (
            invoking(lambda backend, function_name, body: dispatcher.invoke(function_name, body)),
            result_writer_on_input() if aws_result_writer else contextlib.nullcontext(),
        ):
            yield dispatcher
    finally:
        dispatcher.close()


class StateMachine:
    """The logmr state machine registered in moto: role, functions, definition."""

    def __init__(self, bucket: str, region: str = REGION) -> None:
        import boto3

        self.bucket = bucket
        self.region = region
        self._boto3 = boto3
        self.sfn = boto3.client("stepfunctions", region_name=region)
        self.arn = ""

    def deploy(self, name: str = "logmr") -> str:
        iam = self._boto3.client("iam", region_name=self.region)
        role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
        lam = self._boto3.client("lambda", region_name=self.region)
        values = {names.BUCKET_PLACEHOLDER: self.bucket}
        for logical, handler in names.FUNCTIONS.items():
            created = lam.create_function(
                FunctionName=logical,
                Runtime="python3.12",
                Role=role,
                Handler=handler,
                Code={"ZipFile": fake_code()},
            )
            values[names.function_placeholder(logical)] = created["FunctionArn"]
        definition = names.substitute(names.state_machine_path().read_text(), values)
        self.arn = self.sfn.create_state_machine(name=name, definition=definition, roleArn=role)[
            "stateMachineArn"
        ]
        return self.arn

    def run(self, request: dict[str, Any], name: str, timeout: float = 300) -> dict[str, Any]:
        """Start a named execution and wait: describe_execution's answer plus the history."""
        return run_execution(self.sfn, self.arn, request, name, timeout)

    def run_job(self, request: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The job ``request`` names run as the execution of its id, which must
        succeed (else the test fails with its cause): its record and every
        result, read from the stores the handlers wrote (moto's)."""
        from logmr.handlers import runtime

        job_id = request["job_id"]
        described = self.run(request, job_id)
        assert described["status"] == "SUCCEEDED", described.get("cause")
        stored = runtime.backends().job_results()
        return stored.get_job(job_id), dict(stored.iter_results(job_id))


def fake_code() -> bytes:
    """A Lambda function's code for moto: the handlers run from the installed package."""
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("README", "the handlers run from the installed logmr package")
    return code.getvalue()


def run_execution(
    sfn: Any, machine: str, data: Any, name: str, timeout: float = 300
) -> dict[str, Any]:
    """Start execution ``name`` of state machine ``machine`` on ``data`` and
    wait: describe_execution's answer plus the whole history."""
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(data))[
        "executionArn"
    ]
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {name} still running after {timeout} s")
        time.sleep(POLL_SECONDS)
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return {**described, "history": events}
