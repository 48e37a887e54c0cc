"""Least privilege and data protection, on the synthesized template: every
role's exact set of (action, resource) grants, statement by statement, the
HTTP API's authorization and throttling, encryption, TLS, public access and
shuffle expiry, and the allow-list Plan gets from the same value as its grants.

The stack is synthesized once for this module, as ``tests/test_infra.py``
does (its helpers, imported), but with two input prefixes
(``-c logmr:inputPrefixes=incoming/,archive/``) and two locations of other
buckets read where they are (``-c logmr:inputLocations=...``), so that each
value is seen to reach both the IAM grants and Plan's environment. See
docs/security.md.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="the cdk extra is not installed: pip install -e '.[cdk]'")

from aws_cdk import App, Stack

from infra.app import build
from infra.construct import API_BURST_LIMIT, API_RATE_LIMIT, SHUFFLE_EXPIRY_DAYS, LogmrPipeline
from infra.stack import CONTEXT_INPUT_LOCATIONS, CONTEXT_INPUT_PREFIXES
from logmr import config
from logmr.aws import tables
from logmr.aws.allowlist import InputAllowList
from logmr.config import Settings
from logmr.workflow import names
from logmr.workflow.names import API_HANDLER, RECONCILE_HANDLER
from test_infra import (
    Synthesized,
    cdk_context,
    data_bucket,
    function_ids,
    grants,
    render,
    resources,
    role_of,
    state_machine,
    statements_by_role,
    synthesize,
    table,
)

pytestmark = pytest.mark.infra

PREFIXES = ("incoming/", "archive/")
#: other buckets' logs read where they are: an ALB's (two accounts' prefixes)
#: and a CloudFront distribution's whole bucket
LOCATIONS = (
    "s3://alb-logs/AWSLogs/111111111111/elasticloadbalancing/",
    "s3://alb-logs/AWSLogs/222222222222/elasticloadbalancing/",
    "s3://cf-logs",
)
#: as the grants render them (``test_infra.render``)
LOCATION_OBJECTS = (
    "arn:AWS::Partition:s3:::alb-logs/AWSLogs/111111111111/elasticloadbalancing/*",
    "arn:AWS::Partition:s3:::alb-logs/AWSLogs/222222222222/elasticloadbalancing/*",
    "arn:AWS::Partition:s3:::cf-logs/*",
)
LOCATION_BUCKETS = ("arn:AWS::Partition:s3:::alb-logs", "arn:AWS::Partition:s3:::cf-logs")

#: the DynamoDB actions of the job record (Plan, Finalize, MarkFailed)
JOB_RECORD = ("dynamodb:GetItem", "dynamodb:PutItem")
XRAY_LAMBDA = (("xray:PutTelemetryRecords", "*"), ("xray:PutTraceSegments", "*"))
XRAY_MACHINE = (
    *XRAY_LAMBDA,
    ("xray:GetSamplingRules", "*"),
    ("xray:GetSamplingTargets", "*"),
)
LOG_DELIVERY = tuple(
    (f"logs:{action}", "*")
    for action in (
        "CreateLogDelivery",
        "GetLogDelivery",
        "UpdateLogDelivery",
        "DeleteLogDelivery",
        "ListLogDeliveries",
        "PutResourcePolicy",
        "DescribeResourcePolicies",
        "DescribeLogGroups",
    )
)
ARN = "arn:AWS::Partition:states:AWS::Region:AWS::AccountId:"

Pairs = set[tuple[str, str]]
#: every function's handler by its logical name
HANDLERS = {**names.FUNCTIONS, "Api": API_HANDLER, "Reconcile": RECONCILE_HANDLER}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cdk.out")
    context = {
        **cdk_context(),
        CONTEXT_INPUT_PREFIXES: ",".join(PREFIXES),
        CONTEXT_INPUT_LOCATIONS: ",".join(LOCATIONS),
    }
    app, stack = build(App(context=context, outdir=str(outdir)))
    return synthesize(app, stack, outdir)


class Names:
    """The template's logical ids, rendered as ``grants`` renders resources."""

    def __init__(self, synth: Synthesized) -> None:
        self.bucket = f"{data_bucket(synth)}.Arn"
        self.results = f"{table(synth, tables.RESULTS)}.Arn"
        self.jobs = f"{table(synth, tables.JOBS)}.Arn"
        ids = function_ids(synth)
        self.function = {logical: ids[handler] for logical, handler in HANDLERS.items()}

    def objects(self, action: str, *prefixes: str) -> Pairs:
        return {(action, f"{self.bucket}/{prefix}*") for prefix in prefixes}

    @staticmethod
    def dynamo(actions: tuple[str, ...], *resources: str) -> Pairs:
        return {(action, resource) for action in actions for resource in resources}

    def logs(self, synth: Synthesized, logical: str) -> Pairs:
        function = synth.template["Resources"][self.function[logical]]
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        return {("logs:CreateLogStream", f"{group}.Arn"), ("logs:PutLogEvents", f"{group}.Arn")}


