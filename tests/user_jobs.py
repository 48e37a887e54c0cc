"""A user's own job module, loaded by dotted path in the tests (``user_jobs:MethodCount``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from logmr.jobs import Job


class MethodCount(Job):
    name = "method_count"
    description = "requests per method"
    needs = ("method",)

    def mapper(self, record: Any) -> Iterator[tuple[Any, int]]:
        method = self.fields["method"](record)
        if method:
            yield method, 1
