"""Small helpers the tests share: run a job locally and get its results."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from logmr.config import Settings
from logmr.devtools.generate import generate
from logmr.run.embedded import embedded_backends
from logmr.run.inline import InlineRunner
from logmr.run.request import build_request
from logmr.storage.base import JobRecord

_ids = itertools.count(1)


def run_inline(
    paths: list[Path] | Path,
    job: str,
    *,
    params: dict[str, Any] | None = None,
    fmt: str = "auto",
    format_options: dict[str, str] | None = None,
    reducers: int = 3,
    chunk_size: int = 64 * 1024,
    workers: int = 1,
    home: Path | None = None,
    salted_keys: list[str] | None = None,
) -> tuple[JobRecord, dict[str, Any]]:
    """Run ``job`` with the inline runner; the job record and all results. A
    failing job raises its task's exception."""
    backends = embedded_backends(Settings.load(home=home))
    request = build_request(
        [str(p) for p in (paths if isinstance(paths, list) else [paths])],
        job,
        job_id=f"t{next(_ids)}-{job.replace(':', '-').replace('.', '-')}"[:80],
        params=params,
        fmt=fmt,
        format_options=format_options,
        reducers=reducers,
        chunk_size=chunk_size,
        salted_keys=salted_keys,
    )
    record = InlineRunner(backends, workers=workers, raise_errors=True).run(request)
    return record, dict(backends.job_results().iter_results(record.job_id))


def generated_logs(folder: Path, lines: int, seed: int) -> dict[str, Path]:
    """An Apache combined log ("access") and a level log ("app") in ``folder``."""
    paths = {"access": folder / "access.log", "app": folder / "app.log"}
    for kind, fmt in (("access", "apache_combined"), ("app", "applog")):
        with paths[kind].open("wb") as out:
            generate(out, fmt=fmt, lines=lines, seed=seed)
    return paths
