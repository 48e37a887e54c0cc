"""S3 as object store and input source, on moto."""

from __future__ import annotations

import gzip
import pickle
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError, ResponseStreamingError
from moto import mock_aws

from helpers import no_long_line
from logmr.aws.clients import Clients
from logmr.aws.s3 import S3InputSource, S3ObjectStore, S3Stream, parse_s3_uri
from logmr.errors import (
    InputNotFoundError,
    InvalidParameterError,
    PermanentError,
    TransientError,
)
from logmr.inputs.lines import iter_range_blocks
from logmr.inputs.source import DecompressedSize, InputObject, decompressing
from logmr.mapreduce import shuffle
from logmr.plan.cutting import cut

pytestmark = pytest.mark.functional

BUCKET = "logmr-test"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def client_error(code: str, status: int, operation: str = "GetObject") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


# -- URIs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("s3://bucket/key", ("bucket", "key")),
        ("s3://bucket/logs/2024/", ("bucket", "logs/2024/")),
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://my.bucket-1/a/b.gz", ("my.bucket-1", "a/b.gz")),
    ],
)
def test_parse_s3_uri(uri: str, parsed: tuple[str, str]) -> None:
    assert parse_s3_uri(uri) == parsed


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("/local/path", "not an S3 URI"),
        ("https://bucket/key", "not an S3 URI"),
        ("s3:/bucket/key", "not an S3 URI"),
        ("s3:///key", "without a bucket"),
        ("s3://a/key", "not a valid S3 bucket name"),
        ("s3://my bucket/key", "not a valid S3 bucket name"),
        ("s3://bucket?x/key", "not a valid S3 bucket name"),
    ],
)
def test_parse_s3_uri_rejects_bad_uris(uri: str, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        parse_s3_uri(uri)


# -- object store ----------------------------------------------------------------


def test_object_store_round_trip_ranges_and_listing(s3: Any) -> None:
    store = S3ObjectStore(BUCKET, "jobs-root", client=s3)
    assert store.prefix == "jobs-root/"
    store.put("jobs/a/x.bin", b"0123456789")
    store.put("jobs/a/sub/y.json", b"{}")
    store.put("jobs/b/z", b"")
    s3.put_object(Bucket=BUCKET, Key="jobs-root/jobs/a/folder/", Body=b"")  # a console "folder"
    assert s3.head_object(Bucket=BUCKET, Key="jobs-root/jobs/a/x.bin")["ContentLength"] == 10
    assert store.get("jobs/a/x.bin") == b"0123456789"
    assert store.get_range("jobs/a/x.bin", 2, 5) == b"234"
    assert store.get_range("jobs/a/x.bin", 0, 1) == b"0"
    assert store.get_range("jobs/a/x.bin", 8, 50) == b"89"  # past the end: what there is
    assert store.get_range("jobs/a/x.bin", 10, 20) == b""  # 416 InvalidRange
    assert store.get_range("jobs/a/x.bin", 99, 120) == b""
    assert store.get_range("jobs/a/x.bin", 5, 5) == b""
    assert store.get_range("jobs/b/z", 0, 4) == b""  # any range of an empty object
    assert (store.size("jobs/a/x.bin"), store.size("jobs/b/z")) == (10, 0)  # HEAD
    with store.open("jobs/a/x.bin") as file:
        file.seek(7)
        assert file.read() == b"789"
    with pytest.raises(InvalidParameterError, match="negative"):
        store.get_range("jobs/a/x.bin", -1, 4)
    assert store.list_keys("jobs/a/") == ["jobs/a/sub/y.json", "jobs/a/x.bin"]
    assert store.list_keys("jobs/") == ["jobs/a/sub/y.json", "jobs/a/x.bin", "jobs/b/z"]
    assert store.list_keys("jobs/a/x") == ["jobs/a/x.bin"]
    assert store.list_keys("nothing/") == []
    store.put("jobs/a/x.bin", b"new")  # overwrite, as a retried task does
    assert store.get("jobs/a/x.bin") == b"new"
    store.put_json("jobs/a/plan.json", {"tasks": [1, 2.5]})
    assert store.get_json("jobs/a/plan.json") == {"tasks": [1, 2.5]}
    store.delete(["jobs/a/x.bin", "jobs/never"])  # a missing key is fine
    with pytest.raises(InputNotFoundError, match=r"NoSuchKey") as caught:
        store.get("jobs/a/x.bin")
    assert isinstance(caught.value.__cause__, ClientError)
    with pytest.raises(InputNotFoundError):
        store.get_range("jobs/a/x.bin", 0, 3)
    with pytest.raises(InputNotFoundError):
        store.size("jobs/a/x.bin")


def test_object_store_without_prefix_and_from_uri(s3: Any) -> None:
    plain = S3ObjectStore(BUCKET, client=s3)
    plain.put("top.bin", b"abc")
    assert plain.list_keys("") == ["top.bin"]
    rooted = S3ObjectStore.from_uri(f"s3://{BUCKET}/root", client=s3)
    assert (rooted.bucket, rooted.prefix) == (BUCKET, "root/")
    rooted.put("k", b"v")
    assert plain.list_keys("") == ["root/k", "top.bin"]


def test_missing_bucket_is_input_not_found(s3: Any) -> None:
    store = S3ObjectStore("no-such-bucket", client=s3)
    for call in (
        lambda: store.get("k"),
        lambda: store.get_range("k", 0, 2),
        lambda: store.list_keys(""),
        lambda: store.put("k", b"x"),
    ):
        with pytest.raises(InputNotFoundError, match="NoSuchBucket"):
            call()


def test_read_buckets_through_two_ranged_gets(s3: Any) -> None:
    store = S3ObjectStore(BUCKET, "shuffle", client=s3)
    bound = shuffle.Binding("j-1", 0, "00112233aabbccdd")
    parts = [[("a", 1)], [("b", 2), ("c", 3)], [], [("d", 4)]]
    store.put("m0.bin", shuffle.encode(parts, bound))
    with patch.object(s3, "get_object", wraps=s3.get_object) as spy:
        found = store.read_buckets("m0.bin", range(1, 4), 4, job_id="j-1", task=0)
        assert found.pairs == [("b", 2), ("c", 3), ("d", 4)] and found.spills == 0
    assert len(spy.call_args_list) == 2  # the index, then the group's adjacent blocks
    with patch.object(s3, "get_object", wraps=s3.get_object) as spy:
        assert store.read_buckets("m0.bin", range(2, 3), 4, job_id="j-1", task=0).pairs == []
    assert len(spy.call_args_list) == 1  # an empty block: the index says so
    assert all("Range" in call.kwargs for call in spy.call_args_list)


def test_listing_and_deleting_more_than_a_thousand_keys(s3: Any) -> None:
    store = S3ObjectStore(BUCKET, "many", client=s3)
    keys = [f"part/{i:05d}" for i in range(1005)]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key="many/" + key, Body=b"x\n" if key.endswith("7") else b"")
    with patch.object(s3, "list_objects_v2", wraps=s3.list_objects_v2) as listing:
        assert store.list_keys("part/") == keys
    assert listing.call_count == 2  # 1,000 keys a page

    source = S3InputSource(client=s3)
    with patch.object(s3, "list_objects_v2", wraps=s3.list_objects_v2) as listing:
        found = source.list_inputs([f"s3://{BUCKET}/many/part/"])
    assert listing.call_count == 2
    assert [obj.uri for obj in found] == [f"s3://{BUCKET}/many/{key}" for key in keys]
    assert sum(obj.size for obj in found) == 2 * sum(key.endswith("7") for key in keys)

    with patch.object(s3, "delete_objects", wraps=s3.delete_objects) as deleting:
        store.delete(iter(keys))  # any iterable, a generator included
    assert [len(c.kwargs["Delete"]["Objects"]) for c in deleting.call_args_list] == [1000, 5]
    assert store.list_keys("") == []


