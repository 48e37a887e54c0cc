"""S3 as the object store (job data under a prefix) and as an input source.

Both are thin I/O: the shared logic (JSON helpers, shuffle partition reads)
lives in ``ObjectStore``, line splitting in ``logmr.inputs.lines``. Every botocore
error is turned into a logmr error here (``logmr.aws.errors.translate``).

Reads are ranged GETs. An input stream is one open-ended GET
(``bytes=offset-``) read as the line reader asks, so memory follows the
reader's block size, not the size of the range or the object.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, cast

from botocore.exceptions import BotoCoreError, ClientError

from logmr import limits
from logmr.aws.clients import Clients, UsesClient
from logmr.aws.errors import classify, error_code, translate
from logmr.errors import InputChangedError, InputNotFoundError, InvalidParameterError
from logmr.inputs import globs
from logmr.inputs.dated import DatedListing, Listed
from logmr.inputs.source import (
    MAGIC_BYTES,
    DecompressedSize,
    InputObject,
    compression_of,
    read_decompressed_size,
)
from logmr.storage.base import ObjectStore

__all__ = ["DELETE_BATCH", "S3InputSource", "S3ObjectStore", "parse_s3_uri", "s3_uri"]

#: keys per DeleteObjects call (the S3 maximum)
DELETE_BATCH = limits.S3_PAGE_SIZE
#: parallel ranged GETs when reading the first bytes of many listed inputs
HEAD_WORKERS = 16

# Bucket names: 3-63 characters of letters, digits, dots, hyphens (and the
# underscores and capitals of legacy us-east-1 buckets), no slash or space.
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``"s3://bucket/some/key"`` → ``("bucket", "some/key")``; the key may be empty."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise InvalidParameterError(f"not an S3 URI (expected s3://bucket/key): {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise InvalidParameterError(f"S3 URI without a bucket name: {uri!r}")
    if not _BUCKET.fullmatch(bucket):
        raise InvalidParameterError(f"not a valid S3 bucket name in {uri!r}: {bucket!r}")
    return bucket, key


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def _is_invalid_range(exc: BaseException) -> bool:
    """S3's answer (416 InvalidRange) to a range starting at or past the end."""
    code, status = error_code(exc)
    return code == "InvalidRange" or status == 416


def _read_body(response: dict[str, Any], what: str) -> bytes:
    body = response["Body"]
    try:
        data: bytes = body.read()
    except (BotoCoreError, ClientError, OSError) as exc:
        raise translate(exc, what) from exc
    finally:
        body.close()
    return data


