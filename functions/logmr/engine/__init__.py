"""The local engine: the state machine definition of ``statemachine/`` run on
one machine by logmr's own interpreter (``interpreter``: its executions and
their histories in ``execution``, paths in ``paths``, a Distributed Map's Map
Run in ``maprun``, GetExecutionHistory and DescribeMapRun over them in
``history``), with every Lambda invocation dispatched to logmr's own handlers
in worker processes (``dispatcher``, ``worker``)."""
