"""Task summaries bound to their job, task and attempt, and sealed.

A map task's summary (``layout.map_summary_key``) and a reducer's
(``layout.reduce_summary_key``) name the job id, the task (``task``: the map
task's number; ``partition``: the reducer's) and the attempt that wrote them
(``new_attempt``: 64 random bits, made by the task itself, so every
retry and every duplicate invocation has its own), and end with a digest of
everything before it (BLAKE2b, 128 bits, over the JSON as written). A reader
names the job and task it expects: a summary of another job or task in the
place of this one (a copy, however valid), one whose bytes were edited or cut
short, or one without a digest is ``CorruptJobDataError`` naming the object.
The file stays one JSON object (the digest is its last member), so tools read
it as they did.

What a reducer read is in its summary too: ``map_attempts``, a digest of the
attempt of every map task's shuffle object it read, in task order
(``attempts_digest``). Finalize computes the same digest from the map
summaries whose counters it adds up, and a reducer that read another attempt's
object (a slow earlier attempt of a map task that overwrote the object after
its retry wrote object and summary) fails the job with ``CorruptJobDataError``:
one attempt's counters are never added to another attempt's pairs. It costs no
request: the attempts travel in the shuffle headers the reducers read anyway
and in the summaries Finalize reads anyway.

The digest stands against accidents (a damaged or hand-edited file, a copy
in the wrong place), not against someone who recomputes it: jobs in one
stack trust each other (docs/security.md, "Known looseness").
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator, Sequence
from typing import Any

from logmr import layout
from logmr.errors import CorruptJobDataError
from logmr.mapreduce.shuffle import ATTEMPT_BYTES
from logmr.storage.base import ObjectStore
from logmr.tasks.common import read_each

#: hex digits of a digest (BLAKE2b of 16 bytes)
DIGEST_HEX = 32
_SEAL_HEAD = b',"digest":"'
_SEAL_TAIL = b'"}'
_SEAL = len(_SEAL_HEAD) + DIGEST_HEX + len(_SEAL_TAIL)


def new_attempt() -> str:
    """A task attempt's id: 64 random bits as hex, so that no two attempts of
    a task (retried, duplicated, or of a job id used again) share one."""
    return secrets.token_hex(ATTEMPT_BYTES)


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=DIGEST_HEX // 2).hexdigest()


def attempts_digest(attempts: Sequence[str]) -> str:
    """One digest of the attempt of each map task's output, in task order."""
    return _digest("\n".join(attempts).encode())


def put_summary(objects: ObjectStore, key: str, summary: dict[str, Any]) -> None:
    """Write ``summary`` (holding ``job_id``, its task field and ``attempt``)
    with its digest as its last member."""
    body = json.dumps(summary, separators=(",", ":")).encode()
    digest = _digest(body).encode()
    objects.put(key, b"".join([body[:-1], _SEAL_HEAD, digest, _SEAL_TAIL]))


def get_summary(
    objects: ObjectStore, key: str, *, job_id: str, field: str, number: int
) -> dict[str, Any]:
    """The summary at ``key``, checked: sealed, intact, and bound to
    ``job_id`` with ``field`` (``task`` or ``partition``) equal to ``number``."""
    data = objects.get(key)
    name = objects.location(key)
    head = len(data) - _SEAL
    if (
        head < 1
        or data[head : head + len(_SEAL_HEAD)] != _SEAL_HEAD
        or not data.endswith(_SEAL_TAIL)
    ):
        raise CorruptJobDataError(
            f"{name}: not a summary a task wrote (no digest at its end: cut short or"
            f" rewritten; {len(data)} bytes)"
        )
    digest = data[head + len(_SEAL_HEAD) : -len(_SEAL_TAIL)].decode("ascii", "replace")
    if _digest(data[:head] + b"}") != digest:
        raise CorruptJobDataError(f"{name}: its digest does not match its content (edited)")
    try:
        summary = json.loads(data)
    except ValueError as exc:  # sealed, yet not JSON: written by no task of this code
        raise CorruptJobDataError(f"{name}: not the JSON a task wrote ({exc})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("attempt"), str):
        raise CorruptJobDataError(f"{name}: not a summary a task wrote (no attempt)")
    if (summary.get("job_id"), summary.get(field)) != (job_id, number):
        raise CorruptJobDataError(
            f"{name}: the summary of job {summary.get('job_id')!r} {field} {summary.get(field)},"
            f" not of job {job_id!r} {field} {number}: another task's summary in its place"
        )
    return summary


def map_summaries(objects: ObjectStore, job_id: str, count: int) -> Iterator[dict[str, Any]]:
    """The ``count`` map summaries of ``job_id``, checked, in task order, as
    they are read (``read_each``: a few held at once, however many)."""
    return read_each(
        lambda task: get_summary(
            objects, layout.map_summary_key(job_id, task), job_id=job_id, field="task", number=task
        ),
        range(count),
    )


def reduce_summaries(objects: ObjectStore, job_id: str, count: int) -> Iterator[dict[str, Any]]:
    """The ``count`` reduce summaries of ``job_id``, checked, in partition
    order, as they are read (``read_each``)."""
    return read_each(
        lambda partition: get_summary(
            objects,
            layout.reduce_summary_key(job_id, partition),
            job_id=job_id,
            field="partition",
            number=partition,
        ),
        range(count),
    )
