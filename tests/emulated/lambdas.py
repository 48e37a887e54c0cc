"""The Lambda functions of the emulated deployment: moto's Lambda invocations
(the state machine's tasks, over moto's HTTP API) run the function's handler
in a worker process of that function alone, whose environment is the
function's as deployed, read from moto's Lambda at the first invocation: the
template's ``Environment.Variables`` as CloudFormation resolved them, plus
what Lambda's runtime sets (region, function name, credentials) and the two
things the emulation adds (``AWS_ENDPOINT_URL``: moto's server stands for
AWS; X-Ray off: no daemon here). Nothing of the test process leaks
in, so a variable the template misnames or misroutes fails the job. The
handler is the template's ``Handler``; its timeout is the template's
``Timeout``.

The hook into moto is ``moto_engine.invoking``'s (``LambdaSimpleBackend.invoke``,
checked by its ``check_contract``).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulated import runtime
from logmr.engine import worker
from logmr.engine.dispatcher import timed_out
from moto_engine import invoking, result_writer_on_input

#: what Lambda's runtime would give the emulated functions' AWS SDK
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass(frozen=True)
class Invocation:
    """One invocation as it ran: the function's name, its handler, the outcome."""

    function: str
    handler: str
    ok: bool
    payload: str


class Functions:
    """Runs moto's Lambda invocations (``dispatching``) in one worker process
    per function (``workers`` each), started on the function's first
    invocation; ``invocations`` records each one."""

    def __init__(self, endpoint: str, region: str, log_dir: Path, workers: int = 1) -> None:
        self.endpoint = endpoint
        self.region = region
        self.log_dir = log_dir
        self.workers = workers
        self.invocations: list[Invocation] = []
        self._pools: dict[str, ProcessPoolExecutor] = {}
        self._lock = threading.Lock()

    def environment(self, function: Any) -> dict[str, str]:
        """The worker's environment: the deployed function's variables, then
        Lambda's own (which a function may not set), then the emulation's."""
        return {
            **{name: str(value) for name, value in function.environment_vars.items()},
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "_HANDLER": function.handler,
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }

    def _pool(self, function: Any) -> ProcessPoolExecutor:
        with self._lock:
            pool = self._pools.get(function.function_name)
            if pool is None:
                pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=runtime.start,
                    initargs=(self.environment(function), str(self.log_dir)),
                )
                self._pools[function.function_name] = pool
            return pool

    def invoke(self, backend: Any, function_name: str, body: Any) -> tuple[bool, str]:
        """One invocation of the function moto's ``backend`` holds by that
        name or ARN: (ok, the payload Lambda would return)."""
        function = backend.get_function(function_name)
        event = json.loads(body) if body else {}
        future = self._pool(function).submit(
            worker.invoke, function.handler, function.function_name, event
        )
        try:
            ok, payload = future.result(timeout=function.timeout)
        except FutureTimeout:
            ok, payload = False, timed_out(function.timeout)
        self.invocations.append(Invocation(function.function_name, function.handler, ok, payload))
        return ok, payload

    @contextlib.contextmanager
    def dispatching(self) -> Iterator[Functions]:
        """moto's Lambda invocations run here for the duration (and moto
        reads a ResultWriter's paths as AWS does: ``result_writer_on_input``);
        the workers stop at the end."""
        try:
            with invoking(self.invoke), result_writer_on_input():
                yield self
        finally:
            self.close()

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
