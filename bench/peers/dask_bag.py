"""Dask bag: ``read_text`` in 64 MiB blocks, a per-partition tally reduced to
one (``Bag.reduction``), on the multiprocessing scheduler with one process per
core (``python dask_bag.py QUESTION PATH [WORKERS]``).

Lines are read as latin-1 text split on LF only (``linedelimiter="\\n"``), so
encoding each back gives the file's bytes exactly; the tally is the
reference's (``common.Tally``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

import dask
import dask.bag as db
from common import Tally, emit, strip_line

BLOCK = 64 * 1024 * 1024


def tally_partition(lines: Iterable[str], question: str) -> Tally:
    return Tally(question).add(strip_line(line.encode("latin-1")) for line in lines)


def merge(tallies: Iterable[Tally]) -> Tally:
    tallies = iter(tallies)
    total = next(tallies)
    for other in tallies:
        total.merge(other)
    return total


def main(question: str, path: str, workers: str | None = None) -> None:
    bag = db.read_text(path, blocksize=BLOCK, encoding="latin-1", linedelimiter="\n")
    total = bag.reduction(lambda lines: tally_partition(lines, question), merge)
    processes = int(workers) if workers else os.cpu_count() or 1
    with dask.config.set(scheduler="processes", num_workers=processes):
        emit(total.compute().answer())


if __name__ == "__main__":
    main(*sys.argv[1:4])
