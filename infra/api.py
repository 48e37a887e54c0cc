"""The HTTP API: ``POST /jobs`` starts an execution of the state machine,
``GET /jobs/{id}`` and ``GET /jobs/{id}/results`` are answered by the API
function; IAM-authorized, throttled, access-logged."""

from __future__ import annotations

import json

import jsii
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.data import log_group

#: HTTP API stage throttling: steady requests per second and burst
API_RATE_LIMIT = 20
API_BURST_LIMIT = 40


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    """HTTP API access logs: JSON lines in a log group."""

    def __init__(self, group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.custom(
            json.dumps(
                {
                    "requestId": "$context.requestId",
                    "ip": "$context.identity.sourceIp",
                    "caller": "$context.identity.caller",
                    "user": "$context.identity.userArn",
                    "requestTime": "$context.requestTime",
                    "routeKey": "$context.routeKey",
                    "status": "$context.status",
                    "responseLength": "$context.responseLength",
                    "integrationError": "$context.integrationErrorMessage",
                }
            )
        )


class HttpApi:
    """``api`` with its ``$default`` ``api_stage`` and the stage's access log
    group ``api_logs``, routing to ``state_machine`` and ``api_function``;
    created in ``scope``."""

    def __init__(
        self, scope: Construct, state_machine: sfn.StateMachine, api_function: lambda_.Function
    ) -> None:
        self.api = apigwv2.HttpApi(
            scope,
            "HttpApi",
            description="logmr jobs: POST /jobs, GET /jobs/{id}, GET /jobs/{id}/results",
            default_authorizer=authorizers.HttpIamAuthorizer(),
            create_default_stage=False,
        )
        self.api_logs = log_group(scope, "ApiAccessLogs")
        self.api_stage = apigwv2.HttpStage(
            scope,
            "HttpApiStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=API_RATE_LIMIT, burst_limit=API_BURST_LIMIT
            ),
            access_log_settings=_AccessLogs(self.api_logs),
        )
        # POST /jobs: API Gateway starts the execution itself, the request
        # body is the execution input (a job request, as for start-execution)
        start = integrations.HttpStepFunctionsIntegration(
            "StartJob",
            state_machine=state_machine,
            subtype=apigwv2.HttpIntegrationSubtype.STEPFUNCTIONS_START_EXECUTION,
            parameter_mapping=apigwv2.ParameterMapping()
            .custom("StateMachineArn", state_machine.state_machine_arn)
            .custom("Input", "$request.body"),
        )
        self.api.add_routes(path="/jobs", methods=[apigwv2.HttpMethod.POST], integration=start)
        read = integrations.HttpLambdaIntegration("ReadJobs", api_function)
        for path in ("/jobs/{id}", "/jobs/{id}/results"):
            self.api.add_routes(path=path, methods=[apigwv2.HttpMethod.GET], integration=read)
