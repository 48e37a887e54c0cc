"""Where the local engines send Lambda invocations: logmr's handlers, in
worker processes (real parallelism on every core) or in the calling thread.

A test-only ``hook`` may raise before an invocation to inject a fault; it is
given the function name, the event and the attempt number (the count of
invocations with the same function and event, so retries are numbered).

``timeouts`` (function name -> seconds, e.g. from ``workflow.names.FUNCTION_SIZES``)
emulates Lambda's timeout: an invocation that takes longer (the hook's time
included, so a test can inject a slow task) fails with ``Sandbox.Timedout``,
the error Step Functions reports for a timed-out function. Lambda kills the
sandbox; here the result of an over-long invocation is dropped (a worker
process cannot be stopped mid-task), which the idempotent writes make safe.
None: no limit, the default for runs on this machine.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from logmr.engine import worker
from logmr.errors import TransientError
from logmr.workflow.names import THROTTLED_ERROR, TIMEOUT_ERROR

#: called with (function name, event, attempt number); may raise to inject a fault
Hook = Callable[[str, dict[str, Any], int], None]
#: called after a successful invocation with (function name, result)
Observer = Callable[[str, Any], None]
#: how long a waiting invocation waits at a time before it checks that its
#: pool can still complete it (``WorkerPool.run``)
ALIVE_CHECK_S = 1.0
#: how long a pool stopped at once waits for its executor's manager thread to
#: end (``WorkerPool.close``)
MANAGER_JOIN_S = 10.0
#: in-process invocations run one at a time in a process, as in one Lambda
#: container, whichever dispatcher (job) makes them: the handlers' Powertools
#: logger, metrics and tracer are per-process singletons
_IN_PROCESS = threading.Lock()


class WorkerPool:
    """Spawn-based worker processes with the handlers imported: owned by one
    dispatcher, or shared by the dispatchers of concurrent jobs (``run_engine``'s
    ``pool``) so that starting workers (interpreter, Powertools imports) is paid
    once rather than per job.

    A worker that dies during an invocation (killed, out of memory) breaks
    the process pool: every invocation it was running then fails with
    ``TransientError``, which the state machine's Retry retries, as it
    retries Lambda's service errors, and the pool is replaced by a new one
    for what follows.

    No invocation waits forever on a pool that cannot complete it: a waiting
    invocation checks every ``ALIVE_CHECK_S`` that its pool is alive
    (``_alive``), and a pool that is not (its manager thread gone, a worker
    process dead that the executor did not see die) is broken like one whose
    worker died in view. CPython 3.11's executor can lose work so: a dead
    worker's sentinel is only watched from the manager's next wake-up (a
    process spawned on demand while it waits, then dying at start-up, goes
    unseen), and a ``submit`` racing the manager's ``terminate_broken`` (which
    marks the pool broken and fails the pending work without the executor's
    lock) can add work after the pending work was failed, to a pool whose
    manager has left."""

    def __init__(
        self, workers: int, handlers: list[str], *, env: dict[str, str], log_dir: str | None
    ) -> None:
        self.workers = workers
        if log_dir:  # the log files of earlier pools, bounded (config.WORKER_LOGS_KEPT)
            worker.prune_logs(log_dir)
        self._initargs = (env, log_dir, sorted(set(handlers)))
        self._lock = threading.Lock()
        self._closed = False
        self._executor = self._start()
        #: pools replaced after a worker died
        self.replaced = 0

    def _start(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker.initialize,
            initargs=self._initargs,
        )
        # start every worker now, not on the first task
        self._starting = [executor.submit(worker.ready) for _ in range(self.workers)]
        return executor

    def wait_ready(self) -> None:
        """Block until the workers have started (imported the handlers)."""
        for future in self._starting:
            future.result()

    def pids(self) -> list[int]:
        """The ids of the worker processes that have started (``wait_ready``)."""
        return [
            future.result()
            for future in self._starting
            if future.done() and not future.cancelled() and future.exception() is None
        ]

    def run(
        self, handler: str, name: str, event: Any, timeout: float | None = None
    ) -> tuple[bool, str]:
        """The invocation's (ok, payload); ``FutureTimeout`` after ``timeout`` seconds."""
        if self._closed:  # stopped: nothing more runs
            return False, worker.error_payload(TransientError("the worker pool was closed"))
        executor = self._executor
        try:
            future = executor.submit(worker.invoke, handler, name, event)
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                left = ALIVE_CHECK_S if deadline is None else deadline - time.monotonic()
                try:
                    result: tuple[bool, str] = future.result(max(min(left, ALIVE_CHECK_S), 0))
                    return result
                except FutureTimeout:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise
                    if not future.done() and not _alive(executor):
                        raise BrokenProcessPool("the pool can no longer run it") from None
        except (BrokenProcessPool, RuntimeError) as exc:  # RuntimeError: submit after shutdown
            if not self._closed:
                self._replace(executor)
            return False, worker.error_payload(
                TransientError(f"the worker process running {name} died ({exc}); retry")
            )

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A new pool in place of ``broken`` (once, whichever invocation sees
        it first); what is left of its workers killed."""
        with self._lock:
            if self._executor is not broken:
                return
            _kill_workers(broken)
            broken.shutdown(wait=False, cancel_futures=True)
            self._executor = self._start()
            self.replaced += 1

    def close(self, stop: bool = False) -> None:
        """Shut the workers down once their tasks end; ``stop``: kill them now."""
        self._closed = True
        if stop:
            _kill_workers(self._executor)
        self._executor.shutdown(wait=not stop, cancel_futures=True)
        if stop:
            _join_manager(self._executor)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kill_workers(executor: ProcessPoolExecutor) -> None:
    """Kill every worker process ``executor`` started (``pids`` may miss one)."""
    kill = getattr(executor, "kill_workers", None)  # Python 3.14
    if kill is not None:
        with contextlib.suppress(RuntimeError):  # already shut down
            kill()
        return
    processes = getattr(executor, "_processes", None) or {}
    for process in list(processes.values()):
        with contextlib.suppress(ProcessLookupError, ValueError):
            process.kill()


def _join_manager(executor: ProcessPoolExecutor) -> None:
    """Wait (``MANAGER_JOIN_S`` at most) for the manager thread of an executor
    whose workers were killed to end. It closes its wake-up pipe as it ends;
    on CPython 3.11 the interpreter's exit hook, which writes to that pipe
    unlocked, could otherwise write to it as it closes: "Exception ignored
    ... Bad file descriptor" after a SIGTERM (3.12 takes a lock there)."""
    manager = getattr(executor, "_executor_manager_thread", None)
    if manager is not None and manager is not threading.current_thread():
        manager.join(MANAGER_JOIN_S)


