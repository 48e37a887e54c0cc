"""logmr.layout: where a job's objects live in the object store."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from conftest import REPO
from logmr import layout

#: every kind of key but the shuffle objects, by what numbers it takes
PER_JOB: list[Callable[[str], str]] = [
    layout.manifest_key,
    layout.map_items_key,
    layout.reduce_plan_key,
    layout.quarantine_key,
    layout.salted_part_key,
    layout.map_runs_prefix,
]
PER_TASK: list[Callable[[str, int], str]] = [layout.map_summary_key]
PER_PARTITION: list[Callable[[str, int], str]] = [layout.reduce_summary_key, layout.part_key]


def every_key(job_id: str, tasks: int, partitions: int) -> list[str]:
    keys = [kind(job_id) for kind in PER_JOB]
    keys += [kind(job_id, task) for kind in PER_TASK for task in range(tasks)]
    keys += [kind(job_id, p) for kind in PER_PARTITION for p in range(partitions)]
    return keys


@pytest.mark.unit
def test_every_key_but_the_shuffle_is_under_the_job_prefix() -> None:
    prefix = layout.job_prefix("job-1")
    assert prefix == "jobs/job-1/"
    for key in every_key("job-1", tasks=3, partitions=3):
        assert key.startswith(prefix), key
    for task in range(3):
        shuffle = layout.shuffle_key("job-1", task)
        assert not shuffle.startswith(prefix)
        assert shuffle.startswith(layout.SHUFFLE_PREFIX)  # a lifecycle rule expires these
        assert "/job-1/" in shuffle


@pytest.mark.unit
def test_keys_are_distinct_per_kind_task_and_partition() -> None:
    keys = every_key("j", tasks=1500, partitions=1500)
    keys += [layout.shuffle_key("j", task) for task in range(1500)]
    assert len(set(keys)) == len(keys)


@pytest.mark.property
@given(
    first=st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,20}", fullmatch=True),
    second=st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,20}", fullmatch=True),
)
def test_two_jobs_never_share_a_key_or_a_prefix(first: str, second: str) -> None:
    """Even when one id is a prefix of the other ("j" and "j-2"): a job's
    listing or deletion under its prefix never reaches another job's objects."""
    assume(first != second)
    mine = every_key(first, 2, 2) + [layout.shuffle_key(first, t) for t in range(2)]
    assert not any(key.startswith(layout.job_prefix(second)) for key in mine)
    theirs = every_key(second, 2, 2) + [layout.shuffle_key(second, t) for t in range(2)]
    assert not set(mine) & set(theirs)


@pytest.mark.unit
def test_task_and_partition_numbers_sort_as_numbers() -> None:
    """Zero-padded: a listing of a job's summaries or part files comes in order."""
    numbers = [0, 1, 2, 9, 10, 99, 100, 1234, 99_999]
    for kind in [*PER_TASK, *PER_PARTITION]:
        keys = [kind("j", n) for n in numbers]
        assert sorted(keys) == keys


SHUFFLE = re.compile(r"shuffle/(?P<spread>[0-9a-f]{2})/(?P<job>[^/]+)/m-(?P<task>\d{5,})\.bin")


@pytest.mark.unit
def test_shuffle_keys_spread_one_jobs_tasks_over_the_prefixes() -> None:
    """S3 scales request rates per key prefix: one job's 10,000 mappers land
    on all 256 two-hex-digit prefixes, none with more than twice its share."""
    spreads = Counter[str]()
    for task in range(10_000):
        found = SHUFFLE.fullmatch(layout.shuffle_key("big-job", task))
        assert found is not None
        assert (found["job"], int(found["task"])) == ("big-job", task)
        spreads[found["spread"]] += 1
    assert len(spreads) == 16**layout.SHUFFLE_SPREAD_DIGITS
    assert max(spreads.values()) <= 2 * 10_000 / len(spreads)
    # a small job spreads too: its first 256 tasks use well over half the prefixes
    assert len({layout.shuffle_key("j", task)[8:10] for task in range(256)}) > 128


@pytest.mark.unit
def test_shuffle_keys_are_the_same_in_every_process() -> None:
    """A mapper and the reducers that read it run in other processes (other
    Lambdas): the spread must not hang on Python's per-process ``hash()``."""
    here = [layout.shuffle_key("job-x", task) for task in range(50)]
    script = (
        "import json; from logmr import layout; "
        "print(json.dumps([layout.shuffle_key('job-x', t) for t in range(50)]))"
    )
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            env=env,
        )
        assert json.loads(done.stdout) == here
