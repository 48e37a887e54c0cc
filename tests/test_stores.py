"""The local object store (a folder) and the SQLite result store."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from helpers import assert_job_claims_are_exclusive
from logmr.errors import (
    CorruptShuffleError,
    InputNotFoundError,
    InvalidParameterError,
    JobNotFoundError,
)
from logmr.mapreduce import shuffle
from logmr.storage.base import JobRecord
from logmr.storage.folder import FolderObjectStore
from logmr.storage.sqlite import SqliteResultStore

pytestmark = pytest.mark.unit


def test_object_store_round_trip_ranges_and_listing(tmp_path: Path) -> None:
    store = FolderObjectStore(tmp_path / "objects")
    store.put("jobs/a/x.bin", b"0123456789")
    store.put("jobs/a/sub/y.json", b"{}")
    store.put("jobs/b/z", b"")
    assert store.get("jobs/a/x.bin") == b"0123456789"
    assert store.get_range("jobs/a/x.bin", 2, 5) == b"234"
    assert store.get_range("jobs/a/x.bin", 8, 50) == b"89"
    assert store.list_keys("jobs/a/") == ["jobs/a/sub/y.json", "jobs/a/x.bin"]
    assert store.list_keys("jobs/") == ["jobs/a/sub/y.json", "jobs/a/x.bin", "jobs/b/z"]
    assert store.size("jobs/a/x.bin") == 10
    with store.open("jobs/a/x.bin") as file:  # ranged reads as a seekable file
        assert file.read(3) == b"012"
        file.seek(-2, io.SEEK_END)
        assert file.read() == b"89"
        assert file.seek(4) == 4 and file.read(100) == b"456789" and file.read() == b""
    store.put("jobs/a/x.bin", b"new")  # overwrite, as a retried task does
    assert store.get("jobs/a/x.bin") == b"new"
    store.delete(["jobs/a/x.bin", "jobs/never"])
    with pytest.raises(InputNotFoundError):
        store.get("jobs/a/x.bin")
    with pytest.raises(InputNotFoundError):
        store.size("jobs/a/x.bin")
    with pytest.raises(InvalidParameterError, match="leaves the store"):
        store.put("../outside", b"x")


def test_read_buckets_uses_the_index(tmp_path: Path) -> None:
    store = FolderObjectStore(tmp_path)
    store.put("s.bin", shuffle.encode([[("a", 1)], [("b", 2), ("c", 3)], [], [("d", 4)]]))
    assert store.read_buckets("s.bin", range(1, 2), 4) == ([("b", 2), ("c", 3)], 0)
    assert store.read_buckets("s.bin", range(1, 4), 4) == ([("b", 2), ("c", 3), ("d", 4)], 0)
    assert store.read_buckets("s.bin", range(2, 3), 4) == ([], 0)
    assert store.read_buckets("s.bin", range(4), 4)[0] == [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
    with pytest.raises(CorruptShuffleError, match="has 4 buckets, the job has 5"):
        store.read_buckets("s.bin", range(1), 5)
    held = shuffle.Segments(4)
    held.add(1, shuffle.encode_block([("b", 5)]))
    store.put("spilled.bin", held.take(spills=2))
    assert store.read_buckets("spilled.bin", range(1, 2), 4) == ([("b", 5)], 2)


def test_results_upsert_top_and_order(tmp_path: Path) -> None:
    store = SqliteResultStore(tmp_path / "r.sqlite")
    store.put_results("j", [("b", 5), ("a", 5), ("c", {"count": 9, "bytes": 1}), ("d", 1)])
    store.put_results("j", [("d", 1)])  # a repeated write keeps one row
    store.put_results("other", [("zz", 100)])
    assert store.top("j", 3) == [("c", {"count": 9, "bytes": 1}), ("a", 5), ("b", 5)]
    assert list(store.iter_results("j")) == [
        ("a", 5),
        ("b", 5),
        ("c", {"count": 9, "bytes": 1}),
        ("d", 1),
    ]
    plan = store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT key, value FROM results WHERE job_id = ? "
        "ORDER BY sort_value DESC, key LIMIT 3",
        ("j",),
    ).fetchall()
    assert "results_by_value" in str(plan)  # top-N is an indexed query, not a sort of everything


def test_job_records(tmp_path: Path) -> None:
    store = SqliteResultStore(tmp_path / "r.sqlite")
    with pytest.raises(JobNotFoundError):
        store.get_job("j")
    store.put_job(JobRecord(job_id="j", job="status_codes", counters={"lines": 3}))
    record = store.get_job("j")
    record.status = "SUCCEEDED"
    store.put_job(record)
    assert store.get_job("j").status == "SUCCEEDED"
    assert store.get_job("j").counters == {"lines": 3}


def test_a_job_id_is_claimed_once_and_written_only_by_its_execution(tmp_path: Path) -> None:
    assert_job_claims_are_exclusive(SqliteResultStore(tmp_path / "r.sqlite"))
