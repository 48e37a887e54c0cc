"""DynamoDB as the result store: results and job records in two tables.

The tables are defined in ``logmr.aws.tables``. This module implements only
the I/O of ``ResultStore`` with the low-level client (``batch_write_item``,
``query``, ``get_item``, ``put_item``); values and job records are JSON text,
so floats survive exactly and no Decimal conversion is needed.

A result key DynamoDB cannot take as a sort key (empty, or longer than its
1,024 UTF-8 bytes) is stored under its SHA-256 (``stored_key``) with the key in
the item, so every key a job produces is stored, as on SQLite. Limits checked
before anything is written, each a clear permanent error
(``InvalidParameterError``) rather than a silent truncation or an opaque
ValidationException halfway through a job: an item over DynamoDB's 400 KB, a
sort value that is NaN.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from logmr import limits
from logmr.aws.clients import Clients, UsesClient
from logmr.aws.errors import error_code, translate
from logmr.aws.tables import BY_VALUE_INDEX, EXPIRES_AT
from logmr.config import DEFAULT_RETENTION_DAYS
from logmr.errors import InvalidParameterError, TransientError
from logmr.storage.base import JobRecord, ResultStore

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_MAX",
    "BATCH_SIZE",
    "MAX_ITEM_BYTES",
    "MAX_SORT_KEY_BYTES",
    "DynamoResultStore",
    "dynamo_number",
]

#: items per BatchWriteItem call (the DynamoDB maximum)
BATCH_SIZE = limits.BATCH_WRITE_ITEMS
#: DynamoDB's item size limit: attribute names plus values
MAX_ITEM_BYTES = 400 * 1024
#: DynamoDB's limits on key attribute values
MAX_SORT_KEY_BYTES = 1024
MAX_PARTITION_KEY_BYTES = 2048
#: the most bytes a DynamoDB number takes (38 digits, two per byte, plus one)
_NUMBER_BYTES = 21
#: seconds: the cap of the first retry's sleep, doubled each retry up to BACKOFF_MAX
BACKOFF_BASE = 0.05
BACKOFF_MAX = 5.0
#: calls for one batch of results before ``TransientError``: its sleeps' caps
#: add up to 166 s (about 83 s of sleep with full jitter), longer than the
#: 80 s one wave of reducers can keep a job's partition busy (40 reducers x
#: 1,000 items x 2 write units, at DynamoDB's 1,000 write units a second a
#: partition: docs/performance.md, "Quotas at scale"), and far under the
#: Reduce function's 900 s; past it Step Functions retries the task
BATCH_ATTEMPTS = 40
#: the error codes of a BatchWriteItem throttled whole: its items are all
#: still to write, retried like unprocessed items (botocore's own retries of
#: the call come first)
_THROTTLED_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException"})

# DynamoDB numbers lie in ±[1E-130, 9.99...E+125]; beyond, a float is clamped
# (ranks stay right; only values no log count reaches become equal).
_N_LIMIT = 9.9999999999999999999999999999999999999e125
_N_LIMIT_TEXT = "9.9999999999999999999999999999999999999E+125"
_N_SMALLEST = 1e-130


def dynamo_number(value: float) -> str:
    """``value`` as the text of a DynamoDB number (N)."""
    if math.isnan(value):
        raise InvalidParameterError("a sort value is NaN: DynamoDB cannot rank it")
    if value >= _N_LIMIT:
        return _N_LIMIT_TEXT
    if value <= -_N_LIMIT:
        return "-" + _N_LIMIT_TEXT
    if abs(value) < _N_SMALLEST:
        return "0"
    return repr(float(value))


#: the start of a stored key that stands for a key by its hash (a key that
#: itself starts so is stored by its hash too: no two keys share a stored key)
HASHED_KEY_PREFIX = "\x00sha256:"


def stored_key(key: str) -> str:
    """The sort key a result key is stored under: itself, or, when DynamoDB
    cannot take it (empty, over ``MAX_SORT_KEY_BYTES``, or starting like a
    hashed one), ``HASHED_KEY_PREFIX`` and its SHA-256."""
    if key and not key.startswith(HASHED_KEY_PREFIX) and _utf8_len(key) <= MAX_SORT_KEY_BYTES:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return HASHED_KEY_PREFIX + digest


def _result_key(item: dict[str, Any]) -> str:
    """The result key of an item (``full_key`` when it is stored by its hash)."""
    return str((item.get("full_key") or item["key"])["S"])


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


class DynamoResultStore(UsesClient, ResultStore):
    """Results in ``results_table``, job records in ``jobs_table``.

    ``sleep`` and ``jitter`` (``random.uniform`` by default) are injectable
    so tests can watch the backoff of ``write_results`` without waiting.
    Every item it writes expires ``retention_days`` after it is written (its
    ``expires_at``, the tables' TTL attribute; 0: never), ``clock`` telling
    the time (``time.time``).
    """

    service = "dynamodb"

    def __init__(
        self,
        results_table: str,
        jobs_table: str,
        client: Any = None,
        clients: Clients | None = None,
        max_batch_attempts: int = BATCH_ATTEMPTS,
        *,
        sleep: Callable[[float], None] | None = None,
        jitter: Callable[[float, float], float] | None = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client, clients)
        if max_batch_attempts < 1:
            raise InvalidParameterError("max_batch_attempts must be at least 1")
        if retention_days < 0:
            raise InvalidParameterError(
                f"retention_days must be 0 (keep for ever) or more, got {retention_days}"
            )
        self.retention_days = retention_days
        self._clock = clock
        self.results_table = results_table
        self.jobs_table = jobs_table
        self.max_batch_attempts = max_batch_attempts
        self._sleep = sleep
        self._jitter = jitter

    def _expiry(self) -> dict[str, Any]:
        """The TTL attribute of an item written now (none when kept for ever)."""
        if not self.retention_days:
            return {}
        expires = int(self._clock()) + self.retention_days * 86_400
        return {EXPIRES_AT: {"N": str(expires)}}

    # -- job records -----------------------------------------------------------
    def _job_item(self, record: JobRecord) -> dict[str, Any]:
        """The item of a job record, checked against the item size limit."""
        text = json.dumps(record.to_dict(), separators=(",", ":"), ensure_ascii=False)
        item = {
            "job_id": {"S": record.job_id},
            "status": {"S": record.status},
            "execution": {"S": record.execution},
            "record": {"S": text},
        }
        size = sum(len(name) + _utf8_len(value["S"]) for name, value in item.items())
        item.update(self._expiry())
        size += len(EXPIRES_AT) + _NUMBER_BYTES
        if size > MAX_ITEM_BYTES:
            raise InvalidParameterError(
                f"job record {record.job_id!r} is {size} bytes as JSON,"
                f" over DynamoDB's {MAX_ITEM_BYTES}-byte item limit"
            )
        return item

    def _put_job(self, record: JobRecord, what: str, **condition: Any) -> bool:
        """PutItem of the record, under ``condition``; False when it failed."""
        try:
            self.client.put_item(
                TableName=self.jobs_table, Item=self._job_item(record), **condition
            )
        except ClientError as exc:
            if error_code(exc)[0] == "ConditionalCheckFailedException":
                return False
            raise translate(exc, f"{what} job {record.job_id!r} in {self.jobs_table}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"{what} job {record.job_id!r} in {self.jobs_table}") from exc
        return True

    def put_job(self, record: JobRecord) -> None:
        self._put_job(record, "put")

    def claim_job(self, record: JobRecord) -> JobRecord | None:
        if self._put_job(record, "claim", ConditionExpression="attribute_not_exists(job_id)"):
            return None
        # the id is taken; read back what has it (a record deleted in between: claim again)
        return self.load_job(record.job_id) or self.claim_job(record)

    def update_job(self, record: JobRecord) -> bool:
        return self._put_job(
            record,
            "update",
            ConditionExpression="#execution = :execution",
            ExpressionAttributeNames={"#execution": "execution"},
            ExpressionAttributeValues={":execution": {"S": record.execution}},
        )

    def load_job(self, job_id: str) -> JobRecord | None:
        try:
            response = self.client.get_item(
                TableName=self.jobs_table, Key={"job_id": {"S": job_id}}, ConsistentRead=True
            )
        except (BotoCoreError, ClientError) as exc:
            raise translate(exc, f"get job {job_id!r} from {self.jobs_table}") from exc
        item = response.get("Item")
        if item is None:
            return None
        return JobRecord.from_dict(json.loads(item["record"]["S"]))

    # -- results ---------------------------------------------------------------
    def _result_item(self, job_id: str, key: str, value: Any, sort: float) -> dict[str, Any]:
        """A result's item. A key DynamoDB cannot take as its sort key (empty,
        or over 1,024 UTF-8 bytes) is stored by its hash (``stored_key``), the
        key itself in ``full_key``: every key a job can produce is stored."""
        if not isinstance(key, str):
            raise InvalidParameterError(f"job {job_id!r}: result key {key!r} is not a string")
        key_bytes = _utf8_len(key)
        sort_key = stored_key(key)
        try:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(
                f"job {job_id!r}: the value of {key[:60]!r} is not JSON: {exc}"
            ) from exc
        size = (
            len("job_id")
            + _utf8_len(job_id)
            + len("key")
            + _utf8_len(sort_key)
            + (len("full_key") + key_bytes if sort_key != key else 0)
            + len("value")
            + _utf8_len(text)
            + len("sort_value")
            + _NUMBER_BYTES
            + len(EXPIRES_AT)
            + _NUMBER_BYTES
        )
        if size > MAX_ITEM_BYTES:
            raise InvalidParameterError(
                f"job {job_id!r}: the result for {key[:60]!r} is {size} bytes,"
                f" over DynamoDB's {MAX_ITEM_BYTES}-byte item limit"
            )
        item = {
            "job_id": {"S": job_id},
            "key": {"S": sort_key},
            "value": {"S": text},
            "sort_value": {"N": dynamo_number(sort)},
            **self._expiry(),
        }
        if sort_key != key:
            item["full_key"] = {"S": key}
        return item

    def write_results(self, job_id: str, rows: list[tuple[str, Any, float]]) -> None:
        """Put every row (BatchWriteItem, 25 at a time); a repeated key keeps its last row.

        Every row is checked before the first write. Items DynamoDB leaves
        unprocessed, or all of a call it throttled whole, are sent again
        after a sleep of ``uniform(0, cap)``, the cap doubling from
        ``BACKOFF_BASE`` up to ``BACKOFF_MAX`` ("full jitter"); after
        ``max_batch_attempts`` calls for one batch the rest raise
        ``TransientError`` (puts are idempotent: a retry rewrites them).
        """
        if not job_id or _utf8_len(job_id) > MAX_PARTITION_KEY_BYTES:
            raise InvalidParameterError(f"job id {job_id[:60]!r} cannot be a DynamoDB key")
        items: dict[str, dict[str, Any]] = {}
        for key, value, sort in rows:
            items[key] = self._result_item(job_id, key, value, sort)
        batch: list[dict[str, Any]] = []
        for item in items.values():
            batch.append({"PutRequest": {"Item": item}})
            if len(batch) == BATCH_SIZE:
                self._write_batch(job_id, batch)
                batch = []
        if batch:
            self._write_batch(job_id, batch)

    def _write_batch(self, job_id: str, requests: list[dict[str, Any]]) -> None:
        pending: dict[str, list[dict[str, Any]]] = {self.results_table: requests}
        sleep = self._sleep or time.sleep
        jitter = self._jitter or random.uniform
        what = f"write results of job {job_id!r} to {self.results_table}"
        for attempt in range(self.max_batch_attempts):
            if attempt:
                cap = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (attempt - 1))
                sleep(jitter(0, cap))
            try:
                response = self.client.batch_write_item(RequestItems=pending)
            except (BotoCoreError, ClientError) as exc:
                if error_code(exc)[0] in _THROTTLED_CODES and attempt + 1 < self.max_batch_attempts:
                    continue  # every item still pending: back off and send them again
                raise translate(exc, what) from exc
            pending = response.get("UnprocessedItems") or {}
            if not any(pending.values()):
                return
        left = sum(len(requests) for requests in pending.values())
        raise TransientError(
            f"{what}: {left} of"
            f" {len(requests)} items still unprocessed after {self.max_batch_attempts} attempts"
        )

    def _query(self, what: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item a Query returns, page after page (consistent reads)."""
        kwargs.setdefault("TableName", self.results_table)
        kwargs.setdefault("ConsistentRead", True)
        while True:
            try:
                page = self.client.query(**kwargs)
            except (BotoCoreError, ClientError) as exc:
                raise translate(exc, what) from exc
            yield from page.get("Items", ())
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def top(self, job_id: str, n: int) -> list[tuple[str, Any]]:
        """The n best results: a Query on the ``by_value`` index, sort value descending.

        DynamoDB returns rows with equal sort values in no set order, so when
        the n-th row's value may be shared, every row with exactly that value
        is read (a second Query, ``sort_value = :v``) and the fewest keys
        needed are taken in key order (a heap of at most n). That read is as
        long as the tie: cheap for real rankings, long for "top 10 of a
        million words seen once".
        """
        if n <= 0:
            return []
        what = f"top {n} of job {job_id!r} from {self.results_table}"
        first: list[dict[str, Any]] = []
        for item in self._query(
            what,
            IndexName=BY_VALUE_INDEX,
            KeyConditionExpression="job_id = :j",
            ExpressionAttributeValues={":j": {"S": job_id}},
            ScanIndexForward=False,
            Limit=n,
        ):
            first.append(item)
            if len(first) == n:
                break
        if len(first) == n:
            nth = first[-1]["sort_value"]["N"]
            above = [item for item in first if Decimal(item["sort_value"]["N"]) > Decimal(nth)]
            ties = heapq.nsmallest(
                n - len(above),
                self._query(
                    what,
                    IndexName=BY_VALUE_INDEX,
                    KeyConditionExpression="job_id = :j AND sort_value = :v",
                    ExpressionAttributeValues={":j": {"S": job_id}, ":v": {"N": nth}},
                ),
                key=_result_key,
            )
            first = above + ties
        first.sort(key=lambda item: (-Decimal(item["sort_value"]["N"]), _result_key(item)))
        return [(_result_key(item), json.loads(item["value"]["S"])) for item in first]

    def iter_results(self, job_id: str) -> Iterator[tuple[str, Any]]:
        """Every result of a job in the table's sort key order (UTF-8 byte
        order, which is code point order, as SQLite's; a key stored by its hash
        sorts first, by the hash)."""
        for item in self._query(
            f"read results of job {job_id!r} from {self.results_table}",
            KeyConditionExpression="job_id = :j",
            ExpressionAttributeValues={":j": {"S": job_id}},
        ):
            yield _result_key(item), json.loads(item["value"]["S"])