def expected_function_grants(synth: Synthesized) -> dict[str, Pairs]:
    """The least-privilege table of docs/security.md, as (action, resource) pairs."""
    n = Names(synth)
    data = config.DEFAULT_DATA_PREFIX
    # the readers of what may vanish after Plan list the bucket, unconditioned,
    # so that S3 answers a missing object 404, not 403 (tested below)
    listing = {("s3:ListBucket", n.bucket)}
    # the other buckets' locations: Plan lists (under their prefixes) and reads them, Map
    # reads them and lists their buckets for 404s
    locations = {("s3:GetObject", resource) for resource in LOCATION_OBJECTS}
    location_buckets = {("s3:ListBucket", resource) for resource in LOCATION_BUCKETS}
    return {
        # list the input prefixes (a condition, tested below) and read the inputs;
        # write the plan (manifest, map items); the job record
        "Plan": {("s3:ListBucket", n.bucket)}
        | n.objects("s3:GetObject", *PREFIXES)
        | locations
        | location_buckets
        | n.objects("s3:PutObject", data)
        | n.dynamo(JOB_RECORD, n.jobs),
        # read its byte range of an input; write its shuffle object and task summary
        "Map": n.objects("s3:GetObject", *PREFIXES)
        | n.objects("s3:PutObject", data)
        | listing
        | locations
        | location_buckets,
        # read the manifest and the map summaries; write the reduce plan
        "PlanReduce": n.objects("s3:GetObject", data) | n.objects("s3:PutObject", data) | listing,
        # read shuffle objects; write part files and summaries; put the results
        "Reduce": n.objects("s3:GetObject", data)
        | n.objects("s3:PutObject", data)
        | listing
        | n.dynamo(("dynamodb:BatchWriteItem",), n.results),
        # read task summaries and the results; write the quarantine, the salted
        # keys' part file and results (Finalize reduces them), and the job record
        "Finalize": n.objects("s3:GetObject", data)
        | n.objects("s3:PutObject", data)
        | listing
        | n.dynamo(("dynamodb:Query", "dynamodb:BatchWriteItem"), n.results)
        | n.dynamo(JOB_RECORD, n.jobs),
        # the job record; a failed Distributed Map's results: list and read
        # them under the jobs' map_runs/ prefix (the listing's condition is tested below)
        "MarkFailed": n.dynamo(JOB_RECORD, n.jobs)
        | {("s3:ListBucket", n.bucket)}
        | n.objects("s3:GetObject", f"{data}jobs/*/map_runs/"),
        # GET /jobs/{id} and /results: a job record and its results (top-N by the index)
        "Api": n.dynamo(("dynamodb:GetItem",), n.jobs)
        | n.dynamo(("dynamodb:Query",), n.results, f"{n.results}/index/*"),
        # an ended execution's error (this state machine's executions only); the job record
        "Reconcile": {("states:DescribeExecution", f"{ARN}execution:Logmr:*")}
        | n.dynamo(JOB_RECORD, n.jobs),
    }


