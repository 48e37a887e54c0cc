"""SQLite as the result store: results and job records in one file.

Several worker processes (and threads) write at once: each thread opens its
own connection (WAL journal, a busy timeout) when it first needs one. Top-N is
an indexed query. A full or read-only disk is a named error
(``storage.disk``: ``StorageFullError``, ``LocalStoreError``).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from logmr.errors import LocalStoreError
from logmr.storage.base import JobRecord, ResultStore
from logmr.storage.disk import disk_error, writing

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    job_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    sort_value REAL NOT NULL,
    PRIMARY KEY (job_id, key)
);
CREATE INDEX IF NOT EXISTS results_by_value ON results (job_id, sort_value DESC, key);
"""


class SqliteResultStore(ResultStore):
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()

    @property
    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with writing(self.path):
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(SCHEMA)
            except sqlite3.DatabaseError as exc:
                conn.close()
                full = disk_error(exc, self.path)
                if full is not None:
                    raise full from None
                raise LocalStoreError(
                    f"{self.path}: {exc}: the results database is damaged; move it"
                    " away (a new one is made) or give another --home"
                ) from None
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self._local = threading.local()

    def put_job(self, record: JobRecord) -> None:
        with writing(self.path):
            self.conn.execute(
                "INSERT OR REPLACE INTO jobs (job_id, status, record) VALUES (?, ?, ?)",
                (record.job_id, record.status, json.dumps(record.to_dict())),
            )

    def claim_job(self, record: JobRecord) -> JobRecord | None:
        conn = self.conn
        with writing(self.path):
            inserted = conn.execute(
                "INSERT OR IGNORE INTO jobs (job_id, status, record) VALUES (?, ?, ?)",
                (record.job_id, record.status, json.dumps(record.to_dict())),
            ).rowcount
        return None if inserted else self.load_job(record.job_id)

    def update_job(self, record: JobRecord) -> bool:
        conn = self.conn
        with writing(self.path), _transaction(conn):  # the check and the write, one step
            stored = self.load_job(record.job_id)
            mine = stored is not None and stored.execution == record.execution
            if mine:
                self.put_job(record)
        return mine

    def load_job(self, job_id: str) -> JobRecord | None:
        row = self.conn.execute("SELECT record FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else JobRecord.from_dict(json.loads(row[0]))

    def list_jobs(self, limit: int = 20) -> list[JobRecord]:
        rows = self.conn.execute(
            "SELECT record FROM jobs ORDER BY json_extract(record, '$.created_at') DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [JobRecord.from_dict(json.loads(row[0])) for row in rows]

    def job_ids_starting(self, prefix: str, limit: int) -> list[str]:
        """At most ``limit`` job ids that start with ``prefix``, sorted."""
        rows = self.conn.execute(
            "SELECT job_id FROM jobs WHERE substr(job_id, 1, ?) = ? ORDER BY job_id LIMIT ?",
            (len(prefix), prefix, limit),
        ).fetchall()
        return [row[0] for row in rows]

    def job_ids_created_before(self, moment: str) -> list[str]:
        """The ids of the jobs created before ``moment`` (an ISO 8601 time in
        UTC, as ``created_at`` is written), oldest first."""
        rows = self.conn.execute(
            "SELECT job_id FROM jobs WHERE json_extract(record, '$.created_at') != ''"
            " AND json_extract(record, '$.created_at') < ?"
            " ORDER BY json_extract(record, '$.created_at')",
            (moment,),
        ).fetchall()
        return [row[0] for row in rows]

    def delete_job(self, job_id: str) -> bool:
        """The job's record and results removed, in one transaction; whether it had a record."""
        conn = self.conn
        with writing(self.path), _transaction(conn):
            conn.execute("DELETE FROM results WHERE job_id = ?", (job_id,))
            return conn.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,)).rowcount > 0

    def write_results(self, job_id: str, rows: list[tuple[str, Any, float]]) -> None:
        conn = self.conn
        with writing(self.path), _transaction(conn):
            conn.executemany(
                "INSERT OR REPLACE INTO results (job_id, key, value, sort_value)"
                " VALUES (?, ?, ?, ?)",
                [(job_id, key, json.dumps(value), sort) for key, value, sort in rows],
            )

    def top(self, job_id: str, n: int) -> list[tuple[str, Any]]:
        rows = self.conn.execute(
            "SELECT key, value FROM results WHERE job_id = ? ORDER BY sort_value DESC, key LIMIT ?",
            (job_id, n),
        ).fetchall()
        return [(key, json.loads(value)) for key, value in rows]

    def iter_results(self, job_id: str) -> Iterator[tuple[str, Any]]:
        cursor = self.conn.execute(
            "SELECT key, value FROM results WHERE job_id = ? ORDER BY key", (job_id,)
        )
        for key, value in cursor:
            yield key, json.loads(value)

    def delete_results(self, job_id: str) -> None:
        with writing(self.path):
            self.conn.execute("DELETE FROM results WHERE job_id = ?", (job_id,))


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction (``BEGIN IMMEDIATE``), committed, or rolled back on
    any error: unless SQLite rolled it back itself (it may, on a full disk),
    so that the error raised is the one that happened."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
