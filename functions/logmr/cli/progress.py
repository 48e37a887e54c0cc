"""Per-phase progress on a terminal."""

from __future__ import annotations

from typing import TextIO


class Progress:
    """Per-phase progress on a terminal; nothing when not a terminal."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream if stream is not None and stream.isatty() else None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.stream is not None:
            self.stream.write(f"\r{phase:<9} {done:>6}/{total:<6}")
            if done == total:
                self.stream.write("\n")
            self.stream.flush()

    def done(self) -> None:
        if self.stream is not None:
            self.stream.flush()
