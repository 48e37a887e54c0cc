"""The PlanReduce task, between Map and Reduce: the reducers chosen from the
keys the map tasks measured (``plan.reducers``), the spec Reduce and Finalize
run with."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from logmr import layout
from logmr.plan.reducers import measured_keys, plan_reducers
from logmr.plan.tuning import Limits, local_limits
from logmr.spec import JobSpec
from logmr.storage.backends import Backends
from logmr.storage.counting import CountingStore
from logmr.tasks.summaries import map_summaries


def plan_reduce(
    spec: JobSpec, map_task_count: int, backends: Backends, limits: Limits | None = None
) -> dict[str, Any]:
    """Merge the map tasks' key sketches, choose the reducers and the
    concurrency (``plan.reducers.plan_reducers``; ``limits`` default: this
    machine's cores), write the decision (``layout.reduce_plan_key``: Finalize
    bills its requests and seconds) and return the state Reduce runs on.
    Deterministic over the same map summaries: a retry decides the same."""
    started = time.perf_counter()
    objects = CountingStore(backends.objects)
    manifest = objects.get_json(layout.manifest_key(spec.job_id))
    # summaries as they come, each dropped once its keys are merged
    summaries = map_summaries(objects, spec.job_id, map_task_count)
    requested = manifest.get("requested") or {}
    decision = plan_reducers(
        measured_keys(summary["keys"] for summary in summaries),
        map_tasks=map_task_count,
        buckets=spec.buckets,
        limits=limits or local_limits(),
        planned=spec.reducers,
        salted=bool(spec.salted_keys),
        requested_reducers=int(requested.get("reducers") or 0),
        requested_concurrency=int(requested.get("max_concurrency") or 0),
    )
    spec = replace(spec, reducers=decision.reducers, max_concurrency=decision.max_concurrency)
    requests = objects.requests()
    objects.put_json(
        layout.reduce_plan_key(spec.job_id),
        {
            **decision.to_dict(),
            "planned_reducers": int(manifest["spec"]["reducers"]),
            "seconds": round(time.perf_counter() - started, 4),
            "requests": {**requests, "put": requests["put"] + 1},  # and this PUT
        },
    )
    return {
        "job_id": spec.job_id,
        "spec": spec.to_dict(),
        "map_task_count": map_task_count,
        "max_concurrency": spec.max_concurrency,
        "partitions": list(range(spec.reducers)),
    }
