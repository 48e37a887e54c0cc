"""logmr.tasks.summaries: task summaries bound to their job, task and attempt,
and sealed with a digest; the digest of the attempts a reducer read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from logmr.errors import CorruptJobDataError
from logmr.storage.folder import FolderObjectStore
from logmr.tasks.summaries import (
    attempts_digest,
    get_summary,
    new_attempt,
    put_summary,
)

pytestmark = pytest.mark.unit

SUMMARY = {
    "job_id": "j-1",
    "task": 4,
    "attempt": "0123456789abcdef",
    "counters": {"lines": 10, "records": 9, "malformed": 1},
    "samples": [{"line": "ü \\x00 bad", "origin": "/a.log@0"}],
    "seconds": 0.125,
    "keys": ["200", "404"],
}


@pytest.fixture
def store(tmp_path: Path) -> FolderObjectStore:
    return FolderObjectStore(tmp_path)


def read(store: FolderObjectStore, key: str = "m.json", **expected: Any) -> dict[str, Any]:
    bound = {"job_id": "j-1", "field": "task", "number": 4, **expected}
    return get_summary(store, key, **bound)


def test_a_summary_round_trips_and_stays_one_json_object(store: FolderObjectStore) -> None:
    put_summary(store, "m.json", SUMMARY)
    got = read(store)
    assert {k: v for k, v in got.items() if k != "digest"} == SUMMARY
    assert list(got)[-1] == "digest" and len(got["digest"]) == 32
    assert json.loads(store.get("m.json")) == got  # any JSON reader reads it as it is


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        ({"number": 5}, "m.json: the summary of job 'j-1' task 4, not of job 'j-1' task 5:"
         " another task's summary in its place"),
        ({"job_id": "j-2"}, "m.json: the summary of job 'j-1' task 4, not of job 'j-2' task 4"),
        ({"field": "partition"}, "m.json: the summary of job 'j-1' partition None, not of job 'j-1'"
         " partition 4"),
    ],
)  # fmt: skip
def test_a_summary_of_another_task_or_job_is_refused(
    store: FolderObjectStore, expected: dict[str, Any], message: str
) -> None:
    put_summary(store, "m.json", SUMMARY)
    with pytest.raises(CorruptJobDataError) as refused:
        read(store, **expected)
    assert str(refused.value).startswith(message)


def test_every_edited_byte_and_every_cut_is_refused(store: FolderObjectStore) -> None:
    put_summary(store, "m.json", SUMMARY)
    data = store.get("m.json")
    for position in range(len(data)):
        for flip in (0x01, 0x20):
            store.put(
                "x.json", data[:position] + bytes([data[position] ^ flip]) + data[position + 1 :]
            )
            with pytest.raises(CorruptJobDataError, match=r"x\.json: "):
                read(store, "x.json")
    for end in range(len(data)):
        store.put("x.json", data[:end])
        with pytest.raises(CorruptJobDataError, match=r"x\.json: not a summary a task wrote \(no"):
            read(store, "x.json")


def test_an_edit_that_keeps_the_json_valid_is_named(store: FolderObjectStore) -> None:
    put_summary(store, "m.json", SUMMARY)
    text = store.get("m.json").replace(b'"records":9', b'"records":8')
    store.put("m.json", text)
    with pytest.raises(CorruptJobDataError) as refused:
        read(store)
    assert str(refused.value) == "m.json: its digest does not match its content (edited)"
    unsealed = json.dumps({**SUMMARY}).encode()  # what an earlier version wrote: no digest
    store.put("m.json", unsealed)
    with pytest.raises(CorruptJobDataError, match=r"no digest at its end: cut short or rewritten"):
        read(store)


def test_attempts_are_random_and_their_digest_is_ordered() -> None:
    attempts = [new_attempt() for _ in range(100)]
    assert len(set(attempts)) == 100
    assert all(len(a) == 16 and int(a, 16) >= 0 for a in attempts)
    assert attempts_digest(attempts) == attempts_digest(list(attempts))
    assert attempts_digest(attempts) != attempts_digest(attempts[::-1])
    assert attempts_digest(attempts) != attempts_digest([*attempts[:-1], new_attempt()])
