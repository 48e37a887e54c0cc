"""The embedded default: a folder for job objects and SQLite for results;
inputs are local paths or ``s3://`` URIs (read with the default AWS credentials,
or ``AWS_ENDPOINT_URL`` for LocalStack)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from logmr.config import Settings
from logmr.errors import LocalStoreError
from logmr.inputs.dated import DatedListing
from logmr.inputs.source import (
    DecompressedSize,
    InputObject,
    InputSource,
    LocalInputSource,
)
from logmr.storage.backends import Backends
from logmr.storage.folder import FolderObjectStore
from logmr.storage.sqlite import SqliteResultStore


class LocalOrS3Inputs:
    """Local paths, and ``s3://`` URIs through a lazily built S3 input source."""

    def __init__(self) -> None:
        self.local = LocalInputSource()
        self._s3: Any = None

    def _source(self, uri: str) -> InputSource:
        if not uri.startswith("s3://"):
            return self.local
        if self._s3 is None:
            from logmr.aws.s3 import S3InputSource

            self._s3 = S3InputSource()
        source: InputSource = self._s3
        return source

    def list_inputs(
        self, uris: Iterable[str], listing: DatedListing | None = None
    ) -> list[InputObject]:
        found: list[InputObject] = []
        for uri in uris:
            found += self._source(uri).list_inputs([uri], listing)
        return found

    def open_at(
        self, uri: str, offset: int, length: int | None = None, version: str = ""
    ) -> BinaryIO:
        return self._source(uri).open_at(uri, offset, length, version)

    def verify(self, uri: str, version: str) -> None:
        self._source(uri).verify(uri, version)

    def decompressed_size(self, obj: InputObject) -> DecompressedSize:
        return self._source(obj.uri).decompressed_size(obj)

    def __getstate__(self) -> dict[str, Any]:
        return {"local": self.local, "_s3": None}


def embedded_backends(settings: Settings) -> Backends:
    """The folder and SQLite file under ``settings.home`` (``LocalStoreError``
    when it is no folder logmr can use)."""
    check_home(settings.home)
    return Backends(
        inputs=LocalOrS3Inputs(),
        objects=FolderObjectStore(objects_folder(settings)),
        results=SqliteResultStore(results_file(settings)),
    )


def objects_folder(settings: Settings) -> Path:
    """The folder of the object store: a job's objects, its spooled input."""
    return settings.home / "objects"


def results_file(settings: Settings) -> Path:
    """The SQLite file of job records and each reducer's best results."""
    return settings.home / "logmr.sqlite"


def logs_folder(settings: Settings) -> Path:
    """The folder of the worker processes' log files (``engine.worker``)."""
    return settings.home / "logs"


def check_home(home: Path) -> None:
    """``home`` is a folder logmr can write in, or can be made one."""
    try:
        home.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise LocalStoreError(
            f"{home} (LOGMR_HOME) is a file, not a folder: give a folder with --home or LOGMR_HOME"
        ) from None
    except OSError as exc:
        raise LocalStoreError(
            f"{home} (LOGMR_HOME) cannot be made: {exc.strerror}; give another folder"
            " with --home or LOGMR_HOME"
        ) from None