@pytest.mark.parametrize(("code", "status"), [("SlowDown", 503), ("InternalError", 500)])
def test_s3_overload_and_server_errors_are_transient(s3: Any, code: str, status: int) -> None:
    store = S3ObjectStore(BUCKET, client=s3)
    store.put("k", b"data")
    source = S3InputSource(client=s3)
    for method, call in (
        ("get_object", lambda: store.get("k")),
        ("get_object", lambda: store.get_range("k", 0, 2)),
        ("put_object", lambda: store.put("k", b"x")),
        ("list_objects_v2", lambda: store.list_keys("")),
        ("delete_objects", lambda: store.delete(["k"])),
        ("get_object", lambda: source.open_at(f"s3://{BUCKET}/k", 1)),
        ("head_object", lambda: source.list_inputs([f"s3://{BUCKET}/k"])),
    ):
        with (
            patch.object(s3, method, side_effect=client_error(code, status)),
            pytest.raises(TransientError, match=f"{code} \\(HTTP {status}\\)") as caught,
        ):
            call()
        assert isinstance(caught.value.__cause__, ClientError)


def test_delete_reports_per_key_errors(s3: Any) -> None:
    store = S3ObjectStore(BUCKET, client=s3)
    errors = {"Errors": [{"Key": "a", "Code": "AccessDenied", "Message": "no"}]}
    with (
        patch.object(s3, "delete_objects", return_value=errors),
        pytest.raises(PermanentError, match="1 not deleted, first 'a': AccessDenied"),
    ):
        store.delete(["a", "b"])
    errors = {"Errors": [{"Key": "a", "Code": "SlowDown"}, {"Key": "b", "Code": "SlowDown"}]}
    with (
        patch.object(s3, "delete_objects", return_value=errors),
        pytest.raises(TransientError, match="2 not deleted"),
    ):
        store.delete(["a", "b"])


