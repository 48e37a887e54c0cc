"""What a function's worker process runs first: its environment replaced by
the function's as deployed, as a Lambda sandbox starts with its own and
nothing of the caller's (imported in the worker: keep it light)."""

from __future__ import annotations

import os

from logmr.engine import worker


def start(env: dict[str, str], log_dir: str) -> None:
    """A worker's initializer: exactly ``env`` as the environment, the
    handler's output to a log file in ``log_dir`` (``worker.initialize``).
    The handler module is imported on the first invocation, so that a wrong
    handler in the template is that invocation's error, as on Lambda."""
    os.environ.clear()
    os.environ.update(env)
    worker.initialize({}, log_dir, [])
