"""``GetExecutionHistory`` over one execution of the local interpreter, as
boto3's Step Functions client answers it, so that one execution watcher
(``logmr.run.watch``) reads the deployed stack and the local engine alike.

The interpreter's history already has AWS's shape (``logmr.engine.interpreter``);
this adds the call's paging: ``maxResults`` events a page (default 100, at most
1,000, 0 for the default), oldest first or, with ``reverseOrder``, newest first,
a ``nextToken`` while more remain (to pass back with the other arguments
unchanged), and ``includeExecutionData=False`` leaving out the events' input and
output. Its errors are botocore's ``ClientError`` with AWS's codes
(``ExecutionDoesNotExist``, ``InvalidToken``, ``ValidationException``).

``describe_map_run`` answers for the execution's Map Runs (a Distributed
Map's, ``engine.maprun``) as boto3's does, item counts included: the watcher
shows a Distributed Map's progress from them, here as on AWS
(``ResourceNotFound`` for a Map Run it does not know).
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import ClientError

from logmr import limits
from logmr.engine.execution import Execution

#: GetExecutionHistory's page size when maxResults is 0 or not given
DEFAULT_PAGE_SIZE = 100
#: the execution data includeExecutionData=False leaves out of an event's details
_EXECUTION_DATA = frozenset({"input", "inputDetails", "output", "outputDetails"})


class LocalStepFunctions:
    """The Step Functions client's ``get_execution_history`` over ``execution``.

    Pages hold the execution's own events (with execution data) or one lean
    copy of each made once (without): read them, do not change them. Safe to
    call from any thread while the execution runs.
    """

    def __init__(self, execution: Execution) -> None:
        self.execution = execution
        self._lock = threading.Lock()
        self._seen: dict[bool, list[dict[str, Any]]] = {True: [], False: []}

    def get_execution_history(
        self,
        *,
        executionArn: str,
        maxResults: int = 0,
        reverseOrder: bool = False,
        nextToken: str | None = None,
        includeExecutionData: bool = True,
    ) -> dict[str, Any]:
        """One page of the history: ``{"events": [...], "nextToken": ...}``
        (``nextToken`` only while more remain), boto3's arguments and answer."""
        if executionArn != self.execution.arn:
            raise _error("ExecutionDoesNotExist", f"Execution Does Not Exist: '{executionArn}'")
        if not 0 <= maxResults <= limits.SFN_PAGE_SIZE:
            raise _error(
                "ValidationException",
                f"maxResults must be from 0 to {limits.SFN_PAGE_SIZE}, not {maxResults}",
            )
        size = maxResults or DEFAULT_PAGE_SIZE
        direction = "reverse" if reverseOrder else "forward"
        with self._lock:
            events = self._events(includeExecutionData)
            # a token is where the next page starts: a count of events from the oldest
            position = _position(nextToken, direction, len(events))
            if reverseOrder:
                start = max(0, position - size)
                page, more, following = events[start:position][::-1], start > 0, start
            else:
                end = min(len(events), position + size)
                page, more, following = events[position:end], end < len(events), end
        answer: dict[str, Any] = {"events": page}
        if more:
            answer["nextToken"] = f"{direction}:{following}"
        return answer

    def describe_map_run(self, *, mapRunArn: str) -> dict[str, Any]:
        """DescribeMapRun: one of the execution's Map Runs (or its children's)."""
        runs = list(self.execution.map_runs.values())
        while runs:
            run = runs.pop()
            if run.arn == mapRunArn:
                return dict(run.describe())
            runs += [inner for child in run.children if child for inner in child.map_runs.values()]
        raise _error("ResourceNotFound", f"Map Run Does Not Exist: '{mapRunArn}'", "DescribeMapRun")

    def _events(self, with_data: bool) -> list[dict[str, Any]]:
        """Every event so far, with or without execution data (caller holds the lock)."""
        events = self._seen[with_data]
        new = self.execution.events_after(len(events))
        events.extend(new if with_data else (_without_data(event) for event in new))
        return events


def _position(token: str | None, direction: str, count: int) -> int:
    if token is None:
        return count if direction == "reverse" else 0
    kind, _, number = token.partition(":")
    if kind != direction or not number.isdigit() or int(number) > count:
        raise _error("InvalidToken", f"Invalid Token: '{token}'")
    return int(number)


def _without_data(event: dict[str, Any]) -> dict[str, Any]:
    return {
        key: (
            {name: value for name, value in details.items() if name not in _EXECUTION_DATA}
            if key.endswith("EventDetails")
            else details
        )
        for key, details in event.items()
    }


def _error(code: str, message: str, operation: str = "GetExecutionHistory") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)
