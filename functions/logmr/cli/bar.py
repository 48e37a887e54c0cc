"""The progress bar on a terminal, drawn by rich (the ``cli`` extra; imported
only when rich is installed): a bar per phase; the map phase's over the input
bytes the finished map tasks read, with their rate, the tasks done and the
time left."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Column
from rich.text import Text

#: the bar's characters (the figures beside it fit in 80 columns)
BAR_WIDTH = 24
#: redraws a second while a phase runs
REFRESHES_PER_SECOND = 4


class _Figures(ProgressColumn):
    """Bytes read of the job's, their rate since the phase began, and the
    tasks done (the map phase, when its bytes are known); tasks done (else)."""

    def __init__(self) -> None:
        super().__init__(table_column=Column(no_wrap=True))

    def render(self, task: Task) -> Text:
        tasks = f"{task.fields['tasks_done']:,}/{task.fields['tasks']:,} tasks"
        if not task.fields.get("by_bytes"):
            return Text(tasks)
        seconds = task.finished_time or task.elapsed  # the rate stays the phase's once it ends
        rate = task.completed / seconds if seconds else 0.0
        read = f"{decimal(int(task.completed))}/{decimal(int(task.total or 0))}"
        return Text(f"{read}  {decimal(int(rate))}/s  {tasks}")


class Bar:
    """A bar per phase on ``stream`` (stderr), never on stdout: start it, feed
    it ``phase`` and ``read`` as the job runs, stop it."""

    def __init__(self, stream: TextIO) -> None:
        self.progress = RichProgress(
            TextColumn("{task.description:<8}"),
            BarColumn(bar_width=BAR_WIDTH),
            _Figures(),
            TimeRemainingColumn(),
            console=Console(file=stream, force_terminal=True, highlight=False),
            refresh_per_second=REFRESHES_PER_SECOND,
            redirect_stdout=False,
        )
        self.tasks: dict[str, TaskID] = {}
        self.bytes: tuple[int, int] | None = None

    def start(self) -> None:
        self.progress.start()

    def stop(self) -> None:
        self.progress.stop()

    def phase(self, phase: str, done: int, total: int) -> None:
        if phase not in self.tasks:
            self.tasks[phase] = self.progress.add_task(
                phase, total=total, tasks=total, tasks_done=0
            )
        if phase == "map" and self.bytes is not None:
            done_bytes, total_bytes = self.bytes
            self.progress.update(
                self.tasks[phase],
                completed=done_bytes,
                total=total_bytes,
                by_bytes=True,
                tasks=total,
                tasks_done=done,
            )
        else:
            self.progress.update(
                self.tasks[phase], completed=done, total=total, tasks=total, tasks_done=done
            )

    def read(self, done: int, total: int) -> None:
        self.bytes = (done, total)
        if "map" in self.tasks:
            self.progress.update(self.tasks["map"], completed=done, total=total, by_bytes=True)
