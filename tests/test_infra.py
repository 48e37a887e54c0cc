"""The CDK app, on its synthesized template: what the stack holds, who may do
what (statement by statement), the state machine definition and its
substitutions, the triggers' input, cdk-nag and cfn-lint.

The stack is synthesized once for the module, with the context of
``cdk.json`` (feature flags and all) and asset bundling skipped; the cdk-nag
AwsSolutions checks and CDK's CloudFormation validation run during that
synthesis, as they do in ``npx cdk synth``.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="the cdk extra is not installed: pip install -e '.[cdk]'")

from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from conftest import EVENTS, REPO
from infra import bundling
from infra.app import build
from infra.construct import (
    API_BURST_LIMIT,
    API_RATE_LIMIT,
    FUNCTION_SIZES,
    SHUFFLE_EXPIRY_DAYS,
    trigger_jobs,
)
from infra.functions import MAP_CONCURRENCY
from infra.stack import CONTEXT_MAP_CONCURRENCY, CONTEXT_RETENTION_DAYS
from logmr import config
from logmr import limits as limits_module
from logmr.aws import tables
from logmr.config import Settings
from logmr.jobs import JOBS, job_class
from logmr.plan import tuning
from logmr.spec import request_to_spec
from logmr.workflow import names
from logmr.workflow.names import API_HANDLER, RECONCILE_HANDLER

pytestmark = pytest.mark.infra

#: "*" resources are allowed for these actions only, each for its reason
STAR_RESOURCE_ACTIONS = {
    # Lambda and Step Functions tracing (X-Ray has no resource-level permissions)
    "xray:PutTraceSegments": "X-Ray accepts trace segments for no narrower resource",
    "xray:PutTelemetryRecords": "X-Ray telemetry has no resource-level permissions",
    "xray:GetSamplingRules": "X-Ray sampling rules are read account-wide",
    "xray:GetSamplingTargets": "X-Ray sampling targets are read account-wide",
    # Step Functions logging to CloudWatch Logs is a vended-log delivery; AWS
    # documents these actions with Resource "*" (no resource-level permissions)
    "logs:CreateLogDelivery": "vended-log delivery, no resource-level permissions",
    "logs:GetLogDelivery": "vended-log delivery, no resource-level permissions",
    "logs:UpdateLogDelivery": "vended-log delivery, no resource-level permissions",
    "logs:DeleteLogDelivery": "vended-log delivery, no resource-level permissions",
    "logs:ListLogDeliveries": "vended-log delivery, no resource-level permissions",
    "logs:PutResourcePolicy": "the log group resource policy that lets delivery write",
    "logs:DescribeResourcePolicies": "lists account-wide resource policies",
    "logs:DescribeLogGroups": "lists log groups account-wide",
}


@dataclass
class Synthesized:
    stack: Any
    template: dict[str, Any]
    assertions: Template
    error: Exception | None
    report: dict[str, Any] | None
    outdir: Path


def cdk_context() -> dict[str, Any]:
    """``cdk.json``'s context, bundling skipped (no pip in the tests)."""
    context: dict[str, Any] = json.loads((REPO / "cdk.json").read_text())["context"]
    return {**context, "aws:cdk:bundling-stacks": []}


def synthesize(app: App, stack: Stack, outdir: Path) -> Synthesized:
    """Synthesize; a failed validation (cdk-nag, CloudFormation rules) is
    kept, not raised, so that the template tests still run and say more."""
    error: Exception | None = None
    try:
        app.synth()
    except RuntimeError as exc:  # jsii: "ValidationFailed: Validation failed ..."
        error = exc
    template = json.loads((outdir / f"{stack.artifact_id}.template.json").read_text())
    report_path = outdir / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return Synthesized(stack, template, Template.from_json(template), error, report, outdir)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = build(App(context=cdk_context(), outdir=str(outdir)))
    return synthesize(app, stack, outdir)


# -- helpers -------------------------------------------------------------------
def resources(synth: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in synth.template["Resources"].items()
        if resource["Type"] == kind
    }


def render(value: Any) -> str:
    """An intrinsic as readable text: ``{"Fn::GetAtt": ["B", "Arn"]}`` -> ``B.Arn``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return str(argument)
        if function == "Fn::GetAtt":
            return ".".join(argument)
        if function == "Fn::Join":
            return argument[0].join(render(part) for part in argument[1])
    return json.dumps(value, sort_keys=True)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_by_role(synth: Synthesized) -> dict[str, list[dict[str, Any]]]:
    """Role logical id -> every statement of its identity policies."""
    found: dict[str, list[dict[str, Any]]] = {
        name: [] for name in resources(synth, "AWS::IAM::Role")
    }
    for role, resource in resources(synth, "AWS::IAM::Role").items():
        for policy in resource["Properties"].get("Policies", []):
            found[role] += policy["PolicyDocument"]["Statement"]
        assert "ManagedPolicyArns" not in resource["Properties"], role
    for resource in resources(synth, "AWS::IAM::Policy").values():
        for role in resource["Properties"]["Roles"]:
            found[role["Ref"]] += resource["Properties"]["PolicyDocument"]["Statement"]
    return found


def grants(statements: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(action, rendered resource) pairs of the Allow statements."""
    pairs = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                pairs.add((action, render(resource)))
    return pairs


