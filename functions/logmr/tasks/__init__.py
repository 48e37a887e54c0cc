"""The task functions: ``plan``, ``map_task``, ``plan_reduce``, ``reduce_task``,
``finalize`` and ``mark_failed``, one module each. The Lambda handlers, the local engine and the
inline runner all call these, with storage passed in through ``Backends``.

Every task is idempotent: its outputs have deterministic names (a retried or
duplicated map task overwrites its shuffle object and summary, a reducer
upserts its keys), so running a task twice never counts twice.
"""

from logmr.tasks.failure import mark_failed, reconcile, reconcile_execution
from logmr.tasks.finalizing import finalize
from logmr.tasks.mapping import map_task
from logmr.tasks.planning import claim_job_id, new_execution, plan
from logmr.tasks.reduce_planning import plan_reduce
from logmr.tasks.reducing import reduce_task

__all__ = [
    "claim_job_id",
    "finalize",
    "map_task",
    "mark_failed",
    "new_execution",
    "plan",
    "plan_reduce",
    "reconcile",
    "reconcile_execution",
    "reduce_task",
]