def check_statements(statements: list[dict[str, Any]]) -> None:
    """Plain Allow statements: no Deny to lean on, no NotAction/NotResource, and
    a condition only where it narrows a bucket listing to prefixes."""
    for statement in statements:
        assert statement["Effect"] == "Allow", statement
        assert set(statement) <= {"Effect", "Action", "Resource", "Sid", "Condition"}, statement
        if "Condition" in statement:
            assert statement["Action"] == "s3:ListBucket", statement
            assert list(statement["Condition"]) == ["StringLike"], statement


# -- roles ---------------------------------------------------------------------------------
def test_exactly_the_roles_of_the_design_and_no_other_identity(synth: Synthesized) -> None:
    principals = sorted(
        statement["Principal"]["Service"]
        for role in resources(synth, "AWS::IAM::Role").values()
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    )
    assert principals == sorted(
        ["lambda.amazonaws.com"] * 8
        + ["states.amazonaws.com", "events.amazonaws.com", "apigateway.amazonaws.com"]
    )
    for role in resources(synth, "AWS::IAM::Role").values():
        (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Action"] == "sts:AssumeRole" and trust["Effect"] == "Allow"
    for kind in ("AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::ManagedPolicy"):
        assert not resources(synth, kind), kind
    for statements in statements_by_role(synth).values():
        check_statements(statements)


@pytest.mark.parametrize("logical", HANDLERS)
def test_each_function_role_has_exactly_its_grants(synth: Synthesized, logical: str) -> None:
    n = Names(synth)
    role = role_of(synth, HANDLERS[logical])
    actual = grants(statements_by_role(synth)[role])
    expected = expected_function_grants(synth)[logical] | n.logs(synth, logical) | set(XRAY_LAMBDA)
    assert sorted(actual - expected) == [], "more than the design allows"
    assert sorted(expected - actual) == [], "less than the design needs"


def test_plan_lists_only_the_input_prefixes(synth: Synthesized) -> None:
    """s3:ListBucket is granted on the bucket, so its condition is what keeps
    Plan from listing job data (other jobs' plans and shuffle keys), and
    MarkFailed from listing anything but the Map Runs' results."""
    by_role = statements_by_role(synth)
    n = Names(synth)
    alb = "AWSLogs/{}/elasticloadbalancing/*"
    allowed = {
        ("Plan", n.bucket): [p + "*" for p in PREFIXES],
        ("MarkFailed", n.bucket): [f"{config.DEFAULT_DATA_PREFIX}jobs/*/map_runs/*"],
        # each other bucket under its locations' prefixes only
        ("Plan", LOCATION_BUCKETS[0]): [alb.format("111111111111"), alb.format("222222222222")],
        ("Plan", LOCATION_BUCKETS[1]): ["*"],
    }
    listings = []
    for (logical, bucket), prefixes in allowed.items():
        statements = by_role[role_of(synth, names.FUNCTIONS[logical])]
        listing = [
            s
            for s in statements
            if s["Action"] == "s3:ListBucket" and render(s["Resource"]) == bucket
        ]
        assert len(listing) == 1, logical
        assert listing[0]["Condition"] == {"StringLike": {"s3:prefix": prefixes}}, logical
        listings += listing
    conditioned = [s for role in by_role.values() for s in role if "Condition" in s]
    # the other listings are for 404s, of the whole bucket
    assert sorted(map(str, conditioned)) == sorted(map(str, listings))


def test_no_function_reads_job_data_it_does_not_need_or_inputs_after_map(
    synth: Synthesized,
) -> None:
    """The table's headline, spelled out: inputs only for Plan and Map, no S3
    delete anywhere, the results table written by Reduce and by Finalize (the
    salted keys' results) only."""
    by_logical = expected_function_grants(synth)
    n = Names(synth)
    assert set(names.FUNCTIONS) <= set(by_logical)  # not true of none: every task function
    for logical, pairs in by_logical.items():
        reads_inputs = any(
            resource.endswith(("/incoming/*", "/archive/*")) or resource in LOCATION_OBJECTS
            for _, resource in pairs
        )
        assert reads_inputs == (logical in ("Plan", "Map")), logical
        assert not any(action.startswith("s3:Delete") for action, _ in pairs)
        writes_results = any(
            action in ("dynamodb:PutItem", "dynamodb:BatchWriteItem") and resource == n.results
            for action, resource in pairs
        )
        assert writes_results == (logical in ("Reduce", "Finalize")), logical


def test_the_state_machine_role_invokes_its_five_functions_and_runs_its_map(
    synth: Synthesized,
) -> None:
    n = Names(synth)
    machine = synth.template["Resources"][state_machine(synth)]["Properties"]
    role = machine["RoleArn"]["Fn::GetAtt"][0]
    statements = statements_by_role(synth)[role]
    check_statements(statements)
    invoke = {
        ("lambda:InvokeFunction", form)
        for logical in names.FUNCTIONS
        for form in (f"{n.function[logical]}.Arn", f"{n.function[logical]}.Arn:*")
    }
    children = f"{ARN}execution:Logmr/*"
    results = f"{n.bucket}/logmr/jobs/*/map_runs/*"  # the ResultWriter's
    distributed_map = {
        ("s3:GetObject", f"{n.bucket}/logmr/jobs/*/map_tasks.json"),
        ("s3:PutObject", results),
        ("s3:GetObject", results),
        ("s3:ListMultipartUploadParts", results),
        ("s3:AbortMultipartUpload", results),
        ("states:StartExecution", f"{ARN}stateMachine:Logmr"),
        ("states:DescribeExecution", children),
        ("states:StopExecution", children),
        ("states:RedriveExecution", children),
    }
    expected = invoke | distributed_map | set(XRAY_MACHINE) | set(LOG_DELIVERY)
    actual = grants(statements)
    assert sorted(actual - expected) == [] and sorted(expected - actual) == []
    assert f"{n.function['Api']}.Arn" not in {resource for _, resource in actual}


def test_eventbridge_and_the_http_api_only_start_this_state_machine(synth: Synthesized) -> None:
    machine = state_machine(synth)
    by_role = statements_by_role(synth)
    for principal in ("events.amazonaws.com", "apigateway.amazonaws.com"):
        (role,) = [
            name
            for name, resource in resources(synth, "AWS::IAM::Role").items()
            if resource["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
            == {"Service": principal}
        ]
        check_statements(by_role[role])
        assert grants(by_role[role]) == {("states:StartExecution", machine)}


def test_api_gateway_may_invoke_the_api_function_for_its_own_routes_only(
    synth: Synthesized,
) -> None:
    """And EventBridge the Reconcile function, for the reconciler's rule only:
    no other resource policy lets anything invoke a function."""
    n = Names(synth)
    permissions = [p["Properties"] for p in resources(synth, "AWS::Lambda::Permission").values()]
    by_events = [p for p in permissions if p["Principal"] == "events.amazonaws.com"]
    (rule,) = [
        name
        for name, r in resources(synth, "AWS::Events::Rule").items()
        if r["Properties"]["EventPattern"]["source"] == ["aws.states"]
    ]
    assert by_events == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [n.function["Reconcile"], "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule, "Arn"]},
        }
    ]
    api = next(iter(resources(synth, "AWS::ApiGatewayV2::Api")))
    suffixes = set()
    for props in (p for p in permissions if p not in by_events):
        assert props["Action"] == "lambda:InvokeFunction"
        assert props["Principal"] == "apigateway.amazonaws.com"
        assert props["FunctionName"] == {"Fn::GetAtt": [n.function["Api"], "Arn"]}
        parts = props["SourceArn"]["Fn::Join"][1]
        assert {"Ref": api} in parts  # this API, no other
        suffixes.add(parts[-1])
    assert suffixes == {"/*/*/jobs/{id}", "/*/*/jobs/{id}/results"}


# -- the HTTP API ---------------------------------------------------------------------------
def test_every_route_is_iam_authorized_and_the_stage_throttled(synth: Synthesized) -> None:
    routes = resources(synth, "AWS::ApiGatewayV2::Route").values()
    assert len(routes) == 3
    for route in routes:
        assert route["Properties"]["AuthorizationType"] == "AWS_IAM", route
    (stage,) = resources(synth, "AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["DefaultRouteSettings"]
    assert settings == {
        "ThrottlingBurstLimit": API_BURST_LIMIT,
        "ThrottlingRateLimit": API_RATE_LIMIT,
    }
    assert "RouteSettings" not in stage["Properties"]  # no route above the default limits
    (api,) = resources(synth, "AWS::ApiGatewayV2::Api").values()
    assert "CorsConfiguration" not in api["Properties"]


# -- data ------------------------------------------------------------------------------------
def test_buckets_are_encrypted_private_and_refuse_plain_http(synth: Synthesized) -> None:
    buckets = resources(synth, "AWS::S3::Bucket")
    policies = {
        policy["Properties"]["Bucket"]["Ref"]: policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in resources(synth, "AWS::S3::BucketPolicy").values()
    }
    assert set(policies) == set(buckets)
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["OwnershipControls"] == {
            "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]  # no ACLs at all
        }
        deny, *allows = policies[name]
        assert deny == {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [
                {"Fn::GetAtt": [name, "Arn"]},
                {"Fn::Join": ["", [{"Fn::GetAtt": [name, "Arn"]}, "/*"]]},
            ],
        }
        for allow in allows:  # the access-log bucket: S3 log delivery from the data bucket
            assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"}
            assert allow["Action"] == "s3:PutObject"
            assert allow["Condition"]["ArnLike"]["aws:SourceArn"] == {
                "Fn::GetAtt": [data_bucket(synth), "Arn"]
            }
    assert policies[data_bucket(synth)][1:] == []  # no one else is let into the data bucket


def test_shuffle_objects_expire(synth: Synthesized) -> None:
    props = synth.template["Resources"][data_bucket(synth)]["Properties"]
    rules = props["LifecycleConfiguration"]["Rules"]
    assert {
        "Id": "ExpireShuffle",
        "Prefix": config.DEFAULT_DATA_PREFIX + "shuffle/",
        "ExpirationInDays": SHUFFLE_EXPIRY_DAYS,
        "Status": "Enabled",
    } in rules


def test_the_tables_are_encrypted_at_rest(synth: Synthesized) -> None:
    found = resources(synth, "AWS::DynamoDB::Table")
    assert len(found) == 2
    for resource in found.values():
        assert resource["Properties"]["SSESpecification"] == {"SSEEnabled": True}


def test_execution_data_stays_out_of_the_state_machine_logs(synth: Synthesized) -> None:
    """Inputs and outputs (job requests, task results) are not logged by Step Functions."""
    props = synth.template["Resources"][state_machine(synth)]["Properties"]
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False


def test_no_function_logs_events_or_debug(synth: Synthesized) -> None:
    functions = resources(synth, "AWS::Lambda::Function").values()
    assert len(functions) >= len(names.FUNCTIONS)  # the five task functions at least
    for resource in functions:
        variables = resource["Properties"]["Environment"]["Variables"]
        assert variables["POWERTOOLS_LOG_LEVEL"] == "INFO"
        assert "POWERTOOLS_LOGGER_LOG_EVENT" not in variables
        assert "POWERTOOLS_DEBUG" not in variables


# -- the allow-list: one value, two uses ------------------------------------------------------
def test_plan_gets_the_allow_list_its_grants_come_from(synth: Synthesized) -> None:
    n = Names(synth)
    functions = resources(synth, "AWS::Lambda::Function")
    variables = functions[n.function["Plan"]]["Properties"]["Environment"]["Variables"]
    assert variables[config.ENV_INPUT_BUCKETS] == {"Ref": data_bucket(synth)}
    assert variables[config.ENV_INPUT_PREFIXES] == ",".join(PREFIXES)
    # the prefixes Plan may read per IAM are exactly the ones it allows
    plan_role = role_of(synth, names.FUNCTIONS["Plan"])
    granted = {
        resource.removeprefix(f"{n.bucket}/").removesuffix("*")
        for action, resource in grants(statements_by_role(synth)[plan_role])
        if action == "s3:GetObject" and resource.startswith(f"{n.bucket}/")
    }
    allow_list = InputAllowList.from_settings(
        Settings.load({**variables, config.ENV_INPUT_BUCKETS: "data"})
    )
    assert set(allow_list.prefixes) == granted == set(PREFIXES)
    # the other functions do not need it (Map reads the ranges Plan cut)
    for logical, logical_id in n.function.items():
        if logical != "Plan":
            env = functions[logical_id]["Properties"]["Environment"]["Variables"]
            assert config.ENV_INPUT_PREFIXES not in env


def test_plan_allows_exactly_the_other_buckets_locations_it_is_granted(
    synth: Synthesized,
) -> None:
    """Logs read where they are: the one ``logmr:inputLocations`` value is
    Plan's LOGMR_INPUT_LOCATIONS and its and Map's grants, location by location."""
    n = Names(synth)
    functions = resources(synth, "AWS::Lambda::Function")
    variables = functions[n.function["Plan"]]["Properties"]["Environment"]["Variables"]
    # the data bucket's name is a reference until deployed
    allow_list = InputAllowList.from_settings(
        Settings.load({**variables, config.ENV_INPUT_BUCKETS: "data"})
    )
    allowed = {f"arn:AWS::Partition:s3:::{b}/{p}*" for b, p in allow_list.locations}
    for logical in ("Plan", "Map"):
        role = role_of(synth, names.FUNCTIONS[logical])
        granted = {
            resource
            for action, resource in grants(statements_by_role(synth)[role])
            if action == "s3:GetObject" and resource.startswith("arn:AWS::Partition:s3:::")
        }
        assert granted == allowed == set(LOCATION_OBJECTS), logical
    # an object the grants let Plan read is one the allow-list lets a request name
    allow_list.check("s3://alb-logs/AWSLogs/222222222222/elasticloadbalancing/eu-west-1/x.gz")
    allow_list.check("s3://cf-logs/E2EXAMPLE.2026-03-01-09.abc.gz")
    for logical, logical_id in n.function.items():
        if logical != "Plan":
            env = functions[logical_id]["Properties"]["Environment"]["Variables"]
            assert config.ENV_INPUT_LOCATIONS not in env


@pytest.mark.parametrize(
    "locations", [["alb-logs/AWSLogs/"], ["s3://a/../b/"], ["s3://b/x*/"], ["s3://No_Such/"]]
)
def test_the_construct_refuses_locations_that_are_no_plain_bucket_and_prefix(
    locations: list[str],
) -> None:
    stack = Stack(App(context=cdk_context()), "Refused")
    with pytest.raises(ValueError, match="input location"):
        LogmrPipeline(stack, "Logmr", input_locations=locations)


@pytest.mark.parametrize("prefixes", [[], ["logmr/"], ["logmr/jobs/"], ["a,b/"], ["/"]])
def test_the_construct_refuses_input_prefixes_that_would_widen_access(
    prefixes: list[str],
) -> None:
    stack = Stack(App(context=cdk_context()), "Refused")
    with pytest.raises(ValueError, match="input prefix"):
        LogmrPipeline(stack, "Logmr", input_prefixes=prefixes)


def test_the_template_is_valid_with_two_prefixes(synth: Synthesized) -> None:
    """cdk-nag and CloudFormation validation pass for this context too (the
    stack acknowledges each input prefix's wildcard with its reason)."""
    problems = [
        (violation["ruleName"], violation["severity"])
        for report in (synth.report or {}).get("pluginReports", [])
        for violation in report["violations"]
    ]
    assert problems == []
    assert synth.error is None