def function_ids(synth: Synthesized) -> dict[str, str]:
    """Handler string -> the function's logical id."""
    return {
        resource["Properties"]["Handler"]: name
        for name, resource in resources(synth, "AWS::Lambda::Function").items()
    }


def role_of(synth: Synthesized, handler: str) -> str:
    function = synth.template["Resources"][function_ids(synth)[handler]]
    role: str = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return role


def one(found: dict[str, Any]) -> str:
    assert len(found) == 1, sorted(found)
    return next(iter(found))


def data_bucket(synth: Synthesized) -> str:
    return one(
        {
            name: bucket
            for name, bucket in resources(synth, "AWS::S3::Bucket").items()
            if "NotificationConfiguration" in bucket["Properties"]
        }
    )


def table(synth: Synthesized, design: tables.TableDesign) -> str:
    key = design.sort_key.name if design.sort_key else None
    return one(
        {
            name: resource
            for name, resource in resources(synth, "AWS::DynamoDB::Table").items()
            if len(resource["Properties"]["KeySchema"]) == (2 if key else 1)
        }
    )


def state_machine(synth: Synthesized) -> str:
    return one(resources(synth, "AWS::StepFunctions::StateMachine"))


# -- storage ---------------------------------------------------------------------
def test_both_buckets_are_encrypted_private_and_tls_only(synth: Synthesized) -> None:
    buckets = resources(synth, "AWS::S3::Bucket")
    assert len(buckets) == 2  # data and its server access logs
    for bucket in buckets.values():
        props = bucket["Properties"]
        rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
        assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
            ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"],
            True,
        )
    policies = {
        render(policy["Properties"]["Bucket"]): policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in resources(synth, "AWS::S3::BucketPolicy").values()
    }
    assert set(policies) == set(buckets)
    for statements in policies.values():
        assert any(
            statement["Effect"] == "Deny"
            and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            and statement["Principal"] == {"AWS": "*"}
            for statement in statements
        )


