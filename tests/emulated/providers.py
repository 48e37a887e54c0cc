"""Resource types moto's CloudFormation cannot create, or creates without a
property the stack depends on, given a provider: created from the
template's own properties (resolved by moto's CloudFormation, Ref and
Fn::GetAtt included) through moto's service APIs, as CloudFormation's
resource providers call the services' APIs. ``installed`` puts them in moto's
type map for the duration. docs/emulated.md lists them and why.

- ``AWS::StepFunctions::StateMachine``: moto ignores DefinitionSubstitutions
  (the ``${...}`` of the ASL would stay) and creates the machine where its
  Step Functions interpreter does not look.
- ``AWS::S3::Bucket``: moto ignores NotificationConfiguration (the
  EventBridge switch of the upload trigger).
- ``AWS::CloudWatch::Alarm``, ``AWS::SQS::QueuePolicy``,
  ``AWS::ApiGatewayV2::Api``, ``::Integration``, ``::Route``, ``::Stage``:
  moto has no CloudFormation support for them.
- ``AWS::S3::BucketPolicy``: none either, and this one is kept, not applied
  (``BucketPolicy`` says why).

A property a provider does not know fails the deployment (the AWS SDK's
validation of the API call, or ``NotEmulatedError``), never silently.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any, ClassVar

import boto3
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.common_models import CloudFormationModel
from moto.s3.models import FakeBucket

from emulated.lambdas import FAKE_CREDENTIALS

#: ``${Name}`` in a DefinitionString (Step Functions' DefinitionSubstitutions;
#: the ASL's Comment writes ``${...}``, which is no placeholder)
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


class NotEmulatedError(Exception):
    """A property the emulated deployment cannot honour."""


def aws_client(endpoint: str, service: str, region: str) -> Any:
    """An AWS SDK client of moto's server (the default account)."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


class Provider(CloudFormationModel):
    """A resource created by one API call of ``service`` (``method``) with
    the template's properties as its parameters (``request``); its physical
    id and its Fn::GetAtt ``attributes`` are fields of the answer."""

    #: moto's server (set by ``installed``)
    endpoint: ClassVar[str] = ""
    type_name: ClassVar[str] = "Custom::EmulatedProvider"
    name_property: ClassVar[str] = ""
    service: ClassVar[str] = ""
    method: ClassVar[str] = ""
    #: the answer's field that is the physical id (Ref)
    id_field: ClassVar[str] = ""
    #: Fn::GetAtt name -> the answer's field
    attributes: ClassVar[dict[str, str]] = {}

    def __init__(self, physical_id: str, values: dict[str, Any]) -> None:
        self._physical_id = physical_id
        self.values = values

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    @classmethod
    def cloudformation_type(cls) -> str:  # type: ignore[override]
        return cls.type_name

    @classmethod
    def cloudformation_name_type(cls) -> str:  # type: ignore[override]
        return cls.name_property

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.attributes

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.values:
            raise UnformattedGetAttTemplateException()
        return self.values[attribute_name]

    def is_created(self) -> bool:
        return True

    @classmethod
    def client(cls, region: str) -> Any:
        return aws_client(cls.endpoint, cls.service, region)

    @classmethod
    def request(cls, name: str, properties: dict[str, Any]) -> dict[str, Any]:
        """The API call's parameters: the properties, and the name if the type has one."""
        return {**properties, cls.name_property: name} if cls.name_property else dict(properties)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Provider:
        if account_id != DEFAULT_ACCOUNT_ID:
            raise NotEmulatedError(f"account {account_id}: the emulation has one, moto's default")
        return cls.create(resource_name, cloudformation_json.get("Properties", {}), region_name)

    @classmethod
    def create(cls, name: str, properties: dict[str, Any], region: str) -> Provider:
        """The resource ``name`` with ``properties`` (resolved) in ``region``."""
        answer = getattr(cls.client(region), cls.method)(**cls.request(name, properties))
        return cls(
            answer[cls.id_field] if cls.id_field else name,
            {attribute: answer[field] for attribute, field in cls.attributes.items()},
        )


class Alarm(Provider):
    type_name = "AWS::CloudWatch::Alarm"
    name_property = "AlarmName"
    service, method = "cloudwatch", "put_metric_alarm"

    @classmethod
    def create(cls, name: str, properties: dict[str, Any], region: str) -> Provider:
        created = super().create(name, properties, region)
        (alarm,) = cls.client(region).describe_alarms(AlarmNames=[name])["MetricAlarms"]
        created.values["Arn"] = alarm["AlarmArn"]
        return created

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"


class BucketPolicy(Provider):
    """Kept, not applied: moto denies every object request when a bucket
    policy holds a statement whose condition does not hold (the stack's
    TLS-only ``Deny`` with ``aws:SecureTransport: false``: moto's
    ``iam.access_control`` returns DENIED for an unmet condition, whatever the
    effect), and moto's server here speaks plain HTTP. moto enforces no IAM
    otherwise either."""

    type_name = "AWS::S3::BucketPolicy"

    @classmethod
    def create(cls, name: str, properties: dict[str, Any], region: str) -> Provider:
        document = json.dumps(properties["PolicyDocument"])
        return cls(properties["Bucket"], {"Policy": document})


