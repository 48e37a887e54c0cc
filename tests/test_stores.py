"""The local object store (a folder) and the SQLite result store."""

from __future__ import annotations

import errno
import io
import os
import sqlite3
from pathlib import Path

import pytest

from helpers import assert_job_claims_are_exclusive
from logmr.engine.worker import LogFile
from logmr.errors import (
    CorruptShuffleError,
    InputNotFoundError,
    InvalidParameterError,
    JobNotFoundError,
    LocalStoreError,
    StorageFullError,
)
from logmr.mapreduce import shuffle
from logmr.storage import folder
from logmr.storage.base import JobRecord
from logmr.storage.disk import disk_error
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


def test_a_store_under_a_relative_folder_lists_its_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``logmr query ... --home h``: the store's folder given relative to the
    working folder still lists its keys (they were compared with resolved paths)."""
    monkeypatch.chdir(tmp_path)
    store = FolderObjectStore(Path("home") / "objects")
    store.put("jobs/a/results/part-00001.parquet", b"x")
    assert store.list_keys("jobs/a/results/") == ["jobs/a/results/part-00001.parquet"]


def test_read_buckets_uses_the_index(tmp_path: Path) -> None:
    store = FolderObjectStore(tmp_path)
    bound = shuffle.Binding("j-1", 2, "00112233aabbccdd")
    parts = [[("a", 1)], [("b", 2), ("c", 3)], [], [("d", 4)]]
    store.put("s.bin", shuffle.encode(parts, bound))

    def read(group: range, buckets: int = 4) -> tuple[str, list[tuple[str, object]], int]:
        return tuple(store.read_buckets("s.bin", group, buckets, job_id="j-1", task=2))

    assert read(range(1, 2)) == ("00112233aabbccdd", [("b", 2), ("c", 3)], 0)
    assert read(range(1, 4))[1] == [("b", 2), ("c", 3), ("d", 4)]
    assert read(range(2, 3)) == ("00112233aabbccdd", [], 0)
    assert read(range(4))[1] == [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
    with pytest.raises(CorruptShuffleError, match="has 4 buckets, the job has 5"):
        read(range(1), 5)
    with pytest.raises(
        CorruptShuffleError, match=r"s\.bin: the shuffle object of job 'j-1' map task 2"
    ):
        store.read_buckets("s.bin", range(1), 4, job_id="j-1", task=1)
    held = shuffle.Segments(4)
    held.add(1, shuffle.encode_block([("b", 5)]))
    store.put("spilled.bin", held.take(bound, spills=2))
    found = store.read_buckets("spilled.bin", range(1, 2), 4, job_id="j-1", task=2)
    assert (found.pairs, found.spills) == ([("b", 5)], 2)


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


# -- a full or read-only disk ------------------------------------------------------------------
FREE = (
    "the disk under LOGMR_HOME is full: free space there, or give another folder with --home"
    " or LOGMR_HOME, and run the job again"
)


@pytest.mark.parametrize(
    ("code", "error", "message"),
    [
        (errno.ENOSPC, StorageFullError, f"No space left on device: {FREE}"),
        (errno.EDQUOT, StorageFullError, f"Disk quota exceeded: {FREE}"),
        (errno.EROFS, LocalStoreError, "Read-only file system: give a writable folder with"
         " --home or LOGMR_HOME"),
    ],
)  # fmt: skip
def test_a_full_or_read_only_disk_is_a_named_error_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, error: type, message: str
) -> None:
    store = FolderObjectStore(tmp_path)

    def cut_short(path: Path, data: bytes) -> None:
        path.write_bytes(data[:3])
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(folder, "_write", cut_short)
    with pytest.raises(error) as refused:
        store.put("jobs/a/x.bin", b"0123456789")
    assert type(refused.value) is error
    assert str(refused.value) == f"{(tmp_path / 'jobs/a/x.bin').resolve()}: {message}"
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []  # the partial file removed


def test_other_write_errors_pass_as_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(path: Path, data: bytes) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(folder, "_write", denied)
    with pytest.raises(PermissionError):
        FolderObjectStore(tmp_path).put("x", b"1")


def _sqlite_error(code: int, message: str) -> sqlite3.Error:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(
    ("code", "expected", "message"),
    [
        (sqlite3.SQLITE_FULL, StorageFullError, f"database or disk is full: {FREE}"),
        (sqlite3.SQLITE_READONLY, LocalStoreError, "attempt to write a readonly database: give"),
        (sqlite3.SQLITE_BUSY, None, ""),
    ],
)
def test_sqlites_full_and_read_only_are_named(
    code: int, expected: type | None, message: str
) -> None:
    error = _sqlite_error(code, message.split(":", maxsplit=1)[0] or "database is locked")
    named = disk_error(error, "/home/me/logmr.sqlite")
    if expected is None:
        assert named is None
    else:
        assert type(named) is expected
        assert str(named).startswith(f"/home/me/logmr.sqlite: {message}")


def test_sqlite_store_writes_on_a_full_disk_are_storage_full(tmp_path: Path) -> None:
    """A database that may not grow (``max_page_count``): SQLite's own SQLITE_FULL,
    from every write the store makes, and the transaction rolled back."""
    store = SqliteResultStore(tmp_path / "logmr.sqlite")
    store.put_job(JobRecord(job_id="j", job="word_count", execution="e"))
    store.conn.execute(
        f"PRAGMA max_page_count = {store.conn.execute('PRAGMA page_count').fetchone()[0]}"
    )
    rows = [(f"key-{n}", n, float(n)) for n in range(5_000)]
    with pytest.raises(
        StorageFullError, match=r"logmr\.sqlite: database or disk is full: the disk"
    ):
        store.write_results("j", rows)
    assert not store.conn.in_transaction
    assert store.top("j", 1) == []  # nothing half-written
    store.write_results("j", rows[:1])  # a write that fits still does
    assert store.top("j", 1) == [("key-0", 0)]


def test_a_worker_log_drops_what_a_full_disk_refuses() -> None:
    class Full(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    log = LogFile(Full())
    assert log.write("a line\n") == len("a line\n")
    log.flush()
    print("a metrics line", file=log)  # type: ignore[arg-type]
    assert log.dropped == 4

    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.EBADF, "Bad file descriptor")

    with pytest.raises(OSError, match="Bad file descriptor"):
        LogFile(Broken()).write("x")
