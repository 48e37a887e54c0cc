"""An interpreter of the subset of Amazon States Language that logmr's
definition uses, for running it on one machine.

States: Task (``arn:aws:states:::lambda:invoke``), Map (inline, and distributed
with an S3 JSON ItemReader, a ResultWriter to S3 and tolerated failures: a Map
Run of child executions, ``engine.maprun``), Choice, Pass, Succeed, Fail.
Fields: InputPath, Parameters, ItemSelector, ResultSelector, ResultPath,
OutputPath, Retry (IntervalSeconds, MaxAttempts, BackoffRate, MaxDelaySeconds,
JitterStrategy), Catch, MaxConcurrency(Path), ToleratedFailureCount(Path),
ToleratedFailurePercentage(Path), ResultWriter, Error(Path)/Cause(Path).
Paths: ``$``, ``$.a.b``, ``$.a[0]`` (not in a ResultPath) and the context
object (``$$.Execution.Name``, ``$$.Map.Item.Value`` ...). Anything else is
refused with ``UnsupportedDefinitionError`` before the execution starts, never
half-run. A state's input, output and result are held to the 256 KiB quota as
on AWS (``States.DataLimitExceeded``).

Semantics follow the AWS documentation: a Lambda function error is named by its
``errorType``; ``States.ALL`` matches every error but the terminal ones
(``TERMINAL_ERRORS``: no Retry or Catch takes them, the execution fails); a retry waits
``min(IntervalSeconds * BackoffRate ** n, MaxDelaySeconds)`` seconds, a random
fraction of it with ``JitterStrategy: FULL``; an inline Map iteration's failure
fails the Map state with the iteration's error and stops the iterations not yet
started; a Distributed Map fails when its failed children pass its tolerated
failure threshold, with ``States.ExceedToleratedFailureThreshold``.

Errors of the language itself, named as the developer guide names them
("Handling errors in Step Functions workflows", concepts-error-handling.html,
and the States Language specification's "Errors"):

- ``States.NoChoiceMatched``: a Choice state with no rule matching and no
  Default (a Choice has no Catch: it fails the execution, or the Map
  iteration or child execution it runs in, whose Map may catch it);
- ``States.ParameterPathFailure``: a ``"field.$"`` path of a payload template
  (Parameters, ItemSelector, ResultSelector, an ItemReader's or ResultWriter's
  Parameters) that finds nothing; Retry and Catch take it;
- ``States.ResultPathMatchFailure``: a ResultPath that cannot be applied to the
  state's input (a field of something that is not an object); Retry and Catch take it;
- ``States.Runtime``: an InputPath, OutputPath, ItemsPath, MaxConcurrencyPath,
  a threshold's path, an ErrorPath or CausePath, or a Choice rule's Variable
  that finds nothing ("attempting to apply InputPath or OutputPath on a null
  JSON payload" is the guide's example; a Choice rule's Variable that is not
  in the input fails with "Invalid path ... The choice state's condition path
  references an invalid value": test it with IsPresent first). It "will always
  cause the execution to fail": no Retry or Catch takes it.

The history has the shape Step Functions' ``GetExecutionHistory`` returns
through boto3 (``Execution.record``): ``id`` (from 1), ``previousEventId`` (the
event before), ``timestamp`` (a timezone-aware ``datetime``), ``type`` and the
type's ``...EventDetails``, execution data (``input``, ``output``,
``parameters``) as JSON text. A Distributed Map's items are child executions
with histories of their own; the execution's history has its Map Run's
``MapRunStarted`` and ``MapRunSucceeded`` or ``MapRunFailed``.
One event type is logmr's own, AWS has none like it: ``LogmrRetryScheduled``
(``logmrRetryScheduledEventDetails``: the state ``name``, the ``error``
retried, the ``attempt`` and the ``waitSeconds`` before it), where AWS shows a
retry only as a failure followed by the task scheduled again.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

from logmr import limits
from logmr.engine import maprun, paths
from logmr.engine.execution import (
    RETRY_SCHEDULED,
    Execution,
    StatesError,
    UnsupportedDefinitionError,
    execution_data,
    json_text,
)

__all__ = [
    "RETRY_SCHEDULED",
    "TERMINAL_ERRORS",
    "Execution",
    "Interpreter",
    "StatesError",
    "UnsupportedDefinitionError",
    "validate",
]

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
#: the errors of the language itself (the module docstring says which is raised where)
RUNTIME = paths.RUNTIME
NO_CHOICE_MATCHED = "States.NoChoiceMatched"

#: invoke(function_arn, payload) -> (ok, result or error payload as parsed JSON)
Invoke = Callable[[str, Any], tuple[bool, Any]]
#: get_object(bucket, key) -> bytes; raises StatesError (States.ItemReaderFailed)
GetObject = Callable[[str, str], bytes]
#: put_object(bucket, key, body); raises StatesError (States.ResultWriterFailed)
PutObject = maprun.PutObject

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
    }
    | maprun.DISTRIBUTED_FIELDS,
    "Choice": {"Type", "Comment", "InputPath", "OutputPath", "Choices", "Default"},
    "Pass": _COMMON | {"Parameters", "Result", "ResultPath"},
    "Succeed": {"Type", "Comment", "InputPath", "OutputPath"},
    "Fail": {"Type", "Comment", "Error", "Cause", "ErrorPath", "CausePath"},
}
#: the fields that hold a path (a ResultPath is checked apart: no index, no context)
_PATH_FIELDS = (
    "InputPath",
    "OutputPath",
    "ItemsPath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
    "ErrorPath",
    "CausePath",
)
_COMPARATORS = {
    "BooleanEquals": lambda a, b: isinstance(a, bool) and a == b,
    "StringEquals": lambda a, b: isinstance(a, str) and a == b,
    "NumericEquals": lambda a, b: _number(a) and a == b,
    "NumericGreaterThan": lambda a, b: _number(a) and a > b,
    "NumericLessThan": lambda a, b: _number(a) and a < b,
    "IsPresent": None,  # handled apart: it looks at presence, not value
}
#: a Lambda invoke task's resource as the history names it
_LAMBDA = dict(zip(("resourceType", "resource"), LAMBDA_INVOKE.rsplit(":", 2)[1:], strict=True))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_size(value: Any, where: str) -> str:
    """``value`` as JSON text, if it is within the payload quota."""
    text = json_text(value)
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
        _validate_state(state, states, f"{where}: state {name!r}")


def _validate_state(state: dict[str, Any], states: dict[str, Any], here: str) -> None:
    kind = state.get("Type")
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
    for key in _PATH_FIELDS:
        if isinstance(state.get(key), str):
            paths.check_path(state[key], f"{here}, {key}")
    for result_path in [state.get("ResultPath")] + [
        c.get("ResultPath") for c in state.get("Catch", [])
    ]:
        if isinstance(result_path, str) and (
            not paths.PATH.match(result_path) or "[" in result_path or result_path.startswith("$$")
        ):
            raise UnsupportedDefinitionError(
                f"{here}: ResultPath {result_path!r} is not supported (fields only)"
            )
    for key in ("Parameters", "ItemSelector", "ResultSelector"):
        paths.check_template(state.get(key), f"{here}, {key}")
    if kind == "Task" and state.get("Resource") != LAMBDA_INVOKE:
        raise UnsupportedDefinitionError(
            f"{here}: resource {state.get('Resource')!r} is not supported"
        )
    if kind == "Map":
        _validate_map(state, here)
    for choice in state.get("Choices", []):
        operators = set(choice) - {"Variable", "Next"}
        if not operators <= set(_COMPARATORS) or len(operators) != 1:
            raise UnsupportedDefinitionError(
                f"{here}: choice rule {sorted(choice)} is not supported"
            )
        paths.check_path(str(choice.get("Variable")), f"{here}, Variable")


def _validate_map(state: dict[str, Any], here: str) -> None:
    processor = state.get("ItemProcessor") or {}
    mode = _mode(processor)
    if mode not in ("INLINE", "DISTRIBUTED"):
        raise UnsupportedDefinitionError(f"{here}: processor mode {mode!r} is not supported")
    reader = state.get("ItemReader")
    if reader is not None and (
        reader.get("Resource") != S3_GET_OBJECT
        or (reader.get("ReaderConfig") or {}).get("InputType") != "JSON"
    ):
        raise UnsupportedDefinitionError(f"{here}: only an S3 JSON ItemReader is supported")
    wrong = maprun.check_definition(state, mode == "DISTRIBUTED")
    if wrong is not None:
        raise UnsupportedDefinitionError(f"{here}: {wrong}")
    for part in ("ItemReader", "ResultWriter"):
        paths.check_template((state.get(part) or {}).get("Parameters"), f"{here}, {part}")
    validate(processor, f"{here} ItemProcessor")


def _mode(processor: dict[str, Any]) -> str:
    return str((processor.get("ProcessorConfig") or {}).get("Mode", "INLINE"))


# -- the interpreter -------------------------------------------------------------------------
class Interpreter:
    """Runs executions of one definition."""

    def __init__(
        self,
        definition: dict[str, Any],
        invoke: Invoke,
        *,
        get_object: GetObject | None = None,
        put_object: PutObject | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float], float] = lambda cap: random.uniform(0, cap),
        observer: Callable[[Execution], None] | None = None,
    ) -> None:
        """``get_object`` serves a Distributed Map's ItemReader and
        ``put_object`` its ResultWriter (the engine's object store).
        ``observer`` is called with the execution as it runs: after each state
        entered, each Map started and each inline Map iteration or Map Run
        child execution ended (from its thread, one at a time for a Map Run),
        and at the end; never with a child execution."""
        validate(definition)
        self.definition = definition
        self.invoke = invoke
        self.get_object = get_object
        self.put_object = put_object
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
        self._execute(self.definition, data, context, execution, "the execution input")
        self._observe(execution)
        return execution

    def _execute(
        self,
        machine: dict[str, Any],
        data: Any,
        context: dict[str, Any],
        execution: Execution,
        what: str,
    ) -> None:
        """Run ``machine`` as ``execution``, from its start event to its end."""
        execution.record("ExecutionStarted", execution_data("input", data))
        try:
            _check_size(data, what)
            execution.output = self._run_machine(machine, data, context, execution)
            execution.status = "SUCCEEDED"
            execution.record("ExecutionSucceeded", execution_data("output", execution.output))
        except StatesError as exc:
            execution.status, execution.error, execution.cause = "FAILED", exc.error, exc.cause
            execution.record("ExecutionFailed", {"error": exc.error, "cause": exc.cause})

    def _observe(self, execution: Execution) -> None:
        if self.observer is not None and execution.parent is None:
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
        execution.record(f"{kind}StateEntered", {"name": name, **execution_data("input", data)})
        self._observe(execution)
        context = {**context, "State": {"Name": name}}
        effective = (
            paths.read(state.get("InputPath", "$"), data, context)
            if state.get("InputPath", "$")
            else {}
        )
        if kind == "Fail":
            error = (
                paths.read(state["ErrorPath"], effective, context)
                if "ErrorPath" in state
                else state.get("Error", "States.Fail")
            )
            cause = (
                paths.read(state["CausePath"], effective, context)
                if "CausePath" in state
                else state.get("Cause", "")
            )
            raise StatesError(str(error), str(cause))
        if kind == "Choice":
            following = self._choose(name, state, effective, context)
            output = _output(state, effective, context)
            _exited(execution, kind, name, output)
            return output, following
        if kind == "Succeed":
            output = _output(state, effective, context)
            _exited(execution, kind, name, output)
            return output, None
        try:
            if kind == "Pass":
                result = (
                    paths.fill(state["Parameters"], effective, context)
                    if "Parameters" in state
                    else state.get("Result", effective)
                )
            else:
                result = self._with_retry(name, state, effective, context, execution)
                # the quota holds for a task's or a Map's result, whatever its
                # ResultPath keeps of it: "returned a result with a size
                # exceeding the maximum number of bytes service limit"
                _check_size(result, f"the result of state {name!r}")
            if "ResultSelector" in state:
                result = paths.fill(state["ResultSelector"], result, context)
            output = _output(
                state, paths.write(state.get("ResultPath", "$"), data, result), context
            )
            text = _check_size(output, f"the output of state {name!r}")
        except StatesError as exc:
            catcher = _matching(state.get("Catch", []), exc.error)
            if catcher is None:
                raise
            error_output = {"Error": exc.error, "Cause": exc.cause}
            caught = paths.write(catcher.get("ResultPath", "$"), data, error_output)
            _exited(execution, kind, name, caught)  # the error is in its output, as on AWS
            return caught, catcher["Next"]
        _exited(execution, kind, name, output, text)
        return output, (None if state.get("End") else state["Next"])

    def _choose(self, name: str, state: dict[str, Any], data: Any, context: dict[str, Any]) -> str:
        for rule in state.get("Choices", []):
            (operator,) = set(rule) - {"Variable", "Next"}
            variable = rule["Variable"]
            try:
                value = paths.read(variable, data, context)
                present = True
            except StatesError:
                present = False
            if operator == "IsPresent":
                if present == rule[operator]:
                    return str(rule["Next"])
                continue
            if not present:
                raise StatesError(
                    RUNTIME,
                    f"Invalid path '{variable}': The choice state's condition path"
                    " references an invalid value.",
                )
            if _COMPARATORS[operator](value, rule[operator]):  # type: ignore[misc]
                return str(rule["Next"])
        if "Default" not in state:
            raise StatesError(NO_CHOICE_MATCHED, f"no choice rule of state {name!r} matched")
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
        parameters = paths.fill(state.get("Parameters", {}), data, context)
        function = parameters.get("FunctionName")
        payload = parameters.get("Payload", data)
        _check_size(payload, f"the payload of state {name!r}")
        scheduled = {**_LAMBDA, "region": _region(function), "parameters": json_text(parameters)}
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
        execution.record("TaskSucceeded", {**_LAMBDA, **execution_data("output", output)})
        return output

    # -- Map -----------------------------------------------------------------------------
    def _map(
        self,
        name: str,
        state: dict[str, Any],
        data: Any,
        context: dict[str, Any],
        execution: Execution,
    ) -> Any:
        limit = state.get("MaxConcurrency", 0)
        if "MaxConcurrencyPath" in state:
            limit = int(paths.read(state["MaxConcurrencyPath"], data, context))
        if _mode(state["ItemProcessor"]) == "DISTRIBUTED":
            return self._map_run(name, state, data, context, execution, limit=limit)
        processor = state["ItemProcessor"]
        items = self._items(name, state, data, context)
        limit = min(limit or _INLINE_MAP_LIMIT, _INLINE_MAP_LIMIT)
        execution.record("MapStateStarted", {"length": len(items)})
        self._observe(execution)
        results: list[Any] = [None] * len(items)
        stop = threading.Event()

        def iterate(index: int) -> None:
            if stop.is_set():
                return
            item_context, selected = _item_input(state, data, context, items, index)
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

        error = self._pool(name, len(items), limit, iterate, stop)
        if error is not None:
            execution.record("MapStateFailed")
            raise error
        execution.record("MapStateSucceeded")
        return results

    def _map_run(
        self,
        name: str,
        state: dict[str, Any],
        data: Any,
        context: dict[str, Any],
        execution: Execution,
        *,
        limit: int,
    ) -> Any:
        """A Distributed Map: a Map Run of child executions (``engine.maprun``
        says how, and what AWS documents of it)."""
        reader = "ItemReader" in state
        items = None if reader else self._items(name, state, data, context)
        # a length Step Functions knows only once the ItemReader has read the items
        execution.record("MapStateStarted", {"length": 0 if items is None else len(items)})
        self._observe(execution)
        tolerance = maprun.Tolerance.of(state, lambda path: paths.read(path, data, context))
        writer = (
            paths.fill(state["ResultWriter"]["Parameters"], data, context)
            if "ResultWriter" in state
            else None
        )
        run = maprun.MapRun(execution, name, limit, tolerance)
        execution.map_runs[run.arn] = run
        execution.record("MapRunStarted", {"mapRunArn": run.arn})
        details: dict[str, str] | None = None
        try:
            if items is None:
                items = self._items(name, state, data, context)
            run.begin(items)
            self._observe(execution)
            self._children(run, name, state, data, context, limit=limit)
            if writer is not None:
                details = self._write_results(run, writer)
            if run.exceeded:
                raise StatesError(maprun.TOLERATED_FAILURE_ERROR, maprun.TOLERATED_FAILURE_CAUSE)
        except StatesError as exc:
            run.end("FAILED")
            execution.record("MapRunFailed", {"error": exc.error, "cause": exc.cause})
            execution.record("MapStateFailed")
            raise
        run.end("SUCCEEDED")
        execution.record("MapRunSucceeded")
        execution.record("MapStateSucceeded")
        if details is not None:
            return {"MapRunArn": run.arn, "ResultWriterDetails": details}
        return run.outputs()

    def _children(
        self,
        run: maprun.MapRun,
        name: str,
        state: dict[str, Any],
        data: Any,
        context: dict[str, Any],
        *,
        limit: int,
    ) -> None:
        """Each item as a child execution, ``limit`` at a time (0: all at
        once), until they end or the failures pass the run's threshold."""
        processor, parent, items = state["ItemProcessor"], run.execution, run.items
        stop = threading.Event()

        def child(index: int) -> None:
            if stop.is_set():
                return  # stays PENDING
            _, selected = _item_input(state, data, context, items, index)
            execution = Execution(str(uuid.uuid4()), parent=parent)
            run.start(index, execution, selected)
            # a child execution's context is its own: it is an execution of its own
            own = {
                "Execution": {
                    "Name": execution.name,
                    "Id": execution.arn,
                    "Input": selected,
                    "StartTime": datetime.now(UTC).isoformat(),
                }
            }
            self._execute(processor, selected, own, execution, "the input of a child execution")
            with run.progress:
                if run.ended(execution):
                    stop.set()
                self._observe(parent)

        error = self._pool(name, len(items), limit, child, stop)
        if error is not None:
            raise error

    def _pool(
        self,
        name: str,
        count: int,
        limit: int,
        work: Callable[[int], None],
        stop: threading.Event,
    ) -> StatesError | None:
        """``work(0)`` ... ``work(count - 1)`` on ``limit`` threads (0: one
        each); when one raises, ``stop`` is set, the ones not started are
        cancelled and the running ones end: its error (any other exception
        as ``States.Runtime``), else None."""
        workers = max(1, min(limit or count or 1, count or 1))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"map-{name}")
        futures: list[Future[None]] = [pool.submit(work, i) for i in range(count)]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # interrupted: stop here; the running works end, unretried
            stop.set()
            self._stopped.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        with pool:  # the works end (or are cancelled) before the state does
            for future in futures:
                if future.done() and future.exception() is not None:
                    stop.set()
                    for other in futures:
                        other.cancel()
                    error = future.exception()
                    return (
                        error
                        if isinstance(error, StatesError)
                        else StatesError(RUNTIME, str(error))
                    )
        return None

    def _items(
        self, name: str, state: dict[str, Any], data: Any, context: dict[str, Any]
    ) -> list[Any]:
        """A Map's items: from its ItemReader, else at its ItemsPath."""
        if "ItemReader" in state:
            items = self._read_items(state["ItemReader"], data, context)
        else:
            items = paths.read(state.get("ItemsPath", "$"), data, context)
        if not isinstance(items, list):
            raise StatesError(RUNTIME, f"the items of {name!r} are not an array")
        return items

    def _read_items(self, reader: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
        if self.get_object is None:
            raise StatesError(
                maprun.ITEM_READER_FAILED, "this engine has no S3 to read Map items from"
            )
        where = paths.fill(reader.get("Parameters", {}), data, context)
        body = self.get_object(str(where["Bucket"]), str(where["Key"]))
        try:
            return json.loads(body)
        except ValueError as exc:
            raise StatesError(maprun.ITEM_READER_FAILED, f"the items are not JSON: {exc}") from None

    def _write_results(self, run: maprun.MapRun, writer: dict[str, Any]) -> dict[str, str]:
        if self.put_object is None:
            raise StatesError(
                maprun.RESULT_WRITER_FAILED, "this engine has no S3 to write a Map Run's results to"
            )
        return run.write_results(self.put_object, str(writer["Bucket"]), str(writer["Prefix"]))


def _item_input(
    state: dict[str, Any], data: Any, context: dict[str, Any], items: list[Any], index: int
) -> tuple[dict[str, Any], Any]:
    """Item ``index`` of a Map state: the context with ``$$.Map.Item``, and
    the iteration's input (its ``ItemSelector`` filled, else the item)."""
    item_context = {**context, "Map": {"Item": {"Index": index, "Value": items[index]}}}
    if "ItemSelector" in state:
        return item_context, paths.fill(state["ItemSelector"], data, item_context)
    return item_context, items[index]


def _exited(
    execution: Execution, kind: str, name: str, output: Any, text: str | None = None
) -> None:
    """Record that state ``name`` exited with ``output`` (``text``: its JSON, when known)."""
    execution.record(f"{kind}StateExited", {"name": name, **execution_data("output", output, text)})


def _region(function: Any) -> str:
    """The region of a Lambda function ARN (empty for a bare function name)."""
    parts = str(function).split(":")
    return parts[3] if len(parts) > 4 and parts[0] == "arn" else ""


def _output(state: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
    path = state.get("OutputPath", "$")
    return {} if path is None else paths.read(path, data, context)


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
