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


def no_long_line(head: bytes, length: int) -> None:
    """``on_long_line`` for a reader over data with no line near
    ``inputs.lines.MAX_LINE_BYTES``: one there is the test's own mistake."""
    raise AssertionError(f"a line of {length:,} bytes, over the reader's longest: {head[:40]!r}")


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
    since: str | None = None,
    until: str | None = None,
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
        since=since,
        until=until,
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


def assert_job_claims_are_exclusive(store: Any, racers: int = 12) -> None:
    """``claim_job`` and ``update_job`` of a result store: an id is claimed
    once (the claim is one atomic step, raced here by ``racers`` threads, each
    with its own execution); only the claiming execution updates the record."""
    import threading

    barrier = threading.Barrier(racers)
    outcomes: dict[int, Any] = {}

    def claim(number: int) -> None:
        record = JobRecord(job_id="raced", job="status_codes", execution=f"run-{number}")
        barrier.wait()
        outcomes[number] = store.claim_job(record)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [number for number, found in outcomes.items() if found is None]
    assert len(winners) == 1, outcomes
    owner = f"run-{winners[0]}"
    # every loser was shown the winner's record
    assert {found.execution for found in outcomes.values() if found is not None} == {owner}
    stored = store.get_job("raced")
    assert (stored.status, stored.execution) == ("RUNNING", owner)

    stolen = JobRecord(job_id="raced", job="top_paths", status="FAILED", execution="intruder")
    assert store.update_job(stolen) is False
    assert store.get_job("raced") == stored
    assert store.update_job(JobRecord(job_id="unclaimed", job="x", execution="intruder")) is False
    assert store.load_job("unclaimed") is None

    stored.status = "SUCCEEDED"
    assert store.update_job(stored) is True
    assert store.get_job("raced").status == "SUCCEEDED"
