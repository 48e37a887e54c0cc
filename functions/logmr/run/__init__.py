"""Running a job: one request in, one job record out, whichever runs it (the
inline runner, the state machine on the local engine, a deployed stack)."""