def test_the_data_bucket_expires_shuffle_objects_logs_access_and_tells_eventbridge(
    synth: Synthesized,
) -> None:
    props = synth.template["Resources"][data_bucket(synth)]["Properties"]
    rules = props["LifecycleConfiguration"]["Rules"]
    shuffle = [rule for rule in rules if rule.get("Prefix") == "logmr/shuffle/"]
    assert shuffle == [
        {
            "Id": "ExpireShuffle",
            "Prefix": config.DEFAULT_DATA_PREFIX + "shuffle/",
            "ExpirationInDays": SHUFFLE_EXPIRY_DAYS,
            "Status": "Enabled",
        }
    ]
    assert "VersioningConfiguration" not in props  # a documented choice (infra/data.py)
    assert props["LoggingConfiguration"]["DestinationBucketName"]["Ref"] in resources(
        synth, "AWS::S3::Bucket"
    )
    assert props["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    # natively, without the custom resource (and its Lambda) event_bridge_enabled adds
    assert not resources(synth, "Custom::S3BucketNotifications")


def test_the_tables_are_the_ones_logmr_aws_tables_describes(synth: Synthesized) -> None:
    for design in (tables.RESULTS, tables.JOBS):
        props = synth.template["Resources"][table(synth, design)]["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"] == {"SSEEnabled": True}
        expected = design.create_table_kwargs("any")
        assert props["KeySchema"] == expected["KeySchema"]
        assert sorted(props["AttributeDefinitions"], key=str) == sorted(
            expected["AttributeDefinitions"], key=str
        )
        assert props.get("LocalSecondaryIndexes") == expected.get("LocalSecondaryIndexes")
        assert props.get("GlobalSecondaryIndexes") == expected.get("GlobalSecondaryIndexes")
    results = synth.template["Resources"][table(synth, tables.RESULTS)]["Properties"]
    assert [index["IndexName"] for index in results["LocalSecondaryIndexes"]] == ["by_value"]


def retention_of(synth: Synthesized) -> dict[str, Any]:
    """What the stack keeps how long: the tables' TTL attributes, the
    lifecycle rules of ``logmr/jobs/``, the functions' LOGMR_RETENTION_DAYS."""
    bucket = synth.template["Resources"][data_bucket(synth)]["Properties"]
    return {
        "ttl": {
            design.ttl: synth.template["Resources"][table(synth, design)]["Properties"].get(
                "TimeToLiveSpecification"
            )
            for design in (tables.RESULTS, tables.JOBS)
        },
        "jobs_rules": [
            rule
            for rule in bucket["LifecycleConfiguration"]["Rules"]
            if rule.get("Prefix") == config.DEFAULT_DATA_PREFIX + "jobs/"
        ],
        "env": {
            fn["Properties"]["Environment"]["Variables"][config.ENV_RETENTION_DAYS]
            for fn in resources(synth, "AWS::Lambda::Function").values()
        },
    }


def test_a_job_expires_from_every_store_after_the_retention(synth: Synthesized) -> None:
    """One figure (config.DEFAULT_RETENTION_DAYS, context logmr:retentionDays):
    the tables' TTL on ``expires_at`` (which the functions write that many days
    ahead) and a lifecycle rule on the job objects; shuffle objects go sooner."""
    days = config.DEFAULT_RETENTION_DAYS
    assert retention_of(synth) == {
        "ttl": {tables.EXPIRES_AT: {"AttributeName": tables.EXPIRES_AT, "Enabled": True}},
        "jobs_rules": [
            {
                "Id": "ExpireJobs",
                "Prefix": "logmr/jobs/",
                "ExpirationInDays": days,
                "Status": "Enabled",
            }
        ],
        "env": {str(days)},
    }
    assert days > SHUFFLE_EXPIRY_DAYS


@pytest.mark.parametrize(("context", "days"), [("30", 30), ("0", 0)])
def test_the_retention_is_one_context_value(tmp_path: Path, context: str, days: int) -> None:
    app = App(context={**cdk_context(), CONTEXT_RETENTION_DAYS: context}, outdir=str(tmp_path))
    app, stack = build(app)
    found = retention_of(synthesize(app, stack, tmp_path))
    assert found["env"] == {str(days)}
    if days:
        assert [rule["ExpirationInDays"] for rule in found["jobs_rules"]] == [days]
        assert all(found["ttl"].values())
    else:  # kept for ever: no rule, no TTL, and the functions write no expires_at
        assert found["jobs_rules"] == [] and not any(found["ttl"].values())


def test_the_buckets_and_tables_keep_their_logical_ids(synth: Synthesized) -> None:
    """A changed logical id (a resource moved into a child construct, say)
    makes an update create a new, empty bucket or table and orphan or delete
    the old one: the parts of ``LogmrPipeline`` create theirs in it."""
    stateful = {
        **resources(synth, "AWS::S3::Bucket"),
        **resources(synth, "AWS::DynamoDB::Table"),
    }
    assert {name: resource["Type"] for name, resource in stateful.items()} == {
        "LogmrBucketD4DF18C5": "AWS::S3::Bucket",
        "LogmrAccessLogs3BF3D5E6": "AWS::S3::Bucket",
        "LogmrResultsTableA8021D84": "AWS::DynamoDB::Table",
        "LogmrJobsTableD6B6F35F": "AWS::DynamoDB::Table",
    }


# -- functions -------------------------------------------------------------------
def test_six_functions_from_one_code_asset_with_the_handlers_of_the_code(
    synth: Synthesized,
) -> None:
    functions = resources(synth, "AWS::Lambda::Function")
    assert set(function_ids(synth)) == {*names.FUNCTIONS.values(), API_HANDLER, RECONCILE_HANDLER}
    assert len(functions) == len(names.FUNCTIONS) + 2
    assert len({json.dumps(fn["Properties"]["Code"]) for fn in functions.values()}) == 1
    (layer,) = resources(synth, "AWS::Lambda::LayerVersion")
    for fn in functions.values():
        props = fn["Properties"]
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Layers"] == [{"Ref": layer}]
        assert props["LoggingConfig"]["LogGroup"]["Ref"] in resources(synth, "AWS::Logs::LogGroup")
        variables = props["Environment"]["Variables"]
        assert variables[config.ENV_STORAGE] == "aws"
        assert variables[config.ENV_BUCKET] == {"Ref": data_bucket(synth)}
        assert variables[config.ENV_DATA_PREFIX] == config.DEFAULT_DATA_PREFIX
        assert variables[config.ENV_RESULTS_TABLE] == {"Ref": table(synth, tables.RESULTS)}
        assert variables[config.ENV_JOBS_TABLE] == {"Ref": table(synth, tables.JOBS)}
        assert variables["POWERTOOLS_SERVICE_NAME"] == "logmr"
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "logmr"
        for name, value in config.NUMERIC_LIBRARY_ENV.items():
            assert variables[name] == value  # numpy's BLAS on one thread, as in local workers


def test_map_and_reduce_get_a_full_vcpu_and_the_longest_timeout(synth: Synthesized) -> None:
    assert set(FUNCTION_SIZES) == set(names.FUNCTIONS)
    for logical, handler in names.FUNCTIONS.items():
        props = synth.template["Resources"][function_ids(synth)[handler]]["Properties"]
        assert (props["MemorySize"], props["Timeout"]) == FUNCTION_SIZES[logical]
    assert FUNCTION_SIZES["Map"] == FUNCTION_SIZES["Reduce"] == (1769, 900)
    for logical in ("Map", "Reduce"):
        synth.assertions.has_resource_properties(
            "AWS::Lambda::Function",
            {"Handler": names.FUNCTIONS[logical], "MemorySize": 1769, "Timeout": 900},
        )


def test_every_log_group_has_a_retention(synth: Synthesized) -> None:
    groups = resources(synth, "AWS::Logs::LogGroup")
    assert len(groups) == 8 + 1 + 1  # functions, state machine, API access logs
    assert all(group["Properties"]["RetentionInDays"] > 0 for group in groups.values())


def test_the_code_asset_leaves_tests_and_caches_out() -> None:
    from infra.construct import CODE_DIR, CODE_EXCLUDE

    assert CODE_DIR == REPO / "functions"
    for pattern in ("**/tests", "**/__pycache__", "**/*.pyc"):
        assert pattern in CODE_EXCLUDE


# -- the dependencies layer ------------------------------------------------------
def test_the_layer_is_pip_for_the_lambda_platform_without_docker() -> None:
    command = bundling.pip_command("/out/python")
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    text = " ".join(command)
    for part in (
        "--platform manylinux2014_aarch64",
        "--only-binary=:all:",
        "--python-version 3.13",
        "--implementation cp",
        "--target /out/python",
        "--no-deps",
    ):
        assert part in text
    packages = {re.split("[=<>]", line)[0].lower() for line in bundling.LAYER_REQUIREMENTS}
    assert {"mmh3", "zstandard", "aws-lambda-powertools", "aws-xray-sdk"} <= packages
    assert not packages & {"boto3", "botocore", "s3transfer"}  # the runtime has them


def test_the_layer_pins_satisfy_the_project_dependencies() -> None:
    from packaging.requirements import Requirement

    declared = {
        Requirement(line).name.lower(): Requirement(line)
        for line in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    pinned = {
        Requirement(line).name.lower(): Requirement(line) for line in bundling.LAYER_REQUIREMENTS
    }
    for name, requirement in declared.items():
        if name == "boto3":
            continue
        (pin,) = pinned[name].specifier
        assert pin.operator == "==", name
        assert requirement.specifier.contains(pin.version), (name, pin.version)
    assert all(len(req.specifier) == 1 for req in pinned.values())


def test_local_bundling_installs_into_the_python_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ran: list[list[str]] = []

    def fake_run(command: list[str], check: bool) -> subprocess.CompletedProcess[str]:
        assert check
        ran.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(bundling.subprocess, "run", fake_run)
    assert bundling.PipLayerBundling().try_bundle(str(tmp_path), None) is True
    assert ran == [bundling.pip_command(tmp_path / "python")]


def test_pruning_keeps_what_the_functions_import_and_removes_the_rest(tmp_path: Path) -> None:
    keep = ["pyarrow/parquet/core.py", "pyarrow/libarrow_python.so.2600", "numpy/core/x.py"]
    gone = [
        "pyarrow/include/arrow/api.h",
        "pyarrow/tests/test_x.py",
        "pyarrow/lib.pyx",
        "pyarrow/parquet/x.pxd",
        "pyarrow/libarrow_flight.so.2600",
        "pyarrow/libarrow_python.so",
        "pyarrow/libarrow_python.so.2600.1.0",
        "pyarrow/_s3fs.cpython-313-aarch64-linux-gnu.so",
        "numpy/_core/tests/test_y.py",
        "zstandard/_cffi.cpython-313-aarch64-linux-gnu.so",
    ]
    for name in keep + gone:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x" * 10)
    bundling.prune(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*")) == sorted(keep)
    assert bundling.check_size(tmp_path) == 30


def test_a_layer_past_the_limit_fails_the_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "big.so").write_bytes(b"x" * 2048)
    monkeypatch.setattr(bundling, "CODE_ALLOWANCE", bundling.limits.MAX_UNZIPPED_BYTES - 1024)
    with pytest.raises(bundling.LayerTooLargeError, match="prune more"):
        bundling.check_size(tmp_path)


def test_a_pruned_pyarrow_still_writes_and_reads_part_files(tmp_path: Path) -> None:
    """The installed pyarrow (hard links), pruned as the layer is: logmr's part
    files still write and read with it, and the pruned modules are gone."""
    import pyarrow

    installed = Path(pyarrow.__file__).parent

    def link(source: str, target: str) -> None:
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)

    shutil.copytree(installed, tmp_path / "pyarrow", copy_function=link, symlinks=True)
    bundling.prune(tmp_path)
    assert not list((tmp_path / "pyarrow").glob("_flight.*"))
    script = (
        "import pyarrow, sys\n"
        "from logmr.storage import parquet\n"
        "rows = [('a', {'count': 1, 'p50': 0.5}), ('b', 2)]\n"
        "assert parquet.decode(parquet.encode(rows)) == rows\n"
        "print(pyarrow.__file__.startswith(sys.argv[1]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO / "functions")])}
    shown = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    assert shown == "True"


# -- state machine ---------------------------------------------------------------
def test_the_definition_is_the_asl_file_with_every_placeholder_filled(
    synth: Synthesized,
) -> None:
    props = synth.template["Resources"][state_machine(synth)]["Properties"]
    text = names.state_machine_path().read_text(encoding="utf-8")
    assert props["DefinitionString"] == text  # inline: cfn-lint and this test see it
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text))
    substitutions = props["DefinitionSubstitutions"]
    assert used == set(substitutions)  # none missing, none unused
    assert set(substitutions) == set(names.placeholders())
    ids = function_ids(synth)
    for logical, handler in names.FUNCTIONS.items():
        assert substitutions[names.function_placeholder(logical)] == {
            "Fn::GetAtt": [ids[handler], "Arn"]
        }
    assert substitutions[names.BUCKET_PLACEHOLDER] == {"Ref": data_bucket(synth)}
    values = {name: f"<{render(value)}>" for name, value in substitutions.items()}
    definition = json.loads(names.substitute(props["DefinitionString"], values))
    assert definition == json.loads(names.substitute(text, values))
    plan = definition["States"]["Plan"]["Parameters"]["FunctionName"]
    assert plan == f"<{ids[names.FUNCTIONS['Plan']]}.Arn>"


