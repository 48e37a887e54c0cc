"""Per-phase progress of an execution, read from its history: one watcher for
both engines of the state machine. On AWS it reads boto3's Step Functions
client; on one machine, ``logmr.engine.history.LocalStepFunctions``, the same
``get_execution_history`` over the interpreter's history (which has AWS's
shape). The phases are map, reduce and finalize, each shown as
``progress(phase, done, total)``: ``Progress``, the callable every runner takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from logmr import limits
from logmr.aws.errors import translate

__all__ = ["PAGE_SIZE", "PHASES", "ExecutionWatcher", "Progress"]

#: called as progress(phase, done, total)
Progress = Callable[[str, int, int], None]
#: Map state name -> the phase it shows as
PHASES = {"MapInline": "map", "MapDistributed": "map", "Reduce": "reduce"}
#: GetExecutionHistory's page size
PAGE_SIZE = limits.SFN_PAGE_SIZE


@dataclass
class ExecutionWatcher:
    """Per-phase progress from an execution's history, reading new events only
    (newest pages first, down to one it has seen): call ``poll`` as often as
    progress should show.

    ``sfn`` is boto3's Step Functions client, or ``LocalStepFunctions`` for the
    local engine. An inline Map's progress is its ``MapIterationSucceeded``
    events against the length in ``MapStateStarted``; a Distributed Map keeps
    its iterations in child executions, so its progress is ``DescribeMapRun``'s
    item counts (on AWS, and from ``LocalStepFunctions`` on one machine, whose
    interpreter runs the same Map Run). A phase shows when its total is known,
    and again each time its count changes.
    """

    sfn: Any
    execution_arn: str
    progress: Progress | None = None
    last_id: int = 0
    current: str = ""
    totals: dict[str, int] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=dict)
    map_runs: dict[str, str] = field(default_factory=dict)
    ended_runs: set[str] = field(default_factory=set)
    shown: dict[str, tuple[int, int]] = field(default_factory=dict)

    def poll(self) -> None:
        for event in self._new_events():
            self._see(event)
        for phase, arn in list(self.map_runs.items()):
            try:
                counts = self.sfn.describe_map_run(mapRunArn=arn).get("itemCounts", {})
            except (BotoCoreError, ClientError):
                counts = None  # progress is a nicety: never fail a job's watch over it
            if counts is not None:
                self.totals[phase] = int(counts.get("total", 0))
                self.done[phase] = int(counts.get("succeeded", 0))
                self._show(phase)
            if phase in self.ended_runs:
                del self.map_runs[phase]

    def _new_events(self) -> list[dict[str, Any]]:
        """Events after ``last_id``: newest pages first, until a page reaches a seen one."""
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "executionArn": self.execution_arn,
            "maxResults": PAGE_SIZE,
            "reverseOrder": True,
            "includeExecutionData": False,
        }
        while True:
            try:
                page = self.sfn.get_execution_history(**kwargs)
            except (BotoCoreError, ClientError) as exc:
                raise translate(exc, f"read the history of {self.execution_arn}") from exc
            page_events = page.get("events", [])
            events += [event for event in page_events if int(event["id"]) > self.last_id]
            seen = any(int(event["id"]) <= self.last_id for event in page_events)
            if seen or not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        events.sort(key=lambda event: int(event["id"]))
        if events:
            self.last_id = int(events[-1]["id"])
        return events

    def _see(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "MapStateEntered":
            self.current = event.get("stateEnteredEventDetails", {}).get("name", "")
        elif kind == "MapStateStarted" and self.current in PHASES:
            length = int(event.get("mapStateStartedEventDetails", {}).get("length", 0))
            if length:  # a Distributed Map's length is its map run's
                self.totals[PHASES[self.current]] = length
                self._show(PHASES[self.current])
        elif kind == "MapRunStarted" and self.current in PHASES:
            arn = event.get("mapRunStartedEventDetails", {}).get("mapRunArn")
            if arn:
                self.map_runs[PHASES[self.current]] = arn
        elif kind in {"MapRunSucceeded", "MapRunFailed", "MapRunAborted"}:
            if self.current in PHASES:
                self.ended_runs.add(PHASES[self.current])
        elif kind == "MapIterationSucceeded":
            name = event.get("mapIterationSucceededEventDetails", {}).get("name", "")
            if name in PHASES:
                phase = PHASES[name]
                self.done[phase] = self.done.get(phase, 0) + 1
                self._show(phase)
        elif kind == "TaskStateEntered":
            if event.get("stateEnteredEventDetails", {}).get("name") == "Finalize":
                self.totals["finalize"] = 1
                self._show("finalize")
        elif kind == "ExecutionSucceeded":
            self.done["finalize"] = self.totals["finalize"] = 1
            self._show("finalize")

    def _show(self, phase: str) -> None:
        if self.progress is None or phase not in self.totals:
            return
        total = self.totals[phase]
        now = (min(self.done.get(phase, 0), total), total)  # a redrive repeats iterations
        if self.shown.get(phase) != now:
            self.shown[phase] = now
            self.progress(phase, *now)
