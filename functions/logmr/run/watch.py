"""Per-phase progress of an execution, read from its history: one watcher for
both engines of the state machine. On AWS it reads boto3's Step Functions
client; on one machine, ``logmr.engine.history.LocalStepFunctions``, the same
``get_execution_history`` over the interpreter's history (which has AWS's
shape). The phases are map, reduce and finalize, each shown as
``progress(phase, done, total)``: ``Progress``, the callable every runner takes.

A progress that also has ``read(done, total)`` (``ReadProgress``) is told the
input bytes the finished map tasks read, of the job's: the job's bytes and
each task's come from the map state's input (Plan's output, read once with
its data), a finished inline iteration counts its own task's bytes, and a
Distributed Map's (whose items the history does not hold) the job's bytes in
proportion to the items done.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from botocore.exceptions import BotoCoreError, ClientError

from logmr import limits
from logmr.aws.errors import translate
from logmr.errors import LogmrError
from logmr.spec import MapTask

__all__ = ["PAGE_SIZE", "PHASES", "ExecutionWatcher", "Progress", "ReadProgress", "task_bytes"]

#: called as progress(phase, done, total)
Progress = Callable[[str, int, int], None]


@runtime_checkable
class ReadProgress(Protocol):
    """A progress that also shows the input bytes the finished map tasks read."""

    def __call__(self, phase: str, done: int, total: int) -> None: ...

    def read(self, done: int, total: int) -> None: ...


def task_bytes(tasks: Sequence[dict[str, Any]], input_bytes: int) -> list[int]:
    """Each map task's stored input bytes (``tasks``: their dicts): its ranges'
    sizes, and what is left of the job's ``input_bytes`` shared among the tasks
    that read whole compressed objects (a task does not carry their size)."""
    sizes = [MapTask.from_dict(task).input_bytes for task in tasks]
    unknown = sizes.count(None)
    rest = max(0, input_bytes - sum(size for size in sizes if size is not None))
    share, extra = divmod(rest, unknown) if unknown else (0, 0)
    shared = iter([share + 1] * extra + [share] * (unknown - extra))
    return [next(shared) if size is None else size for size in sizes]


def show_read(progress: Progress | None, done: int, total: int) -> None:
    """Bytes read, to a progress that shows them."""
    if isinstance(progress, ReadProgress):
        progress.read(done, total)


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
    #: the job's input bytes and each map task's (``None``: not known), once the map starts
    input_bytes: int = 0
    sizes: list[int] | None = None
    #: the map iterations finished (a redrive repeats some) and the bytes they read
    read_tasks: set[int] = field(default_factory=set)
    read_bytes: int = 0

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
                if phase == "map" and self.totals[phase]:  # its items are not in the history
                    share = min(self.done[phase], self.totals[phase]) / self.totals[phase]
                    self.read_bytes = round(self.input_bytes * share)
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
            if PHASES.get(self.current) == "map" and self._wants_bytes():
                self._read_plan(int(event["id"]))
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
                index = event.get("mapIterationSucceededEventDetails", {}).get("index")
                if phase == "map" and self.sizes and index not in self.read_tasks:
                    self.read_tasks.add(index)
                    if isinstance(index, int) and 0 <= index < len(self.sizes):
                        self.read_bytes += self.sizes[index]
                self._show(phase)
        elif kind == "TaskStateEntered":
            if event.get("stateEnteredEventDetails", {}).get("name") == "Finalize":
                self.totals["finalize"] = 1
                self._show("finalize")
        elif kind == "ExecutionSucceeded":
            self.done["finalize"] = self.totals["finalize"] = 1
            self._show("finalize")

    def _wants_bytes(self) -> bool:
        return isinstance(self.progress, ReadProgress)

    def _read_plan(self, event_id: int) -> None:
        """The job's input bytes and each map task's, from the input of the
        map state (event ``event_id``): the history read once with its data,
        from the start up to that event (a page, unless Plan was retried a lot)."""
        kwargs: dict[str, Any] = {
            "executionArn": self.execution_arn,
            "maxResults": max(1, min(event_id, PAGE_SIZE)),
            "includeExecutionData": True,
        }
        try:
            while True:
                page = self.sfn.get_execution_history(**kwargs)
                for event in page.get("events", []):
                    if int(event["id"]) == event_id:
                        details = event.get("stateEnteredEventDetails", {})
                        self._plan_bytes(details.get("input"))
                        return
                if not page.get("nextToken"):
                    return
                kwargs["nextToken"] = page["nextToken"]
        except (BotoCoreError, ClientError):
            return  # progress is a nicety: the phases show without their bytes

    def _plan_bytes(self, text: Any) -> None:
        try:  # truncated on AWS past 256 KiB: then no bytes are shown
            plan = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            plan = None
        if not isinstance(plan, dict) or not isinstance(plan.get("input_bytes"), int):
            return
        self.input_bytes = plan["input_bytes"]
        tasks = plan.get("map_tasks")
        if isinstance(tasks, list) and tasks:  # an inline Map's: each task's bytes
            try:
                self.sizes = task_bytes(tasks, self.input_bytes)
            except LogmrError:  # not a map task's shape: the phase shows without bytes
                self.sizes = None

    def _show(self, phase: str) -> None:
        if self.progress is None or phase not in self.totals:
            return
        total = self.totals[phase]
        now = (min(self.done.get(phase, 0), total), total)  # a redrive repeats iterations
        if self.shown.get(phase) != now:
            self.shown[phase] = now
            if phase == "map" and self.input_bytes:
                show_read(self.progress, min(self.read_bytes, self.input_bytes), self.input_bytes)
            self.progress(phase, *now)