def test_the_state_machine_is_standard_traced_and_logged(synth: Synthesized) -> None:
    synth.assertions.resource_count_is("AWS::StepFunctions::StateMachine", 1)
    props = synth.template["Resources"][state_machine(synth)]["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["StateMachineName"] == "Logmr"  # the CLI's default (LOGMR_STATE_MACHINE)
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] in {"ALL", "ERROR"}
    (destination,) = logging["Destinations"]
    group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert synth.template["Resources"][group]["Properties"]["RetentionInDays"] > 0


# -- IAM ---------------------------------------------------------------------------
def test_every_action_is_named_in_full(synth: Synthesized) -> None:
    actions = [
        (role, action)
        for role, statements in statements_by_role(synth).items()
        for action, _ in grants(statements)
    ]
    assert len(actions) > 10  # the check below is not vacuous
    for role, action in actions:
        assert "*" not in action, (role, action)  # every action by its full name


def test_star_resources_only_for_actions_that_allow_nothing_narrower(
    synth: Synthesized,
) -> None:
    starred = {
        action
        for statements in statements_by_role(synth).values()
        for action, resource in grants(statements)
        if resource == "*"
    }
    assert starred  # X-Ray at least
    assert starred <= set(STAR_RESOURCE_ACTIONS), starred - set(STAR_RESOURCE_ACTIONS)


