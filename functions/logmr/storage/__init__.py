"""Storage behind two small interfaces: an object store (job data: plan,
shuffle, task summaries, quarantine, part files) and a result store (results
and job records). Local folder and SQLite here; S3 and DynamoDB beside them."""

from logmr.storage.base import JobRecord, ObjectStore, ResultStore

__all__ = ["JobRecord", "ObjectStore", "ResultStore"]
