"""The state machine's side of logmr: the names its definition, the stack and
the local engine share, and the definition file itself."""
