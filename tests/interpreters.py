"""The two interpreters the semantic tests run a definition on, with the same
fake Lambda functions: logmr's own (``logmr.engine.interpreter``, the local
engine's) and moto's Step Functions (the state machine registered in moto,
its Lambda invocations sent to the fakes as ``moto_engine`` sends logmr's).

A test asks for the ``interpreter`` fixture (tests/conftest.py parametrizes
it: ``local`` is a unit test, ``moto`` a statemachine one) and states AWS's
rule; where moto departs from the AWS documentation the test marks its moto
case with ``moto_differs(reason)``: an xfail(strict=True) naming the
difference, so the rule is still asserted on the local interpreter and the
mark fails the day moto follows AWS.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from logmr.engine.history import LocalStepFunctions
from logmr.engine.interpreter import Execution, Interpreter, StatesError
from logmr.engine.maprun import RESULT_WRITER_FAILED
from moto_engine import MOTO_CONFIG, dispatching, fake_code, run_execution

#: the moto account's region
REGION = "us-east-1"
_names = itertools.count(1)


class Functions:
    """Fake Lambda functions: each a callable of the payload; an exception it
    raises is the function's error (``errorType`` its class name). Serves
    logmr's interpreter (``__call__``) and moto's (``invoke``, as a
    ``Dispatcher``)."""

    def __init__(self, **functions: Callable[[Any], Any]) -> None:
        self.functions = functions
        self.calls: list[tuple[str, Any]] = []

    def __call__(self, name: str, payload: Any) -> tuple[bool, Any]:
        name = name.rsplit(":", 1)[-1]
        self.calls.append((name, payload))
        try:
            return True, self.functions[name](payload)
        except Exception as exc:
            return False, {"errorType": type(exc).__name__, "errorMessage": str(exc)}

    def invoke(self, function_name: str, body: bytes | str | None) -> tuple[bool, str]:
        ok, result = self(function_name, json.loads(body) if body else {})
        return ok, json.dumps(result)

    def close(self) -> None:
        """Nothing to release (``moto_engine.dispatching`` closes its dispatcher)."""


@dataclass
class Outcome:
    """How an execution ended, as DescribeExecution and GetExecutionHistory say."""

    name: str
    status: str
    error: str | None
    cause: str | None
    output: Any
    history: list[dict[str, Any]]
    #: the Map Runs the execution started: DescribeMapRun's answers
    map_runs: list[dict[str, Any]] = field(default_factory=list)

    def types(self) -> list[str]:
        return [event["type"] for event in self.history]


class Local:
    """logmr's interpreter, with an in-memory S3 for ItemReader and ResultWriter."""

    name = "local"

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.buckets: set[str] = set()

    def bucket(self, bucket: str) -> None:
        self.buckets.add(bucket)

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.objects[(bucket, key)] = body

    def get(self, bucket: str, key: str) -> bytes:
        return self.objects[(bucket, key)]

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        return sorted(key for b, key in self.objects if b == bucket and key.startswith(prefix))

    def run(
        self, machine: dict[str, Any], data: Any, functions: Functions | None = None
    ) -> Outcome:
        def put_object(bucket: str, key: str, body: bytes) -> None:
            if bucket not in self.buckets:
                raise StatesError(RESULT_WRITER_FAILED, f"NoSuchBucket: {bucket}")
            self.put(bucket, key, body)

        execution = Interpreter(
            machine,
            functions or Functions(),
            get_object=self.get,
            put_object=put_object,
            sleep=lambda seconds: None,
        ).run(data, f"e{next(_names)}")
        return _local_outcome(execution)


def _local_outcome(execution: Execution) -> Outcome:
    sfn = LocalStepFunctions(execution)
    runs = [sfn.describe_map_run(mapRunArn=arn) for arn in execution.map_runs]
    return Outcome(
        execution.name,
        execution.status,
        execution.error,
        execution.cause,
        execution.output,
        execution.history,
        runs,
    )


class Moto:
    """moto's Step Functions interpreter (inside ``mock_aws``): each run
    registers the definition as a new state machine and its functions."""

    name = "moto"

    def __init__(self) -> None:
        import boto3

        self.s3 = boto3.client("s3", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.lam = boto3.client("lambda", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        self.role = iam.create_role(RoleName="semantics", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
        self.functions: set[str] = set()

    def bucket(self, bucket: str) -> None:
        self.s3.create_bucket(Bucket=bucket)

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def get(self, bucket: str, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return sorted(entry["Key"] for entry in listed)

    def run(
        self, machine: dict[str, Any], data: Any, functions: Functions | None = None
    ) -> Outcome:
        functions = functions or Functions()
        self._register(functions)
        name = f"semantics-{next(_names)}"
        arn = self.sfn.create_state_machine(
            name=name, definition=json.dumps(machine), roleArn=self.role
        )["stateMachineArn"]
        with dispatching(functions, aws_result_writer=False):  # moto as it is
            described = run_execution(self.sfn, arn, data, name, timeout=120)
        runs = [
            self.sfn.describe_map_run(mapRunArn=run["mapRunArn"])
            for run in self.sfn.list_map_runs(executionArn=described["executionArn"])["mapRuns"]
        ]
        output = json.loads(described["output"]) if described.get("output") else None
        return Outcome(
            described["name"],
            described["status"],
            described.get("error"),
            described.get("cause"),
            output,
            described["history"],
            runs,
        )

    def _register(self, functions: Functions) -> None:
        """Each fake as a Lambda function of moto's (the Task states name it)."""
        for name in set(functions.functions) - self.functions:
            self.lam.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=self.role,
                Handler="fake.handler",
                Code={"ZipFile": fake_code()},
            )
            self.functions.add(name)


Interpreters = Local | Moto


def open_interpreter(name: str) -> Iterator[Interpreters]:
    """logmr's interpreter (``local``) or moto's (``moto``, inside ``mock_aws``
    for the duration): the ``interpreter`` fixture of tests/conftest.py."""
    if name == "local":
        yield Local()
        return
    from moto import mock_aws

    with mock_aws(config=MOTO_CONFIG):
        yield Moto()


def moto_differs(request: pytest.FixtureRequest, reason: str) -> None:
    """Mark this test's moto case as departing from AWS: ``reason`` names how."""
    if request.node.callspec.params.get("interpreter") == "moto":
        request.applymarker(
            pytest.mark.xfail(reason=f"moto differs from AWS: {reason}", strict=True)
        )