def _list_objects(client: Any, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
    """``(key, size)`` of every object under ``prefix``, in key order (ListObjectsV2 pages)."""
    for page in _pages(client, {"Bucket": bucket, "Prefix": prefix}):
        for item in page.get("Contents", ()):
            yield item["Key"], int(item.get("Size", 0))


def _list_level(client: Any, bucket: str, prefix: str) -> tuple[Listed, list[str]]:
    """The objects directly under ``prefix`` (``(key, size)``) and the
    sub-folders' prefixes: ListObjectsV2 with ``Delimiter="/"``."""
    objects: Listed = []
    folders: list[str] = []
    for page in _pages(client, {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}):
        objects += [(item["Key"], int(item.get("Size", 0))) for item in page.get("Contents", ())]
        folders += [item["Prefix"] for item in page.get("CommonPrefixes", ())]
    return objects, folders


def _pages(client: Any, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every ListObjectsV2 page of a listing."""
    while True:
        try:
            page = client.list_objects_v2(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise translate(exc, f"list {s3_uri(kwargs['Bucket'], kwargs['Prefix'])}") from exc
        yield page
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return
        kwargs = {**kwargs, "ContinuationToken": token}


class S3ObjectStore(UsesClient, ObjectStore):
    """Job data in a bucket: object ``key`` lives at ``prefix + key``.

    Keys are given and returned relative to the prefix, as the local folder
    store's are relative to its root. A prefix without a trailing ``/`` gets
    one: the prefix is a folder.
    """

    service = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        client: Any = None,
        clients: Clients | None = None,
    ) -> None:
        super().__init__(client, clients)
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"

    @classmethod
    def from_uri(
        cls, uri: str, client: Any = None, clients: Clients | None = None
    ) -> S3ObjectStore:
        """The store rooted at ``s3://bucket/prefix``."""
        bucket, prefix = parse_s3_uri(uri)
        return cls(bucket, prefix, client=client, clients=clients)

    def _uri(self, key: str) -> str:
        return s3_uri(self.bucket, self.prefix + key)

    def location(self, key: str) -> str:
        """The object's key in the bucket (what a Distributed Map's ItemReader reads)."""
        return self.prefix + key

    def put(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise translate(exc, f"put {self._uri(key)}") from exc

    def get(self, key: str) -> bytes:
        what = f"get {self._uri(key)}"
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        except (BotoCoreError, ClientError) as exc:
            raise translate(exc, what) from exc
        return _read_body(response, what)

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)``: one GET with ``Range: bytes=start-(end-1)``.

        S3 answers a range past the end with what there is, and a range
        starting at or past the end (any range of an empty object) with
        416 InvalidRange, which is b"" here, as a local file read gives.
        """
        if start < 0:
            raise InvalidParameterError(f"negative range start {start} for {self._uri(key)}")
        if end <= start:
            return b""
        what = f"get {self._uri(key)} bytes {start}-{end - 1}"
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=self.prefix + key, Range=f"bytes={start}-{end - 1}"
            )
        except ClientError as exc:
            if _is_invalid_range(exc):
                return b""
            raise translate(exc, what) from exc
        except BotoCoreError as exc:
            raise translate(exc, what) from exc
        return _read_body(response, what)

    def size(self, key: str) -> int:
        """One HEAD: the object's ``ContentLength``."""
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except (BotoCoreError, ClientError) as exc:
            raise translate(exc, f"head {self._uri(key)}") from exc
        return int(response["ContentLength"])

    def list_keys(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` (relative to the store's prefix), sorted.

        S3 lists keys in UTF-8 byte order, which is Python's str order. "Folder"
        markers (keys ending in ``/``) are left out, as a folder has no files.
        """
        cut = len(self.prefix)
        return [
            key[cut:]
            for key, _ in _list_objects(self.client, self.bucket, self.prefix + prefix)
            if not key.endswith("/")
        ]

    def delete(self, keys: Iterable[str]) -> None:
        """Delete ``keys`` (missing ones are fine), up to 1,000 per DeleteObjects call."""
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == DELETE_BATCH:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, keys: list[str]) -> None:
        objects = [{"Key": self.prefix + key} for key in keys]
        what = f"delete {len(keys)} objects under {s3_uri(self.bucket, self.prefix)}"
        try:
            response = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
            )
        except (BotoCoreError, ClientError) as exc:
            raise translate(exc, what) from exc
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            code = str(first.get("Code", ""))
            raise classify(code, 0)(
                f"{what}: {len(errors)} not deleted, first {first.get('Key')!r}: {code}"
            )


class S3Stream(io.RawIOBase):
    """A GET's body as a readable binary stream.

    ``read(n)`` reads at most ``n`` bytes from the connection; a network fault
    while streaming becomes ``TransientError``; ``close()`` releases the
    connection.
    """

    def __init__(self, body: Any, uri: str) -> None:
        self._body = body
        self._uri = uri

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        try:
            data: bytes = self._body.read(None if size is None or size < 0 else size)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise translate(exc, f"read {self._uri}") from exc
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any, /) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3InputSource(UsesClient):
    """Input logs in S3: ``s3://bucket/key`` or ``s3://bucket/prefix/``.

    Implements ``logmr.inputs.source.InputSource``. A URI ending in ``/`` (or a bare
    bucket) is a prefix and means every object under it; otherwise it is one
    object, or, if there is no such object, the folder ``key/`` (as a local
    folder path without a trailing slash means the folder).
    """

    service = "s3"

    def __init__(
        self,
        client: Any = None,
        clients: Clients | None = None,
        *,
        head_workers: int = HEAD_WORKERS,
    ) -> None:
        super().__init__(client, clients)
        self.head_workers = max(1, head_workers)

    def list_inputs(
        self, uris: Iterable[str], listing: DatedListing | None = None
    ) -> list[InputObject]:
        """Every object the URIs name, with its size and compression.

        Raises ``InputNotFoundError`` for a missing object, bucket or an empty
        prefix. Compression comes from each object's first bytes (one small
        ranged GET per non-empty object, several at a time). With a
        ``listing``: only the objects that may hold records within its window
        (``inputs.dated``): date folders outside it are never listed, objects
        outside it by their key never read.
        """
        listed: list[tuple[str, str, int]] = []
        for uri in uris:
            bucket, key = parse_s3_uri(uri)
            found = self._objects(uri, bucket, key, listing)
            listed.extend((bucket, k, size) for k, size in found)
        if len(listed) <= 1 or self.head_workers == 1:
            return [self._describe(*item) for item in listed]
        with ThreadPoolExecutor(max_workers=min(self.head_workers, len(listed))) as pool:
            return list(pool.map(lambda item: self._describe(*item), listed))

    def _objects(
        self, uri: str, bucket: str, key: str, listing: DatedListing | None = None
    ) -> list[tuple[str, int]]:
        if globs.is_pattern(key):  # listed from its literal part, matched key by key
            match = globs.key_regex(key).fullmatch
            found = [
                item for item in self._folder(bucket, globs.literal_prefix(key)) if match(item[0])
            ]
            if not found:
                raise InputNotFoundError(f"no object matches {uri}")
            if listing is None:
                return found
            return listing.kept(found, lambda name: s3_uri(bucket, name))
        if not key or key.endswith("/"):
            return self._some_folder(bucket, key, listing, f"no objects under {uri}")
        if listing is not None and not listing.keeps(uri, key):
            return []  # named, but outside the window by its key: not even a HEAD
        try:
            head = self.client.head_object(Bucket=bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            error = translate(exc, f"head {uri}")
            if not isinstance(error, InputNotFoundError):
                raise error from exc
            missing = f"no such S3 object or prefix: {uri}"
            # raises for a missing bucket
            return self._some_folder(bucket, key + "/", listing, missing)
        return [(key, int(head.get("ContentLength", 0)))]

    def _some_folder(
        self, bucket: str, prefix: str, listing: DatedListing | None, missing: str
    ) -> list[tuple[str, int]]:
        """The objects under ``prefix``, within the listing's window if any;
        ``InputNotFoundError(missing)`` when there are none (and none was left out)."""
        if listing is None:
            found = self._folder(bucket, prefix)
        else:
            skipped = listing.skipped
            found = listing.walk(
                prefix,
                lambda level: _list_level(self.client, bucket, level),
                lambda under: self._folder(bucket, under),
                location=lambda key: s3_uri(bucket, key),
            )
            found = [(key, size) for key, size in found if not key.endswith("/")]
            if not found and listing.skipped > skipped:
                return found
        if not found:
            raise InputNotFoundError(missing)
        return found

    def _folder(self, bucket: str, prefix: str) -> list[tuple[str, int]]:
        return [
            (key, size)
            for key, size in _list_objects(self.client, bucket, prefix)
            if not key.endswith("/")
        ]

    def _describe(self, bucket: str, key: str, size: int) -> InputObject:
        uri = s3_uri(bucket, key)
        if size == 0:
            return InputObject(uri, 0, None)
        what = f"get {uri} bytes 0-{MAGIC_BYTES - 1}"
        try:
            response = self.client.get_object(
                Bucket=bucket, Key=key, Range=f"bytes=0-{MAGIC_BYTES - 1}"
            )
        except ClientError as exc:
            if _is_invalid_range(exc):  # emptied since it was listed
                return InputObject(uri, 0, None)
            raise translate(exc, what) from exc
        except BotoCoreError as exc:
            raise translate(exc, what) from exc
        kind = compression_of(_read_body(response, what), uri)
        modified = response.get("LastModified")
        return InputObject(
            uri,
            size,
            kind,
            str(response.get("ETag") or ""),
            modified.timestamp() if modified is not None else None,
        )

    def open_at(
        self, uri: str, offset: int, length: int | None = None, version: str = ""
    ) -> BinaryIO:
        """A stream of the object from ``offset`` to its end (``Range:
        bytes=offset-``), or of ``length`` bytes (``bytes=offset-last``);
        ``version``: the ETag it must still have (``If-Match``: one GET reads
        one version, and another is ``InputChangedError``).

        An offset at or past the end gives an empty stream.
        """
        if offset < 0:
            raise InvalidParameterError(f"negative offset {offset} for {uri}")
        bucket, key = parse_s3_uri(uri)
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if length is not None:
            kwargs["Range"] = f"bytes={offset}-{offset + max(length, 1) - 1}"
        elif offset:
            kwargs["Range"] = f"bytes={offset}-"
        if version:
            kwargs["IfMatch"] = version
        try:
            response = self.client.get_object(**kwargs)
        except ClientError as exc:
            if error_code(exc)[0] == "PreconditionFailed":
                raise InputChangedError(
                    f"{uri} was overwritten since the job was planned (its ETag is no"
                    f" longer {version}): run the job again"
                ) from None
            if _is_invalid_range(exc):
                return cast(BinaryIO, io.BytesIO(b""))
            error = translate(exc, f"get {uri} from byte {offset}")
            if isinstance(error, InputNotFoundError):
                error = InputNotFoundError(f"input vanished before it was read: {uri}")
            raise error from exc
        except BotoCoreError as exc:
            raise translate(exc, f"get {uri} from byte {offset}") from exc
        return cast(BinaryIO, S3Stream(response["Body"], uri))

    def decompressed_size(self, obj: InputObject) -> DecompressedSize:
        """One ranged GET of the object's trailer, index or frame header."""
        return read_decompressed_size(self, obj)

    def verify(self, uri: str, version: str) -> None:
        """Nothing: ``open_at``'s If-Match made the one GET read ``version``."""
