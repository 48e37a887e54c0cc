"""The embedded default behind ``logmr run``: the state machine definition run
by ``logmr.engine.interpreter``, every Lambda invocation dispatched to logmr's
handlers in worker processes, job data in a local folder and SQLite.

Placeholders are filled from ``logmr.workflow.names`` as the CDK stack fills them, with
local function ARNs and a bucket name (``LOCAL_BUCKET``) that the engine serves
from the local object store: the Distributed Map's ItemReader reads the plan's
item list from the same folder the Plan handler wrote it to, and its
ResultWriter writes the Map Run's results there.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from logmr import config
from logmr.config import Settings
from logmr.engine.dispatcher import Dispatcher, Hook, WorkerPool
from logmr.engine.history import LocalStepFunctions
from logmr.engine.interpreter import Execution, Interpreter, StatesError
from logmr.engine.maprun import ITEM_READER_FAILED, RESULT_WRITER_FAILED
from logmr.errors import LocalStoreError, LogmrError, error_name
from logmr.run.embedded import embedded_backends, logs_folder
from logmr.run.request import validate
from logmr.run.runner import failed_record, quiet
from logmr.run.watch import ExecutionWatcher, Progress
from logmr.storage.base import JobRecord
from logmr.tasks import mark_failed, reconcile
from logmr.workflow import names
from logmr.workflow.names import ABORTED_CAUSE, ABORTED_ERROR

LOCAL_BUCKET = "logmr-local"
LOCAL_ARN = "arn:aws:lambda:local:000000000000:function:{}"


def definition() -> dict[str, Any]:
    """The ASL file with the local engine's values for its placeholders."""
    values = {names.BUCKET_PLACEHOLDER: LOCAL_BUCKET}
    for logical in names.FUNCTIONS:
        values[names.function_placeholder(logical)] = LOCAL_ARN.format(logical)
    loaded: dict[str, Any] = json.loads(
        names.substitute(names.state_machine_path().read_text(), values)
    )
    return loaded


def handler_env(settings: Settings) -> dict[str, str]:
    """The environment the handlers see on one machine (a map and a reduce
    task's memory too, when the settings give them)."""
    env = {
        config.ENV_STORAGE: "local",
        config.ENV_HOME: str(settings.home),
        config.ENV_SERVICE_NAME: names.SERVICE,
        config.ENV_TRACE_DISABLED: "true",
        **config.NUMERIC_LIBRARY_ENV,
    }
    if settings.map_memory_mb:
        env[config.ENV_MAP_MEMORY_MB] = str(settings.map_memory_mb)
    if settings.reduce_memory_mb:
        env[config.ENV_REDUCE_MEMORY_MB] = str(settings.reduce_memory_mb)
    return env


class _Watching:
    """The interpreter's observer: the execution watcher of ``logmr.run.watch``,
    the one the deployed stack's progress comes from, polled over the
    execution's history (``LocalStepFunctions``), one poll at a time (Map
    iterations call it from their threads)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self._lock = threading.Lock()
        self._watcher: ExecutionWatcher | None = None

    def __call__(self, execution: Execution) -> None:
        with self._lock:
            if self._watcher is None:
                history = LocalStepFunctions(execution)
                self._watcher = ExecutionWatcher(history, execution.arn, self.progress)
            self._watcher.poll()


def worker_pool(settings: Settings, workers: int | None = None) -> WorkerPool:
    """Worker processes for ``run_engine(pool=...)`` calls with the same
    ``settings``, kept across jobs: close it (or use ``with``) when done."""
    return WorkerPool(
        settings.workers if workers is None else workers,
        list(names.FUNCTIONS.values()),
        env=handler_env(settings),
        log_dir=str(logs_folder(settings)),
    )


class _SharedPools:
    """The worker pools of the ``run_engine`` calls running at once in this
    process: calls with the same home and worker count share one pool (started
    by the first, closed when the last ends), so ten concurrent jobs start two
    workers rather than twenty."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[tuple[str, int, int | None, int | None], tuple[WorkerPool, int]] = {}

    @contextlib.contextmanager
    def borrow(self, settings: Settings, workers: int) -> Iterator[WorkerPool]:
        key = (str(settings.home), workers, settings.map_memory_mb, settings.reduce_memory_mb)
        with self._lock:
            pool, users = self._pools.get(key) or (worker_pool(settings, workers), 0)
            self._pools[key] = (pool, users + 1)
        stopped = False
        try:
            yield pool
        except KeyboardInterrupt:  # stopped: the workers' tasks are not waited for
            stopped = True
            raise
        finally:
            with self._lock:
                pool, users = self._pools[key]
                if users == 1:
                    del self._pools[key]
                else:
                    self._pools[key] = (pool, users - 1)
            if users == 1:
                pool.close(stop=stopped)


