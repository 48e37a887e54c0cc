"""CPU seconds of one ``access_report`` run in this process (inline runner,
one worker, 64 MiB map tasks, 2 reducers): what docs/report.md's table of the
panels' cost was measured with.

    logmr generate --shape realistic --size 100MB --seed 1 -o real100.log
    PYTHONPATH=functions:tests python bench/access_report_cpu.py real100.log \\
        percentiles=false windows=false [panels=false | clients=false]

Run it alternately with another checkout's ``functions`` first on
``PYTHONPATH`` for a before and after. CPU time is ``getrusage`` of the
process and its children (user + system): steadier than wall time on a
shared machine, not immune to it. Prints one JSON line: the parameters, the
CPU seconds and the number of result keys.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
from pathlib import Path

from helpers import run_inline


def cpu_seconds() -> float:
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str]) -> None:
    log, params = Path(argv[0]), dict(arg.split("=", 1) for arg in argv[1:])
    with tempfile.TemporaryDirectory(prefix="logmr-cpu-") as home:
        started = cpu_seconds()
        _, results = run_inline(
            log,
            "access_report",
            params=params,
            chunk_size=64 << 20,
            workers=1,
            reducers=2,
            home=Path(home),
        )
        spent = cpu_seconds() - started
    print(json.dumps({"params": params, "cpu_s": round(spent, 2), "keys": len(results)}))


if __name__ == "__main__":
    main(sys.argv[1:])
