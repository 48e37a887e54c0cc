"""``python -m logmr.cli``: the ``logmr`` command."""

from logmr.cli import main

raise SystemExit(main())
