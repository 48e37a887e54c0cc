"""The one definition of logmr's DynamoDB tables.

The DynamoDB result store, the tests (which create the tables in moto from
``results_table_spec``/``jobs_table_spec``) and the CDK stack (which reads
``describe()``) all take the schema from here, so they cannot drift apart.

Results table, one item per (job, key)::

    job_id      S  partition key
    key         S  sort key (so a job's results come back in key order)
    value       S  the reduced value as compact JSON text
    sort_value  N  the figure results are ranked by (``jobs.base.sort_value``)

``value`` is JSON text rather than a DynamoDB map or number: values are ints,
floats, dicts, lists and sketches; JSON text keeps floats exact (no Decimal
round trip), keeps the item's shape independent of the job, and is what the
SQLite twin stores.

Index ``by_value`` is a LOCAL secondary index: partition key ``job_id``, sort
key ``sort_value``, projection ALL. Top-N is then one ``Query`` on ``job_id``
with ``ScanIndexForward=False`` and ``Limit=n``, never a Scan. Local rather
than global because an LSI can be read with ``ConsistentRead=True``: Finalize
ranks results right after the reducers wrote them, and a GSI (eventually
consistent, replicated asynchronously) could miss the last writes. The
prices of an LSI: it must exist when the table is created; a job's items
(table plus index) are limited to 10 GB, and its writes go to one partition
(about 1,000 writes per second per job; high-cardinality results also go to
S3 as part files). Projection ALL (the items hold nothing else) lets the query
return values without fetching from the table.

Ties: DynamoDB orders items with equal ``sort_value`` arbitrarily, so the
store reads all rows whose ``sort_value`` equals the n-th one and orders
those by key in Python (see ``DynamoResultStore.top``).

Jobs table, one item per job: ``job_id`` (S, partition key), ``status`` (S)
and ``record`` (S, the whole ``JobRecord.to_dict()`` as JSON text).

Both tables are on-demand (PAY_PER_REQUEST).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from logmr.config import (
    DEFAULT_JOBS_TABLE,
    DEFAULT_RESULTS_TABLE,
    ENV_JOBS_TABLE,
    ENV_RESULTS_TABLE,
)

__all__ = [
    "BY_VALUE_INDEX",
    "DEFAULT_JOBS_TABLE",
    "DEFAULT_RESULTS_TABLE",
    "ENV_JOBS_TABLE",
    "ENV_RESULTS_TABLE",
    "JOBS",
    "RESULTS",
    "Attribute",
    "Index",
    "TableDesign",
    "describe",
    "jobs_table_spec",
    "results_table_spec",
]

# the environment variables naming the tables, and their defaults, live in logmr.config

BY_VALUE_INDEX = "by_value"
#: the Number attribute (epoch seconds) DynamoDB's TTL deletes an item after
EXPIRES_AT = "expires_at"


@dataclass(frozen=True)
class Attribute:
    """A key attribute: its name and DynamoDB type ("S", "N" or "B")."""

    name: str
    type: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type}


@dataclass(frozen=True)
class Index:
    """A secondary index: ``local`` shares the table's partition key."""

    name: str
    kind: str  # "local" or "global"
    partition_key: Attribute
    sort_key: Attribute | None
    projection: str = "ALL"  # "ALL", "KEYS_ONLY" or "INCLUDE"
    non_key_attributes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "partition_key": self.partition_key.to_dict(),
            "sort_key": None if self.sort_key is None else self.sort_key.to_dict(),
            "projection": self.projection,
            "non_key_attributes": list(self.non_key_attributes),
        }


@dataclass(frozen=True)
class TableDesign:
    """A table's keys and indexes, independent of its deployed name."""

    partition_key: Attribute
    sort_key: Attribute | None = None
    indexes: tuple[Index, ...] = ()
    #: non-key attributes items carry (documentation; DynamoDB is schemaless)
    attributes: tuple[Attribute, ...] = ()
    #: the attribute of the table's time to live (items without it are kept)
    ttl: str = EXPIRES_AT

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition_key": self.partition_key.to_dict(),
            "sort_key": None if self.sort_key is None else self.sort_key.to_dict(),
            "indexes": [index.to_dict() for index in self.indexes],
            "attributes": [attribute.to_dict() for attribute in self.attributes],
            "ttl": self.ttl,
            "billing_mode": "PAY_PER_REQUEST",
        }

    def create_table_kwargs(self, name: str) -> dict[str, Any]:
        """Keyword arguments for ``dynamodb.create_table`` (low-level client)."""
        key_attributes: dict[str, str] = {}

        def schema(partition: Attribute, sort: Attribute | None) -> list[dict[str, str]]:
            keys = [(partition, "HASH")] + ([(sort, "RANGE")] if sort else [])
            for attribute, _ in keys:
                key_attributes[attribute.name] = attribute.type
            return [{"AttributeName": a.name, "KeyType": kind} for a, kind in keys]

        spec: dict[str, Any] = {
            "TableName": name,
            "KeySchema": schema(self.partition_key, self.sort_key),
            "BillingMode": "PAY_PER_REQUEST",
        }
        for kind, option in (
            ("local", "LocalSecondaryIndexes"),
            ("global", "GlobalSecondaryIndexes"),
        ):
            specs = []
            for index in self.indexes:
                if index.kind != kind:
                    continue
                projection: dict[str, Any] = {"ProjectionType": index.projection}
                if index.non_key_attributes:
                    projection["NonKeyAttributes"] = list(index.non_key_attributes)
                specs.append(
                    {
                        "IndexName": index.name,
                        "KeySchema": schema(index.partition_key, index.sort_key),
                        "Projection": projection,
                    }
                )
            if specs:
                spec[option] = specs
        spec["AttributeDefinitions"] = [
            {"AttributeName": name_, "AttributeType": type_}
            for name_, type_ in key_attributes.items()
        ]
        return spec


_JOB_ID = Attribute("job_id", "S")

RESULTS = TableDesign(
    partition_key=_JOB_ID,
    sort_key=Attribute("key", "S"),
    indexes=(
        Index(
            name=BY_VALUE_INDEX,
            kind="local",
            partition_key=_JOB_ID,
            sort_key=Attribute("sort_value", "N"),
            projection="ALL",
        ),
    ),
    attributes=(Attribute("value", "S"), Attribute("sort_value", "N")),
)

JOBS = TableDesign(
    partition_key=_JOB_ID,
    attributes=(Attribute("status", "S"), Attribute("record", "S")),
)


def results_table_spec(name: str = DEFAULT_RESULTS_TABLE) -> dict[str, Any]:
    """``create_table`` keyword arguments for the results table."""
    return RESULTS.create_table_kwargs(name)


def jobs_table_spec(name: str = DEFAULT_JOBS_TABLE) -> dict[str, Any]:
    """``create_table`` keyword arguments for the jobs table."""
    return JOBS.create_table_kwargs(name)


def describe() -> dict[str, Any]:
    """Both tables as plain data (for the CDK stack): keys, indexes, defaults."""
    return {
        "results": {
            **RESULTS.to_dict(),
            "default_name": DEFAULT_RESULTS_TABLE,
            "env": ENV_RESULTS_TABLE,
        },
        "jobs": {**JOBS.to_dict(), "default_name": DEFAULT_JOBS_TABLE, "env": ENV_JOBS_TABLE},
    }
