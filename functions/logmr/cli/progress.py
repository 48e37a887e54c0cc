"""Progress on a terminal, on stderr: rich's bars (``cli.bar``), the map
phase's over the input bytes read with their rate and the time left; one line
per phase without rich; nothing when not a terminal (or with ``--json``,
whose commands give no stream)."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from logmr.cli.tables import has_rich

if TYPE_CHECKING:
    from logmr.cli.bar import Bar


class Progress:
    """The runners' progress (``run.watch.ReadProgress``) on ``stream`` when it
    is a terminal; nothing otherwise. Use it with ``with``: the bar is drawn
    from a thread of rich's, stopped (and the cursor shown again) on the way out."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream if stream is not None and stream.isatty() else None
        self.bar: Bar | None = None
        self.bytes: tuple[int, int] | None = None
        if self.stream is not None and has_rich():
            from logmr.cli.bar import Bar

            self.bar = Bar(self.stream)

    def __enter__(self) -> Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.done()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.phase(phase, done, total)
        elif self.stream is not None:
            read = ""
            if phase == "map" and self.bytes is not None:
                read = f" {self.bytes[0] / 1e6:,.1f}/{self.bytes[1] / 1e6:,.1f} MB"
            self.stream.write(f"\r{phase:<9} {done:>6}/{total:<6}{read}")
            if done == total:
                self.stream.write("\n")
            self.stream.flush()

    def read(self, done: int, total: int) -> None:
        """The input bytes the finished map tasks read, of the job's."""
        self.bytes = (done, total)
        if self.bar is not None:
            self.bar.read(done, total)

    def done(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        elif self.stream is not None:
            self.stream.flush()
