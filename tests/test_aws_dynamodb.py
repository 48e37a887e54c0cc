"""DynamoDB as the result store, on moto, with tables made from ``logmr.aws.tables``."""

from __future__ import annotations

import json
import math
import pickle
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from helpers import assert_job_claims_are_exclusive
from logmr.aws import tables
from logmr.aws.clients import Clients
from logmr.aws.dynamodb import (
    BACKOFF_BASE,
    BACKOFF_MAX,
    BATCH_ATTEMPTS,
    BATCH_SIZE,
    HASHED_KEY_PREFIX,
    MAX_SORT_KEY_BYTES,
    DynamoResultStore,
    dynamo_number,
    stored_key,
)
from logmr.errors import (
    InputNotFoundError,
    InvalidParameterError,
    JobNotFoundError,
    PermanentError,
    TransientError,
)
from logmr.jobs.base import sort_value
from logmr.storage.base import JobRecord
from logmr.storage.parts import TOP_KEPT
from logmr.storage.sqlite import SqliteResultStore

pytestmark = pytest.mark.functional

RESULTS = "test-results"
JOBS = "test-jobs"


class Sleeps:
    """Records the sleeps asked for; ``jitter`` returns the cap so caps are seen."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    @staticmethod
    def jitter(low: float, high: float) -> float:
        assert low == 0
        return high


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(**tables.results_table_spec(RESULTS))
        client.create_table(**tables.jobs_table_spec(JOBS))
        yield client


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def store(ddb: Any, sleeps: Sleeps) -> DynamoResultStore:
    return DynamoResultStore(RESULTS, JOBS, client=ddb, sleep=sleeps, jitter=Sleeps.jitter)


def stored_rows(ddb: Any, job_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ddb.query(
        TableName=RESULTS,
        KeyConditionExpression="job_id = :j",
        ExpressionAttributeValues={":j": {"S": job_id}},
    )["Items"]
    return items


def client_error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


# -- the table definitions -----------------------------------------------------------


def test_table_specs_are_what_the_store_queries(ddb: Any) -> None:
    spec = tables.results_table_spec("r")
    assert spec["TableName"] == "r" and spec["BillingMode"] == "PAY_PER_REQUEST"
    assert spec["KeySchema"] == [
        {"AttributeName": "job_id", "KeyType": "HASH"},
        {"AttributeName": "key", "KeyType": "RANGE"},
    ]
    assert sorted(map(tuple, (d.values() for d in spec["AttributeDefinitions"]))) == [
        ("job_id", "S"),
        ("key", "S"),
        ("sort_value", "N"),
    ]
    (index,) = spec["LocalSecondaryIndexes"]
    assert index["IndexName"] == tables.BY_VALUE_INDEX
    assert index["KeySchema"][1] == {"AttributeName": "sort_value", "KeyType": "RANGE"}
    assert "GlobalSecondaryIndexes" not in spec
    assert tables.jobs_table_spec("j")["KeySchema"] == [
        {"AttributeName": "job_id", "KeyType": "HASH"}
    ]

    described = ddb.describe_table(TableName=RESULTS)["Table"]
    assert described["KeySchema"] == tables.results_table_spec(RESULTS)["KeySchema"]
    assert [i["IndexName"] for i in described["LocalSecondaryIndexes"]] == ["by_value"]

    plain = tables.describe()
    assert json.loads(json.dumps(plain)) == plain  # plain data a CDK stack can read
    assert plain["results"]["partition_key"] == {"name": "job_id", "type": "S"}
    assert plain["results"]["sort_key"] == {"name": "key", "type": "S"}
    assert plain["results"]["indexes"][0]["kind"] == "local"
    assert plain["results"]["indexes"][0]["sort_key"] == {"name": "sort_value", "type": "N"}
    assert plain["jobs"]["sort_key"] is None
    assert plain["results"]["env"] == tables.ENV_RESULTS_TABLE

    store = DynamoResultStore(RESULTS, JOBS, client=ddb)
    store.put_results("j", [("a", 1), ("b", 2)])
    with (
        patch.object(ddb, "query", wraps=ddb.query) as spy,
        patch.object(ddb, "scan", side_effect=AssertionError("top-N must not scan")),
    ):
        assert store.top("j", 1) == [("b", 2)]
    first = spy.call_args_list[0].kwargs
    assert first["IndexName"] == tables.BY_VALUE_INDEX
    assert (first["ScanIndexForward"], first["Limit"], first["ConsistentRead"]) == (False, 1, True)


# -- results -------------------------------------------------------------------------


def test_results_upsert_top_and_order(store: DynamoResultStore, ddb: Any) -> None:
    store.put_results("j", [("b", 5), ("a", 5), ("c", {"count": 9, "bytes": 1}), ("d", 1)])
    store.put_results("j", [("d", 1)])  # a repeated write keeps one row
    store.put_results("other", [("zz", 100)])
    assert store.top("j", 3) == [("c", {"count": 9, "bytes": 1}), ("a", 5), ("b", 5)]
    assert store.top("j", 10) == [("c", {"count": 9, "bytes": 1}), ("a", 5), ("b", 5), ("d", 1)]
    assert store.top("j", 0) == []
    assert store.top("nobody", 3) == []
    assert list(store.iter_results("j")) == [
        ("a", 5),
        ("b", 5),
        ("c", {"count": 9, "bytes": 1}),
        ("d", 1),
    ]
    item = stored_rows(ddb, "other")[0]
    assert item["value"] == {"S": "100"} and item["sort_value"] == {"N": "100.0"}


def test_same_answers_as_the_sqlite_store(store: DynamoResultStore, tmp_path: Path) -> None:
    rng = random.Random(7)
    words = ["é", "z", "Z", "😀", "a", "ab", "a b", "日本", "ä", "\u00ff", "~"]
    pairs: list[tuple[str, Any]] = []
    for i in range(180):
        key = rng.choice(words) + str(i % 60)
        value: Any = rng.choice([rng.randint(0, 6), rng.random(), {"count": rng.randint(0, 6)}])
        pairs.append((key, value))
    sqlite = SqliteResultStore(tmp_path / "r.sqlite")
    store.put_results("j", pairs)
    sqlite.put_results("j", pairs)
    assert list(store.iter_results("j")) == list(sqlite.iter_results("j"))
    keys = [key for key, _ in store.iter_results("j")]
    assert keys == sorted(keys)  # UTF-8 byte order is code point order
    for n in (1, 2, 5, 17, 59, 60, 100):
        assert store.top("j", n) == sqlite.top("j", n), n


def test_top_orders_ties_by_key_whatever_dynamodb_returns(
    store: DynamoResultStore, ddb: Any
) -> None:
    pairs = [(f"k{i:03d}", 3) for i in range(40)] + [("big", 10), ("mid", 5), ("low", 1)]
    store.put_results("j", pairs)
    real_query = ddb.query

    def ties_backwards(**kwargs: Any) -> Any:
        """Pages of at most 7 items; on the index, equal sort values in
        descending key order: the store must rely on neither."""
        kwargs["Limit"] = min(kwargs.get("Limit", 7), 7)
        page = real_query(**kwargs)
        if "IndexName" in kwargs:
            descending = kwargs.get("ScanIndexForward") is False
            page["Items"].sort(
                key=lambda item: (
                    -float(item["sort_value"]["N"]) if descending else 0,
                    [-ord(c) for c in item["key"]["S"]],
                )
            )
        return page

    with patch.object(ddb, "query", side_effect=ties_backwards) as spy:
        assert store.top("j", 4) == [("big", 10), ("mid", 5), ("k000", 3), ("k001", 3)]
        assert store.top("j", 2) == [("big", 10), ("mid", 5)]
        assert store.top("j", 43) == sorted(pairs, key=lambda kv: (-kv[1], kv[0]))
        assert [key for key, _ in store.iter_results("j")] == sorted(key for key, _ in pairs)
    tie_queries = [c for c in spy.call_args_list if ":v" in c.kwargs["ExpressionAttributeValues"]]
    assert tie_queries and all(c.kwargs["IndexName"] == "by_value" for c in tie_queries)


def test_batches_of_25_with_repeated_keys(store: DynamoResultStore, ddb: Any) -> None:
    rows = [(f"k{i % 30}", i, float(i)) for i in range(60)]  # every key twice
    with patch.object(ddb, "batch_write_item", wraps=ddb.batch_write_item) as spy:
        store.write_results("j", rows)
    sizes = [len(c.kwargs["RequestItems"][RESULTS]) for c in spy.call_args_list]
    assert sizes == [BATCH_SIZE, 5]
    assert dict(store.iter_results("j")) == {f"k{i}": i + 30 for i in range(30)}  # the last wins


def test_unprocessed_items_are_retried_with_growing_backoff(
    store: DynamoResultStore, ddb: Any, sleeps: Sleeps
) -> None:
    real = ddb.batch_write_item
    calls: list[int] = []

    def flaky(**kwargs: Any) -> Any:
        requests = kwargs["RequestItems"][RESULTS]
        calls.append(len(requests))
        if len(calls) == 1:  # nothing written
            return {"UnprocessedItems": kwargs["RequestItems"]}
        if len(calls) == 2:  # half written
            real(RequestItems={RESULTS: requests[::2]})
            return {"UnprocessedItems": {RESULTS: requests[1::2]}}
        return real(**kwargs)

    pairs = [(f"k{i:02d}", i) for i in range(20)]
    with patch.object(ddb, "batch_write_item", side_effect=flaky):
        store.put_results("j", pairs)
    assert calls == [20, 20, 10]
    assert sleeps.calls == [0.05, 0.1]  # the caps: doubling
    rows = stored_rows(ddb, "j")
    assert sorted(row["key"]["S"] for row in rows) == [key for key, _ in pairs]
    assert list(store.iter_results("j")) == pairs


def test_unprocessed_items_forever_are_transient(ddb: Any, sleeps: Sleeps) -> None:
    store = DynamoResultStore(
        RESULTS, JOBS, client=ddb, max_batch_attempts=5, sleep=sleeps, jitter=Sleeps.jitter
    )
    stuck = {"UnprocessedItems": {RESULTS: [{"PutRequest": {"Item": {}}}] * 3}}
    with (
        patch.object(ddb, "batch_write_item", return_value=stuck) as spy,
        pytest.raises(TransientError, match="3 of 10 items still unprocessed after 5 attempts"),
    ):
        store.put_results("j", [(f"k{i}", i) for i in range(10)])
    assert spy.call_count == 5
    assert sleeps.calls == [0.05, 0.1, 0.2, 0.4]
    assert sleeps.calls == sorted(sleeps.calls)


def test_a_call_throttled_whole_is_sent_again_after_a_backoff(
    store: DynamoResultStore, ddb: Any, sleeps: Sleeps
) -> None:
    """A BatchWriteItem refused whole (every item throttled, past botocore's
    own retries) is the partition busy with other reducers' writes, not a
    failure: its items go again, as unprocessed items do."""
    real = ddb.batch_write_item
    throttled = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "busy"}},
        "BatchWriteItem",
    )
    calls = 0

    def busy_twice(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise throttled
        return real(**kwargs)

    pairs = [(f"k{i:02d}", i) for i in range(5)]
    with patch.object(ddb, "batch_write_item", side_effect=busy_twice):
        store.put_results("j", pairs)
    assert calls == 3
    assert sleeps.calls == [0.05, 0.1]
    assert list(store.iter_results("j")) == pairs


def test_the_default_retries_outlast_a_wave_of_reducers_on_one_partition() -> None:
    """The caps of the default attempts' sleeps add up to more than the
    seconds 40 reducers' best results keep one job's partition busy (each
    item 2 write units with the index, 1,000 units a second)."""
    wave_seconds = 40 * TOP_KEPT * 2 / 1000
    caps = [min(BACKOFF_MAX, BACKOFF_BASE * 2**i) for i in range(BATCH_ATTEMPTS - 1)]
    assert sum(caps) > wave_seconds


def test_default_backoff_is_full_jitter_under_the_cap(ddb: Any) -> None:
    slept: list[float] = []
    store = DynamoResultStore(RESULTS, JOBS, client=ddb, max_batch_attempts=12, sleep=slept.append)
    stuck = {"UnprocessedItems": {RESULTS: [{"PutRequest": {"Item": {}}}]}}
    with (
        patch.object(ddb, "batch_write_item", return_value=stuck),
        pytest.raises(TransientError),
    ):
        store.put_results("j", [("k", 1)])
    caps = [min(5.0, 0.05 * 2**i) for i in range(11)]
    assert len(slept) == 11
    assert all(0 <= s <= cap for s, cap in zip(slept, caps, strict=True))


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("ProvisionedThroughputExceededException", 400, TransientError),
        ("ThrottlingException", 400, TransientError),
        ("RequestLimitExceeded", 400, TransientError),
        ("InternalServerError", 500, TransientError),
        ("ResourceNotFoundException", 400, PermanentError),
        ("ValidationException", 400, PermanentError),
    ],
)
def test_client_errors_are_translated(
    store: DynamoResultStore, ddb: Any, code: str, status: int, error: type[Exception]
) -> None:
    for method, call in (
        ("batch_write_item", lambda: store.put_results("j", [("k", 1)])),
        ("query", lambda: store.top("j", 3)),
        ("query", lambda: list(store.iter_results("j"))),
        ("put_item", lambda: store.put_job(JobRecord("j", "word-count"))),
        ("get_item", lambda: store.load_job("j")),
    ):
        with (
            patch.object(ddb, method, side_effect=client_error(code, status, method)),
            pytest.raises(error, match=code) as caught,
        ):
            call()
        assert not isinstance(caught.value, InputNotFoundError)
        assert isinstance(caught.value.__cause__, ClientError)


def test_a_missing_table_is_a_permanent_error(ddb: Any) -> None:
    store = DynamoResultStore("no-such-table", "no-such-jobs", client=ddb)
    for call in (
        lambda: store.put_results("j", [("k", 1)]),
        lambda: store.top("j", 1),
        lambda: store.load_job("j"),
    ):
        with pytest.raises(PermanentError, match="ResourceNotFoundException") as caught:
            call()
        assert not isinstance(caught.value, TransientError)


def test_an_item_over_400_kb_is_a_clear_error(store: DynamoResultStore, ddb: Any) -> None:
    big = "x" * 500_000
    with pytest.raises(InvalidParameterError, match=r"'huge' is \d+ bytes, over DynamoDB's 409600"):
        store.put_results("j", [("a", 1), ("huge", {"count": 2, "text": big}), ("b", 1)])
    assert stored_rows(ddb, "j") == []  # checked before anything was written
    store.put_results("j", [("fits", "y" * 400_000)])  # just under the limit
    assert dict(store.iter_results("j"))["fits"] == "y" * 400_000
    record = JobRecord("big", "word-count", summary={"text": big})
    with pytest.raises(InvalidParameterError, match="job record 'big'"):
        store.put_job(record)


def test_every_key_is_stored_even_those_dynamodb_cannot_take_as_a_sort_key(
    ddb: Any, store: DynamoResultStore
) -> None:
    """An empty key, one over 1,024 UTF-8 bytes, and one that starts like a
    hashed key are stored under their SHA-256 with the key in the item: they
    come back from ``top`` and ``iter_results`` as they went in, ties
    included, beside a key of exactly 1,024 bytes stored as it is."""
    long_key, fits = "p" * 1025, "é" * 512
    lookalike = HASHED_KEY_PREFIX + "0" * 64
    rows = [("", 3), (long_key, 7), (fits, 5), (lookalike, 3), ("plain", 3)]
    store.put_results("j", rows)
    assert store.top("j", 10) == [(long_key, 7), (fits, 5), ("", 3), (lookalike, 3), ("plain", 3)]
    assert dict(store.iter_results("j")) == dict(rows)
    stored = {item["key"]["S"] for item in stored_rows(ddb, "j")}
    assert {stored_key(""), stored_key(long_key), stored_key(lookalike)} <= stored
    assert fits in stored and "plain" in stored
    assert all(len(key.encode()) <= MAX_SORT_KEY_BYTES and key for key in stored)
    assert len({stored_key(key) for key, _ in rows}) == len(rows)


def test_numbers_for_dynamodb(store: DynamoResultStore) -> None:
    assert dynamo_number(5.0) == "5.0"
    assert dynamo_number(-0.0) == "0"
    assert dynamo_number(math.inf).startswith("9.99") and dynamo_number(-1e300).startswith("-9.9")
    with pytest.raises(InvalidParameterError, match="NaN"):
        dynamo_number(math.nan)
    store.write_results("j", [("inf", math.inf, math.inf), ("tiny", 1e-300, 1e-300)])
    store.write_results("j", [("one", 1, 1.0), ("neg", -2.5, -2.5)])
    assert [key for key, _ in store.top("j", 4)] == ["inf", "one", "tiny", "neg"]
    assert dict(store.iter_results("j"))["inf"] == math.inf


# -- job records ---------------------------------------------------------------------


def test_job_records_round_trip_with_floats(store: DynamoResultStore, ddb: Any) -> None:
    record = JobRecord(
        job_id="job-1",
        job="latency",
        spec={"inputs": ["s3://b/logs/"], "params": {"q": [0.5, 0.99]}},
        counters={"records": 3, "malformed": 1},
        summary={"p99": 0.1 + 0.2, "tiny": 1e-300, "big": 1.7976931348623157e308},
        timings={"map": 1.25, "total": 3.0000000000000004},
        created_at="2024-01-01T00:00:00Z",
        malformed_samples=[{"line": "bad ü", "reason": "x"}],
    )
    assert store.load_job("job-1") is None
    store.put_job(record)
    assert store.load_job("job-1") == record
    raw = ddb.get_item(TableName=JOBS, Key={"job_id": {"S": "job-1"}})["Item"]
    assert raw["status"] == {"S": "RUNNING"}
    assert json.loads(raw["record"]["S"]) == record.to_dict()
    record.status, record.error = "FAILED", "TransientError"
    store.put_job(record)  # an update replaces the record
    assert store.get_job("job-1").status == "FAILED"
    with pytest.raises(JobNotFoundError):
        store.get_job("job-2")


def test_put_results_uses_the_shared_sort_value(store: DynamoResultStore, ddb: Any) -> None:
    store.put_results("j", [("a", {"count": 4, "bytes": 9}), ("b", [1, 2]), ("c", True)])
    got = {row["key"]["S"]: float(row["sort_value"]["N"]) for row in stored_rows(ddb, "j")}
    assert got == {"a": sort_value({"count": 4}), "b": 0.0, "c": 1.0}


def test_store_pickles_without_its_client(ddb: Any) -> None:
    store = DynamoResultStore(RESULTS, JOBS, clients=Clients(region="us-east-1"))
    store.put_results("j", [("a", 1)])
    assert store._client is not None
    copy = pickle.loads(pickle.dumps(store))
    assert copy._client is None
    assert (copy.results_table, copy.jobs_table) == (RESULTS, JOBS)
    assert copy.max_batch_attempts == BATCH_ATTEMPTS
    assert list(copy.iter_results("j")) == [("a", 1)]

    given = DynamoResultStore(RESULTS, JOBS, client=ddb, max_batch_attempts=3)
    again = pickle.loads(pickle.dumps(given))
    assert again.max_batch_attempts == 3 and again.top("j", 1) == [("a", 1)]


def test_max_batch_attempts_must_be_positive() -> None:
    with pytest.raises(InvalidParameterError):
        DynamoResultStore(RESULTS, JOBS, max_batch_attempts=0)


def test_a_job_id_is_claimed_once_and_written_only_by_its_execution(
    store: DynamoResultStore,
) -> None:
    """Conditional puts: ``attribute_not_exists(job_id)`` to claim, the
    execution attribute to update."""
    assert_job_claims_are_exclusive(store)


# -- retention ----------------------------------------------------------------------------
NOW = 1_796_486_400  # 2026-12-05T00:00:00Z


@pytest.mark.parametrize(
    ("days", "expires"), [(90, NOW + 90 * 86_400), (1, NOW + 86_400), (0, None)]
)
def test_every_item_expires_when_the_retention_says(
    ddb: Any, days: int, expires: int | None
) -> None:
    """Job records and results carry ``expires_at`` (the tables' TTL
    attribute), ``days`` after they are written; 0 keeps them for ever."""
    store = DynamoResultStore(RESULTS, JOBS, client=ddb, retention_days=days, clock=lambda: NOW)
    store.put_job(JobRecord(job_id="kept-1", job="status_codes"))
    store.write_results("kept-1", [("200", 5, 5.0), ("", 1, 1.0), ("k" * 2_000, 2, 2.0)])
    items = [ddb.get_item(TableName=JOBS, Key={"job_id": {"S": "kept-1"}})["Item"]]
    items += stored_rows(ddb, "kept-1")
    assert len(items) == 4
    for item in items:
        found = item.get(tables.EXPIRES_AT)
        assert (None if found is None else int(found["N"])) == expires, item


def test_a_negative_retention_is_refused(ddb: Any) -> None:
    with pytest.raises(InvalidParameterError, match="retention_days"):
        DynamoResultStore(RESULTS, JOBS, client=ddb, retention_days=-1)
