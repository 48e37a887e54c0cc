"""Where the local engines send Lambda invocations: logmr's handlers, in
worker processes (real parallelism on every core) or in the calling thread.

A test-only ``hook`` may raise before an invocation to inject a fault; it is
given the function name, the event and the attempt number (the count of
invocations with the same function and event, so retries are numbered).
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from logmr.engine import worker

#: called with (function name, event, attempt number); may raise to inject a fault
Hook = Callable[[str, dict[str, Any], int], None]
#: called after a successful invocation with (function name, result)
Observer = Callable[[str, Any], None]
#: in-process invocations run one at a time in a process, as in one Lambda
#: container, whichever dispatcher (job) makes them: the handlers' Powertools
#: logger, metrics and tracer are per-process singletons
_IN_PROCESS = threading.Lock()


class WorkerPool:
    """Spawn-based worker processes with the handlers imported: owned by one
    dispatcher, or shared by the dispatchers of concurrent jobs (``run_local``'s
    ``pool``) so that starting workers (interpreter, Powertools imports) is paid
    once rather than per job."""

    def __init__(
        self, workers: int, handlers: list[str], *, env: dict[str, str], log_dir: str | None
    ) -> None:
        self.workers = workers
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker.initialize,
            initargs=(env, log_dir, sorted(set(handlers))),
        )
        # start every worker now, not on the first task
        self._starting = [self._executor.submit(worker.ready) for _ in range(workers)]

    def wait_ready(self) -> None:
        """Block until the workers have started (imported the handlers)."""
        for future in self._starting:
            future.result()

    def run(self, handler: str, name: str, event: Any) -> tuple[bool, str]:
        return self._executor.submit(worker.invoke, handler, name, event).result()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
        pool: WorkerPool | None = None,
    ) -> None:
        self.handlers = handlers  # function name -> handler path
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
        attempt = self._count(name, event)
        if self.hook is not None:
            try:
                self.hook(name, event, attempt)
            except Exception as exc:
                return False, worker.error_payload(exc)
        if self._pool is None:
            with _IN_PROCESS:
                ok, payload = worker.invoke(handler, name, event)
        else:
            ok, payload = self._pool.run(handler, name, event)
        if ok and self.observer is not None:
            self.observer(name, json.loads(payload))
        return ok, payload

    def _count(self, name: str, event: dict[str, Any]) -> int:
        key = name + json.dumps(event, sort_keys=True)
        with self._lock:
            self.attempts[key] = self.attempts.get(key, 0) + 1
            return self.attempts[key]
