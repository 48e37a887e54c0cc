"""The job catalogue: built-in jobs by name, and users' jobs by dotted path."""

from __future__ import annotations

import importlib
from typing import Any

from logmr.errors import InvalidJobError
from logmr.jobs.base import Job, ResultsView, sort_value, top_n
from logmr.jobs.params import Param

__all__ = [
    "JOBS",
    "Job",
    "Param",
    "ResultsView",
    "job_class",
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


def job_class(name: str) -> type[Job]:
    """A built-in job by name, or a user's job as ``package.module:Class``
    (or ``package.module.Class``)."""
    _load_builtins()
    if name in JOBS:
        return JOBS[name]
    if ":" in name or "." in name:
        module_name, _, attr = name.replace(":", ".").rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InvalidJobError(f"cannot import job module {module_name!r}: {exc}") from None
        found = getattr(module, attr, None)
        if isinstance(found, type) and issubclass(found, Job) and found.name:
            return found
        raise InvalidJobError(f"{name!r} is not a Job subclass with a name")
    known = ", ".join(sorted(JOBS))
    raise InvalidJobError(f"unknown job {name!r} (known: {known}; or module.path:Class)")


def load_job(name: str, params: dict[str, Any] | None = None) -> Job:
    """A ready job instance: class found, parameters validated."""
    return job_class(name)(params)


def _load_builtins() -> None:
    from logmr.jobs import builtin, report, sketched, windows  # noqa: F401 - register the catalogue
