"""An execution of the local interpreter: its outcome, its history of events
in the shape Step Functions' ``GetExecutionHistory`` returns, and the errors
it fails with (``StatesError``). Shared by the interpreter and its Map Runs
(``engine.maprun``): a Distributed Map's child executions are executions too.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from logmr import limits

#: logmr's own event type: a Retry rule matched, the state runs again (see
#: ``engine.interpreter``: AWS shows a retry only as a failure followed by the
#: task scheduled again)
RETRY_SCHEDULED = "LogmrRetryScheduled"
#: the events that end an execution: recorded even past the history quota
ENDINGS = frozenset({"ExecutionSucceeded", "ExecutionFailed"})


class UnsupportedDefinitionError(ValueError):
    """The definition uses ASL that this interpreter does not implement."""


class StatesError(Exception):
    """An error as Step Functions names it (``error``) with its ``cause``."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


@dataclass
class Execution:
    """An execution's outcome and its history of events (``engine.interpreter``
    says their shape): ``events_after`` and ``history`` read it, from any
    thread. A Distributed Map's child execution has the execution that ran
    the Map as its ``parent``; an execution's Map Runs are in ``map_runs``
    (Map Run ARN -> ``engine.maprun.MapRun``)."""

    name: str
    status: str = "RUNNING"
    #: tells this run from any other of the same name (on AWS the name is
    #: unique per state machine; a local job id may be run again)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    output: Any = None
    error: str | None = None
    cause: str | None = None
    parent: Execution | None = field(default=None, repr=False)
    map_runs: dict[str, Any] = field(default_factory=dict, repr=False)
    _events: list[dict[str, Any]] = field(default_factory=list, repr=False)
    #: the events that count toward Step Functions' history quota
    _counted: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def arn(self) -> str:
        """The execution's id (``$$.Execution.Id``): where AWS has its ARN."""
        return f"local:{self.name}:{self.run_id}"

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every event so far, oldest first."""
        return self.events_after(0)

    def start_date(self) -> datetime | None:
        """When the execution started (its first event), if it has."""
        with self._lock:
            return self._events[0]["timestamp"] if self._events else None

    def stop_date(self) -> datetime | None:
        """When the execution ended (its last event), if it has."""
        with self._lock:
            ended = self._events and self._events[-1]["type"] in ENDINGS
            return self._events[-1]["timestamp"] if ended else None

    def events_after(self, last_id: int) -> list[dict[str, Any]]:
        """The events after the one numbered ``last_id``, oldest first (ids
        count from 1, as on AWS). The list is new; the events are the
        execution's own: read them, do not change them."""
        with self._lock:
            return self._events[max(last_id, 0) :]

    def record(self, kind: str, details: dict[str, Any] | None = None) -> None:
        """Add an event of type ``kind`` with its details (none: no details member).

        An execution has at most ``limits.MAX_HISTORY_EVENTS`` events on AWS
        ("Maximum execution history size: 25,000 events ... If the execution
        history reaches this quota the execution will fail", Step Functions
        developer guide, service-quotas.html): the event that would go past
        it fails the execution instead (``States.Runtime``, which no Catch
        takes). Not counted: logmr's own ``LogmrRetryScheduled`` (AWS records
        no such event). A Distributed Map's child executions have histories
        of their own, each with its own quota."""
        counts = kind != RETRY_SCHEDULED
        with self._lock:
            # the last event allowed is kept for the ending
            if counts and kind not in ENDINGS and self._counted >= limits.MAX_HISTORY_EVENTS - 1:
                raise StatesError(
                    "States.Runtime",
                    f"the execution's history reached {limits.MAX_HISTORY_EVENTS:,} events,"
                    " Step Functions' quota",
                )
            self._counted += counts
            number = len(self._events) + 1
            event: dict[str, Any] = {
                "id": number,
                "previousEventId": number - 1,
                "timestamp": datetime.now(UTC),
                "type": kind,
            }
            if details is not None:
                event[details_member(kind)] = details
            self._events.append(event)


def details_member(kind: str) -> str:
    """The HistoryEvent member that holds the details of an event type: one for
    every ``...StateEntered`` and every ``...StateExited``, else the type's own
    (``MapStateStarted`` -> ``mapStateStartedEventDetails``)."""
    for shared in ("StateEntered", "StateExited"):
        if kind.endswith(shared):
            return f"state{shared[len('State') :]}EventDetails"
    return f"{kind[0].lower()}{kind[1:]}EventDetails"


def json_text(value: Any) -> str:
    """Execution data as the history and the payload quota measure it: compact JSON."""
    return json.dumps(value, separators=(",", ":"))


def execution_data(name: str, value: Any, text: str | None = None) -> dict[str, Any]:
    """Execution data in an event's details: ``name`` (``input`` or ``output``)
    as JSON text (``text``, when known) and its ``...Details``: never truncated,
    as in GetExecutionHistory's answers."""
    return {
        name: json_text(value) if text is None else text,
        f"{name}Details": {"truncated": False},
    }
