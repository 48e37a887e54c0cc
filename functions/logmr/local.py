"""The embedded default: a folder for job objects and SQLite for results."""

from __future__ import annotations

from logmr.config import Settings
from logmr.inputs import LocalInputSource
from logmr.storage.local import LocalObjectStore
from logmr.storage.sqlite import SqliteResultStore
from logmr.tasks import Backends


def local_backends(settings: Settings) -> Backends:
    return Backends(
        inputs=LocalInputSource(),
        objects=LocalObjectStore(settings.home / "objects"),
        results=SqliteResultStore(settings.home / "logmr.sqlite"),
    )