# -- triggers --------------------------------------------------------------------
def test_jobs_that_need_parameters_have_no_trigger() -> None:
    job_class("word_count")
    needing = {name for name, cls in JOBS.items() if any(p.required for p in cls.params)}
    assert needing  # pattern_count and field_count
    assert not needing & set(trigger_jobs())
    assert set(trigger_jobs()) | needing == set(JOBS)


def _rules(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """Job -> its rule's properties, by the key prefix the rule matches."""
    found = {}
    for rule in resources(synth, "AWS::Events::Rule").values():
        if rule["Properties"]["EventPattern"]["source"] != ["aws.s3"]:
            continue  # the reconciler's rule
        (prefix,) = rule["Properties"]["EventPattern"]["detail"]["object"]["key"]
        found[prefix["prefix"].removeprefix("incoming/").removesuffix("/")] = rule["Properties"]
    return found


def test_one_rule_per_triggered_job_starts_the_state_machine(synth: Synthesized) -> None:
    rules = _rules(synth)
    assert set(rules) == set(trigger_jobs())
    role = one(
        {
            name: resource
            for name, resource in resources(synth, "AWS::IAM::Role").items()
            if "events.amazonaws.com" in json.dumps(resource["Properties"])
        }
    )
    queues = set()
    for job, props in rules.items():
        pattern = props["EventPattern"]
        assert pattern["source"] == ["aws.s3"]
        assert pattern["detail-type"] == ["Object Created"]
        assert pattern["detail"]["bucket"]["name"] == [{"Ref": data_bucket(synth)}]
        assert pattern["detail"]["object"]["key"] == [{"prefix": f"incoming/{job}/"}]
        (target,) = props["Targets"]
        assert target["Arn"] == {"Ref": state_machine(synth)}
        assert target["RoleArn"] == {"Fn::GetAtt": [role, "Arn"]}
        # retried, then kept in the triggers' dead-letter queue, which raises an alarm
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        queues.add(target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])
    (queue,) = queues
    assert resources(synth, "AWS::SQS::Queue")[queue]["Properties"]["SqsManagedSseEnabled"]
    assert [
        alarm
        for alarm in resources(synth, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Dimensions")
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    ]


def _matches(pattern: dict[str, Any], event: dict[str, Any], bucket: str) -> bool:
    """The rule's pattern (this stack's shapes of it) against an event."""
    detail = event["detail"]
    names_ok = [
        detail["bucket"]["name"] if v == {"Ref": bucket} else v
        for v in pattern["detail"]["bucket"]["name"]
    ]
    return (
        event["source"] in pattern["source"]
        and event["detail-type"] in pattern["detail-type"]
        and detail["bucket"]["name"] in names_ok
        and any(
            detail["object"]["key"].startswith(p["prefix"])
            for p in pattern["detail"]["object"]["key"]
        )
    )


def _transform(transformer: dict[str, Any], event: dict[str, Any]) -> Any:
    """What EventBridge's input transformer makes of ``event``."""
    text = transformer["InputTemplate"]
    for name, path in transformer["InputPathsMap"].items():
        value: Any = event
        for part in path.removeprefix("$.").split("."):
            value = value[part]
        text = text.replace(f"<{name}>", json.dumps(value)[1:-1])  # inside quotes
    return json.loads(text)


def test_the_sample_upload_starts_a_job_plan_accepts(synth: Synthesized) -> None:
    event = json.loads((EVENTS / "eventbridge" / "s3-object-created.json").read_text())
    bucket, key = event["detail"]["bucket"]["name"], event["detail"]["object"]["key"]
    rules = _rules(synth)
    matched = [
        job
        for job, props in rules.items()
        if _matches(props["EventPattern"], event, data_bucket(synth))
    ]
    assert matched == ["status_codes"]
    (target,) = rules["status_codes"]["Targets"]
    request = _transform(target["InputTransformer"], event)
    assert request == {"job": "status_codes", "inputs": [f"s3://{bucket}/{key}"]}
    spec = request_to_spec(request, default_job_id="2d4eba74-fd51-3966-4bfa-b013c9da8ff1")
    assert spec.job == "status_codes"
    assert spec.inputs == [f"s3://{bucket}/{key}"]
    assert spec.job_id == "2d4eba74-fd51-3966-4bfa-b013c9da8ff1"  # the execution name


def test_a_configured_query_has_its_trigger(tmp_path: Path) -> None:
    """``-c logmr:queries=...``: an upload under ``incoming/queries/<name>/``
    starts the query over that object (a small stack: the triggers alone)."""
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_stepfunctions as sfn

    from infra.triggers import Triggers

    query = "filter status >= 500 | stats count(*) by path"
    stack = Stack(App(outdir=str(tmp_path)), "Queries")
    bucket = s3.Bucket(stack, "Bucket")
    machine = sfn.StateMachine(
        stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "P"))
    )
    triggers = Triggers(stack, bucket, machine, {"server-errors": query})
    assert "queries/server-errors" in triggers.rules
    template = Template.from_stack(stack).to_json()
    (rule,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
        and r["Properties"]["EventPattern"]["detail"]["object"]["key"]
        == [{"prefix": "incoming/queries/server-errors/"}]
    ]
    event = json.loads((EVENTS / "eventbridge" / "s3-object-created.json").read_text())
    event["detail"]["object"]["key"] = "incoming/queries/server-errors/access.log.gz"
    (target,) = rule["Targets"]
    request = _transform(target["InputTransformer"], event)
    uri = f"s3://{event['detail']['bucket']['name']}/incoming/queries/server-errors/access.log.gz"
    assert request == {"query": query, "inputs": [uri]}
    spec = request_to_spec(request, default_job_id="e-1")
    assert (spec.job, spec.params, spec.inputs) == ("query", {"query": query}, [uri])


