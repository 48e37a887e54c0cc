"""The job catalogue: built-in jobs by name, and users' jobs by dotted path."""

from __future__ import annotations

import importlib
import re
from typing import Any

from logmr.errors import InvalidJobError, did_you_mean
from logmr.jobs.base import Job, ResultsView, sort_value, top_n
from logmr.jobs.params import Param

__all__ = [
    "JOBS",
    "Job",
    "Param",
    "ResultsView",
    "is_builtin",
    "job_class",
    "job_module",
    "load_job",
    "register",
    "sort_value",
    "top_n",
]

JOBS: dict[str, type[Job]] = {}


def register(cls: type[Job]) -> type[Job]:
    """Class decorator: make ``cls`` available by its ``name``."""
    if not cls.name:
        raise InvalidJobError(f"{cls.__qualname__} has no name")
    JOBS[cls.name] = cls
    return cls


#: a dotted module path, and a class name (Python identifiers, ASCII)
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_CLASS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: longest part of a refused job name quoted in an error
QUOTED_CHARS = 200


def is_builtin(name: str) -> bool:
    _load_builtins()
    return name in JOBS


def job_module(name: str) -> tuple[str, str]:
    """The module and class a user's job name names (``package.module:Class``
    or ``package.module.Class``), checked for form; nothing is imported."""
    module, sep, attr = name.partition(":") if ":" in name else name.rpartition(".")
    if not sep or not _MODULE.fullmatch(module) or not _CLASS.fullmatch(attr):
        known = ", ".join(sorted(JOBS))
        raise InvalidJobError(
            f"unknown job {name[:QUOTED_CHARS]!r}{did_you_mean(name[:QUOTED_CHARS], JOBS)}"
            f" (known: {known}; or module.path:Class)"
        )
    return module, attr


def job_class(name: str) -> type[Job]:
    """A built-in job by name, or a user's job as ``package.module:Class``
    (or ``package.module.Class``)."""
    if is_builtin(name):
        return JOBS[name]
    module_name, attr = job_module(name)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a user's module: any failure of its import is the job's fault
        raise InvalidJobError(
            f"cannot import job module {module_name!r}: {type(exc).__name__}: {exc}"
        ) from None
    found = getattr(module, attr, None)
    if isinstance(found, type) and issubclass(found, Job) and found.name:
        return found
    raise InvalidJobError(f"{name[:QUOTED_CHARS]!r} is not a Job subclass with a name")


def load_job(name: str, params: dict[str, Any] | None = None) -> Job:
    """A ready job instance: class found, parameters validated."""
    return job_class(name)(params)


def _load_builtins() -> None:
    from logmr.jobs import builtin, query, report, sketched, windows  # noqa: F401 - register the catalogue
