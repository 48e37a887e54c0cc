"""The emulated deployment: moto's server on a free loopback port, in this
process; CDK's bootstrap resources the template needs (the version
parameter, the assets bucket); the assets published and the template created
by moto's CloudFormation from its S3 URL, as ``cdk deploy`` does; moto's
Lambda, EventBridge and CloudFormation completed by ``lambdas``,
``eventbridge`` and ``providers`` for the duration; moto's state reset and the
server stopped at the end.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

from emulated import providers
from emulated.assembly import Assembly, FileAsset
from emulated.eventbridge import Deliveries
from emulated.lambdas import FAKE_CREDENTIALS, Functions
from moto_engine import MOTO_CONFIG

REGION = "us-east-1"
PARTITION = "aws"
#: what ``cdk deploy`` asks CloudFormation to acknowledge
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
#: seconds between two looks at a running execution
POLL_SECONDS = 0.2
#: moto's Step Functions interpreter invokes Lambda at ``localhost:$MOTO_PORT``
MOTO_PORT = "MOTO_PORT"


#: moto's state is one per process: one deployment at a time
_ONE_AT_A_TIME = threading.Lock()


class DeploymentError(RuntimeError):
    """The stack did not reach CREATE_COMPLETE, or another deployment is running."""


@dataclass
class Deployment:
    """A deployed stack on moto's server at ``endpoint``: its ``outputs``,
    its ``functions`` (the invocations they ran) and the upload trigger's
    ``deliveries``."""

    endpoint: str
    region: str
    assembly: Assembly
    functions: Functions
    deliveries: Deliveries
    outputs: dict[str, str] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return providers.aws_client(self.endpoint, service, self.region)

    def fill(self, text: str) -> str:
        """An asset destination's ``${AWS::...}`` filled for this account and region."""
        values = {"AccountId": DEFAULT_ACCOUNT_ID, "Region": self.region, "Partition": PARTITION}
        for name, value in values.items():
            text = text.replace(f"${{AWS::{name}}}", value)
        return text

    def bootstrap(self) -> None:
        """What ``cdk bootstrap`` leaves that the template uses: the version
        parameter and the assets bucket."""
        self.client("ssm").put_parameter(
            Name=self.assembly.bootstrap_parameter,
            Value=str(self.assembly.bootstrap_version),
            Type="String",
        )
        s3 = self.client("s3")
        for bucket in sorted({self.fill(a.bucket) for a in self.assets()}):
            s3.create_bucket(Bucket=bucket)

    def assets(self) -> list[FileAsset]:
        return [*self.assembly.assets, self.assembly.template_asset]

    def publish(self) -> str:
        """Upload the assets, the template last: the template's URL."""
        s3 = self.client("s3")
        for asset in self.assembly.assets:
            s3.put_object(Bucket=self.fill(asset.bucket), Key=asset.key, Body=asset.body())
        template = self.assembly.template_asset
        bucket = self.fill(template.bucket)
        s3.put_object(Bucket=bucket, Key=template.key, Body=self.assembly.template_body())
        return f"https://s3.{self.region}.amazonaws.com/{bucket}/{template.key}"

    def create_stack(self, template_url: str) -> None:
        cloudformation = self.client("cloudformation")
        name = self.assembly.stack_name
        cloudformation.create_stack(
            StackName=name, TemplateURL=template_url, Capabilities=CAPABILITIES
        )
        (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise DeploymentError(f"stack {name}: {stack['StackStatus']}")
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def resources(self) -> list[dict[str, Any]]:
        """The stack's resources as CloudFormation lists them."""
        cloudformation = self.client("cloudformation")
        found: list[dict[str, Any]] = []
        for page in cloudformation.get_paginator("list_stack_resources").paginate(
            StackName=self.assembly.stack_name
        ):
            found += page["StackResourceSummaries"]
        return found

    def environment(self) -> dict[str, str]:
        """This process's environment pointed at the emulation: for a command
        (``logmr``, ``aws``) run against it."""
        return {
            **os.environ,
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def execution_arn(self, name: str) -> str:
        machine = self.outputs["StateMachineArn"]
        return machine.replace(":stateMachine:", ":execution:") + ":" + name

    def wait(self, execution_arn: str, timeout: float = 300) -> dict[str, Any]:
        """describe_execution's answer once the execution has ended."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while (described := sfn.describe_execution(executionArn=execution_arn))[
            "status"
        ] == "RUNNING":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still running after {timeout} s")
            time.sleep(POLL_SECONDS)
        return dict(described)


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _reset(endpoint: str) -> None:
    """Forget every resource moto holds (its ``/moto-api/reset``)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


@contextlib.contextmanager
def deployed(assembly: Assembly, workdir: Path, region: str = REGION) -> Iterator[Deployment]:
    """``assembly`` deployed on a moto server of its own, for the duration."""
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        raise DeploymentError("another emulated deployment runs in this process (moto's state)")
    with contextlib.ExitStack() as stack:
        stack.callback(_ONE_AT_A_TIME.release)
        # werkzeug logs every request at INFO: hundreds a job
        werkzeug = logging.getLogger("werkzeug")
        stack.callback(werkzeug.setLevel, werkzeug.level)
        werkzeug.setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        stack.callback(server.stop)
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        _reset(endpoint)
        stack.callback(_reset, endpoint)
        stack.enter_context(_environ(MOTO_PORT, str(port)))
        stack.enter_context(mock.patch.dict(default_user_config, MOTO_CONFIG))
        (workdir / "functions").mkdir(parents=True, exist_ok=True)
        functions = stack.enter_context(
            Functions(endpoint, region, workdir / "functions").dispatching()
        )
        deliveries = stack.enter_context(Deliveries().delivering())
        stack.enter_context(providers.installed(endpoint))
        deployment = Deployment(endpoint, region, assembly, functions, deliveries)
        deployment.bootstrap()
        deployment.create_stack(deployment.publish())
        yield deployment
