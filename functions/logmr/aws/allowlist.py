"""Which inputs a job on AWS may read: allowed buckets and key prefixes.

The stack passes the same value to the IAM grants and to Plan's environment
(``LOGMR_INPUT_BUCKETS``, ``LOGMR_INPUT_PREFIXES``, comma-separated; the
buckets default to ``LOGMR_BUCKET``, the prefixes to ``incoming/``), so Plan
refuses an input the functions could not read anyway, with a one-line
``InputNotAllowedError`` before it lists anything, instead of an
``AccessDenied`` half-way through. A prefix always ends with ``/``: the input
``s3://b/incoming`` (which would also list ``incoming2/``) is not under
``incoming/``.

Logs may also be read where they already are, in other buckets (an ALB's or
a CloudFront distribution's log bucket): ``LOGMR_INPUT_LOCATIONS`` lists
``s3://bucket/prefix/`` locations, each an allowed bucket with its own
prefix (``parse_location``; the stack's ``logmr:inputLocations`` context,
from which its grants come too; docs/deploying.md).

Keys are not normalised by S3 (``a/../b`` is a key of its own), but a proxy or
a tool on the way may well resolve it, so ``.`` and ``..`` segments are
refused outright, as are empty keys (the whole bucket) and anything that is
not an ``s3://`` URI. The local engine reads local paths and is not
restricted here: its user reads with their own rights.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from logmr import jobs
from logmr.config import ENV_INPUT_LOCATIONS, ENV_JOB_MODULES, Settings
from logmr.errors import InputNotAllowedError, InvalidJobError

SCHEME = "s3://"
#: longest part of a refused URI quoted in the error (the message stays one line)
QUOTED_CHARS = 200
#: an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def parse_location(text: str) -> tuple[str, str]:
    """``s3://bucket/prefix/`` as ``(bucket, prefix)``: the prefix ends with
    ``/`` (one is added), ``""`` for the whole bucket. ``ValueError`` naming
    what is wrong: not an ``s3://`` URI, no bucket name, a ``.``/``..``
    segment, a ``*`` or a comma (the value travels comma-separated and
    becomes an IAM resource)."""
    if not text.startswith(SCHEME):
        raise ValueError(f"input location {text!r} is not an s3://bucket/prefix/ URI")
    bucket, _, prefix = text[len(SCHEME) :].partition("/")
    if not _BUCKET_NAME.fullmatch(bucket):
        raise ValueError(f"input location {text!r}: {bucket!r} is not an S3 bucket name")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    segments = prefix.split("/")[:-1]
    if any(segment in ("", ".", "..") for segment in segments) or any(c in prefix for c in "*?,"):
        raise ValueError(
            f"input location {text!r}: a prefix of plain folder names (no empty, '.' or '..'"
            " segment, no '*', '?' or ',')"
        )
    return bucket, prefix


def _quoted(uri: str) -> str:
    text = uri if len(uri) <= QUOTED_CHARS else uri[:QUOTED_CHARS] + "..."
    return repr(text)  # repr escapes newlines and control characters


@dataclass(frozen=True)
class InputAllowList:
    """Allowed buckets and key prefixes (each prefix ending with ``/``), and
    locations of other buckets, each a bucket with its own prefix."""

    buckets: tuple[str, ...]
    prefixes: tuple[str, ...]
    #: ``(bucket, prefix)`` pairs (``parse_location``)
    locations: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        prefixes = tuple(p if p.endswith("/") else p + "/" for p in self.prefixes if p)
        object.__setattr__(self, "prefixes", prefixes)

    @classmethod
    def from_settings(cls, settings: Settings) -> InputAllowList:
        try:
            locations = tuple(map(parse_location, settings.input_locations))
        except ValueError as exc:
            raise InputNotAllowedError(f"the stack's {ENV_INPUT_LOCATIONS}: {exc}") from None
        return cls(settings.allowed_buckets, settings.input_prefixes, locations)

    def check(self, uri: str) -> tuple[str, str]:
        """``(bucket, key)`` of an allowed input, else ``InputNotAllowedError``."""
        if not isinstance(uri, str) or not uri.startswith(SCHEME):
            raise InputNotAllowedError(
                f"input {_quoted(str(uri))} is not an s3:// URI: a job on AWS reads S3 only"
            )
        bucket, _, key = uri[len(SCHEME) :].partition("/")
        prefixes = self._prefixes_of(bucket)
        if not prefixes:
            known = dict.fromkeys([*self.buckets, *(b for b, _ in self.locations)])
            allowed = ", ".join(known) or "none configured"
            raise InputNotAllowedError(
                f"input {_quoted(uri)}: bucket {bucket!r} is not an input bucket ({allowed})"
            )
        if not key:
            raise InputNotAllowedError(
                f"input {_quoted(uri)} names no key: give an object or a prefix under "
                f"{_text(prefixes)}"
            )
        if any(segment in (".", "..") for segment in key.split("/")):
            raise InputNotAllowedError(f"input {_quoted(uri)} has a '.' or '..' segment")
        if not key.startswith(prefixes):
            raise InputNotAllowedError(
                f"input {_quoted(uri)} is outside the input prefixes ({_text(prefixes)})"
            )
        return bucket, key

    def _prefixes_of(self, bucket: str) -> tuple[str, ...]:
        """The prefixes ``bucket`` may be read under (none: not an input bucket)."""
        own = self.prefixes if bucket in self.buckets else ()
        return own + tuple(prefix for name, prefix in self.locations if name == bucket)

    def check_all(self, uris: Iterable[str]) -> None:
        for uri in uris:
            self.check(uri)


def _text(prefixes: tuple[str, ...]) -> str:
    return ", ".join(prefix or "(the whole bucket)" for prefix in prefixes) or "none configured"


def check_inputs(uris: Iterable[str], settings: Settings) -> None:
    """Every URI in an allowed bucket under an allowed prefix (from ``settings``)."""
    InputAllowList.from_settings(settings).check_all(uris)


def check_job(name: str, settings: Settings) -> None:
    """A job on AWS is a built-in one, or a class of a module the stack allows
    (``LOGMR_JOB_MODULES``: a listed package allows its submodules): checked
    before anything is imported, so a request can never run a module's
    top-level code by naming it. Else ``InvalidJobError``."""
    if jobs.is_builtin(name):
        return
    module, _ = jobs.job_module(name)
    allowed = settings.job_modules
    if not any(module == root or module.startswith(root + ".") for root in allowed):
        raise InvalidJobError(
            f"job module {module!r} is not allowed on AWS ({ENV_JOB_MODULES}:"
            f" {', '.join(allowed) or 'none: built-in jobs only'})"
        )
