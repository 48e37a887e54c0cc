"""The project's exception names.

Step Functions matches a Lambda error by the exception's class name, so these
names are part of the contract with ``statemachine/*.asl.json``: Retry lists
``TransientError``; every other ``LogmrError`` is permanent and is caught into
MarkFailed at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable


class LogmrError(Exception):
    """Base of every error logmr raises on purpose."""


class TransientError(LogmrError):
    """A fault worth retrying: throttling, a 5xx, a timeout at a storage edge."""


class PermanentError(LogmrError):
    """A fault a retry cannot mend."""


class InvalidJobError(PermanentError):
    """Unknown job name, or a job module that cannot be loaded."""


class InvalidParameterError(PermanentError):
    """A job parameter that is unknown, missing or of the wrong type or value."""


class QueryError(InvalidParameterError):
    """A query that cannot run: its syntax, an unknown field, an unsupported
    command or function, a regex RE2 refuses; the message names the place
    (``line:column``) and what was expected there."""


class AmbiguousJobError(PermanentError):
    """A job id prefix that starts several job ids (``logmr status PREFIX``)."""


class UnknownFormatError(PermanentError):
    """A log format name logmr does not know."""


class FormatMismatchError(PermanentError):
    """The job needs a field that the chosen format does not have."""


class InputNotFoundError(PermanentError):
    """An input path, key or prefix that does not exist."""


class EmptyInputError(PermanentError):
    """The inputs exist but hold no bytes at all."""


class CorruptShuffleError(PermanentError):
    """A shuffle object that fails its magic, version, length or checksum test."""


class CorruptPartError(PermanentError):
    """A part file that is not a Parquet file with logmr's column map, or not its version."""


class CorruptJobDataError(PermanentError):
    """A job data object (a task summary, the manifest) that is not what a
    task wrote: cut short or overwritten."""


class CorruptInputError(PermanentError):
    """A compressed input that cannot be decompressed (truncated or not compressed)."""


class InputChangedError(PermanentError):
    """An input changed between Plan and a read: replaced, truncated, or
    (on S3) overwritten; counting it would mix two versions."""


class InputUnreadableError(PermanentError):
    """An input (or a folder under one) exists but cannot be read."""


class UnsupportedInputError(PermanentError):
    """An input in a compression or text encoding logmr does not read (named)."""


class InputNotAllowedError(PermanentError):
    """An input outside the buckets and key prefixes a job on AWS may read."""


class JobNotFoundError(PermanentError):
    """A job id with no job record."""


class JobExistsError(PermanentError):
    """The job id belongs to another run: results are never mixed."""


class LocalStoreError(PermanentError):
    """The store on this machine (``LOGMR_HOME``) cannot be used: not a
    folder, not writable (a read-only file system included), or its results
    database is damaged."""


class StorageFullError(LocalStoreError):
    """The disk (or the user's quota) under ``LOGMR_HOME`` is full: permanent
    for Retry's purpose, since a retry a few seconds later meets the same full
    disk; the job fails at once, naming the path, and runs again once there is
    room."""


class StateMachineNotFoundError(PermanentError):
    """No deployed state machine has the given name or ARN (or several match)."""


def error_name(exc: BaseException) -> str:
    """The name Retry/Catch and job records use for ``exc``."""
    return type(exc).__name__


def cause_message(cause: str) -> str:
    """A Lambda error's cause is its JSON payload: keep the message."""
    try:
        payload = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(payload, dict) and "errorMessage" in payload:
        return str(payload["errorMessage"])
    return cause


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``" (did you mean status_codes?)"``: the known name nearest ``name``
    (``difflib``'s ratio at least 0.6, case and ``-``/``_`` aside), or ``""``."""
    import difflib

    names = {each.lower().replace("-", "_"): each for each in known}
    found = difflib.get_close_matches(name.lower().replace("-", "_"), names, n=1, cutoff=0.6)
    return f" (did you mean {names[found[0]]}?)" if found else ""
