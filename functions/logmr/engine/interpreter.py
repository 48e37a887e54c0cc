"""An interpreter of the subset of Amazon States Language that logmr's
definition uses, for running it on one machine.

States: Task (``arn:aws:states:::lambda:invoke``), Map (inline, and distributed
with an S3 JSON ItemReader), Choice, Pass, Succeed, Fail. Fields: InputPath,
Parameters, ItemSelector, ResultSelector, ResultPath, OutputPath, Retry
(IntervalSeconds, MaxAttempts, BackoffRate, MaxDelaySeconds, JitterStrategy),
Catch, MaxConcurrency(Path), Error(Path)/Cause(Path). Paths: ``$``, ``$.a.b``,
``$.a[0]`` and the context object (``$$.Execution.Name``, ``$$.Map.Item.Value``
...). Anything else is refused with ``UnsupportedDefinitionError`` before the
execution starts, never half-run. State input and output are held to the
256 KiB quota as on AWS (``States.DataLimitExceeded``).

Semantics follow the AWS documentation: a Lambda function error is named by its
``errorType``; ``States.ALL`` matches every error but the terminal ones
(``TERMINAL_ERRORS``: no Retry or Catch takes them, the execution fails); a retry waits
``min(IntervalSeconds * BackoffRate ** n, MaxDelaySeconds)`` seconds, a random
fraction of it with ``JitterStrategy: FULL``; an iteration's failure fails the
Map state with the iteration's error and stops the iterations not yet started.

The history has the shape Step Functions' ``GetExecutionHistory`` returns
through boto3 (``Execution.record``): ``id`` (from 1), ``previousEventId`` (the
event before), ``timestamp`` (a timezone-aware ``datetime``), ``type`` and the
type's ``...EventDetails``, execution data (``input``, ``output``,
``parameters``) as JSON text. A Distributed Map's iterations are in the
execution's own history, as an inline Map's (no map run, no child executions).
One event type is logmr's own, AWS has none like it: ``LogmrRetryScheduled``
(``logmrRetryScheduledEventDetails``: the state ``name``, the ``error``
retried, the ``attempt`` and the ``waitSeconds`` before it), where AWS shows a
retry only as a failure followed by the task scheduled again.
"""

from __future__ import annotations

import copy
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from logmr import limits

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
S3_GET_OBJECT = "arn:aws:states:::s3:getObject"
#: the Step Functions quota on a state's input or output
MAX_PAYLOAD_BYTES = 262_144
_INLINE_MAP_LIMIT = limits.INLINE_MAP_CONCURRENCY

#: errors no Retry or Catch matches, whatever its ErrorEquals: the execution
#: fails with them. "States.ALL ... cannot catch the States.DataLimitExceeded
#: terminal error or Runtime error types" (Step Functions developer guide,
#: "Handling errors in Step Functions workflows", concepts-error-handling.html;
#: States.Runtime "will always cause the execution to fail"). AWS may let a
#: Catch that names States.DataLimitExceeded itself take it; this interpreter
#: never does, so it is at least as strict, and logmr's definition names neither.
TERMINAL_ERRORS = frozenset({"States.DataLimitExceeded", "States.Runtime"})

#: invoke(function_arn, payload) -> (ok, result or error payload as parsed JSON)
Invoke = Callable[[str, Any], tuple[bool, Any]]
#: get_object(bucket, key) -> bytes
GetObject = Callable[[str, str], bytes]

