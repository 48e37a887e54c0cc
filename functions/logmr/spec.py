"""The shapes that travel between the tasks: a job's specification and its
map tasks. Small JSON objects (pointers and counts, never data), the same for
the Lambda events, the state machine and the local runners."""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from logmr import limits
from logmr.errors import InvalidParameterError
from logmr.timerange import TimeRange, resolve


def new_job_id(job: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    # ASCII only: check_job_id refuses other letters and digits ("é", "²")
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in job)[-40:]
    return f"{safe}-{stamp}-{secrets.token_hex(3)}"


_JOB_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def check_job_id(job_id: str) -> str:
    if not job_id or len(job_id) > 80 or not set(job_id) <= _JOB_ID_CHARS or job_id[0] == ".":
        raise InvalidParameterError(
            f"job id {job_id!r} must be 1-80 characters of letters, digits, '-', '_' and '.'"
        )
    return job_id


MAP_MODES = ("auto", "inline", "distributed")
#: salted keys a spec may carry, and their length: the spec travels in every
#: Step Functions payload (256 KiB at most)
MAX_SALTED_KEYS = 10
MAX_SALTED_KEY_CHARS = 512


def _salted_keys(value: Any) -> list[str]:
    """A request's ``salted_keys``: a list of strings (a lone string is one key)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(key, str) for key in value):
        raise TypeError(f"salted_keys must be a list of strings, got {value!r}")
    return list(dict.fromkeys(value))


def _counts(value: Any) -> dict[str, int]:
    """A spec's counts by name (``JobSpec.formats``, ...)."""
    return {str(name): int(count) for name, count in (value or {}).items()}


#: beyond this many map tasks, "auto" chooses the Distributed Map: an inline Map
#: runs at most 40 iterations at a time and carries its items in the state
#: (256 KiB), a Distributed Map reads them from S3 and runs up to 10,000 at once
INLINE_MAP_MAX_TASKS = limits.INLINE_MAP_CONCURRENCY
#: the highest MaxConcurrency a request may ask for
MAX_REQUESTED = limits.MAX_MAP_CONCURRENCY
#: the most reducers a request may ask for: what the Reduce state (an inline
#: Map) can run within an execution's history (``limits.MAX_REDUCE_TASKS``)
MAX_REDUCERS = limits.MAX_REDUCE_TASKS
#: the smallest chunk size a request may ask for (``limits.MIN_CHUNK_SIZE``)
MIN_CHUNK_SIZE = limits.MIN_CHUNK_SIZE


