"""logmr: a serverless MapReduce for log analysis.

The package is the core library (jobs, parsers, planner, shuffle, tasks) and
the thin Lambda handlers that call it. Nothing here touches AWS at import time.
"""

__version__ = "0.1.0"
