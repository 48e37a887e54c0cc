"""Standard input as a job's input (``zcat *.gz | logmr run - --job
status_codes``): ``-`` or ``/dev/stdin`` is spooled to a file in the job's
own folder (``layout.stdin_key``), since the engine's workers read byte ranges
of a file, and a pipe can be read once. The spooled bytes are the input as
any file is: a compressed stream is detected from its first bytes. The file
goes with the job (``logmr rm``, ``logmr gc``)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import BinaryIO

from logmr.errors import InvalidParameterError
from logmr.storage.disk import writing

#: the names that mean standard input
STDIN_NAMES = ("-", "/dev/stdin")
#: bytes copied at a time
SPOOL_CHUNK = 1 << 20


def reads_stdin(paths: list[str]) -> bool:
    return any(path in STDIN_NAMES for path in paths)


def stdin_replaced(paths: list[str], spool: Path) -> list[str]:
    """``paths`` with standard input (named once at most) replaced by the
    file it is to be spooled to (``spool_stdin``)."""
    named = [path for path in paths if path in STDIN_NAMES]
    if len(named) > 1:
        raise InvalidParameterError("standard input (- or /dev/stdin) can be read once only")
    return [str(spool) if path in STDIN_NAMES else path for path in paths]


def spool_stdin(spool: Path, stream: BinaryIO | None = None) -> None:
    """Standard input (or ``stream``) copied to the new file ``spool``."""
    source = stream if stream is not None else sys.stdin.buffer
    if source.isatty():
        raise InvalidParameterError(
            "standard input is a terminal: pipe a log in (zcat app.log.gz | logmr run - ...)"
        )
    with writing(spool):
        spool.parent.mkdir(parents=True, exist_ok=True)
        with spool.open("wb") as out:
            shutil.copyfileobj(source, out, SPOOL_CHUNK)


def refuse_stdin(paths: list[str], command: str) -> None:
    """``command`` reads no standard input: said in one line."""
    if reads_stdin(paths):
        raise InvalidParameterError(
            f"`logmr {command}` cannot read standard input: save it to a file, or use `logmr run -`"
        )
