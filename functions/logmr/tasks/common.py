"""What the task functions share: timestamps, parallel reads of task outputs,
counter sums and JSON lines."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TypeVar

from logmr.plan.cost import READ_THREADS

T = TypeVar("T")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def read_all(read: Callable[[int], T], items: Iterable[int]) -> list[T]:
    """``read`` over ``items``, ``READ_THREADS`` at a time, in order."""
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        return list(pool.map(read, items))


def add(total: dict[str, int], more: dict[str, int]) -> None:
    for name, value in more.items():
        total[name] = total.get(name, 0) + value
