"""What a job costs on AWS: the prices (one place), the usage a plan predicts
(``estimate``) and the usage a finished job measured (``tasks.finalize`` keeps
it in the job record as its ``bill``), priced the same way.

Prices: us-east-1, on-demand, first tier, read from the AWS pricing pages on
``PRICES_CHECKED`` (aws.amazon.com/lambda/pricing, /step-functions/pricing,
/s3/pricing, /dynamodb/pricing/on-demand). Free tiers are left out.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from logmr.limits import INLINE_MAP_CONCURRENCY, S3_PAGE_SIZE
from logmr.plan import tuning
from logmr.plan.planner import SIZE_READS_AT_ONCE
from logmr.plan.tuning import Limits
from logmr.storage.parts import TOP_KEPT
from logmr.workflow.names import FUNCTION_SIZES, RESULT_WRITER_PUTS

PRICES_CHECKED = "2026-11-22"
#: Lambda, arm64 (the stack's architecture): per GB-second and per request
LAMBDA_GB_SECOND_USD = 0.0000133334
LAMBDA_REQUEST_USD = 0.20 / 1_000_000
#: Step Functions Standard workflows: per state transition
SFN_TRANSITION_USD = 0.025 / 1_000
#: S3 Standard: GET (and other reads) and PUT/COPY/POST/LIST, per request
S3_GET_USD = 0.0004 / 1_000
S3_PUT_USD = 0.005 / 1_000
#: DynamoDB on-demand: per write request unit (one write of an item up to 1 KB)
DYNAMODB_WRU_USD = 0.625 / 1_000_000

# -- the time model (seconds), besides tuning's throughput -----------------------
#: one small S3 request from Lambda (first byte of a ranged GET)
S3_REQUEST_S = 0.015
#: threads a reducer and Finalize read S3 with (tasks.READ_THREADS)
READ_THREADS = 16
#: per task: invocation, imports warm, three S3 requests
TASK_OVERHEAD_S = 0.3
PLAN_BASE_S = 1.0
FINALIZE_BASE_S = 1.0
#: results Finalize reads per second from the part files (JSON lines, measured
#: here at 310,000-390,000 keys/s on a 240,000-key job's, two cores busy;
#: Parquet reads about twice as fast, bench/part_files.py: kept as a floor)
PART_READ_ITEMS_PER_S = 300_000.0
#: a state transition's own latency, for the states that run one after another
TRANSITION_S = 0.05
#: WRUs of the job record's two writes (Plan: 1 KB; Finalize: counters,
#: summary and up to 100 malformed samples, a few KB)
JOB_RECORD_WRU = 1 + 8


def transitions(map_tasks: int, reducers: int) -> int:
    """State transitions of a successful execution (Standard, retries not
    included): Plan, ChooseMapMode, the map Map state, one MapTask per map
    task, PlanReduce, the Reduce Map state, one ReduceTask per reducer, Finalize."""
    return 6 + map_tasks + reducers


@dataclass(frozen=True)
class Usage:
    """Billable units of one job."""

    lambda_requests: int = 0
    lambda_gb_s: float = 0.0
    transitions: int = 0
    s3_get: int = 0
    s3_put: int = 0
    s3_list: int = 0
    dynamodb_wru: int = 0

    def dollars(self) -> dict[str, float]:
        """USD per item and the total."""
        parts = {
            "lambda_requests": self.lambda_requests * LAMBDA_REQUEST_USD,
            "lambda_duration": self.lambda_gb_s * LAMBDA_GB_SECOND_USD,
            "step_functions": self.transitions * SFN_TRANSITION_USD,
            "s3_get": self.s3_get * S3_GET_USD,
            "s3_put_list": (self.s3_put + self.s3_list) * S3_PUT_USD,
            "dynamodb_writes": self.dynamodb_wru * DYNAMODB_WRU_USD,
        }
        parts["total"] = sum(parts.values())
        return {name: round(value, 6) for name, value in parts.items()}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lambda_gb_s": round(self.lambda_gb_s, 3), "usd": self.dollars()}


@dataclass(frozen=True)
class Shape:
    """The figures of a plan the estimate needs."""

    objects: int
    #: the bytes the map tasks read through (``Plan.mapped_bytes``: compressed
    #: objects decompressed)
    input_bytes: int
    map_tasks: int
    reducers: int
    max_concurrency: int
    expected_keys: int
    distributed: bool
    #: reads of the input Plan's sample takes, and of objects' starts for
    #: their format (``Plan.sample_reads``)
    sample_reads: int = 1
    #: the job summarises its results (``Job.summarises``): Finalize reads the part files
    summarised: bool = True
    #: compressed objects Plan read a few bytes of for their size decompressed
    size_reads: int = 0
    #: the largest map task's bytes (``Plan.longest_task_bytes``; 0: as the average)
    longest_task_bytes: int = 0
    #: the pieces the map tasks read, a GET each (``Plan.pieces``: small objects
    #: grouped into one task, ``plan.cutting``); 0: one per map task
    pieces: int = 0


@dataclass(frozen=True)
class Estimate:
    usage: Usage
    #: seconds per task and for the whole job
    seconds: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"usage": self.usage.to_dict(), "seconds": dict(self.seconds)}


def _gb(function: str) -> float:
    return FUNCTION_SIZES[function][0] / 1024


def estimate(shape: Shape, limits: Limits) -> Estimate:
    """The usage and duration the model (module docstring, docs/performance.md)
    predicts for ``shape`` on Lambda."""
    m, r = shape.map_tasks, shape.reducers
    pieces = max(shape.pieces, m)
    mb = shape.input_bytes / 1e6
    # a task of grouped objects waits for a first byte per piece, one after another
    map_s = mb / m / limits.map_mb_per_s + TASK_OVERHEAD_S + (pieces - m) / m * S3_REQUEST_S
    keys_per_reducer = math.ceil(shape.expected_keys / r)
    reduce_s = (
        2 * m * S3_REQUEST_S / READ_THREADS
        + min(keys_per_reducer, TOP_KEPT) / tuning.DYNAMODB_ITEMS_PER_S
        + TASK_OVERHEAD_S
    )
    # the listing's pages, then each object's first bytes and each compressed
    # object's size, SIZE_READS_AT_ONCE at a time (aws.s3.HEAD_WORKERS)
    plan_s = (
        PLAN_BASE_S
        + math.ceil(shape.objects / S3_PAGE_SIZE) * S3_REQUEST_S
        + math.ceil(shape.objects / SIZE_READS_AT_ONCE) * S3_REQUEST_S
        + math.ceil(shape.size_reads / SIZE_READS_AT_ONCE) * S3_REQUEST_S
    )
    # a compressed object is one task, however large: the map wave lasts as long as it
    longest_s = shape.longest_task_bytes / 1e6 / limits.map_mb_per_s + TASK_OVERHEAD_S
    # PlanReduce: the manifest and every map summary, then the merge of their key sketches
    plan_reduce_s = TASK_OVERHEAD_S + (m + 1) * S3_REQUEST_S / READ_THREADS
    finalize_s = (
        FINALIZE_BASE_S
        + (m + r) * S3_REQUEST_S / READ_THREADS
        + (shape.expected_keys / PART_READ_ITEMS_PER_S if shape.summarised else 0.0)
    )
    map_memory = limits.memory_mb / 1024
    gb_s = (
        plan_s * _gb("Plan")
        + m * map_s * map_memory
        + plan_reduce_s * _gb("PlanReduce")
        + r * reduce_s * _gb("Reduce")
        + finalize_s * _gb("Finalize")
    )
    items = 1 if shape.distributed else 0
    reads = 3 * r if shape.summarised else 0
    usage = Usage(
        lambda_requests=3 + m + r,
        lambda_gb_s=gb_s,
        transitions=transitions(m, r),
        # plan: a 4-byte GET per object (compression), one per compressed object
        # (its size decompressed) and the sample's; ItemReader;
        # map: each of its pieces; PlanReduce: the manifest and every map summary;
        # reduce: index and bucket group of every map task's object;
        # finalize: every task summary, the manifest, the reduce plan, and for
        # a summary the part files (a HEAD for the size, the footer, a GET per
        # row group of 1 MiB of Arrow memory, tens of thousands of results: three a part)
        s3_get=shape.objects
        + shape.size_reads
        + shape.sample_reads
        + items
        + pieces
        + (1 + m)
        + 2 * m * r
        + (m + r + 2 + reads),
        # plan: manifest (and the Distributed Map's items, and its
        # ResultWriter's files); map: shuffle and summary; PlanReduce: its
        # decision; reduce: part file and summary; finalize: malformed samples
        s3_put=1 + items * (1 + RESULT_WRITER_PUTS) + 2 * m + 1 + 2 * r + 1,
        # plan: the inputs' listing; finalize: the part files', for a summary
        s3_list=max(math.ceil(shape.objects / S3_PAGE_SIZE), 1) + int(shape.summarised),
        # the result store keeps each reducer's best TOP_KEPT results
        dynamodb_wru=min(shape.expected_keys, r * TOP_KEPT) + JOB_RECORD_WRU,
    )
    map_wave = min(shape.max_concurrency, limits.concurrency)
    reduce_wave = min(shape.max_concurrency, INLINE_MAP_CONCURRENCY)
    wall = (
        plan_s
        + max(math.ceil(m / map_wave) * map_s, longest_s)
        + plan_reduce_s
        + math.ceil(r / reduce_wave) * reduce_s
        + finalize_s
        + 6 * TRANSITION_S
    )
    seconds = {
        "plan": round(plan_s, 2),
        "map_task": round(map_s, 2),
        "plan_reduce": round(plan_reduce_s, 2),
        "reduce_task": round(reduce_s, 2),
        "finalize": round(finalize_s, 2),
        "wall": round(wall, 1),
    }
    return Estimate(usage, seconds)


def describe_bill(bill: dict[str, Any]) -> str:
    """One line of a job record's bill: what the run would cost on AWS, and why."""
    return (
        f"${bill['usd']['total']:,.4f}: "
        f"{bill['lambda_requests']:,} Lambda requests, {bill['lambda_gb_s']:,} GB-s, "
        f"{bill['transitions']:,} transitions, {bill['s3_get']:,} S3 GET, "
        f"{bill['s3_put']:,} PUT, {bill['dynamodb_wru']:,} DynamoDB WRU"
    )


def bill(
    *,
    map_tasks: int,
    reducers: int,
    seconds: dict[str, float],
    requests: dict[str, int],
    result_items: int,
    record_bytes: int,
) -> dict[str, Any]:
    """A finished job's usage, priced: Lambda GB-s from the
    measured task seconds and the stack's memory sizes (first attempts; retries
    and Lambda's own start-up are not seen by the tasks), the transitions of
    the definition, the S3 requests counted, the DynamoDB writes made (result
    items of up to 1 KB, the two job record writes)."""
    gb_s = sum(value * _gb(function) for function, value in seconds.items())
    usage = Usage(
        lambda_requests=3 + map_tasks + reducers,
        lambda_gb_s=gb_s,
        transitions=transitions(map_tasks, reducers),
        s3_get=requests["get"],
        s3_put=requests["put"],
        s3_list=requests["list"],
        dynamodb_wru=result_items + 1 + -(-(record_bytes + 1024) // 1024),
    )
    return {
        **usage.to_dict(),
        "seconds": {name: round(value, 3) for name, value in seconds.items()},
    }