@pytest.mark.parametrize(
    ("queries", "message"),
    [
        ({"Bad Name": "stats count(*)"}, "query name 'Bad Name'"),
        ({"broken": "stats count(*) by"}, "query 'broken': 1:18: unexpected the end of the query"),
    ],
)
def test_a_configured_query_is_checked_when_the_stack_is_built(
    queries: dict[str, str], message: str
) -> None:
    from infra.triggers import check_queries

    with pytest.raises(ValueError, match=re.escape(message)):
        check_queries(queries)


# -- HTTP API ----------------------------------------------------------------------
def test_every_route_is_iam_authorized_and_the_stage_throttled(synth: Synthesized) -> None:
    routes = resources(synth, "AWS::ApiGatewayV2::Route")
    assert {route["Properties"]["RouteKey"] for route in routes.values()} == {
        "POST /jobs",
        "GET /jobs/{id}",
        "GET /jobs/{id}/results",
    }
    assert all(route["Properties"]["AuthorizationType"] == "AWS_IAM" for route in routes.values())
    (stage,) = resources(synth, "AWS::ApiGatewayV2::Stage").values()
    assert stage["Properties"]["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": API_BURST_LIMIT,
        "ThrottlingRateLimit": API_RATE_LIMIT,
    }
    assert "DestinationArn" in stage["Properties"]["AccessLogSettings"]


def test_post_jobs_starts_an_execution_directly_and_gets_go_to_the_api_function(
    synth: Synthesized,
) -> None:
    integrations = resources(synth, "AWS::ApiGatewayV2::Integration")
    routes = {
        route["Properties"]["RouteKey"]: render(route["Properties"]["Target"]).removeprefix(
            "integrations/"
        )
        for route in resources(synth, "AWS::ApiGatewayV2::Route").values()
    }
    start = integrations[routes["POST /jobs"]]["Properties"]
    assert start["IntegrationType"] == "AWS_PROXY"
    assert start["IntegrationSubtype"] == "StepFunctions-StartExecution"
    assert start["RequestParameters"] == {
        "StateMachineArn": {"Ref": state_machine(synth)},
        "Input": "$request.body",
    }
    reader = function_ids(synth)[API_HANDLER]
    for key in ("GET /jobs/{id}", "GET /jobs/{id}/results"):
        props = integrations[routes[key]]["Properties"]
        assert props["IntegrationUri"] == {"Fn::GetAtt": [reader, "Arn"]}
        assert props["PayloadFormatVersion"] == "2.0"