class QueuePolicy(Provider):
    type_name = "AWS::SQS::QueuePolicy"
    service = "sqs"

    @classmethod
    def create(cls, name: str, properties: dict[str, Any], region: str) -> Provider:
        sqs = cls.client(region)
        for queue_url in properties["Queues"]:
            sqs.set_queue_attributes(
                QueueUrl=queue_url,
                Attributes={"Policy": json.dumps(properties["PolicyDocument"])},
            )
        return cls(name, {})


class HttpApi(Provider):
    type_name = "AWS::ApiGatewayV2::Api"
    service, method, id_field = "apigatewayv2", "create_api", "ApiId"
    attributes: ClassVar[dict[str, str]] = {"ApiId": "ApiId", "ApiEndpoint": "ApiEndpoint"}


class HttpIntegration(Provider):
    type_name = "AWS::ApiGatewayV2::Integration"
    service, method, id_field = "apigatewayv2", "create_integration", "IntegrationId"


class HttpRoute(Provider):
    type_name = "AWS::ApiGatewayV2::Route"
    service, method, id_field = "apigatewayv2", "create_route", "RouteId"


class HttpStage(Provider):
    type_name = "AWS::ApiGatewayV2::Stage"
    service, method, id_field = "apigatewayv2", "create_stage", "StageName"


def camel(value: Any) -> Any:
    """CloudFormation's property names as Step Functions' API spells them:
    ``{"Level": ...}`` -> ``{"level": ...}``, all the way down."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [camel(item) for item in value]
    return value


def substituted(definition: str, substitutions: dict[str, Any]) -> str:
    """``DefinitionString`` with its ``${Name}`` filled from
    ``DefinitionSubstitutions``, as CloudFormation fills them; a placeholder
    without a value fails the deployment here (rather than an execution later)."""
    missing = sorted(set(PLACEHOLDER.findall(definition)) - set(substitutions))
    if missing:
        raise NotEmulatedError(f"DefinitionSubstitutions has no value for {missing}")
    return PLACEHOLDER.sub(lambda match: str(substitutions[match.group(1)]), definition)


class StateMachine(Provider):
    type_name = "AWS::StepFunctions::StateMachine"
    name_property = "StateMachineName"
    service, method, id_field = "stepfunctions", "create_state_machine", "stateMachineArn"
    attributes: ClassVar[dict[str, str]] = {"Arn": "stateMachineArn"}
    #: the properties an API parameter takes (camelCase there); the rest fail
    PARAMETERS: ClassVar[set[str]] = {"RoleArn", "StateMachineType", "LoggingConfiguration"}

    @classmethod
    def request(cls, name: str, properties: dict[str, Any]) -> dict[str, Any]:
        given = dict(properties)
        definition = substituted(
            given.pop("DefinitionString"), given.pop("DefinitionSubstitutions", {})
        )
        tracing = given.pop("TracingConfiguration", None)
        given.pop("StateMachineName", None)
        unknown = sorted(set(given) - cls.PARAMETERS)
        if unknown:
            raise NotEmulatedError(f"{cls.type_name} properties not emulated: {unknown}")
        request: dict[str, Any] = {
            "name": name,
            "definition": definition,
            "roleArn": given["RoleArn"],
            "type": given.get("StateMachineType", "STANDARD"),
        }
        if "LoggingConfiguration" in given:
            request["loggingConfiguration"] = camel(given["LoggingConfiguration"])
        if tracing is not None:
            request["tracingConfiguration"] = camel(tracing)
        return request

    @classmethod
    def create(cls, name: str, properties: dict[str, Any], region: str) -> Provider:
        created = super().create(name, properties, region)
        created.values["Name"] = name
        return created

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "Name")


class Bucket(FakeBucket):
    """moto's bucket, and its NotificationConfiguration's EventBridge switch."""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> FakeBucket:
        bucket = super().create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        notifications = dict(
            cloudformation_json.get("Properties", {}).get("NotificationConfiguration", {})
        )
        eventbridge = notifications.pop("EventBridgeConfiguration", {})
        if notifications:
            raise NotEmulatedError(f"bucket notifications not emulated: {sorted(notifications)}")
        if eventbridge.get("EventBridgeEnabled"):
            aws_client(Provider.endpoint, "s3", region_name).put_bucket_notification_configuration(
                Bucket=resource_name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        return bucket


PROVIDERS: tuple[type[CloudFormationModel], ...] = (
    Alarm,
    BucketPolicy,
    QueuePolicy,
    HttpApi,
    HttpIntegration,
    HttpRoute,
    HttpStage,
    StateMachine,
)


@contextlib.contextmanager
def installed(endpoint: str) -> Iterator[None]:
    """moto's CloudFormation creates these types with these providers (and
    moto's bucket with its notifications) for the duration."""
    models, names = parsing.get_model_map(), parsing.get_name_type_map()
    saved = dict(models), dict(names)
    Provider.endpoint = endpoint
    for provider in PROVIDERS:
        models[provider.cloudformation_type()] = provider
        names[provider.cloudformation_type()] = provider.cloudformation_name_type()
    models[Bucket.cloudformation_type()] = Bucket
    try:
        yield
    finally:
        for kept, found in zip(saved, (models, names), strict=True):
            found.clear()
            found.update(kept)
        Provider.endpoint = ""
