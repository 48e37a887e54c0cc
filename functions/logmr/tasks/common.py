"""What the task functions share: timestamps, parallel reads of task outputs,
counter sums and JSON lines."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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


def read_each(read: Callable[[int], T], items: Iterable[int]) -> Iterator[T]:
    """``read`` over ``items``, ``READ_THREADS`` at a time, given in order as
    they come: at most twice ``READ_THREADS`` read and not yet taken, so
    that reading M task summaries holds a few of them, not M."""
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        ahead: deque[Future[T]] = deque()
        for item in items:
            ahead.append(pool.submit(read, item))
            if len(ahead) >= 2 * READ_THREADS:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def add(total: dict[str, int], more: dict[str, int]) -> None:
    for name, value in more.items():
        total[name] = total.get(name, 0) + value
