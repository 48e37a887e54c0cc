"""The local engine: the state machine definition of ``statemachine/`` run on
one machine by moto's Step Functions interpreter, with every Lambda invocation
dispatched to logmr's own handlers in worker processes."""