def test_stores_pickle_without_their_client(s3: Any) -> None:
    store = S3ObjectStore(BUCKET, "p", clients=Clients(region="us-east-1"))
    store.put("k", b"v")
    assert store._client is not None
    copy = pickle.loads(pickle.dumps(store))
    assert copy._client is None
    assert (copy.bucket, copy.prefix) == (BUCKET, "p/")
    assert copy.get("k") == b"v"  # the copy builds its own client

    given = S3ObjectStore(BUCKET, "p", client=s3)
    assert pickle.loads(pickle.dumps(given)).get("k") == b"v"

    source = S3InputSource(client=s3, head_workers=3)
    source_copy = pickle.loads(pickle.dumps(source))
    assert source_copy._client is None and source_copy.head_workers == 3
    assert source_copy.list_inputs([f"s3://{BUCKET}/p/k"]) == [
        InputObject(f"s3://{BUCKET}/p/k", 1, None)
    ]


# -- input source ----------------------------------------------------------------


def test_a_compressed_objects_size_decompressed_is_one_ranged_get(s3: Any) -> None:
    """gzip: a GET of the last 4 bytes (the trailer); zstd: of the first 18
    (the frame header); xz: of the last 64 KiB at most (footer and index)."""
    import lzma

    import zstandard

    plain = b"a line of a log\n" * 5000
    bodies = {
        "a.gz": (gzip.compress(plain), "gzip trailer"),
        "a.zst": (zstandard.ZstdCompressor().compress(plain), "zstd frame header"),
        "a.xz": (lzma.compress(plain), "xz index"),
    }
    for key, (body, _) in bodies.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    source = S3InputSource(client=s3)
    objects = source.list_inputs([f"s3://{BUCKET}/"])
    ranges: list[str] = []
    original = s3.get_object

    def get_object(**params: Any) -> Any:
        ranges.append(params["Range"])
        return original(**params)

    with patch.object(s3, "get_object", get_object):
        told = {obj.uri.rsplit("/", 1)[1]: source.decompressed_size(obj) for obj in objects}
    assert told == {
        key: DecompressedSize(len(plain), True, how) for key, (_, how) in bodies.items()
    }
    sizes = {key: len(body) for key, (body, _) in bodies.items()}
    assert sorted(ranges) == sorted(
        [
            f"bytes={sizes['a.gz'] - 4}-{sizes['a.gz'] - 1}",
            "bytes=0-17",
            f"bytes=0-{sizes['a.xz'] - 1}",  # smaller than 64 KiB: the whole object
        ]
    )


