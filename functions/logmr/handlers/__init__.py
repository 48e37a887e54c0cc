"""The Lambda handlers: plan, map, reduce, finalize and mark_failed.

Each is a few lines: Powertools decorators, parse the event, call the task
function in ``logmr.tasks``, return a small JSON object. The same handlers run
in AWS Lambda and, through ``logmr.engine``, on one machine.
"""
