"""The upload trigger: moto's S3 sends an "Object Created" event to
EventBridge for a bucket whose notification configuration says so, and
moto's EventBridge matches it against the rules, but it delivers to no Step
Functions target (``Rule.send_to_targets`` raises NotImplementedError, which
moto's S3 swallows). ``Deliveries`` does what such a target does on AWS: the
rule's pattern matched, the target's input transformer applied (moto's
``EventTemplateParser``, the transformer as the template wrote it), and an
execution of the target's state machine started with a generated name.
Targets of other kinds go to moto as before. The target's role, retry policy
and dead-letter queue are not emulated.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from moto.events.models import Rule
from moto.events.utils import EventTemplateParser
from moto.stepfunctions.responses import get_backend
from moto.utilities.arns import parse_arn


class Deliveries:
    """Delivers events to Step Functions targets (``delivering``): ``started``
    holds the execution ARNs, ``errors`` what failed (moto's S3 would swallow it)."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()

    def deliver(self, rule: Rule, event: dict[str, Any], target: dict[str, Any]) -> str:
        """Start the execution ``target`` of ``rule`` asks for ``event``: its ARN."""
        transformer = target.get("InputTransformer", {})
        # the parser reads the ingestion time, which moto's S3 events lack
        stamped = {"ingestion-time": event.get("time"), **event}
        execution_input = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=stamped,  # type: ignore[arg-type]
        )
        arn = parse_arn(target["Arn"])
        execution = get_backend(arn.account, arn.region).start_execution(
            target["Arn"], name=str(uuid.uuid4()), execution_input=json.dumps(execution_input)
        )
        return str(execution.execution_arn)

    @contextlib.contextmanager
    def delivering(self) -> Iterator[Deliveries]:
        original = Rule.send_to_targets

        def send_to_targets(
            rule: Rule, original_event: dict[str, Any], transform_input: bool = True
        ) -> None:
            machines = [t for t in rule.targets if parse_arn(t["Arn"]).service == "states"]
            if machines and rule.event_pattern.matches_event(original_event):
                for target in machines:
                    try:
                        started = self.deliver(rule, original_event, target)
                    except Exception as exc:
                        with self._lock:
                            self.errors.append(exc)
                        raise
                    with self._lock:
                        self.started.append(started)
            others = [t for t in rule.targets if t not in machines]
            if others:
                rest = copy.copy(rule)
                rest.targets = others
                original(rest, original_event, transform_input)  # type: ignore[arg-type]

        Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            Rule.send_to_targets = original  # type: ignore[method-assign]