def test_list_inputs_keys_prefixes_and_compression(s3: Any) -> None:
    plain = b"line one\nline two\n"
    packed = gzip.compress(plain)
    s3.put_object(Bucket=BUCKET, Key="logs/a.log", Body=packed)  # gzip under a plain name
    s3.put_object(Bucket=BUCKET, Key="logs/b.gz", Body=plain)  # plain text under a .gz name
    s3.put_object(Bucket=BUCKET, Key="logs/empty.log", Body=b"")
    s3.put_object(Bucket=BUCKET, Key="logs/sub/", Body=b"")  # a folder marker
    s3.put_object(Bucket=BUCKET, Key="logs/sub/c.log", Body=b"x")
    source = S3InputSource(client=s3)

    assert source.list_inputs([f"s3://{BUCKET}/logs/a.log"]) == [
        InputObject(f"s3://{BUCKET}/logs/a.log", len(packed), "gzip")
    ]
    assert source.list_inputs([f"s3://{BUCKET}/logs/"]) == [
        InputObject(f"s3://{BUCKET}/logs/a.log", len(packed), "gzip"),
        InputObject(f"s3://{BUCKET}/logs/b.gz", len(plain), None),
        InputObject(f"s3://{BUCKET}/logs/empty.log", 0, None),
        InputObject(f"s3://{BUCKET}/logs/sub/c.log", 1, None),
    ]
    # A key that is not an object but a folder means the folder, as a local path does.
    assert source.list_inputs([f"s3://{BUCKET}/logs/sub"]) == [
        InputObject(f"s3://{BUCKET}/logs/sub/c.log", 1, None)
    ]
    # Several URIs, in order; one thread when asked.
    serial = S3InputSource(client=s3, head_workers=1)
    assert [
        o.uri for o in serial.list_inputs([f"s3://{BUCKET}/logs/b.gz", f"s3://{BUCKET}/logs/a.log"])
    ] == [
        f"s3://{BUCKET}/logs/b.gz",
        f"s3://{BUCKET}/logs/a.log",
    ]

    raw = source.open_at(f"s3://{BUCKET}/logs/a.log", 0)
    with decompressing(raw, "gzip", "a.log") as stream:
        assert stream.read() == plain
    assert raw.closed  # closing the decompressor closes the S3 stream


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (f"s3://{BUCKET}/logs/missing.log", "no such S3 object or prefix"),
        (f"s3://{BUCKET}/nothing-here/", "no objects under"),
        (f"s3://{BUCKET}", "no objects under"),
        ("s3://no-such-bucket/key.log", "NoSuchBucket"),
        ("s3://no-such-bucket/logs/", "NoSuchBucket"),
    ],
)
def test_list_inputs_missing_is_input_not_found(s3: Any, uri: str, message: str) -> None:
    with pytest.raises(InputNotFoundError, match=message) as caught:
        S3InputSource(client=s3).list_inputs([uri])
    assert "\n" not in str(caught.value)


