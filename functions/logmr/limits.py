"""The limits and quotas of the AWS services logmr runs on: one place, every
other module (the planner, the spec's checks, the cost model, the local
engine, the stack) imports them from here.

Each is the service's documented figure (Step Functions, Lambda, S3 and
DynamoDB quotas pages), not a setting of logmr's: a setting that depends on
one says so where it is defined. logmr's own bounds on a request, derived
from them (``MAX_MAP_TASKS``, ``MAX_REDUCE_TASKS``, ``MIN_CHUNK_SIZE``), say
how where they are defined.
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
#: logmr's bound on a job's map tasks: every reducer reads every map task's
#: shuffle object (plan.tuning). Not the state machine's: the Distributed Map's
#: ResultWriter writes its children's outputs to S3, so its result stays small
#: whatever their number (without one, MAX_PAYLOAD_BYTES would hold about
#: 21,000 of them). Plan refuses a request that would cut more (a chunk_size of
#: 1 byte, say)
MAX_MAP_TASKS = 10_000
#: ListStateMachines' and GetExecutionHistory's largest page
SFN_PAGE_SIZE = 1000

# -- logmr's bound on reducers, from MAX_HISTORY_EVENTS ---------------------------
# The Reduce state is an inline Map: its iterations are events of the
# execution's own history, as those of the inline Map of up to
# INLINE_MAP_CONCURRENCY map tasks are (a Distributed Map's iterations are child
# executions, a few events here). Counted as AWS counts them, which the local
# engine's history has the shape of (tests/test_bounds.py counts them again, on
# a run at the bound):
#: events of a Task state whose Lambda succeeds at once: TaskStateEntered,
#: TaskScheduled, TaskStarted, TaskSucceeded, TaskStateExited
TASK_STATE_EVENTS = 5
#: events one retry of a task adds: TaskFailed, TaskScheduled, TaskStarted (the
#: local engine's own LogmrRetryScheduled is not counted, there as on AWS)
RETRY_EVENTS = 3
#: retries of a task at most: the MaxAttempts of its retriers in
#: statemachine/logmr.asl.json, added (10 for Lambda's throttling, 4 for the
#: rest): the retry budget the bound allows every task, each iteration's included
TASK_RETRIES = 14
#: a Task state's events with every retry taken
TASK_EVENTS = TASK_STATE_EVENTS + TASK_RETRIES * RETRY_EVENTS
#: a Map iteration's: MapIterationStarted, its task's, MapIterationSucceeded
ITERATION_EVENTS = 2 + TASK_EVENTS
#: the events outside the two Maps' iterations, at most: the execution's start
#: and end, ChooseMapMode's two, each Map state's four (Entered, Started,
#: Succeeded or Failed, Exited), Plan, PlanReduce, Finalize and MarkFailed with
#: every retry, and the Fail states of a failed iteration and of the job
OTHER_EVENTS = 2 + 2 + 2 * 4 + 4 * TASK_EVENTS + 2
#: logmr's bound on a job's reducers (466): the most iterations the Reduce
#: state can run within MAX_HISTORY_EVENTS with the map phase at its largest
#: inline size and every task retried TASK_RETRIES times. A request's
#: ``reducers`` past it is refused (``spec.JobSpec``) before anything is written
MAX_REDUCE_TASKS = (
    MAX_HISTORY_EVENTS - OTHER_EVENTS - INLINE_MAP_CONCURRENCY * ITERATION_EVENTS
) // ITERATION_EVENTS
#: logmr's floor on a request's ``chunk_size`` (64 KiB): a map task writes a
#: shuffle index of 20 bytes per bucket (5 KiB for the 256 buckets) and a
#: summary of about 1 KiB whatever its range, so a range of 64 KiB is the
#: smallest whose fixed output stays under a tenth of what it reads; smaller
#: ones (1 byte: a task per byte) are refused before anything is written.
#: MAX_MAP_TASKS bounds the count the other way
MIN_CHUNK_SIZE = 64 * 1024

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
