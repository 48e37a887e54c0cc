"""What Step Functions says of one execution (DescribeExecution): the error
and cause the reconciler records for a FAILED one."""

from __future__ import annotations

from logmr.aws.clients import UsesClient
from logmr.aws.errors import translate


class Executions(UsesClient):
    """The state machine's executions, through the ``stepfunctions`` client."""

    service = "stepfunctions"

    def failure(self, arn: str) -> tuple[str, str]:
        """The ``error`` and ``cause`` of the execution ``arn`` (empty when
        it has none)."""
        try:
            described = self.client.describe_execution(executionArn=arn)
        except Exception as exc:
            raise translate(exc, f"describe execution {arn}") from exc
        return str(described.get("error") or ""), str(described.get("cause") or "")
