"""The ``logmr`` command line.

``main`` parses the arguments and runs one command. Each module here holds a
group of commands, their parsers (its ``add_parsers``) and their handlers:
``running`` (run, plan, submit), ``query`` (query), ``inspecting`` (results, status, report),
``catalogue`` (jobs, formats), ``housekeeping`` (ls, rm, gc), ``generating``
(generate). ``options`` holds the options several commands share, ``output``
how results are printed, ``export`` how they are written to files (CSV, JSON
lines, Parquet), ``verdict`` whether a job's results are to be doubted,
``stdin`` standard input as an input, ``exits`` the exit codes,
``progress`` the per-phase progress on a terminal.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from logmr import __version__
from logmr.cli import catalogue, generating, housekeeping, inspecting, query, running
from logmr.cli.exits import EXIT_BROKEN_PIPE, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED
from logmr.cli.output import printable
from logmr.errors import LogmrError, error_name

__all__ = ["main", "parser"]

#: the command groups, in the order ``logmr --help`` lists their commands
COMMANDS = (running, query, catalogue, inspecting, housekeeping, generating)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the CLI is, so it stops as on Ctrl-C: the job
    recorded FAILED (``Aborted``), the workers stopped."""


def _terminate(signum: int, frame: Any) -> None:
    raise _Terminated


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        code = int(args.handler(args))
        sys.stdout.flush()  # here, where a closed pipe is caught, not at the interpreter's exit
        return code
    except LogmrError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"logmr: error: {error_name(exc)}: {printable(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return _pipe_closed()
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, _Terminated)
        print(f"logmr: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _pipe_closed() -> int:
    """The reader of stdout went away (``logmr ... | head -3``): nothing more
    to say, and no traceback. Standard output is pointed at the null device
    (the recipe of Python's ``signal`` docs) so that the interpreter's last
    flush at exit cannot fail again; the exit code is a process killed by
    SIGPIPE's, as ``cat`` and ``grep`` give."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test's capture): nothing to redirect
        pass
    return EXIT_BROKEN_PIPE


def parser() -> argparse.ArgumentParser:
    """The whole command line: every group's commands."""
    root = argparse.ArgumentParser(
        prog="logmr", description="MapReduce for logs, serverless or on one machine."
    )
    root.add_argument("--version", action="version", version=f"logmr {__version__}")
    sub = root.add_subparsers(required=True, metavar="COMMAND")
    for group in COMMANDS:
        group.add_parsers(sub)
    return root
