"""The commands that list what logmr knows: ``jobs``, ``formats``."""

from __future__ import annotations

import argparse
from typing import Any


def add_parsers(sub: Any) -> None:
    jobs = sub.add_parser("jobs", help="list the job catalogue with parameters")
    jobs.set_defaults(handler=_jobs)

    fmts = sub.add_parser("formats", help="list the log formats")
    fmts.set_defaults(handler=_formats)


def _jobs(args: argparse.Namespace) -> int:
    from logmr.jobs import JOBS, job_class

    job_class("word_count")  # loads the built-in catalogue
    for name in sorted(JOBS):
        print(JOBS[name].describe())
    return 0


def _formats(args: argparse.Namespace) -> int:
    from logmr.formats import FORMATS

    for name in sorted(FORMATS):
        cls = FORMATS[name]
        aliases = f" (alias {', '.join(cls.aliases)})" if cls.aliases else ""
        print(f"{name}{aliases}: {cls.description}")
    print("auto: detect the format from a sample of the first input")
    return 0
