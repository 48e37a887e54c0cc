"""``LogmrPipeline``: the whole of logmr on AWS as one reusable construct.

Names come from the code the functions run: the handlers, their sizes and
the ASL placeholders from ``logmr.workflow.names``, the table keys from
``logmr.aws.tables``, the environment variable names from ``logmr.config``,
the S3 layout from ``logmr.layout``. The infrastructure only fills in names and ARNs.

The parts are plain classes, each in its module, that create their
resources in the pipeline itself (not in child constructs, whose paths
would change every logical id): ``infra.data`` (buckets, tables),
``infra.functions`` (functions, code, layer, grants), ``infra.workflow``
(state machine), ``infra.triggers`` (EventBridge rules), ``infra.reconciler``
(the rule that records FAILED what an execution left RUNNING), ``infra.api``
(HTTP API) and ``infra.monitoring`` (alarms, dashboard).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import CfnResource, RemovalPolicy, Stack
from constructs import Construct

from infra.api import API_BURST_LIMIT, API_RATE_LIMIT, HttpApi
from infra.data import DATA_PREFIX, INPUT_PREFIX, SHUFFLE_EXPIRY_DAYS, Storage
from infra.functions import CODE_DIR, CODE_EXCLUDE, FUNCTION_SIZES, MAP_CONCURRENCY, Functions
from infra.monitoring import Monitoring
from infra.reconciler import Reconciler
from infra.triggers import Triggers, trigger_jobs
from infra.workflow import Workflow
from logmr.aws.allowlist import parse_location
from logmr.config import DEFAULT_RETENTION_DAYS

__all__ = [
    "API_BURST_LIMIT",
    "API_RATE_LIMIT",
    "CODE_DIR",
    "CODE_EXCLUDE",
    "DATA_PREFIX",
    "FUNCTION_SIZES",
    "INPUT_PREFIX",
    "SHUFFLE_EXPIRY_DAYS",
    "LogmrPipeline",
    "trigger_jobs",
]


class LogmrPipeline(Construct):
    """Bucket, tables, functions, state machine, triggers, HTTP API, monitoring."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine_name: str | None = None,
        input_prefixes: Sequence[str] = (INPUT_PREFIX,),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        map_concurrency: int = MAP_CONCURRENCY,
        input_locations: Sequence[str] = (),
        queries: Mapping[str, str] | None = None,
    ) -> None:
        """``input_locations``: other buckets' logs Plan and Map may read where
        they are, each ``s3://bucket/prefix/`` (``""`` prefix: the whole
        bucket): the grants and Plan's allow-list (LOGMR_INPUT_LOCATIONS)
        both come from this one value (docs/deploying.md). ``queries``: name
        -> a Logs Insights query that an upload under
        ``incoming/queries/<name>/`` starts (``infra.triggers``)."""
        super().__init__(scope, construct_id)
        self.input_prefixes = [p if p.endswith("/") else p + "/" for p in input_prefixes]
        if not self.input_prefixes:
            raise ValueError("no input prefix: give at least one (incoming/ by default)")
        for prefix in self.input_prefixes:
            # one value for the IAM grants and Plan's allow-list (a comma-separated
            # variable); job data is never an input (a job would read other jobs' data)
            if prefix == "/" or "," in prefix or prefix.startswith(DATA_PREFIX):
                raise ValueError(f"not an input prefix: {prefix!r} (job data is {DATA_PREFIX})")
        # ValueError naming a location that is no plain s3://bucket/prefix/
        self.input_locations = list(dict.fromkeys(map(parse_location, input_locations)))
        self.removal_policy = removal_policy
        # each part in turn, given what it needs of the earlier ones; the
        # pipeline keeps the attributes it has always had (infra.stack uses them)
        storage = Storage(self, removal_policy, retention_days)
        self.access_logs, self.bucket = storage.access_logs, storage.bucket
        self.results_table, self.jobs_table = storage.results_table, storage.jobs_table

        functions = Functions(
            self,
            storage,
            self.input_prefixes,
            retention_days,
            map_concurrency,
            input_locations=self.input_locations,
        )
        self.layer, self.code = functions.layer, functions.code
        self.environment = functions.environment
        self.functions, self.api_function = functions.functions, functions.api_function
        self.reconcile_function = functions.reconcile_function

        workflow = Workflow(
            self, state_machine_name or Stack.of(self).stack_name, self.bucket, self.functions
        )
        self.state_machine_name = workflow.state_machine_name
        self.state_machine_role = workflow.state_machine_role
        self.state_machine_logs = workflow.state_machine_logs
        self.definition_substitutions = workflow.definition_substitutions
        self.state_machine = workflow.state_machine

        reconciler = Reconciler(
            self, self.state_machine, self.state_machine_name, self.reconcile_function
        )
        self.reconcile_rule = reconciler.rule
        self.reconcile_dead_letters = reconciler.dead_letters
        self.reconcile_dead_letter_alarm = reconciler.dead_letter_alarm

        triggers = Triggers(self, self.bucket, self.state_machine, queries)
        self.events_role, self.rules = triggers.events_role, triggers.rules
        self.trigger_dead_letters = triggers.dead_letters

        api = HttpApi(self, self.state_machine, self.api_function)
        self.api, self.api_logs, self.api_stage = api.api, api.api_logs, api.api_stage

        monitoring = Monitoring(self, self.state_machine, self.functions, self.api_function)
        self.failed_alarm = monitoring.failed_alarm
        self.throttles_alarm = monitoring.throttles_alarm
        self.malformed_alarms = monitoring.malformed_alarms
        self.dashboard = monitoring.dashboard

        functions_and_machine = [
            *self.functions.values(),
            self.api_function,
            self.reconcile_function,
            self.state_machine,
        ]
        for resource in functions_and_machine:
            _depend_on_policy_only(resource)


def _depend_on_policy_only(resource: Construct) -> None:
    """DependsOn the role's policy, not the role: the role is already a
    GetAtt dependency (cfn-lint W3005), the policy must exist first so
    the function or state machine starts with its permissions."""
    role = getattr(resource, "role", None)
    policy = role.node.try_find_child("DefaultPolicy") if role else None
    cfn = resource.node.default_child
    if policy is None or not isinstance(cfn, CfnResource):
        return
    policy_cfn = policy.node.default_child
    assert isinstance(policy_cfn, CfnResource)
    cfn.add_override("DependsOn", [Stack.of(resource).get_logical_id(policy_cfn)])
