"""The ``logmr`` command line.

``main`` parses the arguments and runs one command. Each module here holds a
group of commands, their parsers (its ``add_parsers``) and their handlers:
``running`` (run, plan, submit), ``inspecting`` (results, status, report),
``catalogue`` (jobs, formats), ``generating`` (generate). ``options`` holds the
options several commands share, ``output`` how results are printed,
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
from logmr.cli import catalogue, generating, inspecting, running
from logmr.cli.output import printable
from logmr.errors import LogmrError, error_name

__all__ = ["main", "parser"]

#: the command groups, in the order ``logmr --help`` lists their commands
COMMANDS = (running, catalogue, inspecting, generating)


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
        return int(args.handler(args))
    except LogmrError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"logmr: error: {error_name(exc)}: {printable(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, _Terminated)
        print(f"logmr: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


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