# -- operations --------------------------------------------------------------------
def test_the_dashboard_shows_executions_tasks_records_and_throttles(synth: Synthesized) -> None:
    (dashboard,) = resources(synth, "AWS::CloudWatch::Dashboard").values()
    body = render(dashboard["Properties"]["DashboardBody"])
    for needle in (
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionThrottled",
        "Throttles",
        "TaskDuration",
        "Records",
        "Malformed",
        "JobsFailed",
        "{logmr,job,service,task}",
    ):
        assert needle in body, needle


def test_alarms_on_failed_executions_throttling_and_malformed_share(synth: Synthesized) -> None:
    alarms = list(resources(synth, "AWS::CloudWatch::Alarm").values())
    failed = [
        a["Properties"] for a in alarms if a["Properties"].get("MetricName") == "ExecutionsFailed"
    ]
    assert len(failed) == 1
    assert failed[0]["Threshold"] == 0
    assert failed[0]["ComparisonOperator"] == "GreaterThanThreshold"
    assert failed[0]["Dimensions"] == [
        {"Name": "StateMachineArn", "Value": {"Ref": state_machine(synth)}}
    ]

    def metric_names(props: dict[str, Any]) -> set[str]:
        return {
            m["MetricStat"]["Metric"]["MetricName"]
            for m in props.get("Metrics", [])
            if "MetricStat" in m
        }

    throttles = [a["Properties"] for a in alarms if metric_names(a["Properties"]) == {"Throttles"}]
    assert len(throttles) == 1
    assert len(throttles[0]["Metrics"]) == 7 + 1  # each function, and the sum
    malformed = [
        a["Properties"] for a in alarms if metric_names(a["Properties"]) == {"Malformed", "Records"}
    ]
    job_class("word_count")
    assert len(malformed) == len(JOBS)
    for props in malformed:
        assert props["Threshold"] == 0.1
        expression = next(
            m["Expression"]
            for m in props["Metrics"]
            if m.get("ReturnData", True) and "Expression" in m
        )
        assert "malformed / records" in expression
        namespaces = {
            m["MetricStat"]["Metric"]["Namespace"] for m in props["Metrics"] if "MetricStat" in m
        }
        assert namespaces == {"logmr"}


# -- cdk-nag and cfn-lint ----------------------------------------------------------
def test_cdk_nag_and_cloudformation_validation_pass(synth: Synthesized) -> None:
    problems = [
        (report["pluginName"], violation["ruleName"], violation["severity"])
        for report in (synth.report or {}).get("pluginReports", [])
        for violation in report["violations"]
    ]
    assert problems == []  # errors and warnings alike
    assert synth.error is None


def test_cdk_nag_does_run_on_this_app(tmp_path: Path) -> None:
    """A bare bucket fails the same checks: the plugin is wired in and caught."""
    from aws_cdk import Validations
    from aws_cdk import aws_s3 as s3
    from cdk_nag import AwsSolutionsChecks

    app = App(context=cdk_context(), outdir=str(tmp_path))
    stack = Stack(app, "Bare")
    s3.Bucket(stack, "Bare")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    bare = synthesize(app, stack, tmp_path)
    assert bare.error is not None
    rules = {v["ruleName"] for r in bare.report["pluginReports"] for v in r["violations"]}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules


def test_every_acknowledgment_gives_its_reason(synth: Synthesized) -> None:
    acknowledged = synth.stack.acknowledged
    assert acknowledged
    for path, rule, reason in acknowledged:
        assert rule.startswith(("AwsSolutions-", "CloudFormation-Validate::")), (path, rule)
        assert reason.endswith(".") and "\n" not in reason and len(reason) > 40, (path, reason)
    starred = [rule for _, rule, _ in acknowledged if rule.endswith("[Resource::*]")]
    assert len(starred) == 8 + 1  # X-Ray for each function; X-Ray and log delivery for the machine


def test_cfn_lint_passes(synth: Synthesized) -> None:
    from cfnlint.api import ManualArgs, lint

    matches = lint(
        json.dumps(synth.template),
        config=ManualArgs(
            regions=["us-east-1"],
            # E1029: the ${...} placeholders of the ASL in DefinitionString are
            # DefinitionSubstitutions, not Fn::Sub variables (a false positive)
            ignore_checks=["E1029"],
        ),
    )
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


# -- the code asset ------------------------------------------------------------------
#: the packages the functions' code asset holds (``infra.functions.CODE_EXCLUDE``
#: leaves out the command line, the developers' tools, caches and build metadata)
SHIPPED_PACKAGES = {
    "aws",
    "engine",
    "formats",
    "handlers",
    "inputs",
    "jobs",
    "mapreduce",
    "plan",
    "query",
    "report",
    "run",
    "storage",
    "tasks",
    "workflow",
}
#: what no shipped module may import: test and developer dependencies
DEV_ONLY_IMPORTS = ("moto", "pytest", "hypothesis", "logmr.devtools")


