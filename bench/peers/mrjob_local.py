"""mrjob's local runner: an ``MRJob`` whose mapper matches the reference regex
per line, with a summing combiner and reducer, run with ``-r local`` on every
core (``python mrjob_local.py QUESTION PATH [WORKERS]``).

mrjob hands the mapper each line with every trailing CR and LF removed
(``rstrip(b"\\r\\n")``), one CR more than the reference when a line ends in
several; the generated input has no CR.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import (
    PATH_QUESTIONS,
    QUESTIONS,
    REFERENCE,
    REQUEST,
    SIZE,
    STATUS,
    answer,
    emit,
    path_of,
    size_of,
    text,
    without_query,
)
from mrjob.job import MRJob
from mrjob.protocol import BytesValueProtocol


class AccessTally(MRJob):
    INPUT_PROTOCOL = BytesValueProtocol

    def configure_args(self) -> None:
        super().configure_args()
        self.add_passthru_arg("--question", default="status_codes")

    def mapper(self, _: None, line: bytes) -> Iterator[tuple[Any, Any]]:
        yield "lines", 1
        found = REFERENCE.match(line)
        if found is None:
            yield "malformed", 1
            return
        question = self.options.question
        if question != "top_paths":
            yield ["status", text(found[STATUS])], 1
        if question in PATH_QUESTIONS:
            size = size_of(found[SIZE])
            if question == "access_report":
                yield "bytes", size
            path = path_of(found[REQUEST])
            if path is not None:
                if question == "top_paths":
                    path = without_query(path)
                yield ["path", text(path)], [1, size]

    def combiner(self, key: Any, values: Iterator[Any]) -> Iterator[tuple[Any, Any]]:
        yield key, _sum(values)

    def reducer(self, key: Any, values: Iterator[Any]) -> Iterator[tuple[Any, Any]]:
        yield key, _sum(values)


def _sum(values: Iterator[Any]) -> Any:
    first = next(values)
    if isinstance(first, list):
        count, size = first
        for more_count, more_size in values:
            count += more_count
            size += more_size
        return [count, size]
    return first + sum(values)


def main(question: str, path: str, workers: str | None = None) -> None:
    cores = workers or str(os.cpu_count() or 1)
    # the task subprocesses import this script; ``common`` sits next to it
    here = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        part for part in (here, os.environ.get("PYTHONPATH")) if part
    )
    job = AccessTally(["-r", "local", "--num-cores", cores, "--question", question, path])
    totals: dict[str, int] = {"lines": 0, "malformed": 0, "bytes": 0}
    status: dict[str, int] = {}
    paths: dict[str, tuple[int, int]] = {}
    with job.make_runner() as runner:
        runner.run()
        for key, value in job.parse_output(runner.cat_output()):
            if isinstance(key, list) and key[0] == "status":
                status[key[1]] = value
            elif isinstance(key, list):
                paths[key[1]] = (value[0], value[1])
            else:
                totals[key] = value
    emit(
        answer(
            question,
            lines=totals["lines"],
            malformed=totals["malformed"],
            status=status,
            total_bytes=totals["bytes"],
            paths=paths,
        )
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in QUESTIONS:
        main(*sys.argv[1:4])
    else:  # a task subprocess started by the runner
        AccessTally.run()