@dataclass(frozen=True)
class JobSpec:
    """What to run: everything a task needs to rebuild the job and its format."""

    job_id: str
    job: str
    inputs: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    format: str = "auto"
    format_options: dict[str, str] = field(default_factory=dict)
    #: 0: chosen by the planner (logmr.plan.tuning); Plan's output spec holds the figure
    reducers: int = 0
    #: bytes per map task; 0: chosen by the planner
    chunk_size: int = 0
    #: "auto" (inline Map up to INLINE_MAP_MAX_TASKS tasks, else Distributed Map),
    #: "inline" or "distributed"
    map_mode: str = "auto"
    #: Map states' MaxConcurrency; 0: chosen by the planner
    max_concurrency: int = 0
    #: hot keys spread over every reducer (``logmr.plan.sample.choose_salted_keys``):
    #: a map task sends such a key's pair to another bucket per task
    #: (``mapreduce.partition.salted_bucket``), the reducers combine it and
    #: Finalize reduces it; empty: chosen by the planner
    salted_keys: list[str] = field(default_factory=list)
    #: hash buckets a map task partitions into (``mapreduce.partition.buckets_for``,
    #: at least ``reducers``); 0: chosen by the planner. Reduce, planned after
    #: Map, gives each reducer a contiguous group of them
    buckets: int = 0
    #: the time range of the records counted, ``[since, until)``, as absolute UTC
    #: RFC 3339 text (``""``: unbounded); a request's relative bound (``-1h``)
    #: is resolved once, by ``request_to_spec`` (``logmr.timerange``)
    since: str = ""
    until: str = ""
    #: what Plan found in the inputs, said in the job record (a request
    #: cannot set these): the objects read in each format (``"auto"``
    #: resolved per object: ``plan.formats``), ...
    formats: dict[str, int] = field(default_factory=dict)
    #: ... in each compression (``"none"``: plain text), ...
    compression: dict[str, int] = field(default_factory=dict)
    #: ... and, for BSD syslog (no year in its lines), the objects read with
    #: each value of the format option ``year`` and where it came from
    #: (``"2026-12 (modification time)"``, ``"2020 (format option)"``)
    years: dict[str, int] = field(default_factory=dict)
    #: ... and what ``auto`` found of each format detected, when it says
    #: (``Format.describe_sample``: trailing fields, a JSON logger's keys)
    variants: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        try:
            spec = cls(
                job_id=check_job_id(str(data["job_id"])),
                job=str(data["job"]),
                inputs=[str(uri) for uri in data["inputs"]],
                params=dict(data.get("params") or {}),
                format=str(data.get("format") or "auto"),
                format_options={
                    str(k): str(v) for k, v in (data.get("format_options") or {}).items()
                },
                reducers=int(data.get("reducers") or 0),
                chunk_size=int(data.get("chunk_size") or 0),
                map_mode=str(data.get("map_mode") or "auto"),
                max_concurrency=int(data.get("max_concurrency") or 0),
                salted_keys=_salted_keys(data.get("salted_keys")),
                buckets=int(data.get("buckets") or 0),
                since=str(data.get("since") or ""),
                until=str(data.get("until") or ""),
                formats=_counts(data.get("formats")),
                compression=_counts(data.get("compression")),
                years=_counts(data.get("years")),
                variants={str(k): str(v) for k, v in (data.get("variants") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidParameterError(f"malformed job specification: {exc!r}") from None
        if spec.reducers < 0 or spec.reducers > MAX_REDUCERS:
            raise InvalidParameterError(
                f"reducers must be 1..{MAX_REDUCERS:,} (0: chosen by the planner), got"
                f" {spec.reducers:,}: the Reduce state, an inline Map, runs at most"
                f" {MAX_REDUCERS:,} reducers within an execution's"
                f" {limits.MAX_HISTORY_EVENTS:,} history events"
            )
        if spec.chunk_size < 0 or 0 < spec.chunk_size < MIN_CHUNK_SIZE:
            raise InvalidParameterError(
                f"chunk_size must be at least {MIN_CHUNK_SIZE:,} bytes (64 KiB; 0: chosen by"
                f" the planner), got {spec.chunk_size:,}: a map task's fixed output (its"
                " shuffle index and summary) would outweigh a smaller range"
            )
        if not spec.inputs:
            raise InvalidParameterError("no inputs given")
        if spec.map_mode not in MAP_MODES:
            raise InvalidParameterError(f"map_mode must be one of {', '.join(MAP_MODES)}")
        if not 0 <= spec.max_concurrency <= MAX_REQUESTED:
            raise InvalidParameterError(
                f"max_concurrency must be 1..{MAX_REQUESTED} (0: chosen by the planner),"
                f" got {spec.max_concurrency}"
            )
        if spec.buckets < 0 or (spec.buckets and spec.buckets < spec.reducers):
            raise InvalidParameterError(
                f"buckets must be at least the reducers ({spec.reducers}; 0: chosen by the"
                f" planner), got {spec.buckets}"
            )
        if len(spec.salted_keys) > MAX_SALTED_KEYS or any(
            len(key) > MAX_SALTED_KEY_CHARS for key in spec.salted_keys
        ):
            raise InvalidParameterError(
                f"salted_keys: at most {MAX_SALTED_KEYS} keys of at most"
                f" {MAX_SALTED_KEY_CHARS} characters each"
            )
        spec.time_range  # noqa: B018 - refuses a bound that is not absolute, an empty range
        return spec

    @property
    def time_range(self) -> TimeRange | None:
        """The range of records counted (``None``: every record)."""
        return TimeRange.of(self.since, self.until)

    @property
    def planned(self) -> bool:
        """Reducers, buckets, chunk size and concurrency are figures (Plan has run)."""
        return bool(self.reducers and self.buckets and self.chunk_size and self.max_concurrency)


#: the largest JSON of one map task (``json_size(task.to_dict())``): each Map
#: iteration's input is ``{spec, task}``, at most ``limits.MAX_PAYLOAD_BYTES``
#: (256 KiB), and this leaves three quarters of it to the spec. Plan closes a
#: group of small objects before its pieces would pass it (``plan.cutting``)
MAX_TASK_JSON_BYTES = limits.MAX_PAYLOAD_BYTES // 4
#: the largest JSON of an inline Map's map tasks together: they travel in
#: Plan's output, the inline Map state's input (256 KiB), with the spec; past
#: it, "auto" chooses the Distributed Map, whose items are read from S3
INLINE_MAP_MAX_JSON_BYTES = limits.MAX_PAYLOAD_BYTES // 4


@dataclass(frozen=True)
class Piece:
    """One byte range of one input object: the lines that start in
    ``[start, end)`` (``inputs.lines``); ``end`` None: the whole object,
    decompressed as a stream (a compressed object is never cut)."""

    uri: str
    start: int
    end: int | None
    compression: str | None = None
    #: the object's version Plan listed (``InputObject.version``): checked by the reads
    version: str = ""

    def to_dict(self) -> dict[str, Any]:
        # by hand: ``asdict`` (a deep copy) was most of cutting 50,000 objects
        return {
            "uri": self.uri,
            "start": self.start,
            "end": self.end,
            "compression": self.compression,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Piece:
        compression = data.get("compression")
        return cls(
            uri=str(data["uri"]),
            start=int(data["start"]),
            end=None if data.get("end") is None else int(data["end"]),
            compression=None if compression is None else str(compression),
            version=str(data.get("version") or ""),
        )

    @property
    def size(self) -> int | None:
        """The stored bytes of the range (``None``: a whole compressed object)."""
        return None if self.end is None else self.end - self.start


@dataclass(frozen=True)
class MapTask:
    """One map task: pieces of one or more input objects, read in order (a
    range of a large object, or consecutive small objects grouped up to the
    chunk size: ``plan.cutting``). Its dict, which travels in the Map states'
    items: ``{"task": n, "pieces": [{"uri", "start", "end", "compression",
    "version"}, ...]}``, and ``"format"`` and ``"format_options"`` when its
    objects are read in another format than the spec's (inputs of several
    formats, ``plan.formats``: a task's pieces share one)."""

    task: int
    pieces: tuple[Piece, ...]
    #: the format its pieces are read in, with all its options (``""``: the spec's)
    format: str = ""
    format_options: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "task": self.task,
            "pieces": [piece.to_dict() for piece in self.pieces],
        }
        if self.format:
            data["format"] = self.format
            data["format_options"] = dict(self.format_options)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MapTask:
        try:
            pieces = data["pieces"]
            if not isinstance(pieces, list) or not pieces:
                raise ValueError(f"pieces must be a non-empty list, got {pieces!r}")
            options = data.get("format_options") or {}
            return cls(
                task=int(data["task"]),
                pieces=tuple(map(Piece.from_dict, pieces)),
                format=str(data.get("format") or ""),
                format_options=tuple(sorted((str(k), str(v)) for k, v in options.items())),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidParameterError(f"malformed map task: {exc!r}") from None

    def read_as(self, spec: JobSpec) -> JobSpec:
        """``spec`` with the format this task's pieces are read in."""
        if not self.format:
            return spec
        return replace(spec, format=self.format, format_options=dict(self.format_options))

    @property
    def input_bytes(self) -> int | None:
        """The stored bytes of its ranges (``None`` when a piece is a whole
        compressed object, whose stored size the task does not carry)."""
        sizes = [piece.size for piece in self.pieces]
        return None if None in sizes else sum(size for size in sizes if size is not None)


def json_size(data: Any) -> int:
    """The bytes of ``data`` as JSON, every non-ASCII character escaped (at
    least its UTF-8 bytes): how a payload is measured against its quota."""
    return len(json.dumps(data, separators=(",", ":")))


#: the fields a job request (an execution input, a CLI run) may carry
REQUEST_FIELDS = frozenset(
    {
        "job_id",
        "job",
        "inputs",
        "params",
        "format",
        "format_options",
        "reducers",
        "chunk_size",
        "map_mode",
        "max_concurrency",
        "salted_keys",
        "query",
        "since",
        "until",
    }
)


def request_to_spec(request: dict[str, Any], default_job_id: str | None = None) -> JobSpec:
    """A ``JobSpec`` from a job request: the job id is the request's, else
    ``default_job_id`` (the execution name), else a new one."""
    if not isinstance(request, dict):
        raise InvalidParameterError("a job request must be a JSON object")
    unknown = sorted(set(request) - REQUEST_FIELDS)
    if unknown:
        raise InvalidParameterError(
            f"unknown field {unknown[0]!r} in the job request "
            f"(known: {', '.join(sorted(REQUEST_FIELDS))})"
        )
    if "query" in request:
        request = _query_request(request)
    if "job" not in request:
        raise InvalidParameterError("the job request has no 'job' (nor 'query')")
    if isinstance(request.get("inputs"), str):
        request = {**request, "inputs": [request["inputs"]]}
    job_id = request.get("job_id") or default_job_id or new_job_id(str(request["job"]))
    return JobSpec.from_dict({**resolve_times(request), "job_id": job_id})


def resolve_times(request: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """``request`` with its ``since`` and ``until`` made absolute UTC text,
    a relative one (``-1h``) counted back from ``now`` (default: this
    instant): done once, so that every task of the job agrees."""
    now = now or datetime.now(UTC)
    bounds = {name: request.get(name) for name in ("since", "until")}
    resolved = {name: resolve(value, now, name) for name, value in bounds.items() if value}
    return {**request, **resolved} if resolved else request


#: the job a request's ``query`` runs (``logmr.jobs.query``)
QUERY_JOB = "query"


def _query_request(request: dict[str, Any]) -> dict[str, Any]:
    """A request with ``query`` (a Logs Insights query) as the ``query`` job's
    request: ``{"query": Q}`` is ``{"job": "query", "params": {"query": Q}}``."""
    query = request["query"]
    if not isinstance(query, str):
        raise InvalidParameterError("the request's 'query' must be a string")
    if request.get("job", QUERY_JOB) != QUERY_JOB:
        raise InvalidParameterError(
            f"the request has both 'query' and 'job' {request['job']!r} (expected one of them)"
        )
    params = request.get("params") or {}
    if not isinstance(params, dict) or set(params) - {"query"}:
        raise InvalidParameterError("a request with 'query' takes no other 'params'")
    rest = {name: value for name, value in request.items() if name != "query"}
    return {**rest, "job": QUERY_JOB, "params": {"query": query}}