def code_asset(synth: Synthesized) -> Path:
    """The staged code asset: the ``asset.*`` folder that holds ``logmr/``."""
    staged = [path for path in synth.outdir.glob("asset.*") if (path / "logmr").is_dir()]
    assert len(staged) == 1, staged
    return staged[0]


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_code_asset_holds_the_package_and_no_developer_code(synth: Synthesized) -> None:
    asset = code_asset(synth)
    assert {path.name for path in asset.iterdir()} == {"logmr"}
    logmr = asset / "logmr"
    assert {path.name for path in logmr.iterdir() if path.is_dir()} == SHIPPED_PACKAGES
    assert not (logmr / "cli").exists()
    assert (logmr / "query" / "grammar.lark").is_file()  # the query job's grammar, not Python
    assert not list(asset.rglob("*.pyc")) and not list(asset.rglob("*.egg-info"))
    offenders = {
        str(path.relative_to(asset)): sorted(
            name
            for name in imports_of(path)
            if any(name == dev or name.startswith(dev + ".") for dev in DEV_ONLY_IMPORTS)
        )
        for path in asset.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}
    # every handler the state machine and the API name is in it
    for handler in [*names.FUNCTIONS.values(), API_HANDLER]:
        module = handler.rpartition(".")[0].replace(".", "/")
        assert (asset / f"{module}.py").is_file(), handler


def test_the_reconciler_hears_every_execution_that_ended_without_success(
    synth: Synthesized,
) -> None:
    """An EventBridge rule sends this state machine's FAILED, TIMED_OUT and
    ABORTED executions to the Reconcile function, retried, then to an
    encrypted TLS-only dead-letter queue that raises an alarm; the function
    may describe this state machine's executions and read and write job records."""
    (rule,) = [
        r["Properties"]
        for r in resources(synth, "AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"]["source"] == ["aws.states"]
    ]
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": state_machine(synth)}]
    (target,) = rule["Targets"]
    reconcile = function_ids(synth)[RECONCILE_HANDLER]
    assert target["Arn"] == {"Fn::GetAtt": [reconcile, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    queue = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    props = resources(synth, "AWS::SQS::Queue")[queue]["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    (queue_policy,) = [
        p["Properties"]
        for p in resources(synth, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue} in p["Properties"]["Queues"]
    ]
    statements = queue_policy["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool") == {"aws:SecureTransport": "false"}
        for s in statements
    )
    alarms = [
        a["Properties"]
        for a in resources(synth, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions")
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    ]
    assert len(alarms) == 1 and alarms[0]["Threshold"] == 0
    allowed = statements_by_role(synth)[role_of(synth, RECONCILE_HANDLER)]
    describe = [s for s in allowed if s.get("Action") == "states:DescribeExecution"]
    assert len(describe) == 1
    resource = render(describe[0]["Resource"])
    assert resource.endswith(":execution:Logmr:*"), resource  # this state machine's only
    jobs = [s for s in allowed if s.get("Sid") == "JobRecord"]
    assert jobs and set(jobs[0]["Action"]) == {"dynamodb:GetItem", "dynamodb:PutItem"}


def reserved_of(synth: Synthesized) -> dict[str, Any]:
    """Each function's reserved concurrency, and Plan's LOGMR_MAP_CONCURRENCY."""
    ids = function_ids(synth)
    found: dict[str, Any] = {}
    for logical, handler in names.FUNCTIONS.items():
        props = synth.template["Resources"][ids[handler]]["Properties"]
        found[logical] = props.get("ReservedConcurrentExecutions")
    plan = synth.template["Resources"][ids[names.FUNCTIONS["Plan"]]]["Properties"]
    found["plan_env"] = plan["Environment"]["Variables"].get(config.ENV_MAP_CONCURRENCY)
    return found


@pytest.mark.parametrize(("context", "reserved"), [(None, MAP_CONCURRENCY), ("0", 0), ("50", 50)])
def test_map_and_reduce_reserve_their_concurrency_and_plan_stays_under_it(
    tmp_path: Path, context: str | None, reserved: int
) -> None:
    """Map reserves its concurrency (a job never takes the whole account, and
    other functions keep theirs) and Reduce what its inline Map runs at once;
    Plan's planner caps the Map states' MaxConcurrency at Map's (so a state
    never asks for more than the function may run); 0 reserves nothing."""
    extra = {} if context is None else {CONTEXT_MAP_CONCURRENCY: context}
    app = App(context={**cdk_context(), **extra}, outdir=str(tmp_path))
    app, stack = build(app)
    found = reserved_of(synthesize(app, stack, tmp_path))
    others = {found[name] for name in ("Plan", "PlanReduce", "Finalize", "MarkFailed")}
    assert others == {None}
    if reserved:
        assert (found["Map"], found["Reduce"]) == (reserved, tuning.MAX_REDUCERS)
        assert found["plan_env"] == str(reserved)
        limits = tuning.limits_for(Settings.load({config.ENV_MAP_CONCURRENCY: found["plan_env"]}))
        assert tuning.choose_concurrency(10_000, tuning.MAX_REDUCERS, limits) == reserved
        assert reserved + tuning.MAX_REDUCERS <= limits_module.ACCOUNT_CONCURRENCY - 100
    else:
        assert (found["Map"], found["Reduce"], found["plan_env"]) == (None, None, None)
