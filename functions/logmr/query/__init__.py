"""The CloudWatch Logs Insights query language, the subset that compiles to one
MapReduce (docs/queries.md): the grammar, its parser and the parsed query.
Nothing here knows formats or jobs: ``logmr.jobs.query`` compiles a query."""

from __future__ import annotations

from logmr.query import ast
from logmr.query.parser import parse

__all__ = ["ast", "parse"]
