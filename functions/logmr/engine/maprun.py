"""A Distributed Map's Map Run on the local interpreter, as Step Functions runs
one (Step Functions developer guide: "Distributed Map state",
state-map-distributed.html; "Examining Map Runs", concepts-examine-map-run.html):

- each item is a child execution with its own history (``Execution`` with a
  ``parent``); the parent's history shows the Map Run only: ``MapRunStarted``
  (``mapRunArn``), then ``MapRunSucceeded`` or ``MapRunFailed`` (``error``,
  ``cause``), never the children's events;
- ``DescribeMapRun``'s answer (``MapRun.describe``): status, dates,
  concurrency, tolerated failures and the item and execution counts;
- tolerated failures ("Tolerated failure threshold for Distributed Map
  states", maprun-fail-threshold.html): ``ToleratedFailurePercentage`` (0 to
  100: failed items over all items) and ``ToleratedFailureCount`` (0 or more),
  or their ``...Path`` from the state's input. "Your Map Run fails if this
  value is exceeded"; "if you specify both values, the workflow fails when it
  exceeds either one"; with neither given, "the workflow fails if any one of
  its child workflow executions fails" (both default to zero). A Map Run over
  its threshold fails with ``States.ExceedToleratedFailureThreshold``, whatever
  error its children failed with, and starts no more children; the ones
  running end first (Step Functions may run children past the threshold
  "before the Map Run fails"; it then aborts them, here they end on their own:
  an invocation cannot be taken back). A child that fails within the
  threshold puts its whole execution result (the record below) among the
  Map's outputs ("If a child workflow execution fails, Step Functions returns
  its execution result unchanged", input-output-resultwriter.html);
- ``ResultWriter`` (``arn:aws:states:::s3:putObject`` with ``Bucket`` and
  ``Prefix``; input-output-resultwriter.html, "Exporting to Amazon S3"):
  under ``<Prefix>/<Map Run id>/`` (the last part of the Map Run ARN) a
  ``manifest.json`` (``DestinationBucket``, ``MapRunArn``, ``ResultFiles``:
  ``SUCCEEDED``, ``FAILED`` and ``PENDING`` lists of ``{"Key", "Size"}``) and,
  for each status with executions, ``<STATUS>_0.json``: a JSON array of the
  executions' records (``ExecutionArn``, ``Name``, ``Input`` as JSON text,
  ``Output`` for a success or ``Error`` and ``Cause`` for a failure, ``Status``,
  dates, ...; the ``NONE`` transformation, the default when exporting).
  ``PENDING_0.json`` holds the items a failed Map Run never started. Written
  when the run ends, failed or not; the Map state's result is then
  ``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}``: constant-size
  whatever the item count. AWS starts a ``..._1.json`` past 5 GB; no local
  run comes near it, so one file per status is written.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from logmr.engine.execution import Execution, StatesError, json_text
from logmr.engine.paths import RUNTIME
from logmr.workflow.names import TOLERATED_FAILURE_ERROR

__all__ = ["TOLERATED_FAILURE_ERROR", "MapRun", "Tolerance", "check_definition"]

#: the cause of a Map Run whose failed children passed its threshold, as Step
#: Functions words it in the MapRunFailed event
TOLERATED_FAILURE_CAUSE = "The specified tolerated failure threshold was exceeded"
#: the error of an ItemReader that could not read the items
ITEM_READER_FAILED = "States.ItemReaderFailed"
#: the error of a ResultWriter that could not write the results
RESULT_WRITER_FAILED = "States.ResultWriterFailed"
#: the one ResultWriter resource: results exported to S3
S3_PUT_OBJECT = "arn:aws:states:::s3:putObject"
#: the Map state fields only a Distributed Map has
DISTRIBUTED_FIELDS = frozenset(
    {
        "ResultWriter",
        "ToleratedFailureCount",
        "ToleratedFailureCountPath",
        "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath",
    }
)
#: the result files' statuses, in the manifest's order
STATUSES = ("FAILED", "PENDING", "SUCCEEDED")

#: put_object(bucket, key, body): the engine's object store, for the ResultWriter
PutObject = Callable[[str, str, bytes], None]


def check_definition(state: dict[str, Any], distributed: bool) -> str | None:
    """What is wrong with a Map state's Map Run fields (``None``: nothing):
    they belong to a Distributed Map; a threshold is a value or a path, not
    both, and a value in range; the ResultWriter exports to S3 with a bucket
    and a prefix (``WriterConfig`` is not implemented)."""
    present = sorted(DISTRIBUTED_FIELDS & set(state))
    if present and not distributed:
        return f"field {present[0]!r} belongs to a Distributed Map"
    for name in ("ToleratedFailureCount", "ToleratedFailurePercentage"):
        if name in state and f"{name}Path" in state:
            return f"{name} and {name}Path both given"
    if "ToleratedFailureCount" in state and _count(state["ToleratedFailureCount"]) is None:
        return "ToleratedFailureCount must be an integer of 0 or more"
    if (
        "ToleratedFailurePercentage" in state
        and _percentage(state["ToleratedFailurePercentage"]) is None
    ):
        return "ToleratedFailurePercentage must be a number from 0 to 100"
    writer = state.get("ResultWriter")
    if writer is not None:
        parameters = writer.get("Parameters") or {}
        names = {key.removesuffix(".$") for key in parameters}
        if (
            set(writer) != {"Resource", "Parameters"}
            or writer["Resource"] != S3_PUT_OBJECT
            or names != {"Bucket", "Prefix"}
            or len(parameters) != 2
        ):
            return "only a ResultWriter to S3 (s3:putObject) with Bucket and Prefix is supported"
    return None


def _count(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else None


def _percentage(value: Any) -> float | None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if number and 0 <= value <= 100 else None


@dataclass(frozen=True)
class Tolerance:
    """A Map Run's failure threshold: ``count`` failed items, ``percentage``
    of all items; ``None``: not given (neither given: both zero)."""

    count: int | None = None
    percentage: float | None = None

    @classmethod
    def of(cls, state: dict[str, Any], read: Callable[[str], Any]) -> Tolerance:
        """The state's threshold, its paths read with ``read``; a path's value
        out of range fails the state with ``States.Runtime``, as on AWS."""
        values: dict[str, Any] = {}
        for name, check in (("Count", _count), ("Percentage", _percentage)):
            field = f"ToleratedFailure{name}"
            if field in state:
                values[name] = check(state[field])
            elif f"{field}Path" in state:
                found = read(state[f"{field}Path"])
                values[name] = check(found)
                if values[name] is None:
                    raise StatesError(
                        RUNTIME,
                        f"the {field}Path field refers to {json_text(found)},"
                        f" which is not a valid {field}",
                    )
        if not values:
            return cls(count=0, percentage=0.0)
        return cls(count=values.get("Count"), percentage=values.get("Percentage"))

    def exceeded(self, failed: int, total: int) -> bool:
        """Whether ``failed`` of ``total`` items are past the threshold."""
        over_count = self.count is not None and failed > self.count
        over_share = self.percentage is not None and failed * 100 > self.percentage * total
        return over_count or over_share


def _date(moment: datetime | None) -> str | None:
    """A date as the result files write it: ISO 8601, milliseconds, UTC ``Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class MapRun:
    """One Map Run: its items' child executions and their counts. Safe to
    read (``describe``) from any thread while it runs."""

    def __init__(
        self,
        execution: Execution,
        state_name: str,
        max_concurrency: int,
        tolerance: Tolerance,
    ) -> None:
        #: the run's id: the last part of its ARN, the ResultWriter's folder
        self.id = str(uuid.uuid4())
        self.arn = f"local:mapRun:{execution.name}/{state_name}:{self.id}"
        self.execution = execution
        #: what AWS calls the children's state machine: the parent's, with the Map's label
        self.state_machine = f"{execution.arn}/{state_name}"
        self.max_concurrency = max_concurrency
        self.tolerance = tolerance
        self.status = "RUNNING"
        self.started = datetime.now(UTC)
        self.stopped: datetime | None = None
        #: the items, and each one's child execution and its input once started
        self.items: list[Any] = []
        self.inputs: list[Any] = []
        self.children: list[Execution | None] = []
        self.exceeded = False
        self._counts = dict.fromkeys(("pending", "running", "succeeded", "failed"), 0)
        self._written = 0
        self._lock = threading.Lock()
        #: held while a child's end is counted and shown (``ended``), so that
        #: every count is seen by the observer that shows progress
        self.progress = threading.Lock()

    def begin(self, items: list[Any]) -> None:
        """The run's items are known, none started."""
        with self._lock:
            self.items = items
            self.inputs = [None] * len(items)
            self.children = [None] * len(items)
            self._counts["pending"] = len(items)

    def start(self, index: int, child: Execution, data: Any) -> None:
        """Item ``index`` runs as ``child`` with input ``data``."""
        with self._lock:
            self.inputs[index] = data
            self.children[index] = child
            self._counts["pending"] -= 1
            self._counts["running"] += 1

    def ended(self, child: Execution) -> bool:
        """Count ``child``'s end (SUCCEEDED or FAILED); True when the failures
        are now past the threshold."""
        with self._lock:
            self._counts["running"] -= 1
            self._counts[child.status.lower()] += 1
            failed, total = self._counts["failed"], len(self.children)
            self.exceeded = self.exceeded or self.tolerance.exceeded(failed, total)
            return self.exceeded

    def end(self, status: str) -> None:
        with self._lock:
            self.status = status
            self.stopped = datetime.now(UTC)

    def counts(self) -> dict[str, int]:
        """The item counts of DescribeMapRun (its execution counts are the same
        here: an item is one child execution)."""
        with self._lock:
            counts = dict(self._counts)
            total, written = len(self.children), self._written
        return {
            **counts,
            "timedOut": 0,
            "aborted": 0,
            "total": total,
            "resultsWritten": written,
            "failuresNotRedrivable": 0,
            "pendingRedrive": 0,
        }

    def describe(self) -> dict[str, Any]:
        """DescribeMapRun's answer, as boto3 gives it (dates as ``datetime``)."""
        counts = self.counts()
        answer: dict[str, Any] = {
            "mapRunArn": self.arn,
            "executionArn": self.execution.arn,
            "status": self.status,
            "startDate": self.started,
            "maxConcurrency": self.max_concurrency,
            "toleratedFailurePercentage": self.tolerance.percentage or 0.0,
            "toleratedFailureCount": self.tolerance.count or 0,
            "itemCounts": counts,
            "executionCounts": dict(counts),
        }
        if self.stopped is not None:
            answer["stopDate"] = self.stopped
        return answer

    def record(self, index: int) -> dict[str, Any]:
        """Item ``index``'s execution result, as the result files hold it."""
        child, data = self.children[index], self.inputs[index]
        if child is None:
            return {
                "Input": json_text(self.items[index]),
                "InputDetails": {"Included": True},
                "Status": "PENDING",
            }
        found: dict[str, Any] = {
            "ExecutionArn": child.arn,
            "Input": json_text(data),
            "InputDetails": {"Included": True},
            "Name": child.name,
            "RedriveCount": 0,
            "StartDate": _date(child.start_date()),
            "StateMachineArn": self.state_machine,
            "Status": child.status,
            "StopDate": _date(child.stop_date()),
        }
        if child.status == "SUCCEEDED":
            found["Output"] = json_text(child.output)
            found["OutputDetails"] = {"Included": True}
            found["RedriveStatus"] = "NOT_REDRIVABLE"
            found["RedriveStatusReason"] = "Execution is SUCCEEDED and cannot be redriven"
        else:
            found["Error"] = child.error
            found["Cause"] = child.cause
            found["RedriveStatus"] = "REDRIVABLE"
        return found

    def outputs(self) -> list[Any]:
        """The Map's result without a ResultWriter: each child's output in
        item order, a failed child's whole record in its place."""
        return [
            child.output if child is not None and child.status == "SUCCEEDED" else self.record(i)
            for i, child in enumerate(self.children)
        ]

    def write_results(self, put: PutObject, bucket: str, prefix: str) -> dict[str, str]:
        """Write the result files and the manifest; their place (ResultWriterDetails)."""
        folder = f"{prefix}/" if prefix and not prefix.endswith("/") else prefix
        folder += f"{self.id}/"
        by_status: dict[str, list[dict[str, Any]]] = {status: [] for status in STATUSES}
        for index in range(len(self.children)):
            found = self.record(index)
            by_status[found["Status"]].append(found)
        files: dict[str, list[dict[str, Any]]] = {status: [] for status in STATUSES}
        for status in STATUSES:
            if by_status[status]:
                key = f"{folder}{status}_0.json"
                body = json.dumps(by_status[status]).encode()
                put(bucket, key, body)
                files[status].append({"Key": key, "Size": len(body)})
        manifest = {"DestinationBucket": bucket, "MapRunArn": self.arn, "ResultFiles": files}
        key = f"{folder}manifest.json"
        put(bucket, key, json.dumps(manifest).encode())
        with self._lock:
            self._written = len(by_status["SUCCEEDED"]) + len(by_status["FAILED"])
        return {"Bucket": bucket, "Key": key}