def test_open_at_streams_from_an_offset(s3: Any) -> None:
    data = bytes(range(256)) * 40
    s3.put_object(Bucket=BUCKET, Key="blob", Body=data)
    s3.put_object(Bucket=BUCKET, Key="empty", Body=b"")
    source = S3InputSource(client=s3)
    uri = f"s3://{BUCKET}/blob"
    with patch.object(s3, "get_object", wraps=s3.get_object) as spy:
        stream = source.open_at(uri, 1000)
    assert spy.call_args.kwargs["Range"] == "bytes=1000-"  # open-ended
    assert stream.readable()
    assert stream.read(10) == data[1000:1010]
    assert stream.read(5000) == data[1010:6010]
    assert stream.read() == data[6010:]
    assert stream.read(10) == b""
    stream.close()
    assert stream.closed

    with source.open_at(uri, 0) as whole:
        assert whole.read() == data
    buffer = bytearray(7)
    with source.open_at(uri, 3) as part:
        assert part.readinto(buffer) == 7
    assert bytes(buffer) == data[3:10]
    for offset in (len(data), len(data) + 10):
        with source.open_at(uri, offset) as past:
            assert past.read() == b""
    with source.open_at(f"s3://{BUCKET}/empty", 0) as empty:
        assert empty.read() == b""
    with pytest.raises(InputNotFoundError, match="vanished"):
        source.open_at(f"s3://{BUCKET}/gone", 0)
    with pytest.raises(InvalidParameterError, match="negative"):
        source.open_at(uri, -1)


def test_open_at_with_a_length_asks_for_that_range_only(s3: Any) -> None:
    """The planner's sample pieces: a bounded range, not the object's rest."""
    data = bytes(range(256)) * 40
    s3.put_object(Bucket=BUCKET, Key="blob", Body=data)
    source = S3InputSource(client=s3)
    uri = f"s3://{BUCKET}/blob"
    with patch.object(s3, "get_object", wraps=s3.get_object) as spy:
        with source.open_at(uri, 1000, 300) as piece:
            assert piece.read() == data[1000:1300]
        assert spy.call_args.kwargs["Range"] == "bytes=1000-1299"
        with source.open_at(uri, 0, 10) as head:
            assert head.read() == data[:10]
        assert spy.call_args.kwargs["Range"] == "bytes=0-9"
        with source.open_at(uri, len(data) - 5, 300) as tail:
            assert tail.read() == data[-5:]
        with source.open_at(uri, len(data), 300) as past:
            assert past.read() == b""


class _FailingBody:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.closed = False

    def read(self, size: int | None = None) -> bytes:
        raise self.error

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    "error",
    [
        ReadTimeoutError(endpoint_url="https://s3.example"),
        ResponseStreamingError(error="connection reset"),
        ConnectionResetError("reset by peer"),
    ],
)
def test_a_read_error_while_streaming_is_transient(error: Exception) -> None:
    body = _FailingBody(error)
    stream = S3Stream(body, "s3://b/k")
    with pytest.raises(TransientError, match="read s3://b/k") as caught:
        stream.read(10)
    assert caught.value.__cause__ is error
    stream.close()
    assert body.closed and stream.closed


LOG = (
    b"first line\n"
    b"\n"
    b"short\r\n"
    + b"a long line " * 10
    + b"\n"
    + b"".join(b"line %d with some text\n" % i for i in range(12))
    + b"x\n\n\ny\r\n"
    + b"no newline at the end"
)


def test_ranges_of_an_s3_object_read_every_line_once(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="log.txt", Body=LOG)
    source = S3InputSource(client=s3)
    uri = f"s3://{BUCKET}/log.txt"
    (obj,) = source.list_inputs([uri])
    assert obj.size == len(LOG)
    with source.open_at(uri, 0) as stream:
        blocks = iter_range_blocks(stream, 0, None, on_long_line=no_long_line)
        whole = [line for block in blocks for line in block]
    assert whole == [line.removesuffix(b"\r") for line in LOG.split(b"\n")]
    for chunk in (1, 7, 64, 333, len(LOG)):
        lines: list[bytes] = []
        for (piece,) in (task.pieces for task in cut([obj], chunk)):
            assert piece.end is not None
            with source.open_at(uri, max(piece.start - 1, 0)) as stream:
                blocks = iter_range_blocks(
                    stream, piece.start, piece.end, on_long_line=no_long_line, block_size=16
                )
                for block in blocks:
                    lines.extend(block)
        assert lines == whole, chunk
