"""A stand-in for the Lambda context object the handlers receive."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from logmr import limits

#: the local engine gives each invocation Lambda's longest timeout
TIMEOUT_SECONDS = limits.MAX_TIMEOUT_S


@dataclass
class LocalContext:
    function_name: str
    memory_limit_in_mb: int = limits.MB_PER_VCPU
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "local"
    log_stream_name: str = "local"
    deadline: float = field(default_factory=lambda: time.monotonic() + TIMEOUT_SECONDS)

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self.deadline - time.monotonic()) * 1000), 0)
