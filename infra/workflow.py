"""The state machine: its role (invoke the functions, run the Distributed
Map's child executions and write their results), its log group, and the ASL
of ``logmr.workflow.names`` with its placeholders filled by
DefinitionSubstitutions."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.data import DATA_PREFIX, log_group
from logmr import layout
from logmr.workflow import names


class Workflow:
    """``state_machine`` (named ``state_machine_name``), its
    ``state_machine_role`` and ``state_machine_logs``, and the
    ``definition_substitutions`` that give its ASL the ``functions``' ARNs
    and the ``bucket``'s name; created in ``scope``."""

    def __init__(
        self,
        scope: Construct,
        name: str,
        bucket: s3.IBucket,
        functions: dict[str, lambda_.Function],
    ) -> None:
        self.state_machine_name = name
        self.state_machine_role = self._role(scope, name, bucket, functions)
        self.state_machine_logs = log_group(
            scope,
            "StateMachineLogs",
            # the prefix AWS recommends for vended logs (keeps the resource policy small)
            name=f"/aws/vendedlogs/states/{name}",
        )
        # The ASL is inlined as DefinitionString (``from_string`` of the file;
        # ``from_file`` would upload it as an S3 asset that neither cfn-lint nor
        # the tests could see) and its placeholders filled by
        # DefinitionSubstitutions, every one of them from logmr.workflow.names.
        self.definition_substitutions = {
            names.function_placeholder(logical): fn.function_arn
            for logical, fn in functions.items()
        }
        self.definition_substitutions[names.BUCKET_PLACEHOLDER] = bucket.bucket_name
        self.state_machine = sfn.StateMachine(
            scope,
            "StateMachine",
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(
                names.state_machine_path().read_text(encoding="utf-8")
            ),
            definition_substitutions=self.definition_substitutions,
            role=self.state_machine_role,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.state_machine_logs,
                level=sfn.LogLevel.ALL,
                include_execution_data=False,
            ),
        )

    @staticmethod
    def _role(
        scope: Construct, name: str, bucket: s3.IBucket, functions: dict[str, lambda_.Function]
    ) -> iam.Role:
        stack = Stack.of(scope)
        role = iam.Role(
            scope,
            "StateMachineRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="logmr state machine: invokes its six functions",
        )
        for fn in functions.values():
            fn.grant_invoke(role)
        # The Distributed Map reads its items from the plan's map_tasks.json ...
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DistributedMapItems",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(DATA_PREFIX + layout.map_items_key("*"))],
            )
        )
        # ... writes the Map Run's results under the job's map_runs/ prefix
        # (ResultWriter; the actions of "IAM policies for ResultWriter",
        # input-output-resultwriter.html: the results may be written in parts) ...
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DistributedMapResults",
                actions=[
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:ListMultipartUploadParts",
                    "s3:AbortMultipartUpload",
                ],
                resources=[bucket.arn_for_objects(DATA_PREFIX + layout.map_runs_prefix("*") + "*")],
            )
        )
        # ... and runs each item as a child execution of this state machine
        # (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html).
        # The ARNs are built from the name, so the role does not depend on the machine.
        machine_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        children_arn = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{name}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DistributedMapStart",
                actions=["states:StartExecution"],
                resources=[machine_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DistributedMapChildren",
                actions=[
                    "states:DescribeExecution",
                    "states:StopExecution",
                    "states:RedriveExecution",
                ],
                resources=[children_arn],
            )
        )
        return role
