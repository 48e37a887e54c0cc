"""Lithops, localhost backend and storage: one function call per byte range
(one range per core), each tallying the lines that start in its range, the
tallies merged by a reduce function (``map_reduce``)
(``python lithops_local.py QUESTION PATH [WORKERS]``).

The runtime is this interpreter (``localhost.runtime``); Lithops keeps its
temporary data under ``/tmp/lithops-<user>``, cleaned at the end.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import lithops
from common import Tally, byte_ranges, emit, range_lines


def tally_range(path: str, start: int, end: int, question: str) -> dict[str, Any]:
    """One range's tally, as plain data (results travel through Lithops' storage)."""
    return Tally(question).add(range_lines(path, start, end)).state()


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    total = Tally.from_state(results[0])
    for other in results[1:]:
        total.merge(Tally.from_state(other))
    return total.state()


def main(question: str, path: str, workers: str | None = None) -> None:
    processes = int(workers) if workers else os.cpu_count() or 1
    config = {
        "lithops": {"backend": "localhost", "storage": "localhost", "log_level": "WARNING"},
        "localhost": {"runtime": sys.executable, "worker_processes": processes},
    }
    executor = lithops.FunctionExecutor(config=config)
    ranges = [
        {"path": path, "start": start, "end": end, "question": question}
        for start, end in byte_ranges(os.path.getsize(path), processes)
    ]
    try:
        futures = executor.map_reduce(tally_range, ranges, merge)
        total = executor.get_result(futures)
    finally:
        executor.clean()
    emit(Tally.from_state(total).answer())


if __name__ == "__main__":
    main(*sys.argv[1:4])
