"""The commands that list what logmr knows: ``jobs``, ``formats``."""

from __future__ import annotations

import argparse
from typing import Any

from logmr.cli.output import print_json


def add_parsers(sub: Any) -> None:
    jobs = sub.add_parser("jobs", help="list the job catalogue with parameters")
    jobs.add_argument("--json", action="store_true", help="print one JSON array")
    jobs.set_defaults(handler=_jobs)

    fmts = sub.add_parser("formats", help="list the log formats")
    fmts.add_argument("--json", action="store_true", help="print one JSON array")
    fmts.set_defaults(handler=_formats)


def _jobs(args: argparse.Namespace) -> int:
    from logmr.jobs import JOBS, job_class

    job_class("word_count")  # loads the built-in catalogue
    if args.json:
        print_json([_job_entry(JOBS[name]) for name in sorted(JOBS)])
        return 0
    for name in sorted(JOBS):
        print(JOBS[name].describe())
    return 0


def _formats(args: argparse.Namespace) -> int:
    from logmr.formats import FORMATS

    if args.json:
        print_json([_format_entry(FORMATS[name]) for name in sorted(FORMATS)])
        return 0
    for name in sorted(FORMATS):
        cls = FORMATS[name]
        aliases = f" (alias {', '.join(cls.aliases)})" if cls.aliases else ""
        print(f"{name}{aliases}: {cls.description}")
    print("auto: detect the format from a sample of the first input")
    return 0


def _job_entry(cls: Any) -> dict[str, Any]:
    params = [
        {
            "name": param.name,
            "help": param.help,
            "default": param.default,
            "required": param.required,
            "choices": list(param.choices),
        }
        for param in cls.params
    ]
    return {"name": cls.name, "description": cls.description, "params": params}


def _format_entry(cls: Any) -> dict[str, Any]:
    return {
        "name": cls.name,
        "aliases": list(cls.aliases),
        "description": cls.description,
        "fields": sorted(cls().fields),
        "options": dict(cls.option_defaults),
    }