_COMMON = {"Type", "Comment", "InputPath", "OutputPath", "Next", "End"}
_ALLOWED = {
    "Task": _COMMON
    | {
        "Resource",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "Retry",
        "Catch",
        "TimeoutSeconds",
    },
    "Map": _COMMON
    | {
        "ItemsPath",
        "ItemSelector",
        "ItemProcessor",
        "ItemReader",
        "MaxConcurrency",
        "MaxConcurrencyPath",
        "ResultSelector",
        "ResultPath",
        "Retry",
        "Catch",
    },
    "Choice": {"Type", "Comment", "InputPath", "OutputPath", "Choices", "Default"},
    "Pass": _COMMON | {"Parameters", "Result", "ResultPath"},
    "Succeed": {"Type", "Comment", "InputPath", "OutputPath"},
    "Fail": {"Type", "Comment", "Error", "Cause", "ErrorPath", "CausePath"},
}
_COMPARATORS = {
    "BooleanEquals": lambda a, b: isinstance(a, bool) and a == b,
    "StringEquals": lambda a, b: isinstance(a, str) and a == b,
    "NumericEquals": lambda a, b: _number(a) and a == b,
    "NumericGreaterThan": lambda a, b: _number(a) and a > b,
    "NumericLessThan": lambda a, b: _number(a) and a < b,
    "IsPresent": None,  # handled apart: it looks at presence, not value
}
#: logmr's own event type: a Retry rule matched, the state runs again (module docstring)
RETRY_SCHEDULED = "LogmrRetryScheduled"
#: the events that end an execution: recorded even past the history quota
_ENDINGS = frozenset({"ExecutionSucceeded", "ExecutionFailed"})
#: set in a Distributed Map's iteration threads: what they record belongs to a
#: child execution on AWS, whose events do not count toward this one's quota
_CHILD = threading.local()
#: a Lambda invoke task's resource as the history names it
_LAMBDA = dict(zip(("resourceType", "resource"), LAMBDA_INVOKE.rsplit(":", 2)[1:], strict=True))
_PATH = re.compile(r"^\$\$?((\.[A-Za-z_][A-Za-z0-9_\-]*)|(\[\d+\]))*$")


class UnsupportedDefinitionError(ValueError):
    """The definition uses ASL that this interpreter does not implement."""


class StatesError(Exception):
    """An error as Step Functions names it (``error``) with its ``cause``."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class Execution:
    """An execution's outcome and its history of events (the module docstring
    says their shape): ``events_after`` and ``history`` read it, from any thread."""

    name: str
    status: str = "RUNNING"
    #: tells this run from any other of the same name (on AWS the name is
    #: unique per state machine; a local job id may be run again)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    output: Any = None
    error: str | None = None
    cause: str | None = None
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
        no such event) and a Distributed Map's iterations (child executions
        on AWS, each with its own history)."""
        counts = kind != RETRY_SCHEDULED and not getattr(_CHILD, "active", False)
        with self._lock:
            # the last event allowed is kept for the ending
            if counts and kind not in _ENDINGS and self._counted >= limits.MAX_HISTORY_EVENTS - 1:
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
                event[_details_member(kind)] = details
            self._events.append(event)


def _details_member(kind: str) -> str:
    """The HistoryEvent member that holds the details of an event type: one for
    every ``...StateEntered`` and every ``...StateExited``, else the type's own
    (``MapStateStarted`` -> ``mapStateStartedEventDetails``)."""
    for shared in ("StateEntered", "StateExited"):
        if kind.endswith(shared):
            return f"state{shared[len('State') :]}EventDetails"
    return f"{kind[0].lower()}{kind[1:]}EventDetails"


def _json(value: Any) -> str:
    """Execution data as the history and the payload quota measure it: compact JSON."""
    return json.dumps(value, separators=(",", ":"))


def _data(name: str, value: Any, text: str | None = None) -> dict[str, Any]:
    """Execution data in an event's details: ``name`` (``input`` or ``output``)
    as JSON text (``text``, when known) and its ``...Details``: never truncated,
    as in GetExecutionHistory's answers."""
    return {name: _json(value) if text is None else text, f"{name}Details": {"truncated": False}}


# -- paths ---------------------------------------------------------------------------
def _check_path(path: str, where: str) -> None:
    if not _PATH.match(path):
        raise UnsupportedDefinitionError(f"{where}: path {path!r} is not supported")