_SHARED_POOLS = _SharedPools()


def run_engine(
    request: dict[str, Any],
    *,
    settings: Settings,
    workers: int | None = None,
    progress: Progress = quiet,
    hook: Hook | None = None,
    sleep: Callable[[float], None] = time.sleep,
    pool: WorkerPool | None = None,
    timeouts: Mapping[str, float] | None = None,
    execution: Execution | None = None,
) -> Execution:
    """Run one job request through the state machine on this machine; the
    execution is named by the request's ``job_id`` (or is ``execution``). Handlers run in ``pool``
    (from ``worker_pool`` with the same settings: kept by the caller across
    jobs), else in ``workers`` worker processes shared with the other
    ``run_engine`` calls running in this process, else (``workers=0``) in the
    calling thread. ``timeouts`` (logical function name -> seconds) emulates
    Lambda's timeouts; none by default."""
    count = settings.workers if workers is None else workers
    with contextlib.ExitStack() as stack:
        if pool is None and count > 0:
            pool = stack.enter_context(_SHARED_POOLS.borrow(settings, count))
        return _run(
            request,
            settings,
            pool,
            progress=progress,
            hook=hook,
            sleep=sleep,
            timeouts=timeouts,
            execution=execution,
        )


def _run(
    request: dict[str, Any],
    settings: Settings,
    pool: WorkerPool | None,
    *,
    progress: Progress,
    hook: Hook | None,
    sleep: Callable[[float], None],
    timeouts: Mapping[str, float] | None,
    execution: Execution | None,
) -> Execution:
    objects = embedded_backends(settings).objects

    def get_object(bucket: str, key: str) -> bytes:
        if bucket != LOCAL_BUCKET:
            raise StatesError(ITEM_READER_FAILED, f"no bucket {bucket!r} on this machine")
        try:
            return objects.get(key)
        except LogmrError as exc:  # the store names what went wrong
            raise StatesError(ITEM_READER_FAILED, f"{error_name(exc)}: {exc}") from exc

    def put_object(bucket: str, key: str, body: bytes) -> None:
        if bucket != LOCAL_BUCKET:
            raise StatesError(RESULT_WRITER_FAILED, f"no bucket {bucket!r} on this machine")
        try:
            objects.put(key, body)
        except LogmrError as exc:  # a full disk, say
            raise StatesError(RESULT_WRITER_FAILED, f"{error_name(exc)}: {exc}") from exc

    dispatcher = Dispatcher(
        {LOCAL_ARN.format(logical): handler for logical, handler in names.FUNCTIONS.items()},
        workers=0,
        hook=hook,
        pool=pool,
        timeouts=timeouts,
    )

    def invoke(function: str, payload: Any) -> tuple[bool, Any]:
        ok, body = dispatcher.invoke(function, json.dumps(payload))
        return ok, json.loads(body)

    try:
        interpreter = Interpreter(
            definition(),
            invoke,
            get_object=get_object,
            put_object=put_object,
            sleep=sleep,
            observer=_Watching(progress),
        )
        ran = interpreter.run(request, name=str(request["job_id"]), execution=execution)
    finally:
        dispatcher.close()
    if ran.status != "SUCCEEDED":  # what the deployed stack's reconciler rule does
        backends = embedded_backends(settings)
        error, cause = str(ran.error), str(ran.cause or "")
        with contextlib.suppress(LocalStoreError):  # a full disk: failed_record says so
            reconcile(str(request["job_id"]), ran.arn, error, cause, backends)
    return ran


class EngineRunner:
    """The state machine definition on the local engine (``run_engine``), job
    data in ``settings.home``: the runner of ``logmr run``. The keyword
    arguments are ``run_engine``'s (a pool kept across jobs, fault hooks,
    emulated timeouts)."""

    def __init__(self, settings: Settings, **engine: Any) -> None:
        self.settings = settings
        self.engine = engine

    def run(self, request: dict[str, Any], progress: Progress | None = None) -> JobRecord:
        spec = validate(request)
        execution = Execution(spec.job_id)
        backends = embedded_backends(self.settings)
        try:
            run_engine(
                {**request, "job_id": spec.job_id},
                settings=self.settings,
                progress=progress or quiet,
                execution=execution,
                **self.engine,
            )
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (the CLI raises it): the job ends here
            record = spec.to_dict()
            arn = execution.arn
            with contextlib.suppress(LocalStoreError):  # a full disk: stopped all the same
                mark_failed(
                    spec.job_id, ABORTED_ERROR, ABORTED_CAUSE, backends, record, execution=arn
                )
            raise
        if execution.status != "SUCCEEDED":
            error, cause = str(execution.error), str(execution.cause or "")
            return failed_record(backends, spec, error, cause, execution=execution.arn)
        return backends.results.get_job(spec.job_id)
