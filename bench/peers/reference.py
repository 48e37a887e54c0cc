"""The plain reference: one process reads the file line by line and tallies
it with the reference regex (``python reference.py QUESTION PATH``)."""

from __future__ import annotations

import sys

from common import Tally, emit, strip_line


def main(question: str, path: str) -> None:
    with open(path, "rb", buffering=1 << 20) as handle:
        emit(Tally(question).add(map(strip_line, handle)).answer())


if __name__ == "__main__":
    main(*sys.argv[1:3])
