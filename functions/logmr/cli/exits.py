"""The exit codes of ``logmr``, one place (README, "Exit codes", lists them)."""

from __future__ import annotations

import signal

EXIT_OK = 0
#: the job failed, or a command could not do what it was asked
EXIT_ERROR = 1
#: a usage error: an unknown option, a missing argument (argparse's code)
EXIT_USAGE = 2
#: the job succeeded, but its results are not to be trusted: its lines were
#: mostly malformed, or it found none of the fields it counts (``cli.verdict``)
EXIT_SUSPECT = 3
#: stdout was closed by its reader (128 + SIGPIPE)
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
#: Ctrl-C, SIGTERM: 128 + the signal (130, 143)
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM
