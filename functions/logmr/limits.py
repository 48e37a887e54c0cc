"""The limits and quotas of the AWS services logmr runs on: one place, every
other module (the planner, the spec's checks, the cost model, the local
engine, the stack) imports them from here.

Each is the service's documented figure (Step Functions, Lambda, S3 and
DynamoDB quotas pages), not a setting of logmr's: a setting that depends on
one says so where it is defined.
"""

from __future__ import annotations

# -- Step Functions ------------------------------------------------------------
#: an inline Map state runs at most 40 iterations at a time (whatever its
#: MaxConcurrency says beyond that); logmr's "auto" map mode chooses the
#: Distributed Map past this many map tasks, and one wave of reducers is this many
INLINE_MAP_CONCURRENCY = 40
#: a Map state's MaxConcurrency, and a Distributed Map's concurrent child executions
MAX_MAP_CONCURRENCY = 10_000
#: the largest state input or output, and execution input (256 KiB)
MAX_PAYLOAD_BYTES = 256 * 1024
#: events in one execution's history
MAX_HISTORY_EVENTS = 25_000
#: logmr's bound on a job's map tasks, kept under what the state machine can
#: run: a Distributed Map without a ResultWriter returns its children's outputs
#: into the state (MAX_PAYLOAD_BYTES holds about 21,000 of them). Plan refuses a
#: request that would cut more (a chunk_size of 1 byte, say)
MAX_MAP_TASKS = 10_000
#: ListStateMachines' and GetExecutionHistory's largest page
SFN_PAGE_SIZE = 1000

# -- Lambda ---------------------------------------------------------------------
#: a function's memory that gives it one full vCPU (MB)
MB_PER_VCPU = 1769
#: the longest function timeout (s)
MAX_TIMEOUT_S = 900
#: the default account concurrency of a region
ACCOUNT_CONCURRENCY = 1_000
#: a function's code and layers together, unzipped (250 MB)
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024

# -- S3 -------------------------------------------------------------------------
#: keys in one ListObjectsV2 page, and in one DeleteObjects call
S3_PAGE_SIZE = 1000

# -- DynamoDB -------------------------------------------------------------------
#: items in one BatchWriteItem call
BATCH_WRITE_ITEMS = 25