def _read(path: str, data: Any, context: dict[str, Any]) -> Any:
    """The value at a reference path (``$``-rooted in data, ``$$``-rooted in the context)."""
    root, rest = (context, path[2:]) if path.startswith("$$") else (data, path[1:])
    value: Any = root
    for name, index in re.findall(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]", rest):
        try:
            value = value[name] if name else value[int(index)]
        except (KeyError, IndexError, TypeError):
            raise StatesError(
                "States.Runtime", f"the path {path!r} could not be found in the input"
            ) from None
    return value


def _write(path: str | None, data: Any, result: Any) -> Any:
    """``data`` with ``result`` placed at ``path`` (ResultPath semantics)."""
    if path is None:
        return data
    if path == "$":
        return result
    names = re.findall(r"\.([A-Za-z_][A-Za-z0-9_\-]*)", path)
    target = copy.deepcopy(data) if isinstance(data, dict) else {}
    node = target
    for name in names[:-1]:
        if not isinstance(node.get(name), dict):
            node[name] = {}
        node = node[name]
    node[names[-1]] = result
    return target


def _template(template: Any, data: Any, context: dict[str, Any]) -> Any:
    """Parameters / ItemSelector / ResultSelector: ``"k.$"`` fields take a path's value."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = _read(value, data, context)
            else:
                out[key] = _template(value, data, context)
        return out
    if isinstance(template, list):
        return [_template(item, data, context) for item in template]
    return template


def _check_size(value: Any, where: str) -> str:
    """``value`` as JSON text, if it is within the payload quota."""
    text = _json(value)
    size = len(text.encode())
    if size > MAX_PAYLOAD_BYTES:
        raise StatesError(
            "States.DataLimitExceeded",
            f"{where} is {size} bytes, more than the {MAX_PAYLOAD_BYTES}-byte quota",
        )
    return text


# -- validation ------------------------------------------------------------------------
def validate(definition: dict[str, Any], where: str = "definition") -> None:
    """Refuse, with the state and field named, anything this interpreter does not run."""
    extra = set(definition) - {"StartAt", "States", "Comment", "ProcessorConfig"}
    if extra:
        raise UnsupportedDefinitionError(f"{where}: unsupported field {sorted(extra)[0]!r}")
    states = definition.get("States")
    if not isinstance(states, dict) or definition.get("StartAt") not in states:
        raise UnsupportedDefinitionError(f"{where}: StartAt must name a state")
    for name, state in states.items():
        kind = state.get("Type")
        here = f"{where}: state {name!r}"
        if kind not in _ALLOWED:
            raise UnsupportedDefinitionError(f"{here}: type {kind!r} is not supported")
        extra = set(state) - _ALLOWED[kind]
        if extra:
            raise UnsupportedDefinitionError(f"{here}: field {sorted(extra)[0]!r} is not supported")
        for target in [state.get("Next"), state.get("Default")] + [
            c.get("Next") for c in state.get("Choices", []) + state.get("Catch", [])
        ]:
            if target is not None and target not in states:
                raise UnsupportedDefinitionError(f"{here}: no state named {target!r}")
        for key in (
            "InputPath",
            "OutputPath",
            "ResultPath",
            "ItemsPath",
            "MaxConcurrencyPath",
            "ErrorPath",
            "CausePath",
        ):
            if isinstance(state.get(key), str):
                _check_path(state[key], f"{here}, {key}")
        if kind == "Task" and state.get("Resource") != LAMBDA_INVOKE:
            raise UnsupportedDefinitionError(
                f"{here}: resource {state.get('Resource')!r} is not supported"
            )
        if kind == "Map":
            processor = state.get("ItemProcessor") or {}
            mode = (processor.get("ProcessorConfig") or {}).get("Mode", "INLINE")
            if mode not in ("INLINE", "DISTRIBUTED"):
                raise UnsupportedDefinitionError(
                    f"{here}: processor mode {mode!r} is not supported"
                )
            reader = state.get("ItemReader")
            if reader is not None and (
                reader.get("Resource") != S3_GET_OBJECT
                or (reader.get("ReaderConfig") or {}).get("InputType") != "JSON"
            ):
                raise UnsupportedDefinitionError(f"{here}: only an S3 JSON ItemReader is supported")
            validate(processor, f"{here} ItemProcessor")
        for choice in state.get("Choices", []):
            operators = set(choice) - {"Variable", "Next"}
            if not operators <= set(_COMPARATORS) or len(operators) != 1:
                raise UnsupportedDefinitionError(
                    f"{here}: choice rule {sorted(choice)} is not supported"
                )


# -- the interpreter -------------------------------------------------------------------------
class Interpreter:
    """Runs executions of one definition."""

    def __init__(
        self,
        definition: dict[str, Any],
        invoke: Invoke,
        *,
        get_object: GetObject | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float], float] = lambda cap: random.uniform(0, cap),
        observer: Callable[[Execution], None] | None = None,
    ) -> None:
        """``observer`` is called with the execution as it runs: after each state
        entered, each Map started and each Map iteration succeeded (from the
        iteration's thread), and at the end."""
        validate(definition)
        self.definition = definition
        self.invoke = invoke
        self.get_object = get_object
        self.sleep = sleep
        self.jitter = jitter
        self.observer = observer
        #: set when a run is interrupted: no iteration left behind retries
        self._stopped = threading.Event()

    def run(self, data: Any, name: str, execution: Execution | None = None) -> Execution:
        """Run the definition on ``data`` as the execution ``name`` (or the
        ``execution`` given, so a caller knows its id before it starts)."""
        execution = execution or Execution(name)
        context = {
            "Execution": {
                "Name": name,
                "Id": execution.arn,
                "Input": data,
                "StartTime": datetime.now(UTC).isoformat(),
            },
        }
        execution.record("ExecutionStarted", _data("input", data))
        try:
            _check_size(data, "the execution input")
            execution.output = self._run_machine(self.definition, data, context, execution)
            execution.status = "SUCCEEDED"
            execution.record("ExecutionSucceeded", _data("output", execution.output))
        except StatesError as exc:
            execution.status, execution.error, execution.cause = "FAILED", exc.error, exc.cause
            execution.record("ExecutionFailed", {"error": exc.error, "cause": exc.cause})
        self._observe(execution)
        return execution

    def _observe(self, execution: Execution) -> None:
        if self.observer is not None:
            self.observer(execution)

    def _run_machine(
        self, machine: dict[str, Any], data: Any, context: dict[str, Any], execution: Execution
    ) -> Any:
        name = machine["StartAt"]
        while True:
            state = machine["States"][name]
            data, following = self._run_state(name, state, data, context, execution)
            if following is None:
                return data
            name = following

    def _run_state(
        self,
        name: str,
        state: dict[str, Any],
        data: Any,
        context: dict[str, Any],
        execution: Execution,
    ) -> tuple[Any, str | None]:
        kind = state["Type"]
        execution.record(f"{kind}StateEntered", {"name": name, **_data("input", data)})
        self._observe(execution)
        context = {**context, "State": {"Name": name}}
        effective = (
            _read(state.get("InputPath", "$"), data, context) if state.get("InputPath", "$") else {}
        )
        if kind == "Fail":
            error = (
                _read(state["ErrorPath"], effective, context)
                if "ErrorPath" in state
                else state.get("Error", "States.Fail")
            )
            cause = (
                _read(state["CausePath"], effective, context)
                if "CausePath" in state
                else state.get("Cause", "")
            )
            raise StatesError(str(error), str(cause))
        if kind == "Choice":
            output = _output(state, effective, context)
            following = self._choose(name, state, effective, context)
            _exited(execution, kind, name, output)
            return output, following
        if kind == "Succeed":
            output = _output(state, effective, context)
            _exited(execution, kind, name, output)
            return output, None
        try:
            if kind == "Pass":
                result = (
                    _template(state["Parameters"], effective, context)
                    if "Parameters" in state
                    else state.get("Result", effective)
                )
            else:
                result = self._with_retry(name, state, effective, context, execution)
            if "ResultSelector" in state:
                result = _template(state["ResultSelector"], result, context)
            output = _output(state, _write(state.get("ResultPath", "$"), data, result), context)
            text = _check_size(output, f"the output of state {name!r}")
        except StatesError as exc:
            catcher = _matching(state.get("Catch", []), exc.error)
            if catcher is None:
                raise
            error_output = {"Error": exc.error, "Cause": exc.cause}
            caught = _write(catcher.get("ResultPath", "$"), data, error_output)
            _exited(execution, kind, name, caught)  # the error is in its output, as on AWS
            return caught, catcher["Next"]
        _exited(execution, kind, name, output, text)
        return output, (None if state.get("End") else state["Next"])

    def _choose(self, name: str, state: dict[str, Any], data: Any, context: dict[str, Any]) -> str:
        for rule in state.get("Choices", []):
            (operator,) = set(rule) - {"Variable", "Next"}
            if operator == "IsPresent":
                try:
                    _read(rule["Variable"], data, context)
                    present = True
                except StatesError:
                    present = False
                if present == rule[operator]:
                    return str(rule["Next"])
                continue
            try:
                value = _read(rule["Variable"], data, context)
            except StatesError:
                continue
            if _COMPARATORS[operator](value, rule[operator]):  # type: ignore[misc]
                return str(rule["Next"])
        if "Default" not in state:
            raise StatesError("States.NoChoiceMatched", f"no choice of {name!r} matched")
        return str(state["Default"])

    def _with_retry(
        self,
        name: str,
        state: dict[str, Any],
        data: Any,
        context: dict[str, Any],
        execution: Execution,
    ) -> Any:
        attempts: dict[int, int] = {}
        while True:
            try:
                if state["Type"] == "Task":
                    return self._task(name, state, data, context, execution)
                return self._map(name, state, data, context, execution)
            except StatesError as exc:
                index, retrier = _matching_index(state.get("Retry", []), exc.error)
                if retrier is None or self._stopped.is_set():
                    raise
                done = attempts.get(index, 0)
                if done >= retrier.get("MaxAttempts", 3):
                    raise
                attempts[index] = done + 1
                interval = (
                    retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** done
                )
                if "MaxDelaySeconds" in retrier:
                    interval = min(interval, retrier["MaxDelaySeconds"])
                if retrier.get("JitterStrategy", "NONE") == "FULL":
                    interval = self.jitter(interval)
                execution.record(
                    RETRY_SCHEDULED,
                    {
                        "name": name,
                        "error": exc.error,
                        "attempt": done + 1,
                        "waitSeconds": interval,
                    },
                )
                self.sleep(interval)

    def _task(
        self,
        name: str,
        state: dict[str, Any],
        data: Any,
        context: dict[str, Any],
        execution: Execution,
    ) -> Any:
        parameters = _template(state.get("Parameters", {}), data, context)
        function = parameters.get("FunctionName")
        payload = parameters.get("Payload", data)
        _check_size(payload, f"the payload of state {name!r}")
        scheduled = {**_LAMBDA, "region": _region(function), "parameters": _json(parameters)}
        if "TimeoutSeconds" in state:
            scheduled["timeoutInSeconds"] = state["TimeoutSeconds"]
        execution.record("TaskScheduled", scheduled)
        execution.record("TaskStarted", dict(_LAMBDA))
        ok, result = self.invoke(str(function), payload)
        if not ok:
            error = (
                result.get("errorType", "Exception") if isinstance(result, dict) else "Exception"
            )
            cause = json.dumps(result)
            execution.record("TaskFailed", {**_LAMBDA, "error": error, "cause": cause})
            raise StatesError(str(error), cause)
        output = {"Payload": result, "StatusCode": 200, "ExecutedVersion": "$LATEST"}
        execution.record("TaskSucceeded", {**_LAMBDA, **_data("output", output)})
        return output

    def _map(
        self,
        name: str,
        state: dict[str, Any],
        data: Any,
        context: dict[str, Any],
        execution: Execution,
    ) -> list[Any]:
        processor = state["ItemProcessor"]
        if "ItemReader" in state:
            items = self._read_items(state["ItemReader"], data, context)
        else:
            items = _read(state.get("ItemsPath", "$"), data, context)
        if not isinstance(items, list):
            raise StatesError("States.Runtime", f"the items of {name!r} are not an array")
        limit = state.get("MaxConcurrency", 0)
        if "MaxConcurrencyPath" in state:
            limit = int(_read(state["MaxConcurrencyPath"], data, context))
        distributed = (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED"
        if not distributed:
            limit = min(limit or _INLINE_MAP_LIMIT, _INLINE_MAP_LIMIT)
        workers = max(1, min(limit or len(items) or 1, len(items) or 1))
        in_child = distributed or getattr(_CHILD, "active", False)
        execution.record("MapStateStarted", {"length": len(items)})
        self._observe(execution)
        results: list[Any] = [None] * len(items)
        stop = threading.Event()

        def iterate(index: int) -> None:
            if stop.is_set():
                return
            _CHILD.active = in_child
            item_context = {**context, "Map": {"Item": {"Index": index, "Value": items[index]}}}
            selected = (
                _template(state["ItemSelector"], data, item_context)
                if "ItemSelector" in state
                else items[index]
            )
            iteration = {"name": name, "index": index}
            execution.record("MapIterationStarted", iteration)
            try:
                results[index] = self._run_machine(processor, selected, item_context, execution)
            except StatesError:
                stop.set()
                execution.record("MapIterationFailed", dict(iteration))
                raise
            execution.record("MapIterationSucceeded", dict(iteration))
            self._observe(execution)

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"map-{name}")
        futures: list[Future[None]] = [pool.submit(iterate, i) for i in range(len(items))]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # interrupted: stop here; the running iterations end, unretried
            stop.set()
            self._stopped.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        with pool:  # the iterations end (or were cancelled) before the state does
            for future in futures:
                if future.done() and future.exception() is not None:
                    stop.set()
                    for other in futures:
                        other.cancel()
                    error = future.exception()
                    execution.record("MapStateFailed")
                    raise (
                        error
                        if isinstance(error, StatesError)
                        else StatesError("States.Runtime", str(error))
                    )
        execution.record("MapStateSucceeded")
        return results

    def _read_items(self, reader: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
        if self.get_object is None:
            raise StatesError("States.Runtime", "this engine has no S3 to read Map items from")
        where = _template(reader.get("Parameters", {}), data, context)
        body = self.get_object(str(where["Bucket"]), str(where["Key"]))
        try:
            return json.loads(body)
        except ValueError as exc:
            raise StatesError("States.ItemReaderFailed", f"the items are not JSON: {exc}") from None


def _exited(
    execution: Execution, kind: str, name: str, output: Any, text: str | None = None
) -> None:
    """Record that state ``name`` exited with ``output`` (``text``: its JSON, when known)."""
    execution.record(f"{kind}StateExited", {"name": name, **_data("output", output, text)})


def _region(function: Any) -> str:
    """The region of a Lambda function ARN (empty for a bare function name)."""
    parts = str(function).split(":")
    return parts[3] if len(parts) > 4 and parts[0] == "arn" else ""


def _output(state: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
    path = state.get("OutputPath", "$")
    return {} if path is None else _read(path, data, context)


def _matches(names: list[str], error: str) -> bool:
    if error in TERMINAL_ERRORS:
        return False
    return (
        "States.ALL" in names
        or error in names
        or ("States.TaskFailed" in names and not error.startswith("States."))
    )


def _matching(rules: list[dict[str, Any]], error: str) -> dict[str, Any] | None:
    return _matching_index(rules, error)[1]


def _matching_index(rules: list[dict[str, Any]], error: str) -> tuple[int, dict[str, Any] | None]:
    for index, rule in enumerate(rules):
        if _matches(rule.get("ErrorEquals", []), error):
            return index, rule
    return -1, None
