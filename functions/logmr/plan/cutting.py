"""Cutting inputs into map tasks.

A plain object of ``size`` bytes becomes ranges ``[k*chunk, min((k+1)*chunk, size))``;
the line-exact rule of ``logmr.inputs.lines`` makes each line belong to exactly one
range. A compressed object is one task (``end`` None), decompressed as a
stream. Empty objects get no task.
"""

from __future__ import annotations

from collections.abc import Iterable

from logmr.inputs.source import InputObject
from logmr.spec import MapTask


def cut(objects: Iterable[InputObject], chunk_size: int) -> list[MapTask]:
    tasks: list[MapTask] = []
    for obj in objects:
        if obj.size == 0:
            continue
        if obj.compression is not None:
            tasks.append(MapTask(len(tasks), obj.uri, 0, None, obj.compression, obj.version))
            continue
        for start in range(0, obj.size, chunk_size):
            end = min(start + chunk_size, obj.size)
            tasks.append(MapTask(len(tasks), obj.uri, start, end, None, obj.version))
    return tasks


def count_tasks(objects: Iterable[InputObject], chunk_size: int) -> int:
    """``len(cut(objects, chunk_size))`` without building the tasks."""
    return sum(
        0 if obj.size == 0 else 1 if obj.compression else -(-obj.size // chunk_size)
        for obj in objects
    )