def _alive(executor: ProcessPoolExecutor) -> bool:
    """Whether ``executor`` can still complete the work submitted to it: not
    broken, its manager thread running, and every worker process it started
    alive (a process starting up is alive). The executor fails its pending
    work when it sees a worker die; one it did not see (``WorkerPool``) leaves
    the work pending for ever. Private attributes of CPython's executor
    (3.11 to 3.14); one missing counts as alive."""
    if getattr(executor, "_broken", False):
        return False
    manager = getattr(executor, "_executor_manager_thread", None)
    if manager is not None and not manager.is_alive():
        return False
    if not hasattr(executor, "_processes"):
        return True
    processes = executor._processes  # None once shut down
    return bool(processes) and all(process.is_alive() for process in list(processes.values()))


class Dispatcher:
    """Runs invocations of registered functions in worker processes (``workers``
    > 0, or a shared ``pool``, which the dispatcher then does not close) or in
    the calling thread (``workers == 0``)."""

    def __init__(
        self,
        handlers: dict[str, str],
        *,
        workers: int,
        env: dict[str, str] | None = None,
        log_dir: str | None = None,
        hook: Hook | None = None,
        observer: Observer | None = None,
        timeouts: Mapping[str, float] | None = None,
        pool: WorkerPool | None = None,
        concurrency: Mapping[str, int] | None = None,
    ) -> None:
        self.handlers = handlers  # function name -> handler path
        self.timeouts = dict(timeouts or {})
        #: function name -> invocations it runs at once, past which Lambda
        #: throttles (its reserved concurrency); none: no limit
        self.concurrency = dict(concurrency or {})
        self._running: dict[str, int] = {}
        self.hook = hook
        self.observer = observer
        self.attempts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._pool = pool
        self._owns_pool = False
        if pool is None and workers > 0:
            self._pool = WorkerPool(
                workers, list(handlers.values()), env=env or {}, log_dir=log_dir
            )
            self._owns_pool = True

    def close(self) -> None:
        if self._pool is not None and self._owns_pool:
            self._pool.close()

    def invoke(self, function_name: str, body: bytes | str | None) -> tuple[bool, str]:
        handler = self.handlers.get(function_name) or self.handlers.get(
            function_name.rsplit(":", 1)[-1]
        )
        name = function_name.rsplit(":", 1)[-1]
        if handler is None:
            return False, json.dumps(
                {"errorType": "ResourceNotFoundException", "errorMessage": function_name}
            )
        event = json.loads(body) if body else {}
        if not self._start(name):
            return False, json.dumps(
                {"errorType": THROTTLED_ERROR, "errorMessage": "Rate Exceeded."}
            )
        try:
            return self._invoke(handler, name, event)
        finally:
            with self._lock:
                self._running[name] -= 1

    def _start(self, name: str) -> bool:
        """Count an invocation of ``name`` as running, unless the function
        already runs as many as its concurrency allows (Lambda throttles it)."""
        with self._lock:
            running = self._running.get(name, 0)
            if running >= self.concurrency.get(name, running + 1):
                return False
            self._running[name] = running + 1
            return True

    def _invoke(self, handler: str, name: str, event: dict[str, Any]) -> tuple[bool, str]:
        attempt = self._count(name, event)
        limit = self.timeouts.get(name)
        started = time.monotonic()
        if self.hook is not None:
            try:
                self.hook(name, event, attempt)
            except Exception as exc:
                return False, worker.error_payload(exc)
        spent = time.monotonic() - started
        if limit is not None and spent > limit:
            return False, timed_out(limit)
        if self._pool is None:
            started = time.monotonic()
            ok, payload = invoke_here(handler, name, event)
            spent += time.monotonic() - started
            if limit is not None and spent > limit:
                return False, timed_out(limit)
        else:
            try:
                ok, payload = self._pool.run(
                    handler, name, event, None if limit is None else limit - spent
                )
            except FutureTimeout:
                return False, timed_out(limit or 0.0)
        if ok and self.observer is not None:
            self.observer(name, json.loads(payload))
        return ok, payload

    def _count(self, name: str, event: dict[str, Any]) -> int:
        key = name + json.dumps(event, sort_keys=True)
        with self._lock:
            self.attempts[key] = self.attempts.get(key, 0) + 1
            return self.attempts[key]


def invoke_here(handler: str, name: str, event: Any) -> tuple[bool, str]:
    """One invocation in this process, one at a time whoever makes it (as in
    one Lambda container: the handlers' Powertools objects are per process)."""
    with _IN_PROCESS:
        return worker.invoke(handler, name, event)


def timed_out(limit: float) -> str:
    """The error payload of an invocation that outlived its timeout."""
    return json.dumps(
        {"errorType": TIMEOUT_ERROR, "errorMessage": f"Task timed out after {limit:.2f} seconds"}
    )
