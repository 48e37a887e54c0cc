"""Running the state machine in tests: on the local engine and on moto's
interpreter, plus the test-only fault hook."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logmr import errors
from logmr.config import Settings
from logmr.engine.dispatcher import invoke_here
from logmr.workflow.names import FUNCTIONS


def no_sleep(seconds: float) -> None:
    """Retries in tests wait for no one (the waits are still computed and recorded)."""


@dataclass
class Fault:
    """Make ``function`` fail: raise ``error`` on the given attempts of the
    invocations whose event matches ``when`` (a subset of the event), or run
    the real handler an extra time first (``duplicate``), or run ``action``
    (given the event) instead of raising: damage the job's data before the
    real handler runs, or take ``delay`` seconds first (a slow task, for the
    dispatcher's timeout emulation). ``limit`` caps how many times the fault
    fires in all."""

    function: str
    error: str = "TransientError"
    attempts: tuple[int, ...] = (1,)
    when: dict[str, Any] = field(default_factory=dict)
    duplicate: bool = False
    fired: int = 0
    action: Callable[[dict[str, Any]], None] | None = None
    limit: int | None = None
    delay: float = 0.0


class FaultPlan:
    """The dispatcher hook: a list of faults, each counted when it fires, and
    every invocation it saw as (function, attempt) in ``calls``."""

    def __init__(self, *faults: Fault) -> None:
        self.faults = list(faults)
        self.calls: list[tuple[str, int]] = []

    def attempts(self, function: str) -> list[int]:
        """The attempt numbers of ``function``'s invocations, in order."""
        return [attempt for name, attempt in self.calls if name == function]

    def __call__(self, function: str, event: dict[str, Any], attempt: int) -> None:
        self.calls.append((function, attempt))
        for fault in self.faults:
            if fault.function != function or not _matches(event, fault.when):
                continue
            if fault.limit is not None and fault.fired >= fault.limit:
                continue
            if fault.delay:
                if attempt in fault.attempts:
                    fault.fired += 1
                    time.sleep(fault.delay)
                continue
            if fault.action is not None:
                if attempt in fault.attempts:
                    fault.fired += 1
                    fault.action(event)
                continue
            if fault.duplicate:
                if attempt == 1:
                    fault.fired += 1
                    ok, payload = invoke_here(FUNCTIONS[function], function, event)
                    assert ok, payload
                continue
            if attempt in fault.attempts:
                fault.fired += 1
                raise getattr(errors, fault.error)(f"injected {fault.error} on attempt {attempt}")


def _matches(event: Any, when: dict[str, Any]) -> bool:
    for key, value in when.items():
        if not isinstance(event, dict) or key not in event:
            return False
        if isinstance(value, dict):
            if not _matches(event[key], value):
                return False
        elif event[key] != value:
            return False
    return True


def history_types(history: list[dict[str, Any]]) -> Iterator[str]:
    return (event["type"] for event in history)


def request_for(path: Path | list[Path], job: str, job_id: str, **extra: Any) -> dict[str, Any]:
    paths = path if isinstance(path, list) else [path]
    return {"job_id": job_id, "job": job, "inputs": [str(p) for p in paths], **extra}


def local_settings(home: Path, workers: int = 2) -> Settings:
    return Settings.load(home=home, workers=workers)


def comparable(record: Any) -> dict[str, Any]:
    """A job record without what legitimately differs between runs (times, ids)."""
    data = dict(record.to_dict())
    for name in ("timings", "created_at", "finished_at", "job_id", "execution"):
        data.pop(name, None)
    spec = dict(data.get("spec") or {})
    spec.pop("job_id", None)
    spec.pop("max_concurrency", None)  # the planner's: Lambda's concurrency or the cores'
    data["spec"] = spec
    if data.get("bill"):  # durations and sizes differ; S3 inputs add listing requests
        data["bill"] = {name: data["bill"][name] for name in ("lambda_requests", "transitions")}
    data["malformed_samples"] = [
        {k: v for k, v in sample.items() if k != "origin"}
        for sample in data.get("malformed_samples", [])
    ]
    return json.loads(json.dumps(data))


def worker_environment(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A handler for a worker pool's tests: prints ``event["line"]`` (to the
    worker's log) and returns the worker's pid and the variables ``event["names"]``."""
    import os

    print(event["line"])
    return {"pid": os.getpid(), "env": {name: os.environ.get(name) for name in event["names"]}}
